"""End-pointers: a trailing-silence rule and a learned end-of-query model.

**Rule** (:class:`RuleEndpointer`): sherpa-onnx's three endpoint rules with its
defaults. Trailing silence is the decoded audio since the last emitted label
(the whole decoded audio while nothing is decoded), as sherpa-onnx counts it:

* rule 1: >= 2.4 s of trailing silence and nothing decoded;
* rule 2: >= 1.2 s of trailing silence after some decoded text;
* rule 3: the utterance reached 20 s (maximum utterance length).

**Learned end of query** (:class:`EoqModel`, Shannon et al. 2017 /
Maas et al. 2018 in spirit): a GRU over 80 ms frames of causally normalized
log-mel features (8 10-ms frames mean-pooled, plus their peak energy; ``pool``
sets the frame, e.g. 4 for 40 ms decisions) that
predicts P(speech has ended) per frame, trained with per-frame cross-entropy
on the corpus's ``speech_end`` times. Two operating points read the same
output: the *speculative* threshold fires early (the device starts the
downstream work on the lattice it has), the *final* threshold fires later
(confirm, or revise and reset downstream). Thresholds are tuned on validation
(:func:`tune_thresholds`).

**Speculative operating point through a recognizer**
(:func:`retune_speculative`): the speculative end-point is chosen from the
revisions it would cause through the recognizer on validation streams
(clean, and with a competing talker mixed in as ``test_noisy``'s,
:func:`talker_streams`): its threshold, a quiet look-ahead for the
speculative decode, a *stability gate* (fire once the speculative result has
held ``stable_frames`` more end-of-query steps) and a *completion gate* (fire only if
a small LM finds the result complete, P(</s> | words) >= ``min_completion``).
The final end-point may be *held* (``final_hold_frames``).

Times: request time, 0 at the end of the wake word. Frame ``j`` of the
end-of-query model covers 10-ms feature frames ``[8j, 8j + 8)`` (``pool`` = 8),
so its value is known once ``0.08 (j + 1) + 0.015`` s of request audio has
arrived (:func:`frame_times`). Holds and stability gates count end-of-query
frames (``pool`` x 10 ms each).
"""

import dataclasses
import json
import logging
import os
import time
from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from asr.data import cmvn as cmvn_lib
from asr.data import features as features_lib

SR = features_lib.SAMPLE_RATE
POOL = 8  # 10-ms feature frames per end-of-query frame (the default; Eoq.pool)
FEATURE_DIM_EXTRA = 1  # peak energy of the pooled frames


# --- rule end-pointer ---------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class EndpointRule:
  """One sherpa-onnx endpoint rule."""
  must_contain_nonsilence: bool  # some text must have been decoded
  min_trailing_silence: float  # seconds
  min_utterance_length: float  # seconds


# sherpa-onnx OnlineRecognizer defaults (rule1, rule2, rule3).
SHERPA_RULES = (EndpointRule(False, 2.4, 0.0), EndpointRule(True, 1.2, 0.0),
                EndpointRule(False, 0.0, 20.0))


class RuleEndpointer:
  """Trailing-silence end-pointer (decoder silence: no label emitted)."""

  name = "rule"

  def __init__(self, rules: Sequence[EndpointRule] = SHERPA_RULES):
    self.rules = tuple(rules)

  def check(self, decoded_s: float, last_label_s: float | None) -> str | None:
    """Returns the name of the first rule that fires ("rule1".."rule3") or None.

    Args:
      decoded_s: request audio decoded so far (seconds).
      last_label_s: end of the encoder frame of the last emitted label of the
        best hypothesis, or None when nothing is decoded.
    """
    silence = decoded_s - (0.0 if last_label_s is None else last_label_s)
    for i, r in enumerate(self.rules):
      if r.must_contain_nonsilence and last_label_s is None:
        continue
      if silence >= r.min_trailing_silence and decoded_s >= r.min_utterance_length:
        return f"rule{i + 1}"
    return None


# --- learned end-of-query model ----------------------------------------------


def pool_features(norm_feats: np.ndarray, pool: int = POOL) -> np.ndarray:
  """Normalized 10-ms log-mel frames [T, F] -> end-of-query frames
  [T // pool, F + 1]: the mean of each ``pool`` frames and their peak mean
  energy."""
  t = len(norm_feats) // pool
  f = norm_feats.shape[1]
  x = np.asarray(norm_feats[:t * pool], np.float32).reshape(t, pool, f)
  return np.concatenate([x.mean(1), x.mean(2).max(1, keepdims=True)], axis=1)


