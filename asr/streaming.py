"""Streaming recognition: audio in chunks of any size, partial results, finalize.

A :class:`StreamingRecognizer` holds B concurrent streams. Each keeps its
unconsumed samples, its normalized feature frames and its encoder state
(attention key/value and convolution caches); one jitted call encodes the next
chunk of every stream that has a full window (streams without one are carried
through unchanged), and the shared :class:`asr.decoding.beam.BeamSearch`
consumes the new encoder frames. The result equals offline decoding of the
same audio (tested), because features are framed identically and the
chunk-by-chunk encoder equals the masked full-utterance run.

Biasing: per-stream phrase lists drive shallow fusion (context graphs) and,
for CATT models, attention biasing (the list is encoded once per stream).

Models trained with per-utterance CMVN (``data.cmvn="utterance"``) stream with
its causal estimate (:mod:`asr.data.cmvn`): statistics from the audio heard
before the request (``accept_prefix``: the wake-word segment) plus the request
so far, refreshed every ``cmvn_block`` feature frames (8: 80 ms). Streaming then equals
offline decoding with ``cmvn="causal"`` (tested); the WER cost against the
whole-utterance statistics is measured in ``benchmarks/streaming_speed.py``.
"""

import copy
import functools
from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from asr.biasing import context_graph as cg
from asr.biasing import pointer as pointer_lib
from asr.data import cmvn as cmvn_lib
from asr.data import features as features_lib
from asr.data import pipeline
from asr.decoding import beam as beam_lib
from asr.decoding import ctc_rescore
from asr.evaluation import evaluate
from asr.models import encoder as encoder_lib
from asr.models import transducer

HOP = features_lib.HOP
WINDOW = features_lib.WINDOW


@functools.partial(jax.jit, static_argnames=("model", "with_ctc"))
def _encode_chunk(model, params, window, num_valid, state, ctx, ctx_mask, advance,
                  with_ctc=False):
  if with_ctc:
    enc, new_state, ctc = model.apply({"params": params}, window, num_valid, state, ctx, ctx_mask,
                                      method=transducer.Transducer.encode_stream_with_ctc)
  else:
    enc, new_state = model.apply({"params": params}, window, num_valid, state, ctx, ctx_mask,
                                 method=transducer.Transducer.encode_stream)
    ctc = None
  # Streams that did not advance keep their state.
  keep = lambda n, o: jnp.where(advance.reshape((-1,) + (1,) * (n.ndim - 1)), n, o)
  return enc, jax.tree_util.tree_map(keep, new_state, state), ctc


