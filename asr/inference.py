"""A recognizer object over a trained workdir (transcription, quick use).

  rec = Recognizer.from_workdir("workdirs/small")
  rec.transcribe(audio_int16, phrases=[("zoe muller", None)], beam=4)
"""

import dataclasses
from typing import Sequence

import numpy as np

from asr.biasing import context_graph as cg
from asr.biasing import kws
from asr.data import manifest as manifest_lib
from asr.data import pipeline
from asr.evaluation import evaluate
from asr.models import encoder as encoder_lib


@dataclasses.dataclass
class Recognizer:
  config: object
  model: object
  params: object
  norm: tuple
  tokenizer: object
  step: int

  @classmethod
  def from_workdir(cls, workdir: str, step: int | None = None) -> "Recognizer":
    from asr.training import state as state_lib  # pylint: disable=g-import-not-at-top
    return cls(*state_lib.restore_for_inference(workdir, step))

  def graph(self, phrases: Sequence[tuple[str, float | None]], context_score: float = 2.0):
    if not phrases:
      return None
    texts = [p for p, _ in phrases]
    scores = [s for _, s in phrases]
    return cg.ContextGraph.from_phrases(texts, self.tokenizer.encode, context_score, scores)

  def _tree_graph(self, phrases, context_score: float):
    """A function of a pointer tree's phrases -> the shallow-fusion graph of
    those phrases (their own scores kept); list verification fuses each tried
    tree's phrases only, as ``evaluate_utterances`` does in the both mode."""
    scores = dict(phrases)
    return lambda tree: self.graph([(p, scores[p]) for p in tree], context_score)

  def transcribe(self, audio: np.ndarray, phrases=(), beam: int = 4, nbest: int = 4,
                 context_score: float = 2.0, shallow: bool = True,
                 attention: bool = True, pointer_preselect: int = 0,
                 preselect_min_score: float | None = None, pointer_window: int | None = None,
                 attention_list: str = "all", pointer_verify: int = 0,
                 verify_joint: int = 0, verify_margin: float = 0.0, kws_cohort: int = 0,
                 kws_cohort_weight: float = kws.COHORT_WEIGHT,
                 kws_cohort_power: float = kws.COHORT_POWER) -> dict:
    """audio: int16 [N] at 16 kHz; phrases: [(phrase, score or None)].

    With phrases, ``shallow`` applies shallow fusion (context graph) and
    ``attention`` feeds the list to the attention-biasing module (CATT models
    only; ignored otherwise). Models with the tree-constrained pointer and a
    CTC head: ``pointer_preselect`` > 0 keeps that many phrases in the
    pointer's tree, ranked by CTC keyword spotting on this audio
    (``preselect_min_score``, ``pointer_window``, ``attention_list`` as in
    :func:`asr.evaluation.evaluate.evaluate_utterances`); ``pointer_verify``,
    ``verify_joint``, ``verify_margin``: list verification over the ranked
    phrases (:func:`asr.evaluation.evaluate.verify_decode`; with ``shallow``
    each tried tree fuses its own phrases). ``kws_cohort`` > 0 ranks by
    keyword scores calibrated against that many training utterances of the
    run's corpus (:meth:`keyword_cohort`, built once and kept). The search uses
    the config's tuned ``eval`` settings (label_bonus, max_symbols, ilm_weight).
    Returns {"text", "nbest": [{"text", "score"}]}, with verification also
    "verify": {"tree", "gain"}.
    """
    ex = {"id": "utt", "audio": audio, "text": "", "context": [p for p, _ in phrases]}
    min_frames = encoder_lib.min_feature_frames(self.config.model.encoder.subsample_factor)
    utt = pipeline._prepare_fn(None, None, self.config.data.num_mel_bins,  # pylint: disable=protected-access
                               min_frames, self.config.data.get("cmvn", "global"))(ex)
    graphs = [self.graph(phrases, context_score)] if phrases and shallow else None
    lists = tree_lists = windows = verified = None
    search = dict(beam=max(beam, 1), nbest=nbest, **evaluate.search_settings(self.config))
    if attention and self.model.cfg.biasing.enabled:
      lists = [[p for p, _ in phrases]]
    if pointer_verify and not pointer_preselect:
      raise ValueError("pointer_verify needs pointer_preselect (the ranking it draws from)")
    if lists and lists[0] and pointer_preselect and self.model.cfg.biasing.pointer:
      cohort = (self.keyword_cohort(kws_cohort, kws_cohort_weight, kws_cohort_power)
                if kws_cohort else None)
      ranked = evaluate.rank_lists(self.model, self.params, self.norm, [utt], self.tokenizer,
                                   lists, "ctc", min_score=preselect_min_score, cohort=cohort)
      if pointer_verify:
        hyps, verified = evaluate.verify_decode(
            self.model, self.params, self.norm, [utt], self.tokenizer,
            evaluate.verify_variants(ranked, pointer_verify, verify_joint), lists,
            attention_list, verify_margin, ranked, pointer_window,
            tree_graph=None if graphs is None else self._tree_graph(phrases, context_score),
            **search)
        res = hyps[0]
      else:
        tree_lists = [ranked[0][:pointer_preselect]]
        if pointer_window is not None:
          windows = evaluate.keyword_windows(ranked, tree_lists, pointer_window)
        lists = evaluate.attention_lists(lists, tree_lists, attention_list)
    if verified is None:
      res = evaluate.decode_utterances(self.model, self.params, self.norm, [utt], self.tokenizer,
                                       graphs=graphs, lists=lists, tree_lists=tree_lists,
                                       ptr_windows=windows, **search)[0]
    out = {"text": res["text"],
           "nbest": [{"text": h["text"], "score": h["score"]} for h in res.get("nbest", [])]}
    if verified is not None:
      out["verify"] = verified[0]
    return out

  def keyword_cohort(self, num: int, weight: float = kws.COHORT_WEIGHT,
                     power: float = kws.COHORT_POWER):
    """The :class:`asr.biasing.kws.Cohort` of the first ``num`` training
    utterances (:func:`asr.evaluation.evaluate.keyword_cohort`), built on first
    use and kept with its per-phrase cache for later calls."""
    cache = self.__dict__.setdefault("_cohorts", {})
    key = (int(num), float(weight), float(power))
    if key not in cache:
      cache[key] = evaluate.keyword_cohort(self.config, self.model, self.params, self.norm,
                                           self.tokenizer, *key)
    return cache[key]

  def transcribe_file(self, path: str, phrases=(), start_s: float = 0.0, **kw) -> dict:
    audio = manifest_lib.load_audio(path, where=path)
    audio = audio[int(start_s * manifest_lib.SAMPLE_RATE):]
    return {"audio": path, **self.transcribe(audio, phrases, **kw)}
