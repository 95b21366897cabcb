"""Second-pass (cloud) rescoring of word lattices with the Transformer LM.

Each lattice path (:meth:`asr.decoding.lattice.Lattice.paths`) gets

  total = first_pass + lm_weight * log P_LM(words) + length_bonus * num_words
          [- ilm_weight * log P_ILM(words)]

where ``first_pass`` is the path's on-device score (acoustic log-prob plus the
shallow-fusion bonus when biasing was on), ``log P_LM`` the LM's log
probability of the sentence with its end (nats) and, optionally,
``log P_ILM`` the transducer's internal LM estimate (:mod:`asr.lm.ilm`),
subtracted so that the prediction network's own language model is not counted
twice. The weights are chosen by grid search on the validation split
(:func:`tune`: fewest word errors; ties -> the smallest weights, then the
bonus closest to 0) and then applied unchanged to the test splits.
"""

import dataclasses
import json
import os
from typing import Iterable, Sequence

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import orbax.checkpoint as ocp

from asr.data import tokenizer as tokenizer_lib
from asr.decoding import lattice as lattice_lib
from asr.lm import model as model_lib


class LanguageModel:
  """A trained LM workdir: ``score(texts)`` -> log P(sentence) per text (nats)."""

  def __init__(self, model: model_lib.TransformerLM, params, tokenizer, batch_size: int = 128):
    self.model, self.params, self.tokenizer = model, params, tokenizer
    self.batch_size = batch_size
    self.max_len = model.cfg.max_len
    self._cache: dict[str, float] = {}
    self._eos_cache: dict[str, float] = {}
    self.num_truncated = 0
    self._fn = jax.jit(lambda p, i, t: model_lib.token_logprobs(model, p, i, t))

  @classmethod
  def from_workdir(cls, workdir: str, step: int | None = None, **kw) -> "LanguageModel":
    from asr.lm import train as train_lib  # pylint: disable=g-import-not-at-top
    with open(os.path.join(workdir, train_lib.CONFIG_FILE)) as f:
      config = ml_collections.ConfigDict(json.load(f))
    tok = tokenizer_lib.Tokenizer(os.path.join(workdir, train_lib.TOKENIZER_FILE))
    model = model_lib.TransformerLM(train_lib.model_config(config, tok.vocab_size))
    params = model.init(jax.random.PRNGKey(0), jnp.zeros((1, 8), jnp.int32))["params"]
    tx, _ = train_lib.make_optimizer(config.train)
    from asr.training import state as state_lib  # pylint: disable=g-import-not-at-top
    target = state_lib.TrainState(step=jnp.zeros((), jnp.int32), params=params,
                                  opt_state=tx.init(params))
    mngr = ocp.CheckpointManager(os.path.abspath(os.path.join(workdir, "checkpoints")))
    step = mngr.latest_step() if step is None else step
    if step is None:
      raise FileNotFoundError(f"{workdir}/checkpoints holds no LM checkpoint: train one with "
                              "`python -m launch.train_lm`")
    state = mngr.restore(step, args=ocp.args.StandardRestore(target))
    return cls(model, state.params, tok, **kw)

  def _cached(self, texts: Sequence[str], cache: dict, reduce) -> np.ndarray:
    """Per text ``reduce(token log-probs [L], n)`` (n = its pieces, </s> at
    position n), computed once per text in length-sorted batches (cached);
    sentences beyond max_len are cut and counted in ``num_truncated``."""
    # Sorted by length: batches of similar lengths pad little.
    todo = sorted({t for t in texts if t not in cache}, key=lambda t: (len(t), t))
    for i in range(0, len(todo), self.batch_size):
      chunk = todo[i:i + self.batch_size]
      seqs = [self.tokenizer.encode(t) for t in chunk]
      self.num_truncated += sum(len(s) > self.max_len - 1 for s in seqs)
      seqs = [s[:self.max_len - 1] for s in seqs]
      # Pad to the chunk's longest sentence, rounded up to 16 (few jit shapes).
      length = min(self.max_len, -(-(max(map(len, seqs)) + 1) // 16) * 16)
      b = model_lib.make_batch(seqs + [[]] * (self.batch_size - len(seqs)), length)
      lp = np.asarray(self._fn(self.params, b["inputs"], b["targets"]))
      for j, (t, s) in enumerate(zip(chunk, seqs)):
        cache[t] = float(reduce(lp[j], len(s)))
    return np.array([cache[t] for t in texts], np.float64)

  def score(self, texts: Sequence[str]) -> np.ndarray:
    """log P(text </s>) in nats for each text (cached; sentences beyond max_len are cut)."""
    return self._cached(texts, self._cache, lambda lp, n: lp[:n + 1].sum())

  def eos_logprob(self, texts: Sequence[str]) -> np.ndarray:
    """log P(</s> | text) in nats for each text: how complete the LM finds a
    partial transcript (cached; used by the end-pointer's completion gate)."""
    return self._cached(texts, self._eos_cache, lambda lp, n: lp[n])


def entity_mentions(utts, nbests) -> dict:
  """How many of the references' entity phrases (the utterance's own
  ``context`` phrases that occur in its transcript) the 1-best and any N-best
  hypothesis contain word for word: what a second pass that knows the user's
  names could at most recover (a name missing from the N-best is lost)."""
  total = in_one = in_any = 0
  for u, nb in zip(utts, nbests):
    hyps = [f" {' '.join(h['text'].split())} " for h in nb]
    for phrase in u.context:
      if f" {phrase} " not in f" {u.text} ":
        continue
      total += 1
      in_one += bool(hyps) and f" {phrase} " in hyps[0]
      in_any += any(f" {phrase} " in h for h in hyps)
  return {"total": total, "in_one_best": int(in_one), "in_nbest": int(in_any)}


def edit_distance(ref: Sequence[str], hyp: Sequence[str]) -> int:
  """Word-level Levenshtein distance."""
  prev = list(range(len(hyp) + 1))
  for i, r in enumerate(ref, 1):
    cur = [i] + [0] * len(hyp)
    for j, h in enumerate(hyp, 1):
      cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h))
    prev = cur
  return prev[-1]


