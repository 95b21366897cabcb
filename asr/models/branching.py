"""Branching encoder with a learned router (AmNet-style dynamic compute).

After the shared streaming trunk (``EncoderConfig.num_layers`` Conformer
blocks with their key/value and convolution caches) a *routed stage* chooses,
per chunk of ``chunk_size`` encoder frames, one of two branches:

* **expensive**: ``expensive_layers`` full Conformer blocks whose attention and
  causal convolution are restricted to the chunk itself. They keep no state
  from one chunk to the next, so skipping them for a chunk changes nothing
  for later chunks: the skip is exact in streaming, and the streaming run
  still equals the masked full-utterance run (tested). Cross-chunk context
  reaches the routed stage through the trunk.
  With ``cross_chunk`` the expensive blocks instead attend ``left_context``
  frames back and convolve across chunk boundaries, as the trunk does, from
  their own key/value and convolution caches. A chunk that takes the cheap
  branch still leaves something in those caches, so that later expensive
  chunks see a full left context: in each expensive block, keys and values
  projected from its *trunk output* (the block's attention LayerNorm and
  key/value matrices only: 2 D^2 multiply-adds per frame and block, against
  ~23 D^2 plus attention for the whole block) and zero convolution inputs.
  The full-utterance run builds the same keys (``SelfAttention``'s
  ``fallback``), so streaming still equals it (tested), and every chunk
  expensive is exactly the plain encoder of ``num_layers + expensive_layers``
  blocks.
* **cheap**: a residual low-rank feed-forward layer
  (``x + W_up swish(W_down LN(x))``, rank ``cheap_rank``).

**Routing before the subsampling** (``feature_router``; needs no trunk,
``num_layers = 0``, and ``cross_chunk``): the router and the cheap branch read
a :class:`FeatureProjection` of the raw log-mel window (per encoder frame the
mean and peak of its ``subsample_factor`` feature frames, LayerNorm, one
dense layer: ~1 % of the encoder), and the convolutional subsampling moves
into the expensive branch, so a cheap chunk skips it too (with 4 blocks it is
~23 % of the encoder, the floor of every design that shares it). A cheap chunk
leaves nothing for later expensive chunks: in the expensive blocks its frames
are masked out of the key/value caches and its convolution inputs are zero,
so later chunks attend over the expensive chunks of their left context only.
In the full-utterance run the same mask (keys of cheap chunks visible only
inside their own chunk: a cheap chunk's counterfactual expensive output, which
the relaxed gradient reads, is what streaming would compute had it been
chosen) keeps streaming equal to it (tested).
With ``onset_backfill`` an expensive chunk that follows a cheap one runs the
expensive branch over a window of both (from the caches as they stood before
the cheap chunk, which streaming keeps one chunk longer), so that the cheap
chunk's keys and convolution inputs reach the expensive chunks after it; its
emitted output stays the cheap branch's. In the full run a chunk's keys count
iff it or the next chunk is expensive (tested equal to streaming; the
streaming step is a three-way ``lax.switch``: cheap, expensive, backfill).

The **router** is a tiny MLP on the mean of the trunk output over the chunk's
valid frames, two logits (cheap, expensive). Training uses the
straight-through Gumbel-softmax (Jang et al. 2017): the forward pass takes
the hard sample, gradients flow through the relaxed sample at temperature
``gumbel_tau``; both branches run for every chunk of the batch. At inference
a chunk goes to the expensive branch iff ``p(expensive) > threshold``
(``train_threshold`` > 0: training routes the same way, hard); the
full-utterance run evaluates both branches and selects (a batch cannot skip
per chunk), while ``Encoder.stream`` wraps the expensive branch in
``lax.cond`` on "any stream of this chunk wants it", so at batch 1 a cheap
chunk never executes the expensive blocks (tested by counting executions with
a host callback, and measured in ``benchmarks/branching.py``).

Compute cost (the loss term, ``train.train_step``): with per-frame FLOPs
F_fixed (subsampling, trunk, router, output LayerNorm), F_exp and F_cheap
(:func:`encoder_flops`), the expected encoder compute relative to always
taking the expensive branch is

  cost = (F_fixed + p F_exp + (1 - p) F_cheap) / (F_fixed + F_exp),

p = mean router probability of "expensive" over the batch's valid chunks.
``cost`` is in (0, 1]; the loss adds ``cost_weight * cost`` (lambda; the
RNN-T loss is in nats per label), so lambda trades nats per label against the
fraction of the full encoder's compute. With ``cost_target`` > 0 the term is
a budget instead, ``cost_weight * max(0, cost - cost_target)``: the linear
term's operating point moves abruptly with lambda (a router either keeps most
chunks expensive or gives up on the branch), while a budget names it.
"""

