r"""Trains the learned end-of-query model and tunes its two operating points.

  python -m launch.train_endpointer --config=experiments/endpointer.py \
      --workdir=workdirs/endpointer [--config.data.max_train_utterances=N]
      [--asr_workdir=workdirs/small [--retune_only]]

Writes ``params.msgpack`` and ``endpointer.json`` (config, thresholds,
validation statistics) to ``--workdir``.
"""

import json

from absl import app
from absl import flags
from ml_collections import config_flags

config_flags.DEFINE_config_file("config", None, "End-pointer config file.", lock_config=True)
flags.DEFINE_string("workdir", None, "Output directory.")
flags.DEFINE_string("asr_workdir", None, "Recognizer: re-choose the speculative threshold from "
                    "revisions measured through it on validation.")
flags.DEFINE_bool("retune_only", False, "Skip training; only re-tune an existing --workdir.")
flags.DEFINE_integer("retune_streams", 200, "Validation streams for re-tuning.")
flags.mark_flags_as_required(["config", "workdir"])
FLAGS = flags.FLAGS


def main(argv):
  del argv
  from asr import endpointing  # pylint: disable=g-import-not-at-top
  if not FLAGS.retune_only:
    summary = endpointing.train_endpointer(FLAGS.config, FLAGS.workdir)
    print(json.dumps(summary, default=str))
  if FLAGS.asr_workdir:
    from asr import inference  # pylint: disable=g-import-not-at-top
    rec = inference.Recognizer.from_workdir(FLAGS.asr_workdir)
    tuned = endpointing.retune_speculative(FLAGS.config, FLAGS.workdir, rec,
                                           FLAGS.retune_streams)
    print(json.dumps(tuned, default=str))


if __name__ == "__main__":
  app.run(main)
