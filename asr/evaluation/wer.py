"""Word error rate with the biased / unbiased split of Le et al. (2021).

"Contextualized streaming end-to-end speech recognition with trie-based deep
biasing and shallow fusion" reports, besides WER, U-WER on words outside the
utterance's biasing list and B-WER on words inside it. The biasing word set is
the set of words of the (normalized) context phrases. After a minimum edit
distance alignment of reference and hypothesis words:

* a substitution or deletion is biased iff its *reference* word is in the set;
* an insertion is biased iff the *inserted hypothesis* word is in the set
  (the convention of Le et al. and icefall: hallucinating a biasing word is a
  biasing error even though there is no reference word to attribute it to);
* U-WER = unbiased errors / reference words not in the set,
  B-WER = biased errors / reference words in the set, WER = all errors / all
  reference words, so the U and B errors add up to the WER errors.

References, hypotheses and context phrases are all compared in the form of
:func:`asr.data.text.normalize_transcript`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence

import jiwer

from asr.data.text import normalize_transcript


@dataclasses.dataclass(frozen=True, slots=True)
class UtteranceScore:
    """Error counts of one utterance (or a sum of utterances), split by biasing."""

    n_words: int
    n_biased: int
    u_sub: int = 0
    u_del: int = 0
    u_ins: int = 0
    b_sub: int = 0
    b_del: int = 0
    b_ins: int = 0

    @property
    def n_unbiased(self) -> int:
        return self.n_words - self.n_biased

    @property
    def u_errors(self) -> int:
        return self.u_sub + self.u_del + self.u_ins

    @property
    def b_errors(self) -> int:
        return self.b_sub + self.b_del + self.b_ins

    @property
    def errors(self) -> int:
        return self.u_errors + self.b_errors

    @property
    def substitutions(self) -> int:
        return self.u_sub + self.b_sub

    @property
    def deletions(self) -> int:
        return self.u_del + self.b_del

    @property
    def insertions(self) -> int:
        return self.u_ins + self.b_ins

    def __add__(self, other: UtteranceScore) -> UtteranceScore:
        return UtteranceScore(*(a + b for a, b in zip(dataclasses.astuple(self), dataclasses.astuple(other))))


def biasing_words(context: Iterable[str]) -> set[str]:
    """Set of normalized words of the context phrases."""
    return {w for phrase in context for w in normalize_transcript(phrase).split()}


def _align(ref: str, hyp: str):
    """Normalized reference and hypothesis words and jiwer's alignment chunks
    between them (None for an empty reference, which older jiwer rejects)."""
    ref_words = normalize_transcript(ref).split()
    hyp_words = normalize_transcript(hyp).split()
    if not ref_words:
        return ref_words, hyp_words, None
    return ref_words, hyp_words, jiwer.process_words(" ".join(ref_words), " ".join(hyp_words)).alignments[0]


def score_utterance(ref: str, hyp: str, context: Sequence[str] = ()) -> UtteranceScore:
    """Aligns normalized ``ref`` and ``hyp`` and counts errors, split by the biasing list."""
    ref_words, hyp_words, chunks = _align(ref, hyp)
    biased = biasing_words(context)
    counts = dict.fromkeys(("u_sub", "u_del", "u_ins", "b_sub", "b_del", "b_ins"), 0)

    if not ref_words:
        # Older jiwer versions raise on empty references; all hyp words are insertions.
        for w in hyp_words:
            counts["b_ins" if w in biased else "u_ins"] += 1
    else:
        for chunk in chunks:
            if chunk.type == "equal":
                continue
            if chunk.type == "insert":
                for w in hyp_words[chunk.hyp_start_idx : chunk.hyp_end_idx]:
                    counts["b_ins" if w in biased else "u_ins"] += 1
                continue
            kind = {"substitute": "sub", "delete": "del"}[chunk.type]
            for w in ref_words[chunk.ref_start_idx : chunk.ref_end_idx]:
                counts[("b_" if w in biased else "u_") + kind] += 1

    return UtteranceScore(
        n_words=len(ref_words),
        n_biased=sum(w in biased for w in ref_words),
        **counts,
    )


POSITIONS = ("first", "middle", "last")


def position_of(index: int, n_words: int) -> str:
    """Where reference word ``index`` of ``n_words`` sits: "first" (index 0,
    also the only word of a one-word reference), "last" (index n - 1 of a
    longer one) or "middle"."""
    if index <= 0:
        return "first"
    return "last" if index >= n_words - 1 else "middle"


def errors_by_position(ref: str, hyp: str) -> dict[str, list[int]]:
    """Word errors of one utterance by where they fall in the reference.

    Returns {"first" | "middle" | "last": [errors, reference words]}. After the
    same alignment as :func:`score_utterance` (so the three error counts add up
    to its total), a substitution or deletion counts at its reference word; an
    insertion at the reference word it precedes, or at the last word when it
    follows the whole reference (with an empty reference, at "first"). The
    edges of a request are where a router that skips silence cheaply can cut
    into speech (``benchmarks/branching.py``)."""
    ref_words, hyp_words, chunks = _align(ref, hyp)
    n = len(ref_words)
    out = {k: [0, 0] for k in POSITIONS}
    for i in range(n):
        out[position_of(i, n)][1] += 1
    if not ref_words:
        out["first"][0] += len(hyp_words)
        return out
    for chunk in chunks:
        if chunk.type == "equal":
            continue
        if chunk.type == "insert":
            at = min(chunk.ref_start_idx, n - 1)
            out[position_of(at, n)][0] += chunk.hyp_end_idx - chunk.hyp_start_idx
            continue
        for i in range(chunk.ref_start_idx, chunk.ref_end_idx):
            out[position_of(i, n)][0] += 1
    return out


def sum_by_position(per_utterance: Iterable[dict[str, list[int]]]) -> dict[str, list[int]]:
    """Sums :func:`errors_by_position` over utterances: {position: [errors, words]}."""
    out = {k: [0, 0] for k in POSITIONS}
    for d in per_utterance:
        for k in POSITIONS:
            out[k][0] += d[k][0]
            out[k][1] += d[k][1]
    return out


def _rate(errors: int, words: int) -> float | None:
    return errors / words if words else None


def aggregate(scores: Iterable[UtteranceScore]) -> dict[str, float | int | None]:
    """Corpus-level rates from summed counts (not averaged per-utterance rates).

    A rate whose denominator is zero (``b_wer`` without biased reference words,
    and likewise ``u_wer`` and ``wer``) is None rather than 0 or inf, even if
    there are insertions, so an empty subset is never reported as a score.
    """
    total = UtteranceScore(0, 0)
    num_utterances = 0
    for s in scores:
        total += s
        num_utterances += 1
    return {
        "wer": _rate(total.errors, total.n_words),
        "u_wer": _rate(total.u_errors, total.n_unbiased),
        "b_wer": _rate(total.b_errors, total.n_biased),
        "num_words": total.n_words,
        "num_biased_words": total.n_biased,
        "substitutions": total.substitutions,
        "deletions": total.deletions,
        "insertions": total.insertions,
        "num_utterances": num_utterances,
    }


def corpus_wer(refs: Sequence[str], hyps: Sequence[str]) -> float | None:
    """Corpus WER of normalized transcripts; None when there are no reference words."""
    if len(refs) != len(hyps):
        raise ValueError(f"got {len(refs)} references and {len(hyps)} hypotheses")
    return aggregate(score_utterance(r, h) for r, h in zip(refs, hyps))["wer"]


def paired_bootstrap(errors_a: Sequence[int], errors_b: Sequence[int], words: Sequence[int],
                     num_samples: int = 2000, seed: int = 0) -> dict[str, float]:
  """Paired bootstrap over utterances (Bisani & Ney 2004) of system B's
  relative WER change against system A on the same utterances.

  Args:
    errors_a, errors_b: word errors per utterance of A and B, [N] each.
    words: reference words per utterance, [N].
    num_samples: bootstrap resamples (utterances drawn with replacement).
    seed: resampling seed (the result is a function of the inputs and seed).

  Returns:
    {"rel_change": (WER_B - WER_A) / WER_A on all utterances, "ci_low",
    "ci_high": its 2.5 and 97.5 percentiles over resamples, "p_b_better":
    the share of resamples in which B has fewer errors than A}.
  """
  import numpy as np  # pylint: disable=g-import-not-at-top
  a, b, n = (np.asarray(x, np.float64) for x in (errors_a, errors_b, words))
  if not (a.shape == b.shape == n.shape) or a.ndim != 1 or len(a) == 0:
    raise ValueError(f"paired_bootstrap: need equal non-empty 1-D inputs, got shapes "
                     f"{a.shape}, {b.shape}, {n.shape}")
  if a.sum() <= 0:
    raise ValueError("paired_bootstrap: system A makes no errors; the relative change is undefined")
  idx = np.random.default_rng(seed).integers(0, len(a), size=(num_samples, len(a)))
  ea, eb = a[idx].sum(1), b[idx].sum(1)
  rel = (eb - ea) / np.maximum(ea, 1e-9)
  return {"rel_change": float((b.sum() - a.sum()) / a.sum()),
          "ci_low": float(np.percentile(rel, 2.5)), "ci_high": float(np.percentile(rel, 97.5)),
          "p_b_better": float(np.mean(eb < ea))}


def errors_by_id(utterances) -> dict:
  """{utterance id: (word errors, reference words)} of ``evaluate_utterances``'
  per-utterance results: the input of :func:`paired_bootstrap_by_id`."""
  return {u["id"]: (u["errors"], u["num_words"]) for u in utterances}


def paired_bootstrap_by_id(base: dict, other: dict, **kw) -> dict | None:
  """:func:`paired_bootstrap` of ``other`` against ``base`` over the utterance
  ids both hold ({id: (errors, words)}, :func:`errors_by_id`); None when the
  base makes no errors there (the relative change is undefined)."""
  ids = sorted(set(base) & set(other))
  if not sum(base[i][0] for i in ids):
    return None
  return paired_bootstrap([base[i][0] for i in ids], [other[i][0] for i in ids],
                          [base[i][1] for i in ids], **kw)
