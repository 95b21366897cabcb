"""Transformer transducer: encoder, prediction network, joint network.

The joint follows Graves (2012) / Chang et al. (2021):
``z = W_o tanh(W_a h_audio + W_l h_label + b)``, logits over the wordpiece
vocabulary with the blank at id 0.

Prediction network: ``lstm`` (embedding -> LSTM layers) or ``stateless``
(embedding of the last ``context_size`` labels, Ghodsi et al. 2020), both with
an explicit state for label-synchronous decoding:

* ``predict(labels [B, U])`` -> [B, U+1, P] outputs for the blank-prefixed
  label sequence (training);
* ``predict_step(token [B], state)`` -> ([B, P], state) (decoding).

Context biasing (CATT, ``asr.biasing.attention``) sits between the encoder /
prediction outputs and the joint: both streams attend over the encoded phrase
list and a combiner folds the result in. Every method takes the encoded
context ``ctx`` [B, N+1, C] and its mask [B, N+1] (from
:meth:`Transducer.encode_context`); ``None`` means "no list" (the model then
attends to its no-bias entry only).
"""

import dataclasses
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from asr.biasing import attention as bias_lib
from asr.biasing import pointer as pointer_lib
from asr.models import encoder as encoder_lib

BLANK_ID = 0


@dataclasses.dataclass(frozen=True)
class PredictorConfig:
  """Prediction network.

  Attributes:
    kind: "lstm" or "stateless".
    embed_dim: label embedding size.
    hidden: LSTM hidden size (lstm) / output size P.
    num_layers: LSTM layers (lstm only).
    context_size: labels seen by the stateless predictor.
    dropout: dropout on embeddings and outputs.
  """
  kind: str = "lstm"
  embed_dim: int = 128
  hidden: int = 256
  num_layers: int = 1
  context_size: int = 2
  dropout: float = 0.1


class Predictor(nn.Module):
  """Label encoder. Token id 0 (blank) doubles as the start-of-sequence token."""
  cfg: PredictorConfig
  vocab_size: int

  def setup(self):
    c = self.cfg
    self.embed = nn.Embed(self.vocab_size, c.embed_dim)
    if c.kind == "lstm":
      self.cells = [nn.OptimizedLSTMCell(c.hidden, name=f"lstm{i}") for i in range(c.num_layers)]
    elif c.kind == "stateless":
      self.mix = nn.Dense(c.hidden)
    else:
      raise ValueError(f"unknown predictor kind {c.kind!r}")
    self.drop = nn.Dropout(c.dropout)

  def init_state(self, batch: int) -> Any:
    c = self.cfg
    if c.kind == "lstm":
      return [(jnp.zeros((batch, c.hidden)), jnp.zeros((batch, c.hidden)))
              for _ in range(c.num_layers)]
    return jnp.zeros((batch, c.context_size), jnp.int32)  # last labels, blank-padded

  def predict_step(self, token, state, train: bool = False):
    """token: [B] int; returns (out [B, P], new state)."""
    c = self.cfg
    if c.kind == "lstm":
      x = self.drop(self.embed(token), deterministic=not train)
      new = []
      for cell, carry in zip(self.cells, state):
        carry, x = cell(carry, x)
        new.append(carry)
      return self.drop(x, deterministic=not train), new
    hist = jnp.concatenate([state[:, 1:], token[:, None]], axis=1)
    return self._stateless(hist[:, None], train)[:, 0], hist

  def _stateless(self, hist, train):
    """hist: [B, U, K] last K labels per position -> [B, U, P]."""
    e = self.drop(self.embed(hist), deterministic=not train)
    e = e.reshape(hist.shape[0], hist.shape[1], -1)
    return self.drop(nn.relu(self.mix(e)), deterministic=not train)

  def __call__(self, labels, train: bool = False):
    """labels: [B, U] (padding arbitrary) -> [B, U+1, P] for [blank; labels]."""
    c = self.cfg
    b, u = labels.shape
    seq = jnp.concatenate([jnp.zeros((b, 1), labels.dtype), labels], axis=1)
    if c.kind == "stateless":
      k = c.context_size
      padded = jnp.concatenate([jnp.zeros((b, k - 1), seq.dtype), seq], axis=1)
      hist = jnp.stack([padded[:, i:i + u + 1] for i in range(k)], axis=-1)
      return self._stateless(hist, train)
    x = self.drop(self.embed(seq), deterministic=not train)
    for cell in self.cells:
      scan = nn.scan(lambda mdl, carry, xt: mdl(carry, xt), variable_broadcast="params",
                     split_rngs={"params": False}, in_axes=1, out_axes=1)
      carry = (jnp.zeros((b, c.hidden)), jnp.zeros((b, c.hidden)))
      _, x = scan(cell, carry, x)
    return self.drop(x, deterministic=not train)