def frame_times(num_frames: int, pool: int = POOL) -> np.ndarray:
  """Request time (s) at which each end-of-query frame's input is complete."""
  j = np.arange(num_frames)
  return (pool * (j + 1) - 1) * features_lib.HOP / SR + features_lib.WINDOW / SR


def stream_features(audio: np.ndarray, prefix: np.ndarray | None, num_bins: int = 80,
                    cmvn_block: int = 32, pool: int = POOL) -> np.ndarray:
  """Offline end-of-query features of a request (int16 or float audio) given
  the raw log-mel frames of its prefix: [T // pool, F + 1]; equals the
  streaming :class:`EoqStream` (same causal CMVN, same framing)."""
  f = features_lib.log_mel(audio, num_bins)
  return pool_features(cmvn_lib.causal_cmvn(f, prefix, cmvn_block), pool)


class EoqModel(nn.Module):
  """P(end of query) per end-of-query frame (80 ms by default): Dense -> GRU -> Dense.

  Attributes:
    hidden: GRU width.
  """
  hidden: int = 64

  @nn.compact
  def __call__(self, x, carry=None):
    """x: [B, T, F + 1] pooled features; carry: [B, hidden] or None.
    Returns (logits [B, T], carry [B, hidden])."""
    assert x.ndim == 3, x.shape
    h = nn.relu(nn.Dense(self.hidden, name="proj")(x))
    rnn = nn.RNN(nn.GRUCell(self.hidden, name="gru"), return_carry=True, name="rnn")
    carry, h = rnn(h, initial_carry=carry)
    return nn.Dense(1, name="out")(h)[..., 0], carry

  def init_carry(self, batch: int):
    return jnp.zeros((batch, self.hidden), jnp.float32)


@dataclasses.dataclass
class Eoq:
  """A trained end-of-query model with its two operating points."""
  model: EoqModel
  params: dict
  speculative: float  # threshold on P(ended)
  final: float
  num_bins: int = 80
  cmvn_block: int = 32
  # The speculative threshold tuned on acoustic early firing, when the one in
  # use was re-tuned on revisions through a recognizer (retune_speculative).
  acoustic_speculative: float | None = None
  # Speculative results are decoded with this many quiet feature frames
  # appended (StreamingRecognizer.peek), chosen with the threshold by
  # retune_speculative; 0 = the audio so far only.
  lookahead_frames: int = 0
  # The final end-point fires once P >= final has held for this many more
  # end-of-query frames (a hangover: a conservative final; the speculative
  # end-point, which has no hold, then runs ahead by about this much).
  final_hold_frames: int = 0
  # Stability gate of the speculative end-point: once P >= speculative, it
  # fires when its (peeked) result has stayed the same for this many more
  # end-of-query steps; 0 = at the crossing. Chosen by retune_speculative.
  stable_frames: int = 0
  # Completion gate (semantic end-pointing): the speculative end-point also
  # needs P(</s> | its result) >= min_completion under the language model in
  # ``completion_lm`` (a launch.train_lm workdir; lm_small has 0.45M
  # parameters, small enough for the device); 0 = no gate. Chosen by
  # retune_speculative.
  completion_lm: str = ""
  min_completion: float = 0.0
  # 10-ms feature frames per end-of-query frame: the model's decision period
  # (8 = 80 ms; 4 = 40 ms) and the unit of final_hold_frames and
  # stable_frames. Fixed at training (the model is trained on such frames).
  pool: int = POOL

  @property
  def frame_s(self) -> float:
    """Seconds per end-of-query frame."""
    return self.pool * features_lib.HOP / SR

  @property
  def step_samples(self) -> int:
    """Audio samples per end-of-query frame (a session's step)."""
    return self.pool * features_lib.HOP

  def completion(self, texts: Sequence[str]) -> np.ndarray:
    """P(</s> | text) per text under ``completion_lm`` (1 without one)."""
    if not self.completion_lm:
      return np.ones(len(texts))
    return np.exp(completion_model(self.completion_lm).eos_logprob(list(texts)))

  def final_fires(self, run: int) -> bool:
    """Whether ``run`` consecutive frames with P >= final fire the final end-point."""
    return run > self.final_hold_frames

  @classmethod
  def load(cls, workdir: str) -> "Eoq":
    from flax import serialization  # pylint: disable=g-import-not-at-top
    with open(os.path.join(workdir, "endpointer.json")) as f:
      meta = json.load(f)
    model = EoqModel(hidden=meta["hidden"])
    dim = meta["num_bins"] + FEATURE_DIM_EXTRA
    template = model.init(jax.random.PRNGKey(0), jnp.zeros((1, 1, dim)))["params"]
    with open(os.path.join(workdir, "params.msgpack"), "rb") as f:
      params = serialization.from_bytes(template, f.read())
    th = meta["thresholds"]
    return cls(model, params, th["speculative"], th["final"], meta["num_bins"],
               meta["cmvn_block"], th.get("acoustic_speculative"),
               int(th.get("speculative_lookahead_frames", 0)),
               int(th.get("final_hold_frames", 0)), int(th.get("speculative_stable_frames", 0)),
               th.get("completion_lm", ""), float(th.get("min_completion", 0.0)),
               int(meta.get("pool", POOL)))

  def save(self, workdir: str, extra: dict | None = None):
    from flax import serialization  # pylint: disable=g-import-not-at-top
    os.makedirs(workdir, exist_ok=True)
    with open(os.path.join(workdir, "params.msgpack"), "wb") as f:
      f.write(serialization.to_bytes(self.params))
    meta = {"hidden": self.model.hidden, "num_bins": self.num_bins, "cmvn_block": self.cmvn_block,
            "pool": self.pool,
            "thresholds": {"speculative": self.speculative, "final": self.final,
                           "speculative_lookahead_frames": self.lookahead_frames,
                           "final_hold_frames": self.final_hold_frames,
                           "speculative_stable_frames": self.stable_frames,
                           "completion_lm": self.completion_lm,
                           "min_completion": self.min_completion},
            **(extra or {})}
    with open(os.path.join(workdir, "endpointer.json"), "w") as f:
      json.dump(meta, f, indent=2)

  def probs(self, feats: np.ndarray) -> np.ndarray:
    """Offline P(ended) per frame of pooled features [T, F + 1] -> [T]."""
    if len(feats) == 0:
      return np.zeros(0, np.float32)
    logits, _ = _apply(self.model, self.params, jnp.asarray(feats)[None], None)
    return np.asarray(jax.nn.sigmoid(logits[0]))


