r"""Trains the rescoring Transformer language model.

  python -m launch.train_lm --config=experiments/lm_small.py --workdir=workdirs/lm_small \
      [--config.train.num_steps=2000]

Resumes from the last checkpoint in ``--workdir``; writes ``metrics.jsonl``,
``summary.json`` and a run summary to ``results/lm_training/``.
"""

import json
import os

from absl import app
from absl import flags
from absl import logging
from ml_collections import config_flags

config_flags.DEFINE_config_file("config", None, "LM experiment config file.", lock_config=True)
flags.DEFINE_string("workdir", None, "Checkpoints, metrics and the run's config go here.")
flags.DEFINE_bool("report", True, "Write a run summary to results/lm_training/.")
flags.mark_flags_as_required(["config", "workdir"])
FLAGS = flags.FLAGS


def main(argv):
  del argv
  from asr.lm import train  # pylint: disable=g-import-not-at-top
  metrics = train.train_and_evaluate(FLAGS.config, FLAGS.workdir)
  print(json.dumps(metrics, default=str))
  if FLAGS.report:
    from benchmarks import common  # pylint: disable=g-import-not-at-top
    experiment = os.path.splitext(os.path.basename(flags.FLAGS["config"].config_filename))[0]
    path = common.write_result("lm_training", metrics, {
        "experiment": experiment, "workdir": os.path.abspath(FLAGS.workdir),
        "config": json.loads(FLAGS.config.to_json_best_effort())})
    logging.info("run summary: %s", path)


if __name__ == "__main__":
  app.run(main)
