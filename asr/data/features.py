"""Log-mel features and SpecAugment.

Log-mel: 25 ms Hann windows every 10 ms, 512-point FFT, ``num_bins`` (80)
HTK-style mel filters over 20 Hz .. 7.6 kHz, ``log(max(power, 1e-10))``.
Frames are taken without padding, frame ``t`` covering samples
``[160 t, 160 t + 400)``, so features of a stream computed chunk by chunk
(carrying over the last 240 samples) equal those of the whole waveform.

SpecAugment (Park et al. 2019) runs inside the jitted train step on padded
batches: ``num_freq_masks`` bands of up to ``freq_mask_width`` bins and
``time_masks_per_100`` masks per 100 frames of up to ``time_mask_ratio`` of the
utterance each (adaptive masking, Park et al. 2020).
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np

SAMPLE_RATE = 16000
WINDOW = 400  # 25 ms
HOP = 160  # 10 ms
FFT = 512


def num_frames(num_samples: int) -> int:
  return max(0, 1 + (num_samples - WINDOW) // HOP)


@functools.cache
def mel_filterbank(num_bins: int = 80, fmin: float = 20.0, fmax: float = 7600.0) -> np.ndarray:
  """[FFT // 2 + 1, num_bins] triangular HTK mel filters."""
  def hz_to_mel(f):
    return 1127.0 * np.log1p(np.asarray(f) / 700.0)

  def mel_to_hz(m):
    return 700.0 * np.expm1(np.asarray(m) / 1127.0)

  freqs = np.linspace(0, SAMPLE_RATE / 2, FFT // 2 + 1)
  edges = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), num_bins + 2))
  lo, mid, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]
  up = (freqs[None] - lo) / (mid - lo)
  down = (hi - freqs[None]) / (hi - mid)
  return np.maximum(0.0, np.minimum(up, down)).T.astype(np.float32)


@functools.cache
def _window() -> np.ndarray:
  return np.hanning(WINDOW + 1)[:-1].astype(np.float32)


def log_mel(audio: np.ndarray, num_bins: int = 80) -> np.ndarray:
  """Log-mel features of one waveform (numpy; used by the data pipeline).

  Args:
    audio: int16 or float [N] waveform at 16 kHz (int16 is scaled to [-1, 1]).
  Returns:
    float32 [T, num_bins], T = num_frames(N).
  """
  x = np.asarray(audio)
  if x.dtype == np.int16:
    x = x.astype(np.float32) / 32768.0
  x = x.astype(np.float32)
  t = num_frames(len(x))
  if t == 0:
    return np.zeros((0, num_bins), np.float32)
  idx = np.arange(WINDOW)[None, :] + HOP * np.arange(t)[:, None]
  frames = x[idx]
  frames = frames - frames.mean(axis=1, keepdims=True)  # remove DC per frame
  spec = np.abs(np.fft.rfft(frames * _window(), n=FFT)) ** 2
  mel = spec.astype(np.float32) @ mel_filterbank(num_bins)
  return np.log(np.maximum(mel, 1e-10)).astype(np.float32)


def spec_augment(rng: jax.Array, feats: jax.Array, lengths: jax.Array,
                 num_freq_masks: int = 2, freq_mask_width: int = 27,
                 time_masks_per_100: float = 1.0, max_time_masks: int = 10,
                 time_mask_ratio: float = 0.05) -> jax.Array:
  """Masks frequency bands and time spans with zeros (features are normalized).

  Args:
    rng: PRNG key.
    feats: [B, T, F] normalized features.
    lengths: [B] valid frames per example.
  Returns:
    [B, T, F] masked features.
  """
  b, t, f = feats.shape
  kf, kt = jax.random.split(rng)
  # Frequency masks.
  kf1, kf2 = jax.random.split(kf)
  widths = jax.random.randint(kf1, (b, num_freq_masks), 0, freq_mask_width + 1)
  starts = jax.random.randint(kf2, (b, num_freq_masks), 0, f)
  starts = jnp.minimum(starts, f - widths)
  fi = jnp.arange(f)[None, None, :]
  fmask = jnp.any((fi >= starts[..., None]) & (fi < (starts + widths)[..., None]), axis=1)
  # Time masks: count and width adapt to each utterance's length.
  kt1, kt2 = jax.random.split(kt)
  n_masks = jnp.minimum(max_time_masks,
                        jnp.floor(lengths * time_masks_per_100 / 100.0)).astype(jnp.int32)
  max_w = jnp.maximum(1, jnp.floor(lengths * time_mask_ratio)).astype(jnp.int32)
  tw = jnp.floor(jax.random.uniform(kt1, (b, max_time_masks)) * (max_w[:, None] + 1)).astype(jnp.int32)
  ts = jnp.floor(jax.random.uniform(kt2, (b, max_time_masks)) *
                 jnp.maximum(1, lengths - tw.max(axis=1))[:, None]).astype(jnp.int32)
  active = jnp.arange(max_time_masks)[None, :] < n_masks[:, None]
  ti = jnp.arange(t)[None, None, :]
  tmask = jnp.any(active[..., None] & (ti >= ts[..., None]) & (ti < (ts + tw)[..., None]), axis=1)
  mask = fmask[:, None, :] | tmask[:, :, None]
  return jnp.where(mask, 0.0, feats)
