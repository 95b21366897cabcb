"""Context-aware Transformer transducer (CATT) biasing, Chang et al. 2021.

* :class:`ContextEncoder`: one vector per context phrase from its wordpieces
  (a BLSTM's last forward and backward states, or a small Transformer layer
  with mean pooling), plus a learned *no-bias* vector at index 0 so that the
  model can attend to nothing.
* :class:`BiasingAttention`: multi-head cross-attention with queries from the
  audio encoder frames or the prediction network outputs and keys/values from
  the phrase vectors; padding phrases are masked.
* :class:`Combiner`: ``Dense(concat(LayerNorm(h), attn))`` back to the width of
  ``h`` (the paper's LayerNorm -> concatenation -> feed-forward), added to
  ``h`` residually so an untrained combiner starts near the plain model.

Shapes: B batch, N phrases (padded; index 0 of the encoded list is no-bias),
L wordpieces per phrase, C context width, T' frames, U labels.
"""

import dataclasses

import flax.linen as nn
import jax
import jax.numpy as jnp

NEG_INF = -1e9


@dataclasses.dataclass(frozen=True)
class BiasingConfig:
  """Attention biasing.

  Attributes:
    enabled: build the context encoder and attention at all.
    encoder: "blstm" or "transformer" phrase encoder.
    embed_dim: wordpiece embedding size of the phrase encoder.
    dim: context vector width C (BLSTM: C/2 per direction).
    num_heads: heads of each biasing attention.
    audio_queries / label_queries: which streams attend to the context.
    dropout: on attention outputs.
    pointer: add the tree-constrained pointer generator
      (:mod:`asr.biasing.pointer`) over the list's wordpieces.
    pointer_dim: its query/key width D.
  """
  enabled: bool = False
  encoder: str = "blstm"
  embed_dim: int = 64
  dim: int = 128
  num_heads: int = 4
  audio_queries: bool = True
  label_queries: bool = True
  dropout: float = 0.1
  pointer: bool = False
  pointer_dim: int = 64


class ContextEncoder(nn.Module):
  """[B, N, L] phrase tokens -> [B, N+1, C] vectors (index 0 = no-bias)."""
  cfg: BiasingConfig
  vocab_size: int

  @nn.compact
  def __call__(self, tokens, lengths):
    """tokens: [B, N, L] int; lengths: [B, N] (0 for padding phrases)."""
    c = self.cfg
    b, n, l = tokens.shape
    x = nn.Embed(self.vocab_size, c.embed_dim, name="embed")(tokens.reshape(b * n, l))
    lens = jnp.maximum(lengths.reshape(b * n), 1)
    valid = jnp.arange(l)[None] < lens[:, None]
    if c.encoder == "blstm":
      half = c.dim // 2
      fwd = nn.RNN(nn.OptimizedLSTMCell(half), name="fwd")(x, seq_lengths=lens)
      bwd = nn.RNN(nn.OptimizedLSTMCell(half), reverse=True, keep_order=True, name="bwd")(
          x, seq_lengths=lens)
      last = jnp.take_along_axis(fwd, (lens - 1)[:, None, None], axis=1)[:, 0]
      first = bwd[:, 0]
      vec = jnp.concatenate([last, first], axis=-1)
    elif c.encoder == "transformer":
      h = nn.Dense(c.dim)(x)
      y = nn.LayerNorm()(h)
      y = nn.MultiHeadDotProductAttention(c.num_heads, name="self_attn")(
          y, y, mask=valid[:, None, None, :])
      h = h + y
      h = h + nn.Dense(c.dim)(nn.gelu(nn.Dense(2 * c.dim)(nn.LayerNorm()(h))))
      vec = jnp.sum(jnp.where(valid[..., None], h, 0), 1) / lens[:, None]
    else:
      raise ValueError(f"unknown context encoder {c.encoder!r}")
    vec = nn.Dense(c.dim, name="out")(vec).reshape(b, n, c.dim)
    no_bias = self.param("no_bias", nn.initializers.normal(0.02), (c.dim,))
    return jnp.concatenate([jnp.broadcast_to(no_bias, (b, 1, c.dim)), vec], axis=1)


class BiasingAttention(nn.Module):
  """Queries [B, Q, D] attend over context [B, N+1, C] -> ([B, Q, D], weights)."""
  num_heads: int
  dim: int  # output width (the query stream's width)
  dropout: float = 0.0

  @nn.compact
  def __call__(self, queries, context, context_mask, train: bool = False):
    """context_mask: [B, N+1] bool (index 0, no-bias, always True).

    Returns (out [B, Q, dim], weights [B, heads, Q, N+1]).
    """
    h = self.num_heads
    dh = max(1, self.dim // h)
    q = nn.DenseGeneral((h, dh), name="q")(queries)
    k = nn.DenseGeneral((h, dh), name="k")(context)
    v = nn.DenseGeneral((h, dh), name="v")(context)
    logits = jnp.einsum("bqhd,bnhd->bhqn", q, k) / jnp.sqrt(dh).astype(q.dtype)
    logits = jnp.where(context_mask[:, None, None, :], logits, NEG_INF)
    w = jax.nn.softmax(logits, axis=-1)
    out = jnp.einsum("bhqn,bnhd->bqhd", w, v).reshape(queries.shape[:-1] + (h * dh,))
    out = nn.Dropout(self.dropout, deterministic=not train)(out)
    return nn.Dense(self.dim, name="o")(out), w


class Combiner(nn.Module):
  """h + Dense(concat(LayerNorm(h), attn)): [.., D] x [.., D] -> [.., D]."""

  @nn.compact
  def __call__(self, h, attn):
    d = h.shape[-1]
    y = jnp.concatenate([nn.LayerNorm()(h), attn], axis=-1)
    return h + nn.Dense(d, kernel_init=nn.initializers.zeros, name="proj")(y)


def empty_context(batch: int, max_len: int = 1):
  """A batch of empty lists (only the no-bias entry is attended)."""
  return {"tokens": jnp.zeros((batch, 1, max_len), jnp.int32),
          "lengths": jnp.zeros((batch, 1), jnp.int32)}


def context_mask(lengths):
  """[B, N] phrase lengths -> [B, N+1] mask with the no-bias entry first."""
  return jnp.concatenate([jnp.ones((lengths.shape[0], 1), bool), lengths > 0], axis=1)
