r"""The quickstart's last stage: evaluate, transcribe a sample, print a table.

  python -m launch.report --workdir=workdirs/small [--data_dir=data]

Evaluates the test splits with and without biasing (each utterance's list:
its own names plus 100 distractors from the split), writes one JSON result to
``results/quickstart/``, transcribes the first test utterance with its user's
context list, and prints a markdown table.
"""

import json
import os

from absl import app
from absl import flags

flags.DEFINE_string("workdir", None, "Training workdir.")
flags.DEFINE_string("data_dir", None, "Override the run's data_dir.")
flags.DEFINE_list("splits", ["validation", "test", "test_noisy", "test_unseen_voice"], "Splits.")
flags.DEFINE_list("biasing", ["none", "shallow"], "Biasing modes.")
flags.DEFINE_integer("distractors", 100, "Distractors per biasing list.")
flags.DEFINE_integer("beam", None, "Beam size (default: the config's).")
flags.DEFINE_integer("limit", None, "Utterances per split (default: all).")
flags.mark_flags_as_required(["workdir"])
FLAGS = flags.FLAGS


def main(argv):
  del argv
  from asr.evaluation import suite  # pylint: disable=g-import-not-at-top
  from benchmarks import common  # pylint: disable=g-import-not-at-top
  rows = suite.run_suite(FLAGS.workdir, FLAGS.splits, FLAGS.biasing, [FLAGS.distractors],
                         beam=FLAGS.beam, data_dir=FLAGS.data_dir, limit=FLAGS.limit)
  table = suite.markdown_table(rows)
  path = common.write_result(
      "quickstart", {"rows": [r.__dict__ for r in rows]},
      {"workdir": os.path.abspath(FLAGS.workdir), "splits": FLAGS.splits,
       "biasing": FLAGS.biasing, "distractors": FLAGS.distractors, "beam": FLAGS.beam,
       "limit": FLAGS.limit})
  sample = _transcribe_sample()
  print("\nSample transcript (first test utterance, its user's contact and device list):")
  print(json.dumps(sample, ensure_ascii=False, indent=1))
  print("\nResults (" + path.name + "):\n")
  print(table)


def _transcribe_sample() -> dict:
  from asr import inference  # pylint: disable=g-import-not-at-top
  from asr.data import pipeline, sources  # pylint: disable=g-import-not-at-top
  from asr.training import state as state_lib  # pylint: disable=g-import-not-at-top
  rec = inference.Recognizer.from_workdir(FLAGS.workdir)
  data_dir = FLAGS.data_dir or rec.config.data.data_dir
  src = sources.open_source(state_lib.split_spec(rec.config, "test"), data_dir)
  ex = next(src[i] for i in range(len(src)) if src[i]["entities"])
  audio = pipeline.crop_request(ex, None)
  plain = rec.transcribe(audio, (), beam=4, nbest=2)
  biased = rec.transcribe(audio, [(c, None) for c in ex["context"]], beam=4, nbest=2)
  return {"id": ex["id"], "reference": ex["text"], "context_list_size": len(ex["context"]),
          "no_biasing": plain, "shallow_fusion": biased}


if __name__ == "__main__":
  app.run(main)