@dataclasses.dataclass
class Candidates:
  """One utterance's rescoring input: its lattice paths and their scores."""
  words: list[tuple[str, ...]]
  first_pass: np.ndarray  # [P] on-device path scores (acoustic + biasing)
  lm: np.ndarray  # [P] LM log-probs
  ilm: np.ndarray | None = None  # [P] internal-LM log-probs of the transducer (optional)

  @classmethod
  def from_lattice(cls, lat: lattice_lib.Lattice, lm: LanguageModel,
                   ilm: dict[str, float] | None = None) -> "Candidates":
    """``ilm``: optional text -> internal-LM log-prob (:func:`asr.lm.ilm.ilm_scores`)."""
    paths = lat.paths()
    return cls([p.words for p in paths], np.array([p.score for p in paths], np.float64),
               lm.score([p.text for p in paths]) if paths else np.zeros(0),
               None if ilm is None else np.array([ilm[p.text] for p in paths], np.float64))

  def totals(self, lm_weight: float, length_bonus: float = 0.0, ilm_weight: float = 0.0) -> np.ndarray:
    lengths = np.array([len(w) for w in self.words], np.float64)
    total = self.first_pass + lm_weight * self.lm + length_bonus * lengths
    if ilm_weight:
      if self.ilm is None:
        raise ValueError("ilm_weight != 0 needs internal-LM scores (Candidates.ilm)")
      total = total - ilm_weight * self.ilm
    return total

  def best(self, lm_weight: float, length_bonus: float = 0.0,
           ilm_weight: float = 0.0) -> tuple[str, ...]:
    """The highest-scoring path after rescoring (() for an empty lattice)."""
    if not self.words:
      return ()
    return self.words[int(np.argmax(self.totals(lm_weight, length_bonus, ilm_weight)))]


def rescore_lattice(lat: lattice_lib.Lattice, lm: LanguageModel, lm_weight: float,
                    length_bonus: float = 0.0) -> str:
  """The rescored best transcript of one lattice."""
  return " ".join(Candidates.from_lattice(lat, lm).best(lm_weight, length_bonus))


def total_errors(cands: Sequence[Candidates], refs: Sequence[str], lm_weight: float,
                 length_bonus: float = 0.0) -> int:
  return sum(edit_distance(r.split(), c.best(lm_weight, length_bonus)) for c, r in zip(cands, refs))


def tune(cands: Sequence[Candidates], refs: Sequence[str], weights: Iterable[float],
         bonuses: Iterable[float] = (0.0,), ilm_weights: Iterable[float] = (0.0,)) -> dict:
  """Grid search of (lm_weight, length_bonus, ilm_weight) for the fewest word errors.

  Ties keep the smaller LM weight, then the smaller ILM weight, then the bonus
  closest to 0. Returns {"lm_weight", "length_bonus", "ilm_weight", "errors",
  "num_words", "grid": [[lm_weight, length_bonus, ilm_weight, errors]]}.
  """
  weights, ilm_weights = sorted(weights), sorted(ilm_weights)
  bonuses = sorted(bonuses, key=lambda b: (abs(b), b))
  # Errors of every path, once; each grid point is then an argmax per utterance.
  errs = [np.array([edit_distance(r.split(), w) for w in c.words]) for c, r in zip(cands, refs)]
  grid, best = [], None
  for w in weights:
    for a in ilm_weights:
      for b in bonuses:
        e = int(sum(er[np.argmax(c.totals(w, b, a))] if len(c.words) else len(r.split())
                    for c, er, r in zip(cands, errs, refs)))
        grid.append([w, b, a, e])
        if best is None or e < best[3]:  # strict: ties keep the earlier (smaller) setting
          best = (w, b, a, e)
  return {"lm_weight": best[0], "length_bonus": best[1], "ilm_weight": best[2], "errors": best[3],
          "num_words": sum(len(r.split()) for r in refs), "grid": grid}


