"""Beam search for transducers, batched over utterances and beams.

Two searches over the same hypothesis machinery (``max_symbols``):

* ``max_symbols = 0`` (default): modified beam search (Kang et al. 2022, as
  in icefall/k2): at most one label per frame, which moves on to the next
  frame without a blank; each hypothesis is extended by blank or by one of its
  ``beam`` best labels; identical label sequences are merged with
  log-sum-exp; the ``beam`` best survive.
* ``max_symbols >= 1``: time-synchronous decoding (Saon et al. 2020) of the
  *regular* RNN-T lattice the models are trained on. Within a frame,
  hypotheses are expanded by their ``beam`` best labels up to ``max_symbols``
  times; each leaves the frame by paying its blank log-probability, and
  hypotheses leaving with the same label sequence are merged with log-sum-exp
  (different alignments). A label expansion whose score is already below the
  ``beam``-th best leaving score is pruned (scores only fall). With an
  unbounded beam and ``max_symbols`` >= the label count, a hypothesis'
  ``logp`` is exactly log P(y | x), the negative RNN-T loss (tested).

The library default stays the modified search, which scored better on the
weaker early quickstart models (the exact search found hypotheses of higher
model probability further from the reference, a model problem, not a search
one); on the 8,000-step models the time-synchronous search is better, and
the ``small`` / ``catt_small`` configs select it (``eval.max_symbols = 3``;
BUILD.md, "Model, loss, decoding").

The frame loop runs on the host; each expansion round makes two jitted calls
over all hypotheses of all utterances (joint, then prediction network for the
extended ones), so one implementation serves offline evaluation, transcription
and streaming (``BeamSearch.advance`` accepts encoder frames as they arrive).

Shallow fusion: an optional :class:`asr.biasing.context_graph.ContextGraph` per
utterance adds its bonus to label extensions (``score``) and is refunded for
unfinished matches at the end; the N-best reports the fused score and the
acoustic (transducer) log-probability separately.

Tree-constrained pointer (``trees``, models with ``model.biasing.pointer``):
each hypothesis carries its node in its utterance's
:class:`asr.biasing.pointer.PrefixTree`; the joint rows then come from
``Transducer.pointer_logprobs`` with that node's valid next wordpieces, so the
hypothesis' ``logp`` is under the mixed distribution.
"""

import dataclasses
import functools
from typing import Any, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from asr.lm import ilm as ilm_lib
from asr.models import transducer

BLANK = transducer.BLANK_ID
# 0 = modified beam search; >= 1 = time-synchronous search with that many
# labels per frame (see the module docstring).
DEFAULT_MAX_SYMBOLS = 0


@dataclasses.dataclass
class Hyp:
  tokens: tuple[int, ...]
  score: float  # log P (acoustic) + context bonus
  logp: float  # acoustic log P only
  slot: int  # row of the prediction output/state arrays
  ctx_state: Any = None
  # Encoder frame at which each label was emitted (lattices, alignment).
  times: tuple[int, ...] = ()
  # While a frame is being expanded: the parent's slot and the new label.
  parent_slot: int = -1
  new_token: int = BLANK
  # Node of the tree-constrained pointer's prefix tree (asr.biasing.pointer).
  ptr_node: int = 0


@functools.partial(jax.jit, static_argnames=("model",))
def _joint_logprobs(model, params, enc_rows, pred_rows):
  logits = model.apply({"params": params}, enc_rows, pred_rows,
                       method=transducer.Transducer.joint)
  return jax.nn.log_softmax(logits.astype(jnp.float32), axis=-1)


@functools.partial(jax.jit, static_argnames=("model",))
def _ilm_logprobs(model, params, pred_rows):
  """Internal-LM log-probabilities [R, V] of the next label given each row's
  prediction output (asr.lm.ilm.label_logprobs); column 0 (blank) is 0."""
  lp = ilm_lib.label_logprobs(model, params, pred_rows)
  return jnp.concatenate([jnp.zeros_like(lp[:, :1]), lp], axis=1)


@functools.partial(jax.jit, static_argnames=("model",))
def _pointer_logprobs(model, params, enc_rows, pred_rows, cands, log_scale):
  return model.apply({"params": params}, enc_rows, pred_rows, cands, cands > 0, log_scale,
                     method=transducer.Transducer.pointer_logprobs)


