"""Tree-constrained pointer generator (asr.biasing.pointer)."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from asr.biasing import pointer as P
from asr.decoding import beam as beam_lib
from asr.losses import rnnt
from asr.models import encoder as enc_lib
from asr.models import transducer


def test_prefix_tree_candidates_and_walk():
  # Phrases: [5, 6] ("fern curtains"), [5, 7] ("fern lantern"), [8] ("tulip").
  t = P.PrefixTree([[5, 6], [5, 7], [8]])
  assert sorted(t.candidates(P.ROOT)) == [5, 8]
  n5 = t.step(P.ROOT, 5)
  assert sorted(t.candidates(n5)) == [6, 7]  # mid-phrase: children only
  n56 = t.step(n5, 6)
  # A phrase ends here with no continuation: another name may follow.
  assert sorted(t.candidates(n56)) == [5, 8]
  # A label off the tree restarts at the root's child for it, else the root.
  assert t.step(n5, 8) == t.step(P.ROOT, 8)
  assert t.step(n5, 3) == P.ROOT
  assert t.step(n5, 0) == n5  # blank keeps the node
  assert t.walk([3, 5, 7, 4]) == [P.ROOT, P.ROOT, n5, t.step(n5, 7), P.ROOT]


def test_phrase_end_with_continuation_offers_both():
  t = P.PrefixTree([[5], [5, 6], [9]])
  n5 = t.step(P.ROOT, 5)
  assert list(t.candidates(n5)) == [6, 5, 9]  # children first, then the root's (deduplicated)


def test_prefix_tree_rejects_blank_tokens():
  with pytest.raises(ValueError, match="> 0"):
    P.PrefixTree([[3, 0]])


def test_training_arrays_targets():
  labels = [[3, 5, 7, 4], [9]]
  lists = [[[5, 6], [5, 7]], []]
  a = P.training_arrays(labels, lists, max_labels=4, max_cands=3)
  c, tgt = a["ptr_cands"], a["ptr_target"]
  assert c.shape == (2, 5, 3) and tgt.shape == (2, 5)
  # u=0 (root): next label 3 is not a candidate; u=1 (root): 5 is.
  assert list(c[0, 0]) == [5, 0, 0] and tgt[0, 0] == -1
  assert tgt[0, 1] == 0
  assert sorted(c[0, 2, :2]) == [6, 7] and c[0, 2, tgt[0, 2]] == 7
  assert tgt[0, 4] == -1  # u = U: no next label
  assert not c[1].any() and (tgt[1] == -1).all()  # no list: no candidates


def test_training_arrays_truncation_keeps_target():
  lists = [[[k] for k in range(2, 12)]]
  a = P.training_arrays([[11]], lists, max_labels=1, max_cands=4)
  assert a["ptr_truncated"] == 2  # both positions are root nodes with 10 candidates
  assert a["ptr_cands"][0, 0, a["ptr_target"][0, 0]] == 11


def _pointer_model(vocab=12, gate_bias=None, seed=0):
  cfg = transducer.TransducerConfig(
      encoder=enc_lib.EncoderConfig(num_layers=1, dim=16, num_heads=2, ffn_mult=2, conv_kernel=3,
                                    subsample_channels=4, chunk_size=2, left_context=4,
                                    dropout=0.0),
      predictor=transducer.PredictorConfig(embed_dim=8, hidden=16, dropout=0.0),
      joint_dim=24, vocab_size=vocab,
      biasing=transducer.bias_lib.BiasingConfig(enabled=True, embed_dim=8, dim=16, num_heads=2,
                                                dropout=0.0, pointer=True, pointer_dim=8))
  model = transducer.Transducer(cfg)
  params = transducer.init_params(cfg, jax.random.PRNGKey(seed))
  if gate_bias is not None:
    params["pointer"]["gate_h"]["bias"] = jnp.full_like(params["pointer"]["gate_h"]["bias"],
                                                        gate_bias)
  # Random (not zero-initialized) gate weights so the gate varies with (t, u).
  k = jax.random.PRNGKey(seed + 1)
  params["pointer"]["gate_h"]["kernel"] = 0.5 * jax.random.normal(
      k, params["pointer"]["gate_h"]["kernel"].shape)
  params["pointer"]["gate_c"]["kernel"] = 0.5 * jax.random.normal(
      jax.random.fold_in(k, 1), params["pointer"]["gate_c"]["kernel"].shape)
  params["joint_net"]["out"]["kernel"] = 3.0 * params["joint_net"]["out"]["kernel"]
  return model, params


def test_mixed_distribution_is_normalized_and_off_without_candidates():
  model, params = _pointer_model(gate_bias=0.0)
  rng = np.random.default_rng(0)
  enc = jnp.asarray(rng.normal(size=(4, 24)), jnp.float32)
  pred = jnp.asarray(rng.normal(size=(4, 24)), jnp.float32)
  cands = jnp.array([[3, 5, 0, 0], [7, 0, 0, 0], [0, 0, 0, 0], [2, 4, 6, 8]], jnp.int32)
  lp = model.apply({"params": params}, enc, pred, cands, cands > 0,
                   method=transducer.Transducer.pointer_logprobs)
  np.testing.assert_allclose(np.exp(jax.scipy.special.logsumexp(lp, axis=-1)), 1.0, atol=1e-5)
  base = jax.nn.log_softmax(model.apply({"params": params}, enc, pred,
                                        method=transducer.Transducer.joint), axis=-1)
  np.testing.assert_allclose(lp[2], base[2], atol=1e-6)  # no candidates: the model itself
  np.testing.assert_allclose(lp[:, 0], base[:, 0], atol=1e-6)  # blank untouched
  # Probability moves onto the candidates.
  assert float(lp[1, 7]) > float(base[1, 7])


def test_fused_pointer_loss_equals_full_mixed_distribution():
  """The training arcs (pointer_arcs in the fused loss) equal the decoding
  distribution (pointer_logprobs) fed to the reference loss on full tensors."""
  model, params = _pointer_model(gate_bias=0.5)
  rng = np.random.default_rng(1)
  b, t, u, j = 2, 7, 4, 24
  enc = jnp.asarray(rng.normal(size=(b, t, j)), jnp.float32)
  pred = jnp.asarray(rng.normal(size=(b, u + 1, j)), jnp.float32)
  labels = np.array([[5, 6, 3, 1], [8, 5, 7, 0]], np.int32)
  label_lengths = np.array([4, 3])
  logit_lengths = np.array([7, 5])
  lists = [[[5, 6], [8, 2]], [[5, 7], [8]]]
  arr = P.training_arrays([l[:n] for l, n in zip(labels, label_lengths)], lists, u, 4)
  cands, target = jnp.asarray(arr["ptr_cands"]), jnp.asarray(arr["ptr_target"])
  assert (arr["ptr_target"] >= 0).sum() >= 4  # the pointer is exercised
  joint_fn = lambda e, p: model.apply({"params": params}, e, p, method=transducer.Transducer.joint)
  arc_fn = lambda e, p, nl: model.apply({"params": params}, e, p, nl, cands, cands > 0, target,
                                        method=transducer.Transducer.pointer_arcs)
  fused = rnnt.rnnt_loss_fused(enc, pred, joint_fn, labels, logit_lengths, label_lengths,
                               time_chunk=3, arc_fn=arc_fn)
  # Reference: the full mixed [B, T, U+1, V] distribution row by row.
  rows_e = jnp.broadcast_to(enc[:, :, None], (b, t, u + 1, j)).reshape(-1, j)
  rows_p = jnp.broadcast_to(pred[:, None], (b, t, u + 1, j)).reshape(-1, j)
  rows_c = jnp.broadcast_to(cands[:, None], (b, t, u + 1, cands.shape[-1])).reshape(
      -1, cands.shape[-1])
  full = model.apply({"params": params}, rows_e, rows_p, rows_c, rows_c > 0,
                     method=transducer.Transducer.pointer_logprobs).reshape(b, t, u + 1, -1)
  ref = rnnt.rnnt_loss(full, labels, logit_lengths, label_lengths)
  plain = rnnt.rnnt_loss_fused(enc, pred, joint_fn, labels, logit_lengths, label_lengths)
  np.testing.assert_allclose(fused, ref, rtol=1e-5, atol=1e-5)
  assert np.all(np.abs(np.asarray(fused) - np.asarray(plain)) > 1e-3)  # the pointer matters


def test_beam_search_with_dominant_pointer_follows_the_tree():
  model, params = _pointer_model(gate_bias=20.0, seed=3)
  rng = np.random.default_rng(2)
  enc = jnp.asarray(rng.normal(size=(2, 12, 24)), jnp.float32)
  lengths = np.array([12, 9])
  trees = [P.PrefixTree([[5, 6, 7], [9, 2]]), None]
  hyps = beam_lib.beam_search(model, params, enc, lengths, beam=3, trees=trees)
  best = hyps[0][0].tokens
  assert best, "no labels emitted"
  node = P.ROOT
  for tok in best:  # with g ~ 1 every label is a valid tree continuation
    assert tok in trees[0].candidates(node), (best, tok, node)
    node = trees[0].step(node, tok)
  # The utterance without a tree decodes as without the pointer.
  plain = beam_lib.beam_search(model, params, enc[1:], lengths[1:], beam=3)
  assert hyps[1][0].tokens == plain[0][0].tokens


def test_trees_need_a_pointer_model():
  from tests.tiny_models import tiny_transducer
  model, params = tiny_transducer()
  with pytest.raises(ValueError, match="pointer"):
    beam_lib.BeamSearch(model, params, 1, trees=[P.PrefixTree([[1]])])


def test_gate_scale_zero_is_the_model_and_one_is_unchanged():
  model, params = _pointer_model(gate_bias=1.0)
  rng = np.random.default_rng(4)
  enc = jnp.asarray(rng.normal(size=(2, 24)), jnp.float32)
  pred = jnp.asarray(rng.normal(size=(2, 24)), jnp.float32)
  cands = jnp.array([[3, 5], [7, 2]], jnp.int32)
  run = lambda s: model.apply({"params": params}, enc, pred, cands, cands > 0, s,
                              method=transducer.Transducer.pointer_logprobs)
  base = jax.nn.log_softmax(model.apply({"params": params}, enc, pred,
                                        method=transducer.Transducer.joint), axis=-1)
  full = run(None)
  scaled = run(jnp.array([-1e9, 0.0]))
  np.testing.assert_allclose(scaled[0], base[0], atol=1e-6)  # scale 0: the model itself
  np.testing.assert_allclose(scaled[1], full[1], atol=1e-6)  # scale 1: as trained
  half = run(jnp.array([np.log(0.5), np.log(0.5)]))
  np.testing.assert_allclose(np.exp(jax.scipy.special.logsumexp(half, axis=-1)), 1.0, atol=1e-5)
  # Halving g moves each candidate's probability between the model's and the full mixture's.
  for r, c in ((0, 3), (1, 7)):
    lo, hi = sorted([float(base[r, c]), float(full[r, c])])
    assert lo - 1e-6 <= float(half[r, c]) <= hi + 1e-6


def test_beam_search_rejects_bad_root_scale():
  model, params = _pointer_model()
  with pytest.raises(ValueError, match="pointer_root_scale"):
    beam_lib.BeamSearch(model, params, 1, trees=[P.PrefixTree([[1]])], pointer_root_scale=2.0)


def test_rank_phrases_by_spelling_of_the_first_pass():
  phrases = ["tulip kettle", "verne dass", "fern lantern", "dass"]
  ranked = P.rank_phrases("please call vern das now", phrases, "spelling")
  assert ranked[0] == "verne dass"
  for method in P.RANK_METHODS:
    ranked = P.rank_phrases("please call vern das now", phrases, method)
    assert sorted(ranked) == sorted(phrases)  # a permutation
    assert set(ranked[:2]) == {"verne dass", "dass"}
    assert P.rank_phrases("", phrases, method) == phrases  # no evidence: list order
    assert P.rank_phrases("dim the fern lantern", phrases, method)[0] == "fern lantern"
  with pytest.raises(ValueError, match="method"):
    P.rank_phrases("x", phrases, "soundex")


def test_rank_phrases_by_sound_over_the_nbest():
  assert P.phonetic_key("Katharina") == P.phonetic_key("catarina") == "katarina"
  assert P.phonetic_key("philipp") == P.phonetic_key("filip")
  assert P.phonetic_key("zack") == "sak" and P.phonetic_key("cecil") == "sesil"
  phrases = ["philippa quist", "maria lund", "cecile roux"]
  assert P.rank_phrases("call filipa kwist", phrases, "phonetic")[0] == "philippa quist"
  # Any hypothesis of the N-best may hold the name.
  nbest = ["text mary a lot", "text sesil ru"]
  assert P.rank_phrases(nbest, phrases)[0] == "cecile roux"
  assert P.rank_phrases([], phrases) == phrases


def test_evaluation_plumbing_feeds_the_trees(tiny_data_dir, tiny_tokenizer_path):
  """decode_utterances builds each utterance's tree from its list (or from
  tree_lists); with a dominant gate every label follows that tree, and
  evaluate_utterances' two-pass mode runs and reports itself."""
  from asr.data import sources, tokenizer
  from asr.evaluation import evaluate
  from experiments import tiny
  tok = tokenizer.Tokenizer(tiny_tokenizer_path)
  model, params = _pointer_model(vocab=tok.vocab_size, gate_bias=20.0, seed=5)
  config = tiny.get_config()
  config.data.data_dir = tiny_data_dir
  spec = "tfds:voice_assistant/tiny:test"
  utts = evaluate.load_utterances(config, spec, tok, limit=3)
  model = transducer.Transducer(dataclasses.replace(
      model.cfg, num_mel_bins=utts[0].feats.shape[1]))
  norm = (np.zeros(utts[0].feats.shape[1], np.float32), np.ones(utts[0].feats.shape[1], np.float32))
  lists = [["zoe muller", "reading lamp"], ["kitchen light"], []]
  tree_lists = [["reading lamp"], [], []]
  out = evaluate.decode_utterances(model, params, norm, utts, tok, beam=2, lists=lists,
                                   tree_lists=tree_lists)
  phrases = [tok.encode(p) for p in tree_lists[0]]
  tree = P.PrefixTree(phrases)
  assert out[0]["tokens"], "no labels emitted"
  node = P.ROOT
  for t in out[0]["tokens"]:
    assert t in tree.candidates(node), (out[0]["tokens"], t)
    node = tree.step(node, t)
  pool = sources.name_pool(sources.open_source(spec, tiny_data_dir))
  res = evaluate.evaluate_utterances(model, params, norm, utts, tok, beam=2, biasing="attention",
                                     distractors=2, pool=pool, pointer_preselect=1)
  assert res["metrics"]["pointer"] and res["metrics"]["pointer_preselect"] == 1
  assert res["metrics"]["num_utterances"] == 3
