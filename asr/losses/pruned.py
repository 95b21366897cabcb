"""Pruned RNN-T loss (Kuang et al. 2022, "Pruned RNN-T for fast, memory-efficient ASR training").

The full joint network runs on every lattice node ``(t, u)``: ``B * T * (U+1)``
evaluations of a ``J x V`` output layer, the largest cost of a small
transducer's training step (and its memory at large vocabularies). The pruned
loss evaluates it on a band of ``S`` columns per frame only:

1. **Simple loss.** A "trivial joint" ``logits(t, u) = am[t] + lm[u]`` from
   linear projections of the encoder (``am [B, T, V]``) and prediction
   network (``lm [B, U+1, V]``) outputs. Its log-softmax normalizer is a
   matrix product, ``logsumexp_v(am[t, v] + lm[u, v]) = log(exp(am[t]) @
   exp(lm[u]))`` (shifted by the maxima), so the whole lattice costs
   ``T * (U+1) * V`` multiply-adds and never a ``[B, T, U+1, V]`` tensor.
   It is an RNN-T loss in its own right (:func:`simple_loss`) and is trained
   alongside (``simple_scale``), so its alignments track the real model's.
2. **Bounds.** From the simple lattice's node occupancies (posterior
   probability that the alignment passes through ``(t, u)``), frame ``t``
   keeps the ``S`` consecutive columns ``[s_t, s_t + S)`` of largest
   occupancy, adjusted so that the band is a connected lattice: ``s_0 = 0``,
   ``s_t`` non-decreasing, ``s_{t+1} - s_t <= S - 1`` (the highest column of a
   frame can still step to the next frame) and the final node ``(T_b - 1,
   U_b)`` inside (:func:`prune_ranges`).
3. **Pruned loss.** The real joint on ``[B, T, S]`` nodes only; the band's
   blank and label log-probabilities are placed in ``[B, T, U+1]`` lattices
   that are ``-inf`` outside it, and the exact RNN-T forward-backward of
   :mod:`asr.losses.rnnt` runs on those (``T * (U+1)`` scalars: cheap).

With ``S >= U + 1`` the band is the whole lattice and the pruned loss equals
the full one exactly (tested). A regular lattice only: a frame can emit at
most ``S - 1`` labels inside the band.
"""

from typing import Callable

import jax
import jax.numpy as jnp
from jax import lax

from asr.losses import rnnt


def _simple_arc_logprobs(am, lm, labels, label_lengths, blank_id=0):
    """Blank and next-label log-probs ``[B, T, U+1]`` of the trivial joint.

    Args:
      am: ``[B, T, V]`` encoder-side logits; lm: ``[B, U+1, V]`` label side.
      labels: ``[B, U]``; label_lengths: ``[B]``.
    """
    am = am.astype(jnp.float32)
    lm = lm.astype(jnp.float32)
    am_max = lax.stop_gradient(jnp.max(am, axis=-1, keepdims=True))  # [B, T, 1]
    lm_max = lax.stop_gradient(jnp.max(lm, axis=-1, keepdims=True))  # [B, U+1, 1]
    # sum_v exp(am[t, v] + lm[u, v]) = exp(am_max + lm_max) * (e_am @ e_lm^T)
    norm = jnp.einsum("btv,buv->btu", jnp.exp(am - am_max), jnp.exp(lm - lm_max))
    norm = jnp.log(norm + 1e-30) + am_max + jnp.swapaxes(lm_max, 1, 2)  # [B, T, U+1]
    nxt = rnnt._next_labels(labels, label_lengths, am.shape[-1])  # [B, U+1]
    blank = am[..., blank_id][:, :, None] + lm[..., blank_id][:, None, :] - norm
    am_lab = jnp.take_along_axis(am, jnp.broadcast_to(nxt[:, None, :], norm.shape), axis=2)
    lm_lab = jnp.take_along_axis(lm, nxt[..., None], axis=2)[..., 0]  # [B, U+1]
    label = am_lab + lm_lab[:, None, :] - norm
    return blank, label


def simple_loss(am, lm, labels, logit_lengths, label_lengths, blank_id=0):
    """RNN-T NLL ``[B]`` of the trivial joint ``am[t] + lm[u]``, plus the
    node occupancies ``[B, T, U+1]`` (no gradient) that :func:`prune_ranges`
    reads."""
    label_lengths = jnp.asarray(label_lengths, jnp.int32)
    logit_lengths = jnp.asarray(logit_lengths, jnp.int32)
    blank, label = _simple_arc_logprobs(am, lm, labels, label_lengths, blank_id)
    loss_fn = lambda b, l: rnnt.rnnt_loss_from_logprobs(b, l, logit_lengths, label_lengths)
    nll, vjp = jax.vjp(loss_fn, blank, label)
    g_blank, g_label = vjp(jnp.ones_like(nll))
    # -d(-log P)/d arc = arc posterior; a node's occupancy is the sum of the
    # posteriors of the arcs leaving it.
    occupancy = lax.stop_gradient(-(g_blank + g_label))
    return nll, occupancy


