"""The router's decisions along one utterance (branching encoders).

Three panels over time in seconds: the waveform with each chunk shaded by
its branch (expensive / cheap; stream-context chunks hatched), the router's
p(expensive) per chunk against the threshold, and the decoded words at the
frames where they were emitted.
"""

import jax
import jax.numpy as jnp
import numpy as np

from asr.data import features as features_lib
from asr.data import pipeline
from asr.decoding import beam as beam_lib
from asr.evaluation import evaluate
from asr.models import branching
from asr.models import encoder as encoder_lib
from asr.models import transducer


def compute_routes(rec, audio: np.ndarray, wake_end: float | None = None, beam: int = 4) -> dict:
  """Routes and decodes ``audio`` (int16 / float, 16 kHz).

  ``wake_end``: seconds where the request starts; the audio before it is the
  stream context for models trained with it (else it is skipped). Returns
  dict: request (waveform), context (waveform of the context chunks or
  empty), chunk_seconds, p [N], expensive [N] bool (request chunks first
  after the context ones: context_chunks), threshold, text, pieces, times,
  frame_seconds.
  """
  model, params, tok = rec.model, rec.params, rec.tokenizer
  e = model.cfg.encoder
  if not e.branching.enabled:
    raise ValueError("router plots need a model with model.encoder.branching.enabled")
  frames, quantum = pipeline.stream_context_frames(rec.config)
  ex = {"id": "a", "audio": audio, "text": ""}
  if wake_end is not None:
    ex["wake_end"] = wake_end
  utt = pipeline._prepare_fn(None, None, model.cfg.num_mel_bins,  # pylint: disable=protected-access
                             encoder_lib.min_feature_frames(e.subsample_factor),
                             rec.config.data.get("cmvn", "global"), wake_frames=frames,
                             wake_quantum=quantum)(ex)
  wf = 0 if utt.wake_feats is None else len(utt.wake_feats)
  width = evaluate.wake_frames_of([utt], e)  # the batch's context: whole chunks
  batch = pipeline.collate([utt], [0], pipeline.Bucket(len(utt.feats), 8, 1, (0,)), width)
  enc, enc_len = evaluate._encode_batch(model, params, rec.norm, batch)  # pylint: disable=protected-access
  hyp = beam_lib.beam_search(model, params, np.asarray(enc), np.asarray(enc_len), beam)[0][0]
  mean, std = rec.norm
  feats = (jnp.asarray(batch["feats"]) - mean) / std
  wake = None
  if wf:
    wake = ((jnp.asarray(batch["wake_feats"]) - mean) / std, jnp.asarray(batch["wake_lengths"]))
  r = jax.device_get(model.apply({"params": params}, feats, jnp.asarray(batch["feat_lengths"]),
                                 wake, method=transducer.Transducer.routing))
  valid = np.asarray(r["valid"][0])
  start = 0 if wake_end is None else int(wake_end * features_lib.SAMPLE_RATE)
  ctx_samples = wf * features_lib.HOP
  return {
      "request": np.asarray(audio[start:]), "context": np.asarray(audio[start - ctx_samples:start]),
      "context_chunks": width // (e.subsample_factor * e.chunk_size),
      "chunk_seconds": e.chunk_size * e.subsample_factor * features_lib.HOP / features_lib.SAMPLE_RATE,
      "p": np.asarray(branching.p_expensive(r["logits"][0]))[valid],
      "expensive": np.asarray(r["expensive"][0])[valid], "threshold": e.branching.threshold,
      "text": tok.decode(hyp.tokens), "pieces": tok.pieces(hyp.tokens), "times": list(hyp.times),
      "frame_seconds": e.subsample_factor * features_lib.HOP / features_lib.SAMPLE_RATE,
  }


def plot_routes(routes: dict, output: str, title: str = "") -> str:
  """Writes the three-panel figure to ``output`` (PNG); time 0 = request start."""
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  sr = features_lib.SAMPLE_RATE
  cs = routes["chunk_seconds"]
  nc = routes["context_chunks"]
  t0 = -nc * cs
  wave = np.concatenate([routes["context"], routes["request"]]).astype(np.float32)
  wave = wave / max(1e-9, np.abs(wave).max())
  fig, axes = plt.subplots(3, 1, figsize=(12, 6), sharex=True,
                           gridspec_kw={"height_ratios": [2, 1.2, 0.8]})
  ax = axes[0]
  ax.plot(t0 + np.arange(len(wave)) / sr, wave, lw=0.4, color="black")
  for k, exp in enumerate(routes["expensive"]):
    ax.axvspan(t0 + k * cs, t0 + (k + 1) * cs, color="tab:red" if exp else "tab:blue",
               alpha=0.25, lw=0, hatch="//" if k < nc else None)
  frac = float(np.mean(routes["expensive"][nc:])) if len(routes["expensive"]) > nc else 0.0
  ax.set_title(f"{title}  (red: expensive branch, blue: cheap; {100 * frac:.0f} % of request "
               f"chunks expensive{'; hatched: stream context' if nc else ''})", fontsize=9)
  ax.set_yticks([])
  ax = axes[1]
  p = routes["p"]
  ax.step(t0 + np.arange(len(p) + 1) * cs, np.append(p, p[-1] if len(p) else 0), where="post")
  ax.axhline(routes["threshold"], color="gray", ls="--", lw=1)
  ax.set_ylim(-0.05, 1.05)
  ax.set_ylabel("p(expensive)")
  ax = axes[2]
  fs = routes["frame_seconds"]
  for piece, t in zip(routes["pieces"], routes["times"]):
    ax.text(t * fs, 0.5, piece.replace("\u2581", " ").strip() or "_", rotation=60, fontsize=8,
            ha="left", va="center")
  ax.set_yticks([])
  ax.set_xlabel("time from request start (s)")
  axes[2].set_title(routes["text"], fontsize=9)
  fig.tight_layout()
  fig.savefig(output, dpi=120)
  plt.close(fig)
  return output
