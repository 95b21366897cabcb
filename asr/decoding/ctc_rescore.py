"""Second pass: rescoring the transducer's N-best with its CTC head.

Every ``small``-derived model trains an auxiliary CTC head on the encoder
(``train.ctc_weight``). Its output is conditionally independent given the
audio: it has no language model of its own, so it cannot prefer a fluent
request the audio does not support. The transducer's search, on the other
hand, fails on this corpus mostly by replacing a whole request with another
fluent one (BUILD.md, "Model, loss, decoding"): its prediction network has
memorized the template text. Rescoring the final beam with

    score(y) = transducer search score(y) + w * log P_CTC(y | x) + b * |y|

(``|y|`` the number of wordpieces; the transducer and CTC scores are both
sums over labels, and the CTC term, which only pays for labels, favours
short hypotheses without the bonus) picks, among the hypotheses the
transducer found, the one the acoustics support. This is the joint
CTC/attention decoding of hybrid models (Watanabe et al. 2017) applied as an
N-best rescoring, as WeNet's two-pass "attention rescoring" does the other
way round (CTC first pass, attention decoder second). ``log P_CTC(y | x)``
is exact: the CTC forward algorithm over the utterance's frames
(``optax.ctc_loss``), summing every alignment.

Shapes: ``logprobs`` [R, T', V] (CTC-head log-probabilities of R rows, the
frames beyond each row's length ignored), token sequences of any length.
"""

from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax

BLANK = 0
# Token sequences and rows are padded to multiples of these (fewer recompilations).
_PAD_TOKENS = 8
_PAD_ROWS = 16


@jax.jit
def _ctc_ll(logprobs, frame_pad, labels, label_pad):
  # optax normalizes its input with log_softmax; log-probabilities are a fixed point.
  return -optax.ctc_loss(logprobs, frame_pad, labels, label_pad, blank_id=BLANK)


def ctc_log_likelihoods(logprobs: np.ndarray, lengths: Sequence[int],
                        token_seqs: Sequence[Sequence[int]]) -> np.ndarray:
  """``log P_CTC(tokens_r | x_r)`` for each row r: float64 [R].

  Args:
    logprobs: [R, T', V] CTC log-probabilities (rows may share an utterance).
    lengths: [R] valid frames per row.
    token_seqs: R label sequences (no blanks); an empty one is the all-blank path.

  A sequence that cannot fit its frames (too many labels, counting a blank
  between repeats) gets about -1e5 (optax's log-zero), below any real path.
  """
  logprobs = np.asarray(logprobs, np.float32)
  r, t = logprobs.shape[:2]
  if len(lengths) != r or len(token_seqs) != r:
    raise ValueError(f"{r} rows of log-probabilities, {len(lengths)} lengths, "
                     f"{len(token_seqs)} token sequences")
  u = max([len(s) for s in token_seqs] + [1])
  u = -(-u // _PAD_TOKENS) * _PAD_TOKENS
  rp = -(-r // _PAD_ROWS) * _PAD_ROWS  # padding rows: all frames masked, no labels
  labels = np.zeros((rp, u), np.int32)
  label_pad = np.ones((rp, u), np.float32)
  for i, s in enumerate(token_seqs):
    if any(int(x) == BLANK for x in s):
      raise ValueError(f"row {i}: token sequence contains the blank id {BLANK}")
    labels[i, :len(s)] = s
    label_pad[i, :len(s)] = 0.0
  lens = np.zeros(rp, np.int64)
  lens[:r] = np.asarray(lengths)
  frame_pad = (np.arange(t)[None, :] >= lens[:, None]).astype(np.float32)
  lp = np.zeros((rp,) + logprobs.shape[1:], np.float32)
  lp[:r] = logprobs
  ll = _ctc_ll(jnp.asarray(lp), jnp.asarray(frame_pad), jnp.asarray(labels), jnp.asarray(label_pad))
  return np.asarray(ll, np.float64)[:r]


def combined_scores(search_scores: Sequence[float], ctc_ll: Sequence[float],
                    num_tokens: Sequence[int], weight: float, length_bonus: float) -> np.ndarray:
  """The second-pass score of each hypothesis: search + weight * CTC + bonus * |y|."""
  return (np.asarray(search_scores, np.float64) + weight * np.asarray(ctc_ll, np.float64)
          + length_bonus * np.asarray(num_tokens, np.float64))


def nbest_ctc_scores(logprobs: np.ndarray, lengths: Sequence[int],
                     nbests: Sequence[Sequence[Sequence[int]]]) -> list[np.ndarray]:
  """Per-utterance CTC log-likelihoods of its N-best.

  Args:
    logprobs: [B, T', V] one row per utterance; lengths [B].
    nbests: per utterance, its hypotheses' token sequences.
  Returns: B arrays, one log-likelihood per hypothesis.
  """
  rows = [(b, s) for b, hs in enumerate(nbests) for s in hs]
  if not rows:
    return [np.zeros(0) for _ in nbests]
  idx = np.array([b for b, _ in rows])
  ll = ctc_log_likelihoods(np.asarray(logprobs)[idx], np.asarray(lengths)[idx],
                           [s for _, s in rows])
  out, k = [], 0
  for hs in nbests:
    out.append(ll[k:k + len(hs)])
    k += len(hs)
  return out


def select(nbest_scores: Sequence[np.ndarray], nbest_ctc: Sequence[np.ndarray],
           nbest_lengths: Sequence[Sequence[int]], weight: float,
           length_bonus: float) -> list[int]:
  """Index of the best hypothesis of each utterance under the combined score
  (ties: the earlier, i.e. the first pass's order); an empty N-best gives -1."""
  out = []
  for sc, ll, n in zip(nbest_scores, nbest_ctc, nbest_lengths):
    if len(sc) == 0:
      out.append(-1)
      continue
    out.append(int(np.argmax(combined_scores(sc, ll, n, weight, length_bonus))))
  return out


def tune(nbest_scores: Sequence[np.ndarray], nbest_ctc: Sequence[np.ndarray],
         nbest_lengths: Sequence[Sequence[int]], nbest_errors: Sequence[Sequence[int]],
         weights: Sequence[float], bonuses: Sequence[float]) -> dict:
  """Grid search of (weight, length bonus) minimizing the word errors of the
  selected hypotheses (``nbest_errors``: per utterance, each hypothesis'
  errors against the reference). Ties go to the smallest weight, then the
  bonus closest to 0. Returns {"weight", "length_bonus", "errors", "grid"}."""
  grid = []
  for w in weights:
    for b in bonuses:
      picks = select(nbest_scores, nbest_ctc, nbest_lengths, w, b)
      errs = sum(int(e[p]) for e, p in zip(nbest_errors, picks) if p >= 0)
      grid.append({"weight": float(w), "length_bonus": float(b), "errors": errs})
  best = min(grid, key=lambda g: (g["errors"], g["weight"], abs(g["length_bonus"])))
  return {"weight": best["weight"], "length_bonus": best["length_bonus"],
          "errors": best["errors"], "grid": grid}
