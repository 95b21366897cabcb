"""CTC keyword spotting (asr.biasing.kws) and the CTC preselection plumbing."""

import dataclasses
import itertools

import jax
import numpy as np
import pytest

from asr.biasing import kws
from asr.models import encoder as enc_lib
from asr.models import transducer


def _collapse(seq, blank=0):
  out, prev = [], None
  for a in seq:
    if a != prev and a != blank:
      out.append(a)
    prev = a
  return out


def _brute_force(logp, phrase):
  """max over segments [s, e] and frame labellings of [s, e] that collapse
  (CTC) to ``phrase`` of sum(log p - max log p); frames outside cost 0."""
  rel = logp - logp.max(-1, keepdims=True)
  t_total, v = logp.shape
  best = kws.NEG
  for s in range(t_total):
    for e in range(s, t_total):
      for seq in itertools.product(range(v), repeat=e - s + 1):
        if _collapse(seq) == list(phrase):
          best = max(best, sum(rel[s + k, a] for k, a in enumerate(seq)))
  return best


def _pad(phrases):
  lengths = np.array([len(p) for p in phrases])
  tokens = np.full((len(phrases), max(1, lengths.max())), 7)  # pad value must not matter
  for i, p in enumerate(phrases):
    tokens[i, :len(p)] = p
  return tokens, lengths


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_phrase_scores_equal_brute_force(seed):
  rng = np.random.default_rng(seed)
  logits = 2.0 * rng.normal(size=(5, 4))
  logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
  # Repeated pieces need a blank between them; [1, 1, 1] needs 5 frames.
  phrases = [[1], [2, 3], [3, 3], [1, 2, 1], [2, 2, 3], [1, 1, 1]]
  tokens, lengths = _pad(phrases)
  got = kws.phrase_scores(logp, tokens, lengths)
  want = [_brute_force(logp, p) for p in phrases]
  np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9)
  assert np.all(got <= 0)


def test_phrase_that_cannot_fit_and_empty_phrase_score_neg():
  logp = np.log(np.full((3, 4), 0.25))
  tokens, lengths = _pad([[2, 2, 2], [1, 2, 3], []])  # [2, 2, 2] needs 5 frames
  got = kws.phrase_scores(logp, tokens, lengths)
  assert got[0] == kws.NEG and got[2] == kws.NEG
  assert got[1] == pytest.approx(0.0)  # uniform frames: any path is a best path


def test_greedy_path_phrase_scores_zero_and_ranks_first():
  # Frames peaked on: blank, 4, 5, blank, 6, blank (greedy path says 4 5 6).
  peaks = [0, 4, 5, 0, 6, 0]
  logp = np.log(np.full((6, 8), 0.02))
  for t, v in enumerate(peaks):
    logp[t, v] = np.log(0.86)
  tokens, lengths = _pad([[4, 5], [5, 6], [4, 6], [3, 2], [4, 5, 6]])
  got = kws.phrase_scores(logp, tokens, lengths)
  np.testing.assert_allclose(got[[0, 1, 4]], 0.0, atol=1e-12)
  assert got[3] < got[2] < 0  # [4, 6] needs one changed frame, [3, 2] two
  ids = {"mia": [3, 2], "leo": [4, 5, 6], "ada": [4, 6]}
  assert kws.rank_phrases(logp, ["mia", "ada", "leo"], ids.__getitem__) == ["leo", "ada", "mia"]
  assert kws.rank_phrases(logp, [], ids.__getitem__) == []


def test_rank_per_wordpiece_normalization():
  # A 1-piece phrase one frame off and a 3-piece phrase one frame off score
  # alike in total; per wordpiece the longer one is the better match.
  logp = np.log(np.full((6, 8), 0.02))
  for t, v in enumerate([0, 4, 5, 6, 0, 0]):
    logp[t, v] = np.log(0.86)
  ids = {"short": [7], "long": [4, 5, 3]}
  assert kws.rank_phrases(logp, ["short", "long"], ids.__getitem__, normalize=True)[0] == "long"


def _peaked(peaks, v=8):
  logp = np.log(np.full((len(peaks), v), 0.02))
  for t, k in enumerate(peaks):
    logp[t, k] = np.log(0.86)
  return logp - np.log(np.exp(logp).sum(-1, keepdims=True))


