"""Tree-constrained pointer generator (TCPGen) for the transducer.

Sun, Zhang & Woodland (2021, 2022), "Tree-constrained pointer generator for
end-to-end contextual speech recognition": the biasing list is a prefix tree
of wordpieces; at every lattice node ``(t, u)`` the tree node reached by the
labels ``y_1..y_u`` gives the *valid next wordpieces* (the candidates); a
pointer distribution over them and a generation probability ``g`` are mixed
into the transducer's output:

    P(blank)  = P_mdl(blank)
    P(v)      = (1 - g) P_mdl(v) + g (1 - P_mdl(blank)) P_ptr(v),   v != blank

which sums to one whatever ``g``. Unlike one phrase vector per name (CATT),
the pointer works on the name's own wordpieces: once the first piece of an
unseen name is chosen, the tree usually leaves one valid continuation, which
the pointer can copy with probability ~1 against the prediction network's
prior for the names it was trained on.

Pointer scores for candidate ``k`` with token ``c_k``:
``s_k = z(c_k) + q(h) . key(c_k) / sqrt(D)``, with ``h = tanh(enc + pred)``
the joint's hidden state, ``z`` the joint's own logits (so an untrained
pointer is the model's distribution renormalized over the valid tokens) and
``key`` a learned wordpiece embedding. ``g = sigmoid(w.h + w'.E_ptr[key] +
b)``, started near 0 (``b`` = -3) so a warm-started model begins as itself.
With no valid candidate (empty list, or a node with no continuation) ``g`` is
0 exactly.

Tree walking (:class:`PrefixTree`): a label that continues the current
match moves to that child; any other label restarts at the root's child for
that token if there is one (phrases start with word-initial pieces), else at
the root. Candidates are the node's children, plus the root's children at the
root and at nodes where a phrase ends (another name may follow).

Shapes: B batch, t frames (a time chunk in the fused loss), U1 = U+1 label
positions, K candidates (padded; ``cand_mask``), V vocabulary, J joint
width, D pointer width.
"""

from __future__ import annotations

import math
from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

NEG = -1e9
ROOT = 0


class PrefixTree:
  """Prefix tree over the token sequences of a biasing list (host side)."""

  def __init__(self, phrases: Sequence[Sequence[int]]):
    self.children: list[dict[int, int]] = [{}]
    self.is_end: list[bool] = [False]
    for p in phrases:
      node = ROOT
      for tok in p:
        tok = int(tok)
        if tok <= 0:
          raise ValueError(f"phrase token ids must be > 0 (0 is blank), got {list(p)}")
        nxt = self.children[node].get(tok)
        if nxt is None:
          nxt = len(self.children)
          self.children[node][tok] = nxt
          self.children.append({})
          self.is_end.append(False)
        node = nxt
      if node != ROOT:
        self.is_end[node] = True
    self._cands: dict[int, np.ndarray] = {}

  @property
  def num_nodes(self) -> int:
    return len(self.children)

  def candidates(self, node: int) -> np.ndarray:
    """Valid next tokens at ``node`` (int32, no duplicates, children first)."""
    c = self._cands.get(node)
    if c is None:
      toks = list(self.children[node])
      if node != ROOT and self.is_end[node]:
        toks += [t for t in self.children[ROOT] if t not in self.children[node]]
      c = self._cands[node] = np.array(toks, np.int32)
    return c

  def step(self, node: int, token: int) -> int:
    """Node after emitting ``token`` (blank keeps the node)."""
    if token == 0:
      return node
    nxt = self.children[node].get(int(token))
    if nxt is not None:
      return nxt
    return self.children[ROOT].get(int(token), ROOT)

  def walk(self, tokens: Sequence[int]) -> list[int]:
    """Nodes after each prefix: [node(y_1..y_u) for u = 0..len(tokens)]."""
    nodes = [ROOT]
    for tok in tokens:
      nodes.append(self.step(nodes[-1], tok))
    return nodes


def trees_for_lists(lists: Sequence[Sequence[str]], encode_fn) -> list["PrefixTree | None"]:
  """Per-utterance prefix trees of text phrases (normalized, then encoded
  with ``encode_fn``, e.g. ``PhraseTokens.ids``); None for an empty list."""
  from asr.data.text import normalize_transcript  # pylint: disable=g-import-not-at-top
  out = []
  for lst in lists:
    ids = [encode_fn(t) for t in (normalize_transcript(p) for p in lst) if t]
    ids = [x for x in ids if x]
    out.append(PrefixTree(ids) if ids else None)
  return out


RANK_METHODS = ("phonetic", "spelling")


