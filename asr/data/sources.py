"""Random-access data sources: a TFDS split or a manifest, behind one interface.

Every tool that reads data takes a *source spec*:

* ``tfds:<name>/<config>:<split>`` -- e.g. ``tfds:voice_assistant/small:test``,
  read with ``tfds.data_source`` from ``data_dir``;
* a path ending in ``.jsonl`` -- a manifest (:mod:`asr.data.manifest`).

A source has ``len()``, ``source[i]`` -> example dict (below), ``.skipped``
(bad manifest lines, empty for TFDS) and ``.durations()`` (seconds, without
decoding audio where possible). Example dict fields: ``id`` (str), ``audio``
(int16 [N], 16 kHz), ``text`` (normalized request), ``context`` (list[str]),
``wake_end``/``speech_start``/``speech_end`` (float seconds; absent -> None),
``entities`` (list of {start, end, kind, phrase}), ``duration`` (float).
"""

import dataclasses
import os
from typing import Any

import numpy as np

from asr.data import manifest as manifest_lib


def _decode(v: Any) -> Any:
  if isinstance(v, bytes):
    return v.decode("utf-8")
  if isinstance(v, list):
    return [_decode(x) for x in v]
  if isinstance(v, np.generic):
    return v.item()
  return v


def _tfds_example(raw: dict) -> dict:
  ex = {k: _decode(v) for k, v in raw.items() if k not in ("audio", "entities")}
  ex["audio"] = np.asarray(raw["audio"], np.int16)
  e = raw["entities"]
  ex["entities"] = [
      {"start": int(s), "end": int(t), "kind": _decode(k), "phrase": _decode(p)}
      for s, t, k, p in zip(e["start"], e["end"], e["kind"], e["phrase"])]
  return ex


@dataclasses.dataclass
class TfdsSource:
  """One split of a TFDS dataset read with ``tfds.data_source``."""
  spec: str
  data_dir: str
  labeled: bool = True

  def __post_init__(self):
    import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
    body = self.spec[len("tfds:"):]
    if ":" not in body:
      raise ValueError(f"source spec {self.spec!r}: expected tfds:<name>/<config>:<split>")
    name, self.split = body.rsplit(":", 1)
    self.name = name
    try:
      self._source = tfds.data_source(name, split=self.split, data_dir=self.data_dir)
    except Exception as e:  # tfds raises several kinds; name the spec
      raise FileNotFoundError(
          f"cannot open {self.spec} under data_dir={self.data_dir!r}: {e}. "
          "Build it with `python -m launch.prepare_data`.") from e
    self.skipped: list = []

  def __len__(self) -> int:
    return len(self._source)

  def __getitem__(self, i: int) -> dict:
    ex = _tfds_example(self._source[i])
    if not self.labeled:  # the unlabeled split: training code sees audio only
      ex = {k: ex[k] for k in ("id", "audio", "duration", "wake_end")}
    return ex

  def durations(self) -> np.ndarray:
    # array_record reads whole records; decoding audio is the price here.
    return np.array([float(self._source[i]["duration"]) for i in range(len(self))])



@dataclasses.dataclass
class ManifestSource:
  """A JSON-lines manifest (see :mod:`asr.data.manifest`)."""
  spec: str
  skip_bad: bool = False

  def __post_init__(self):
    self._manifest = manifest_lib.read_manifest(self.spec, skip_bad=self.skip_bad)
    self.skipped = self._manifest.skipped

  def __len__(self) -> int:
    return len(self._manifest)

  def __getitem__(self, i: int) -> dict:
    ex = self._manifest[i]
    for key in ("wake_end", "speech_start", "speech_end"):
      ex.setdefault(key, None)
    ex["duration"] = len(ex["audio"]) / manifest_lib.SAMPLE_RATE
    return ex

  def durations(self) -> np.ndarray:
    out = []
    for e in self._manifest.entries:
      d = e.get("duration")
      if d is None:
        import soundfile as sf  # pylint: disable=g-import-not-at-top
        d = sf.info(e["audio_filepath"]).duration
      out.append(float(d))
    return np.array(out)


def open_source(spec: str, data_dir: str | None = None, skip_bad: bool = False,
                labeled: bool = True):
  """Opens a source spec (see module docstring)."""
  if spec.startswith("tfds:"):
    if data_dir is None:
      raise ValueError(f"{spec}: a TFDS source needs data_dir")
    return TfdsSource(spec, data_dir, labeled=labeled)
  if spec.endswith(".jsonl") or spec.endswith(".json"):
    if not os.path.exists(spec):
      raise FileNotFoundError(f"manifest not found: {spec}")
    return ManifestSource(spec, skip_bad=skip_bad)
  raise ValueError(f"unknown source spec {spec!r}: use tfds:<name>/<config>:<split> "
                   "or a .jsonl manifest path")


def name_pool(source) -> list[str]:
  """All distinct context phrases of a source: the pool distractors come from."""
  pool = set()
  if isinstance(source, ManifestSource):
    for e in source._manifest.entries:  # pylint: disable=protected-access
      pool.update(e.get("context", []))
  else:
    for i in range(len(source)):
      pool.update(_decode(source._source[i]["context"]))  # pylint: disable=protected-access
  return sorted(pool)