def test_cohort_prior_is_the_mean_background_score():
  """The prior is the mean over cohort utterances of score / L^power, cached;
  an utterance too short for a phrase is left out of its mean."""
  cohort_lps = [_peaked([0, 4, 0]), _peaked([3, 0, 0, 5, 0]), _peaked([6])]
  ids = [[4], [3, 5], [2, 2, 2]]
  tokens, lengths = _pad(ids)
  per_utt = np.stack([kws.phrase_scores(lp, tokens, lengths) for lp in cohort_lps])
  c = kws.Cohort(cohort_lps, weight=0.5, power=0.5)
  # [3, 5] does not fit the 1-frame third utterance, [2, 2, 2] (5 frames) only the second.
  assert per_utt[2, 1] == kws.NEG and (per_utt[[0, 2], 2] == kws.NEG).all()
  want = [per_utt[:, 0].mean() / 1.0, per_utt[:2, 1].mean() / np.sqrt(2),
          per_utt[1, 2] / np.sqrt(3)]
  np.testing.assert_allclose(c.prior(ids), want, rtol=1e-12)
  assert len(c._prior) == 3
  np.testing.assert_allclose(c.prior([[3, 5]]), want[1:2])  # from the cache
  raw = np.array([-1.0, -2.0, -3.0])
  np.testing.assert_allclose(c.calibrate(raw, ids),
                             raw / np.sqrt([1, 2, 3]) - 0.5 * np.array(want))
  with pytest.raises(ValueError, match="at least one"):
    kws.Cohort([])


def test_cohort_demotes_a_phrase_that_matches_everywhere():
  """A 'hub' phrase that scores well on any audio loses to the phrase this
  utterance says once its background score is subtracted; min_score still
  gates the raw per-wordpiece score."""
  hub, name = [1], [4, 5, 6]
  utt = _peaked([1, 0, 4, 5, 3, 0])  # says the hub exactly, the name with one frame off
  background = [_peaked([1, 0, 2, 0]), _peaked([0, 1, 3]), _peaked([2, 1, 0, 7])]
  ids = {"hub": hub, "name": name}
  plain = kws.rank_phrases(utt, ["hub", "name"], ids.__getitem__, normalize=True)
  assert plain == ["hub", "name"]
  cohort = kws.Cohort(background, weight=1.0, power=1.0)
  assert kws.rank_phrases(utt, ["hub", "name"], ids.__getitem__, normalize=True,
                          cohort=cohort) == ["name", "hub"]
  # weight 0, power 1 is the plain per-wordpiece ranking.
  assert kws.rank_phrases(utt, ["hub", "name"], ids.__getitem__, normalize=True,
                          cohort=kws.Cohort(background, weight=0.0, power=1.0)) == plain
  name_score = kws.phrase_scores(utt, *_pad([name]))[0] / 3
  gated = kws.rank_phrases(utt, ["hub", "name"], ids.__getitem__, normalize=True,
                           cohort=cohort, min_score=name_score / 2)
  assert gated == ["hub"]  # the name's raw score is below the gate, whatever its rank


def test_bad_shapes_are_rejected():
  with pytest.raises(ValueError, match="logp must be"):
    kws.phrase_scores(np.zeros(4), np.zeros((1, 1), int), np.ones(1, int))


def _ctc_model(vocab, mel, ctc_head=True):
  cfg = transducer.TransducerConfig(
      encoder=enc_lib.EncoderConfig(num_layers=1, dim=16, num_heads=2, ffn_mult=2, conv_kernel=3,
                                    subsample_channels=4, chunk_size=2, left_context=4,
                                    dropout=0.0),
      predictor=transducer.PredictorConfig(embed_dim=8, hidden=16, dropout=0.0),
      joint_dim=24, vocab_size=vocab, num_mel_bins=mel, ctc_head=ctc_head,
      biasing=transducer.bias_lib.BiasingConfig(enabled=True, embed_dim=8, dim=16, num_heads=2,
                                                dropout=0.0, pointer=True, pointer_dim=8))
  return transducer.Transducer(cfg), transducer.init_params(cfg, jax.random.PRNGKey(3))


def ctc_setup(tiny_data_dir, tiny_tokenizer_path):
  """Three tiny test requests, a tiny pointer model with a CTC head, identity
  normalization, the tokenizer, the split's name pool and the source spec."""
  from asr.data import sources, tokenizer
  from asr.evaluation import evaluate
  from experiments import tiny
  tok = tokenizer.Tokenizer(tiny_tokenizer_path)
  config = tiny.get_config()
  config.data.data_dir = tiny_data_dir
  spec = "tfds:voice_assistant/tiny:test"
  utts = evaluate.load_utterances(config, spec, tok, limit=3)
  mel = utts[0].feats.shape[1]
  model, params = _ctc_model(tok.vocab_size, mel)
  norm = (np.zeros(mel, np.float32), np.ones(mel, np.float32))
  pool = sources.name_pool(sources.open_source(spec, tiny_data_dir))
  return model, params, norm, utts, tok, pool, spec