def phonetic_key(text: str) -> str:
  """A crude sounds-alike key for ranking names against a first-pass guess:
  lower case, common digraphs and soft/hard letters merged (ph -> f, ck/q/hard
  c -> k, soft c/z -> s, x -> ks, th -> t, dh -> d, gh -> g, sch -> sh), h
  after a consonant and repeated letters dropped, y -> i. "Katharina" and
  "catarina", "Philipp" and "filip" get the same key."""
  import re  # pylint: disable=g-import-not-at-top
  s = text.lower()
  for a, b in (("ph", "f"), ("ck", "k"), ("qu", "kw"), ("q", "k"), ("x", "ks"), ("z", "s"),
               ("th", "t"), ("dh", "d"), ("gh", "g"), ("sch", "sh"), ("tch", "ch")):
    s = s.replace(a, b)
  s = re.sub(r"c(?=[eiy])", "s", s).replace("c", "k")
  s = re.sub(r"(?<=[^aeiou\s])h", "", s).replace("y", "i")
  return re.sub(r"(.)\1+", r"\1", s)


def rank_phrases(hypotheses: str | Sequence[str], phrases: Sequence[str],
                 method: str = "phonetic") -> list[str]:
  """Phrases by similarity to first-pass hypotheses, best first.

  A phrase of k words scores the best ``difflib`` ratio between it and any
  k-word window of any of ``hypotheses`` (one text or the first pass's
  N-best), compared as :func:`phonetic_key` s (``method="phonetic"``) or as
  spelled (``"spelling"``); ties keep list order. Used to preselect the
  pointer's tree from a long list (``pointer_preselect`` in
  :mod:`asr.evaluation.evaluate`): the pointer discriminates well among a
  few names and badly among 100 (BUILD.md, "Context biasing"). On 400
  validation requests with 100 distractors (the quickstart's ``small``, beam
  4) the true name is among the top 8 for 41 % of names by spelling against
  the 1-best, 52 % by sound against the 4-best.
  """
  import difflib  # pylint: disable=g-import-not-at-top
  if method not in RANK_METHODS:
    raise ValueError(f"method must be one of {RANK_METHODS}, got {method!r}")
  key = phonetic_key if method == "phonetic" else (lambda t: t)
  hyps = [hypotheses] if isinstance(hypotheses, str) else list(hypotheses) or [""]
  hyp_words = [h.split() for h in hyps]
  windows: dict[int, list[str]] = {}  # k -> keys of every k-word window (once per k)

  def score(p: str) -> float:
    k = len(p.split())
    if k not in windows:
      windows[k] = [key(" ".join(w[s:s + k])) for w in hyp_words
                    for s in range(max(1, len(w) - k + 1))]
    pk = key(p)
    return max(difflib.SequenceMatcher(None, w, pk).ratio() for w in windows[k])

  scores = [score(p) for p in phrases]
  order = sorted(range(len(phrases)), key=lambda i: -scores[i])
  return [phrases[i] for i in order]


def training_arrays(labels: Sequence[Sequence[int]], lists: Sequence[Sequence[Sequence[int]]],
                    max_labels: int, max_cands: int) -> dict:
  """Per-position candidates and pointer targets for a batch.

  Args:
    labels: per utterance its label ids y_1..y_U.
    lists: per utterance its biasing phrases as token-id lists.
    max_labels: U of the padded batch (arrays get U+1 positions).
    max_cands: K; nodes with more candidates keep the target and the first
      others (counted in ``ptr_truncated``).
  Returns dict: ``ptr_cands`` int32 [B, U+1, K] (0 = padding),
  ``ptr_target`` int32 [B, U+1] (index of y_{u+1} among the candidates at u,
  -1 if it is not one of them or u = U), ``ptr_truncated`` (int, positions cut).
  """
  b = len(labels)
  cands = np.zeros((b, max_labels + 1, max_cands), np.int32)
  target = np.full((b, max_labels + 1), -1, np.int32)
  truncated = 0
  for i, (lab, lst) in enumerate(zip(labels, lists)):
    if not lst:
      continue
    tree = PrefixTree(lst)
    lab = [int(x) for x in lab][:max_labels]
    nodes = tree.walk(lab)
    for u, node in enumerate(nodes):
      c = tree.candidates(node)
      nxt = lab[u] if u < len(lab) else None
      if len(c) > max_cands:
        truncated += 1
        keep = list(c[:max_cands])
        if nxt is not None and nxt in c and nxt not in keep:
          keep[-1] = nxt
        c = np.array(keep, np.int32)
      cands[i, u, :len(c)] = c
      if nxt is not None:
        hit = np.nonzero(c == nxt)[0]
        if len(hit):
          target[i, u] = hit[0]
  return {"ptr_cands": cands, "ptr_target": target, "ptr_truncated": truncated}


