"""Offline evaluation: decode a source, score WER / U-WER / B-WER.

Biasing lists follow Le et al. (2021): with ``distractors=N`` each
utterance's list is its own entity phrases plus N phrases drawn (seeded by
the utterance id) from the split's name pool; with ``distractors=None`` it is
the manifest's ``biasing_list`` if present (the published LibriSpeech lists),
else the utterance's stored ``context`` (its user's contacts and devices).

Scoring: U-WER / B-WER split reference words by the utterance's stored
``context`` list (the same for every biasing mode and N, so figures are
comparable across them); see :mod:`asr.evaluation.wer`.
"""

import logging
import time
import zlib
from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from asr.biasing import context_graph as cg
from asr.biasing import kws
from asr.data import features as features_lib
from asr.data import pipeline
from asr.data import sources
from asr.decoding import beam as beam_lib
from asr.decoding import ctc_rescore
from asr.decoding import greedy
from asr.evaluation import wer as wer_lib
from asr.models import encoder as encoder_lib
from asr.models import transducer

BIASING_MODES = ("none", "shallow", "attention", "both")


def load_utterances(config, spec: str, tokenizer, limit: int | None = None,
                    skip_bad: bool = False, trailing_s: float | None = None):
  """Utterances of a source cropped for evaluation: everything after the wake
  word, or with ``trailing_s`` up to that long after the end of speech (e.g.
  where a device's final end-pointer stops the encoder)."""
  src = sources.open_source(spec, config.data.data_dir, skip_bad=skip_bad)
  wake_frames, quantum = pipeline.stream_context_frames(config)
  utts = pipeline.prepare_utterances(
      src, tokenizer, trailing_s=trailing_s, num_bins=config.data.num_mel_bins,
      min_frames=encoder_lib.min_feature_frames(config.model.encoder.subsample_factor),
      limit=limit, cmvn=config.data.get("cmvn", "global"), wake_frames=wake_frames,
      wake_quantum=quantum)
  return UttList(utts, list(src.skipped), spec)


class UttList(list):
  """A list of utterances with the source's skipped lines attached."""

  def __init__(self, utts, skipped, spec):
    super().__init__(utts)
    self.skipped = skipped
    self.spec = spec


def biasing_lists(utts: Sequence[pipeline.Utterance], distractors: int | None,
                  pool: Sequence[str] | None, seed: int = 0) -> list[list[str]]:
  """Per-utterance biasing phrases (see module docstring)."""
  if distractors is None:
    return [list(u.biasing_list if u.biasing_list is not None else u.context) for u in utts]
  pool = list(pool or [])
  out = []
  for u in utts:
    own = sorted({e["phrase"] for e in u.entities} if u.entities else
                 {c for c in u.context if f" {c} " in f" {u.text} "})
    rng = np.random.default_rng((seed, zlib.crc32(u.id.encode())))
    cands = [p for p in pool if p not in own]
    n = min(distractors, len(cands))
    picked = [cands[i] for i in rng.choice(len(cands), n, replace=False)] if n else []
    lst = own + picked
    rng.shuffle(lst)
    out.append(lst)
  return out


def model_inputs(norm, batch):
  """Normalized (feats, lengths, wake) of a collated batch."""
  mean, std = norm
  feats = jnp.asarray(batch["feats"])
  lengths = jnp.asarray(batch["feat_lengths"])
  valid = jnp.arange(feats.shape[1])[None, :] < lengths[:, None]
  feats = jnp.where(valid[..., None], (feats - mean) / std, 0.0)
  wake = None
  if "wake_feats" in batch:  # stream context, right-aligned (asr.models.encoder)
    wf, wl = jnp.asarray(batch["wake_feats"]), jnp.asarray(batch["wake_lengths"])
    wvalid = jnp.arange(wf.shape[1])[None, :] >= (wf.shape[1] - wl)[:, None]
    wake = (jnp.where(wvalid[..., None], (wf - mean) / std, 0.0), wl)
  return feats, lengths, wake