def test_ctc_preselection_plumbing(tiny_data_dir, tiny_tokenizer_path):
  """evaluate.ctc_logprobs returns each utterance's own valid frames (equal
  to running it alone); CTC preselection ranks with them and needs a CTC head."""
  from asr.evaluation import evaluate
  model, params, norm, utts, tok, pool, _ = ctc_setup(tiny_data_dir, tiny_tokenizer_path)
  mel = utts[0].feats.shape[1]
  lps = evaluate.ctc_logprobs(model, params, norm, utts)
  for u, lp in zip(utts, lps):
    alone = evaluate.ctc_logprobs(model, params, norm, [u])[0]
    assert lp.shape == alone.shape and lp.shape[1] == tok.vocab_size
    np.testing.assert_allclose(lp, alone, atol=2e-4)
    np.testing.assert_allclose(np.exp(lp).sum(-1), 1.0, atol=1e-4)
  lists = evaluate.biasing_lists(utts, 3, pool)
  ranked = evaluate.rank_lists(model, params, norm, utts, tok, lists, "ctc")
  assert [sorted(r) for r in ranked] == [sorted(l) for l in lists]
  res = evaluate.evaluate_utterances(model, params, norm, utts, tok, beam=2, biasing="both",
                                     distractors=3, pool=pool, pointer_preselect=1,
                                     shallow_preselect=2, pointer_rank="ctc")
  m = res["metrics"]
  assert m["pointer_preselect"] == 1 and m["shallow_preselect"] == 2
  assert m["pointer_rank"] == "ctc" and m["num_utterances"] == 3
  res = evaluate.evaluate_utterances(model, params, norm, utts, tok, beam=2, biasing="attention",
                                     distractors=3, pool=pool, pointer_preselect=2,
                                     pointer_rank="ctc", pointer_window=1, attention_list="empty",
                                     preselect_min_score=-50.0)
  m = res["metrics"]
  assert m["pointer_window"] == 1 and m["attention_list"] == "empty"
  assert m["preselect_min_score"] == -50.0 and m["kws_cohort"] is None
  from experiments import tiny
  config = tiny.get_config()
  config.data.data_dir = tiny_data_dir
  cohort = evaluate.keyword_cohort(config, model, params, norm, tok, 2, weight=0.5, power=0.5)
  assert len(cohort) == 2 and all(lp.shape[1] == tok.vocab_size for lp in cohort.logps)
  ranked_c = evaluate.rank_lists(model, params, norm, utts, tok, lists, "ctc", cohort=cohort)
  assert [sorted(r) for r in ranked_c] == [sorted(l) for l in lists]
  res = evaluate.evaluate_utterances(model, params, norm, utts, tok, beam=2, biasing="attention",
                                     distractors=3, pool=pool, pointer_preselect=2,
                                     pointer_rank="ctc", kws_cohort=cohort)
  assert res["metrics"]["kws_cohort"] == {"utterances": 2, "weight": 0.5, "power": 0.5}
  with pytest.raises(ValueError, match="cohort needs pointer_rank='ctc'"):
    evaluate.rank_lists(model, params, norm, utts, tok, lists, "spelling", cohort=cohort)
  with pytest.raises(ValueError, match="pointer_window needs"):
    evaluate.evaluate_utterances(model, params, norm, utts, tok, biasing="attention",
                                 distractors=3, pool=pool, pointer_preselect=1,
                                 pointer_window=1, pointer_rank="phonetic")
  with pytest.raises(ValueError, match="attention_list"):
    evaluate.evaluate_utterances(model, params, norm, utts, tok, biasing="attention",
                                 distractors=3, pool=pool, attention_list="some")
  with pytest.raises(ValueError, match="needs pointer_preselect"):
    evaluate.evaluate_utterances(model, params, norm, utts, tok, biasing="attention",
                                 distractors=3, pool=pool, attention_list="preselected")
  no_head, nparams = _ctc_model(tok.vocab_size, mel, ctc_head=False)
  with pytest.raises(ValueError, match="no CTC head"):
    evaluate.evaluate_utterances(no_head, nparams, norm, utts, tok, beam=2, biasing="attention",
                                 distractors=3, pool=pool, pointer_preselect=1,
                                 pointer_rank="ctc")
  with pytest.raises(ValueError, match="pointer_rank"):
    evaluate.evaluate_utterances(model, params, norm, utts, tok, biasing="attention",
                                 distractors=3, pool=pool, pointer_rank="sound")