def log1mexp(x):
  """log(1 - exp(x)) for x <= 0, stable at both ends."""
  x = jnp.minimum(x, -1e-7)
  return jnp.where(x > -math.log(2.0), jnp.log(-jnp.expm1(x)), jnp.log1p(-jnp.exp(x)))


class TreePointer(nn.Module):
  """Pointer over tree candidates and generation gate (module docstring)."""
  dim: int
  vocab_size: int
  gate_bias_init: float = -3.0

  def setup(self):
    self.embed = nn.Embed(self.vocab_size, self.dim,
                          embedding_init=nn.initializers.normal(0.02), name="embed")
    self.key_proj = nn.Dense(self.dim, name="key")
    self.query = nn.Dense(self.dim, name="query")
    self.gate_h = nn.Dense(1, kernel_init=nn.initializers.zeros,
                           bias_init=nn.initializers.constant(self.gate_bias_init), name="gate_h")
    self.gate_c = nn.Dense(1, use_bias=False, kernel_init=nn.initializers.zeros, name="gate_c")

  def keys(self, cands):
    """cands [..., K] -> keys [..., K, D]."""
    return self.key_proj(self.embed(cands))

  def __call__(self, hidden, logits, cands, cand_mask):
    """Pointer log-probabilities and gate logit.

    Args:
      hidden: [B, t, U1, J] joint hidden state tanh(enc + pred).
      logits: [B, t, U1, V] the joint's logits.
      cands: [B, U1, K] candidate tokens; cand_mask: [B, U1, K] bool.
    Returns:
      (ptr_logp [B, t, U1, K] log-softmax over valid candidates,
       gate_logit [B, t, U1]).
    """
    keys = self.keys(cands)  # [B, U1, K, D]
    q = self.query(hidden)  # [B, t, U1, D]
    s = jnp.einsum("btud,bukd->btuk", q, keys) / math.sqrt(self.dim)
    idx = jnp.broadcast_to(cands[:, None], logits.shape[:-1] + cands.shape[-1:])
    s = s + jnp.take_along_axis(logits, idx, axis=-1)
    s = jnp.where(cand_mask[:, None], s, NEG)
    logp = jax.nn.log_softmax(s.astype(jnp.float32), axis=-1)
    ctxv = jnp.einsum("btuk,bukd->btud", jnp.exp(logp) * cand_mask[:, None], keys)
    gate = self.gate_h(hidden)[..., 0] + self.gate_c(ctxv)[..., 0]
    return logp, gate


def mix_label_logprobs(blank_lp, label_lp, ptr_lp, gate_logit, has_cands, log_scale=None):
  """Mixed log P of non-blank labels (module docstring); any matching shapes.

  blank_lp: the model's log P(blank); label_lp: its log P(v); ptr_lp: log
  P_ptr(v) (<= NEG/2 where v is not a candidate); has_cands: bool, False
  forces g = 0; log_scale: optional log of a decoding-time factor on g
  (g' = scale * g, scale in [0, 1]; ``pointer_root_scale``).
  """
  if log_scale is None:
    log_g, log_1mg = jax.nn.log_sigmoid(gate_logit), jax.nn.log_sigmoid(-gate_logit)
  else:
    log_g = jax.nn.log_sigmoid(gate_logit) + log_scale
    log_1mg = jnp.where(log_scale == 0, jax.nn.log_sigmoid(-gate_logit), log1mexp(log_g))
  a = log_1mg + label_lp
  b = log_g + log1mexp(blank_lp) + ptr_lp
  mixed = jnp.where(ptr_lp > NEG / 2, jnp.logaddexp(a, b), a)
  return jnp.where(has_cands, mixed, label_lp)


def full_logprobs(logp, ptr_logp, gate_logit, cands, cand_mask, log_scale=None):
  """Mixed distribution over the vocabulary (decoding).

  logp [n, V] model log-probs; ptr_logp [n, K]; gate_logit [n]; cands/mask
  [n, K]; log_scale: optional [n] log gate factors (mix_label_logprobs).
  Returns [n, V] log-probs (sums to one per row).
  """
  n, v = logp.shape
  p = jnp.where(cand_mask, jnp.exp(ptr_logp), 0.0)
  ptr_v = jnp.zeros((n, v), jnp.float32).at[jnp.arange(n)[:, None], cands].add(p)
  ptr_v_lp = jnp.where(ptr_v > 0, jnp.log(jnp.maximum(ptr_v, 1e-30)), NEG)
  has = jnp.any(cand_mask, axis=-1)[:, None]
  mixed = mix_label_logprobs(logp[:, :1], logp, ptr_v_lp, gate_logit[:, None], has,
                             None if log_scale is None else log_scale[:, None])
  return mixed.at[:, 0].set(logp[:, 0])
