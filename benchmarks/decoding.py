r"""Decoding search: greedy, modified and time-synchronous beam search, length reward.

  python -m benchmarks.decoding --workdir=workdirs/small_ft [--beams=4,8] \
      [--label_bonuses=-0.5,0,0.5,1] [--max_symbols=3] [--ilm_weights=0.1,0.2] \
      [--tune_split=validation] [--eval_splits=test] [--limit=N] \
      [--lm_workdir=workdirs/lm_small --lm_weights=0.1,0.2,0.3]

For each beam size, the per-label length reward of :class:`asr.decoding.beam.BeamSearch`
(``label_bonus``) of the default search (time-synchronous, up to
``--max_symbols`` labels per frame) is tuned by grid search on
``--tune_split`` (lowest WER); then greedy (up to 3 labels per frame),
modified beam search (one label per frame), the time-synchronous search with
no reward and with its tuned reward are scored on every ``--eval_splits``
split: WER, U-WER, B-WER and the substitution / deletion / insertion rates.
With ``--ilm_weights``, the modified search with internal-LM subtraction
(``BeamSearch(ilm_weight=)``, ILME decoding) is tuned jointly over (ILM
weight, length reward) on the tuning split and reported as one more row.
With ``--lm_workdir`` and ``--lm_weights``, external-LM shallow fusion in the
modified search (:mod:`asr.lm.fusion`; density-ratio fusion with the ILM
weights, 0 included) is tuned over (LM weight, ILM weight, length reward) and
reported as the row "modified beam B + LM".
No biasing. Writes one JSON to ``results/decoding/``.
"""

from absl import app
from absl import flags

flags.DEFINE_string("workdir", None, "A trained transducer workdir.")
flags.DEFINE_list("beams", ["4", "8"], "Beam sizes.")
flags.DEFINE_list("label_bonuses", ["-0.5", "0", "0.5", "1"], "Length rewards searched per beam.")
flags.DEFINE_list("ilm_weights", [], "Internal-LM subtraction weights tuned (with the length "
                  "rewards) for the modified search; empty: no ILM rows.")
flags.DEFINE_string("lm_workdir", None, "A launch.train_lm workdir for LM-fusion rows.")
flags.DEFINE_list("lm_weights", [], "LM fusion weights tuned (with --lm_workdir).")
flags.DEFINE_integer("max_symbols", 3, "Labels per frame of the time-synchronous search.")
flags.DEFINE_string("tune_split", "validation", "Split the reward is tuned on.")
flags.DEFINE_list("eval_splits", ["test"], "Splits reported with the tuned reward.")
flags.DEFINE_integer("limit", None, "Utterances per split (default: all).")
flags.DEFINE_string("data_dir", None, "Override the run's data_dir.")
flags.mark_flags_as_required(["workdir"])
FLAGS = flags.FLAGS


def _summary(m: dict) -> dict:
  n = max(m["num_words"], 1)
  return {"wer": m["wer"], "u_wer": m["u_wer"], "b_wer": m["b_wer"],
          "sub": m["substitutions"] / n, "del": m["deletions"] / n, "ins": m["insertions"] / n,
          "rtf": m["rtf"], "num_utterances": m["num_utterances"]}


