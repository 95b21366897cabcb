"""Manifest export/read round trip and every bad-input case."""

import json
import os

import numpy as np
import pytest
import soundfile as sf

from asr.data import manifest
from asr.data import sources


def _write_lines(path, lines):
  with open(path, "w") as f:
    for line in lines:
      f.write(line if isinstance(line, str) else json.dumps(line))
      f.write("\n")


def test_export_and_read_round_trip(tiny_data_dir, tmp_path):
  src = sources.open_source("tfds:voice_assistant/tiny:test", tiny_data_dir)
  examples = [src[i] for i in range(5)]
  path = manifest.export_split(examples, str(tmp_path), "test")
  back = sources.open_source(path)
  assert len(back) == 5 and back.skipped == []
  for a, b in zip(examples, (back[i] for i in range(5))):
    assert np.array_equal(a["audio"], b["audio"])
    assert a["text"] == b["text"] and a["context"] == b["context"]
    assert a["entities"] == b["entities"]
    assert b["wake_end"] == pytest.approx(a["wake_end"], abs=1e-6)
    assert b["speech_end"] == pytest.approx(a["speech_end"], abs=1e-6)


@pytest.fixture
def wav_dir(tmp_path):
  rng = np.random.default_rng(0)
  tone = (0.3 * np.sin(np.arange(16000) * 2 * np.pi * 440 / 16000)).astype(np.float32)
  sf.write(tmp_path / "good.wav", tone, 16000, subtype="PCM_16")
  sf.write(tmp_path / "rate8k.wav", tone[::2], 8000, subtype="PCM_16")
  sf.write(tmp_path / "stereo.wav", np.stack([tone, tone], axis=1), 16000, subtype="PCM_16")
  sf.write(tmp_path / "empty.wav", np.zeros(0, np.float32), 16000, subtype="PCM_16")
  (tmp_path / "corrupt.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk" + rng.bytes(100))
  return tmp_path


def _manifest(wav_dir, names_and_lines):
  path = wav_dir / "m.jsonl"
  _write_lines(path, names_and_lines)
  return str(path)


def test_good_line_reads_normalized(wav_dir):
  path = _manifest(wav_dir, [{"audio_filepath": "good.wav", "text": "Call Zoë at 7",
                              "context": ["Zoë Müller"]}])
  src = sources.open_source(path)
  ex = src[0]
  assert ex["text"] == "call zoe at seven" and ex["context"] == ["zoe muller"]
  assert ex["audio"].dtype == np.int16 and len(ex["audio"]) == 16000


def test_resample_and_downmix_with_warning(wav_dir, caplog):
  path = _manifest(wav_dir, [{"audio_filepath": "rate8k.wav", "text": "a"},
                             {"audio_filepath": "stereo.wav", "text": "b"}])
  src = sources.open_source(path)
  with caplog.at_level("WARNING"):
    a, b = src[0]["audio"], src[1]["audio"]
  assert len(a) == 16000 and len(b) == 16000
  assert "resampling" in caplog.text and "down-mixing" in caplog.text
  good = sources.open_source(_manifest(wav_dir, [{"audio_filepath": "good.wav", "text": "c"}]))[0]["audio"]
  assert np.array_equal(b, good)  # identical channels down-mix to the same signal
  assert np.corrcoef(a[100:-100].astype(float), good[100:-100].astype(float))[0, 1] > 0.99


@pytest.mark.parametrize("line, message", [
    ({"audio_filepath": "missing.wav", "text": "a"}, "does not exist"),
    ({"audio_filepath": "empty.wav", "text": "a"}, "empty"),
    ({"audio_filepath": "corrupt.wav", "text": "a"}, "cannot be decoded"),
    ({"text": "a"}, "missing field"),
    ("{not json", "not valid JSON"),
    ({"audio_filepath": "good.wav", "text": "a", "context": "zoe"}, "context"),
    ({"audio_filepath": "good.wav", "text": "a", "wake_end": "soon"}, "wake_end"),
])
def test_bad_line_raises_naming_line_and_file(wav_dir, line, message):
  path = _manifest(wav_dir, [{"audio_filepath": "good.wav", "text": "ok"}, line])
  with pytest.raises(manifest.ManifestError) as e:
    sources.open_source(path)
  assert message in str(e.value)
  assert f"{path}:2" in str(e.value)
  if isinstance(line, dict) and "audio_filepath" in line and message != "context" \
      and message != "wake_end":
    assert line["audio_filepath"] in str(e.value)


def test_skip_bad_reports_every_skipped_line(wav_dir):
  path = _manifest(wav_dir, [
      {"audio_filepath": "good.wav", "text": "one"},
      {"audio_filepath": "missing.wav", "text": "two"},
      "garbage",
      {"audio_filepath": "empty.wav", "text": "three"},
      {"audio_filepath": "stereo.wav", "text": "four"},
  ])
  src = sources.open_source(path, skip_bad=True)
  assert len(src) == 2
  assert [s.line for s in src.skipped] == [2, 3, 4]
  assert "missing.wav" in src.skipped[0].reason


def test_audio_that_disappears_after_reading_is_an_error(wav_dir):
  sf.write(wav_dir / "later.wav", np.zeros(1600, np.float32) + 0.1, 16000)
  path = _manifest(wav_dir, [{"audio_filepath": "later.wav", "text": "a"}])
  src = sources.open_source(path)
  os.remove(wav_dir / "later.wav")
  with pytest.raises(manifest.ManifestError, match="m.jsonl:1"):
    src[0]
