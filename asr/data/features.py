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

Feature-domain perturbations, also inside the train step and before the masks
(``train.spec_augment.speed_range`` / ``freq_warp``): ``speed_perturb``
resamples each utterance in time by a random rate (tempo; the cheap
feature-domain stand-in for Ko et al. 2015's 0.9/1.0/1.1 speed perturbation,
which also moves the pitch), and ``freq_warp`` stretches the mel axis by a
random factor (vocal-tract-length perturbation, Jaitly & Hinton 2013), which
stands in for the pitch/formant half of it. Both are linear interpolations.
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


def _interp_rows(x: jax.Array, pos: jax.Array) -> jax.Array:
  """x [N, F] read at fractional row positions pos [M] (linear, clipped)."""
  n = x.shape[0]
  pos = jnp.clip(pos, 0.0, n - 1)
  lo = jnp.floor(pos).astype(jnp.int32)
  hi = jnp.minimum(lo + 1, n - 1)
  w = (pos - lo)[:, None]
  return x[lo] * (1.0 - w) + x[hi] * w


def speed_perturb(rng: jax.Array, feats: jax.Array, lengths: jax.Array,
                  speed_range: float) -> tuple[jax.Array, jax.Array]:
  """Time-resamples each utterance by a rate r ~ U[1 - speed_range, 1 + speed_range].

  Output frame j reads input position j * r (r > 1: faster, shorter). A slow-down
  that would not fit the padded length T is limited to r = length / T, so no
  speech is cut. Padding stays zero (normalized features).

  Args:
    rng: PRNG key.
    feats: [B, T, F] normalized features, zero beyond ``lengths``.
    lengths: [B] valid frames.
    speed_range: half-width of the rate interval (0 = identity).
  Returns:
    ([B, T, F] resampled features, [B] new lengths).
  """
  b, t, _ = feats.shape
  rate = jax.random.uniform(rng, (b,), minval=1.0 - speed_range, maxval=1.0 + speed_range)
  rate = jnp.maximum(rate, (lengths - 1) / jnp.maximum(t - 1, 1))  # fits the padding
  # The last output frame reads at most input frame length - 1.
  new_len = jnp.clip(jnp.floor((lengths - 1) / rate) + 1, 1, t).astype(lengths.dtype)
  new_len = jnp.where(lengths > 0, new_len, 0)

  def one(f, n, r, m):
    pos = jnp.minimum(jnp.arange(t) * r, jnp.maximum(n - 1, 0))
    out = _interp_rows(f, pos)
    return jnp.where((jnp.arange(t) < m)[:, None], out, 0.0)

  return jax.vmap(one)(feats, lengths, rate, new_len), new_len


def freq_warp(rng: jax.Array, feats: jax.Array, max_warp: float) -> jax.Array:
  """Stretches the mel axis by a ~ U[1 - max_warp, 1 + max_warp] per utterance.

  Bin k reads bin k * a (linear interpolation, edges clamped): a > 1 moves
  spectral content down, a < 1 up, as a shorter / longer vocal tract would.

  Args:
    rng: PRNG key.
    feats: [B, T, F] normalized features (zero padding stays zero).
    max_warp: half-width of the factor interval (0 = identity).
  Returns:
    [B, T, F] warped features.
  """
  b, _, f = feats.shape
  a = jax.random.uniform(rng, (b,), minval=1.0 - max_warp, maxval=1.0 + max_warp)

  def one(x, ai):
    return _interp_rows(x.T, jnp.arange(f) * ai).T

  return jax.vmap(one)(feats, a)


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