_COMPLETION_LMS: dict = {}


def completion_model(workdir: str):
  """The language model of a completion gate (loaded once per process)."""
  if workdir not in _COMPLETION_LMS:
    from asr.lm import rescore  # pylint: disable=g-import-not-at-top
    _COMPLETION_LMS[workdir] = rescore.LanguageModel.from_workdir(workdir)
  return _COMPLETION_LMS[workdir]


def _apply(model, params, x, carry):
  return _apply_jit(model, params, x, carry)


_apply_jit = jax.jit(lambda model, params, x, carry: model.apply({"params": params}, x, carry),
                     static_argnums=(0,))


class EoqStream:
  """Streaming end-of-query probabilities of one stream (feature buffering,
  causal CMVN, GRU carry). ``push(samples)`` returns [(t, p)] for every
  end-of-query frame that became complete, t in request seconds (when its input is
  complete, :func:`frame_times`)."""

  def __init__(self, eoq: Eoq, prefix_audio: np.ndarray | None = None):
    self.eoq = eoq
    prefix = None
    if prefix_audio is not None and len(prefix_audio) >= features_lib.WINDOW:
      prefix = features_lib.log_mel(prefix_audio, eoq.num_bins)
    self.cmvn = cmvn_lib.CausalCmvn(prefix, eoq.num_bins, eoq.cmvn_block)
    self.samples = np.zeros(0, np.float32)
    self.norm = np.zeros((0, eoq.num_bins), np.float32)
    self.carry = eoq.model.init_carry(1)
    self.frames = 0  # end-of-query frames emitted

  def push(self, samples: np.ndarray, flush: bool = False) -> list[tuple[float, float]]:
    x = np.asarray(samples).reshape(-1)
    if x.dtype == np.int16:
      x = x.astype(np.float32) / 32768.0
    x = np.clip(np.nan_to_num(x.astype(np.float32), nan=0.0, posinf=1.0, neginf=-1.0), -1, 1)
    buf = np.concatenate([self.samples, x])
    n = features_lib.num_frames(len(buf))
    f = np.zeros((0, self.eoq.num_bins), np.float32)
    if n:
      f = features_lib.log_mel(buf[:(n - 1) * features_lib.HOP + features_lib.WINDOW],
                               self.eoq.num_bins)
      buf = buf[n * features_lib.HOP:]
    self.samples = buf
    self.norm = np.concatenate([self.norm, self.cmvn.push(f, flush=flush)])
    pool = self.eoq.pool
    pooled = pool_features(self.norm, pool)
    if len(pooled) == 0:
      return []
    self.norm = self.norm[len(pooled) * pool:]
    p = np.zeros(len(pooled), np.float32)
    for i in range(len(pooled)):  # one frame per call: a single compiled shape
      logit, self.carry = _apply(self.eoq.model, self.eoq.params, pooled[None, i:i + 1],
                                 self.carry)
      p[i] = 1.0 / (1.0 + np.exp(-float(logit[0, 0])))
    t = frame_times(self.frames + len(pooled), pool)[self.frames:]
    self.frames += len(pooled)
    return list(zip(t.tolist(), p.tolist()))


