r"""Trains a transducer experiment.

  python -m launch.train --config=experiments/small.py --workdir=workdirs/small \
      [--config.train.num_steps=4000] [--multihost]

Resumes automatically from the last checkpoint in ``--workdir``. With
``--multihost`` (or ASR_MULTIHOST=1) it first calls
``jax.distributed.initialize()`` (coordinator from the cluster environment).
"""

import json
import os

from absl import app
from absl import flags
from absl import logging
from ml_collections import config_flags

config_flags.DEFINE_config_file("config", None, "Experiment config file.", lock_config=True)
flags.DEFINE_string("workdir", None, "Checkpoints, metrics and the run's config go here.")
flags.DEFINE_bool("multihost", False, "Call jax.distributed.initialize() first.")
flags.DEFINE_bool("report", True, "Write a run summary to results/training_runs/.")
flags.mark_flags_as_required(["config", "workdir"])
FLAGS = flags.FLAGS


def main(argv):
  del argv
  import jax  # pylint: disable=g-import-not-at-top
  if FLAGS.multihost or os.environ.get("ASR_MULTIHOST") == "1":
    jax.distributed.initialize()
  logging.info("JAX devices: %s (process %d of %d)", jax.devices(), jax.process_index(),
               jax.process_count())
  from asr.training import train  # pylint: disable=g-import-not-at-top
  metrics = train.train_and_evaluate(FLAGS.config, FLAGS.workdir)
  print(json.dumps({k: v for k, v in metrics.items()}, default=str))
  if jax.process_index() == 0 and FLAGS.report:
    from benchmarks import common  # pylint: disable=g-import-not-at-top
    experiment = os.path.splitext(os.path.basename(flags.FLAGS["config"].config_filename))[0]
    path = common.write_result("training_runs", metrics, {
        "experiment": experiment, "workdir": os.path.abspath(FLAGS.workdir),
        "config": json.loads(FLAGS.config.to_json_best_effort())})
    logging.info("run summary: %s", path)


if __name__ == "__main__":
  app.run(main)
