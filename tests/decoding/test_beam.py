"""Beam search: agrees with greedy at beam 1, streams in pieces, fuses context."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from asr.biasing import context_graph as cg
from asr.decoding import beam as beam_lib
from asr.decoding import greedy
from asr.models import encoder as enc_lib
from asr.models import transducer


@pytest.fixture(scope="module")
def model_and_enc():
  cfg = transducer.TransducerConfig(
      encoder=enc_lib.EncoderConfig(num_layers=1, dim=32, num_heads=2, ffn_mult=2, conv_kernel=5,
                                    subsample_channels=8, chunk_size=2, left_context=4, dropout=0.0),
      predictor=transducer.PredictorConfig(embed_dim=8, hidden=16, dropout=0.0),
      joint_dim=24, vocab_size=12)
  model = transducer.Transducer(cfg)
  params = transducer.init_params(cfg, jax.random.PRNGKey(0))
  # Sharpen the joint's output so that hypotheses emit labels.
  params = jax.tree_util.tree_map(lambda x: x, params)
  params["joint_net"]["out"]["kernel"] = params["joint_net"]["out"]["kernel"] * 8.0
  rng = np.random.default_rng(0)
  feats = jnp.asarray(rng.standard_normal((3, 200, 80)), jnp.float32)
  lengths = jnp.array([200, 160, 90])
  enc, enc_len = model.apply({"params": params}, feats, lengths, method=transducer.Transducer.encode)
  return model, params, np.asarray(enc), np.asarray(enc_len)


def test_beam_one_equals_greedy_one_symbol(model_and_enc):
  model, params, enc, enc_len = model_and_enc
  g = greedy.compact(greedy.greedy_search(model, params, enc, enc_len, max_symbols=1))
  b = beam_lib.beam_search(model, params, enc, enc_len, beam=1)
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
