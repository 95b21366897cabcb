"""Beam search: agrees with greedy at beam 1, streams in pieces, fuses context."""

import jax.numpy as jnp
import numpy as np
import pytest

from asr.biasing import context_graph as cg
from asr.decoding import beam as beam_lib
from asr.decoding import greedy
from asr.models import transducer
from tests import tiny_models


@pytest.fixture(scope="module")
def model_and_enc():
  # Sharpened joint output so that hypotheses emit labels.
  model, params = tiny_models.tiny_transducer(sharpen=8.0)
  rng = np.random.default_rng(0)
  feats = jnp.asarray(rng.standard_normal((3, 200, 80)), jnp.float32)
  lengths = jnp.array([200, 160, 90])
  enc, enc_len = model.apply({"params": params}, feats, lengths, method=transducer.Transducer.encode)
  return model, params, np.asarray(enc), np.asarray(enc_len)


def test_beam_one_equals_greedy_one_symbol(model_and_enc):
  model, params, enc, enc_len = model_and_enc
  g = greedy.compact(greedy.greedy_search(model, params, enc, enc_len, max_symbols=1))
  b = beam_lib.beam_search(model, params, enc, enc_len, beam=1, max_symbols=0)
  assert [list(h[0].tokens) for h in b] == g
  assert sum(len(x) for x in g) > 3  # the comparison covered emissions


def test_streaming_in_pieces_equals_one_shot(model_and_enc):
  model, params, enc, enc_len = model_and_enc
  one = beam_lib.beam_search(model, params, enc, enc_len, beam=3)
  bs = beam_lib.BeamSearch(model, params, enc.shape[0], beam=3)
  for start in range(0, enc.shape[1], 4):
    piece = enc[:, start:start + 4]
    bs.advance(piece, np.clip(enc_len - start, 0, piece.shape[1]))
  pieces = bs.finalize()
  for a, b in zip(one, pieces):
    assert [h.tokens for h in a] == [h.tokens for h in b]
    np.testing.assert_allclose([h.score for h in a], [h.score for h in b], rtol=1e-6)


def test_nbest_sorted_and_distinct(model_and_enc):
  model, params, enc, enc_len = model_and_enc
  for hyps in beam_lib.beam_search(model, params, enc, enc_len, beam=4):
    scores = [h.score for h in hyps]
    assert scores == sorted(scores, reverse=True)
    assert len({h.tokens for h in hyps}) == len(hyps)
    assert all(len(h.times) == len(h.tokens) for h in hyps)


def test_shallow_fusion_score_is_logp_plus_graph_bonus(model_and_enc):
  model, params, enc, enc_len = model_and_enc
  plain = beam_lib.beam_search(model, params, enc, enc_len, beam=4)
  # Bias toward the label sequences the plain search liked second best, so
  # that the bonus changes something.
  phrases = [list(h[1].tokens[:2]) for h in plain if len(h) > 1 and len(h[1].tokens) >= 2]
  assert phrases
  graphs = [cg.ContextGraph(phrases, context_score=3.0) for _ in range(enc.shape[0])]
  fused = beam_lib.beam_search(model, params, enc, enc_len, beam=4, graphs=graphs)
  changed = False
  for hyps, graph, p in zip(fused, graphs, plain):
    for h in hyps:
      state, bonus = graph.root, 0.0
      for tok in h.tokens:
        d, state, _ = graph.forward_one_step(state, tok)
        bonus += d
      bonus += graph.finalize(state)
      assert h.score == pytest.approx(h.logp + bonus, abs=1e-4)
    changed |= hyps[0].tokens != p[0].tokens
  assert changed


def test_label_bonus_is_a_length_reward(model_and_enc):
  """score = logp + label_bonus * len(tokens); a larger reward never shortens the best."""
  model, params, enc, enc_len = model_and_enc
  plain = beam_lib.beam_search(model, params, enc, enc_len, beam=4)
  zero = beam_lib.beam_search(model, params, enc, enc_len, beam=4, label_bonus=0.0)
  assert [[h.tokens for h in hs] for hs in plain] == [[h.tokens for h in hs] for hs in zero]
  rewarded = beam_lib.beam_search(model, params, enc, enc_len, beam=4, label_bonus=2.0)
  for hs in rewarded:
    for h in hs:
      assert h.score == pytest.approx(h.logp + 2.0 * len(h.tokens), abs=1e-3)
  plain_len = sum(len(hs[0].tokens) for hs in plain)
  # (this sharpened model already emits at most frames: a reward cannot add much)
  assert sum(len(hs[0].tokens) for hs in rewarded) >= plain_len
  penalized = beam_lib.beam_search(model, params, enc, enc_len, beam=4, label_bonus=-20.0)
  assert sum(len(hs[0].tokens) for hs in penalized) < plain_len


