"""Feature normalization: per-utterance CMVN."""

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
