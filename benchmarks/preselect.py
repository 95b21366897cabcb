r"""How often each preselection ranking puts the spoken name among its top K.

  python -m benchmarks.preselect --workdir=workdirs/catt_pointer_small
      [--split=validation] [--distractors=100,1000] [--methods=ctc,phonetic,spelling]
      [--limit=400] [--kws_cohort=0,60] [--kws_cohort_weight=0.75] [--kws_cohort_power=0.5]

Each utterance's biasing list is its own entity phrases plus N distractors
(the protocol of ``benchmarks.biasing``). For every true entity phrase of
every utterance, its rank in the list by each method
(``asr.evaluation.evaluate.rank_lists``): ``ctc``, CTC keyword spotting on the
audio (``asr.biasing.kws``, per-wordpiece score; with each cohort size in
``--kws_cohort`` > 0 also calibrated per phrase against that many training
utterances, ``kws.Cohort``); ``phonetic`` / ``spelling``,
similarity to a first decoding pass (attention biasing alone for CATT models,
beam 4). Reports recall at K (share of true phrases ranked in the top K), the
mean reciprocal rank, and the ranking's seconds per utterance (the first pass
included for the text methods). Writes one JSON to ``results/preselect/``.
"""

import time

from absl import app
from absl import flags

from asr.biasing import kws

flags.DEFINE_string("workdir", None, "A trained workdir.")
flags.DEFINE_string("split", "validation", "Split of the run's corpus or a manifest.")
flags.DEFINE_list("distractors", ["100"], "List sizes N.")
flags.DEFINE_list("methods", ["ctc", "phonetic", "spelling"], "Rankings to compare.")
flags.DEFINE_list("ks", ["1", "2", "3", "5", "8", "16"], "Recall cut-offs K.")
flags.DEFINE_integer("beam", 4, "Beam of the first pass (text rankings).")
flags.DEFINE_list("kws_cohort", ["0"], "ctc: cohort sizes to compare (0: raw scores; > 0: "
                  "calibrated against that many training utterances).")
flags.DEFINE_float("kws_cohort_weight", kws.COHORT_WEIGHT, "Share of the cohort mean subtracted.")
flags.DEFINE_float("kws_cohort_power", kws.COHORT_POWER, "Scores divided by wordpieces ** this before "
                   "calibration.")
flags.DEFINE_integer("limit", 400, "Utterances (0: all).")
flags.DEFINE_string("data_dir", None, "Override the run's data_dir.")
flags.mark_flags_as_required(["workdir"])
FLAGS = flags.FLAGS


def main(argv):
  del argv
  from asr.data import sources  # pylint: disable=g-import-not-at-top
  from asr.evaluation import evaluate  # pylint: disable=g-import-not-at-top
  from benchmarks import common  # pylint: disable=g-import-not-at-top
  rec = common.load_recognizer(FLAGS.workdir, FLAGS.data_dir)
  _, utts, src = common.load_split(rec, FLAGS.split, FLAGS.limit or None)
  pool = sources.name_pool(src)
  ks = [int(k) for k in FLAGS.ks]
  settings = evaluate.search_settings(rec.config)
  cohorts = {}
  for c in (int(x) for x in FLAGS.kws_cohort):
    cohorts[c] = None if c <= 0 else evaluate.keyword_cohort(
        rec.config, rec.model, rec.params, rec.norm, rec.tokenizer, c, FLAGS.kws_cohort_weight,
        FLAGS.kws_cohort_power)
  runs = [(m, c) for m in FLAGS.methods for c in (cohorts if m == "ctc" else [0])]
  rows = []
  for n in (int(x) for x in FLAGS.distractors):
    lists = evaluate.biasing_lists(utts, n, pool)
    own = [sorted({e["phrase"] for e in u.entities}) if u.entities else [] for u in utts]
    for method, c in runs:
      t0 = time.time()
      ranked = evaluate.rank_lists(
          rec.model, rec.params, rec.norm, utts, rec.tokenizer, lists, method, FLAGS.beam,
          rec.config.eval.batch_frames,
          att_lists=lists if rec.model.cfg.biasing.enabled else None,
          label_bonus=settings["label_bonus"], max_symbols=settings["max_symbols"],
          ilm_weight=settings["ilm_weight"], cohort=cohorts.get(c) if method == "ctc" else None)
      label = method if not c else (f"{method}, cohort {c} (weight {FLAGS.kws_cohort_weight:g}, "
                                    f"power {FLAGS.kws_cohort_power:g})")
      row = {"distractors": n, "method": label, **kws.recall_at(ranked, own, ks),
             "seconds_per_utterance": (time.time() - t0) / len(utts),
             "num_utterances": len(utts)}
      print(row, flush=True)
      rows.append(row)
  path = common.write_result("preselect", {"rows": rows}, {
      "workdir": FLAGS.workdir, "split": FLAGS.split, "beam": FLAGS.beam, "limit": FLAGS.limit,
      "ks": ks, "step": rec.step, "kws_cohort": [int(x) for x in FLAGS.kws_cohort],
      "kws_cohort_weight": FLAGS.kws_cohort_weight, "kws_cohort_power": FLAGS.kws_cohort_power})
  print(path)


if __name__ == "__main__":
  app.run(main)
