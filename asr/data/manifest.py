"""JSON-lines manifests: how users bring their own data, and corpus export.

One utterance per line, NeMo-style fields::

  {"audio_filepath": "wavs/test/0000001.wav",   # absolute or relative to the manifest
   "duration": 3.52,                             # seconds
   "text": "call zoe muller",                    # transcript (normalized on read)
   "context": ["zoe muller", "reading lamp"],    # optional biasing list
   "wake_end": 0.81, "speech_end": 3.02,         # optional, seconds
   "entities": [{"start": 1, "end": 3, "kind": "contact", "phrase": "zoe muller"}],
   "id": "test/0000001"}                         # optional

Bad input never vanishes silently. A line that is not JSON, lacks a required
field, or names a missing, empty or undecodable file raises
:class:`ManifestError` naming the manifest, line number and file; with
``skip_bad=True`` such lines are collected in ``Manifest.skipped`` (and
counted by every tool that reports results). Audio that is not 16 kHz mono is
resampled / down-mixed with a warning, since that keeps its meaning.
"""

import dataclasses
import json
import logging
import os
from typing import Iterable, Sequence

import numpy as np
import soundfile as sf
from scipy import signal

from asr.data import text as text_lib

SAMPLE_RATE = 16000
REQUIRED_FIELDS = ("audio_filepath", "text")


class ManifestError(ValueError):
  """A manifest line that cannot be used; the message names line and file."""


@dataclasses.dataclass(frozen=True)
class SkippedLine:
  line: int
  audio_filepath: str | None
  reason: str

  def to_json(self) -> dict:
    return dataclasses.asdict(self)


@dataclasses.dataclass
class Manifest:
  """A parsed manifest: usable entries plus the lines that were skipped."""
  path: str
  entries: list[dict]
  skipped: list[SkippedLine]

  def __len__(self) -> int:
    return len(self.entries)

  def __getitem__(self, i: int) -> dict:
    """The entry with its audio loaded: ``audio`` is int16 [N] at 16 kHz."""
    entry = dict(self.entries[i])
    entry["audio"] = load_audio(entry["audio_filepath"],
                                where=f"{self.path}:{entry['line']}")
    return entry


def _check_audio_file(path: str) -> str | None:
  """Returns a reason the file cannot be used, or None."""
  if not os.path.exists(path):
    return "audio file does not exist"
  try:
    info = sf.info(path)
  except (RuntimeError, sf.LibsndfileError) as e:  # corrupt or not audio
    return f"audio file cannot be decoded ({e})"
  if info.frames == 0:
    return "audio file is empty (0 samples)"
  return None


def read_manifest(path: str, skip_bad: bool = False,
                  check_audio: bool = True) -> Manifest:
  """Parses and validates a JSON-lines manifest.

  Args:
    path: the manifest file.
    skip_bad: collect unusable lines in ``Manifest.skipped`` instead of raising.
    check_audio: open every audio file's header now (cheap), so that missing,
      empty or corrupt files are found before any work starts.

  Raises:
    ManifestError: on the first unusable line, unless ``skip_bad``.
  """
  base = os.path.dirname(os.path.abspath(path))
  entries, skipped = [], []
  with open(path, encoding="utf-8") as f:
    for lineno, raw in enumerate(f, start=1):
      if not raw.strip():
        continue
      audio_path = None
      try:
        try:
          obj = json.loads(raw)
        except json.JSONDecodeError as e:
          raise ManifestError(f"{path}:{lineno}: not valid JSON ({e.msg})") from None
        if not isinstance(obj, dict):
          raise ManifestError(f"{path}:{lineno}: expected a JSON object")
        missing = [k for k in REQUIRED_FIELDS if k not in obj]
        if missing:
          raise ManifestError(f"{path}:{lineno}: missing field(s) {missing}")
        audio_path = obj["audio_filepath"]
        if not os.path.isabs(audio_path):
          audio_path = os.path.join(base, audio_path)
        context = obj.get("context", [])
        if not isinstance(context, list) or not all(isinstance(c, str) for c in context):
          raise ManifestError(f"{path}:{lineno}: field 'context' must be a list of strings")
        blist = obj.get("biasing_list")
        if blist is not None and (not isinstance(blist, list) or
                                  not all(isinstance(c, str) for c in blist)):
          raise ManifestError(f"{path}:{lineno}: field 'biasing_list' must be a list of strings")
        if check_audio:
          reason = _check_audio_file(audio_path)
          if reason:
            raise ManifestError(f"{path}:{lineno}: {reason}: {audio_path}")
        entry = dict(obj)
        entry.update(
            audio_filepath=audio_path, line=lineno,
            id=str(obj.get("id", f"{os.path.basename(path)}:{lineno}")),
            text=text_lib.normalize_transcript(str(obj["text"])),
            context=[text_lib.normalize_transcript(c) for c in context],
            entities=list(obj.get("entities", [])))
        if blist is not None:
          entry["biasing_list"] = [text_lib.normalize_transcript(c) for c in blist]
        for key in ("duration", "wake_end", "speech_end", "speech_start"):
          if key in obj and obj[key] is not None:
            try:
              entry[key] = float(obj[key])
            except (TypeError, ValueError):
              raise ManifestError(f"{path}:{lineno}: field {key!r} is not a number: {obj[key]!r}") from None
        entries.append(entry)
      except ManifestError as e:
        if not skip_bad:
          raise
        skipped.append(SkippedLine(lineno, audio_path, str(e)))
  if skipped:
    logging.warning("%s: skipped %d bad line(s); first: %s", path, len(skipped),
                    skipped[0].reason)
  return Manifest(path, entries, skipped)