def prune_ranges(occupancy, logit_lengths, label_lengths, s_range: int):
    """Band start ``s [B, T]`` int32: frame ``t`` keeps columns ``[s_t, s_t + S)``.

    Picks the window of largest occupancy per frame, then makes the band a
    connected lattice holding the start and final nodes (module docstring).
    """
    b, t, cols = occupancy.shape
    s_range = min(s_range, cols)
    csum = jnp.concatenate([jnp.zeros((b, t, 1)), jnp.cumsum(occupancy, axis=-1)], axis=-1)
    window = csum[..., s_range:] - csum[..., :-s_range]  # [B, T, cols - S + 1]
    s = jnp.argmax(window, axis=-1).astype(jnp.int32)
    t_idx = jnp.arange(t)[None, :]
    last = jnp.maximum(label_lengths[:, None] - s_range + 1, 0)  # band holding column U_b
    s = jnp.minimum(s, last)
    s = jnp.where(t_idx >= logit_lengths[:, None] - 1, last, s)  # final node (and padding)
    # From s_0 = 0 the band can climb at most S - 1 columns per frame.
    step = max(s_range - 1, 1)
    s = jnp.minimum(s, step * t_idx)
    # Non-decreasing: s_t = min over t' >= t (keeps s_0 = 0 and the end).
    s = lax.cummin(s, axis=1, reverse=True)
    # s_{t+1} - s_t <= S - 1: g_t = s_t - (S - 1) t must not increase.
    # Raising s_t to max over t' >= t of s_t' - (S - 1)(t' - t) keeps the
    # cap above, so s_0 stays 0 whenever U_b <= (S - 1)(T_b - 1) + S - 1.
    g = s - step * t_idx
    g = lax.cummax(g, axis=1, reverse=True)
    s = g + step * t_idx
    return jnp.where(t_idx == 0, 0, s).astype(jnp.int32)


def _band_to_lattice(x, s, num_cols, fill):
    """``[B, T, S]`` values at columns ``s_t + k`` -> ``[B, T, num_cols]``."""
    b, t, width = x.shape
    cols = s[..., None] + jnp.arange(width)  # [B, T, S]
    out = jnp.full((b, t, num_cols + width), fill, x.dtype)  # room for overhang
    bi = jnp.arange(b)[:, None, None]
    ti = jnp.arange(t)[None, :, None]
    out = out.at[bi, ti, cols].set(x)
    return out[..., :num_cols]


def pruned_loss(encoder_out, predictor_out, joint_fn: Callable, labels, logit_lengths,
                label_lengths, ranges, s_range: int, blank_id=0, fastemit_lambda=0.0):
    """RNN-T NLL ``[B]`` with the joint evaluated inside the band only.

    Args:
      encoder_out: ``[B, T, D]``; predictor_out: ``[B, U+1, D']`` (projected).
      joint_fn: ``(enc [B, T, 1, D], pred [B, T, S, D']) -> [B, T, S, V]``
        logits; may close over parameters.
      labels: ``[B, U]``; logit_lengths, label_lengths: ``[B]``.
      ranges: ``[B, T]`` band starts from :func:`prune_ranges` (same s_range).
      s_range: band width ``S`` (capped at ``U + 1``).
      fastemit_lambda: as in :func:`asr.losses.rnnt.rnnt_loss`.
    """
    b, t, _ = encoder_out.shape
    cols = predictor_out.shape[1]
    width = min(s_range, cols)
    label_lengths = jnp.asarray(label_lengths, jnp.int32)
    logit_lengths = jnp.asarray(logit_lengths, jnp.int32)
    idx = jnp.clip(ranges[..., None] + jnp.arange(width), 0, cols - 1)  # [B, T, S]
    pred = jnp.take_along_axis(predictor_out[:, None], idx[..., None], axis=2)  # [B, T, S, D']
    logits = joint_fn(encoder_out[:, :, None], pred)
    logp = jax.nn.log_softmax(logits.astype(jnp.float32), axis=-1)
    nxt = rnnt._next_labels(labels, label_lengths, logits.shape[-1])  # [B, U+1]
    nxt_band = jnp.take_along_axis(jnp.broadcast_to(nxt[:, None], (b, t, cols)), idx, axis=2)
    blank = logp[..., blank_id]
    label = jnp.take_along_axis(logp, nxt_band[..., None], axis=-1)[..., 0]
    blank = _band_to_lattice(blank, ranges, cols, rnnt.NEG)
    label = _band_to_lattice(label, ranges, cols, rnnt.NEG)
    label = rnnt.fastemit(label, fastemit_lambda)
    return rnnt.rnnt_loss_from_logprobs(blank, label, logit_lengths, label_lengths)


def pruned_rnnt_loss(encoder_out, predictor_out, am, lm, joint_fn: Callable, labels,
                     logit_lengths, label_lengths, s_range: int = 5, blank_id=0,
                     fastemit_lambda=0.0):
    """Simple loss, bounds and pruned loss in one call (module docstring).

    Args:
      encoder_out, predictor_out, joint_fn: as in :func:`pruned_loss`.
      am: ``[B, T, V]``, lm: ``[B, U+1, V]`` trivial-joint logits.
    Returns:
      (pruned NLL ``[B]``, simple NLL ``[B]``); train on
      ``pruned + simple_scale * simple``.
    """
    label_lengths = jnp.asarray(label_lengths, jnp.int32)
    logit_lengths = jnp.asarray(logit_lengths, jnp.int32)
    simple, occupancy = simple_loss(am, lm, labels, logit_lengths, label_lengths, blank_id)
    ranges = prune_ranges(occupancy, logit_lengths, label_lengths, s_range)
    pruned = pruned_loss(encoder_out, predictor_out, joint_fn, labels, logit_lengths,
                         label_lengths, ranges, s_range, blank_id, fastemit_lambda)
    return pruned, simple
