"""Biasing attention maps: which context phrase each frame / label attends to.

One panel per query kind (audio frames, labels): attention weight (mean over
heads) against the phrases of the list (named on the axis, the no-bias entry
first); the audio panel has time in seconds on its axis with each decoded word
placed at the frame where it was emitted, the label panel one row per wordpiece.
"""

from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from asr.data import features as features_lib
from asr.data import pipeline
from asr.decoding import beam as beam_lib
from asr.evaluation import evaluate
from asr.models import transducer


def compute_maps(rec, audio: np.ndarray, phrases: Sequence[str], beam: int = 4) -> dict:
  """Decodes ``audio`` with attention biasing and returns attention weights.

  Returns dict: text, tokens, pieces, times (encoder frame of each label),
  audio [T', N+1], label [U+1, N+1] (or None), names (no-bias + phrases),
  frame_seconds.
  """
  model, params, tok = rec.model, rec.params, rec.tokenizer
  if not model.cfg.biasing.enabled:
    raise ValueError("attention maps need a model trained with attention biasing")
  factor = model.cfg.encoder.subsample_factor
  from asr.models import encoder as encoder_lib  # pylint: disable=g-import-not-at-top
  utt = pipeline._prepare_fn(None, None, model.cfg.num_mel_bins,  # pylint: disable=protected-access
                             encoder_lib.min_feature_frames(factor),
                             rec.config.data.get("cmvn", "global"))(
                                 {"id": "a", "audio": audio, "text": ""})
  phrase_tokens = pipeline.PhraseTokens(tok)
  lists = [list(phrases)]
  ctx, mask = evaluate.encode_lists(model, params, phrase_tokens, lists)
  batch = pipeline.collate([utt], [0], pipeline.Bucket(len(utt.feats), 8, 1, (0,)))
  enc, enc_len = evaluate._encode_batch(model, params, rec.norm, batch, ctx, mask)  # pylint: disable=protected-access
  hyp = beam_lib.beam_search(model, params, np.asarray(enc), np.asarray(enc_len), beam,
                             ctx=np.asarray(ctx), ctx_mask=np.asarray(mask))[0][0]
  mean, std = rec.norm
  feats = (jnp.asarray(batch["feats"]) - mean) / std
  arr = phrase_tokens.pad(lists, ctx.shape[1] - 1)
  context = {"tokens": arr["ctx_tokens"], "lengths": arr["ctx_lengths"]}
  labels = jnp.asarray([list(hyp.tokens) or [0]], jnp.int32)
  maps = model.apply({"params": params}, feats, jnp.asarray(batch["feat_lengths"]), labels,
                     context, method=transducer.Transducer.attention_maps)
  t = int(maps["enc_lengths"][0])
  n = 1 + len(phrases)
  audio_map = None if maps["audio"] is None else np.asarray(maps["audio"][0].mean(0))[:t, :n]
  label_map = None
  if maps["label"] is not None:
    label_map = np.asarray(maps["label"][0].mean(0))[:len(hyp.tokens) + 1, :n]
  return {
      "text": tok.decode(hyp.tokens), "tokens": list(hyp.tokens),
      "pieces": tok.pieces(hyp.tokens), "times": list(hyp.times),
      "audio": audio_map, "label": label_map, "names": ["<no-bias>"] + list(phrases),
      "frame_seconds": factor * features_lib.HOP / features_lib.SAMPLE_RATE,
  }


def plot_maps(maps: dict, output: str, title: str = "") -> str:
  """Writes the heat maps to ``output`` (PNG)."""
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  panels = [k for k in ("audio", "label") if maps[k] is not None]
  n = len(maps["names"])
  fig, axes = plt.subplots(1, len(panels), figsize=(7 * len(panels), 1.5 + 0.28 * n), squeeze=False)
  for ax, kind in zip(axes[0], panels):
    m = maps[kind]
    if kind == "audio":
      fs = maps["frame_seconds"]
      im = ax.imshow(m.T, aspect="auto", origin="lower", cmap="viridis", vmin=0, vmax=1,
                     extent=(0, m.shape[0] * fs, -0.5, n - 0.5))
      ax.set_xlabel("time (s)")
      ax.set_title("audio-frame queries")
      for piece, frame in zip(maps["pieces"], maps["times"]):
        ax.text((frame + 0.5) * fs, -0.45, piece.replace("\u2581", " "), rotation=90,
                fontsize=7, color="white", va="bottom", ha="center")
    else:
      im = ax.imshow(m.T, aspect="auto", origin="lower", cmap="viridis", vmin=0, vmax=1)
      ax.set_xticks(range(m.shape[0]))
      ax.set_xticklabels(["<s>"] + [p.replace("\u2581", "_") for p in maps["pieces"]],
                         rotation=90, fontsize=7)
      ax.set_xlabel("label (prediction-network query)")
      ax.set_title("label queries")
    ax.set_yticks(range(n))
    ax.set_yticklabels(maps["names"], fontsize=7)
    fig.colorbar(im, ax=ax, fraction=0.03)
  fig.suptitle((title + "\n" if title else "") + f"hypothesis: {maps['text']}", fontsize=9)
  fig.tight_layout()
  fig.savefig(output, dpi=120)
  plt.close(fig)
  return output
