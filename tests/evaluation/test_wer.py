import random

import jiwer
import pytest

from asr.evaluation import wer
from asr.evaluation.wer import UtteranceScore, aggregate, biasing_words, corpus_wer, score_utterance


def test_biased_substitution_and_unbiased_deletion():
    s = score_utterance("call zoe muller now", "call so muller", ["zoe muller"])
    assert s == UtteranceScore(n_words=4, n_biased=2, u_del=1, b_sub=1)
    assert (s.n_unbiased, s.u_errors, s.b_errors, s.errors) == (2, 1, 1, 2)
    r = aggregate([s])
    assert r == {
        "wer": 0.5,
        "u_wer": 0.5,
        "b_wer": 0.5,
        "num_words": 4,
        "num_biased_words": 2,
        "substitutions": 1,
        "deletions": 1,
        "insertions": 0,
        "num_utterances": 1,
    }


def test_insertion_of_biased_word_counts_as_biased():
    s = score_utterance("call muller", "call zoe muller", ["Zoë Müller"])
    assert s == UtteranceScore(n_words=2, n_biased=1, b_ins=1)
    r = aggregate([s])
    assert (r["wer"], r["u_wer"], r["b_wer"]) == (0.5, 0.0, 1.0)


def test_insertion_of_unbiased_word_counts_as_unbiased():
    s = score_utterance("call zoe", "call the zoe", ["zoe"])
    assert s == UtteranceScore(n_words=2, n_biased=1, u_ins=1)


def test_biased_deletion_and_unbiased_substitution():
    s = score_utterance("call zoe muller", "tall muller", ["zoe muller"])
    assert s == UtteranceScore(n_words=3, n_biased=2, u_sub=1, b_del=1)


def test_biased_words_counted_with_multiplicity():
    s = score_utterance("zoe and zoe", "zoe and so", ["zoe"])
    assert s == UtteranceScore(n_words=3, n_biased=2, b_sub=1)


def test_normalization_case_accents_numbers():
    s = score_utterance("Call Zoë Müller at 7!", "call zoe muller at seven", ["ZOE MÜLLER"])
    assert s == UtteranceScore(n_words=5, n_biased=2)
    assert biasing_words(["Zoë-Anne", "O'Brien 2"]) == {"zoe", "anne", "o'brien", "two"}


def test_empty_hypothesis_is_all_deletions():
    s = score_utterance("call zoe", "", ["zoe"])
    assert s == UtteranceScore(n_words=2, n_biased=1, u_del=1, b_del=1)
    assert aggregate([s])["wer"] == 1.0


def test_empty_reference_is_all_insertions():
    s = score_utterance("?!", "zoe now", ["zoe"])
    assert s == UtteranceScore(n_words=0, n_biased=0, u_ins=1, b_ins=1)
    r = aggregate([s])
    assert r["wer"] is None and r["u_wer"] is None and r["b_wer"] is None
    assert r["insertions"] == 2
    assert score_utterance("", "", ["zoe"]) == UtteranceScore(0, 0)


def test_no_context_has_no_b_wer():
    r = aggregate([score_utterance("a b c", "a x c", [])])
    assert r["b_wer"] is None and r["u_wer"] == pytest.approx(1 / 3) and r["num_biased_words"] == 0


def test_aggregate_sums_counts_not_rates():
    s1 = score_utterance("call zoe muller now", "call so muller", ["zoe muller"])  # 2 of 4, b 1 of 2
    s2 = score_utterance("hello zoe", "hello zoe", ["zoe"])  # 0 of 2, b 0 of 1
    s3 = score_utterance("hi", "hi there", [])  # 1 insertion of 1
    r = aggregate(iter([s1, s2, s3]))
    assert r["wer"] == pytest.approx(3 / 7)  # the mean of rates would be 0.5
    assert r["b_wer"] == pytest.approx(1 / 3)
    assert r["u_wer"] == pytest.approx(2 / 4)
    assert (r["num_words"], r["num_biased_words"], r["num_utterances"]) == (7, 3, 3)
    assert (r["substitutions"], r["deletions"], r["insertions"]) == (1, 1, 1)
    assert s1 + s2 + s3 == UtteranceScore(7, 3, u_del=1, u_ins=1, b_sub=1)


def test_aggregate_of_nothing():
    r = aggregate([])
    assert r["wer"] is None and r["num_utterances"] == 0