class Joint(nn.Module):
  """Additive joint: ``logits = W_o tanh(enc + pred)`` (enc/pred pre-projected)."""
  dim: int
  vocab_size: int

  def setup(self):
    self.enc_proj = nn.Dense(self.dim, name="enc_proj")
    self.pred_proj = nn.Dense(self.dim, use_bias=False, name="pred_proj")
    self.out = nn.Dense(self.vocab_size, name="out")

  def project(self, enc, pred):
    return self.enc_proj(enc), self.pred_proj(pred)

  def __call__(self, enc_p, pred_p):
    """Projected enc [..., J] and pred [..., J] (broadcastable) -> logits [..., V]."""
    return self.out(jnp.tanh(enc_p + pred_p))

  def hidden_and_logits(self, enc_p, pred_p):
    """(hidden tanh(enc + pred) [..., J], logits [..., V])."""
    h = jnp.tanh(enc_p + pred_p)
    return h, self.out(h)


@dataclasses.dataclass(frozen=True)
class TransducerConfig:
  encoder: encoder_lib.EncoderConfig = encoder_lib.EncoderConfig()
  predictor: PredictorConfig = PredictorConfig()
  joint_dim: int = 256
  vocab_size: int = 256
  num_mel_bins: int = 80
  biasing: bias_lib.BiasingConfig = bias_lib.BiasingConfig()
  # An auxiliary CTC head on the encoder (training only; see train.ctc_weight).
  ctc_head: bool = False
  # Trivial-joint projections of the pruned RNN-T loss (training only;
  # asr.losses.pruned, train.loss_impl="pruned").
  simple_joint: bool = False


