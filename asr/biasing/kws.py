"""CTC keyword spotting: how strongly the audio itself says each phrase.

Used to preselect a long biasing list before the tree-constrained pointer
decodes (``pointer_rank="ctc"`` in :mod:`asr.evaluation.evaluate`): the
pointer discriminates well among a few names and badly among 100, and ranking
the list by text similarity to a first-pass transcript throws away everything
the first pass did not write down. The CTC head on the (unbiased) encoder
gives per-frame wordpiece posteriors; a phrase scores the log posterior ratio
of the best path that says it against the best path at all:

  score(phrase) = max over frame segments [s, e] and CTC alignments a of the
                  phrase's wordpieces to [s, e] of
                  sum_{t in [s, e]} (log p_t(a_t) - max_v log p_t(v))

which is <= 0, and 0 when the greedy CTC path contains the phrase. Frames
outside the segment are "garbage": they follow the greedy path and cost
nothing. This is a Viterbi search over the states (y1, blank, y2, ..., yL) of
the phrase's CTC topology without its outer blanks (an outer blank is never
better than garbage), entered at y1 on any frame and left after yL on any
frame. It runs on the host in numpy, vectorized over phrases with a loop over
the utterance's encoder frames (T' ~ 30-60 at 80 ms): list sizes and phrase
lengths vary per utterance, and the pass costs 0.02-0.04 s per utterance for
100-1,000 phrases. Ranked per wordpiece, it puts the spoken name in the top 3
for 64-69 % of names at N = 100 (text similarity to a first pass: 30-35 %);
``benchmarks.preselect``, BUILD.md "Context biasing".

Cohort normalization (:class:`Cohort`). Raw keyword scores are not comparable
across phrases: a short, common-sounding name ("simo", "lino") finds a
cheap segment in almost any utterance and outranks the spoken name in list
after list (a "hub"). As in score normalization for keyword spotting and
speaker verification (Z-/T-norm), each phrase's score is calibrated against
what it scores on background audio that does not say it: a fixed cohort of
training utterances, scored once per phrase and cached, so a device would do
it once per contact list. The ranking key becomes

  score / L^power - weight * mean_{cohort c} score_c / L^power

(L = the phrase's wordpieces). On 300 validation requests of
``catt_pointer_medium_mid`` (cohort of 60 training utterances, weight 0.75,
power 0.5, chosen there) the spoken name's top-3 recall rose from 68 to 83 %
at N = 100 and from 36 to 65 % at N = 1,000 (``benchmarks.preselect
--kws_cohort=0,60``).
"""

from typing import Sequence

import numpy as np

NEG = -1e30
# Cohort calibration defaults (chosen on catt_pointer_medium_mid's validation;
# module docstring): share of the cohort mean subtracted, length exponent.
COHORT_WEIGHT = 0.75
COHORT_POWER = 0.5