@dataclasses.dataclass
class NbestComponents:
  """One utterance's N-best with the on-device scores kept apart, so that the
  cloud can re-weight the device's CTC second pass together with the LM
  (:func:`tune_joint`):

    total = search + ctc_weight * ctc + ctc_bonus * tokens
            + lm_weight * lm + length_bonus * words
  """
  words: list[tuple[str, ...]]
  search: np.ndarray  # [P] transducer beam-search scores
  ctc: np.ndarray  # [P] CTC log-likelihoods log P_CTC(y | x)
  tokens: np.ndarray  # [P] wordpieces
  lm: np.ndarray  # [P] LM log-probs

  @classmethod
  def from_nbest(cls, nbest: Sequence[dict], lm: LanguageModel, ctc_weight: float,
                 ctc_bonus: float) -> "NbestComponents":
    """``nbest``: evaluate.decode_utterances entries of a CTC-rescored beam
    (``score`` = search + ctc_weight * ctc + ctc_bonus * tokens, ``ctc``,
    ``tokens``); the search score is recovered from them."""
    if nbest and "ctc" not in nbest[0]:
      raise ValueError("N-best entries carry no 'ctc' score: decode with ctc_rescore_weight > 0")
    ctc = np.array([h["ctc"] for h in nbest], np.float64)
    tokens = np.array([len(h["tokens"]) for h in nbest], np.float64)
    score = np.array([h["score"] for h in nbest], np.float64)
    texts = [h["text"] for h in nbest]
    return cls([tuple(t.split()) for t in texts], score - ctc_weight * ctc - ctc_bonus * tokens,
               ctc, tokens, lm.score(texts) if texts else np.zeros(0))

  def totals(self, ctc_weight: float, ctc_bonus: float, lm_weight: float,
             length_bonus: float) -> np.ndarray:
    lengths = np.array([len(w) for w in self.words], np.float64)
    return (self.search + ctc_weight * self.ctc + ctc_bonus * self.tokens
            + lm_weight * self.lm + length_bonus * lengths)

  def best(self, ctc_weight: float, ctc_bonus: float, lm_weight: float = 0.0,
           length_bonus: float = 0.0) -> tuple[str, ...]:
    if not self.words:
      return ()
    return self.words[int(np.argmax(self.totals(ctc_weight, ctc_bonus, lm_weight,
                                                length_bonus)))]


def tune_joint(cands: Sequence[NbestComponents], refs: Sequence[str],
               ctc_weights: Iterable[float], ctc_bonuses: Iterable[float],
               lm_weights: Iterable[float] = (0.0,),
               length_bonuses: Iterable[float] = (0.0,)) -> dict:
  """Grid search of (ctc_weight, ctc_bonus, lm_weight, length_bonus) for the
  fewest word errors over N-best lists. Ties keep the smaller LM weight, then
  the smaller CTC weight, then the bonuses closest to 0. Returns
  {"ctc_weight", "ctc_bonus", "lm_weight", "length_bonus", "errors",
  "num_words"}."""
  n = max((len(c.words) for c in cands), default=0)
  u = len(cands)
  comp = np.zeros((5, u, max(n, 1)))
  errs = np.zeros((u, max(n, 1)))
  valid = np.zeros((u, max(n, 1)), bool)
  empty_errs = 0
  for i, (c, r) in enumerate(zip(cands, refs)):
    p = len(c.words)
    if not p:
      empty_errs += len(r.split())
      continue
    comp[:, i, :p] = [c.search, c.ctc, c.tokens, c.lm, [len(w) for w in c.words]]
    errs[i, :p] = [edit_distance(r.split(), w) for w in c.words]
    valid[i, :p] = True
  has = valid.any(1)
  best = None
  by_abs = lambda xs: sorted(xs, key=lambda b: (abs(b), b))
  for lw in sorted(lm_weights):
    for cw in sorted(ctc_weights):
      for cb in by_abs(ctc_bonuses):
        for lb in by_abs(length_bonuses):
          tot = comp[0] + cw * comp[1] + cb * comp[2] + lw * comp[3] + lb * comp[4]
          tot = np.where(valid, tot, -np.inf)
          pick = np.argmax(tot, axis=1)
          e = int(errs[np.arange(u), pick][has].sum()) + empty_errs
          if best is None or e < best[4]:  # strict: ties keep the earlier setting
            best = (cw, cb, lw, lb, e)
  return {"ctc_weight": best[0], "ctc_bonus": best[1], "lm_weight": best[2],
          "length_bonus": best[3], "errors": best[4],
          "num_words": sum(len(r.split()) for r in refs)}
