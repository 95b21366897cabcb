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

Two optional extensions, both off by default:

* **Branching** (``cfg.branching``, :mod:`asr.models.branching`): a routed
  stage after the blocks sends each chunk to an expensive (Conformer blocks,
  chunk-local or, with ``cross_chunk``, with their own caches) or a cheap
  (low-rank feed-forward) branch; in ``stream`` a cheap chunk does not
  execute the expensive blocks (``lax.cond``; with ``onset_backfill`` a
  ``lax.switch`` whose third path re-runs the cheap chunk before an onset).
* **Stream context** (``wake`` arguments): the wake-word segment's features
  run through the encoder before the request, so the request's first chunks
  attend to (and convolve over) the context frames, as a streaming device
  that keeps its encoder state from the wake word would. The context spans
  a whole number of chunks (``wake_frames`` feature frames, a multiple of
  ``subsample_factor * chunk_size``), left-padded with masked frames for
  shorter wake segments (each segment a whole number of encoder frames,
  ``subsample_factor`` feature frames: ``data.stream_context.align``), so
  the request's encoder frames are exactly those of the request-only run
  (same count, same chunk grid) and the context frames' outputs are
  dropped: losses and decoding see request frames only. In ``stream`` the
  state's ``lead_pad`` masks the padding at the start of a stream's first
  chunk.
* **Context anchor** (``cfg.context_anchor``, with stream context): the
  masked mean of block ``anchor_block``'s output over the context frames (a
  summary of the wake-word voice and channel, in the spirit of anchored
  speech recognition, Wang et al. 2019) modulates the request frames at the
  input of every later block by FiLM, ``x * (1 + g) + b`` with ``(g, b)`` a
  zero-initialized linear map of the LayerNormed summary. Attention sees the
  context only within ``left_context``; the anchor reaches the whole
  request. Context frames are not modulated (they are computed before the
  summary exists, as on a device), so streaming still equals the full run.