def main(argv):
  del argv
  from asr.evaluation import evaluate  # pylint: disable=g-import-not-at-top
  from benchmarks import common  # pylint: disable=g-import-not-at-top
  rec = common.load_recognizer(FLAGS.workdir, FLAGS.data_dir)
  config = rec.config
  beams = [int(b) for b in FLAGS.beams]
  bonuses = [float(x) for x in FLAGS.label_bonuses]

  ilm_weights = [float(x) for x in FLAGS.ilm_weights]

  lm_weights = [float(x) for x in FLAGS.lm_weights]
  if bool(lm_weights) != bool(FLAGS.lm_workdir):
    raise app.UsageError("--lm_weights and --lm_workdir go together")
  lms = {}
  if lm_weights:
    from asr.lm import fusion  # pylint: disable=g-import-not-at-top
    base = fusion.LMFusion.from_workdir(FLAGS.lm_workdir, lm_weights[0])
    lms = {w: base.with_weight(w) for w in lm_weights}  # one model and prefix cache

  def run(utts, beam, bonus, max_symbols=FLAGS.max_symbols, ilm=0.0, lm_w=0.0):
    m = evaluate.evaluate_utterances(rec.model, rec.params, rec.norm, utts, rec.tokenizer,
                                     beam=beam, batch_frames=config.eval.batch_frames,
                                     label_bonus=bonus, max_symbols=max_symbols,
                                     ilm_weight=ilm, lm=lms.get(lm_w))["metrics"]
    return _summary(m)

  def load(split):
    return common.load_split(rec, split, FLAGS.limit)[1]

  tune_utts = load(FLAGS.tune_split)
  tuning, tuned = [], {}
  for beam in beams:
    for bonus in bonuses:
      r = {"beam": beam, "label_bonus": bonus, **run(tune_utts, beam, bonus)}
      print(FLAGS.tune_split, r, flush=True)
      tuning.append(r)
    tuned[beam] = min((r for r in tuning if r["beam"] == beam), key=lambda r: r["wer"])["label_bonus"]
  ilm_tuning, ilm_tuned = [], {}
  for beam in beams if ilm_weights else []:
    for ilm in ilm_weights:
      for bonus in bonuses:
        r = {"beam": beam, "ilm_weight": ilm, "label_bonus": bonus, "max_symbols": 0,
             **run(tune_utts, beam, bonus, 0, ilm)}
        print(FLAGS.tune_split, r, flush=True)
        ilm_tuning.append(r)
    best = min((r for r in ilm_tuning if r["beam"] == beam), key=lambda r: r["wer"])
    ilm_tuned[beam] = (best["ilm_weight"], best["label_bonus"])
  lm_tuning, lm_tuned = [], {}
  for beam in beams if lm_weights else []:
    for lm_w in lm_weights:
      for ilm in sorted({0.0, *ilm_weights}):
        for bonus in bonuses:
          r = {"beam": beam, "lm_weight": lm_w, "ilm_weight": ilm, "label_bonus": bonus,
               "max_symbols": 0, **run(tune_utts, beam, bonus, 0, ilm, lm_w)}
          print(FLAGS.tune_split, r, flush=True)
          lm_tuning.append(r)
    best = min((r for r in lm_tuning if r["beam"] == beam), key=lambda r: r["wer"])
    lm_tuned[beam] = (best["lm_weight"], best["ilm_weight"], best["label_bonus"])
  rows = []
  for split in FLAGS.eval_splits:
    utts = load(split)
    settings = [("greedy", 0, 0.0, 3, 0.0)]
    settings += [(f"modified beam {b}", b, 0.0, 0, 0.0) for b in beams]
    settings += [(f"time-sync beam {b}", b, 0.0, FLAGS.max_symbols, 0.0) for b in beams]
    settings += [(f"time-sync beam {b} + reward", b, tuned[b], FLAGS.max_symbols, 0.0)
                 for b in beams if tuned[b] != 0.0]
    settings += [(f"modified beam {b} + ILM", b, ilm_tuned[b][1], 0, ilm_tuned[b][0])
                 for b in beams if b in ilm_tuned]
    settings = [(*x, 0.0) for x in settings]
    settings += [(f"modified beam {b} + LM", b, lm_tuned[b][2], 0, lm_tuned[b][1], lm_tuned[b][0])
                 for b in beams if b in lm_tuned]
    for name, beam, bonus, max_symbols, ilm, lm_w in settings:
      r = {"split": split, "search": name, "beam": beam, "label_bonus": bonus,
           "ilm_weight": ilm, "lm_weight": lm_w, "max_symbols": max_symbols,
           **run(utts, beam, bonus, max_symbols, ilm, lm_w)}
      print(r, flush=True)
      rows.append(r)
  path = common.write_result("decoding", {"tuning": tuning, "tuned": tuned, "ilm_tuning": ilm_tuning,
                                                  "ilm_tuned": ilm_tuned, "lm_tuning": lm_tuning,
                                                  "lm_tuned": lm_tuned, "rows": rows}, {
      "workdir": FLAGS.workdir, "step": rec.step, "tune_split": FLAGS.tune_split,
      "eval_splits": FLAGS.eval_splits, "limit": FLAGS.limit, "max_symbols": FLAGS.max_symbols,
      "ilm_weights": ilm_weights, "lm_workdir": FLAGS.lm_workdir, "lm_weights": lm_weights})
  print(path)


if __name__ == "__main__":
  app.run(main)
