"""List verification (asr.evaluation.evaluate.verify_decode): per utterance
the hypothesis of the pointer tree under which the model finds it most
probable, against decodes of each tree run on their own."""

import numpy as np
import pytest

from tests.biasing.test_kws import ctc_setup, pointer_recognizer


def test_verify_variants():
  from asr.evaluation import evaluate
  ranked = [["a", "b", "c"], ["x"], []]
  assert evaluate.verify_variants(ranked, 2) == [[[], ["a"], ["b"]], [[], ["x"]], [[]]]
  assert evaluate.verify_variants(ranked, 1, joint=3) == [
      [[], ["a"], ["a", "b", "c"]], [[], ["x"]], [[]]]


@pytest.fixture(scope="module")
def setup(tiny_data_dir, tiny_tokenizer_path):
  from asr.evaluation import evaluate
  model, params, norm, utts, tok, pool, _ = ctc_setup(tiny_data_dir, tiny_tokenizer_path)
  lists = evaluate.biasing_lists(utts, 3, pool)
  return evaluate, model, params, norm, utts, tok, lists, pool


def _each_tree(evaluate, model, params, norm, utts, tok, lists, variants, tree_graph=None):
  """Decodes every utterance under each of its trees separately."""
  out = []
  for i, vs in enumerate(variants):
    row = []
    for t in vs:
      h = evaluate.decode_utterances(model, params, norm, [utts[i]], tok, beam=2,
                                     lists=[lists[i]], tree_lists=[t],
                                     graphs=None if tree_graph is None else [tree_graph(t)])[0]
      row.append(h)
    out.append(row)
  return out


def test_verify_decode_keeps_the_most_probable_tree(setup):
  evaluate, model, params, norm, utts, tok, lists, _ = setup
  variants = evaluate.verify_variants([l[::-1] for l in lists], 2, joint=2)
  alone = _each_tree(evaluate, model, params, norm, utts, tok, lists, variants)
  # Any margin below every gain: the most probable tree wins.
  hyps, info = evaluate.verify_decode(model, params, norm, utts, tok, variants, lists, "all",
                                      margin=-1e9, beam=2)
  for i, (h, inf) in enumerate(zip(hyps, info)):
    lps = [a["logp"] for a in alone[i]]
    k = int(np.argmax(lps[1:])) + 1
    assert inf["tree"] == variants[i][k]
    assert h["text"] == alone[i][k]["text"]
    np.testing.assert_allclose(h["logp"], lps[k], atol=1e-3)
    np.testing.assert_allclose(inf["gain"], lps[k] - lps[0], atol=1e-3)
  # An unreachable margin: always the empty tree (no pointer phrase).
  hyps, info = evaluate.verify_decode(model, params, norm, utts, tok, variants, lists, "all",
                                      margin=1e9, beam=2)
  for i, (h, inf) in enumerate(zip(hyps, info)):
    assert inf["tree"] == [] and inf["gain"] == 0.0
    assert h["text"] == alone[i][0]["text"]
    np.testing.assert_allclose(h["logp"], alone[i][0]["logp"], atol=1e-3)


def test_verify_decode_with_shallow_fusion_per_tree(setup):
  from asr.biasing import context_graph as cg
  evaluate, model, params, norm, utts, tok, lists, _ = setup
  graph = lambda t: cg.ContextGraph.from_phrases(t, tok.encode, 3.0) if t else None
  variants = evaluate.verify_variants(lists, 2)
  alone = _each_tree(evaluate, model, params, norm, utts, tok, lists, variants, graph)
  hyps, info = evaluate.verify_decode(model, params, norm, utts, tok, variants, lists, "all",
                                      margin=-1e9, tree_graph=graph, beam=2)
  for i, (h, inf) in enumerate(zip(hyps, info)):
    lps = [a["logp"] for a in alone[i]]
    k = int(np.argmax(lps[1:])) + 1
    assert inf["tree"] == variants[i][k] and h["text"] == alone[i][k]["text"]
    np.testing.assert_allclose(h["score"], alone[i][k]["score"], atol=1e-3)


def test_evaluate_with_verification(setup):
  evaluate, model, params, norm, utts, tok, _, pool = setup
  res = evaluate.evaluate_utterances(model, params, norm, utts, tok, beam=2, biasing="attention",
                                     distractors=3, pool=pool, pointer_preselect=3,
                                     pointer_rank="ctc", pointer_window=2, pointer_verify=2,
                                     verify_joint=3, verify_margin=0.5)
  m = res["metrics"]
  assert (m["pointer_verify"], m["verify_joint"], m["verify_margin"]) == (2, 3, 0.5)
  for u in res["utterances"]:
    assert set(u["verify"]) == {"tree", "gain"}
    assert u["verify"]["tree"] == [] or u["verify"]["gain"] > 0.5
  # Not applied without biasing (the none rows of a benchmark) ...
  m = evaluate.evaluate_utterances(model, params, norm, utts, tok, beam=2, biasing="none",
                                   distractors=3, pool=pool, pointer_preselect=3,
                                   pointer_verify=2)["metrics"]
  assert m["pointer_verify"] == 0
  # ... and refused without the ranking it draws from.
  with pytest.raises(ValueError, match="pointer_verify needs"):
    evaluate.evaluate_utterances(model, params, norm, utts, tok, biasing="attention",
                                 distractors=3, pool=pool, pointer_verify=2)


def test_recognizer_transcribe_verifies(tiny_data_dir, tiny_tokenizer_path):
  rec, audio, phrases, top = pointer_recognizer(tiny_data_dir, tiny_tokenizer_path)
  kw = dict(beam=2, shallow=False, pointer_preselect=1)
  one = rec.transcribe(audio, phrases, **kw)
  out = rec.transcribe(audio, phrases, pointer_verify=1, verify_margin=-1e9, **kw)
  assert out["verify"]["tree"] == [top] and out["text"] == one["text"]
  empty = rec.transcribe(audio, phrases, preselect_min_score=1.0, **kw)  # nothing kept
  out = rec.transcribe(audio, phrases, pointer_verify=1, verify_margin=1e9, **kw)
  assert out["verify"] == {"tree": [], "gain": 0.0} and out["text"] == empty["text"]
  assert "verify" not in one
  # With shallow fusion each tried tree fuses its own phrases: an unreachable
  # margin leaves the empty tree's decode, which fuses nothing.
  out = rec.transcribe(audio, phrases, beam=2, pointer_preselect=1, pointer_verify=1,
                       verify_margin=1e9)
  assert out["verify"]["tree"] == [] and out["text"] == empty["text"]
  with pytest.raises(ValueError, match="pointer_verify needs"):
    rec.transcribe(audio, phrases, beam=2, pointer_verify=1)
