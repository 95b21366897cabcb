"""Feature normalization: per-utterance CMVN."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from asr.data import features
from asr.data import pipeline


def _tone(seconds, gain, silence_s=0.0, seed=0):
  rng = np.random.default_rng(seed)
  t = np.arange(int(16000 * seconds)) / 16000
  x = gain * (np.sin(2 * np.pi * 300 * t) + 0.5 * np.sin(2 * np.pi * 1200 * t)
              + 0.05 * rng.standard_normal(len(t)))
  x = np.concatenate([x, 1e-3 * rng.standard_normal(int(16000 * silence_s))])
  return (x * 0.25).astype(np.float32)


def test_utterance_cmvn_removes_gain():
  quiet = features.log_mel(_tone(1.0, 0.1))
  loud = features.log_mel(_tone(1.0, 1.0))
  assert np.abs(quiet - loud).mean() > 2.0  # log-mel differs by the gain
  np.testing.assert_allclose(pipeline.utterance_cmvn(quiet), pipeline.utterance_cmvn(loud),
                             atol=0.05)


def test_utterance_cmvn_statistics_ignore_trailing_silence():
  short = features.log_mel(_tone(1.0, 1.0, silence_s=0.1))
  long = features.log_mel(_tone(1.0, 1.0, silence_s=0.6))
  n = 90  # the tone's frames
  a, b = pipeline.utterance_cmvn(short)[:n], pipeline.utterance_cmvn(long)[:n]
  naive = lambda f: (f - f.mean(0)) / (f.std(0) + 0.5)
  naive_gap = np.abs(naive(short)[:n] - naive(long)[:n]).mean()
  gap = np.abs(a - b).mean()
  assert gap < 0.1 and gap < 0.2 * naive_gap, (gap, naive_gap)


def test_prepare_fn_rejects_unknown_cmvn():
  with pytest.raises(ValueError, match="data.cmvn"):
    pipeline._prepare_fn(None, None, 80, 11, "per-speaker")  # pylint: disable=protected-access


def _ramp_batch(t=64, f=80, lengths=(40, 64)):
  """Features that are linear in time and in frequency: x[t, k] = t + 0.01 k."""
  tt = np.arange(t, dtype=np.float32)[:, None] + 0.01 * np.arange(f, dtype=np.float32)[None]
  feats = np.stack([np.where(np.arange(t)[:, None] < n, tt, 0.0) for n in lengths])
  return jnp.asarray(feats, jnp.float32), jnp.asarray(lengths, jnp.int32)


def test_speed_perturb_identity_at_zero_range():
  feats, lengths = _ramp_batch()
  out, new_len = features.speed_perturb(jax.random.PRNGKey(0), feats, lengths, 0.0)
  np.testing.assert_allclose(np.asarray(out), np.asarray(feats), atol=1e-5)
  np.testing.assert_array_equal(np.asarray(new_len), np.asarray(lengths))


def test_speed_perturb_resamples_linearly_and_fits_padding():
  feats, lengths = _ramp_batch()
  for seed in range(5):
    out, new_len = features.speed_perturb(jax.random.PRNGKey(seed), feats, lengths, 0.2)
    out, new_len = np.asarray(out), np.asarray(new_len)
    for b, n in enumerate(np.asarray(lengths)):
      m = new_len[b]
      assert 1 <= m <= feats.shape[1]
      assert abs(m - n) <= 0.26 * n  # rate within [0.8, 1.2], floor rounding
      # Frame j reads input time j * r: the time ramp stays linear with slope r,
      # and the last output frame reads no further than the last input frame.
      slope = np.diff(out[b, :m, 0])
      np.testing.assert_allclose(slope, slope[0], atol=1e-4)
      assert 0.79 <= slope[0] <= 1.21
      assert out[b, m - 1, 0] <= n - 1 + 1e-4
      np.testing.assert_array_equal(out[b, m:], 0.0)
      # The frequency axis is untouched.
      np.testing.assert_allclose(out[b, :m, 1] - out[b, :m, 0], 0.01, atol=1e-4)
  # The full-length utterance cannot be slowed down beyond the padding.
  assert np.all(new_len[1] <= feats.shape[1])


def test_freq_warp_identity_and_linear_stretch():
  feats, _ = _ramp_batch()
  out0 = features.freq_warp(jax.random.PRNGKey(0), feats, 0.0)
  np.testing.assert_allclose(np.asarray(out0), np.asarray(feats), atol=1e-5)
  out = np.asarray(features.freq_warp(jax.random.PRNGKey(3), feats, 0.2))
  for b in range(out.shape[0]):
    # Bin k reads bin k * a: inside the band the frequency ramp has slope 0.01 a.
    d = np.diff(out[b, 5, :40]) / 0.01
    np.testing.assert_allclose(d, d[0], atol=1e-3)
    assert 0.79 <= d[0] <= 1.21
    # Time structure untouched; zero padding stays zero.
    np.testing.assert_allclose(out[b, 6, :40] - out[b, 5, :40], 1.0, atol=1e-4)
  np.testing.assert_array_equal(out[0, 40:], 0.0)
