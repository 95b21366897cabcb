"""CTC rescoring of the transducer's beam (asr.decoding.ctc_rescore): the CTC
log-likelihood against brute-force enumeration, padding, the selection and
its tuning, and the library path (decode_utterances) against a recomputation."""

import itertools

import numpy as np
import pytest

from asr.decoding import ctc_rescore


def _collapse(path):
  out, prev = [], None
  for p in path:
    if p != prev and p != 0:
      out.append(p)
    prev = p
  return out


def _brute_force(lp, tokens):
  """log of the summed probability of every frame path that collapses to tokens."""
  t, v = lp.shape
  total = -np.inf
  for path in itertools.product(range(v), repeat=t):
    if _collapse(path) == list(tokens):
      total = np.logaddexp(total, sum(lp[i, p] for i, p in enumerate(path)))
  return total


def _random_logprobs(rng, t, v):
  x = rng.normal(size=(t, v)) * 1.5
  return x - np.log(np.exp(x).sum(-1, keepdims=True))


def test_log_likelihood_equals_brute_force():
  rng = np.random.default_rng(0)
  lp = _random_logprobs(rng, 5, 4)
  seqs = [[], [1], [2, 3], [1, 1], [3, 1, 2], [2, 2, 2]]
  got = ctc_rescore.ctc_log_likelihoods(np.repeat(lp[None], len(seqs), 0), [5] * len(seqs), seqs)
  for s, g in zip(seqs, got):
    np.testing.assert_allclose(g, _brute_force(lp, s), rtol=1e-5, atol=1e-4)
  # The probabilities of all label sequences sum to 1 (every path collapses to one).
  all_seqs = {tuple(_collapse(p)) for p in itertools.product(range(4), repeat=5)}
  lls = ctc_rescore.ctc_log_likelihoods(np.repeat(lp[None], len(all_seqs), 0),
                                        [5] * len(all_seqs), [list(s) for s in all_seqs])
  np.testing.assert_allclose(np.exp(lls).sum(), 1.0, atol=1e-4)


def test_frames_beyond_the_length_are_ignored_and_rows_independent():
  rng = np.random.default_rng(1)
  a, b = _random_logprobs(rng, 4, 3), _random_logprobs(rng, 6, 3)
  padded = np.zeros((2, 6, 3), np.float32)
  padded[0, :4] = a
  padded[0, 4:] = rng.normal(size=(2, 3))  # garbage past the length
  padded[1] = b
  got = ctc_rescore.ctc_log_likelihoods(padded, [4, 6], [[1, 2], [2]])
  np.testing.assert_allclose(got[0], _brute_force(a, [1, 2]), atol=1e-4)
  np.testing.assert_allclose(got[1], _brute_force(b, [2]), atol=1e-4)


def test_impossible_sequence_and_bad_input():
  lp = _random_logprobs(np.random.default_rng(2), 2, 3)
  # Two equal labels need a blank between them: 3 frames.
  got = ctc_rescore.ctc_log_likelihoods(lp[None], [2], [[1, 1]])
  assert got[0] < -1e4
  with pytest.raises(ValueError, match="blank"):
    ctc_rescore.ctc_log_likelihoods(lp[None], [2], [[0, 1]])
  with pytest.raises(ValueError, match="rows"):
    ctc_rescore.ctc_log_likelihoods(lp[None], [2, 2], [[1]])


def test_select_and_tune():
  # Utterance 0: the first pass prefers hyp 0; CTC strongly prefers hyp 1.
  scores = [np.array([-1.0, -1.5]), np.array([-2.0])]
  ctc = [np.array([-10.0, -2.0]), np.array([-3.0])]
  lengths = [[2, 2], [1]]
  assert ctc_rescore.select(scores, ctc, lengths, 0.0, 0.0) == [0, 0]
  assert ctc_rescore.select(scores, ctc, lengths, 0.1, 0.0) == [1, 0]
  assert ctc_rescore.select([np.zeros(0)], [np.zeros(0)], [[]], 1.0, 0.0) == [-1]
  # The bonus breaks a tie toward the longer hypothesis.
  assert ctc_rescore.select([np.array([-1.0, -1.0])], [np.array([-1.0, -1.0])], [[1, 3]],
                            1.0, 0.5) == [1]
  errors = [[3, 0], [1]]
  t = ctc_rescore.tune(scores, ctc, lengths, errors, [0.0, 0.1, 1.0], [0.0, 0.5])
  assert (t["weight"], t["length_bonus"], t["errors"]) == (0.1, 0.0, 1)
  assert len(t["grid"]) == 6
  assert {g["errors"] for g in t["grid"] if g["weight"] == 0.0} == {4}


