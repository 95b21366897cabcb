"""Competing-talker augmentation (asr.data.pipeline.TalkerMix)."""

import numpy as np

from asr.data import pipeline
from asr.data import sources
from asr.data import tokenizer as tokenizer_lib

SR = pipeline.SR


def _tone(freq, seconds, amp):
  t = np.arange(int(seconds * SR)) / SR
  return np.round(amp * np.sin(2 * np.pi * freq * t)).astype(np.int16)


def test_mix_talker_snr_and_placement():
  audio = np.zeros(3 * SR, np.int16)
  audio[SR:2 * SR] = _tone(200, 1.0, 1000)
  ex = {"audio": audio, "speech_start": 1.0, "speech_end": 2.0}
  piece = _tone(900, 0.4, 3000)
  rng = np.random.default_rng(0)
  out = pipeline.mix_talker(ex, [piece], 6.0, rng)
  assert out["audio"].dtype == np.int16 and len(out["audio"]) == len(audio)
  assert ex["audio"] is audio and not np.shares_memory(out["audio"], audio)
  added = out["audio"].astype(np.float64) - audio
  # The talker fills the stream with gaps, including the pre-speech (wake) part.
  assert np.abs(added[:SR]).max() > 100
  # Its level over its active samples: 6 dB below the speech (rounding aside).
  active = np.abs(added) > 0
  speech_rms = np.sqrt(np.mean(audio[SR:2 * SR].astype(np.float64) ** 2))
  talker_rms = np.sqrt(np.mean(added[active] ** 2))
  assert abs(20 * np.log10(speech_rms / talker_rms) - 6.0) < 0.3


def test_prepare_with_talker_mix(tiny_data_dir, tiny_tokenizer_path):
  src = sources.open_source("tfds:voice_assistant/tiny:train", tiny_data_dir)
  tok = tokenizer_lib.Tokenizer(tiny_tokenizer_path)
  base = pipeline.prepare_utterances(src, tok, 0.3, limit=6)
  off = pipeline.prepare_utterances(src, tok, 0.3, limit=6, talker_mix=pipeline.TalkerMix(prob=0.0))
  mix = pipeline.TalkerMix(prob=1.0, snr_db=(4.0, 12.0), seed=3)
  on = pipeline.prepare_utterances(src, tok, 0.3, limit=6, talker_mix=mix)
  again = pipeline.prepare_utterances(src, tok, 0.3, limit=6, talker_mix=mix)
  for b, o, m, a in zip(base, off, on, again):
    assert b.id == o.id == m.id
    np.testing.assert_array_equal(b.feats, o.feats)
    np.testing.assert_array_equal(b.labels, m.labels)  # the transcript is the target's
    assert b.feats.shape == m.feats.shape
    assert np.abs(b.feats.astype(np.float32) - m.feats.astype(np.float32)).mean() > 0.01
    np.testing.assert_array_equal(m.feats, a.feats)  # static: same mixture every run
  half = pipeline.prepare_utterances(src, tok, 0.3, limit=6,
                                     talker_mix=pipeline.TalkerMix(prob=0.5, seed=1))
  changed = [not np.array_equal(b.feats, h.feats) for b, h in zip(base, half)]
  assert 0 < sum(changed) < len(changed), changed


def test_same_user_partners():
  users = [7, 7, 3, 7, 3, 9]
  voices = ["a", "b", "a", "a", "c", "a"]
  assert pipeline.same_user_partners(users, voices) == [[1], [0, 3], [4], [1], [2], []]


def test_prepare_with_same_user_talkers(tiny_data_dir, tiny_tokenizer_path):
  src = sources.open_source("tfds:voice_assistant/tiny:train", tiny_data_dir)
  tok = tokenizer_lib.Tokenizer(tiny_tokenizer_path)
  n = 8
  meta = [(src[j]["user_id"], src[j]["voice"]) for j in range(n)]
  partners = pipeline.same_user_partners([m[0] for m in meta], [m[1] for m in meta])
  mix = pipeline.TalkerMix(prob=1.0, seed=2, pieces=2, same_user=True)
  assert any(partners), "the tiny corpus should have users heard in several voices"
  for i in range(n):
    others, _ = pipeline.talker_plan(i, n, mix, partners)
    if partners[i]:  # same user, another voice
      assert all(meta[j][0] == meta[i][0] and meta[j][1] != meta[i][1] for j in others)
    else:  # fallback: any other utterance
      assert len(others) == 2 and i not in others
  # Without same_user the plan is the original one (same draws).
  plain = pipeline.TalkerMix(prob=1.0, seed=2, pieces=2)
  assert [pipeline.talker_plan(i, n, plain)[0] for i in range(n)] == [
      pipeline.talker_plan(i, n, mix, [[]] * n)[0] for i in range(n)]
  fn = pipeline._talker_fn(src, n, mix)  # pylint: disable=protected-access
  assert np.abs(fn(0, src[0])["audio"].astype(np.int64) - src[0]["audio"]).max() > 0
  a = pipeline.prepare_utterances(src, tok, 0.3, limit=n, talker_mix=mix)
  b = pipeline.prepare_utterances(src, tok, 0.3, limit=n, talker_mix=mix)
  for x, y in zip(a, b):  # static: the same mixture every run
    np.testing.assert_array_equal(x.feats, y.feats)
