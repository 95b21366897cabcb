r"""Evaluates a trained workdir: WER, U-WER, B-WER, RTF.

  python -m launch.evaluate --workdir=DIR --manifest=FILE.jsonl --output=results.json \
      [--biasing=none|shallow|attention|both] [--distractors=N] [--beam=K]
  python -m launch.evaluate --workdir=DIR --split=test --output=results.json

Prints the metrics as one JSON line and writes metrics + per-utterance
hypotheses to --output. Bad manifest lines stop the run (naming the line)
unless --skip_bad, which counts them in ``num_skipped`` and lists them.
"""

import json
import os

from absl import app
from absl import flags

from asr.evaluation import biasing_flags

flags.DEFINE_string("workdir", None, "Training workdir (config, tokenizer, checkpoints).")
flags.DEFINE_string("manifest", None, "A JSON-lines manifest to evaluate.")
flags.DEFINE_string("split", None, "A split of the run's corpus (validation, test, ...) or a tfds: spec.")
flags.DEFINE_string("output", None, "Where to write the results JSON.")
flags.DEFINE_enum("biasing", "none", ["none", "shallow", "attention", "both"], "Context biasing.")
flags.DEFINE_integer("distractors", None, "Biasing list = own entities + N distractors from the "
                     "split's name pool; unset: each utterance's stored context list.")
flags.DEFINE_integer("beam", None, "Beam size (0/1 = greedy, without the config's beam search "
                     "settings; default: the config's eval.beam).")
flags.DEFINE_float("context_score", 2.0, "Shallow-fusion bonus per matched token.")
flags.DEFINE_integer("max_symbols", None, "Beam search: 0 = modified (one label per frame), "
                     ">= 1 = time-synchronous with that many labels per frame (default: the "
                     "config's eval.max_symbols, else 0).")
flags.DEFINE_float("label_bonus", None, "Beam search length reward per label (default: the "
                   "config's eval.label_bonus, else 0).")
flags.DEFINE_float("ilm_weight", None, "Beam search internal-LM subtraction weight "
                   "(asr.decoding.beam.BeamSearch; default: the config's eval.ilm_weight, else 0).")
flags.DEFINE_float("ctc_rescore_weight", None, "CTC rescoring of the final beam: weight of the "
                   "CTC head's log P(y|x) (asr.decoding.ctc_rescore; 0 = off; default: the "
                   "config's eval.ctc_rescore_weight, else 0).")
flags.DEFINE_float("ctc_rescore_bonus", None, "CTC rescoring: reward per wordpiece (default: the "
                   "config's eval.ctc_rescore_bonus, else 0).")
flags.DEFINE_integer("limit", None, "Evaluate only the first N utterances.")
flags.DEFINE_integer("step", None, "Checkpoint step (default: latest).")
flags.DEFINE_bool("raw_params", False, "Runs with parameter averaging (train.ema_decay): evaluate "
                  "the trained parameters instead of the average.")
flags.DEFINE_string("data_dir", None, "Override the config's data_dir.")
flags.DEFINE_bool("skip_bad", False, "Skip unusable manifest lines (reported) instead of failing.")
flags.DEFINE_bool("pointer", True, "Models with the tree-constrained pointer: use it in the "
                  "attention/both modes (--nopointer: attention biasing alone, an ablation).")
biasing_flags.define()
flags.DEFINE_integer("nbest", 0, "Also store the N best hypotheses per utterance.")
flags.DEFINE_string("lm_workdir", None, "External-LM shallow fusion in the beam search: a "
                    "launch.train_lm workdir sharing the recognizer's tokenizer (asr.lm.fusion).")
flags.DEFINE_float("lm_weight", 0.3, "LM fusion weight (with --lm_workdir); combine with "
                   "--ilm_weight for density-ratio fusion.")
flags.mark_flags_as_required(["workdir"])
FLAGS = flags.FLAGS


def main(argv):
  del argv
  if bool(FLAGS.manifest) == bool(FLAGS.split):
    raise app.UsageError("give exactly one of --manifest or --split")
  from asr.data import sources  # pylint: disable=g-import-not-at-top
  from asr.evaluation import evaluate  # pylint: disable=g-import-not-at-top
  from asr.training import state as state_lib  # pylint: disable=g-import-not-at-top
  config, model, params, norm, tok, step = state_lib.restore_for_inference(
      FLAGS.workdir, FLAGS.step, raw=FLAGS.raw_params)
  if FLAGS.data_dir:
    config.data.data_dir = FLAGS.data_dir
  spec = FLAGS.manifest or state_lib.split_spec(config, FLAGS.split)
  utts = evaluate.load_utterances(config, spec, tok, limit=FLAGS.limit, skip_bad=FLAGS.skip_bad)
  pool = None
  if FLAGS.distractors is not None:
    pool = sources.name_pool(sources.open_source(spec, config.data.data_dir, skip_bad=True))
  beam = config.eval.beam if FLAGS.beam is None else FLAGS.beam
  # The config's tuned search settings for beam search (greedy, --beam=0/1, has
  # none); flags that are set override them (--beam=1 --ilm_weight=X: a beam-1
  # search with internal-LM subtraction).
  search = evaluate.search_settings(config, beam)
  search.update({k: getattr(FLAGS, k) for k in search if getattr(FLAGS, k) is not None})
  cohort = biasing_flags.cohort(FLAGS, config, model, params, norm, tok)
  lm = None
  if FLAGS.lm_workdir:
    from asr.lm import fusion  # pylint: disable=g-import-not-at-top
    lm = fusion.LMFusion.from_workdir(FLAGS.lm_workdir, FLAGS.lm_weight)
  res = evaluate.evaluate_utterances(
      model, params, norm, utts, tok, beam=beam, batch_frames=config.eval.batch_frames,
      biasing=FLAGS.biasing, distractors=FLAGS.distractors, pool=pool,
      context_score=FLAGS.context_score, nbest=FLAGS.nbest,
      pointer=FLAGS.pointer, lm=lm, **biasing_flags.kwargs(FLAGS, cohort), **search)
  res["metrics"].update(source=spec, workdir=os.path.abspath(FLAGS.workdir), step=step,
                        num_utterances=len(utts), raw_params=FLAGS.raw_params)
  if FLAGS.output:
    os.makedirs(os.path.dirname(os.path.abspath(FLAGS.output)), exist_ok=True)
    with open(FLAGS.output, "w") as f:
      json.dump(res, f, indent=1)
  print(json.dumps(res["metrics"]))


if __name__ == "__main__":
  app.run(main)
