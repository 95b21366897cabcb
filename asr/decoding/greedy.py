"""Batched greedy transducer decoding under jit (``lax.scan`` over frames).

At each encoder frame the decoder emits the arg-max label and advances the
prediction network, up to ``max_symbols`` labels per frame, until it picks the
blank. Emissions are written to a fixed [B, T' * max_symbols] buffer
(``-1`` = empty) and compacted on the host.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np

from asr.models import transducer

BLANK = transducer.BLANK_ID


@functools.partial(jax.jit, static_argnames=("model", "max_symbols"))
def greedy_search(model: transducer.Transducer, params, enc, enc_lengths, max_symbols: int = 3,
                  ctx=None, ctx_mask=None):
  """enc: [B, T', J] projected encoder output; returns tokens [B, T'*max_symbols].

  ``ctx``/``ctx_mask``: encoded biasing context [B, N+1, C] / [B, N+1] for a
  CATT model (the prediction network attends over it). ``model`` must be
  hashable (flax modules are).
  """
  b, t, _ = enc.shape
  apply = lambda method, *a: model.apply({"params": params}, *a, method=method)
  step = lambda tok, st: apply(transducer.Transducer.predict_step, tok, st, ctx, ctx_mask)
  state0 = apply(transducer.Transducer.init_pred_state, b)
  pred0, state0 = step(jnp.zeros((b,), jnp.int32), state0)

  def frame(carry, xs):
    pred, state = carry
    enc_t, ti = xs
    alive = ti < enc_lengths  # [B]
    out = []
    for _ in range(max_symbols):
      logits = apply(transducer.Transducer.joint, enc_t, pred)
      k = jnp.argmax(logits, axis=-1).astype(jnp.int32)
      emit = alive & (k != BLANK)
      new_pred, new_state = step(k, state)
      pred = jnp.where(emit[:, None], new_pred, pred)
      state = jax.tree_util.tree_map(
          lambda n, o: jnp.where(emit.reshape((-1,) + (1,) * (n.ndim - 1)), n, o), new_state, state)
      out.append(jnp.where(emit, k, -1))
      alive = emit  # a blank ends this frame
    return (pred, state), jnp.stack(out, axis=1)

  _, toks = jax.lax.scan(frame, (pred0, state0), (jnp.swapaxes(enc, 0, 1), jnp.arange(t)))
  return jnp.swapaxes(toks, 0, 1).reshape(b, t * max_symbols)


def compact(tokens: np.ndarray) -> list[list[int]]:
  """[B, N] with -1 holes -> list of token-id lists."""
  tokens = np.asarray(tokens)
  return [[int(x) for x in row if x >= 0] for row in tokens]


def compact_times(tokens: np.ndarray, max_symbols: int = 3) -> list[list[int]]:
  """Encoder frame of each token that :func:`compact` keeps, from the
  [B, T' * max_symbols] layout of :func:`greedy_search`."""
  tokens = np.asarray(tokens)
  return [[int(i) // max_symbols for i in np.flatnonzero(row >= 0)] for row in tokens]