def test_decode_utterances_rescores_the_beam(tiny_data_dir, tiny_tokenizer_path):
  """The library path: the N-best reordered by score + w * CTC + b * |y|, with
  the CTC term equal to a separate CTC pass; weight 0 is the first pass."""
  from asr.evaluation import evaluate
  from tests.biasing.test_kws import ctc_setup
  model, params, norm, utts, tok, _, _ = ctc_setup(tiny_data_dir, tiny_tokenizer_path)
  plain = evaluate.decode_utterances(model, params, norm, utts, tok, beam=3, nbest=3)
  w, b = 0.7, 0.3
  resc = evaluate.decode_utterances(model, params, norm, utts, tok, beam=3, nbest=3,
                                    ctc_rescore_weight=w, ctc_rescore_bonus=b)
  lps = evaluate.ctc_logprobs(model, params, norm, utts)
  for p, r, lp in zip(plain, resc, lps):
    # Same hypotheses, each with its first-pass score, recomputed CTC and combined score.
    first = {tuple(h["tokens"]): h["score"] for h in p["nbest"]}
    assert set(first) == {tuple(h["tokens"]) for h in r["nbest"]}
    toks = [h["tokens"] for h in r["nbest"]]
    ll = ctc_rescore.ctc_log_likelihoods(np.repeat(lp[None], len(toks), 0), [len(lp)] * len(toks),
                                         toks)
    for h, l in zip(r["nbest"], ll):
      np.testing.assert_allclose(h["ctc"], l, rtol=1e-4, atol=1e-3)
      np.testing.assert_allclose(h["score"], first[tuple(h["tokens"])] + w * l
                                 + b * len(h["tokens"]), rtol=1e-4, atol=1e-3)
    combined = [h["score"] for h in r["nbest"]]
    assert combined == sorted(combined, reverse=True)
    assert r["text"] == r["nbest"][0]["text"] and r["tokens"] == r["nbest"][0]["tokens"]
  # Greedy decoding has no beam to rescore: unchanged.
  g0 = evaluate.decode_utterances(model, params, norm, utts, tok, beam=1)
  g1 = evaluate.decode_utterances(model, params, norm, utts, tok, beam=1, ctc_rescore_weight=w)
  assert [x["text"] for x in g0] == [x["text"] for x in g1]
  m = evaluate.evaluate_utterances(model, params, norm, utts, tok, beam=3, ctc_rescore_weight=w,
                                   ctc_rescore_bonus=b)["metrics"]
  assert (m["ctc_rescore_weight"], m["ctc_rescore_bonus"]) == (w, b)


def test_rescoring_needs_a_ctc_head(tiny_data_dir, tiny_tokenizer_path):
  from asr.data import tokenizer
  from asr.evaluation import evaluate
  from experiments import tiny
  from tests.tiny_models import tiny_transducer
  tok = tokenizer.Tokenizer(tiny_tokenizer_path)
  config = tiny.get_config()
  config.data.data_dir = tiny_data_dir
  utts = evaluate.load_utterances(config, "tfds:voice_assistant/tiny:test", tok, limit=1)
  mel = utts[0].feats.shape[1]
  model, params = tiny_transducer(vocab_size=tok.vocab_size)
  assert not model.cfg.ctc_head
  norm = (np.zeros(mel, np.float32), np.ones(mel, np.float32))
  # Refused before any encoding.
  with pytest.raises(ValueError, match="CTC head"):
    evaluate.decode_utterances(model, params, norm, utts, tok, beam=2, ctc_rescore_weight=0.5)