@functools.partial(jax.jit, static_argnames=("model",))
def _predict(model, params, tokens, state, ctx=None, ctx_mask=None, owners=None):
  """Prediction step for hypothesis rows; row i attends over ctx[owners[i]]."""
  if ctx is not None:
    ctx, ctx_mask = ctx[owners], ctx_mask[owners]
  return model.apply({"params": params}, tokens, state, ctx, ctx_mask,
                     method=transducer.Transducer.predict_step)


def _bucket(n: int) -> int:
  """Pads batch sizes of the jitted calls to powers of two (few shapes)."""
  return 1 << max(0, (n - 1).bit_length())


def _take(tree, idx):
  return jax.tree_util.tree_map(lambda x: x[idx], tree)


def _add_alignment(hyps: dict, key, score: float, logp: float) -> bool:
  """If ``key`` (labels, context state) is already a hypothesis, adds this
  path's probability to it (same labels, another alignment: log-sum-exp) and
  returns True; else returns False and the caller decides whether to add it."""
  old = hyps.get(key)
  if old is None:
    return False
  old.score = float(np.logaddexp(old.score, score))
  old.logp = float(np.logaddexp(old.logp, logp))
  return True


class BeamSearch:
  """Beam search state for a batch of utterances.

  Args:
    model, params: the transducer and its parameters.
    batch: number of utterances.
    beam: hypotheses kept per utterance.
    graphs: optional per-utterance ContextGraph (or None) for shallow fusion.
    ctx, ctx_mask: optional encoded biasing context [B, N+1, C], [B, N+1] for
      attention biasing (each hypothesis attends over its utterance's list).
    label_bonus: added to the search score (not to ``logp``) for every
      non-blank label: a length reward against deletions (tune on
      validation with benchmarks.decoding; 0 = plain search).
    max_symbols: labels per frame of the time-synchronous search; 0 selects
      modified beam search (one label per frame, no blank after it).
    trees: optional per-utterance :class:`asr.biasing.pointer.PrefixTree`
      (or None) for a model with the tree-constrained pointer.
    pointer_root_scale: factor in [0, 1] on the pointer's generation
      probability where a name would *start* (the root, or a node where a
      phrase ends); 1 = as trained, 0 = the pointer only continues names
      the model began itself. Tune on validation.
    ptr_windows: optional per-utterance bool arrays over encoder frames (or
      None): where False, the pointer is off (no candidates, so the joint is
      the model's own) and shallow fusion cannot begin a phrase (a hypothesis
      at the graph's root stays there without bonus; a match begun inside a
      window goes on); windows from keyword spotting
      (:func:`asr.biasing.kws.windows`); None = no gating.
    ilm_weight: internal-LM subtraction in the search (ILME decoding, Meng
      et al. 2021): every label's search score gets ``- ilm_weight *
      log P_ILM(label | labels so far)`` (asr.lm.ilm), which discounts what
      the prediction network alone would say and leaves more of the decision
      to the audio. Not part of ``logp``; 0 = the plain search. Tune on
      validation (benchmarks.decoding --ilm_weights).
    lm: optional :class:`asr.lm.fusion.LMFusion`: external-LM shallow fusion,
      ``+ lm.weight * log P_LM(label | labels so far)`` on every label's search
      score and ``+ lm.weight * log P_LM(</s> | labels)`` on each final
      hypothesis (with ``ilm_weight``: density-ratio / ILME fusion). Not part
      of ``logp``; None = no LM.
  """

  def __init__(self, model, params, batch: int, beam: int = 4,
               graphs: Sequence[Any] | None = None, ctx=None, ctx_mask=None,
               label_bonus: float = 0.0, max_symbols: int = DEFAULT_MAX_SYMBOLS,
               trees: Sequence[Any] | None = None, pointer_root_scale: float = 1.0,
               ilm_weight: float = 0.0, ptr_windows: Sequence[Any] | None = None,
               lm=None):
    self.model, self.params, self.beam = model, params, beam
    if lm is not None and lm.model.cfg.vocab_size != model.cfg.vocab_size:
      raise ValueError(f"LM fusion: the LM has {lm.model.cfg.vocab_size} pieces, the transducer "
                       f"{model.cfg.vocab_size}: they must share the tokenizer")
    self.lm = lm
    self.ptr_windows = list(ptr_windows) if ptr_windows is not None else [None] * batch
    if len(self.ptr_windows) != batch:
      raise ValueError(f"ptr_windows: {len(self.ptr_windows)} entries for a batch of {batch}")
    self.ilm_weight = float(ilm_weight)
    if not 0.0 <= pointer_root_scale <= 1.0:
      raise ValueError(f"pointer_root_scale must be in [0, 1], got {pointer_root_scale}")
    self.root_log_scale = float(np.log(pointer_root_scale)) if pointer_root_scale > 0 else -1e9
    self.trees = list(trees) if trees is not None else None
    if self.trees is not None and not model.cfg.biasing.pointer:
      raise ValueError("trees given but the model has no pointer (model.biasing.pointer)")
    self.label_bonus = float(label_bonus)
    if max_symbols < 0:
      raise ValueError(f"max_symbols must be >= 0, got {max_symbols}")
    self.max_symbols = int(max_symbols)
    self.graphs = list(graphs) if graphs is not None else [None] * batch
    self.ctx, self.ctx_mask = ctx, ctx_mask
    # Row i of the prediction arrays belongs to utterance owner[i].
    state = model.apply({"params": params}, batch, method=transducer.Transducer.init_pred_state)
    pred, state = _predict(model, params, np.zeros(batch, np.int32), state, ctx, ctx_mask,
                           np.arange(batch))
    self.pred = np.asarray(pred)  # [S, J] rows of prediction outputs
    self.state = jax.tree_util.tree_map(np.asarray, state)
    self.owner = np.arange(batch)
    self.frame = 0  # advance() steps taken
    # Frames consumed per utterance: label times are per utterance, also when
    # concurrent streams advance at different moments.
    self.frames = np.zeros(batch, np.int64)
    self.hyps = [[Hyp((), 0.0, 0.0, i, None if g is None else g.root)]
                 for i, g in enumerate(self.graphs)]

  def advance(self, enc: np.ndarray, lengths: np.ndarray | None = None):
    """Consumes encoder frames. enc: [B, T, J] projected; lengths: valid frames [B]."""
    enc = np.asarray(enc)
    b, t, _ = enc.shape
    if lengths is None:
      lengths = np.full(b, t)
    for ti in range(t):
      active = [i for i in range(b) if ti < lengths[i]]
      if active:
        if self.max_symbols:
          self._step_sync(enc[:, ti], active)
        else:
          self._step(enc[:, ti], active)
        self.frames[active] += 1
      self.frame += 1

  def _joint_rows(self, enc_t: np.ndarray, hyps: dict[int, list[Hyp]]
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Joint log-probabilities [sum of len(hyps[i]), V] for every hypothesis
    of every utterance i in ``hyps`` (in that order) at encoder frame enc_t,
    and the search's per-label score increments (the log-probabilities minus
    ilm_weight times the internal LM's; the same array when that is 0)."""
    lp, slots = self._model_rows(enc_t, hyps)
    sc = lp
    if self.ilm_weight != 0.0:
      n = len(lp)
      ilm = np.asarray(_ilm_logprobs(self.model, self.params, self.pred[slots]))[:n]
      sc = lp - self.ilm_weight * ilm
    if self.lm is not None:
      ext = self.lm.logprobs([h.tokens for hs in hyps.values() for h in hs])
      sc = sc.copy() if sc is lp else sc
      sc[:, 1:] += self.lm.weight * ext[:, 1:sc.shape[1]]  # column 0 is </s>, not blank
    return lp, sc

  def _model_rows(self, enc_t: np.ndarray, hyps: dict[int, list[Hyp]]):
    rows, owners, nodes = [], [], []
    for i, hs in hyps.items():
      for h in hs:
        rows.append(h.slot)
        owners.append(i)
        nodes.append(h.ptr_node)
    n = len(rows)
    pad = _bucket(n)
    slots = np.array(rows + [rows[-1]] * (pad - n))
    enc_rows = enc_t[np.array(owners + [owners[-1]] * (pad - n))]
    if self.trees is None:
      return np.asarray(_joint_logprobs(self.model, self.params, enc_rows, self.pred[slots]))[:n], slots
    cl = [self.trees[i].candidates(nd) if self.trees[i] is not None and self._in_window(i)
          else np.zeros(0, np.int32) for i, nd in zip(owners, nodes)]
    k = _bucket(max(1, max(len(c) for c in cl)))
    cands = np.zeros((pad, k), np.int32)
    log_scale = np.zeros(pad, np.float32)
    for r, (c, i, nd) in enumerate(zip(cl, owners, nodes)):
      cands[r, :len(c)] = c
      if self.trees[i] is not None and (nd == 0 or self.trees[i].is_end[nd]):
        log_scale[r] = self.root_log_scale
    return np.asarray(_pointer_logprobs(self.model, self.params, enc_rows, self.pred[slots],
                                        cands, log_scale))[:n], slots

  def _in_window(self, i: int) -> bool:
    """Whether utterance i's current frame is inside its pointer window."""
    w = self.ptr_windows[i]
    if w is None:
      return True
    t = int(self.frames[i])
    return bool(w[t]) if t < len(w) else False

  def _graph_step(self, i: int, graph, state, tok: int):
    """Shallow-fusion (bonus, next state) of label ``tok`` for utterance i."""
    if graph is None or (state == graph.root and not self._in_window(i)):
      return 0.0, state
    bonus, nxt, _ = graph.forward_one_step(state, tok)
    return bonus, nxt

  def _ptr_step(self, i: int, h: Hyp, tok: int) -> int:
    if self.trees is None or self.trees[i] is None:
      return 0
    return self.trees[i].step(h.ptr_node, tok)

  def _step(self, enc_t: np.ndarray, active: list[int]):
    lp, sc = self._joint_rows(enc_t, {i: self.hyps[i] for i in active})
    k = min(self.beam, lp.shape[1] - 1)
    # Best non-blank labels per hypothesis (by search score).
    nb = sc[:, 1:]
    top = np.argpartition(-nb, k - 1, axis=1)[:, :k] + 1
    new_hyps: dict[int, dict[tuple, Hyp]] = {i: {} for i in active}
    r = 0
    for i in active:
      graph = self.graphs[i]
      cands = []
      for h in self.hyps[i]:
        row = lp[r]
        cands.append((h.score + row[BLANK], h, BLANK, h.logp + row[BLANK], h.ctx_state, 0.0))
        for tok in top[r]:
          bonus, cstate = self._graph_step(i, graph, h.ctx_state, int(tok))
          cands.append((h.score + sc[r, tok] + bonus + self.label_bonus, h, int(tok),
                        h.logp + row[tok], cstate, bonus))
        r += 1
      cands.sort(key=lambda c: -c[0])
      merged = new_hyps[i]
      for score, h, tok, logp, cstate, _ in cands[:self.beam * (k + 1)]:
        tokens = h.tokens if tok == BLANK else h.tokens + (tok,)
        key = (tokens, cstate)
        if _add_alignment(merged, key, score, logp):
          continue
        if len(merged) >= self.beam:
          continue
        merged[key] = Hyp(tokens, float(score), float(logp), h.slot if tok == BLANK else -1,
                          cstate, h.times if tok == BLANK else h.times + (int(self.frames[i]),),
                          parent_slot=h.slot, new_token=tok, ptr_node=self._ptr_step(i, h, tok))
    # Run the prediction network for hypotheses that emitted a label.
    self._extend([h for i in active for h in new_hyps[i].values() if h.slot == -1])
    for i in active:
      self.hyps[i] = sorted(new_hyps[i].values(), key=lambda h: -h.score)
    self._compact()

  def _extend(self, ext: list[Hyp]):
    """Runs the prediction network for hypotheses that just emitted a label
    (slot -1) and gives each its new row."""
    if not ext:
      return
    m = len(ext)
    pad = _bucket(m)
    parents = np.array([h.parent_slot for h in ext] + [ext[-1].parent_slot] * (pad - m))
    toks = np.array([h.new_token for h in ext] + [0] * (pad - m), np.int32)
    owners = self.owner[parents]
    pred, state = _predict(self.model, self.params, toks, _take(self.state, parents),
                           self.ctx, self.ctx_mask, owners)
    base = len(self.pred)
    self.pred = np.concatenate([self.pred, np.asarray(pred)[:m]])
    self.owner = np.concatenate([self.owner, owners[:m]])
    self.state = jax.tree_util.tree_map(lambda a, s: np.concatenate([a, np.asarray(s)[:m]]),
                                        self.state, state)
    for j, h in enumerate(ext):
      h.slot = base + j

  def _step_sync(self, enc_t: np.ndarray, active: list[int]):
    """One frame of time-synchronous search (regular lattice, <= max_symbols labels)."""
    cur = {i: self.hyps[i] for i in active}  # still in this frame
    leaving: dict[int, dict[tuple, Hyp]] = {i: {} for i in active}  # paid this frame's blank
    for sub in range(self.max_symbols + 1):
      todo = [i for i in active if cur[i]]
      if not todo:
        break
      lp, sc = self._joint_rows(enc_t, {i: cur[i] for i in todo})
      k = min(self.beam, lp.shape[1] - 1)
      expand = sub < self.max_symbols
      if expand:
        top = np.argpartition(-sc[:, 1:], k - 1, axis=1)[:, :k] + 1
      nxt: dict[int, dict[tuple, Hyp]] = {}
      r = 0
      for i in todo:
        graph = self.graphs[i]
        out = leaving[i]
        cands = []
        for h in cur[i]:
          row = lp[r]
          key = (h.tokens, h.ctx_state)
          score, logp = h.score + row[BLANK], h.logp + row[BLANK]
          if not _add_alignment(out, key, score, logp):
            out[key] = dataclasses.replace(h, score=float(score), logp=float(logp))
          if expand:
            for tok in top[r]:
              bonus, cstate = self._graph_step(i, graph, h.ctx_state, int(tok))
              cands.append((h.score + sc[r, tok] + bonus + self.label_bonus, h, int(tok),
                            h.logp + row[tok], cstate))
          r += 1
        # Leaving scores only fall from here: a label expansion below the
        # beam-th best leaving hypothesis can never enter the beam.
        floor = -np.inf
        if len(out) >= self.beam:
          floor = sorted((x.score for x in out.values()), reverse=True)[self.beam - 1]
        cands.sort(key=lambda c: -c[0])
        merged: dict[tuple, Hyp] = {}
        for score, h, tok, logp, cstate in cands:
          if score < floor:
            break
          key = (h.tokens + (tok,), cstate)
          if _add_alignment(merged, key, score, logp):
            continue
          if len(merged) >= self.beam:
            continue
          merged[key] = Hyp(h.tokens + (tok,), float(score), float(logp), -1, cstate,
                            h.times + (int(self.frames[i]),), parent_slot=h.slot, new_token=tok,
                            ptr_node=self._ptr_step(i, h, tok))
        nxt[i] = merged
      self._extend([h for i in nxt for h in nxt[i].values()])
      cur = {i: list(nxt.get(i, {}).values()) for i in active}
    for i in active:
      self.hyps[i] = sorted(leaving[i].values(), key=lambda h: -h.score)[:self.beam]
    self._compact()

  def _compact(self):
    """Keeps only the prediction rows that live hypotheses point to."""
    live = sorted({h.slot for hs in self.hyps for h in hs})
    if len(live) == len(self.pred):
      return
    remap = {s: j for j, s in enumerate(live)}
    idx = np.array(live)
    self.pred = self.pred[idx]
    self.owner = self.owner[idx]
    self.state = _take(self.state, idx)
    for hs in self.hyps:
      for h in hs:
        h.slot = remap[h.slot]

  def finalize(self) -> list[list[Hyp]]:
    """N-best per utterance, unfinished context matches refunded, best first."""
    eos = {}
    if self.lm is not None:  # log P_LM(</s> | labels) of every hypothesis, in one batch
      seqs = [h.tokens for hs in self.hyps for h in hs]
      eos = dict(zip(seqs, self.lm.logprobs(seqs)[:, 0])) if seqs else {}
    out = []
    for graph, hs in zip(self.graphs, self.hyps):
      final = []
      for h in hs:
        score = h.score
        if graph is not None:
          score += graph.finalize(h.ctx_state)
        if self.lm is not None:
          score += self.lm.weight * float(eos[h.tokens])
        final.append(dataclasses.replace(h, score=score))
      out.append(sorted(final, key=lambda h: -h.score))
    return out


def beam_search(model, params, enc, enc_lengths, beam: int = 4, graphs=None, ctx=None,
                ctx_mask=None, label_bonus: float = 0.0,
                max_symbols: int = DEFAULT_MAX_SYMBOLS, trees=None,
                pointer_root_scale: float = 1.0, ilm_weight: float = 0.0,
                ptr_windows=None, lm=None) -> list[list[Hyp]]:
  """Offline beam search over a batch of encoder outputs [B, T, J]."""
  bs = BeamSearch(model, params, enc.shape[0], beam, graphs, ctx, ctx_mask, label_bonus,
                  max_symbols, trees, pointer_root_scale, ilm_weight, ptr_windows, lm)
  bs.advance(np.asarray(enc), np.asarray(enc_lengths))
  return bs.finalize()
