"""Streaming Conformer / Transformer audio encoder.

Convolutional subsampling (x4, optionally x8 by stacking frame pairs), then
blocks of rotary-position self-attention (relative positions: attention
scores depend only on frame offsets, Su et al. 2021) with chunked masks for
streaming (Chen et al. 2021 "Developing real-time streaming transformer
transducer"): a frame sees every frame of its own chunk and ``left_context``
frames before its chunk. Conformer blocks (Gulati et al. 2020) add a causal
depthwise convolution module when streaming.

The same parameters run two ways that give equal outputs (tested):

* ``Encoder.__call__``: a whole padded batch with the chunk mask;
* ``Encoder.stream``: one chunk at a time, with the attention key/value cache,
  the convolution cache and the subsampling's leftover feature frames in an
  explicit state pytree (see :func:`init_stream_state`).

Shapes: B batch, T feature frames, T' = encoder frames, D = ``dim``.
"""

import dataclasses
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

NEG_INF = -1e9


@dataclasses.dataclass(frozen=True)
class EncoderConfig:
  """Encoder hyperparameters.

  Attributes:
    kind: "conformer" or "transformer" (no convolution module).
    num_layers: number of blocks.
    dim: model width D.
    num_heads: attention heads.
    ffn_mult: feed-forward hidden size = ffn_mult * dim.
    conv_kernel: depthwise convolution kernel (conformer only).
    subsample_channels: channels of the two stride-2 subsampling convolutions.
    subsample_factor: 4, or 8 (x4 convolutions, then frame pairs stacked).
    chunk_size: streaming chunk in encoder frames; 0 = full context (offline).
    left_context: encoder frames before the chunk each frame may attend to.
    dropout: residual / attention dropout rate.
    block_final_ln: end each Conformer block with a LayerNorm (Gulati et al.).
      Off by default: re-normalizing the residual stream in every block lets
      a constant component learned early (while the strong prediction network
      of template text makes audio look like noise) shrink the audio content
      geometrically with depth; the pure pre-LN residual stream keeps it.
  """
  kind: str = "conformer"
  num_layers: int = 4
  dim: int = 144
  num_heads: int = 4
  ffn_mult: int = 4
  conv_kernel: int = 15
  subsample_channels: int = 64
  subsample_factor: int = 8
  chunk_size: int = 4
  left_context: int = 32
  dropout: float = 0.1
  block_final_ln: bool = False

  @property
  def streaming(self) -> bool:
    return self.chunk_size > 0


def subsampled_lengths(lengths, factor: int):
  """Encoder frames produced from ``lengths`` feature frames (VALID convs)."""
  t = (lengths - 3) // 2 + 1
  t = (t - 3) // 2 + 1
  if factor == 8:
    t = t // 2
  return jnp.maximum(t, 0) if isinstance(t, jax.Array) else np.maximum(t, 0)


def min_feature_frames(factor: int) -> int:
  """Fewest feature frames that give one encoder frame."""
  return 7 if factor == 4 else 11


def chunk_mask(num_frames: int, chunk_size: int, left_context: int) -> jax.Array:
  """[T', T'] bool: query i may attend to key j."""
  i = jnp.arange(num_frames)[:, None]
  j = jnp.arange(num_frames)[None, :]
  if chunk_size <= 0:
    return jnp.ones((num_frames, num_frames), bool)
  ci, cj = i // chunk_size, j // chunk_size
  return (cj <= ci) & (j >= ci * chunk_size - left_context)


def rotary(x: jax.Array, positions: jax.Array) -> jax.Array:
  """Applies rotary position embedding.

  Args:
    x: [B, T, H, Dh] queries or keys (Dh even).
    positions: [B, T] or [T] absolute frame indices.
  """
  dh = x.shape[-1]
  inv = 1.0 / (10000 ** (jnp.arange(0, dh, 2, dtype=jnp.float32) / dh))
  ang = positions.astype(jnp.float32)[..., None] * inv  # [.., T, Dh/2]
  if ang.ndim == 2:
    ang = ang[None]
  sin, cos = jnp.sin(ang)[:, :, None, :], jnp.cos(ang)[:, :, None, :]
  x1, x2 = x[..., 0::2], x[..., 1::2]
  out = jnp.stack([x1 * cos - x2 * sin, x1 * sin + x2 * cos], axis=-1)
  return out.reshape(x.shape).astype(x.dtype)