def phrase_scores(logp: np.ndarray, tokens: np.ndarray, lengths: np.ndarray,
                  blank_id: int = 0, return_segments: bool = False):
  """Best-segment CTC log posterior ratio of each phrase (module docstring).

  Args:
    logp: [T, V] per-frame log-probabilities of the CTC head (one utterance,
      valid frames only).
    tokens: [N, L] int phrase wordpieces, padded (any pad value).
    lengths: [N] wordpieces per phrase; a phrase of length 0 scores NEG.
    return_segments: also return each phrase's best segment.
  Returns:
    [N] float64 scores, <= 0 (NEG where the phrase cannot fit in T frames);
    with ``return_segments`` also [N, 2] int (first, last) frame of the best
    path's segment ((-1, -1) where the score is NEG).
  """
  logp = np.asarray(logp, np.float64)
  tokens = np.asarray(tokens)
  lengths = np.asarray(lengths)
  if logp.ndim != 2 or tokens.ndim != 2 or lengths.shape != tokens.shape[:1]:
    raise ValueError(f"logp must be [T, V], tokens [N, L], lengths [N]; got {logp.shape}, "
                     f"{tokens.shape}, {lengths.shape}")
  n, l = tokens.shape
  out = np.full(n, NEG)
  seg = np.full((n, 2), -1, np.int64)
  if n == 0 or l == 0 or logp.shape[0] == 0:
    return (out, seg) if return_segments else out
  rel = logp - logp.max(axis=-1, keepdims=True)  # [T, V], <= 0
  tokens = np.where(np.arange(l)[None, :] < lengths[:, None], tokens, blank_id)  # pads: any value
  s = 2 * l - 1
  ext = np.full((n, s), blank_id, np.int64)
  ext[:, 0::2] = tokens
  skip = np.zeros((n, s), bool)  # y_{k-1} -> y_k directly (different pieces)
  skip[:, 2::2] = tokens[:, 1:] != tokens[:, :-1]
  valid = np.arange(s)[None, :] < (2 * lengths - 1)[:, None]
  end = np.maximum(2 * lengths - 2, 0)
  rows = np.arange(n)
  alpha = np.full((n, s), NEG)
  start = np.zeros((n, s), np.int64)  # first frame of the best path into each state
  for t in range(rel.shape[0]):
    a, st = alpha.copy(), start.copy()
    b = alpha[:, :-1] > a[:, 1:]
    a[:, 1:] = np.where(b, alpha[:, :-1], a[:, 1:])
    st[:, 1:] = np.where(b, start[:, :-1], st[:, 1:])
    b = skip[:, 2:] & (alpha[:, :-2] > a[:, 2:])
    a[:, 2:] = np.where(b, alpha[:, :-2], a[:, 2:])
    st[:, 2:] = np.where(b, start[:, :-2], st[:, 2:])
    b = a[:, 0] < 0.0  # enter from garbage (cumulative 0) at this frame
    a[:, 0] = np.where(b, 0.0, a[:, 0])
    st[:, 0] = np.where(b, t, st[:, 0])
    alpha, start = np.where(valid, a + rel[t][ext], NEG), st
    b = alpha[rows, end] > out
    out = np.where(b, alpha[rows, end], out)
    seg[b] = np.stack([start[rows, end], np.full(n, t)], axis=1)[b]
  bad = (lengths <= 0) | (out <= NEG)
  out[bad], seg[bad] = NEG, -1
  out = np.maximum(out, NEG)
  return (out, seg) if return_segments else out


def _pad(ids: Sequence[Sequence[int]]) -> tuple[np.ndarray, np.ndarray]:
  """Wordpiece id lists -> tokens [N, L] (zero-padded), lengths [N]."""
  lengths = np.array([len(x) for x in ids], np.int64)
  tokens = np.zeros((len(ids), max(1, int(lengths.max(initial=0)))), np.int64)
  for i, x in enumerate(ids):
    tokens[i, :len(x)] = x
  return tokens, lengths


