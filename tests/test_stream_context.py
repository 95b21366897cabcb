"""Stream context end to end: the pipeline's wake segment, streaming with
context equals offline decoding with context, context emits no tokens, a
training step on batches of different wake lengths."""

import functools

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from asr import inference
from asr import streaming
from asr.data import features
from asr.data import pipeline
from asr.evaluation import evaluate
from asr.models import encoder as enc_lib
from asr.models import transducer


@pytest.fixture(scope="module", params=[(False, "chunk"), (True, "chunk"), (True, "frame")],
                ids=["plain", "anchor", "anchor_frame"])
def rec(tiny_tokenizer_path, request):
  """A tiny recognizer with stream context; "anchor": plus the context
  anchor (encoder.context_anchor) with non-zero FiLM weights; "frame": the
  context rounded to whole encoder frames (data.stream_context.align)."""
  from asr.data import tokenizer
  tok = tokenizer.Tokenizer(tiny_tokenizer_path)
  anchor, align = request.param
  cfg = transducer.TransducerConfig(
      encoder=enc_lib.EncoderConfig(num_layers=2, dim=32, num_heads=2, ffn_mult=2, conv_kernel=5,
                                    subsample_channels=8, chunk_size=2, left_context=6, dropout=0.0,
                                    context_anchor=anchor, anchor_block=0),
      predictor=transducer.PredictorConfig(embed_dim=8, hidden=16, dropout=0.0),
      joint_dim=24, vocab_size=tok.vocab_size)
  params = transducer.init_params(cfg, jax.random.PRNGKey(0))
  params["joint_net"]["out"]["kernel"] = params["joint_net"]["out"]["kernel"] * 6.0
  if anchor:
    film = params["encoder"]["anchor_film1"]["proj"]
    film["kernel"] = jax.random.normal(jax.random.PRNGKey(1), film["kernel"].shape) * 0.3
  config = ml_collections.ConfigDict({
      "data": {"num_mel_bins": 80, "stream_context": {"enabled": True, "max_seconds": 1.0,
                                                      "align": align}},
      "model": {"encoder": {"subsample_factor": 8, "chunk_size": 2}}})
  norm = (np.full(80, -4.0, np.float32), np.full(80, 3.0, np.float32))
  return inference.Recognizer(config, transducer.Transducer(cfg), params, norm, tok, 0)


def _audio(seed, seconds):
  rng = np.random.default_rng(seed)
  t = np.arange(int(16000 * seconds)) / 16000
  x = 0.3 * np.sin(2 * np.pi * (250 + 200 * np.sin(t * 5)) * t) * (1 + np.sin(t * 3))
  return (x * 12000 + rng.normal(0, 300, len(t))).astype(np.int16)


def _utt(rec, wake, request):
  frames, quantum = pipeline.stream_context_frames(rec.config)
  ex = {"id": "x", "audio": np.concatenate([wake, request]), "text": "",
        "wake_end": len(wake) / 16000}
  return pipeline._prepare_fn(None, None, 80, 11, wake_frames=frames,  # pylint: disable=protected-access
                              wake_quantum=quantum)(ex)


def test_wake_features_continue_the_request_grid(rec):
  wake, req = _audio(0, 0.91), _audio(1, 1.2)
  utt = _utt(rec, wake, req)
  frames, quantum = pipeline.stream_context_frames(rec.config)
  frame_aligned = rec.config.data.stream_context.align == "frame"
  # 1 s -> 6 chunks of 16 feature frames; contexts in whole chunks or encoder frames
  assert frames == 96 and quantum == (8 if frame_aligned else 16)
  n = 88 if frame_aligned else 80  # 0.91 s = 91 frames -> 11 encoder frames / 5 chunks
  assert len(utt.wake_feats) == n
  # [context; request] features of the joined stream = wake_feats then request feats.
  start = len(wake) - n * features.HOP
  joined = features.log_mel(np.concatenate([wake, req])[start:], 80)
  np.testing.assert_allclose(joined[:n], utt.wake_feats.astype(np.float32), atol=2e-2)
  np.testing.assert_allclose(joined[n:], utt.feats.astype(np.float32), atol=2e-2)
  plain = pipeline._prepare_fn(None, None, 80, 11)(  # pylint: disable=protected-access
      {"id": "x", "audio": np.concatenate([wake, req]), "text": "", "wake_end": len(wake) / 16000})
  assert plain.wake_feats is None and len(plain.feats) == len(utt.feats)