def test_time_synchronous_search_logp_is_the_rnnt_likelihood():
  """Unbounded beam, <= max_symbols labels per frame: every hypothesis with at
  most max_symbols labels carries exactly log P(y|x) = -rnnt_loss."""
  from asr.losses import rnnt
  model, params = tiny_models.tiny_transducer(dim=16, conv_kernel=3, subsample_channels=4,
                                              hidden=8, joint_dim=8, vocab_size=3, seed=3)
  feats = jnp.asarray(np.random.default_rng(1).standard_normal((1, 48, 80)), jnp.float32)
  enc, enc_len = model.apply({"params": params}, feats, jnp.array([48]),
                             method=transducer.Transducer.encode)
  assert int(enc_len[0]) >= 3
  enc = np.asarray(enc)[:, :3]  # 3 frames
  s_max = 2
  hyps = beam_lib.beam_search(model, params, enc, np.array([3]), beam=4000, max_symbols=s_max)[0]
  assert len(hyps) == 2 ** (3 * s_max + 1) - 1  # every sequence of <= 6 labels over 2 labels
  apply = lambda m, *a: model.apply({"params": params}, *a, method=m)
  checked = 0
  for h in hyps:
    if len(h.tokens) > s_max:
      continue
    y = list(h.tokens)
    state = apply(transducer.Transducer.init_pred_state, 1)
    preds = []
    for tok in [0] + y:
      p, state = apply(transducer.Transducer.predict_step, jnp.array([tok]), state)
      preds.append(p[0])
    preds = jnp.stack(preds)  # [U+1, J]
    t_, u1 = enc.shape[1], len(preds)
    logits = apply(transducer.Transducer.joint, jnp.repeat(jnp.asarray(enc[0]), u1, axis=0),
                   jnp.tile(preds, (t_, 1))).reshape(1, t_, u1, -1)
    labels = jnp.asarray(np.array(y, np.int32).reshape(1, len(y)))
    nll = rnnt.rnnt_loss(logits, labels, jnp.array([t_]), jnp.array([len(y)]))
    np.testing.assert_allclose(h.logp, -float(nll[0]), rtol=1e-4, atol=1e-4)
    checked += 1
  assert checked == 7  # (), 2 of length 1, 4 of length 2
  # and the probabilities of all sequences with <= 6 labels sum to at most 1
  assert float(np.logaddexp.reduce([h.logp for h in hyps])) <= 1e-5


def test_time_synchronous_search_limits_labels_per_frame(model_and_enc):
  model, params, enc, enc_len = model_and_enc
  for s_max in (1, 2):
    for hyps in beam_lib.beam_search(model, params, enc, enc_len, beam=4, max_symbols=s_max):
      for h in hyps:
        assert list(h.times) == sorted(h.times)
        counts = np.bincount(np.asarray(h.times, int)) if h.times else np.zeros(1)
        assert counts.max() <= s_max
  # more labels per frame than modified search allows are used by this model
  three = beam_lib.beam_search(model, params, enc, enc_len, beam=4, max_symbols=3)
  assert any(np.bincount(np.asarray(hs[0].times, int)).max() > 1 for hs in three if hs[0].times)


