"""TFDS builder of the synthetic voice-assistant corpus (``voice_assistant``).

Built offline from text-to-speech (see ``asr/data/corpus.py``); written as
array_record with Tensor features, so neither building nor reading needs
TensorFlow. Read with ``tfds.data_source('voice_assistant/small',
data_dir=...)`` or :func:`asr.data.sources.open_source`.

Splits: ``train``, ``validation``, ``test`` (unseen names),
``test_noisy`` (competing talker), ``test_unseen_voice`` (held-out voice) and
``unlabeled`` (audio for teacher-student; training code reads only its audio).

Configs: ``tiny`` (184 utterances; seconds; tests), ``small`` (~10.7k; the CPU
quickstart), ``mid`` (small with 24k training requests, ~26.7k), ``full`` (~65k).
"""

import dataclasses
import json

import numpy as np
import tensorflow_datasets as tfds

from asr.data import corpus as corpus_lib
from asr.data import tts

_SMALL = corpus_lib.CorpusConfig(
    split_sizes=(("train", 8000), ("validation", 400), ("test", 600),
                 ("test_noisy", 400), ("test_unseen_voice", 300),
                 ("unlabeled", 1000)),
    num_users=(("train", 400), ("validation", 40), ("test", 60),
               ("test_noisy", 40), ("test_unseen_voice", 30),
               ("unlabeled", 50)))
_FULL = corpus_lib.CorpusConfig(
    split_sizes=(("train", 50000), ("validation", 1000), ("test", 2000),
                 ("test_noisy", 1000), ("test_unseen_voice", 1000),
                 ("unlabeled", 10000)),
    num_users=(("train", 2500), ("validation", 100), ("test", 200),
               ("test_noisy", 100), ("test_unseen_voice", 100),
               ("unlabeled", 500)))
# ``small`` with three times the training requests (and users, 20 requests per
# user as in the others); its other splits have small's sizes, users and seed,
# so they are the same examples as small's. ~20 min to build on 2 cores.
_MID = dataclasses.replace(
    _SMALL,
    split_sizes=tuple((s, 24000 if s == "train" else n) for s, n in _SMALL.split_sizes),
    num_users=tuple((s, 1200 if s == "train" else n) for s, n in _SMALL.num_users))
CORPUS_CONFIGS = {"tiny": corpus_lib.CorpusConfig(), "small": _SMALL, "mid": _MID,
                  "full": _FULL}


@dataclasses.dataclass
class VoiceAssistantConfig(tfds.core.BuilderConfig):
  corpus_config: corpus_lib.CorpusConfig = dataclasses.field(
      default_factory=corpus_lib.CorpusConfig)


def make_config(name: str, seed: int | None = None, **overrides) -> VoiceAssistantConfig:
  """A builder config: one of ``CORPUS_CONFIGS``, optionally re-seeded.

  A non-default seed or override gets its own config name (``small_seed3``) so
  that differently seeded corpora live side by side in one data_dir.
  """
  if name not in CORPUS_CONFIGS:
    raise ValueError(f"unknown corpus config {name!r}; choose from {sorted(CORPUS_CONFIGS)}")
  cfg = CORPUS_CONFIGS[name]
  full_name = name
  if seed is not None and seed != cfg.seed:
    cfg = dataclasses.replace(cfg, seed=seed)
    full_name += f"_seed{seed}"
  if overrides:
    cfg = dataclasses.replace(cfg, **overrides)
    full_name += "_" + "_".join(f"{k}{v}" for k, v in sorted(overrides.items())
                                if not isinstance(v, tuple))
  return VoiceAssistantConfig(name=full_name, corpus_config=cfg,
                              description=f"{name} corpus, seed {cfg.seed}")