class StreamingRecognizer:
  """B concurrent streams over one model.

  Args:
    rec: an :class:`asr.inference.Recognizer` (model, params, norm, tokenizer).
    num_streams: B.
    beam: beam size.
    phrases: per-stream biasing phrase lists (or None).
    shallow: apply shallow fusion with the phrase lists.
    attention: apply attention biasing (CATT models).
    context_score: shallow-fusion bonus per token.
    cmvn_block: feature frames per update of the causal CMVN statistics
      (models trained with ``data.cmvn="utterance"`` only).
    ilm_weight: the beam search's internal-LM subtraction
      (:class:`asr.decoding.beam.BeamSearch`); None = the config's
      ``eval.ilm_weight`` (0 when absent), as offline evaluation uses.
    ctc_rescore_weight, ctc_rescore_bonus: CTC rescoring of each stream's final
      beam (:mod:`asr.decoding.ctc_rescore`; beam > 1, models with a CTC head):
      the CTC head runs on every request chunk's encoder frames and
      ``finalize`` reorders the N-best by ``score + w * log P_CTC + b * |y|``,
      as offline decoding does; None = the config's ``eval`` settings.
  """

  def __init__(self, rec, num_streams: int = 1, beam: int = 4,
               phrases: Sequence[Sequence[str]] | None = None, shallow: bool = True,
               attention: bool = True, context_score: float = 2.0,
               cmvn_block: int = cmvn_lib.DEFAULT_BLOCK, ilm_weight: float | None = None,
               ctc_rescore_weight: float | None = None, ctc_rescore_bonus: float | None = None):
    self.rec = rec
    self.model, self.params = rec.model, rec.params
    ecfg = self.model.cfg.encoder
    if ecfg.chunk_size <= 0:
      raise ValueError("streaming needs an encoder trained with chunk_size > 0")
    mode = rec.config.data.get("cmvn", "global")
    if mode not in ("global", "utterance"):
      raise ValueError(f"cannot stream a model with data.cmvn={mode!r}")
    self.causal = mode == "utterance"  # per-utterance CMVN -> its causal estimate
    self.cmvn_block = cmvn_block
    self.b = num_streams
    self.factor = ecfg.subsample_factor
    self.chunk = ecfg.chunk_size
    self.window = encoder_lib.stream_window(ecfg)
    self.hop = self.factor * self.chunk
    self.mean, self.std = (np.asarray(x) for x in rec.norm)
    self.num_bins = self.model.cfg.num_mel_bins
    lists = [list(p) for p in phrases] if phrases is not None else [[] for _ in range(self.b)]
    graphs = None
    if shallow and any(lists):
      graphs = [cg.ContextGraph.from_phrases(l, rec.tokenizer.encode, context_score) if l else None
                for l in lists]
    self.ctx = self.ctx_mask = None
    trees = None
    if attention and self.model.cfg.biasing.enabled:
      phrase_tokens = pipeline.PhraseTokens(rec.tokenizer)
      ctx, mask = evaluate.encode_lists(self.model, self.params, phrase_tokens, lists)
      self.ctx, self.ctx_mask = np.asarray(ctx), np.asarray(mask)
      if self.model.cfg.biasing.pointer:  # tree-constrained pointer over the same lists
        trees = pointer_lib.trees_for_lists(lists, phrase_tokens.ids)
    settings = evaluate.search_settings(rec.config, beam)
    if ilm_weight is None:
      ilm_weight = evaluate.search_settings(rec.config)["ilm_weight"]
    self.ctc_weight = (settings["ctc_rescore_weight"] if ctc_rescore_weight is None
                       else ctc_rescore_weight) if beam > 1 else 0.0
    self.ctc_bonus = (settings["ctc_rescore_bonus"] if ctc_rescore_bonus is None
                      else ctc_rescore_bonus)
    if self.ctc_weight and not self.model.cfg.ctc_head:
      raise ValueError("ctc_rescore_weight needs a model with a CTC head (train.ctc_weight > 0)")
    # Per stream, the CTC log-probabilities of its decoded request frames.
    self.ctc_frames: list[list[np.ndarray]] = [[] for _ in range(self.b)]
    self.search = beam_lib.BeamSearch(self.model, self.params, self.b, beam, graphs,
                                      self.ctx, self.ctx_mask, trees=trees, ilm_weight=ilm_weight)
    self.state = encoder_lib.init_stream_state(ecfg, self.b, self.num_bins)
    self.samples = [np.zeros(0, np.float32) for _ in range(self.b)]
    self.feats = [np.zeros((0, self.num_bins), np.float32) for _ in range(self.b)]
    self.cmvn = [cmvn_lib.CausalCmvn(None, self.num_bins, cmvn_block) if self.causal else None
                 for _ in range(self.b)]
    self.num_samples = np.zeros(self.b, np.int64)  # samples received
    self.frames_done = np.zeros(self.b, np.int64)  # feature frames consumed by chunks
    self.enc_emitted = np.zeros(self.b, np.int64)  # encoder frames decoded
    self.context_enc = np.zeros(self.b, np.int64)  # stream-context encoder frames (not decoded)
    self.finished = np.zeros(self.b, bool)
    # Per stream, the quietest model-input frame seen so far (lowest mean over
    # bins after normalization): the padding of a look-ahead peek.
    self.quiet: list[np.ndarray | None] = [None] * self.b

  # --- input --------------------------------------------------------------

  @staticmethod
  def _clean(samples) -> np.ndarray:
    """int16 or float audio -> float32 in [-1, 1]; NaN -> 0, +-inf and
    out-of-range values clipped."""
    x = np.asarray(samples).reshape(-1)
    if x.dtype == np.int16:
      x = x.astype(np.float32) / 32768.0
    x = np.nan_to_num(x.astype(np.float32), nan=0.0, posinf=1.0, neginf=-1.0)
    return np.clip(x, -1.0, 1.0)

  def accept_prefix(self, samples: np.ndarray, stream: int = 0):
    """Audio heard before the request (the wake-word segment, same speaker and
    channel): the first statistics of causal CMVN. Must come before any
    request audio; a no-op for globally normalized models."""
    if self.num_samples[stream] or self.finished[stream]:
      raise RuntimeError(f"stream {stream}: accept_prefix must precede accept_waveform")
    if not self.causal:
      return
    x = self._clean(samples)
    prefix = (features_lib.log_mel(x, self.num_bins)
              if len(x) >= WINDOW else None)
    self.cmvn[stream] = cmvn_lib.CausalCmvn(prefix, self.num_bins, self.cmvn_block)

  @property
  def _stream_context(self) -> dict:
    return self.rec.config.data.get("stream_context") or {}

  @property
  def has_stream_context(self) -> bool:
    """Whether the model was trained with stream context (data.stream_context)."""
    return bool(self._stream_context.get("enabled", False))

  def accept_wake(self, samples: np.ndarray, stream: int = 0):
    """The wake-word segment, as the model was trained to use it: stream
    context (``accept_context``) for models trained with it, else the
    causal-CMVN prefix (``accept_prefix``)."""
    if self.has_stream_context:
      self.accept_context(samples, stream)
    else:
      self.accept_prefix(samples, stream)

  def accept_context(self, samples: np.ndarray, stream: int = 0,
                     max_seconds: float | None = None):
    """Stream context (models trained with ``data.stream_context``): the audio
    just before the request (the wake-word segment). Its last whole encoder
    chunks (``data.stream_context.align="frame"``: whole encoder frames,
    led by masked padding up to whole chunks, the state's ``lead_pad``), at
    most ``max_seconds`` (default: the model's), run through the encoder,
    whose caches then carry into the request; they emit no tokens, and
    hypothesis times count request frames. Must precede ``accept_waveform``;
    for causal-CMVN models it also sets the first statistics
    (``accept_prefix``). Equals offline decoding with the same context
    (tested)."""
    if self.num_samples[stream] or self.finished[stream]:
      raise RuntimeError(f"stream {stream}: accept_context must precede accept_waveform")
    if max_seconds is None:
      max_seconds = self._stream_context.get("max_seconds", 1.5)
    if self.causal:
      self.accept_prefix(samples, stream)
    x = self._clean(samples)
    frames = pipeline.wake_window_frames(max_seconds, self.factor, self.chunk)
    unit = self.factor if self._stream_context.get("align", "chunk") == "frame" else self.hop
    n = min(len(x) // HOP, frames) // unit * unit
    if n:
      pad = -n % self.hop  # feature frames of masked padding up to whole chunks
      total = (n + pad) // self.factor
      self.context_enc[stream] = total
      if "context_left" in self.state:  # context-anchor models pool these chunks
        self.state["context_left"] = self.state["context_left"].at[stream].set(total)
      if pad:
        self.feats[stream] = np.zeros((pad, self.num_bins), np.float32)
        self.state["lead_pad"] = self.state["lead_pad"].at[stream].set(pad // self.factor)
      self.accept_waveform(x[len(x) - n * HOP:], stream)

  def accept_waveform(self, samples: np.ndarray, stream: int = 0):
    """Appends audio (int16, or float in [-1, 1]) to a stream and decodes
    every chunk that became complete. Empty chunks are a no-op; NaN samples
    count as 0 and out-of-range samples are clipped."""
    if self.finished[stream]:
      raise RuntimeError(f"stream {stream} was finalized")
    x = self._clean(samples)
    if x.size == 0:
      return
    self.num_samples[stream] += len(x)
    buf = np.concatenate([self.samples[stream], x])
    n = features_lib.num_frames(len(buf))
    if n:
      f = features_lib.log_mel(buf[:(n - 1) * HOP + WINDOW], self.num_bins)
      self._push_feats(stream, f)
      buf = buf[n * HOP:]
    self.samples[stream] = buf
    self._run_ready()

  def _push_feats(self, stream: int, f: np.ndarray, flush: bool = False):
    if self.causal:
      f = self.cmvn[stream].push(f, flush=flush)
    if len(f):
      g = (f - self.mean) / self.std
      self.feats[stream] = np.concatenate([self.feats[stream], g])
      level = g.mean(axis=1)
      i = int(np.argmin(level))
      if self.quiet[stream] is None or level[i] < self.quiet[stream].mean():
        self.quiet[stream] = g[i].astype(np.float32)

  def _ready(self, s: int) -> bool:
    return not self.finished[s] and len(self.feats[s]) >= self.window

  def _run_ready(self, final: Sequence[int] = ()):
    while True:
      advance = np.array([self._ready(s) or s in final for s in range(self.b)])
      if not advance.any():
        return
      windows = np.zeros((self.b, self.window, self.num_bins), np.float32)
      num_valid = np.zeros(self.b, np.int32)
      for s in range(self.b):
        if not advance[s]:
          continue
        w = self.feats[s][:self.window]
        windows[s, :len(w)] = w
        if s in final:  # partial last chunk: count the real encoder frames
          total = int(encoder_lib.subsampled_lengths(self.frames_done[s] + len(self.feats[s]),
                                                     self.factor))
          num_valid[s] = max(0, min(self.chunk, total - self.enc_emitted[s]))
        else:
          num_valid[s] = self.chunk
      enc, self.state, ctc = _encode_chunk(self.model, self.params, windows, num_valid,
                                           self.state, self.ctx, self.ctx_mask, advance,
                                           with_ctc=bool(self.ctc_weight))
      in_context = advance & (self.enc_emitted < self.context_enc)
      if ctc is not None:
        ctc = np.asarray(ctc)
        for s in range(self.b):
          if advance[s] and not in_context[s] and num_valid[s]:
            self.ctc_frames[s].append(ctc[s, :num_valid[s]])
      if not in_context.any():
        self.search.advance(np.asarray(enc), num_valid)
      elif (num_valid * ~in_context).any():  # context chunks feed the encoder state only
        self.search.advance(np.asarray(enc), np.where(in_context, 0, num_valid))
      for s in range(self.b):
        if advance[s]:
          self.feats[s] = self.feats[s][self.hop:]
          self.frames_done[s] += self.hop
          self.enc_emitted[s] += num_valid[s]
      if final:
        final = [s for s in final if num_valid[s] == self.chunk and len(self.feats[s]) > 0]
        if not final and not any(self._ready(s) for s in range(self.b)):
          return

  # --- output -------------------------------------------------------------

  def partial(self, stream: int = 0) -> str:
    """The current best hypothesis of a stream (before context refunds)."""
    hyps = self.search.hyps[stream]
    return self.rec.tokenizer.decode(hyps[0].tokens) if hyps else ""

  def finalize(self, streams: Sequence[int] | None = None,
               lookahead_frames: int = 0) -> list[list[dict]]:
    """Flushes the given streams (default: all) and returns every stream's
    N-best as [{"text", "score", "logp", "tokens", "times"}].

    ``lookahead_frames`` > 0 appends that many copies of the stream's quietest
    frame after its audio (as if the trailing silence had been heard), so that
    labels the transducer would emit a few frames late come out now; the
    padding's encoder frames are decoded too. Used by ``peek`` for
    speculative results; a real final end-point uses 0."""
    streams = range(self.b) if streams is None else streams
    todo = [s for s in streams if not self.finished[s]]
    if self.causal:
      for s in todo:  # frames still waiting for their first statistics
        self._push_feats(s, np.zeros((0, self.num_bins), np.float32), flush=True)
    if lookahead_frames > 0:
      for s in todo:
        if self.quiet[s] is not None:
          pad = np.repeat(self.quiet[s][None], lookahead_frames, axis=0)
          self.feats[s] = np.concatenate([self.feats[s], pad])
    self._run_ready(final=todo)
    for s in todo:
      self.finished[s] = True
    out = []
    for s, hs in enumerate(self.search.finalize()):
      nb = [{"text": self.rec.tokenizer.decode(h.tokens), "score": h.score,
             "logp": h.logp, "tokens": list(h.tokens), "times": list(h.times)} for h in hs]
      if self.ctc_weight and nb:
        lp = (np.concatenate(self.ctc_frames[s]) if self.ctc_frames[s]
              else np.zeros((0, self.model.cfg.vocab_size), np.float32))
        if len(lp):
          ll = ctc_rescore.nbest_ctc_scores(lp[None], [len(lp)], [[h["tokens"] for h in nb]])[0]
        else:  # no request frames: only the empty hypothesis is possible
          ll = np.array([0.0 if not h["tokens"] else -1e5 for h in nb])
        sc = ctc_rescore.combined_scores([h["score"] for h in nb], ll,
                                         [len(h["tokens"]) for h in nb], self.ctc_weight,
                                         self.ctc_bonus)
        for h, l, c in zip(nb, ll, sc):
          h["ctc"], h["score"] = float(l), float(c)
        nb = [nb[j] for j in np.argsort(-sc, kind="stable")]
      out.append(nb)
    return out

  def decoded_seconds(self, stream: int = 0) -> float:
    """Request audio decoded so far, in seconds (stream-context frames, which
    emit nothing, excluded): the clock of hypothesis times."""
    return float(max(0, self.enc_emitted[stream] - self.context_enc[stream])) * self.frame_seconds

  def peek(self, stream: int = 0, lookahead_frames: int = 0) -> list[dict]:
    """The N-best that ``finalize([stream], lookahead_frames)`` would return
    now (the pending partial chunk decoded), leaving the stream open and its
    state unchanged."""
    if self.finished[stream]:
      raise RuntimeError(f"stream {stream} was finalized")
    saved = (self.state, list(self.feats), self.frames_done.copy(), self.enc_emitted.copy(),
             self.finished.copy(), copy.deepcopy(self.cmvn), self.search, list(self.quiet),
             [list(f) for f in self.ctc_frames])
    search = copy.copy(self.search)  # pred/state arrays are replaced, never written in place
    search.hyps = [[copy.copy(h) for h in hs] for hs in self.search.hyps]
    search.frames = self.search.frames.copy()
    self.search = search
    try:
      return self.finalize([stream], lookahead_frames)[stream]
    finally:
      (self.state, self.feats, self.frames_done, self.enc_emitted, self.finished, self.cmvn,
       self.search, self.quiet, self.ctc_frames) = saved

  @property
  def seconds(self) -> np.ndarray:
    """Audio received per stream (seconds)."""
    return self.num_samples / features_lib.SAMPLE_RATE

  @property
  def frame_seconds(self) -> float:
    return self.factor * HOP / features_lib.SAMPLE_RATE