def test_recall_at():
  ranked = [["a", "b", "c"], ["d", "e"], ["f"]]
  own = [["b"], ["d", "x"], []]  # "x" missing from its ranking: never counted
  r = kws.recall_at(ranked, own, [1, 2, 5])
  assert r["names"] == 3
  assert r["recall"] == {"1": pytest.approx(1 / 3), "2": pytest.approx(2 / 3),
                         "5": pytest.approx(2 / 3)}
  assert r["mrr"] == pytest.approx((1 / 2 + 1 + 0) / 3)
  assert kws.recall_at([[]], [[]], [1])["names"] == 0


@pytest.mark.parametrize("seed", [0, 4])
def test_segments_hold_the_best_path(seed):
  """The returned segment holds a path that scores the phrase's best score,
  and no path that says the phrase scores better anywhere."""
  rng = np.random.default_rng(seed)
  logits = 2.0 * rng.normal(size=(6, 4))
  logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
  phrases = [[1], [2, 3], [1, 2, 1], [3, 3]]
  tokens, lengths = _pad(phrases)
  scores, seg = kws.phrase_scores(logp, tokens, lengths, return_segments=True)
  for p, sc, (s, e) in zip(phrases, scores, seg):
    assert 0 <= s <= e < 6
    inside = _brute_force(logp[s:e + 1], p)  # garbage cannot help inside: the path fills [s, e]
    assert inside == pytest.approx(sc, abs=1e-9)


def test_windows():
  w = kws.windows([(5, 6), (-1, -1), (0, 0)], 10, slack=1)
  np.testing.assert_array_equal(np.flatnonzero(w), [0, 1, 4, 5, 6, 7])


def test_pointer_windows_gate_where_names_may_start():
  """Closed windows: the pointer is off, so the search equals the plain
  model's; open windows: the ungated search."""
  import jax.numpy as jnp
  from asr.biasing import pointer as P
  from asr.decoding import beam as beam_lib
  from tests.biasing.test_pointer import _pointer_model
  model, params = _pointer_model(gate_bias=20.0, seed=3)
  rng = np.random.default_rng(2)
  enc = jnp.asarray(rng.normal(size=(2, 12, 24)), jnp.float32)
  lengths = np.array([12, 9])
  trees = [P.PrefixTree([[5, 6, 7], [9, 2]]), P.PrefixTree([[3, 4]])]
  plain = beam_lib.beam_search(model, params, enc, lengths, beam=3)
  ungated = beam_lib.beam_search(model, params, enc, lengths, beam=3, trees=trees)
  closed = beam_lib.beam_search(model, params, enc, lengths, beam=3, trees=trees,
                                ptr_windows=[np.zeros(12, bool), np.zeros(9, bool)])
  opened = beam_lib.beam_search(model, params, enc, lengths, beam=3, trees=trees,
                                ptr_windows=[np.ones(12, bool), None])
  for i in range(2):
    assert closed[i][0].tokens == plain[i][0].tokens
    assert closed[i][0].logp == pytest.approx(plain[i][0].logp, abs=1e-4)
    assert opened[i][0].tokens == ungated[i][0].tokens
  assert ungated[0][0].tokens != plain[0][0].tokens  # the dominant pointer did act
  with pytest.raises(ValueError, match="ptr_windows"):
    beam_lib.BeamSearch(model, params, 2, trees=trees, ptr_windows=[None])