# --- operating points ---------------------------------------------------------


def first_crossing(times: np.ndarray, probs: np.ndarray, threshold: float,
                   hold: int = 0) -> float | None:
  """Time of the first frame ending a run of ``hold + 1`` frames with
  P >= threshold (None: never)."""
  run = 0
  for t, p in zip(times, probs):
    run = run + 1 if p >= threshold else 0
    if run > hold:
      return float(t)
  return None


def speculates_earlier(threshold: float, final: float, final_hold_frames: int = 0) -> bool:
  """Whether a speculative threshold can fire before the final end-point:
  below the final threshold, or equal to it when the final one is held."""
  return threshold < final or (final_hold_frames > 0 and threshold == final)


def operating_point_stats(traces: Sequence[tuple[np.ndarray, np.ndarray, float]],
                          threshold: float, never_s: float = 3.0, hold: int = 0) -> dict:
  """Acoustic statistics of one threshold over (times, probs, speech_end)
  traces: latency from the end of speech (never firing counts ``never_s``
  after it), and the early rate (fired before the end of speech)."""
  lat, early = [], []
  for t, p, end in traces:
    fire = first_crossing(t, p, threshold, hold)
    lat.append(never_s if fire is None else fire - end)
    early.append(fire is not None and fire < end)
  lat = np.array(lat)
  return {"threshold": threshold, "median_s": float(np.median(lat)),
          "p90_s": float(np.percentile(lat, 90)), "early_rate": float(np.mean(early)),
          "latencies": lat}


def tune_thresholds(traces, max_final_early: float = 0.005, max_speculative_early: float = 0.08,
                    target_advance_s: float = 0.2, final_hold_frames: int = 0) -> dict:
  """Chooses the two operating points on validation traces.

  Final: the lowest threshold whose early rate (a cut-off risk) is at most
  ``max_final_early``. Speculative: the highest threshold below it that fires
  ``target_advance_s`` earlier than the final one (median over utterances),
  else the lowest one whose early rate stays within ``max_speculative_early``
  (early speculative results are the ones likely to be revised). The final
  threshold is chosen without a hold; ``final_hold_frames`` then delays the
  final end-point (its statistics include the hold), and a speculative
  threshold may equal the final one.
  """
  grid = np.round(np.concatenate([np.linspace(0.05, 0.95, 91),
                                  [0.96, 0.97, 0.98, 0.99, 0.995, 0.998, 0.999, 0.9995]]), 5)
  stats = {float(g): operating_point_stats(traces, float(g)) for g in grid}
  ok = [g for g in stats if stats[g]["early_rate"] <= max_final_early]
  final = min(ok) if ok else max(stats)
  final_stats = (operating_point_stats(traces, final, hold=final_hold_frames)
                 if final_hold_frames else stats[final])
  fl = final_stats["latencies"]
  cands = [g for g in stats if speculates_earlier(g, final, final_hold_frames)
           and stats[g]["early_rate"] <= max_speculative_early]
  advance = {g: float(np.median(fl - stats[g]["latencies"])) for g in cands}
  reach = [g for g in cands if advance[g] >= target_advance_s]
  spec = max(reach) if reach else (min(cands) if cands else final)
  strip = lambda d: {k: v for k, v in d.items() if k != "latencies"}
  return {"speculative": spec, "final": final, "final_hold_frames": final_hold_frames,
          "final_stats": strip(final_stats),
          "speculative_stats": strip(stats[spec]), "advance_median_s": advance.get(spec, 0.0)}