@pytest.mark.parametrize("max_symbols", [0, 2])
def test_ilm_weight_subtracts_the_internal_lm(model_and_enc, max_symbols):
  """score = logp - w * log P_ILM(tokens) for every hypothesis (the ILM term is
  the same for every alignment of a label sequence, so merging keeps it exact)."""
  from asr.lm import ilm as ilm_lib
  model, params, enc, enc_len = model_and_enc
  plain = beam_lib.beam_search(model, params, enc, enc_len, beam=4, max_symbols=max_symbols)
  zero = beam_lib.beam_search(model, params, enc, enc_len, beam=4, max_symbols=max_symbols,
                              ilm_weight=0.0)
  assert [[h.tokens for h in hs] for hs in plain] == [[h.tokens for h in hs] for hs in zero]
  w = 0.7
  sub = beam_lib.beam_search(model, params, enc, enc_len, beam=4, max_symbols=max_symbols,
                             ilm_weight=w)
  hyps = [h for hs in sub for h in hs]
  ilm = ilm_lib.ilm_scores(model, params, [h.tokens for h in hyps])
  assert np.all(ilm < 0) and sum(len(h.tokens) for h in hyps) > 0
  for h, s in zip(hyps, ilm):
    assert h.score == pytest.approx(h.logp - w * s, abs=2e-3)
  # The discount changes the search somewhere.
  assert [[h.tokens for h in hs] for hs in sub] != [[h.tokens for h in hs] for hs in plain]


def _tiny_lm(vocab=12, max_len=64):
  import jax
  from asr.lm import model as lm_model
  cfg = lm_model.LMConfig(vocab_size=vocab, dim=16, num_layers=2, num_heads=2, mlp_dim=32,
                          max_len=max_len, dropout=0.0)
  lm = lm_model.TransformerLM(cfg)
  params = lm.init(jax.random.PRNGKey(1), jnp.zeros((1, 8), jnp.int32))["params"]
  # Sharpened output (tied embedding) so that the LM has preferences.
  params["Embed_0"]["embedding"] = params["Embed_0"]["embedding"] * 40.0
  return lm, params


def test_lm_fusion_prefix_logprobs_match_a_full_forward():
  from asr.lm import fusion
  from asr.lm import model as lm_model
  lm, params = _tiny_lm()
  f = fusion.LMFusion(lm, params, weight=0.5)
  seqs = [[3, 4, 5], [7], [], [2, 9, 9, 1, 11, 6, 6, 6, 6]]
  b = lm_model.make_batch(seqs, 16)
  full = np.asarray(lm_model.token_logprobs(lm, params, b["inputs"], b["targets"]))
  for i, s in enumerate(seqs):
    assert f.sentence_logprob(s) == pytest.approx(float(full[i, :len(s) + 1].sum()), abs=1e-4)
  with pytest.raises(ValueError, match="weight"):
    fusion.LMFusion(lm, params, weight=0.0)
  g = f.with_weight(0.2)  # shares the cache, keeps its own weight
  assert (g.weight, f.weight) == (0.2, 0.5) and g.sentence_logprob(seqs[0]) == f.sentence_logprob(seqs[0])


@pytest.mark.parametrize("max_symbols", [0, 2])
def test_lm_fusion_adds_the_lm_score_of_each_hypothesis(model_and_enc, max_symbols):
  """score = logp - ilm_w * log P_ILM(y) + lm_w * log P_LM(y </s>) for every
  final hypothesis (both terms depend on the labels only, so merging
  alignments keeps the identity exact), and the LM changes the search."""
  from asr.lm import fusion
  from asr.lm import ilm as ilm_lib
  model, params, enc, enc_len = model_and_enc
  lm, lm_params = _tiny_lm()
  plain = beam_lib.beam_search(model, params, enc, enc_len, beam=4, max_symbols=max_symbols)
  w, iw = 0.8, 0.3
  f = fusion.LMFusion(lm, lm_params, weight=w)
  fused = beam_lib.beam_search(model, params, enc, enc_len, beam=4, max_symbols=max_symbols,
                               ilm_weight=iw, lm=f)
  hyps = [h for hs in fused for h in hs]
  assert sum(len(h.tokens) for h in hyps) > 0
  ilm = ilm_lib.ilm_scores(model, params, [h.tokens for h in hyps])
  for h, s in zip(hyps, ilm):
    assert h.score == pytest.approx(h.logp - iw * s + w * f.sentence_logprob(h.tokens), abs=2e-3)
  for hs in fused:  # best first by the fused score
    assert [h.score for h in hs] == sorted((h.score for h in hs), reverse=True)
  assert [[h.tokens for h in hs] for hs in fused] != [[h.tokens for h in hs] for hs in plain]