import dataclasses

import flax.linen as nn
import jax
import jax.numpy as jnp


@dataclasses.dataclass(frozen=True)
class BranchingConfig:
  """Routed stage after the encoder trunk (see module docstring).

  Attributes:
    enabled: off = the plain encoder (no routed stage, no parameters added).
    expensive_layers: Conformer blocks of the expensive branch (chunk-local).
    cheap_rank: rank of the cheap branch's low-rank feed-forward layer.
    router_hidden: hidden units of the router MLP.
    gumbel_tau: Gumbel-softmax temperature of the relaxed decision (training).
    router_init_bias: initial logit margin of the expensive branch (the
      router's output bias); > 0 starts training with most chunks on the
      expensive branch, so that a warm-started model is not pushed to the
      fresh cheap branch before lambda has a say.
    threshold: inference routes a chunk to the expensive branch iff the
      router's p(expensive) exceeds it (0.5 = the argmax; a knob for sweeps
      without retraining).
    cost_weight: lambda, the weight of the relative compute cost in the loss
      (read by the training step; the model ignores it).
    cost_target: > 0 turns the cost term into a budget: the loss adds
      ``cost_weight * max(0, cost - cost_target)`` (:func:`cost_penalty`),
      so a strong lambda pushes the router down to the target relative
      cost and no further; 0 = the linear ``cost_weight * cost``.
    cross_chunk: off = chunk-local expensive blocks (no state across
      chunks); on = they keep attention/convolution caches, filled by
      skipped chunks with keys/values projected from the trunk output
      (module docstring).
    distill_weight: > 0 adds ``distill_weight * sum |cheap - sg(expensive)|^2
      / sum |sg(expensive)|^2`` over the valid frames of every chunk to the
      loss (read by the training step): the cheap branch is trained to stand
      in for the expensive one on all chunks, not only through the task loss
      on the chunks routed to it. The expensive branch gets no gradient from
      it.
    feature_router: the router and the cheap branch read a projection of the
      raw feature window and the subsampling belongs to the expensive branch
      (module docstring); cheap chunks are masked out of the expensive
      blocks' caches. Needs ``num_layers = 0`` and ``cross_chunk``.
    speech_weight: > 0 adds ``speech_weight *`` the binary cross-entropy
      between the router's p(expensive) and the share of each chunk inside
      the corpus's speech span (:func:`speech_targets`; read by the training
      step, from batches that carry ``speech_span``): an auxiliary target
      that makes the router confident where the task loss alone leaves it
      near the budget everywhere (BUILD.md). Chunks of utterances without a
      recorded span are left out of it.
    cheap_carry: ``feature_router`` only: the cheap branch also reads the
      *carry*, the last output frame of the stream's latest expensive chunk
      (zeros before the first), through a zero-initialized D x D projection
      added to its input (~D^2 per chunk). A transducer emits the last word
      pieces of a request up to a chunk late, into the silence after it; a
      cheap chunk there had nothing to emit them from (BUILD.md). Streaming
      keeps the carry in its state; the full-utterance run gathers it from
      the routes (tested equal).
    router_level: ``feature_router`` only: the feature projection also
      passes on each encoder frame's level (mean and spread over its pooled
      log-mel values), which its LayerNorm otherwise removes. Without it the
      router sees spectral shape only and cannot tell a request from noise
      that sounds like speech but is quieter (babble; BUILD.md).
    router_context: ``feature_router`` only: the router also reads the
      feature projection of the ``router_context`` encoder frames before the
      chunk (causal; 12 = 0.96 s at x8): its input is the chunk mean and the
      mean over that history (frames before the stream start are left out),
      so that it can compare the chunk with what came before. Streaming
      keeps the history in its state (tested equal to the full run). 0 = the
      chunk alone.
    router_per_frame: the router's hidden layer runs on every frame (of the
      chunk and of its history) before pooling, and the chunk is pooled by
      mean and max, the history by mean: a per-frame speech detector instead
      of a linear function of the chunk mean (``router_hidden`` x D
      multiply-adds per frame: streaming keeps the history's hidden frames,
      so each frame's runs once).
    train_threshold: > 0: training routes as inference does, hard and
      without noise: a chunk is expensive iff p(expensive) exceeds this
      threshold (no Gumbel sample, no relaxed mixture). The task loss then
      gives the router no gradient; it learns from the auxiliary terms only
      (``speech_weight``, the compute cost), while the branches train on the
      routes inference will take (``experiments/branching_small_frvp_h.py``).
      0 = the straight-through Gumbel-softmax.
    train_straight_through: with ``train_threshold``, the hard routes pass
      the task loss's gradient to the router through its probabilities
      (the straight-through estimator without noise: the mixture weights
      are ``one_hot + p - stop_gradient(p)``), so that it also learns which
      chunks the transcript needs, not only where the speech span is.
    onset_backfill: ``feature_router`` only: when an expensive chunk follows
      a cheap one, the expensive branch also runs over that cheap chunk
      first (one window of two chunks), so that the expensive blocks' caches
      hold its keys and convolution inputs: the chunk where speech starts,
      which the causal router often sends to the cheap branch before it has
      heard most of the word, is no longer invisible to the expensive chunks
      after it. The cheap chunk's output, already emitted, is not revised
      (no added latency). Key visibility of chunk m becomes ``route[m] or
      route[m + 1]`` (the full-utterance run masks so; streaming equals it:
      tested); each backfill costs one more expensive chunk
      (:func:`encoder_flops`' ``backfill``; the training cost term ignores
      it). Needs ``left_context >= chunk_size``.
    backfill_threshold: with ``onset_backfill``, re-run a cheap chunk only if
      its own p(expensive) exceeds this (a chunk of silence before an onset
      is not worth an expensive pass); like ``threshold``, a knob for sweeps
      without retraining. 0 = every cheap chunk before an expensive one.
    hold_threshold: > 0: inference routing with hysteresis: a chunk after an
      expensive one stays expensive while its p(expensive) exceeds this
      (below ``threshold``), so that speech is not broken by single cheap
      chunks (with ``onset_backfill`` a one-chunk dip saves nothing: the
      next chunk re-runs it). Streaming reads the previous route from its
      state; the full-utterance run scans the chunks (tested equal). A knob
      for sweeps without retraining (training routes ignore it). 0 = off.
    oracle: a diagnostic of what the routing costs (``feature_router``
      full-utterance inference only; it cannot stream, training ignores it):
      "outputs" = every chunk's output from the expensive branch, keys and
      convolution inputs as routed; "keys" = every chunk's keys and
      convolution inputs visible to the expensive blocks, each chunk's output
      from the branch it was routed to; "uncertain_keys" = as "keys" for the
      chunks whose p(expensive) exceeds ``backfill_threshold`` only; "" =
      off. ``benchmarks.branching --oracle``.
  """
  enabled: bool = False
  expensive_layers: int = 2
  cheap_rank: int = 32
  router_hidden: int = 32
  router_init_bias: float = 0.0
  gumbel_tau: float = 1.0
  threshold: float = 0.5
  cost_weight: float = 0.0
  cost_target: float = 0.0
  cross_chunk: bool = False
  distill_weight: float = 0.0
  feature_router: bool = False
  speech_weight: float = 0.0
  cheap_carry: bool = False
  router_level: bool = False
  router_context: int = 0
  router_per_frame: bool = False
  train_threshold: float = 0.0
  train_straight_through: bool = False
  onset_backfill: bool = False
  backfill_threshold: float = 0.0
  hold_threshold: float = 0.0
  oracle: str = ""