def _encode_batch(model, params, norm, batch, ctx=None, ctx_mask=None):
  feats, lengths, wake = model_inputs(norm, batch)
  return _encode(model, params, feats, lengths, ctx, ctx_mask, wake)


_ctc = jax.jit(lambda model, params, f, l, w: model.apply(
    {"params": params}, f, l, w, method=transducer.Transducer.ctc_logprobs), static_argnums=(0,))


def ctc_logprobs(model, params, norm, utts, batch_frames: int = 20000) -> list[np.ndarray]:
  """Per-utterance CTC-head log-probabilities [T'_i, V] (numpy; valid frames)."""
  out: list[np.ndarray | None] = [None] * len(utts)
  wake_frames = wake_frames_of(utts, model.cfg.encoder)
  for idx, batch in pipeline.eval_batches(utts, batch_frames, wake_frames=wake_frames):
    lp, lens = _ctc(model, params, *model_inputs(norm, batch))
    lp, lens = np.asarray(lp), np.asarray(lens)
    for k, i in enumerate(idx):
      if i >= 0:
        out[i] = lp[k, :lens[k]]
  return out  # type: ignore[return-value]


def keyword_cohort(config, model, params, norm, tokenizer, num: int,
                   weight: float = kws.COHORT_WEIGHT, power: float = kws.COHORT_POWER,
                   split: str = "train"):
  """A :class:`asr.biasing.kws.Cohort` of the first ``num`` utterances of the
  run's ``split`` (its training audio by default: never the audio being
  ranked), scored by the model's CTC head."""
  from asr.training import state as state_lib  # pylint: disable=g-import-not-at-top
  if num <= 0:
    raise ValueError(f"a keyword-spotting cohort needs num > 0 utterances, got {num}")
  utts = load_utterances(config, state_lib.split_spec(config, split), tokenizer, limit=num)
  return kws.Cohort(ctc_logprobs(model, params, norm, utts, config.eval.batch_frames),
                    weight, power)


_encode = jax.jit(lambda model, params, f, l, c, m, w: model.apply(
    {"params": params}, f, l, c, m, w, method=transducer.Transducer.encode), static_argnums=(0,))
_encode_with_ctc = jax.jit(lambda model, params, f, l, c, m, w: model.apply(
    {"params": params}, f, l, c, m, w, method=transducer.Transducer.encode_with_ctc),
    static_argnums=(0,))