class ConvSubsampling(nn.Module):
  """[B, T, F] features -> [B, T', D] with T' = subsampled_lengths(T).

  The convolution biases start non-zero. With flax's zero biases, a
  SpecAugment time mask (an all-zero patch of normalized features) maps to an
  exactly zero encoder input, whose first LayerNorm then divides by
  sqrt(epsilon): gradients ~1000x larger than elsewhere drive the projection
  bias into a constant that drowns the audio content in every later block
  (the encoder collapses and the transducer learns the prediction network's
  language model only).
  """
  channels: int
  dim: int
  factor: int = 8

  @nn.compact
  def __call__(self, x):
    x = x[..., None]
    bias_init = nn.initializers.normal(0.5)
    x = nn.relu(nn.Conv(self.channels, (3, 3), (2, 2), padding="VALID", bias_init=bias_init,
                        name="conv1")(x))
    x = nn.relu(nn.Conv(self.channels, (3, 3), (2, 2), padding="VALID", bias_init=bias_init,
                        name="conv2")(x))
    b, t, f, c = x.shape
    x = x.reshape(b, t, f * c)
    if self.factor == 8:
      t2 = t // 2
      x = x[:, :2 * t2].reshape(b, t2, 2 * f * c)
    elif self.factor != 4:
      raise ValueError(f"subsample_factor must be 4 or 8, got {self.factor}")
    return nn.Dense(self.dim, name="proj")(x)


class FeedForward(nn.Module):
  dim: int
  mult: int
  dropout: float

  @nn.compact
  def __call__(self, x, train: bool):
    y = nn.LayerNorm()(x)
    y = nn.Dense(self.dim * self.mult)(y)
    y = nn.swish(y)
    y = nn.Dropout(self.dropout, deterministic=not train)(y)
    return nn.Dense(self.dim)(y)


class SelfAttention(nn.Module):
  """Rotary multi-head self-attention over [cache; x] with an explicit mask."""
  dim: int
  num_heads: int
  dropout: float

  @nn.compact
  def __call__(self, x, positions, mask, train: bool, cache=None):
    """x: [B, T, D]; positions: [B, T]; mask: [B, T, S] over keys
    [cache (S - T); x]; cache: optional (k, v, pos) [B, L, H, Dh] x2, [B, L].

    Returns (y [B, T, D], (k, v, pos) of x for the next cache).
    """
    b, t, _ = x.shape
    h = self.num_heads
    dh = self.dim // h
    y = nn.LayerNorm()(x)
    qkv = nn.DenseGeneral((3, h, dh), name="qkv")(y)
    q, k, v = qkv[:, :, 0], qkv[:, :, 1], qkv[:, :, 2]
    q = rotary(q, positions)
    k = rotary(k, positions)
    new = (k, v)
    if cache is not None:
      k = jnp.concatenate([cache[0], k], axis=1)
      v = jnp.concatenate([cache[1], v], axis=1)
    logits = jnp.einsum("bthd,bshd->bhts", q, k) / np.sqrt(dh).astype(np.float32)
    logits = jnp.where(mask[:, None], logits, NEG_INF)
    w = jax.nn.softmax(logits, axis=-1)
    w = nn.Dropout(self.dropout, deterministic=not train)(w)
    out = jnp.einsum("bhts,bshd->bthd", w, v).reshape(b, t, h * dh)
    return nn.Dense(self.dim, name="out")(out), new


class ConvModule(nn.Module):
  """Conformer convolution module with a causal depthwise convolution.

  Causal (left-padded) so that a streaming chunk needs only the last
  ``kernel - 1`` frames before it, carried in ``cache`` [B, K-1, D].
  """
  dim: int
  kernel: int
  dropout: float

  @nn.compact
  def __call__(self, x, valid, train: bool, cache=None):
    """x: [B, T, D]; valid: [B, T] bool. Returns (y, new_cache)."""
    y = nn.LayerNorm()(x)
    y = nn.Dense(2 * self.dim, name="pw1")(y)
    y = nn.glu(y, axis=-1)
    y = jnp.where(valid[..., None], y, 0.0)  # padded frames must not leak
    if cache is None:
      cache = jnp.zeros((y.shape[0], self.kernel - 1, self.dim), y.dtype)
    y = jnp.concatenate([cache, y], axis=1)
    new_cache = y[:, -(self.kernel - 1):]
    y = nn.Conv(self.dim, (self.kernel,), padding="VALID",
                feature_group_count=self.dim, name="depthwise")(y)
    y = nn.LayerNorm()(y)
    y = nn.swish(y)
    y = nn.Dense(self.dim, name="pw2")(y)
    return nn.Dropout(self.dropout, deterministic=not train)(y), new_cache


class Block(nn.Module):
  """Conformer block (macaron FFN, MHSA, conv, FFN, LN) or Transformer block."""
  cfg: EncoderConfig

  @nn.compact
  def __call__(self, x, positions, mask, valid, train: bool, cache=None):
    c = self.cfg
    drop = nn.Dropout(c.dropout, deterministic=not train)
    conformer = c.kind == "conformer"
    if conformer:
      x = x + 0.5 * drop(FeedForward(c.dim, c.ffn_mult, c.dropout, name="ff1")(x, train))
    attn_cache = None if cache is None else cache["attn"]
    y, kv = SelfAttention(c.dim, c.num_heads, c.dropout, name="attn")(
        x, positions, mask, train, attn_cache)
    x = x + drop(y)
    new_cache = {"kv": kv}
    if conformer:
      y, conv_cache = ConvModule(c.dim, c.conv_kernel, c.dropout, name="conv")(
          x, valid, train, None if cache is None else cache["conv"])
      x = x + y
      new_cache["conv"] = conv_cache
    x = x + (0.5 if conformer else 1.0) * drop(
        FeedForward(c.dim, c.ffn_mult, c.dropout, name="ff2")(x, train))
    if conformer and c.block_final_ln:
      x = nn.LayerNorm(name="final_ln")(x)
    return x, new_cache