@pytest.mark.parametrize("chunk_samples", [320, 4321])
def test_streaming_with_context_equals_offline(rec, chunk_samples):
  # 0.75 s: 4 chunks of context, or 9 encoder frames (align="frame": led by
  # one masked frame of padding).
  wake, req = _audio(2, 0.75), _audio(3, 2.0)
  utt = _utt(rec, wake, req)
  off = evaluate.decode_utterances(rec.model, rec.params, rec.norm, [utt], rec.tokenizer, beam=3,
                                   nbest=3)[0]
  no_ctx = evaluate.decode_utterances(rec.model, rec.params, rec.norm,
                                      [pipeline.Utterance("x", utt.feats, utt.labels, "", [], [])],
                                      rec.tokenizer, beam=3, nbest=3)[0]
  sr = streaming.StreamingRecognizer(rec, 1, beam=3)
  sr.accept_context(wake)
  assert sr.partial() == "" and sr.search.frame == 0  # context frames never reach the search
  frame_aligned = rec.config.data.stream_context.align == "frame"
  assert len(utt.wake_feats) == (72 if frame_aligned else 64)
  # Context encoder frames, padding included (5 chunks / 4 chunks); the
  # padded frame went by with the context's first chunk.
  assert sr.context_enc[0] == (10 if frame_aligned else 8)
  assert int(sr.state["lead_pad"][0]) == 0
  for i in range(0, len(req), chunk_samples):
    sr.accept_waveform(req[i:i + chunk_samples])
  nbest = sr.finalize()[0]
  assert nbest[0]["tokens"] == off["tokens"]
  assert nbest[0]["score"] == pytest.approx(off["score"], rel=5e-4, abs=1e-2)
  # Emission times count request frames only, as offline.
  assert nbest[0]["times"] == off["nbest"][0]["times"]
  assert max(off["nbest"][0]["times"], default=0) < len(utt.feats) // 8
  # The context changes the hypothesis scores (the state carried over).
  assert off["score"] != pytest.approx(no_ctx["score"], abs=1e-4)


def test_concurrent_streams_with_different_contexts(rec):
  # Contexts of 2 and 6 chunks, or 5 (padded) and 12 encoder frames.
  pairs = [(_audio(4, 0.42), _audio(5, 1.5)), (_audio(6, 1.6), _audio(7, 1.1))]
  sr = streaming.StreamingRecognizer(rec, 2, beam=2)
  for s, (wake, _) in enumerate(pairs):
    sr.accept_context(wake, stream=s)
  for i in range(0, 30000, 1000):
    for s, (_, req) in enumerate(pairs):
      sr.accept_waveform(req[i:i + 1000], stream=s)
  both = sr.finalize()
  utts = [_utt(rec, w, r) for w, r in pairs]
  off = evaluate.decode_utterances(rec.model, rec.params, rec.norm, utts, rec.tokenizer, beam=2)
  for s in range(2):
    assert both[s][0]["tokens"] == off[s]["tokens"]
  with pytest.raises(RuntimeError):
    sr.accept_context(pairs[0][0], stream=0)


def test_train_step_with_wake_batches(tiny_data_dir, tiny_tokenizer_path):
  from asr.data import sources, tokenizer
  from asr.training import state as state_lib
  from asr.training import train
  from experiments import context_tiny
  config = context_tiny.get_config()
  tok = tokenizer.Tokenizer(tiny_tokenizer_path)
  src = sources.open_source("tfds:voice_assistant/tiny:train", tiny_data_dir)
  frames, quantum = pipeline.stream_context_frames(config)
  utts = pipeline.prepare_utterances(src, tok, 0.3, limit=2, wake_frames=frames,
                                     wake_quantum=quantum)
  assert all(u.wake_feats is not None and len(u.wake_feats) % quantum == 0 for u in utts)
  utts[1].wake_feats = utts[1].wake_feats[-quantum:]  # a shorter wake segment in the batch
  bucket = pipeline.Bucket(max(len(u.feats) for u in utts) // 32 * 32 + 32, 16, 2, (0, 1))
  batch = pipeline.collate(utts, [0, 1], bucket, frames)
  assert batch["wake_feats"].shape == (2, frames, 80)
  assert batch["wake_lengths"].tolist() == [len(utts[0].wake_feats), quantum]
  assert np.all(batch["wake_feats"][1, :frames - quantum] == 0)
  mcfg = state_lib.model_config(config, tok.vocab_size)
  model = transducer.Transducer(mcfg)
  tx, _ = state_lib.make_optimizer(config.train)
  st = state_lib.create_train_state(jax.random.PRNGKey(0), mcfg, tx)
  step = jax.pmap(functools.partial(train.train_step, model=model, tx=tx, mean=jnp.zeros(80),
                                    std=jnp.ones(80), cfg=config), axis_name="batch")
  _, metrics = step(train.replicate(st), train.shard(batch, 1),
                    train.replicate(jax.random.PRNGKey(0)))
  assert np.isfinite(float(metrics["loss"][0]))


def test_session_feeds_the_wake_segment_as_stream_context(rec):
  from asr import session
  wake, req = _audio(2, 1.1), _audio(3, 2.0)
  off = evaluate.decode_utterances(rec.model, rec.params, rec.norm, [_utt(rec, wake, req)],
                                   rec.tokenizer, beam=4)[0]
  sess = session.StreamSession(rec, "rule", num_streams=1, beam=4)
  sess.accept_prefix(wake)  # a stream-context model takes it as context
  assert sess.sr.context_enc[0] > 0
  events = sess.accept_waveform(req)
  # The rule end-pointer's clock counts request frames only, as without context.
  plain = session.StreamSession(rec, "rule", num_streams=1, beam=4)
  plain.accept_waveform(req)
  assert sess.sr.decoded_seconds(0) == plain.sr.decoded_seconds(0) > 0
  events += sess.finalize()
  final = [e for e in events if e["event"] == "final_endpoint"]
  assert len(final) == 1 and final[0]["reason"] == "end_of_audio"
  assert off["text"] and final[0]["text"] == off["text"]


def test_unknown_context_alignment_is_refused():
  config = ml_collections.ConfigDict({
      "data": {"stream_context": {"enabled": True, "max_seconds": 1.0, "align": "word"}},
      "model": {"encoder": {"subsample_factor": 8, "chunk_size": 2}}})
  with pytest.raises(ValueError, match="data.stream_context.align"):
    pipeline.stream_context_frames(config)