class Cohort:
  """Per-phrase score prior from background utterances (module docstring).

  Args:
    logps: CTC-head log-probabilities [T_c, V] of the cohort utterances
      (training audio; none of them should be the one being ranked).
    weight: how much of the cohort mean is subtracted (0: no calibration).
    power: the score is divided by L^power (L = wordpieces) before both the
      cohort mean and the subtraction.
  """

  def __init__(self, logps: Sequence[np.ndarray], weight: float = COHORT_WEIGHT,
               power: float = COHORT_POWER, blank_id: int = 0):
    if not len(logps):
      raise ValueError("a keyword-spotting cohort needs at least one utterance")
    self.logps = [np.asarray(lp) for lp in logps]
    self.weight, self.power, self.blank_id = float(weight), float(power), blank_id
    self._prior: dict[tuple[int, ...], float] = {}

  def __len__(self) -> int:
    return len(self.logps)

  def prior(self, ids: Sequence[Sequence[int]]) -> np.ndarray:
    """[N] mean over the cohort of each phrase's score / L^power (cached)."""
    keys = [tuple(int(t) for t in x) for x in ids]
    new = sorted({k for k in keys if k not in self._prior and k})
    if new:
      tokens, lengths = _pad(new)
      total, count = np.zeros(len(new)), np.zeros(len(new))
      for lp in self.logps:
        sc = phrase_scores(lp, tokens, lengths, self.blank_id)
        fits = sc > NEG  # a phrase too long for an utterance leaves it out of its mean
        total += np.where(fits, sc, 0.0)
        count += fits
      mean = np.where(count > 0, total / np.maximum(count, 1), 0.0)
      self._prior.update(zip(new, (mean / lengths.astype(np.float64) ** self.power).tolist()))
    return np.array([self._prior.get(k, 0.0) for k in keys])

  def calibrate(self, scores: np.ndarray, ids: Sequence[Sequence[int]]) -> np.ndarray:
    """[N] ranking keys of raw :func:`phrase_scores` ``scores`` [N]."""
    lengths = np.maximum(np.array([len(x) for x in ids], np.float64), 1.0)
    return scores / lengths ** self.power - self.weight * self.prior(ids)


def rank_phrases(logp: np.ndarray, phrases: Sequence[str], encode_fn,
                 normalize: bool = False, blank_id: int = 0,
                 min_score: float | None = None, return_segments: bool = False,
                 cohort: Cohort | None = None) -> list:
  """``phrases`` by :func:`phrase_scores` on ``logp`` [T, V], best first;
  ``encode_fn`` maps a phrase to its wordpiece ids; ``normalize`` divides each
  score by the phrase's wordpiece count; phrases scoring below ``min_score``
  (after normalization) are left out. With a ``cohort`` the order follows its
  calibrated keys instead (:meth:`Cohort.calibrate`); ``min_score`` still
  gates the (normalized) raw score, the acoustic evidence itself. Ties keep
  list order. With ``return_segments``: (phrase, (first frame, last frame))
  pairs."""
  if not phrases:
    return []
  ids = [list(encode_fn(p)) for p in phrases]
  tokens, lengths = _pad(ids)
  scores, seg = phrase_scores(logp, tokens, lengths, blank_id, return_segments=True)
  gate = scores / np.maximum(lengths, 1) if normalize else scores
  key = gate if cohort is None else cohort.calibrate(scores, ids)
  order = sorted(range(len(phrases)), key=lambda i: -key[i])
  if min_score is not None:
    order = [i for i in order if gate[i] >= min_score]
  if return_segments:
    return [(phrases[i], (int(seg[i, 0]), int(seg[i, 1]))) for i in order]
  return [phrases[i] for i in order]


def windows(segments: Sequence[tuple[int, int]], num_frames: int, slack: int) -> np.ndarray:
  """[num_frames] bool: frames in [first - slack, last + slack] of any segment
  (where a gated pointer may act); segments (-1, -1) are ignored."""
  w = np.zeros(num_frames, bool)
  for s, e in segments:
    if s >= 0:
      w[max(0, s - slack):min(num_frames, e + slack + 1)] = True
  return w


def recall_at(ranked: Sequence[Sequence[str]], lists_own: Sequence[Sequence[str]],
              ks: Sequence[int]) -> dict:
  """ranked: per-utterance ranked phrases; lists_own: per-utterance true
  phrases. Returns {"names", "recall": {str(K): share in the top K}, "mrr"}
  (a true phrase missing from its ranking is never in a top K)."""
  ranks = []
  for r, own in zip(ranked, lists_own):
    pos = {p: i for i, p in enumerate(r)}
    ranks += [pos.get(p, np.inf) for p in own]
  ranks = np.array(ranks, np.float64)
  if not len(ranks):
    return {"names": 0, "recall": {str(k): None for k in ks}, "mrr": None}
  return {"names": int(len(ranks)), "recall": {str(k): float(np.mean(ranks < k)) for k in ks},
          "mrr": float(np.mean(1.0 / (ranks + 1)))}