Shapes: B batch, T feature frames, T' = encoder frames, D = ``dim``.
"""

import dataclasses
import functools
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from asr.models import branching as branching_lib

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
    branching: the routed stage after the blocks (:mod:`asr.models.branching`);
      ``num_layers`` then counts the shared trunk only.
    context_anchor: with stream context, FiLM-modulate the request frames at
      the inputs of blocks ``anchor_block + 1 ..`` by the context summary
      (module docstring). No effect (identity) when a batch has no context.
    anchor_block: the block (0-based) whose output over the context frames is
      pooled into the summary; must be below ``num_layers - 1``.
    attention_sink: every attention layer also attends to one learned key
      and value per head (no position; zero-initialized), always visible, so
      that a query whose left context is mostly masked (a branching
      encoder's cheap chunks) can put weight on "nothing" instead of
      spreading it over the few visible frames. Not the identity at
      initialization: the sink then takes the weight of one more key with
      logit 0 and a zero value. Streaming equals the full run.
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
  branching: branching_lib.BranchingConfig = branching_lib.BranchingConfig()
  context_anchor: bool = False
  anchor_block: int = 0
  attention_sink: bool = False

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


def _shifted_sum(x: jax.Array, w: jax.Array) -> jax.Array:
  """y[:, t] = sum_k w[k] * x[:, t + k]; x [B, T + K - 1, D], w [K, D] -> [B, T, D]."""
  k_size = w.shape[0]
  t = x.shape[1] - k_size + 1
  y = x[:, 0:t] * w[0]
  for k in range(1, k_size):
    y = y + x[:, k:k + t] * w[k]
  return y


@jax.custom_vjp
def depthwise_conv1d(x: jax.Array, w: jax.Array) -> jax.Array:
  """'VALID' depthwise 1-D convolution (cross-correlation) as K shifted
  multiply-adds: the same result as ``lax.conv_general_dilated`` with
  ``feature_group_count = D``, ~5x faster forward + backward on XLA:CPU at
  the encoder's sizes (its grouped convolution runs as a slow generic loop;
  the shifted sums fuse into one pass).

  Args:
    x: [B, T + K - 1, D] (already left-padded for a causal convolution).
    w: [K, D] per-channel taps.
  Returns:
    [B, T, D].
  """
  return _shifted_sum(x, w)


def _depthwise_fwd(x, w):
  return _shifted_sum(x, w), (x, w)


def _depthwise_bwd(res, g):
  x, w = res
  k_size = w.shape[0]
  t = g.shape[1]
  # dx[s] = sum_k w[k] g[s - k]: the same shifted sum over g padded by K - 1
  # on both sides, with the taps reversed.
  dx = _shifted_sum(jnp.pad(g, ((0, 0), (k_size - 1, k_size - 1), (0, 0))), w[::-1])
  dw = jnp.stack([jnp.sum(x[:, k:k + t] * g, axis=(0, 1)) for k in range(k_size)])
  return dx, dw.astype(w.dtype)


depthwise_conv1d.defvjp(_depthwise_fwd, _depthwise_bwd)


class DepthwiseConv(nn.Module):
  """Depthwise 1-D 'VALID' convolution with ``nn.Conv``'s parameters (kernel
  [K, 1, D], bias [D], same initializers; checkpoints are interchangeable)
  computed by :func:`depthwise_conv1d`."""
  features: int
  kernel: int

  @nn.compact
  def __call__(self, x):
    """x: [B, T + K - 1, D] -> [B, T, D]."""
    kernel = self.param("kernel", nn.initializers.lecun_normal(), (self.kernel, 1, self.features))
    bias = self.param("bias", nn.initializers.zeros_init(), (self.features,))
    return depthwise_conv1d(x, kernel[:, 0].astype(x.dtype)) + bias.astype(x.dtype)


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
  """Rotary multi-head self-attention over [cache; x] with an explicit mask
  (``sink``: plus one learned key and value per head, always visible)."""
  dim: int
  num_heads: int
  dropout: float
  sink: bool = False

  @nn.compact
  def __call__(self, x, positions, mask, train: bool, cache=None, fallback=None):
    """x: [B, T, D]; positions: [B, T]; mask: [B, T, S] over keys
    [cache (S - T); x]; cache: optional (k, v) [B, L, H, Dh] x2;
    fallback: optional (x_fb [B, T, D], use_fb [B, T] bool): where use_fb,
    the keys and values of a frame are projected from x_fb instead of x
    (the branching encoder's skipped chunks, see :func:`fallback_kv`).

    Returns (y [B, T, D], (k, v) of x for the next cache).
    """
    b, t, _ = x.shape
    h = self.num_heads
    dh = self.dim // h
    ln = nn.LayerNorm()
    dense = nn.DenseGeneral((3, h, dh), name="qkv")
    qkv = dense(ln(x))
    if fallback is not None:
      x_fb, use_fb = fallback
      qkv = jnp.where(use_fb[:, :, None, None, None] & (jnp.arange(3) > 0)[:, None, None],
                      dense(ln(x_fb)), qkv)
    q, k, v = qkv[:, :, 0], qkv[:, :, 1], qkv[:, :, 2]
    q = rotary(q, positions)
    k = rotary(k, positions)
    new = (k, v)
    if cache is not None:
      k = jnp.concatenate([cache[0], k], axis=1)
      v = jnp.concatenate([cache[1], v], axis=1)
    scale = np.sqrt(dh).astype(np.float32)
    logits = jnp.einsum("bthd,bshd->bhts", q, k) / scale
    logits = jnp.where(mask[:, None], logits, NEG_INF)
    if self.sink:  # key/value 0 of every row: the learned sink
      ks = self.param("sink_k", nn.initializers.zeros, (h, dh))
      vs = self.param("sink_v", nn.initializers.zeros, (h, dh))
      logits = jnp.concatenate([jnp.einsum("bthd,hd->bht", q, ks)[..., None] / scale, logits],
                               axis=-1)
      v = jnp.concatenate([jnp.broadcast_to(vs[None, None], (b, 1, h, dh)).astype(v.dtype), v],
                          axis=1)
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
    """x: [B, T, D]; valid: [B, T] bool. Returns (y, inputs [B, K-1 + T, D]:
    the cache followed by this call's masked inputs; the caller keeps the
    last ``kernel - 1``, or more, as the next cache)."""
    y = nn.LayerNorm()(x)
    y = nn.Dense(2 * self.dim, name="pw1")(y)
    y = nn.glu(y, axis=-1)
    y = jnp.where(valid[..., None], y, 0.0)  # padded frames must not leak
    if cache is None:
      cache = jnp.zeros((y.shape[0], self.kernel - 1, self.dim), y.dtype)
    y = jnp.concatenate([cache, y], axis=1)
    new_cache = y
    y = DepthwiseConv(self.dim, self.kernel, name="depthwise")(y)
    y = nn.LayerNorm()(y)
    y = nn.swish(y)
    y = nn.Dense(self.dim, name="pw2")(y)
    return nn.Dropout(self.dropout, deterministic=not train)(y), new_cache


class Block(nn.Module):
  """Conformer block (macaron FFN, MHSA, conv, FFN, LN) or Transformer block."""
  cfg: EncoderConfig

  @nn.compact
  def __call__(self, x, positions, mask, valid, train: bool, cache=None, fallback=None):
    """x: [B, T, D]; positions: [B, T]; mask: [B, T, S]; valid: [B, T];
    cache: optional {"attn": (k, v), "conv": [B, K-1, D]}; fallback:
    optional (x_fb, use_fb) for the frames of skipped chunks (branching
    ``cross_chunk``): their keys and values come from x_fb and their
    convolution input is zero, as a streaming skipped chunk leaves them.

    Returns (y [B, T, D], new cache entries).
    """
    c = self.cfg
    drop = nn.Dropout(c.dropout, deterministic=not train)
    conformer = c.kind == "conformer"
    if conformer:
      x = x + 0.5 * drop(FeedForward(c.dim, c.ffn_mult, c.dropout, name="ff1")(x, train))
    attn_cache = None if cache is None else cache["attn"]
    y, kv = SelfAttention(c.dim, c.num_heads, c.dropout, c.attention_sink, name="attn")(
        x, positions, mask, train, attn_cache, fallback)
    x = x + drop(y)
    new_cache = {"kv": kv}
    if conformer:
      conv_valid = valid if fallback is None else valid & ~fallback[1]
      y, conv_cache = ConvModule(c.dim, c.conv_kernel, c.dropout, name="conv")(
          x, conv_valid, train, None if cache is None else cache["conv"])
      x = x + y
      new_cache["conv"] = conv_cache
    x = x + (0.5 if conformer else 1.0) * drop(
        FeedForward(c.dim, c.ffn_mult, c.dropout, name="ff2")(x, train))
    if conformer and c.block_final_ln:
      x = nn.LayerNorm(name="final_ln")(x)
    return x, new_cache


def _expensive_blocks(cfg: EncoderConfig, block_params, x, valid):
  """The chunk-local expensive branch as a pure function of its blocks'
  parameters: chunks x [N, C, D], valid [N, C]; attention within the chunk only."""
  n, t, _ = x.shape
  positions = jnp.broadcast_to(jnp.arange(t)[None], (n, t))
  mask = jnp.broadcast_to(valid[:, None, :], (n, t, t))
  for p in block_params:  # no cache: the convolution is chunk-local too
    x, _ = Block(cfg, parent=None).apply({"params": p}, x, positions, mask, valid, False)
  return x


def fallback_kv(attn_params, x, positions):
  """Keys and values that a chunk skipping the expensive branch leaves in one
  expensive block's cache (branching ``cross_chunk``): the block's attention
  LayerNorm and key/value projections applied to the trunk output x
  [B, T, D] at ``positions`` [B, T] -> (k, v) [B, T, H, Dh] each. The same
  as ``SelfAttention``'s ``fallback`` in the full-utterance run."""
  y = nn.LayerNorm(parent=None).apply({"params": attn_params["LayerNorm_0"]}, x)
  qkv = attn_params["qkv"]
  kv = jnp.einsum("btd,dkhe->btkhe", y, qkv["kernel"][:, 1:]) + qkv["bias"][1:]
  return rotary(kv[:, :, 0], positions), kv[:, :, 1]


def _next_layer(cfg: EncoderConfig, layer, new, extra: int = 0):
  """A layer's stream cache after a chunk: keys/values of the last
  ``left_context`` frames, the convolution's last ``kernel - 1`` inputs
  (``new["conv"]``: the cache and the chunk's inputs, as ``ConvModule``
  returns them); ``extra`` more frames of each (``onset_backfill``: the
  cache as it stood before the previous chunk stays recoverable)."""
  kv = tuple(jnp.concatenate([old, nw], axis=1)[:, -(cfg.left_context + extra):]
             for old, nw in zip(layer["kv"], new["kv"]))
  out = {"kv": kv}
  if cfg.kind == "conformer":
    out["conv"] = new["conv"][:, -(cfg.conv_kernel - 1 + extra):]
  return out


def _layer_cache(cfg: EncoderConfig, layer):
  """The cache a block reads for the next chunk: all keys/values kept (the
  mask says which it may see), the convolution's last ``kernel - 1`` inputs."""
  cache = {"attn": layer["kv"]}
  if cfg.kind == "conformer":
    cache["conv"] = layer["conv"][:, -(cfg.conv_kernel - 1):]
  return cache


def _backfill_extra(cfg: EncoderConfig) -> int:
  """Frames the expensive blocks' stream caches keep beyond their left
  context: one chunk with ``onset_backfill`` (module docstring), else 0."""
  br = cfg.branching
  return cfg.chunk_size if br.enabled and br.onset_backfill else 0


def _cheap_branch(cfg: EncoderConfig, params, x, carry=None, carry_params=None):
  """x [B, C, D]; with ``cheap_carry`` carry [B, D], the stream's last
  expensive frame, projected and added to every frame first."""
  if carry is not None:
    x = x + nn.Dense(cfg.dim, use_bias=False, parent=None).apply(
        {"params": carry_params}, carry)[:, None]
  return branching_lib.CheapBranch(cfg.dim, cfg.branching.cheap_rank, parent=None).apply(
      {"params": params}, x)


def _run_expensive(cfg: EncoderConfig, operands):
  """``lax.cond`` branch: the chunk through the expensive blocks (rows that
  chose the cheap branch are selected from it). Module-level so that tests
  can count its executions. Returns (out [B, C, D], new expensive-layer
  caches; empty unless ``cross_chunk``, new carry [B, D] or None without
  ``cheap_carry``)."""
  x, valid, decide = operands["x"], operands["valid"], operands["decide"]
  blocks = operands["blocks"]
  new = []
  if cfg.branching.feature_router:
    # The subsampling is part of the branch; rows (streams) that chose the
    # cheap branch are masked out of the caches (keys and convolution).
    y = ConvSubsampling(cfg.subsample_channels, cfg.dim, cfg.subsample_factor,
                        parent=None).apply({"params": operands["subsample"]}, operands["window"])
    conv_valid = valid & decide[:, None]
    for p, layer in zip(blocks, operands["caches"]):
      y, nc = Block(cfg, parent=None).apply(
          {"params": p}, y, operands["positions"], operands["mask"], conv_valid, False,
          _layer_cache(cfg, layer))
      new.append(_next_layer(cfg, layer, nc, _backfill_extra(cfg)))
  elif cfg.branching.cross_chunk:
    # Rows (streams) that chose the cheap branch leave fallback keys/values
    # and zero convolution inputs, as _run_cheap does.
    fb = None if x.shape[0] == 1 else (x, jnp.broadcast_to(~decide[:, None], valid.shape))
    y = x
    for p, layer in zip(blocks, operands["caches"]):
      y, nc = Block(cfg, parent=None).apply(
          {"params": p}, y, operands["positions"], operands["mask"], valid, False,
          _layer_cache(cfg, layer), fb)
      new.append(_next_layer(cfg, layer, nc))
  else:
    y = _expensive_blocks(cfg, blocks, x, valid)
  return _select_rows(cfg, operands, y, new)


def _select_rows(cfg: EncoderConfig, operands, y, new):
  """The expensive branch's output y [B, C, D] for the rows that chose it,
  the cheap branch's for the others (batch > 1), and the new carry."""
  x, decide = operands["x"], operands["decide"]
  carry = operands.get("carry")
  new_carry = None if carry is None else jnp.where(decide[:, None], y[:, -1], carry)
  if x.shape[0] > 1:  # batch 1: the predicate is this row's decision
    y = jnp.where(decide[:, None, None], y,
                  _cheap_branch(cfg, operands["cheap"], x, carry, operands.get("carry_params")))
  return y, new, new_carry


def _backfill_visible(cfg: EncoderConfig, backfill, decide):
  """[B] bool: whether the previous chunk's keys count for this chunk (and
  later ones): it was expensive, or this chunk is and the previous one's
  p(expensive) passes ``backfill_threshold``. ``backfill``: route_prev [B],
  p_prev [B]."""
  ok = decide
  if cfg.branching.backfill_threshold > 0:
    ok = ok & (backfill["p_prev"] > cfg.branching.backfill_threshold)
  return (backfill["route_prev"] > 0) | ok


def _run_backfill(cfg: EncoderConfig, operands):
  """``lax.switch`` branch (``onset_backfill``): the expensive branch over a
  window of two chunks, the previous one (which some stream sent to the cheap
  branch) and this one, from the expensive caches as they stood before the
  previous chunk. The previous chunk's keys and convolution inputs enter the
  caches where that stream's chunk is expensive now or was then (for a stream
  whose previous chunk was expensive the recomputation equals what it left);
  its output is dropped. Module-level so that tests can count executions.
  Returns as :func:`_run_expensive`."""
  c, lc, k1 = cfg.chunk_size, cfg.left_context, cfg.conv_kernel - 1
  valid, decide = operands["valid"], operands["decide"]
  prev_valid = operands["prev_valid"]  # [B, C]
  vis_prev = _backfill_visible(cfg, operands, decide)  # [B]: the previous chunk's keys count
  window = jnp.concatenate([operands["prev_feats"], operands["window"]], axis=1)
  y = ConvSubsampling(cfg.subsample_channels, cfg.dim, cfg.subsample_factor,
                      parent=None).apply({"params": operands["subsample"]}, window)  # [B, 2C, D]
  b = y.shape[0]
  conv_valid = jnp.concatenate([prev_valid & vis_prev[:, None], valid & decide[:, None]], axis=1)
  positions = jnp.concatenate([operands["positions"] - c, operands["positions"]], axis=1)
  # Keys: [cache before the previous chunk (L); previous chunk (C); this chunk (C)].
  old = operands["exp_valid"][:, :lc]  # [B, L]
  in_reach = jnp.arange(lc)[None] >= c  # this chunk's left context starts C frames later
  bc = lambda a, n: jnp.broadcast_to(a[:, None], (b, c, n))
  prev_rows = jnp.concatenate([bc(old, lc), bc(prev_valid, c), jnp.zeros((b, c, c), bool)], axis=2)
  cur_rows = jnp.concatenate([bc(old & in_reach, lc), bc(prev_valid & vis_prev[:, None], c),
                              bc(valid, c)], axis=2)
  mask = jnp.concatenate([prev_rows, cur_rows], axis=1)  # [B, 2C, L + 2C]
  new = []
  for p, layer in zip(operands["blocks"], operands["caches"]):
    before = {"kv": tuple(a[:, :lc] for a in layer["kv"])}
    cache = {"attn": before["kv"]}
    if cfg.kind == "conformer":
      cache["conv"] = layer["conv"][:, :k1]
    y, nc = Block(cfg, parent=None).apply({"params": p}, y, positions, mask, conv_valid, False,
                                          cache)
    new.append(_next_layer(cfg, before, nc, c))
  return _select_rows(cfg, operands, y[:, c:], new)


def _run_cheap(cfg: EncoderConfig, operands):
  """``lax.cond`` branch: the cheap branch; with ``cross_chunk`` also the
  fallback keys/values (and zero convolution inputs) of each expensive layer."""
  x = operands["x"]
  new = []
  if cfg.branching.cross_chunk:  # feature_router implies it
    b, t, _ = x.shape
    h = cfg.num_heads
    zeros_kv = jnp.zeros((b, t, h, cfg.dim // h), x.dtype)
    for p, layer in zip(operands["blocks"], operands["caches"]):
      # feature_router: nothing for later chunks (the keys are masked).
      nc = {"kv": ((zeros_kv, zeros_kv) if cfg.branching.feature_router
                   else fallback_kv(p["attn"], x, operands["positions"]))}
      if cfg.kind == "conformer":
        nc["conv"] = jnp.concatenate([layer["conv"], jnp.zeros_like(x)], axis=1)
      new.append(_next_layer(cfg, layer, nc, _backfill_extra(cfg)))
  carry = operands.get("carry")
  return _cheap_branch(cfg, operands["cheap"], x, carry, operands.get("carry_params")), new, carry


class AnchorFilm(nn.Module):
  """FiLM of frames by a per-stream summary: x [B, T, D], anchor [B, D],
  on [B, T] bool (frames to modulate) -> x * (1 + g) + b where on, else x;
  zero-initialized, so it starts as the identity."""
  dim: int

  @nn.compact
  def __call__(self, x, anchor, on):
    gb = nn.Dense(2 * self.dim, kernel_init=nn.initializers.zeros, name="proj")(anchor)
    g, b = jnp.split(gb[:, None, :], 2, axis=-1)
    return jnp.where(on[..., None], x * (1.0 + g) + b, x)


def pooled_anchor(x, on):
  """Sum [B, D] and count [B] of x [B, T, D] over frames ``on`` [B, T]."""
  w = on.astype(x.dtype)
  return jnp.einsum("btd,bt->bd", x, w), w.sum(-1)


class Encoder(nn.Module):
  """Audio encoder; see module docstring."""
  cfg: EncoderConfig

  def setup(self):
    c = self.cfg
    self.subsample = ConvSubsampling(c.subsample_channels, c.dim, c.subsample_factor)
    self.blocks = [Block(c, name=f"block{i}") for i in range(c.num_layers)]
    if c.context_anchor:
      if not 0 <= c.anchor_block < c.num_layers - 1:
        raise ValueError(f"anchor_block={c.anchor_block} must be in [0, num_layers - 1 = "
                         f"{c.num_layers - 1}): a later block must receive the anchor")
      self.anchor_ln = nn.LayerNorm()
      self.films = {i: AnchorFilm(c.dim, name=f"anchor_film{i}")
                    for i in range(c.anchor_block + 1, c.num_layers)}
    br = c.branching
    if br.enabled:
      if c.chunk_size <= 0:
        raise ValueError("branching routes chunks: it needs chunk_size > 0")
      if br.feature_router:
        if c.num_layers != 0 or not br.cross_chunk or c.context_anchor:
          raise ValueError("branching.feature_router needs num_layers = 0 (no trunk), "
                           "branching.cross_chunk and no context_anchor; got num_layers="
                           f"{c.num_layers}, cross_chunk={br.cross_chunk}, "
                           f"context_anchor={c.context_anchor}")
        self.cheap_in = branching_lib.FeatureProjection(c.dim, c.subsample_factor,
                                                        br.router_level, name="cheap_in")
      elif br.router_level or br.router_context:
        raise ValueError("branching.router_level and branching.router_context need "
                         "branching.feature_router (they shape the feature projection's "
                         f"router); got router_level={br.router_level}, "
                         f"router_context={br.router_context}")
      if br.onset_backfill and (not br.feature_router or c.left_context < c.chunk_size):
        raise ValueError("branching.onset_backfill needs branching.feature_router and "
                         f"left_context >= chunk_size; got feature_router={br.feature_router}, "
                         f"left_context={c.left_context}, chunk_size={c.chunk_size}")
      if (br.oracle not in ("", "outputs", "keys", "uncertain_keys")
          or (br.oracle and not br.feature_router)):
        raise ValueError("branching.oracle must be '', 'outputs', 'keys' or 'uncertain_keys' "
                         f"and needs branching.feature_router; got oracle={br.oracle!r}, "
                         f"feature_router={br.feature_router}")
      if br.cheap_carry:
        if not br.feature_router:
          raise ValueError("branching.cheap_carry needs branching.feature_router (elsewhere "
                           "the cheap branch reads the trunk, which has the context)")
        # Zero-initialized: starts as the cheap branch without the carry.
        self.carry_proj = nn.Dense(c.dim, use_bias=False, kernel_init=nn.initializers.zeros,
                                   name="cheap_carry")
      # Named after the trunk's blocks, so that a plain encoder of
      # num_layers + expensive_layers blocks warm-starts both stacks.
      self.exp_blocks = [Block(c, name=f"block{c.num_layers + i}")
                         for i in range(br.expensive_layers)]
      self.cheap = branching_lib.CheapBranch(c.dim, br.cheap_rank, name="cheap")
      self.router = branching_lib.Router(br.router_hidden, br.router_init_bias,
                                         br.router_per_frame, name="router")
    self.out_ln = nn.LayerNorm()

  def __call__(self, feats, lengths, train: bool = False, wake=None):
    """feats: [B, T, F] normalized features; lengths: [B] valid frames;
    wake: optional (wake_feats [B, Tw, F], wake_lengths [B]) stream context
    (module docstring; the valid frames are the last wake_lengths, each a
    multiple of subsample_factor; Tw a multiple of whole chunks).

    Returns:
      (out [B, T', D], out_lengths [B]) of the request frames.
    """
    out, out_lengths, _ = self.forward(feats, lengths, train, wake)
    return out, out_lengths

  def forward(self, feats, lengths, train: bool = False, wake=None):
    """As ``__call__``, plus the routing of the branching stage.

    Returns:
      (out [B, T', D], out_lengths [B], routing) where routing is None
      without branching, else dict: logits [B, N, 2] per chunk (context
      chunks included), valid [B, N] (chunks with a real frame), expensive
      [B, N] the hard decision taken (the Gumbel sample when training) and,
      with ``onset_backfill``, backfill [B, N]: the cheap chunks that the
      expensive branch re-runs because the next chunk is expensive.
    """
    c = self.cfg
    drop = 0
    starts = jnp.zeros(feats.shape[:1], jnp.int32)
    if wake is not None:
      wake_feats, wake_lengths = wake
      tw = wake_feats.shape[1]
      quantum = c.subsample_factor * max(c.chunk_size, 1)
      if tw % quantum:
        raise ValueError(f"wake context of {tw} frames is not a multiple of {quantum} "
                         "(subsample_factor * chunk_size)")
      feats = jnp.concatenate([wake_feats.astype(feats.dtype), feats], axis=1)
      lengths = lengths + tw
      starts = (tw - wake_lengths) // c.subsample_factor
      drop = tw // c.subsample_factor
    x = self.subsample(feats)
    b, t, _ = x.shape
    out_lengths = subsampled_lengths(lengths, c.subsample_factor)
    frames = jnp.arange(t)[None, :]
    valid = (frames >= starts[:, None]) & (frames < out_lengths[:, None])
    mask = chunk_mask(t, c.chunk_size, c.left_context)[None] & valid[:, None, :]
    positions = jnp.broadcast_to(jnp.arange(t)[None], (b, t))
    anchor = None
    for i, blk in enumerate(self.blocks):
      if anchor is not None and i in self.films:
        x = self.films[i](x, anchor, request & has_anchor[:, None])
      x, _ = blk(x, positions, mask, valid, train)
      if c.context_anchor and i == c.anchor_block:
        # Without context (drop = 0) the summary is empty and the FiLM the
        # identity; it still runs so that init creates its parameters.
        total, count = pooled_anchor(x, valid & (frames < drop))
        anchor = self._anchor(total, count)
        has_anchor = count > 0
        request = frames >= drop
    routing = None
    if c.branching.enabled:
      z0 = self.cheap_in(feats, t) if c.branching.feature_router else None
      x, routing = self._routed_full(x, valid, train, positions, mask, z0)
    x = self.out_ln(x)
    x = jnp.where(valid[..., None], x, 0.0)
    return x[:, drop:], out_lengths - drop, routing

  def _anchor(self, total, count):
    """LayerNormed mean of the pooled context frames [B, D]."""
    return self.anchor_ln(total / jnp.maximum(count, 1.0)[:, None])

  # --- branching ---------------------------------------------------------------

  def routed_expensive(self, x, valid, train: bool):
    """Expensive branch on chunks as a batch: x [N, C, D], valid [N, C]."""
    n, t, _ = x.shape
    positions = jnp.broadcast_to(jnp.arange(t)[None], (n, t))
    mask = jnp.broadcast_to(valid[:, None, :], (n, t, t))  # within the chunk only
    for blk in self.exp_blocks:
      x, _ = blk(x, positions, mask, valid, train)  # no cache: chunk-local conv too
    return x

  def _routed_full(self, x, valid, train: bool, positions, mask, z0=None):
    """The routed stage over whole utterances: x [B, T', D] trunk output,
    valid [B, T'], positions / mask as the trunk's; z0 [B, T', D] the
    feature projection (``feature_router``: the router and the cheap branch
    read it). Both branches run for every chunk and the decision selects
    (training: the straight-through Gumbel sample, which mixes them)."""
    c = self.cfg
    br = c.branching
    b, t, d = x.shape
    n = -(-t // c.chunk_size)
    pad = n * c.chunk_size - t
    chunks = lambda a: jnp.pad(a, ((0, 0), (0, pad)) + ((0, 0),) * (a.ndim - 2)).reshape(
        (b * n, c.chunk_size) + a.shape[2:])
    xc, vc = chunks(x), chunks(valid)
    rc = xc if z0 is None else chunks(z0)  # what the router and the cheap branch read
    hist = ()
    if br.router_context:  # the K frames before each chunk, as streaming keeps them
      k = br.router_context
      idx = (jnp.arange(n) * c.chunk_size)[:, None] + jnp.arange(k)[None]  # [N, K] in padded
      zp = jnp.pad(z0, ((0, 0), (k, pad), (0, 0)))
      vp = jnp.pad(valid, ((0, 0), (k, pad)))
      hist = (zp[:, idx].reshape(b * n, k, d), vp[:, idx].reshape(b * n, k))
    logits = self.router(rc, vc, *hist)  # [B*N, 2]
    if train and br.train_threshold > 0:  # hard routes, as inference takes them
      probs = jax.nn.softmax(logits, axis=-1)
      expensive = probs[:, 1] > br.train_threshold
      w = jax.nn.one_hot(expensive.astype(jnp.int32), 2, dtype=x.dtype)
      if br.train_straight_through:  # the task loss's gradient reaches p (no noise)
        w = w + probs - jax.lax.stop_gradient(probs)
    elif train:
      w = branching_lib.straight_through_gumbel(self.make_rng("dropout"), logits, br.gumbel_tau)
      expensive = w[:, 1] > 0.5
    elif br.hold_threshold > 0:  # hysteresis: scan the chunks, as streaming decides
      p_bn = branching_lib.p_expensive(logits).reshape(b, n)
      has_bn = vc.any(-1).reshape(b, n)

      def step(prev, pn):
        p_n, has_n = pn
        e = (p_n > jnp.where(prev, br.hold_threshold, br.threshold)) & has_n
        return e, e

      _, exp_nb = jax.lax.scan(step, jnp.zeros((b,), bool), (p_bn.T, has_bn.T))
      expensive = exp_nb.T.reshape(b * n)
    else:
      expensive = branching_lib.p_expensive(logits) > br.threshold
    exp_frames = jnp.repeat(expensive.reshape(b, n), c.chunk_size, axis=1)[:, :t]
    backfill = None
    if br.feature_router:
      # Keys of cheap chunks are visible inside their own chunk only (its
      # counterfactual expensive output), and their convolution inputs are
      # zero: what streaming leaves in the caches. With onset_backfill a
      # cheap chunk followed by an expensive one counts as expensive here.
      vis = expensive.reshape(b, n)
      if br.onset_backfill:
        has = vc.any(-1).reshape(b, n)
        nxt = jnp.pad((vis & has)[:, 1:], ((0, 0), (0, 1)))
        backfill = nxt & ~vis & has  # chunks re-run when the next one is expensive
        if br.backfill_threshold > 0:  # ... and their own p(expensive) is high enough
          backfill = backfill & (branching_lib.p_expensive(logits).reshape(b, n)
                                 > br.backfill_threshold)
        vis = vis | backfill
      if br.oracle == "keys" and not train:  # diagnostic: no chunk's keys masked
        vis = jnp.ones_like(vis)
      elif br.oracle == "uncertain_keys" and not train:  # ... those of p > backfill_threshold
        vis = vis | (branching_lib.p_expensive(logits).reshape(b, n) > br.backfill_threshold)
      vis_frames = jnp.repeat(vis, c.chunk_size, axis=1)[:, :t]
      chunk_of = jnp.arange(t) // c.chunk_size
      same = chunk_of[:, None] == chunk_of[None, :]
      mask_exp = mask & (vis_frames[:, None, :] | same[None])
      y = x
      for blk in self.exp_blocks:
        y, _ = blk(y, positions, mask_exp, valid & vis_frames, train)
      y = chunks(y)
    elif br.cross_chunk:
      # Cross-chunk attention and convolution, as in the trunk; frames of
      # chunks on the cheap branch offer keys/values projected from the
      # trunk output and zero convolution inputs (what a skipped chunk
      # leaves in the streaming caches).
      y = x
      for blk in self.exp_blocks:
        y, _ = blk(y, positions, mask, valid, train, None, (x, ~exp_frames))
      y = chunks(y)
    else:
      y = self.routed_expensive(xc, vc, train)
    if br.cheap_carry:
      # Each chunk's carry: the last frame of the stream's latest expensive
      # chunk before it (zeros before the first), as streaming keeps it.
      last = y.reshape(b, n, c.chunk_size, d)[:, :, -1]
      idx = jnp.where(expensive.reshape(b, n), jnp.arange(n)[None], -1)
      prev = jnp.concatenate([jnp.full((b, 1), -1), jax.lax.cummax(idx, axis=1)[:, :-1]], axis=1)
      carry = jnp.where((prev >= 0)[..., None],
                        last[jnp.arange(b)[:, None], jnp.maximum(prev, 0)], 0.0)
      rc = rc + self.carry_proj(carry).reshape(b * n, 1, d)
    z = self.cheap(rc)
    if train:
      out = w[:, 1, None, None] * y + w[:, 0, None, None] * z
    elif br.oracle == "outputs":  # diagnostic: the expensive output everywhere
      out = y
    else:
      out = jnp.where(expensive[:, None, None], y, z)
    out = out.reshape(b, n * c.chunk_size, d)[:, :t]
    routing = {"logits": logits.reshape(b, n, 2), "valid": vc.any(-1).reshape(b, n),
               "expensive": expensive.reshape(b, n)}
    if backfill is not None:  # [B, N]: cheap chunks re-run before an expensive one
      routing["backfill"] = backfill
    if train and br.distill_weight > 0:  # per-chunk sums of the distillation term
      ref = jax.lax.stop_gradient(y)
      fw = vc[..., None].astype(y.dtype)
      routing["distill_err"] = jnp.sum(jnp.square(z - ref) * fw, axis=(1, 2)).reshape(b, n)
      routing["distill_ref"] = jnp.sum(jnp.square(ref) * fw, axis=(1, 2)).reshape(b, n)
    return out, routing

  def _routed_stream(self, x, valid, force_route, positions, mask, caches, window=None,
                     carry=None, hist=(), backfill=None, route_prev=None):
    """One chunk x [B, C, D] -> (out, p_expensive [B], expensive [B] bool,
    new expensive-layer caches (``cross_chunk``; else []), new carry [B, D]
    (``cheap_carry``; else None), the router's hidden frames [B, C, H]
    (``router_per_frame``; else None)). ``hist``: (frames [B, K, D], or
    their hidden frames [B, K, H] with ``router_per_frame``, valid [B, K])
    before the chunk for ``router_context``, else (). With
    ``feature_router`` x is the feature projection, ``window`` the chunk's
    feature window (the expensive branch subsamples it) and ``mask`` the
    expensive blocks' own (cheap chunks' keys masked). ``backfill``
    (``onset_backfill``): dict of the previous chunk's prev_feats [B, hop, F],
    prev_valid [B, C], route_prev [B], p_prev [B] and the expensive caches'
    slot validity exp_valid [B, L + C]; a stream whose chunk turns expensive after
    a cheap one takes :func:`_run_backfill` (``force_route`` = 2 forces it).
    ``route_prev`` [B]: the previous chunk's route (``hold_threshold``).

    The branches run as pure functions of their parameters under
    ``jax.lax.cond``: flax's lifted ``nn.cond`` cost ~2 ms more per chunk
    on 2 loaded CPU cores whichever branch ran, more than the expensive
    blocks themselves at batch 1.
    """
    c = self.cfg
    per_frame = c.branching.router_per_frame
    logits, hidden = self.router(x, valid, *hist, hist_is_hidden=per_frame, with_hidden=True)
    p = branching_lib.p_expensive(logits)
    has = valid.any(-1)
    thr = c.branching.threshold
    if c.branching.hold_threshold > 0:  # hysteresis: an expensive stream holds at a lower bar
      thr = jnp.where(route_prev > 0, c.branching.hold_threshold, thr)
    decide = (p > thr) if force_route is None else jnp.full(p.shape, bool(force_route))
    decide = decide & has
    if backfill is not None and force_route not in (None, 0, 1, 2):
      raise ValueError(f"force_route must be None, 0, 1 or 2 (backfill); got {force_route}")
    params = self.variables["params"]
    ops = {"x": x, "valid": valid, "decide": decide,
           "blocks": [params[f"block{c.num_layers + i}"] for i in range(c.branching.expensive_layers)],
           "cheap": params["cheap"], "positions": positions, "mask": mask, "caches": caches}
    if c.branching.feature_router:
      ops.update(window=window, subsample=params["subsample"])
    if c.branching.cheap_carry:
      ops.update(carry=carry, carry_params=params["cheap_carry"])
    # Looked up at trace time, so that tests can count executions.
    run_exp = functools.partial(_run_expensive, c)
    run_cheap = functools.partial(_run_cheap, c)
    if backfill is not None:
      ops.update(backfill)
      run_backfill = functools.partial(_run_backfill, c)
      if force_route is not None:  # benchmarks: one path, no switch
        out, new, new_carry = (run_cheap, run_exp, run_backfill)[int(force_route)](ops)
        return out, p, decide, new, new_carry, hidden
      # A stream whose chunk turns expensive after a cheap one (not the first).
      need = (_backfill_visible(c, backfill, decide) & (backfill["route_prev"] == 0)
              & backfill["prev_valid"].any(-1))
      index = jnp.where(jnp.any(need), 2, jnp.where(jnp.any(decide), 1, 0))
      out, new, new_carry = jax.lax.switch(index, (run_cheap, run_exp, run_backfill), ops)
      return out, p, decide, new, new_carry, hidden
    if force_route is not None:  # benchmarks: one branch, no cond
      out, new, new_carry = (run_exp if force_route else run_cheap)(ops)
      return out, p, decide, new, new_carry, hidden
    # Batch 1: a cheap chunk never runs the expensive blocks. Batch > 1: they
    # run when any stream's chunk needs them (a batch cannot skip per row).
    out, new, new_carry = jax.lax.cond(jnp.any(decide), run_exp, run_cheap, ops)
    return out, p, decide, new, new_carry, hidden

  # --- streaming -----------------------------------------------------------------

  def stream(self, window, num_valid, state, force_route=None):
    """Encodes one chunk of ``chunk_size`` encoder frames.

    Args:
      window: [B, stream_window(cfg), F] feature frames
        ``[n * hop, n * hop + window)`` of chunk n, hop = chunk_size * factor
        (consecutive windows overlap by the subsampling's extra context).
      num_valid: [B] how many of the chunk's encoder frames are real (the
        last chunk of a stream may be partial; the rest is padding).
      state: from :func:`init_stream_state`.
      force_route: branching only: None = the router decides; 0 / 1 = every
        chunk cheap / expensive (benchmarks; a Python value); 2 (with
        ``onset_backfill``) = every chunk through the two-chunk backfill path.
    Returns:
      (out [B, chunk_size, D], new state). With branching the state's
      ``route`` [B] (1 = expensive) and ``p_expensive`` [B] describe this chunk.
    """
    c = self.cfg
    if c.branching.enabled and c.branching.oracle:
      raise ValueError(f"branching.oracle={c.branching.oracle!r} is a full-utterance diagnostic; "
                       "it cannot stream")
    feature_router = c.branching.enabled and c.branching.feature_router
    if feature_router:  # the subsampling runs in the expensive branch only
      x = self.cheap_in(window, c.chunk_size)  # [B, chunk_size, D]
    else:
      x = self.subsample(window)  # [B, chunk_size, D]
    b, t, _ = x.shape
    offset = state["offset"]  # [B] encoder frames already emitted
    positions = offset[:, None] + jnp.arange(t)[None]
    # lead_pad: the stream's first frames are the masked padding in front of
    # a stream context shorter than whole chunks (set by the caller, e.g.
    # StreamingRecognizer.accept_context); they count in offset and
    # num_valid as the full run's padded frames do.
    valid = ((jnp.arange(t)[None] >= state["lead_pad"][:, None])
             & (jnp.arange(t)[None] < num_valid[:, None]))
    # Keys: [cache (L); chunk (t)]; cache slot valid if it held a real frame.
    cache_valid = state["cache_valid"]  # [B, L]
    mask = jnp.concatenate([jnp.broadcast_to(cache_valid[:, None], (b, t, cache_valid.shape[1])),
                            jnp.broadcast_to(valid[:, None], (b, t, t))], axis=2)
    new_layers = []
    new_state = {}
    if c.context_anchor:  # context chunks feed the summary; request chunks read it
      in_ctx = state["context_left"] > 0  # [B]
      anchor = self._anchor(state["anchor_sum"], state["anchor_count"])
      film_on = (~in_ctx & (state["anchor_count"] > 0))[:, None] & valid
    for i, (blk, layer) in enumerate(zip(self.blocks, state["layers"])):
      if c.context_anchor and i in self.films:
        x = self.films[i](x, anchor, film_on)
      x, nc = blk(x, positions, mask, valid, False, _layer_cache(c, layer))
      new_layers.append(_next_layer(c, layer, nc))
      if c.context_anchor and i == c.anchor_block:
        total, count = pooled_anchor(x, valid & in_ctx[:, None])
        new_state.update(anchor_sum=state["anchor_sum"] + total,
                         anchor_count=state["anchor_count"] + count,
                         context_left=jnp.maximum(state["context_left"] - num_valid, 0))
    new_state.update(offset=offset + num_valid, layers=new_layers,
                     lead_pad=jnp.maximum(state["lead_pad"] - num_valid, 0))
    if c.branching.enabled:
      backfill = None
      if feature_router:  # keys of earlier cheap chunks masked, this chunk's visible
        exp_valid = state["exp_cache_valid"]  # [B, L (+ C with onset_backfill)]
        seen = exp_valid
        if c.branching.onset_backfill:  # the oldest chunk is kept for backfills only
          seen = exp_valid.at[:, :t].set(False)
          backfill = {"prev_feats": state["prev_feats"], "prev_valid": state["prev_valid"],
                      "route_prev": state["route"], "p_prev": state["p_expensive"],
                      "exp_valid": exp_valid}
        mask = jnp.concatenate([jnp.broadcast_to(seen[:, None], (b, t, seen.shape[1])),
                                jnp.broadcast_to(valid[:, None], (b, t, t))], axis=2)
      hist = ()
      if c.branching.router_context:
        # The history: projected frames, or (router_per_frame) their hidden
        # layer's output, computed once when the frame was in its chunk.
        hist = (state["router_hist"], state["router_hist_valid"])
      x_in = x
      x, p, decide, exp_layers, carry, hidden = self._routed_stream(
          x, valid, force_route, positions, mask, state.get("exp_layers", []), window,
          state.get("carry"), hist, backfill, state["route"])
      if c.branching.router_context:
        k = c.branching.router_context
        newest = hidden if c.branching.router_per_frame else x_in
        new_state.update(router_hist=jnp.concatenate([hist[0], newest], axis=1)[:, -k:],
                         router_hist_valid=jnp.concatenate([hist[1], valid], axis=1)[:, -k:])
      new_state.update(route=decide.astype(jnp.int32), p_expensive=p)
      if c.branching.cheap_carry:
        new_state["carry"] = carry
      if backfill is not None:
        # The previous chunk's slots hold keys iff it was expensive or this
        # chunk is (then some path re-ran it: _run_backfill, or it was
        # expensive); force_route = 1 never re-runs it.
        vis_prev = (state["route"] > 0 if force_route == 1
                    else _backfill_visible(c, backfill, decide))
        new_state["exp_cache_valid"] = jnp.concatenate(
            [exp_valid[:, :c.left_context], state["prev_valid"] & vis_prev[:, None],
             valid & decide[:, None]], axis=1)[:, -(c.left_context + t):]
        new_state.update(prev_feats=window[:, :c.subsample_factor * t], prev_valid=valid)
      elif feature_router:
        new_state["exp_cache_valid"] = jnp.concatenate(
            [state["exp_cache_valid"], valid & decide[:, None]], axis=1)[:, -c.left_context:]
      if c.branching.cross_chunk:
        new_state["exp_layers"] = exp_layers
    x = self.out_ln(x)
    new_state["cache_valid"] = jnp.concatenate([cache_valid, valid], axis=1)[:, -c.left_context:]
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
  def empty_layer(extra=0):
    layer = {"kv": (jnp.zeros((batch, L + extra, h, dh), dtype),
                    jnp.zeros((batch, L + extra, h, dh), dtype))}
    if cfg.kind == "conformer":
      layer["conv"] = jnp.zeros((batch, cfg.conv_kernel - 1 + extra, cfg.dim), dtype)
    return layer

  layers = [empty_layer() for _ in range(cfg.num_layers)]
  extra = _backfill_extra(cfg)
  state = {
      "offset": jnp.zeros((batch,), jnp.int32),
      # Encoder frames of masked padding still to come at the start of the
      # stream (a stream context shorter than whole chunks; set by the caller).
      "lead_pad": jnp.zeros((batch,), jnp.int32),
      "cache_valid": jnp.zeros((batch, L), bool),
      "layers": layers,
  }
  if cfg.branching.enabled:
    state.update(route=jnp.zeros((batch,), jnp.int32), p_expensive=jnp.zeros((batch,), dtype))
    if cfg.branching.cross_chunk:  # the expensive blocks' own caches
      state["exp_layers"] = [empty_layer(extra) for _ in range(cfg.branching.expensive_layers)]
    if cfg.branching.feature_router:  # which of those cache slots hold expensive frames
      state["exp_cache_valid"] = jnp.zeros((batch, L + extra), bool)
    if extra:  # onset_backfill: the previous chunk's feature frames and valid frames
      state["prev_feats"] = jnp.zeros((batch, cfg.subsample_factor * cfg.chunk_size, num_bins),
                                      dtype)
      state["prev_valid"] = jnp.zeros((batch, cfg.chunk_size), bool)
    if cfg.branching.cheap_carry:  # last frame of the latest expensive chunk
      state["carry"] = jnp.zeros((batch, cfg.dim), dtype)
    if cfg.branching.router_context:  # the router's history: projected frames (per_frame: hidden)
      k = cfg.branching.router_context
      width = cfg.branching.router_hidden if cfg.branching.router_per_frame else cfg.dim
      state["router_hist"] = jnp.zeros((batch, k, width), dtype)
      state["router_hist_valid"] = jnp.zeros((batch, k), bool)
  if cfg.context_anchor:
    # context_left: encoder frames of stream context still to come (set by
    # the caller, e.g. StreamingRecognizer.accept_context); those chunks
    # accumulate the anchor instead of reading it.
    state.update(anchor_sum=jnp.zeros((batch, cfg.dim), dtype),
                 anchor_count=jnp.zeros((batch,), dtype),
                 context_left=jnp.zeros((batch,), jnp.int32))
  return state
