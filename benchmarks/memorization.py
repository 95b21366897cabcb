r"""Memorization: the same model on its own training requests and on held-out ones.

  python -m benchmarks.memorization --workdir=workdirs/small \
      [--splits=train,validation,test] [--limit=400] [--lm_workdir=workdirs/lm_small]

For each split (its first ``--limit`` utterances): the perplexity per piece of
the transducer's internal language model (:mod:`asr.lm.ilm`: the prediction
network and joint with the audio removed) on the transcripts, optionally the
external LM's perplexity on the same text (``--lm_workdir``, with ``</s>``),
and greedy WER / U-WER / B-WER on the audio. A model that memorized its
training requests shows a much lower internal-LM perplexity and WER on
``train`` than on the held-out splits (whose names come from other pools, so
part of the gap is the names: compare U-WER). Writes one JSON to
``results/memorization/``.
"""

from absl import app
from absl import flags

flags.DEFINE_string("workdir", None, "A trained transducer workdir.")
flags.DEFINE_list("splits", ["train", "validation", "test"], "Splits compared.")
flags.DEFINE_integer("limit", 400, "Utterances per split (the first N).")
flags.DEFINE_string("lm_workdir", None, "Optional launch.train_lm workdir: its perplexity too.")
flags.DEFINE_string("data_dir", None, "Override the run's data_dir.")
flags.DEFINE_bool("raw_params", False, "Averaged runs: the trained parameters, not the average.")
flags.mark_flags_as_required(["workdir"])
FLAGS = flags.FLAGS


def main(argv):
  del argv
  import numpy as np  # pylint: disable=g-import-not-at-top
  from asr.evaluation import evaluate  # pylint: disable=g-import-not-at-top
  from asr.lm import ilm  # pylint: disable=g-import-not-at-top
  from asr.training import state as state_lib  # pylint: disable=g-import-not-at-top
  from benchmarks import common  # pylint: disable=g-import-not-at-top
  config, model, params, norm, tok, step = state_lib.restore_for_inference(
      FLAGS.workdir, raw=FLAGS.raw_params)
  if FLAGS.data_dir:
    config.data.data_dir = FLAGS.data_dir
  lm = None
  if FLAGS.lm_workdir:
    from asr.lm import rescore  # pylint: disable=g-import-not-at-top
    lm = rescore.LanguageModel.from_workdir(FLAGS.lm_workdir)
  rows = []
  for split in FLAGS.splits:
    utts = evaluate.load_utterances(config, state_lib.split_spec(config, split), tok,
                                    limit=FLAGS.limit)
    seqs = [tok.encode(u.text) for u in utts]
    pieces = sum(len(s) for s in seqs)
    ilm_nats = -float(np.sum(ilm.ilm_scores(model, params, seqs)))
    row = {"split": split, "num_utterances": len(utts), "pieces": pieces,
           "ilm_ppl_per_piece": float(np.exp(ilm_nats / max(pieces, 1)))}
    if lm is not None:
      # log P(text </s>): one more prediction per sentence than the ILM makes.
      lm_nats = -float(np.sum(lm.score([u.text for u in utts])))
      row["lm_ppl_per_piece"] = float(np.exp(lm_nats / max(pieces + len(utts), 1)))
    m = evaluate.evaluate_utterances(model, params, norm, utts, tok, beam=0,
                                     batch_frames=config.eval.batch_frames)["metrics"]
    row.update(wer=m["wer"], u_wer=m["u_wer"], b_wer=m["b_wer"])
    print(row, flush=True)
    rows.append(row)
  path = common.write_result("memorization", {"rows": rows}, {
      "workdir": FLAGS.workdir, "step": step, "splits": FLAGS.splits, "limit": FLAGS.limit,
      "lm_workdir": FLAGS.lm_workdir, "raw_params": FLAGS.raw_params})
  print(path)


if __name__ == "__main__":
  app.run(main)