class CheapBranch(nn.Module):
  """Residual low-rank feed-forward layer: [..., D] -> [..., D]."""
  dim: int
  rank: int

  @nn.compact
  def __call__(self, x):
    y = nn.LayerNorm()(x)
    y = nn.swish(nn.Dense(self.rank, name="down")(y))
    return x + nn.Dense(self.dim, name="up")(y)


class FeatureProjection(nn.Module):
  """Raw features -> one vector per encoder frame, for ``feature_router``.

  feats [B, >= factor * T, F], T -> [B, T, D]: frame k pools feature frames
  [factor k, factor k + factor) (mean and peak per bin), LayerNorm, Dense.
  With ``level`` the Dense also reads the mean and standard deviation over
  the 2F pooled values of the frame (what the LayerNorm removes).
  """
  dim: int
  factor: int
  level: bool = False

  @nn.compact
  def __call__(self, feats, t: int):
    b, _, f = feats.shape
    x = feats[:, :self.factor * t].reshape(b, t, self.factor, f)
    x = jnp.concatenate([x.mean(2), x.max(2)], axis=-1)
    y = nn.LayerNorm()(x)
    if self.level:
      y = jnp.concatenate([y, x.mean(-1, keepdims=True), x.std(-1, keepdims=True)], axis=-1)
    return nn.Dense(self.dim, name="proj")(y)