# --- data and training --------------------------------------------------------


def extend_stream(ex: dict, after_end_s: float) -> np.ndarray:
  """The stream's audio, lengthened to ``speech_end + after_end_s`` by
  tiling its own trailing noise (the corpus keeps only 0.6-1.5 s after the
  request, less than a trailing-silence rule needs)."""
  audio = np.asarray(ex["audio"])
  want = int((ex["speech_end"] + after_end_s) * SR)
  if len(audio) >= want:
    return audio[:want]
  tail = audio[min(len(audio), int((ex["speech_end"] + 0.1) * SR)):]
  if len(tail) < 1600:  # no usable trailing segment: digital silence
    tail = np.zeros(1600, audio.dtype)
  reps = -(-(want - len(audio)) // len(tail))
  return np.concatenate([audio, np.tile(tail, reps)])[:want]


def example_trace(ex: dict, after_end_s: float, num_bins: int = 80, cmvn_block: int = 32,
                  pool: int = POOL):
  """(pooled features [T, F + 1], frame times [T], speech_end) of a stream in
  request time; the prefix (wake-word segment) gives the CMVN statistics."""
  from asr.data import pipeline  # pylint: disable=g-import-not-at-top
  audio = extend_stream(ex, after_end_s)
  start = int((ex.get("wake_end") or 0.0) * SR)
  prefix = pipeline.request_prefix(ex, num_bins)
  feats = stream_features(audio[start:], prefix, num_bins, cmvn_block, pool)
  return feats, frame_times(len(feats), pool), float(ex["speech_end"] - start / SR)


def labels_for(times: np.ndarray, speech_end: float) -> np.ndarray:
  """1 where the frame's input ends at or after the end of speech."""
  return (times >= speech_end).astype(np.float32)


def _load_traces(spec: str, data_dir: str, limit: int, after_end_s: float, num_bins: int,
                 cmvn_block: int, pool: int = POOL):
  from asr.data import sources  # pylint: disable=g-import-not-at-top
  src = sources.open_source(spec, data_dir)
  out = []
  for i in range(min(limit, len(src)) if limit else len(src)):
    ex = src[i]
    if ex.get("speech_end") is None:
      continue
    out.append(example_trace(ex, after_end_s, num_bins, cmvn_block, pool))
  return out


def _pad(traces):
  t = max(len(f) for f, _, _ in traces)
  d = traces[0][0].shape[1]
  x = np.zeros((len(traces), t, d), np.float32)
  y = np.zeros((len(traces), t), np.float32)
  m = np.zeros((len(traces), t), np.float32)
  for i, (f, times, end) in enumerate(traces):
    x[i, :len(f)] = f
    y[i, :len(f)] = labels_for(times, end)
    m[i, :len(f)] = 1.0
  return x, y, m


def make_train_step(model, tx):
  """Masked per-frame binary cross-entropy; a pure jitted step."""
  def loss_fn(params, x, y, m):
    logits, _ = model.apply({"params": params}, x)
    ce = -(y * jax.nn.log_sigmoid(logits) + (1 - y) * jax.nn.log_sigmoid(-logits))
    return (ce * m).sum() / jnp.maximum(m.sum(), 1.0)

  @jax.jit
  def step(params, opt_state, x, y, m):
    loss, grads = jax.value_and_grad(loss_fn)(params, x, y, m)
    updates, opt_state = tx.update(grads, opt_state, params)
    import optax  # pylint: disable=g-import-not-at-top
    return optax.apply_updates(params, updates), opt_state, loss
  return step


def train_on_traces(traces, hidden: int, steps: int, batch_size: int, learning_rate: float,
                    seed: int = 0, log_every: int = 100):
  """Trains an :class:`EoqModel` on (features, times, speech_end) traces.
  Returns (model, params, losses per step)."""
  import optax  # pylint: disable=g-import-not-at-top
  x, y, m = _pad(traces)
  model = EoqModel(hidden=hidden)
  params = model.init(jax.random.PRNGKey(seed), jnp.zeros((1, 1, x.shape[2])))["params"]
  tx = optax.adam(optax.cosine_decay_schedule(learning_rate, steps, 0.05))
  opt_state = tx.init(params)
  step = make_train_step(model, tx)
  rng = np.random.default_rng(seed)
  losses = []
  b = min(batch_size, len(x))
  for i in range(steps):
    idx = rng.choice(len(x), b, replace=False)
    params, opt_state, loss = step(params, opt_state, x[idx], y[idx], m[idx])
    losses.append(float(loss))
    if log_every and (i + 1) % log_every == 0:
      logging.info("step %d loss %.4f", i + 1, np.mean(losses[-log_every:]))
  return model, params, losses


def train_endpointer(config, workdir: str) -> dict:
  """Trains the end-of-query model on ``config.data.train`` and tunes its
  operating points on ``config.data.validation``; writes ``params.msgpack``
  and ``endpointer.json`` (config, thresholds, validation statistics) to
  ``workdir``. Returns the summary dict."""
  d, t = config.data, config.train
  pool = int(d.get("pool", POOL))
  t0 = time.time()
  train = _load_traces(d.train, d.data_dir, d.max_train_utterances, d.after_end_s, d.num_mel_bins,
                       d.cmvn_block, pool)
  val = _load_traces(d.validation, d.data_dir, d.max_val_utterances, d.after_end_s,
                     d.num_mel_bins, d.cmvn_block, pool)
  prep_s = time.time() - t0
  logging.info("prepared %d train / %d validation streams in %.0fs", len(train), len(val), prep_s)
  t0 = time.time()
  model, params, losses = train_on_traces(train, config.model.hidden, t.steps, t.batch_size,
                                          t.learning_rate, config.seed)
  train_s = time.time() - t0
  eoq = Eoq(model, params, 0.5, 0.5, d.num_mel_bins, d.cmvn_block, pool=pool)
  val_traces = [(times, eoq.probs(f), end) for f, times, end in val]
  hold = int(config.tune.get("final_hold_frames", 0))
  tuned = tune_thresholds(val_traces, config.tune.max_final_early,
                          config.tune.max_speculative_early, config.tune.target_advance_s, hold)
  eoq.speculative, eoq.final = tuned["speculative"], tuned["final"]
  eoq.final_hold_frames = hold
  num_params = sum(int(np.prod(p.shape)) for p in jax.tree_util.tree_leaves(params))
  summary = {"num_params": num_params, "train_streams": len(train), "val_streams": len(val),
             "prepare_seconds": prep_s, "train_seconds": train_s, "loss_first": losses[0],
             "loss_last": float(np.mean(losses[-50:])), "validation": tuned}
  eoq.save(workdir, {"config": config.to_dict(), "summary": summary})
  return summary


def talker_streams(src, limit: int, seed: int = 0) -> list[dict]:
  """The first ``limit`` examples of ``src`` with a competing talker mixed over
  the whole stream as the corpus builds ``test_noisy``: another voice saying
  four requests of the same user (same-user partners from ``src`` in another
  voice), 4-12 dB below the speech (:class:`asr.data.pipeline.TalkerMix`)."""
  from asr.data import pipeline  # pylint: disable=g-import-not-at-top
  mix = pipeline.TalkerMix(prob=1.0, snr_db=(4.0, 12.0), pieces=4, seed=seed, same_user=True)
  fn = pipeline._talker_fn(src, len(src), mix)  # pylint: disable=protected-access
  return [fn(i, src[i]) for i in range(min(limit, len(src)))]


def choose_operating_point(curves: dict, final: float, max_revised: float,
                           final_hold_frames: int = 0, noisy_curves: dict | None = None,
                           max_revised_noisy: float | None = None) -> tuple:
  """(look-ahead, stable, min_completion, threshold) of the speculative
  end-point from :func:`asr.session.revision_curves` ({(lookahead, stable,
  min_completion): {threshold: stats}}): among the points that can fire
  before the final end-point and whose revised share is within
  ``max_revised`` (and, with ``noisy_curves``, within ``max_revised_noisy``
  on those streams too), the one with the largest median advance over the
  final end-point; ties go to fewer revisions, then the weaker gate, the
  smaller look-ahead and threshold. None qualifying: (smallest look-ahead,
  no gate, final), i.e. no speculation ahead of the final end-point."""
  budget_noisy = max_revised if max_revised_noisy is None else max_revised_noisy
  best = None
  for (la, k, c), curve in curves.items():
    for g, st in curve.items():
      if not speculates_earlier(g, final, final_hold_frames) or st["revised_rate"] > max_revised:
        continue
      if noisy_curves is not None and noisy_curves[(la, k, c)][g]["revised_rate"] > budget_noisy:
        continue
      adv = st["advance_median_s"]
      key = (adv if adv > 0 else -1.0, -st["revised_rate"], -k, -c, -la, -g)
      if best is None or key > best[0]:
        best = (key, (la, k, c, g))
  return best[1] if best else (min(p[0] for p in curves), 0, 0.0, final)


def retune_speculative(config, workdir: str, rec, limit: int = 200) -> dict:
  """Re-chooses the speculative operating point of a trained end-pointer from
  revisions measured through the recognizer ``rec`` on validation streams
  (:func:`asr.session.revision_curves`): threshold, quiet look-ahead
  (``config.tune.lookahead_frames``), stability gate
  (``config.tune.stable_frames``) and, with ``config.tune.completion_lm``,
  completion gate (``config.tune.min_completion``), the earliest whose share of revised
  speculative results is at most ``config.tune.max_revised``; with
  ``config.tune.talker_validation`` also at most ``max_revised_noisy`` on the
  same streams with a competing talker (:func:`talker_streams`)."""
  from asr import session  # pylint: disable=g-import-not-at-top
  from asr.data import sources  # pylint: disable=g-import-not-at-top
  eoq = Eoq.load(workdir)
  # The config's hold applies (so --retune_only can add or change it).
  eoq.final_hold_frames = int(config.tune.get("final_hold_frames", 0))
  src = sources.open_source(config.data.validation, config.data.data_dir)
  usable = lambda e: e.get("speech_end") is not None and e.get("wake_end") is not None
  exs = [e for e in (src[i] for i in range(min(limit, len(src)))) if usable(e)]
  # The final threshold itself is a candidate: with a held final end-point the
  # speculative one may fire at its first crossing (lead = the hold).
  grid = sorted({float(g) for g in np.round(np.concatenate(
      [np.linspace(0.5, 0.95, 10), [0.97, 0.98, 0.99, 0.995, 0.998, 0.999]]), 4)}
                | {float(eoq.final)})
  lookaheads = [int(x) for x in config.tune.get("lookahead_frames", (0,))]
  lm = config.tune.get("completion_lm", "")
  eoq.completion_lm = lm
  gates = [(int(k), float(c)) for k in config.tune.get("stable_frames", (0,))
           for c in (config.tune.get("min_completion", (0.0,)) if lm else (0.0,))]
  after = config.data.after_end_s
  curves = session.revision_curves(rec, eoq, exs, grid, after, 4, lookaheads, gates)
  noisy = None
  if config.tune.get("talker_validation", False):
    nexs = [e for e in talker_streams(src, limit) if usable(e)]
    noisy = session.revision_curves(rec, eoq, nexs, grid, after, 4, lookaheads, gates)
  la, k, c, spec = choose_operating_point(curves, eoq.final, config.tune.max_revised,
                                          eoq.final_hold_frames, noisy,
                                          config.tune.get("max_revised_noisy", None))
  with open(os.path.join(workdir, "endpointer.json")) as f:
    meta = json.load(f)
  th = meta["thresholds"]
  th["acoustic_speculative"] = th.get("acoustic_speculative", th["speculative"])
  th.update({"speculative": spec, "speculative_lookahead_frames": la,
             "speculative_stable_frames": k, "completion_lm": lm if c > 0 else "",
             "min_completion": c, "final_hold_frames": eoq.final_hold_frames})
  name = lambda p: f"lookahead={p[0]},stable={p[1]},completion={p[2]:g}"
  ser = lambda cs: {name(p): {str(g): v for g, v in cv.items()} for p, cv in cs.items()}
  meta["speculative_tuning"] = {
      "streams": len(exs), "max_revised": config.tune.max_revised, "chosen": spec,
      "lookahead_frames": la, "stable_frames": k, "min_completion": c, "completion_lm": lm,
      "curve": {str(g): v for g, v in curves[(la, k, c)].items()},
      "curves": ser(curves)}
  if noisy is not None:
    meta["speculative_tuning"].update({
        "talker_streams": len(nexs), "max_revised_noisy": config.tune.get("max_revised_noisy"),
        "talker_curve": {str(g): v for g, v in noisy[(la, k, c)].items()},
        "talker_curves": ser(noisy)})
  with open(os.path.join(workdir, "endpointer.json"), "w") as f:
    json.dump(meta, f, indent=2)
  return meta["speculative_tuning"]
