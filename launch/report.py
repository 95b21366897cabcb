r"""The quickstart's last stage: evaluate, transcribe a sample, print a table.

  python -m launch.report --workdir=workdirs/small [--data_dir=data]

Evaluates the test splits with and without biasing (each utterance's list:
its own names plus 100 distractors from the split; beam search) and, with no
list, greedy decoding (``--greedy``), writes one JSON result to
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
flags.DEFINE_list("biasing", None, "Biasing modes (default: none,shallow, plus attention,both "
                  "for a model with attention biasing).")
flags.DEFINE_integer("distractors", 100, "Distractors per biasing list.")
flags.DEFINE_integer("beam", None, "Beam size (default: the config's).")
flags.DEFINE_float("ilm_weight", None, "Beam search internal-LM subtraction weight "
                   "(default: the config's eval.ilm_weight, else 0).")
flags.DEFINE_integer("max_symbols", None, "Beam search kind: 0 = modified, >= 1 = time-synchronous "
                     "with that many labels per frame (default: the config's eval.max_symbols).")
flags.DEFINE_float("ctc_rescore_weight", None, "CTC rescoring of the final beam (weight of the CTC "
                   "head's log-likelihood; default: the config's eval.ctc_rescore_weight, else 0).")
flags.DEFINE_float("ctc_rescore_bonus", None, "CTC rescoring: reward per wordpiece (default: the "
                   "config's eval.ctc_rescore_bonus, else 0).")
flags.DEFINE_integer("limit", None, "Utterances per split (default: all).")
flags.DEFINE_bool("greedy", True, "Also report the no-biasing greedy decode per split.")
flags.DEFINE_string("attention_map", "attention_map.png",
                    "For a CATT model: where (inside the workdir unless absolute) to write the "
                    "attention map of the sample utterance; empty: none.")
flags.DEFINE_string("results", "quickstart",
                    "results/ folder (and BUILD.md table) the report goes to: quickstart "
                    "(the quickstart's model) or model_reports (any other model, one table each).")
flags.mark_flags_as_required(["workdir"])
FLAGS = flags.FLAGS


def main(argv):
  del argv
  from asr.evaluation import suite  # pylint: disable=g-import-not-at-top
  from benchmarks import common  # pylint: disable=g-import-not-at-top
  from asr.training import state as state_lib  # pylint: disable=g-import-not-at-top
  catt = bool(state_lib.load_config(FLAGS.workdir).model.biasing.enabled)
  modes = FLAGS.biasing or (["none", "shallow", "attention", "both"] if catt else ["none", "shallow"])
  rows = suite.run_suite(FLAGS.workdir, FLAGS.splits, modes, [FLAGS.distractors],
                         beam=FLAGS.beam, data_dir=FLAGS.data_dir, limit=FLAGS.limit,
                         greedy_row=FLAGS.greedy, ilm_weight=FLAGS.ilm_weight,
                         max_symbols=FLAGS.max_symbols,
                         ctc_rescore_weight=FLAGS.ctc_rescore_weight,
                         ctc_rescore_bonus=FLAGS.ctc_rescore_bonus)
  table = suite.markdown_table(rows)
  path = common.write_result(
      FLAGS.results, {"rows": [r.__dict__ for r in rows]},
      {"workdir": os.path.abspath(FLAGS.workdir), "splits": FLAGS.splits,
       "biasing": modes, "distractors": FLAGS.distractors, "beam": FLAGS.beam,
       "ilm_weight": FLAGS.ilm_weight, "max_symbols": FLAGS.max_symbols,
       "ctc_rescore_weight": FLAGS.ctc_rescore_weight,
       "ctc_rescore_bonus": FLAGS.ctc_rescore_bonus, "limit": FLAGS.limit})
  sample = _transcribe_sample(catt)
  print("\nSample transcript (first test utterance, its user's contact and device list):")
  print(json.dumps(sample, ensure_ascii=False, indent=1))
  print("\nResults (" + path.name + "):\n")
  print(table)


def _transcribe_sample(catt: bool) -> dict:
  from asr import inference  # pylint: disable=g-import-not-at-top
  from asr.data import pipeline, sources  # pylint: disable=g-import-not-at-top
  from asr.training import state as state_lib  # pylint: disable=g-import-not-at-top
  rec = inference.Recognizer.from_workdir(FLAGS.workdir)
  data_dir = FLAGS.data_dir or rec.config.data.data_dir
  src = sources.open_source(state_lib.split_spec(rec.config, "test"), data_dir)
  ex = next(src[i] for i in range(len(src)) if src[i]["entities"])
  audio = pipeline.crop_request(ex, None)
  phrases = [(c, None) for c in ex["context"]]
  out = {"id": ex["id"], "reference": ex["text"], "context_list": list(ex["context"]),
         "no_biasing": rec.transcribe(audio, (), beam=4, nbest=2),
         "shallow_fusion": rec.transcribe(audio, phrases, beam=4, nbest=2, attention=False)}
  if catt:
    out["attention"] = rec.transcribe(audio, phrases, beam=4, nbest=2, shallow=False)
    out["attention_and_shallow"] = rec.transcribe(audio, phrases, beam=4, nbest=2)
    if FLAGS.attention_map:
      from asr.visualization import attention  # pylint: disable=g-import-not-at-top
      path = os.path.join(FLAGS.workdir, FLAGS.attention_map)
      maps = attention.compute_maps(rec, audio, list(ex["context"]), beam=4)
      attention.plot_maps(maps, path, title=f"{ex['id']}: {ex['text']}")
      out["attention_map"] = path
  return out


if __name__ == "__main__":
  app.run(main)