class Router(nn.Module):
  """Chunk-mean of the trunk output -> logits (cheap, expensive).

  x: [N, C, D] chunks, valid: [N, C] bool -> logits [N, 2]. With a history
  (``router_context``: hist [N, K, D], hist_valid [N, K]) the MLP reads the
  chunk mean and the history mean side by side ([N, 2D]). ``per_frame``: the
  LayerNorm and hidden layer run on every frame first; the output layer reads
  the chunk's mean and max and the history's mean of them ([N, 2H or 3H]).
  """
  hidden: int
  init_bias: float = 0.0
  per_frame: bool = False

  @nn.compact
  def __call__(self, x, valid, hist=None, hist_valid=None, hist_is_hidden: bool = False,
               with_hidden: bool = False):
    """``hist_is_hidden`` (``per_frame``): ``hist`` [N, K, H] already holds
    the hidden layer's output for the history frames (streaming keeps it, so
    each frame's hidden layer runs once). ``with_hidden``: also return the
    chunk's hidden frames [N, C, H] (``per_frame``) for that history."""
    def pooled(a, v):
      w = v[..., None].astype(a.dtype)
      return jnp.sum(a * w, axis=1) / jnp.maximum(jnp.sum(w, axis=1), 1.0)
    hx = None
    if self.per_frame:
      ln, dense = nn.LayerNorm(), nn.Dense(self.hidden, name="hidden")
      frames = lambda a: nn.relu(dense(ln(a)))  # [N, T, H], >= 0
      hx = frames(x)
      parts = [pooled(hx, valid), jnp.max(jnp.where(valid[..., None], hx, 0.0), axis=1)]
      if hist is not None:
        parts.append(pooled(hist if hist_is_hidden else frames(hist), hist_valid))
      h = jnp.concatenate(parts, axis=-1)
    else:
      mean = pooled(x, valid)
      if hist is not None:
        mean = jnp.concatenate([mean, pooled(hist, hist_valid)], axis=-1)
      h = nn.relu(nn.Dense(self.hidden, name="hidden")(nn.LayerNorm()(mean)))
    bias_init = lambda key, shape, dtype=jnp.float32: jnp.array([0.0, self.init_bias], dtype)
    logits = nn.Dense(2, bias_init=bias_init, name="logits")(h)
    return (logits, hx) if with_hidden else logits


def speech_targets(spans, num_chunks: int, chunk_s: float):
  """Share of each chunk inside the speech span.

  spans [B, 2] (start, end) seconds from the request start, negative =
  unknown; chunk k covers [k chunk_s, (k + 1) chunk_s). Returns (targets
  [B, N] in [0, 1], known [B] float 1/0).
  """
  start = jnp.arange(num_chunks)[None] * chunk_s
  s0, s1 = spans[:, :1], spans[:, 1:]
  overlap = jnp.clip(jnp.minimum(start + chunk_s, s1) - jnp.maximum(start, s0), 0.0, chunk_s)
  return overlap / chunk_s, (spans[:, 1] >= 0).astype(jnp.float32)


def router_speech_bce(logits, targets):
  """Per-chunk binary cross-entropy of p(expensive) (logits [..., 2])
  against soft targets [...] in [0, 1]."""
  logp = jax.nn.log_softmax(logits, axis=-1)
  return -(targets * logp[..., 1] + (1.0 - targets) * logp[..., 0])


def straight_through_gumbel(rng, logits, tau: float):
  """Hard one-hot sample [..., 2] whose gradient is the relaxed sample's."""
  g = jax.random.gumbel(rng, logits.shape, logits.dtype)
  soft = jax.nn.softmax((logits + g) / tau, axis=-1)
  hard = jax.nn.one_hot(jnp.argmax(soft, axis=-1), logits.shape[-1], dtype=soft.dtype)
  return hard + soft - jax.lax.stop_gradient(soft)


def p_expensive(logits):
  """Router probability of the expensive branch, logits [..., 2] -> [...]."""
  return jax.nn.softmax(logits, axis=-1)[..., 1]


# --- compute ------------------------------------------------------------------

def _block_flops(cfg, keys: int, conv: bool = True) -> float:
  """Multiply-adds x 2 per encoder frame of one block attending to ``keys``."""
  d = cfg.dim
  ffn = 2 * 2 * d * cfg.ffn_mult * d
  attn = 2 * 4 * d * d + 2 * 2 * d * keys
  f = attn + ffn * (2 if cfg.kind == "conformer" else 1)
  if cfg.kind == "conformer" and conv:
    f += 2 * (2 * d * d + d * d) + 2 * d * cfg.conv_kernel
  return float(f)