class Transducer(nn.Module):
  """Transformer transducer. Methods are used through ``model.apply(..., method=)``.

  Training: ``__call__`` returns the projected encoder and prediction outputs
  (plus lengths); the loss evaluates the joint lazily in time slices
  (``asr.losses.rnnt.rnnt_loss_fused``) through :meth:`joint`.
  """
  cfg: TransducerConfig

  def setup(self):
    c = self.cfg
    self.encoder = encoder_lib.Encoder(c.encoder)
    self.predictor = Predictor(c.predictor, c.vocab_size)
    self.joint_net = Joint(c.joint_dim, c.vocab_size)
    if c.ctc_head:
      self.ctc = nn.Dense(c.vocab_size, name="ctc_head")
    if c.simple_joint:
      self.simple_am = nn.Dense(c.vocab_size, name="simple_am")
      self.simple_lm = nn.Dense(c.vocab_size, name="simple_lm")
    b = c.biasing
    if b.enabled:
      self.context_encoder = bias_lib.ContextEncoder(b, c.vocab_size)
      if b.audio_queries:
        self.audio_bias = bias_lib.BiasingAttention(b.num_heads, c.encoder.dim, b.dropout)
        self.audio_combiner = bias_lib.Combiner()
      if b.label_queries:
        self.label_bias = bias_lib.BiasingAttention(b.num_heads, c.predictor.hidden, b.dropout)
        self.label_combiner = bias_lib.Combiner()
    if b.pointer:
      if not b.enabled:
        raise ValueError("model.biasing.pointer needs model.biasing.enabled (the biasing lists)")
      self.pointer = pointer_lib.TreePointer(b.pointer_dim, c.vocab_size)

  @property
  def biased(self) -> bool:
    return self.cfg.biasing.enabled

  def encode_context(self, tokens, lengths):
    """Phrase tokens [B, N, L], lengths [B, N] -> (ctx [B, N+1, C], mask [B, N+1])."""
    return self.context_encoder(tokens, lengths), bias_lib.context_mask(lengths)

  def _default_ctx(self, batch, ctx, mask):
    if ctx is None:
      e = bias_lib.empty_context(batch)
      return self.encode_context(e["tokens"], e["lengths"])
    return ctx, mask

  def _bias_audio(self, enc, ctx, mask, train=False):
    if not (self.biased and self.cfg.biasing.audio_queries):
      return enc, None
    ctx, mask = self._default_ctx(enc.shape[0], ctx, mask)
    a, w = self.audio_bias(enc, ctx, mask, train)
    return self.audio_combiner(enc, a), w

  def _bias_label(self, pred, ctx, mask, train=False):
    """pred: [B, U, P] or [B, P]."""
    if not (self.biased and self.cfg.biasing.label_queries):
      return pred, None
    squeeze = pred.ndim == 2
    q = pred[:, None] if squeeze else pred
    ctx, mask = self._default_ctx(q.shape[0], ctx, mask)
    a, w = self.label_bias(q, ctx, mask, train)
    out = self.label_combiner(q, a)
    return (out[:, 0] if squeeze else out), w

  def __call__(self, feats, feat_lengths, labels, context=None, train: bool = False, wake=None):
    """feats [B, T, F], feat_lengths [B], labels [B, U]; context: optional dict
    with phrase ``tokens`` [B, N, L] and ``lengths`` [B, N]; wake: optional
    stream context (wake_feats [B, Tw, F], wake_lengths [B]), see
    :mod:`asr.models.encoder` (outputs cover the request only).

    Returns dict: enc [B, T', J] (projected), enc_lengths [B],
    pred [B, U+1, J] (projected), ctc [B, T', V] logits if the model has a CTC head,
    am [B, T', V] / lm [B, U+1, V] trivial-joint logits (``simple_joint``),
    label_attn [B, heads, U+1, N+1] (biased models with label queries),
    routing (branching encoders: router logits [B, N, 2], valid [B, N],
    expensive [B, N]; see ``Encoder.forward``).
    """
    enc, enc_lengths, routing = self.encoder.forward(feats, feat_lengths, train, wake)
    pred = self.predictor(labels, train)
    extra = {"ctc": self.ctc(enc)} if self.cfg.ctc_head else {}
    if routing is not None:
      extra["routing"] = routing
    if self.biased:
      if context is None:
        context = bias_lib.empty_context(feats.shape[0])
      ctx, mask = self.encode_context(context["tokens"], context["lengths"])
      enc, _ = self._bias_audio(enc, ctx, mask, train)
      pred, label_w = self._bias_label(pred, ctx, mask, train)
      if label_w is not None:
        extra["label_attn"] = label_w  # [B, heads, U+1, N+1], for the guided-attention loss
    enc_p, pred_p = self.joint_net.project(enc, pred)
    if self.cfg.simple_joint:
      extra["am"], extra["lm"] = self.simple_am(enc_p), self.simple_lm(pred_p)
    return {"enc": enc_p, "enc_lengths": enc_lengths, "pred": pred_p, **extra}

  def attention_maps(self, feats, feat_lengths, labels, context):
    """Biasing attention weights for visualization.

    Returns dict: audio [B, H, T', N+1], label [B, H, U+1, N+1] (either None if
    that query kind is off), enc_lengths [B].
    """
    enc, enc_lengths = self.encoder(feats, feat_lengths, False)
    pred = self.predictor(labels, False)
    ctx, mask = self.encode_context(context["tokens"], context["lengths"])
    _, wa = self._bias_audio(enc, ctx, mask)
    _, wl = self._bias_label(pred, ctx, mask)
    return {"audio": wa, "label": wl, "enc_lengths": enc_lengths}

  def joint(self, enc_p, pred_p):
    return self.joint_net(enc_p, pred_p)

  @property
  def has_pointer(self) -> bool:
    return self.cfg.biasing.pointer

  def pointer_arcs(self, enc_p, pred_p, next_labels, cands, cand_mask, target):
    """Arc log-probabilities with the tree-constrained pointer mixed in.

    enc_p [B, t, 1, J], pred_p [B, 1, U1, J] (projected), next_labels [B, U1],
    cands / cand_mask [B, U1, K], target [B, U1] (candidate index of the next
    label, -1 if none). Returns (blank [B, t, U1], label [B, t, U1]) log-probs
    of :func:`asr.biasing.pointer.mix_label_logprobs`.
    """
    h, logits = self.joint_net.hidden_and_logits(enc_p, pred_p)
    logp = jax.nn.log_softmax(logits.astype(jnp.float32), axis=-1)
    blank = logp[..., BLANK_ID]
    idx = jnp.broadcast_to(next_labels[:, None, :, None], logp.shape[:-1] + (1,))
    label = jnp.take_along_axis(logp, idx, axis=-1)[..., 0]
    ptr_logp, gate = self.pointer(h, logits, cands, cand_mask)
    tidx = jnp.broadcast_to(jnp.maximum(target, 0)[:, None, :, None], ptr_logp.shape[:-1] + (1,))
    ptr_t = jnp.take_along_axis(ptr_logp, tidx, axis=-1)[..., 0]
    ptr_t = jnp.where((target >= 0)[:, None], ptr_t, pointer_lib.NEG)
    has = jnp.any(cand_mask, axis=-1)[:, None]
    return blank, pointer_lib.mix_label_logprobs(blank, label, ptr_t, gate, has)

  def pointer_logprobs(self, enc_rows, pred_rows, cands, cand_mask, log_scale=None):
    """Decoding: rows [n, J] each with candidates [n, K] -> mixed log-probs [n, V];
    log_scale: optional [n] log factors on the generation probability."""
    h, logits = self.joint_net.hidden_and_logits(enc_rows, pred_rows)
    logp = jax.nn.log_softmax(logits.astype(jnp.float32), axis=-1)
    ptr_logp, gate = self.pointer(h[:, None, None], logits[:, None, None], cands[:, None],
                                  cand_mask[:, None])
    return pointer_lib.full_logprobs(logp, ptr_logp[:, 0, 0], gate[:, 0, 0], cands, cand_mask,
                                     log_scale)

  def init_all(self, feats, feat_lengths, labels):
    """Touches every submodule (for ``init``): forward pass plus one joint."""
    ctx = {"tokens": jnp.ones((feats.shape[0], 2, 3), jnp.int32),
           "lengths": jnp.full((feats.shape[0], 2), 3, jnp.int32)}
    out = self(feats, feat_lengths, labels, ctx)
    if self.has_pointer:
      b = feats.shape[0]
      cands = jnp.ones((b, 1, 2), jnp.int32)
      self.pointer_logprobs(out["enc"][:, 0], out["pred"][:, 0], cands[:, 0], cands[:, 0] > 0)
    return self.joint(out["enc"][:, :1, None], out["pred"][:, None, :1])

  # --- decoding -------------------------------------------------------------

  def encode(self, feats, feat_lengths, ctx=None, ctx_mask=None, wake=None):
    """Projected (biased) encoder output [B, T', J] and lengths [B] (inference);
    ``wake``: optional stream context, as in ``__call__``."""
    enc, lengths = self.encoder(feats, feat_lengths, False, wake)
    enc, _ = self._bias_audio(enc, ctx, ctx_mask)
    return self.joint_net.enc_proj(enc), lengths

  def ctc_logprobs(self, feats, feat_lengths, wake=None):
    """CTC-head log-probabilities [B, T', V] on the unbiased encoder output,
    and lengths [B] (keyword spotting, ``asr.biasing.kws``)."""
    self._require_ctc()
    enc, lengths = self.encoder(feats, feat_lengths, False, wake)
    return self._ctc_logprobs(enc), lengths

  def _require_ctc(self):
    if not self.cfg.ctc_head:
      raise ValueError("this model has no CTC head (it was trained with train.ctc_weight=0)")

  def _ctc_logprobs(self, enc):
    """[B, T', V] CTC-head log-probabilities of (unbiased) encoder frames."""
    return jax.nn.log_softmax(self.ctc(enc).astype(jnp.float32), axis=-1)

  def encode_with_ctc(self, feats, feat_lengths, ctx=None, ctx_mask=None, wake=None):
    """``encode``'s (projected, biased enc [B, T', J], lengths [B]) and the CTC
    head's log-probabilities [B, T', V] on the unbiased output, from one encoder
    pass (CTC rescoring, ``asr.decoding.ctc_rescore``)."""
    self._require_ctc()
    enc, lengths = self.encoder(feats, feat_lengths, False, wake)
    biased, _ = self._bias_audio(enc, ctx, ctx_mask)
    return self.joint_net.enc_proj(biased), lengths, self._ctc_logprobs(enc)

  def routing(self, feats, feat_lengths, wake=None):
    """Inference routing of a branching encoder (``Encoder.forward``'s dict)."""
    return self.encoder.forward(feats, feat_lengths, False, wake)[2]

  def encode_stream(self, window, num_valid, state, ctx=None, ctx_mask=None, force_route=None):
    """One streaming chunk -> (projected enc [B, C, J], new state)."""
    enc, state = self.encoder.stream(window, num_valid, state, force_route)
    enc, _ = self._bias_audio(enc, ctx, ctx_mask)
    return self.joint_net.enc_proj(enc), state

  def encode_stream_with_ctc(self, window, num_valid, state, ctx=None, ctx_mask=None):
    """``encode_stream`` plus the chunk's CTC-head log-probabilities [B, C, V]
    on the unbiased output (streaming CTC rescoring)."""
    self._require_ctc()
    enc, state = self.encoder.stream(window, num_valid, state, None)
    biased, _ = self._bias_audio(enc, ctx, ctx_mask)
    return self.joint_net.enc_proj(biased), state, self._ctc_logprobs(enc)

  def init_pred_state(self, batch: int):
    return self.predictor.init_state(batch)

  def predict_step(self, token, state, ctx=None, ctx_mask=None):
    """token [B] -> (projected prediction [B, J], new state); ctx rows per token."""
    out, state = self.predictor.predict_step(token, state)
    out, _ = self._bias_label(out, ctx, ctx_mask)
    return self.joint_net.pred_proj(out), state


def init_params(cfg: TransducerConfig, rng: jax.Array):
  """Initializes parameters with dummy inputs of a typical shape."""
  model = Transducer(cfg)
  feats = jnp.zeros((1, 96, cfg.num_mel_bins))
  lengths = jnp.array([96])
  labels = jnp.zeros((1, 4), jnp.int32)
  return model.init({"params": rng, "dropout": rng}, feats, lengths, labels,
                    method=Transducer.init_all)["params"]


def count_params(params) -> int:
  return sum(int(x.size) for x in jax.tree_util.tree_leaves(params))
