"""Routing measurements agree with each other: the offline fraction of
expensive chunks equals the streaming count; compiled FLOPs order the branches."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from asr.data import pipeline
from asr.evaluation import routing
from asr.models import branching
from asr.models import encoder as enc_lib
from asr.models import transducer
from tests import tiny_models


@pytest.fixture(scope="module")
def model_params():
  cfg = transducer.TransducerConfig(
      encoder=enc_lib.EncoderConfig(
          num_layers=1, dim=32, num_heads=2, ffn_mult=2, conv_kernel=5, subsample_channels=8,
          chunk_size=2, left_context=4, dropout=0.0,
          branching=branching.BranchingConfig(enabled=True, expensive_layers=2, cheap_rank=4,
                                              router_hidden=8)),
      predictor=transducer.PredictorConfig(embed_dim=8, hidden=16), joint_dim=24, vocab_size=30)
  return transducer.Transducer(cfg), transducer.init_params(cfg, jax.random.PRNGKey(1))


def _utts(wake: bool):
  rng = np.random.default_rng(0)
  out = []
  for i, (n, w) in enumerate(((150, 32), (97, 16), (211, 0))):
    out.append(pipeline.Utterance(
        f"u{i}", rng.standard_normal((n, 80)).astype(np.float16), np.zeros(0, np.int32), "", [], [],
        wake_feats=rng.standard_normal((w, 80)).astype(np.float16) if wake else None))
  return out


@pytest.mark.parametrize("wake", [False, True])
def test_offline_fraction_equals_streaming_count(model_params, wake):
  model, params = model_params
  norm = (np.zeros(80, np.float32), np.ones(80, np.float32))
  utts = _utts(wake)
  for thr in (0.0, 1.0):  # p > 0 always, p > 1 never
    s = routing.routing_stats(routing.with_threshold(model, thr), params, norm, utts)
    assert s["frac_expensive"] == (1.0 if thr == 0.0 else 0.0)
  # A threshold between the router's probabilities mixes the branches.
  model_mid = routing.with_threshold(model, float(np.median(_probs(model, params, norm, utts))))
  st = routing.routing_stats(model_mid, params, norm, utts)
  assert 0 < st["frac_expensive"] < 1
  t = routing.stream_timing(model_mid, params, norm, utts)
  assert t["expensive_chunks"] == st["expensive_chunks"] + st["context_expensive_chunks"]
  assert t["chunks"] >= st["chunks"] + st["context_chunks"]
  # Interleaved variants keep their own counts: the routed one as above, the
  # forced one every chunk, over the same audio.
  both = routing.interleaved_timing({"routed": (model_mid, params, norm, None),
                                     "expensive": (model_mid, params, norm, 1)}, utts, repeats=1)
  assert both["routed"]["expensive_chunks"] == t["expensive_chunks"]
  assert both["expensive"]["expensive_chunks"] == both["expensive"]["chunks"] == t["chunks"]
  assert both["routed"]["audio_seconds"] == both["expensive"]["audio_seconds"] == t["audio_seconds"]
  if wake:
    assert st["context_chunks"] == 3  # 32 + 16 feature frames = 2 + 1 chunks of 16
  # Per-utterance routes: one decision per request chunk, summing to the counts.
  frames = [int(enc_lib.subsampled_lengths(np.array([n]), 8)[0]) for n in (150, 97, 211)]
  assert [len(r) for r in st["routes"]] == [-(-f // 2) for f in frames]
  assert sum(int(r.sum()) for r in st["routes"]) == st["expensive_chunks"]
  assert [float(r.mean()) for r in st["routes"]] == pytest.approx(st["per_utterance"])


@pytest.mark.parametrize("wake", [False, True])
def test_compiled_loop_equals_the_host_loop(model_params, monkeypatch, wake):
  """mode="loop" (the utterance's chunks as one compiled while-loop) takes the
  host loop's decisions, computes its outputs, and runs the expensive branch
  only for the chunks routed there."""
  model, params = model_params
  norm = (np.zeros(80, np.float32), np.ones(80, np.float32))
  utts = _utts(wake)
  model_mid = routing.with_threshold(model, float(np.median(_probs(model, params, norm, utts))))
  e = model.cfg.encoder
  host = routing._stream_fn(model_mid, None, params)  # pylint: disable=protected-access
  calls = tiny_models.count_expensive_calls(monkeypatch)
  loop, _ = routing._loop_fn(model_mid, None, params, 400)  # pylint: disable=protected-access
  n_exp = 0
  for u in utts:
    f, n_chunks, total = routing._stream_feats(e, *norm, u)  # pylint: disable=protected-access
    win, hop = enc_lib.stream_window(e), e.subsample_factor * e.chunk_size
    state, acc, routes = enc_lib.init_stream_state(e, 1, 80), 0.0, []
    for c in range(n_chunks):
      out, state = host(jnp.asarray(f[None, c * hop:c * hop + win]),
                        jnp.array([min(e.chunk_size, total - c * e.chunk_size)]), state)
      acc += float(jnp.sum(out))
      routes.append(int(state["route"][0]))
    jax.effects_barrier()
    calls.clear()
    padded = np.concatenate([f, np.zeros((400 - len(f), 80), np.float32)])
    lacc, lroutes = loop(jnp.asarray(padded[None]), jnp.int32(n_chunks), jnp.int32(total))
    jax.effects_barrier()
    lroutes = np.asarray(lroutes)
    assert lroutes[:n_chunks].tolist() == routes
    assert (lroutes[n_chunks:] == -1).all()
    assert float(lacc) == pytest.approx(acc, rel=1e-4, abs=1e-3)
    assert len(calls) == sum(routes)  # the expensive branch ran for exactly those chunks
    n_exp += sum(routes)
  assert 0 < n_exp
  both = routing.interleaved_timing({"routed": (model_mid, params, norm, None),
                                     "cheap": (model_mid, params, norm, 0)}, utts, repeats=1,
                                    mode="loop")
  assert both["routed"]["expensive_chunks"] == n_exp
  assert both["cheap"]["expensive_chunks"] == 0
  assert both["routed"]["chunks"] == both["cheap"]["chunks"] > n_exp
  with pytest.raises(ValueError, match="mode"):
    routing.interleaved_timing({"routed": (model_mid, params, norm, None)}, utts, mode="device")


def test_speech_split_counts_chunks_overlapping_the_span():
  routes = [np.array([0, 1, 1, 0, 0], bool), np.array([1, 1, 0], bool), np.array([1, 0], bool)]
  # Chunks of 0.32 s; utterance 0 speaks 0.5-1.0 s: chunks 1 (0.32-0.64),
  # 2 (0.64-0.96) and 3 (0.96-1.28) overlap; utterance 1 0.0-0.3 s: chunk 0;
  # utterance 2 has no known span and is left out.
  s = routing.speech_split(routes, [(0.5, 1.0), (0.0, 0.3), None], 0.32)
  assert s["speech_chunks"] == 4 and s["nonspeech_chunks"] == 4
  assert s["frac_expensive_speech"] == pytest.approx(3 / 4)  # chunks 1, 2 of u0; chunk 0 of u1
  assert s["frac_expensive_nonspeech"] == pytest.approx(1 / 4)  # chunk 1 of u1
  assert s["speech_chunk_share"] == pytest.approx(0.5)
  assert routing.speech_split(routes, [None, None, None], 0.32) is None
  # Shares inside the span: u0 chunk 1 (0.5-0.64: 0.4375), 2 (1.0), 3 (0.96-1.0:
  # 0.125); u1 chunk 0 (0-0.3: 0.9375).
  assert s["frac_expensive_by_speech_share"] == {
      "<=0.25": (1, 0.0), "<=0.5": (1, 1.0), "<=0.75": (0, 0.0), "<=1": (2, 1.0)}
  # Edges: the span starts inside u0 chunk 1 and u1 chunk 0 (which also holds
  # its end: an onset), both expensive; it ends inside u0 chunk 3, cheap.
  assert s["frac_expensive_edges"] == {"onset": (2, 1.0), "offset": (1, 0.0)}
  # Per group: "a" holds utterances 0 and 2 (2 has no span), "b" utterance 1.
  g = routing.speech_split(routes, [(0.5, 1.0), (0.0, 0.3), None], 0.32,
                           groups=["a", "b", "a"])["by_group"]
  assert g["a"]["speech_chunks"] == 3 and g["a"]["frac_expensive_speech"] == pytest.approx(2 / 3)
  assert g["a"]["frac_expensive_nonspeech"] == 0.0
  assert g["b"]["speech_chunks"] == 1 and g["b"]["frac_expensive_nonspeech"] == pytest.approx(1 / 2)


def test_noise_kinds_follow_the_corpus_plans(tiny_data_dir, tiny_tokenizer_path):
  """The generated tiny corpus's test utterances get their plan's noise;
  an utterance whose transcript is not the plan's, a manifest id and an
  unknown corpus get None."""
  import types  # pylint: disable=g-import-not-at-top
  from asr.data import corpus as corpus_lib  # pylint: disable=g-import-not-at-top
  from asr.data import tokenizer as tok_lib  # pylint: disable=g-import-not-at-top
  from asr.evaluation import evaluate  # pylint: disable=g-import-not-at-top
  from experiments import tiny  # pylint: disable=g-import-not-at-top
  config = tiny.get_config()
  config.data.data_dir = tiny_data_dir
  utts = evaluate.load_utterances(config, "tfds:voice_assistant/tiny:test",
                                  tok_lib.Tokenizer(tiny_tokenizer_path), limit=8)
  kinds = routing.noise_kinds("tiny", utts)
  plans = [corpus_lib.plan_example(corpus_lib.CorpusConfig(), "test", int(u.id.split("/")[1]))
           for u in utts]
  assert kinds == [p.aug["noise"] for p in plans]
  assert set(kinds) <= {"none", "white", "pink", "babble"} and len(set(kinds)) > 1
  other = types.SimpleNamespace(id=utts[0].id, text=utts[0].text + " please")
  manifest = types.SimpleNamespace(id="clip_17", text=utts[0].text)
  assert routing.noise_kinds("tiny", [other, manifest]) == [None, None]
  assert routing.noise_kinds("no_such_corpus", utts[:1]) == [None]


def _probs(model, params, norm, utts):
  """Router p(expensive) of every valid request chunk (no context)."""
  del norm  # identity normalization
  ps = []
  for u in utts:
    f = jnp.asarray(u.feats[None].astype(np.float32))
    r = model.apply({"params": params}, f, jnp.array([len(u.feats)]), None,
                    method=transducer.Transducer.routing)
    ps.extend(np.asarray(branching.p_expensive(r["logits"][0]))[np.asarray(r["valid"][0])].tolist())
  return ps


def test_compiled_flops_order_the_branches(model_params):
  model, params = model_params
  f = routing.compiled_flops(model, params)
  assert f["expensive"] > f["cheap"] > 0