def wake_frames_of(utts, encoder_cfg=None) -> int:
  """Stream-context frames to batch ``utts`` with: their longest wake
  segment (0 if they carry none), rounded up to whole chunks of
  ``encoder_cfg`` (segments of ``data.stream_context.align="frame"`` are
  whole encoder frames; the model takes whole chunks, left-padded)."""
  n = max((len(u.wake_feats) for u in utts if u.wake_feats is not None), default=0)
  if n and encoder_cfg is not None:
    q = encoder_cfg.subsample_factor * max(encoder_cfg.chunk_size, 1)
    n = -(-n // q) * q
  return n


_encode_context = jax.jit(lambda model, params, t, l: model.apply(
    {"params": params}, t, l, method=transducer.Transducer.encode_context), static_argnums=(0,))


def encode_lists(model, params, phrases: pipeline.PhraseTokens, lists: Sequence[Sequence[str]]):
  """Biasing lists -> (ctx [B, N+1, C], mask [B, N+1]); N padded to a multiple of 16."""
  n = max((len(l) for l in lists), default=1)
  arr = phrases.pad(lists, max(16, -(-n // 16) * 16))
  return _encode_context(model, params, arr["ctx_tokens"], arr["ctx_lengths"])


PLAIN_SEARCH = {"label_bonus": 0.0, "max_symbols": 0, "ilm_weight": 0.0,
                "ctc_rescore_weight": 0.0, "ctc_rescore_bonus": 0.0}


def search_settings(config, beam: int | None = None) -> dict:
  """The beam search settings a run's config tunes under ``eval``
  (label_bonus, max_symbols, ilm_weight, ctc_rescore_weight,
  ctc_rescore_bonus; absent: the plain search).

  With ``beam`` <= 1 they do not apply: the decode is plain greedy search, as
  the quickstart table's greedy row (a beam-1 search with the config's
  internal-LM subtraction is a different and, here, worse decoder).
  """
  if beam is not None and beam <= 1:
    return dict(PLAIN_SEARCH)
  ev = config.get("eval") or {}
  return {k: ev.get(k, default) for k, default in PLAIN_SEARCH.items()}


def decode_utterances(model, params, norm, utts, tokenizer, beam: int = 0,
                      batch_frames: int = 20000, graphs: Sequence | None = None,
                      nbest: int = 0, lists: Sequence[Sequence[str]] | None = None,
                      label_bonus: float = 0.0,
                      max_symbols: int = beam_lib.DEFAULT_MAX_SYMBOLS,
                      pointer: bool = True, pointer_root_scale: float = 1.0,
                      tree_lists: Sequence[Sequence[str]] | None = None,
                      ilm_weight: float = 0.0,
                      ptr_windows: Sequence[np.ndarray | None] | None = None,
                      lm=None, ctc_rescore_weight: float = 0.0,
                      ctc_rescore_bonus: float = 0.0) -> list[dict]:
  """Decodes utterances; returns per-utterance dicts with text (and nbest).

  Args:
    graphs: per-utterance ContextGraph for shallow fusion (or None).
    lists: per-utterance phrase lists for attention biasing (CATT models).
    label_bonus: beam search's per-label length reward (BeamSearch).
    max_symbols: labels per frame of the beam search (0: modified search).
    pointer: models with the tree-constrained pointer use it over ``lists``
      (False: the attention biasing alone, an ablation);
      ``pointer_root_scale``: see :class:`asr.decoding.beam.BeamSearch`.
    tree_lists: the pointer's phrases per utterance when they differ from
      ``lists`` (a preselected part of it); default ``lists``.
    ilm_weight: internal-LM subtraction in the beam search (BeamSearch); a
      non-zero weight runs the search even at beam 1.
    ptr_windows: per-utterance pointer windows over encoder frames
      (BeamSearch ``ptr_windows``); default none.
    lm: external-LM shallow fusion (:class:`asr.lm.fusion.LMFusion`, BeamSearch
      ``lm``); runs the search even at beam 1; None = no LM.
    ctc_rescore_weight: w > 0 (beam > 1, models with a CTC head) rescores each
      utterance's final beam with its CTC head (:mod:`asr.decoding.ctc_rescore`):
      ``score + w * log P_CTC(y | x) + ctc_rescore_bonus * |y|``, from the same
      encoder pass; the hypotheses are reordered by it, ``score`` is the
      combined score, ``ctc`` the CTC log-likelihood, ``logp`` unchanged.
  """
  rescore = bool(ctc_rescore_weight) and beam > 1
  if rescore and not model.cfg.ctc_head:
    raise ValueError("ctc_rescore_weight needs a model with a CTC head (train.ctc_weight > 0)")
  results: list[dict | None] = [None] * len(utts)
  phrases = pipeline.PhraseTokens(tokenizer) if lists is not None else None
  wake_frames = wake_frames_of(utts, model.cfg.encoder)
  for idx, batch in pipeline.eval_batches(utts, batch_frames, wake_frames=wake_frames):
    ctx = mask = None
    if lists is not None:
      ctx, mask = encode_lists(model, params, phrases,
                               [lists[i] if i >= 0 else [] for i in idx])
    if rescore:
      feats, lengths, wake = model_inputs(norm, batch)
      enc, enc_len, ctc_lp = _encode_with_ctc(model, params, feats, lengths, ctx, mask, wake)
    else:
      enc, enc_len = _encode_batch(model, params, norm, batch, ctx, mask)
    real = [k for k, i in enumerate(idx) if i >= 0]
    trees = None
    if lists is not None and model.cfg.biasing.pointer and pointer:
      from asr.biasing import pointer as pointer_lib  # pylint: disable=g-import-not-at-top
      tl = lists if tree_lists is None else tree_lists
      trees = pointer_lib.trees_for_lists([tl[i] if i >= 0 else [] for i in idx], phrases.ids)
    if beam <= 1 and graphs is None and trees is None and not ilm_weight and lm is None:
      raw = greedy.greedy_search(model, params, enc, enc_len, ctx=ctx, ctx_mask=mask)
      toks, times = greedy.compact(raw), greedy.compact_times(raw)
      for k in real:
        # times: the encoder frame that emitted each token.
        results[idx[k]] = {"text": tokenizer.decode(toks[k]), "tokens": toks[k],
                           "times": times[k]}
    else:
      g = None if graphs is None else [graphs[idx[k]] if idx[k] >= 0 else None for k in range(len(idx))]
      sub = np.array(real)
      hyps = beam_lib.beam_search(
          model, params, np.asarray(enc)[sub], np.asarray(enc_len)[sub], beam=max(beam, 1),
          graphs=None if g is None else [g[k] for k in real],
          ctx=None if ctx is None else np.asarray(ctx)[sub],
          ctx_mask=None if mask is None else np.asarray(mask)[sub], label_bonus=label_bonus,
          max_symbols=max_symbols, trees=None if trees is None else [trees[k] for k in real],
          pointer_root_scale=pointer_root_scale, ilm_weight=ilm_weight,
          ptr_windows=None if ptr_windows is None or trees is None
          else [ptr_windows[idx[k]] for k in real], lm=lm)
      ctc_ll = [None] * len(hyps)
      scores = [[h.score for h in hs] for hs in hyps]
      if rescore:
        ctc_ll = ctc_rescore.nbest_ctc_scores(np.asarray(ctc_lp)[sub], np.asarray(enc_len)[sub],
                                              [[h.tokens for h in hs] for hs in hyps])
        scores = [ctc_rescore.combined_scores(sc, ll, [len(h.tokens) for h in hs],
                                              ctc_rescore_weight, ctc_rescore_bonus)
                  for sc, ll, hs in zip(scores, ctc_ll, hyps)]
      for k, hs, sc, ll in zip(real, hyps, scores, ctc_ll):
        order = np.argsort(-np.asarray(sc), kind="stable") if rescore else range(len(hs))

        def entry(j, hs=hs, sc=sc, ll=ll):
          h = hs[j]
          # tokens/times (encoder frame per label) let lattices time their words.
          e = {"text": tokenizer.decode(h.tokens), "tokens": list(h.tokens),
               "times": list(h.times), "score": float(sc[j]), "logp": h.logp}
          if ll is not None:
            e["ctc"] = float(ll[j])
          return e
        r = dict(entry(order[0]))
        if nbest:
          r["nbest"] = [entry(j) for j in list(order)[:nbest]]
        results[idx[k]] = r
  return results  # type: ignore[return-value]


PRESELECT_RANKS = ("ctc", "phonetic", "spelling")
ATTENTION_LISTS = ("all", "preselected", "empty")


class RankedLists(list):
  """Ranked lists; from the ctc ranking also ``segments``: per utterance
  {phrase: (first, last) encoder frame of its keyword segment, "_frames": T'}."""
  segments: list[dict] | None = None


def rank_lists(model, params, norm, utts, tokenizer, lists, method: str, beam: int = 4,
               batch_frames: int = 20000, att_lists=None, label_bonus: float = 0.0,
               max_symbols: int = beam_lib.DEFAULT_MAX_SYMBOLS,
               ilm_weight: float = 0.0, min_score: float | None = None,
               graphs=None, cohort=None) -> list[list[str]]:
  """Each utterance's list, best-ranked phrase first (``method`` as
  ``pointer_rank`` in :func:`evaluate_utterances`; the text rankings decode
  a first pass with ``att_lists`` as attention biasing, pointer off, and
  ``graphs`` as shallow fusion); ``min_score`` (ctc): drop phrases below this
  per-wordpiece score; ``cohort`` (ctc): a :class:`asr.biasing.kws.Cohort`
  whose calibrated scores order the list."""
  if cohort is not None and method != "ctc":
    raise ValueError(f"a keyword-spotting cohort needs pointer_rank='ctc', not {method!r}")
  if method == "ctc":
    lps = ctc_logprobs(model, params, norm, utts, batch_frames)
    ids = pipeline.PhraseTokens(tokenizer, max_len=10**6).ids  # cached encode
    pairs = [kws.rank_phrases(lp, l, ids, normalize=True, min_score=min_score,
                              return_segments=True, cohort=cohort) for lp, l in zip(lps, lists)]
    out = RankedLists([p for p, _ in r] for r in pairs)
    out.segments = [{**dict(r), "_frames": len(lp)} for r, lp in zip(pairs, lps)]
    return out
  from asr.biasing import pointer as pointer_lib  # pylint: disable=g-import-not-at-top
  first = decode_utterances(model, params, norm, utts, tokenizer, beam, batch_frames, graphs,
                            beam, att_lists, label_bonus, max_symbols, pointer=False,
                            ilm_weight=ilm_weight)
  guesses = [[x["text"] for x in h["nbest"]] if method == "phonetic" and h.get("nbest")
             else h["text"] for h in first]
  return [pointer_lib.rank_phrases(g, l, method) for g, l in zip(guesses, lists)]


def attention_lists(att_lists, tree_lists, mode: str):
  """What the attention biasing sees (``attention_list`` of
  :func:`evaluate_utterances`): ``att_lists`` ("all"), the pointer's
  ``tree_lists`` ("preselected") or empty lists ("empty"); None stays None."""
  if mode not in ATTENTION_LISTS:
    raise ValueError(f"attention_list must be one of {ATTENTION_LISTS}, got {mode!r}")
  if att_lists is None or mode == "all":
    return att_lists
  if mode == "preselected":
    if tree_lists is None:
      raise ValueError("attention_list='preselected' needs pointer_preselect (a pointer model)")
    return tree_lists
  return [[] for _ in att_lists]


def keyword_windows(ranked: "RankedLists", tree_lists: Sequence[Sequence[str]],
                    slack: int) -> list[np.ndarray]:
  """Per-utterance pointer windows (BeamSearch ``ptr_windows``): the encoder
  frames within ``slack`` of the keyword segments of ``tree_lists``'
  phrases, from a ctc ranking (:func:`rank_lists`)."""
  segs = ranked.segments
  if segs is None:
    raise ValueError("keyword windows need a ctc ranking (its keyword segments)")
  return [kws.windows([segs[i][p] for p in tl], segs[i]["_frames"], slack)
          for i, tl in enumerate(tree_lists)]


def verify_variants(ranked: Sequence[Sequence[str]], m: int, joint: int = 0
                    ) -> list[list[list[str]]]:
  """Per utterance the pointer trees that :func:`verify_decode` tries: the
  empty tree first, then each of the ``m`` best-ranked phrases alone and,
  with ``joint`` > 1 and at least two phrases, the ``joint`` best together."""
  out = []
  for r in ranked:
    v = [[]] + [[p] for p in r[:m]]
    if joint > 1 and len(r[:joint]) > 1:
      v.append(list(r[:joint]))
    out.append(v)
  return out


def verify_decode(model, params, norm, utts, tokenizer, variants, att_lists, attention_list,
                  margin: float = 0.0, ranked=None, window: int | None = None,
                  tree_graph=None, **decode_kw) -> tuple[list[dict], list[dict]]:
  """List verification: decodes each utterance once per pointer tree of
  ``variants[i]`` (:func:`verify_variants`; the first is the empty tree) and
  keeps the hypothesis of the non-empty tree with the highest log P(y | x,
  tree) (``logp``, the model's own probability under the pointer mixture)
  when it beats the empty tree's by more than ``margin`` nats (negative:
  also when a little less probable), else the empty tree's. A phrase that
  the audio holds lets the pointer raise the probability of its spelling; a
  distractor alone in the tree gains little or loses. ``window`` (with a ctc
  ``ranked``): each tree's pointer windows from its phrases' keyword
  segments; ``tree_graph``: shallow fusion, a function of a tree's phrases
  giving its graph (each tree fuses only its own phrases; ``logp`` leaves
  the bonus out).
  ``decode_kw``: :func:`decode_utterances` arguments (beam, ...).
  Returns (hypotheses, per-utterance {"tree", "gain"})."""
  owner, ex_trees = [], []
  for i, vs in enumerate(variants):
    for v in vs:
      owner.append(i)
      ex_trees.append(v)
  ex_utts = [utts[i] for i in owner]
  ex_att = None if att_lists is None else attention_lists(
      [att_lists[i] for i in owner], ex_trees, attention_list)
  ex_windows = None
  if window is not None:
    ex_ranked = RankedLists()
    ex_ranked.segments = [ranked.segments[i] for i in owner]
    ex_windows = keyword_windows(ex_ranked, ex_trees, window)
  ex = decode_utterances(model, params, norm, ex_utts, tokenizer, lists=ex_att,
                         tree_lists=ex_trees, ptr_windows=ex_windows,
                         graphs=None if tree_graph is None else [tree_graph(t) for t in ex_trees],
                         **decode_kw)
  best: dict[int, tuple] = {}  # the most probable non-empty tree
  base: dict[int, tuple] = {}  # the empty tree
  for h, i, t in zip(ex, owner, ex_trees):
    lp = h["logp"]
    if not t:
      base[i] = (lp, h, t)
    elif i not in best or lp > best[i][0]:
      best[i] = (lp, h, t)
  for i in base:
    if i not in best or best[i][0] - base[i][0] <= margin:
      best[i] = base[i]
  hyps = [best[i][1] for i in range(len(variants))]
  info = [{"tree": best[i][2], "gain": float(best[i][0] - base[i][0])}
          for i in range(len(variants))]
  return hyps, info


def evaluate_utterances(model, params, norm, utts, tokenizer, beam: int = 0,
                        batch_frames: int = 20000, biasing: str = "none",
                        distractors: int | None = None, pool: Sequence[str] | None = None,
                        context_score: float = 2.0, nbest: int = 0,
                        label_bonus: float = 0.0,
                        max_symbols: int = beam_lib.DEFAULT_MAX_SYMBOLS,
                        pointer: bool = True, pointer_root_scale: float = 1.0,
                        pointer_preselect: int = 0, ilm_weight: float = 0.0,
                        pointer_rank: str = "phonetic", shallow_preselect: int = 0,
                        preselect_min_score: float | None = None,
                        attention_list: str = "all",
                        pointer_window: int | None = None, pointer_verify: int = 0,
                        verify_joint: int = 0, verify_margin: float = 0.0,
                        kws_cohort=None, lm=None, ctc_rescore_weight: float = 0.0,
                        ctc_rescore_bonus: float = 0.0) -> dict:
  """Decodes and scores; returns {"metrics": {...}, "utterances": [...]}.

  ``pointer``, ``pointer_root_scale``: as in :func:`decode_utterances`.
  ``pointer_preselect`` > 0 (pointer models, attention/both): keep the
  ``pointer_preselect`` best-ranked phrases of each list as the pointer's tree
  (the attention still sees the whole list). ``pointer_rank`` ranks them:
  "ctc", by CTC keyword spotting on the audio (:func:`asr.biasing.kws.
  rank_phrases`, per-wordpiece score; one extra encoder pass, models with a
  CTC head); or, after a first decode with attention biasing alone, by
  similarity to its transcript (:func:`asr.biasing.pointer.rank_phrases`):
  "phonetic", by sound against the first pass's N-best, "spelling", by
  spelling against its 1-best. ``preselect_min_score`` (ctc only): phrases
  whose per-wordpiece score is lower are left out even among the K best (an
  utterance that names nobody then gets an empty tree: no false biasing).
  ``pointer_window`` (ctc, with ``pointer_preselect``): the pointer acts only
  within ``pointer_window`` encoder frames of a preselected phrase's
  keyword-spotting segment (elsewhere the model decodes alone; in the both
  mode shallow fusion, too, begins phrases only there); None = everywhere.
  ``attention_list`` (attention/both): what the attention biasing sees --
  "all", the whole list; "preselected", the pointer's preselected phrases;
  "empty", nothing (only its no-bias entry; the pointer alone biases).
  ``shallow_preselect`` > 0 (shallow/both):
  the shallow-fusion graph holds only that many best-ranked phrases (same
  ranking). ``pointer_verify`` = M > 0 (with ``pointer_preselect``): list
  verification (:func:`verify_decode`) over the empty tree, each of the M
  best-ranked phrases alone and (``verify_joint`` = J > 1) the J best
  together; a tree is kept when its hypothesis is more probable than the
  empty tree's by more than ``verify_margin`` nats (M + 1 or M + 2 decodes);
  in the both mode each tree's decode fuses its own phrases only.
  ``kws_cohort`` (ctc): a :class:`asr.biasing.kws.Cohort` (see
  :func:`keyword_cohort`) that calibrates the keyword scores per phrase
  before ranking; ``preselect_min_score`` still gates the raw scores.
  All passes are timed.
  ``ilm_weight``: internal-LM subtraction in the beam search (BeamSearch).
  ``lm``: external-LM shallow fusion in the final decode
  (:class:`asr.lm.fusion.LMFusion`; not with ``pointer_verify``).
  ``ctc_rescore_weight``, ``ctc_rescore_bonus``: CTC rescoring of the final
  decode's beam (:func:`decode_utterances`).
  """
  if lm is not None and pointer_verify:
    raise ValueError("lm fusion is not supported with pointer_verify")
  if biasing not in BIASING_MODES:
    raise ValueError(f"biasing must be one of {BIASING_MODES}, got {biasing!r}")
  if biasing in ("attention", "both") and not model.cfg.biasing.enabled:
    raise ValueError(f"biasing={biasing!r} needs a model trained with attention biasing "
                     "(model.biasing.enabled); this one has none: use none or shallow")
  if pointer_window is not None and pointer_rank != "ctc":
    raise ValueError("pointer_window needs pointer_rank='ctc' (its keyword-spotting segments)")
  if pointer_rank not in PRESELECT_RANKS:
    raise ValueError(f"pointer_rank must be one of {PRESELECT_RANKS}, got {pointer_rank!r}")
  lists = biasing_lists(utts, distractors, pool)
  t0 = time.time()
  att_lists = lists if biasing in ("attention", "both") else None
  two_pass = bool(pointer_preselect and pointer and model.cfg.biasing.pointer and att_lists)
  shallow_k = shallow_preselect if biasing in ("shallow", "both") else 0
  graphs = None
  if biasing in ("shallow", "both"):
    graphs = [cg.ContextGraph.from_phrases(l, tokenizer.encode, context_score) if l else None
              for l in lists]
  ranked = None
  if two_pass or shallow_k:
    ranked = rank_lists(model, params, norm, utts, tokenizer, lists, pointer_rank, beam,
                        batch_frames, att_lists, label_bonus, max_symbols, ilm_weight,
                        preselect_min_score, graphs, kws_cohort)
  tree_lists = [r[:pointer_preselect] for r in ranked] if two_pass else None
  windows = None
  if two_pass and pointer_window is not None:
    windows = keyword_windows(ranked, tree_lists, pointer_window)
  att_lists = attention_lists(att_lists, tree_lists, attention_list)
  if shallow_k:
    graphs = [cg.ContextGraph.from_phrases(r[:shallow_k], tokenizer.encode, context_score)
              if r[:shallow_k] else None for r in ranked]
  verified = None
  if pointer_verify and not pointer_preselect:
    raise ValueError("pointer_verify needs pointer_preselect (the ranking it draws from)")
  if pointer_verify and two_pass:
    hyps, verified = verify_decode(
        model, params, norm, utts, tokenizer,
        verify_variants(ranked, pointer_verify, verify_joint),
        lists if biasing in ("attention", "both") else None, attention_list, verify_margin,
        ranked, pointer_window, beam=beam, batch_frames=batch_frames, nbest=nbest,
        label_bonus=label_bonus, max_symbols=max_symbols, pointer=pointer,
        pointer_root_scale=pointer_root_scale, ilm_weight=ilm_weight,
        ctc_rescore_weight=ctc_rescore_weight, ctc_rescore_bonus=ctc_rescore_bonus,
        tree_graph=None if graphs is None else (
            lambda t: cg.ContextGraph.from_phrases(t, tokenizer.encode, context_score)
            if t else None))
  else:
    hyps = decode_utterances(model, params, norm, utts, tokenizer, beam, batch_frames, graphs,
                             nbest, att_lists, label_bonus, max_symbols, pointer,
                             pointer_root_scale, tree_lists, ilm_weight, windows, lm,
                             ctc_rescore_weight, ctc_rescore_bonus)
  decode_s = time.time() - t0
  audio_s = sum(len(u.feats) for u in utts) * features_lib.HOP / features_lib.SAMPLE_RATE
  per_utt, scores = [], []
  for u, h, lst in zip(utts, hyps, lists):
    s = wer_lib.score_utterance(u.text, h["text"], u.context)
    scores.append(s)
    rec = {"id": u.id, "ref": u.text, "hyp": h["text"], "errors": s.errors,
           "num_words": s.n_words, "biasing_list_size": len(lst)}
    if "nbest" in h:
      rec["nbest"] = h["nbest"]
    if verified is not None:
      rec["verify"] = verified[len(per_utt)]
    per_utt.append(rec)
  metrics = wer_lib.aggregate(scores)
  skipped = getattr(utts, "skipped", []) or []
  metrics.update(num_skipped=len(skipped), rtf=decode_s / max(audio_s, 1e-9),
                 decode_seconds=decode_s, audio_seconds=audio_s, beam=beam, biasing=biasing,
                 label_bonus=label_bonus, max_symbols=max_symbols, ilm_weight=ilm_weight,
                 ctc_rescore_weight=ctc_rescore_weight if beam > 1 else 0.0,
                 ctc_rescore_bonus=ctc_rescore_bonus if beam > 1 else 0.0,
                 lm_weight=None if lm is None else lm.weight,
                 distractors=distractors,
                 pointer=bool(pointer and model.cfg.biasing.pointer
                              and biasing in ("attention", "both")),
                 pointer_root_scale=pointer_root_scale,
                 pointer_preselect=pointer_preselect if two_pass else 0,
                 shallow_preselect=shallow_k,
                 context_score=context_score if graphs is not None else None,
                 attention_list=attention_list if att_lists is not None else None,
                 pointer_window=pointer_window if windows is not None else None,
                 preselect_min_score=preselect_min_score if ranked is not None else None,
                 pointer_rank=pointer_rank if ranked is not None else None,
                 kws_cohort=(None if ranked is None or kws_cohort is None else
                             {"utterances": len(kws_cohort), "weight": kws_cohort.weight,
                              "power": kws_cohort.power}),
                 pointer_verify=pointer_verify if verified is not None else 0,
                 verify_joint=verify_joint if verified is not None else 0,
                 verify_margin=verify_margin if verified is not None else None)
  out = {"metrics": metrics, "utterances": per_utt}
  if skipped:
    out["skipped"] = [s.to_json() for s in skipped]
    logging.warning("%d manifest line(s) skipped; they are listed under 'skipped'", len(skipped))
  return out