def load_audio(path: str, where: str = "") -> np.ndarray:
  """Reads an audio file as 16 kHz mono int16, resampling/down-mixing if needed.

  Raises:
    ManifestError: missing, empty or undecodable file (message names ``where``).
  """
  prefix = f"{where}: " if where else ""
  reason = _check_audio_file(path)
  if reason:
    raise ManifestError(f"{prefix}{reason}: {path}")
  try:
    wav, rate = sf.read(path, dtype="int16", always_2d=True)
  except (RuntimeError, sf.LibsndfileError) as e:
    raise ManifestError(f"{prefix}audio file cannot be decoded ({e}): {path}") from None
  if wav.shape[1] == 1 and rate == SAMPLE_RATE:
    return np.ascontiguousarray(wav[:, 0])  # the common case: bit-exact
  x = wav.astype(np.float64) / 32768.0
  if x.shape[1] > 1:
    logging.warning("%s%s has %d channels; down-mixing to mono", prefix, path, x.shape[1])
  x = x.mean(axis=1)
  if rate != SAMPLE_RATE:
    logging.warning("%s%s is %d Hz; resampling to %d Hz", prefix, path, rate, SAMPLE_RATE)
    g = np.gcd(int(rate), SAMPLE_RATE)
    x = signal.resample_poly(x, SAMPLE_RATE // g, int(rate) // g)
  return np.clip(np.round(x * 32768.0), -32768, 32767).astype(np.int16)


def write_manifest(path: str, entries: Iterable[dict]) -> int:
  """Writes entries (dicts with JSON-serializable values) one per line."""
  n = 0
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  with open(path, "w", encoding="utf-8") as f:
    for e in entries:
      f.write(json.dumps(e, ensure_ascii=False) + "\n")
      n += 1
  return n


MANIFEST_FIELDS: Sequence[str] = (
    "id", "duration", "text", "context", "wake_end", "speech_start",
    "speech_end", "entities", "stream_text", "engine", "voice", "domain",
    "intent", "user_id")


def export_split(examples: Iterable[dict], out_dir: str, split: str) -> str:
  """Writes a split's examples as WAV files plus ``<out_dir>/<split>.jsonl``.

  Args:
    examples: decoded examples (see :func:`asr.data.sources.open_source`).
    out_dir: root of the export; WAVs go to ``<out_dir>/wavs/<split>/``.
  Returns:
    the manifest path.
  """
  wav_dir = os.path.join(out_dir, "wavs", split)
  os.makedirs(wav_dir, exist_ok=True)

  def lines():
    for ex in examples:
      name = ex["id"].replace("/", "_") + ".wav"
      sf.write(os.path.join(wav_dir, name), ex["audio"], SAMPLE_RATE, subtype="PCM_16")
      line = {"audio_filepath": os.path.join("wavs", split, name)}
      for k in MANIFEST_FIELDS:
        if k in ex:
          v = ex[k]
          line[k] = v.item() if isinstance(v, np.generic) else v
      yield line

  path = os.path.join(out_dir, f"{split}.jsonl")
  write_manifest(path, lines())
  return path
