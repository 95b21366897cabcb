"""External-LM shallow fusion in the first-pass beam search (on device).

The beam search (:class:`asr.decoding.beam.BeamSearch`) scores each label
extension ``y`` of a hypothesis with prefix ``h`` by

  log P_RNNT(y | x, h) - ilm_weight * log P_ILM(y | h) + lm_weight * log P_LM(y | h)

and adds ``lm_weight * log P_LM(</s> | h)`` to every final hypothesis: the
density-ratio / ILME fusion of Meng et al. 2021 ("Internal language model
estimation for domain-adaptive end-to-end speech recognition"), which in the
second pass :mod:`asr.lm.rescore` applies to the N-best only. Here the LM
steers the search itself, so hypotheses the transducer alone would prune can
survive. Why it matters on this corpus: the prediction network memorizes the
~8,000 training requests (its internal-LM perplexity per piece is ~5 on
training text and ~19 on validation text for ``small``), while the external
LM, trained on the training transcripts plus grammar samples, is at ~7 on
validation text (BUILD.md, "Lattices and cloud rescoring").

The LM (:class:`asr.lm.model.TransformerLM`) shares the recognizer's pieces
(its id 0 is ``<s>``/``</s>``, the transducer's blank). Next-piece
distributions are computed per distinct label prefix and cached, in batches
padded to powers of two (few jit shapes); a prefix longer than the LM's
context keeps its last ``max_len - 1`` pieces.
"""

import copy
from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from asr.lm import model as model_lib


def _bucket(n: int, lo: int = 1) -> int:
  return max(lo, 1 << max(0, (n - 1).bit_length()))


class LMFusion:
  """Next-piece log-probabilities of an LM for label prefixes, and a weight.

  Args:
    model, params: a :class:`asr.lm.model.TransformerLM` and its parameters.
    weight: ``lm_weight`` above (> 0).
  """

  MAX_CACHE = 100_000  # cached prefixes (~1 KB each at 256 pieces); cleared beyond

  def __init__(self, model: model_lib.TransformerLM, params, weight: float):
    if weight <= 0:
      raise ValueError(f"LM fusion weight must be > 0, got {weight}")
    self.model, self.params, self.weight = model, params, float(weight)
    self.max_len = model.cfg.max_len
    self._cache: dict[tuple[int, ...], np.ndarray] = {}

    def next_lp(p, inputs, pos):
      logits = model.apply({"params": p}, inputs, train=False)  # [R, L, V]
      rows = logits[jnp.arange(inputs.shape[0]), pos]  # [R, V]
      return jax.nn.log_softmax(rows, axis=-1)

    self._fn = jax.jit(next_lp)

  def with_weight(self, weight: float) -> "LMFusion":
    """The same LM (compiled function and prefix cache shared) at another weight."""
    if weight <= 0:
      raise ValueError(f"LM fusion weight must be > 0, got {weight}")
    other = copy.copy(self)
    other.weight = float(weight)
    return other

  @classmethod
  def from_workdir(cls, workdir: str, weight: float) -> "LMFusion":
    """The LM of a ``launch.train_lm`` workdir."""
    from asr.lm import rescore  # pylint: disable=g-import-not-at-top
    lm = rescore.LanguageModel.from_workdir(workdir)
    return cls(lm.model, lm.params, weight)

  def logprobs(self, prefixes: Sequence[tuple[int, ...]]) -> np.ndarray:
    """log P_LM(v | <s> prefix) [R, V] for each prefix (column 0: ``</s>``)."""
    if len(self._cache) > self.MAX_CACHE:
      self._cache.clear()
    todo = list({p for p in prefixes if p not in self._cache})
    todo.sort(key=len)
    # Batches of similar lengths, each padded to a power of two in rows and columns.
    i = 0
    while i < len(todo):
      chunk = todo[i:i + 256]
      i += len(chunk)
      seqs = [p[-(self.max_len - 1):] for p in chunk]
      length = min(self.max_len, _bucket(max(len(s) for s in seqs) + 1, 8))
      rows = _bucket(len(seqs), 8)
      inputs = np.zeros((rows, length), np.int32)
      pos = np.zeros(rows, np.int32)
      for j, s in enumerate(seqs):
        inputs[j, 1:len(s) + 1] = s  # column 0 = <s>
        pos[j] = len(s)
      lp = np.asarray(self._fn(self.params, inputs, pos))
      for j, p in enumerate(chunk):
        self._cache[p] = lp[j]
    return np.stack([self._cache[p] for p in prefixes]) if prefixes else np.zeros((0, 0))

  def sentence_logprob(self, tokens: Sequence[int]) -> float:
    """log P_LM(tokens </s>) by the chain rule over the cached prefixes (tests, checks)."""
    tokens = tuple(int(t) for t in tokens)
    prefixes = [tokens[:k] for k in range(len(tokens) + 1)]
    lp = self.logprobs(prefixes)
    nxt = list(tokens) + [model_lib.EOS]
    return float(sum(lp[k, nxt[k]] for k in range(len(nxt))))
