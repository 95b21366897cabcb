"""Corpus preparation: build the TFDS dataset, train tokenizers, export manifests."""

import os
import time

from asr.data import sources
from asr.data import tokenizer as tokenizer_lib
from asr.data import voice_assistant


def dataset_dir(data_dir: str, config_name: str) -> str:
  return os.path.join(data_dir, "voice_assistant", config_name,
                      str(voice_assistant.VoiceAssistant.VERSION))


def prepare_corpus(config: str, data_dir: str, num_workers: int = 1,
                   seed: int | None = None, vocab_sizes=(256,),
                   export_manifests: bool = False) -> dict:
  """Builds (or reuses) a corpus and its tokenizers; returns a summary dict."""
  cfg = voice_assistant.make_config(config, seed=seed)
  ds_dir = dataset_dir(data_dir, cfg.name)
  reused = os.path.exists(os.path.join(ds_dir, "dataset_info.json"))
  t0 = time.time()
  builder = voice_assistant.builder(cfg, data_dir, num_workers=num_workers)
  builder.download_and_prepare()
  build_s = time.time() - t0
  summary = {"config": cfg.name, "dataset_dir": ds_dir, "reused": reused,
             "build_seconds": build_s, "num_workers": num_workers}
  splits = {}
  for split in voice_assistant.corpus_lib.SPLITS:
    splits[split] = len(sources.open_source(f"tfds:voice_assistant/{cfg.name}:{split}", data_dir))
  summary["splits"] = splits
  summary["num_utterances"] = sum(splits.values())
  train = sources.open_source(f"tfds:voice_assistant/{cfg.name}:train", data_dir)
  texts = None
  for v in vocab_sizes:
    path = tokenizer_lib.tokenizer_path(ds_dir, v)
    if not os.path.exists(path):
      if texts is None:
        texts = [train[i]["text"] for i in range(len(train))]
      tokenizer_lib.train_tokenizer(texts, path, vocab_size=v)
    summary[f"tokenizer_{v}"] = path
  total_bytes = sum(os.path.getsize(os.path.join(ds_dir, f)) for f in os.listdir(ds_dir))
  summary["dataset_bytes"] = total_bytes
  if export_manifests:
    out = os.path.join(data_dir, "manifests", cfg.name)
    paths = {}
    for split in voice_assistant.corpus_lib.SPLITS:
      src = sources.open_source(f"tfds:voice_assistant/{cfg.name}:{split}", data_dir)
      from asr.data import manifest  # pylint: disable=g-import-not-at-top
      paths[split] = manifest.export_split((src[i] for i in range(len(src))), out, split)
    summary["manifests"] = paths
  return summary