def pointer_recognizer(tiny_data_dir, tiny_tokenizer_path):
  """A tiny Recognizer with a dominant pointer gate and a CTC head, a test
  request's audio, three phrases and the one keyword spotting ranks first."""
  from asr import inference
  from asr.data import pipeline, sources, tokenizer
  from asr.evaluation import evaluate
  from experiments import tiny
  from tests.biasing.test_pointer import _pointer_model
  tok = tokenizer.Tokenizer(tiny_tokenizer_path)
  config = tiny.get_config()
  config.data.data_dir = tiny_data_dir
  src = sources.open_source("tfds:voice_assistant/tiny:test", tiny_data_dir)
  audio = pipeline.crop_request(src[0], None)
  utts = evaluate.load_utterances(config, "tfds:voice_assistant/tiny:test", tok, limit=1)
  mel = utts[0].feats.shape[1]
  base, params = _pointer_model(vocab=tok.vocab_size, gate_bias=20.0, seed=5)
  model = transducer.Transducer(dataclasses.replace(base.cfg, num_mel_bins=mel, ctc_head=True))
  params = {**params, "ctc_head": transducer.init_params(model.cfg, jax.random.PRNGKey(1))["ctc_head"]}
  config.model.encoder.subsample_factor = model.cfg.encoder.subsample_factor
  norm = (np.zeros(mel, np.float32), np.ones(mel, np.float32))
  rec = inference.Recognizer(config, model, params, norm, tok, 0)
  phrases = [("zoe muller", None), ("reading lamp", None), ("kitchen light", None)]
  lp = evaluate.ctc_logprobs(model, params, norm, [pipeline._prepare_fn(  # pylint: disable=protected-access
      None, None, mel, 1, config.data.get("cmvn", "global"))({"id": "u", "audio": audio,
                                                              "text": "", "context": []})])[0]
  top = kws.rank_phrases(lp, [p for p, _ in phrases], tok.encode, normalize=True)[0]
  return rec, audio, phrases, top


def test_recognizer_transcribe_preselects_by_keyword_spotting(tiny_data_dir, tiny_tokenizer_path):
  """With a dominant pointer gate and K = 1, the transcript spells only the
  phrase that keyword spotting ranks first on this audio."""
  rec, audio, phrases, top = pointer_recognizer(tiny_data_dir, tiny_tokenizer_path)
  out = rec.transcribe(audio, phrases, beam=2, shallow=False, pointer_preselect=1)
  # Every label continues the one-phrase tree: the phrase again and again.
  assert out["text"] and " ".join([top] * 50).startswith(out["text"]), (out["text"], top)
  with pytest.raises(ValueError, match="attention_list"):
    rec.transcribe(audio, phrases, beam=2, pointer_preselect=1, attention_list="some")
  # A cohort of training utterances: built once, kept, and its calibrated top
  # phrase is the one the transcript spells.
  from asr.data import pipeline
  from asr.evaluation import evaluate
  cohort = rec.keyword_cohort(2, 1.0, 1.0)
  assert rec.keyword_cohort(2, 1.0, 1.0) is cohort and len(cohort) == 2
  lp = evaluate.ctc_logprobs(rec.model, rec.params, rec.norm, [pipeline._prepare_fn(  # pylint: disable=protected-access
      None, None, rec.norm[0].shape[0], 1, rec.config.data.get("cmvn", "global"))(
          {"id": "u", "audio": audio, "text": "", "context": []})])[0]
  top_c = kws.rank_phrases(lp, [p for p, _ in phrases], rec.tokenizer.encode, normalize=True,
                           cohort=cohort)[0]
  out = rec.transcribe(audio, phrases, beam=2, shallow=False, pointer_preselect=1,
                       kws_cohort=2, kws_cohort_weight=1.0, kws_cohort_power=1.0)
  assert out["text"] and " ".join([top_c] * 50).startswith(out["text"]), (out["text"], top_c)


def test_windows_gate_where_shallow_fusion_may_begin():
  """Closed windows: no phrase is begun, so the search equals the search
  without a graph; open windows: the ungated shallow-fusion search."""
  import jax.numpy as jnp
  from asr.biasing import context_graph as cg
  from asr.decoding import beam as beam_lib
  from tests.tiny_models import tiny_transducer
  model, params = tiny_transducer(sharpen=3.0)
  v = model.cfg.vocab_size
  rng = np.random.default_rng(0)
  enc = jnp.asarray(rng.normal(size=(1, 10, model.cfg.joint_dim)), jnp.float32)
  lengths = np.array([10])
  graph = cg.ContextGraph([[1, 2], [3 % v, 4 % v]], context_score=5.0)
  plain = beam_lib.beam_search(model, params, enc, lengths, beam=3)
  fused = beam_lib.beam_search(model, params, enc, lengths, beam=3, graphs=[graph])
  closed = beam_lib.beam_search(model, params, enc, lengths, beam=3, graphs=[graph],
                                ptr_windows=[np.zeros(10, bool)])
  opened = beam_lib.beam_search(model, params, enc, lengths, beam=3, graphs=[graph],
                                ptr_windows=[np.ones(10, bool)])
  assert fused[0][0].tokens != plain[0][0].tokens  # the bonus did act
  assert closed[0][0].tokens == plain[0][0].tokens
  assert closed[0][0].score == pytest.approx(plain[0][0].score, abs=1e-4)
  assert opened[0][0].tokens == fused[0][0].tokens
