r"""Builds the voice-assistant corpus (TFDS) and its tokenizers.

  python -m launch.prepare_data --config=small --output_dir=data [--num_workers=2]
      [--seed=0] [--vocab_sizes=256] [--export_manifests]

``--config`` is a corpus config (tiny, small, full) or an experiment config
file (``experiments/small.py``), whose ``data.corpus`` names the corpus.
Writes ``<output_dir>/voice_assistant/<config>/1.0.0/`` (array_record splits +
``spm_unigram<V>.model``), optionally WAVs + JSON-lines manifests under
``<output_dir>/manifests/<config>/``, and a build report (time, sizes) to
``results/corpus_build/``.
"""

import os
import time

from absl import app
from absl import flags
from absl import logging

flags.DEFINE_string("config", "tiny", "Corpus config (tiny/small/full) or an experiment config .py file.")
flags.DEFINE_string("output_dir", "data", "TFDS data_dir to build into.")
flags.DEFINE_integer("num_workers", os.cpu_count() or 1, "Generator processes.")
flags.DEFINE_integer("seed", None, "Corpus seed (default: the config's).")
flags.DEFINE_list("vocab_sizes", ["256"], "SentencePiece vocabulary sizes to train.")
flags.DEFINE_bool("export_manifests", False, "Also export WAV files + JSON-lines manifests.")
flags.DEFINE_bool("report", True, "Write a build report JSON to results/corpus_build/.")
FLAGS = flags.FLAGS


def _corpus_name(config: str) -> str:
  if config.endswith(".py"):
    from ml_collections import config_flags  # pylint: disable=g-import-not-at-top,unused-import
    import importlib.util  # pylint: disable=g-import-not-at-top
    spec = importlib.util.spec_from_file_location("exp_config", config)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.get_config().data.corpus
  return config


def main(argv):
  del argv
  from asr.data import prepare  # pylint: disable=g-import-not-at-top
  name = _corpus_name(FLAGS.config)
  t0 = time.time()
  summary = prepare.prepare_corpus(
      name, FLAGS.output_dir, num_workers=FLAGS.num_workers, seed=FLAGS.seed,
      vocab_sizes=[int(v) for v in FLAGS.vocab_sizes],
      export_manifests=FLAGS.export_manifests)
  summary["wall_seconds"] = time.time() - t0
  for k, v in summary.items():
    logging.info("%s: %s", k, v)
    print(f"{k}: {v}")
  if FLAGS.report and not summary.get("reused"):
    from benchmarks import common  # pylint: disable=g-import-not-at-top
    path = common.write_result("corpus_build", summary, {"config": name, "seed": FLAGS.seed,
                                                         "num_workers": FLAGS.num_workers})
    print(f"report: {path}")


if __name__ == "__main__":
  app.run(main)