class Encoder(nn.Module):
  """Audio encoder; see module docstring."""
  cfg: EncoderConfig

  def setup(self):
    c = self.cfg
    self.subsample = ConvSubsampling(c.subsample_channels, c.dim, c.subsample_factor)
    self.blocks = [Block(c, name=f"block{i}") for i in range(c.num_layers)]
    self.out_ln = nn.LayerNorm()

  def __call__(self, feats, lengths, train: bool = False):
    """feats: [B, T, F] normalized features; lengths: [B] valid frames.

    Returns:
      (out [B, T', D], out_lengths [B]).
    """
    c = self.cfg
    x = self.subsample(feats)
    b, t, _ = x.shape
    out_lengths = subsampled_lengths(lengths, c.subsample_factor)
    valid = jnp.arange(t)[None, :] < out_lengths[:, None]
    mask = chunk_mask(t, c.chunk_size, c.left_context)[None] & valid[:, None, :]
    positions = jnp.broadcast_to(jnp.arange(t)[None], (b, t))
    for blk in self.blocks:
      x, _ = blk(x, positions, mask, valid, train)
    x = self.out_ln(x)
    return jnp.where(valid[..., None], x, 0.0), out_lengths

  def stream(self, window, num_valid, state):
    """Encodes one chunk of ``chunk_size`` encoder frames.

    Args:
      window: [B, stream_window(cfg), F] feature frames
        ``[n * hop, n * hop + window)`` of chunk n, hop = chunk_size * factor
        (consecutive windows overlap by the subsampling's extra context).
      num_valid: [B] how many of the chunk's encoder frames are real (the
        last chunk of a stream may be partial; the rest is padding).
      state: from :func:`init_stream_state`.
    Returns:
      (out [B, chunk_size, D], new state).
    """
    c = self.cfg
    x = self.subsample(window)  # [B, chunk_size, D]
    b, t, _ = x.shape
    offset = state["offset"]  # [B] encoder frames already emitted
    positions = offset[:, None] + jnp.arange(t)[None]
    valid = jnp.arange(t)[None] < num_valid[:, None]
    # Keys: [cache (L); chunk (t)]; cache slot valid if it held a real frame.
    cache_valid = state["cache_valid"]  # [B, L]
    mask = jnp.concatenate([jnp.broadcast_to(cache_valid[:, None], (b, t, cache_valid.shape[1])),
                            jnp.broadcast_to(valid[:, None], (b, t, t))], axis=2)
    new_layers = []
    for blk, layer in zip(self.blocks, state["layers"]):
      cache = {"attn": layer["kv"]}
      if c.kind == "conformer":
        cache["conv"] = layer["conv"]
      x, nc = blk(x, positions, mask, valid, False, cache)
      kv = tuple(jnp.concatenate([old, new], axis=1)[:, -c.left_context:]
                 for old, new in zip(layer["kv"], nc["kv"]))
      nl = {"kv": kv}
      if c.kind == "conformer":
        nl["conv"] = nc["conv"]
      new_layers.append(nl)
    x = self.out_ln(x)
    new_valid = jnp.concatenate([cache_valid, valid], axis=1)[:, -c.left_context:]
    new_state = {"offset": offset + num_valid,
                 "cache_valid": new_valid, "layers": new_layers}
    return jnp.where(valid[..., None], x, 0.0), new_state


def stream_window(cfg: EncoderConfig) -> int:
  """Feature frames in one streaming window (see ``Encoder.stream``).

  Encoder frame k reads feature frames [factor*k, factor*k + R), R = 7 (x4)
  or 11 (x8), so a chunk of C frames reads factor*C + R - factor frames.
  """
  f = cfg.subsample_factor
  return f * cfg.chunk_size + min_feature_frames(f) - f


def init_stream_state(cfg: EncoderConfig, batch: int, num_bins: int,
                      dtype=jnp.float32) -> dict[str, Any]:
  """Initial streaming state (empty caches)."""
  if cfg.chunk_size <= 0:
    raise ValueError("streaming needs chunk_size > 0")
  h = cfg.num_heads
  dh = cfg.dim // h
  L = cfg.left_context
  layers = []
  for _ in range(cfg.num_layers):
    layer = {"kv": (jnp.zeros((batch, L, h, dh), dtype), jnp.zeros((batch, L, h, dh), dtype))}
    if cfg.kind == "conformer":
      layer["conv"] = jnp.zeros((batch, cfg.conv_kernel - 1, cfg.dim), dtype)
    layers.append(layer)
  del num_bins
  return {
      "offset": jnp.zeros((batch,), jnp.int32),
      "cache_valid": jnp.zeros((batch, L), bool),
      "layers": layers,
  }