def _subsample_flops(cfg, num_bins: int) -> float:
  """Convolutional subsampling FLOPs per encoder frame (VALID 3x3 stride 2)."""
  c = cfg.subsample_channels
  f1 = (num_bins - 3) // 2 + 1
  f2 = (f1 - 3) // 2 + 1
  per = cfg.subsample_factor // 4  # x8 stacks two x4 frames
  conv1 = 2 * 9 * c * f1 * 2 * per
  conv2 = 2 * 9 * c * c * f2 * per
  proj = 2 * f2 * c * per * cfg.dim
  return float(conv1 + conv2 + proj)


def encoder_flops(cfg, num_bins: int = 80) -> dict:
  """Analytic FLOPs per encoder frame of each part of the encoder.

  Returns dict: subsample, trunk, router, expensive, cheap (0 for the last
  three without branching), fixed (everything but the routed branches),
  full (fixed + expensive: every chunk expensive), min (fixed + cheap) and
  backfill (``onset_backfill``: the extra FLOPs per frame of a chunk that
  an onset re-runs through the expensive branch; else 0). Attention counts
  the average number of keys a frame sees.
  """
  c = cfg.chunk_size
  keys_trunk = (cfg.left_context + (c + 1) / 2) if c > 0 else 0
  sub = _subsample_flops(cfg, num_bins)
  trunk = cfg.num_layers * _block_flops(cfg, keys_trunk)
  out = {"subsample": sub, "trunk": trunk, "router": 0.0, "expensive": 0.0, "cheap": 0.0,
         "backfill": 0.0}
  br = cfg.branching
  if br.enabled:
    d = cfg.dim
    k = br.router_context
    if br.router_per_frame:  # hidden layer once per frame (streaming keeps the history's)
      out["router"] = (2 * d * br.router_hidden * c
                       + 2 * (3 if k else 2) * br.router_hidden * 2) / max(c, 1)
      out["router"] += br.router_hidden * k / max(c, 1)  # the history's mean, once per chunk
    else:
      router_in = d * (2 if k else 1)
      out["router"] = (2 * router_in * br.router_hidden + 2 * br.router_hidden * 2) / max(c, 1) + d
      out["router"] += d * k / max(c, 1)  # the history's mean, once per chunk
    if br.feature_router:
      # The subsampling runs only on expensive chunks; the projection of
      # the pooled features is shared; a cheap chunk leaves no keys.
      level = 2 if br.router_level else 0
      proj = 2 * (2 * num_bins + level) * d + 2 * num_bins * cfg.subsample_factor
      out["router"] += proj
      out["expensive"] = sub + br.expensive_layers * _block_flops(cfg, keys_trunk)
      out["cheap"] = float(2 * 2 * d * br.cheap_rank)
      if br.cheap_carry:  # the carry's D x D projection, once per chunk
        out["cheap"] += 2 * d * d / max(c, 1)
      sub = 0.0
    elif br.cross_chunk:
      # Attention over the left context; a skipped chunk still projects
      # keys and values (2 D x D matrices) in every expensive block.
      out["expensive"] = br.expensive_layers * _block_flops(cfg, keys_trunk)
      out["cheap"] = float(2 * 2 * d * br.cheap_rank) + br.expensive_layers * 2 * 2 * d * d
    else:
      out["expensive"] = br.expensive_layers * _block_flops(cfg, (c + 1) / 2)
      out["cheap"] = float(2 * 2 * d * br.cheap_rank)
  if br.enabled and br.onset_backfill:
    out["backfill"] = out["expensive"]  # the previous chunk through the expensive branch
  out["fixed"] = sub + trunk + out["router"]
  out["full"] = out["fixed"] + out["expensive"]
  out["min"] = out["fixed"] + out["cheap"]
  return out


def cost_penalty(cost, target: float):
  """The compute term that lambda weighs: ``cost`` itself (target 0) or, with
  a budget ``target`` in (0, 1), only the excess ``max(0, cost - target)``."""
  return cost if target <= 0 else jax.nn.relu(cost - target)


def relative_cost(cfg, p, num_bins: int = 80):
  """Expected encoder compute relative to all-expensive for a fraction ``p``
  of expensive chunks (module docstring)."""
  f = encoder_flops(cfg, num_bins)
  return (f["fixed"] + p * f["expensive"] + (1 - p) * f["cheap"]) / f["full"]