class VoiceAssistant(tfds.core.GeneratorBasedBuilder):
  """Synthetic far-field voice-assistant requests with personal context lists."""

  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": "Initial release."}
  BUILDER_CONFIGS = [make_config(n) for n in CORPUS_CONFIGS]
  # Index i of a split is example i of the generator: stable across builds.
  DEFAULT_BUILDER_CONFIG_NAME = "tiny"

  def __init__(self, *, num_workers: int = 1, **kwargs):
    self._num_workers = num_workers
    self._pool = None
    super().__init__(**kwargs)

  def download_and_prepare(self, *args, **kwargs):
    # TFDS's writer buffers a split in memory and spills to disk through
    # tf.io.gfile above 1 GB, which needs TensorFlow. With disable_shuffling
    # every example lands in one spill bucket that is read back whole anyway,
    # so never spilling costs no extra memory: lift the threshold.
    from tensorflow_datasets.core import shuffle  # pylint: disable=g-import-not-at-top
    shuffle.MAX_MEM_BUFFER_SIZE = max(shuffle.MAX_MEM_BUFFER_SIZE, 1 << 40)
    # One worker pool for all splits: spawning workers costs seconds.
    if self._num_workers > 1:
      with corpus_lib.worker_pool(self._num_workers) as pool:
        self._pool = pool
        try:
          return super().download_and_prepare(*args, **kwargs)
        finally:
          self._pool = None
    return super().download_and_prepare(*args, **kwargs)

  def _info(self) -> tfds.core.DatasetInfo:
    cfg = self.builder_config.corpus_config
    regular, held = corpus_lib.voice_inventory()
    metadata = tfds.core.MetadataDict(
        sample_rate=tts.SAMPLE_RATE,
        corpus_config=json.dumps(cfg.to_json(), sort_keys=True),
        voices=json.dumps(regular, sort_keys=True),
        held_out_voices=json.dumps(held))
    return self.dataset_info_from_configs(
        description=__doc__,
        features=tfds.features.FeaturesDict({
            "id": tfds.features.Text(),
            # 16 kHz mono int16 (Tensor: tfds.features.Audio needs TensorFlow).
            "audio": tfds.features.Tensor(shape=(None,), dtype=np.int16),
            "duration": tfds.features.Scalar(dtype=np.float32),
            "text": tfds.features.Text(doc="normalized request transcript"),
            "stream_text": tfds.features.Text(doc="wake word + request"),
            "tts_text": tfds.features.Text(doc="text given to the TTS engine"),
            "context": tfds.features.Sequence(tfds.features.Text()),
            "wake_end": tfds.features.Scalar(dtype=np.float32),
            "speech_start": tfds.features.Scalar(dtype=np.float32),
            "speech_end": tfds.features.Scalar(dtype=np.float32),
            "entities": tfds.features.Sequence({
                "start": np.int32, "end": np.int32,
                "kind": tfds.features.Text(), "phrase": tfds.features.Text()}),
            "user_id": tfds.features.Scalar(dtype=np.int32),
            "domain": tfds.features.Text(),
            "intent": tfds.features.Text(),
            "engine": tfds.features.Text(),
            "voice": tfds.features.Text(),
            "voice_params": tfds.features.Text(),
            "augmentation": tfds.features.Text(),
        }),
        metadata=metadata,
        disable_shuffling=True,
    )

  def _split_generators(self, dl_manager):
    del dl_manager  # nothing is downloaded
    return {split: self._generate_examples(split) for split in corpus_lib.SPLITS}

  def _generate_examples(self, split):
    cfg = self.builder_config.corpus_config
    for i, ex in enumerate(corpus_lib.generate_split(cfg, split, self._pool)):
      yield i, _entities_as_lists(ex)


def _entities_as_lists(ex: dict) -> dict:
  e = ex["entities"]
  ex = dict(ex)
  ex["entities"] = [
      {"start": int(s), "end": int(t), "kind": k, "phrase": p}
      for s, t, k, p in zip(e["start"], e["end"], e["kind"], e["phrase"])]
  return ex


def builder(config: str | VoiceAssistantConfig, data_dir: str,
            num_workers: int = 1) -> VoiceAssistant:
  if isinstance(config, VoiceAssistantConfig) and config.name in CORPUS_CONFIGS:
    config = config.name  # registered configs must be passed by name
  return VoiceAssistant(config=config, data_dir=data_dir, file_format="array_record",
                        num_workers=num_workers)