def test_matches_jiwer_on_random_sentences():
    rng = random.Random(0)
    vocab = "a b c d e f g h".split()
    refs, hyps = [], []
    for _ in range(200):
        ref = [rng.choice(vocab) for _ in range(rng.randint(1, 8))]
        hyp = [w for w in ref if rng.random() > 0.2]
        for _ in range(rng.randint(0, 2)):
            hyp.insert(rng.randint(0, len(hyp)), rng.choice(vocab))
        hyp = [rng.choice(vocab) if rng.random() < 0.2 else w for w in hyp]
        refs.append(" ".join(ref))
        hyps.append(" ".join(hyp))
    scores = [score_utterance(r, h, rng.sample(vocab, 3)) for r, h in zip(refs, hyps)]
    for s, r, h in zip(scores, refs, hyps):
        out = jiwer.process_words(r, h)
        assert (s.substitutions, s.deletions, s.insertions) == (out.substitutions, out.deletions, out.insertions)
    assert aggregate(scores)["wer"] == pytest.approx(jiwer.wer(refs, hyps))
    assert corpus_wer(refs, hyps) == pytest.approx(jiwer.wer(refs, hyps))


def test_corpus_wer():
    assert corpus_wer(["Zoë at 7", "b"], ["zoe at seven", "c"]) == 0.25
    assert corpus_wer([""], ["x"]) is None
    with pytest.raises(ValueError):
        corpus_wer(["a"], [])


def test_paired_bootstrap():
  import numpy as np
  from asr.evaluation.wer import paired_bootstrap
  rng = np.random.default_rng(0)
  words = rng.integers(3, 12, size=300)
  a = rng.binomial(words, 0.4)
  # Identical systems: no change, and B is never strictly better.
  same = paired_bootstrap(a, a, words)
  assert same["rel_change"] == 0 and same["ci_low"] == same["ci_high"] == 0
  assert same["p_b_better"] == 0
  # B fixes one error in every utterance that has one: a certain improvement,
  # its full-set change exact, the interval around it and below 0.
  b = np.maximum(a - 1, 0)
  r = paired_bootstrap(a, b, words)
  assert r["rel_change"] == pytest.approx((b.sum() - a.sum()) / a.sum())
  assert r["ci_low"] <= r["rel_change"] <= r["ci_high"] < 0 and r["p_b_better"] == 1.0
  # Independent noise of equal rate: the interval straddles 0.
  c = rng.binomial(words, 0.4)
  r = paired_bootstrap(a, c, words, seed=1)
  assert r["ci_low"] < 0 < r["ci_high"] and 0 < r["p_b_better"] < 1
  assert paired_bootstrap(a, c, words, seed=1) == r  # deterministic in the seed
  with pytest.raises(ValueError, match="shapes"):
    paired_bootstrap(a, c[:-1], words)


def test_paired_bootstrap_by_id_pairs_common_utterances():
  from asr.evaluation.wer import paired_bootstrap, paired_bootstrap_by_id
  base = {"a": (2, 5), "b": (1, 4), "c": (3, 6)}
  other = {"b": (0, 4), "c": (3, 6), "d": (9, 9)}
  assert paired_bootstrap_by_id(base, other) == paired_bootstrap([1, 3], [0, 3], [4, 6])
  assert paired_bootstrap_by_id({"a": (0, 5)}, {"a": (1, 5)}) is None


def test_errors_by_position_edges_and_middle():
    # Deleted first word, substituted middle word, insertion after the last word.
    d = wer.errors_by_position("turn on the kitchen lights", "on a kitchen lights please")
    assert d == {"first": [1, 1], "middle": [1, 3], "last": [1, 1]}
    # An insertion before the first word counts at the first word.
    assert wer.errors_by_position("call mom", "uh call mom")["first"] == [1, 1]
    # One-word reference: its word is "first"; a trailing insertion lands there too.
    assert wer.errors_by_position("stop", "stop it") == {
        "first": [1, 1], "middle": [0, 0], "last": [0, 0]}
    # Empty reference: every hypothesis word is an insertion at "first".
    assert wer.errors_by_position("", "hello there")["first"] == [2, 0]


def test_errors_by_position_adds_up_to_the_utterance_errors():
    rng = random.Random(3)
    vocab = ["a", "b", "c", "d", "e"]
    per = []
    for _ in range(200):
        ref = " ".join(rng.choice(vocab) for _ in range(rng.randint(1, 7)))
        hyp = " ".join(rng.choice(vocab) for _ in range(rng.randint(0, 8)))
        d = wer.errors_by_position(ref, hyp)
        s = wer.score_utterance(ref, hyp)
        assert sum(v[0] for v in d.values()) == s.errors, (ref, hyp, d)
        assert sum(v[1] for v in d.values()) == s.n_words
        per.append(d)
    total = wer.sum_by_position(per)
    assert total["first"][1] == 200 and total["middle"][0] + total["last"][0] > 0
