r"""Lattices and cloud rescoring: 1-best, LM-rescored and oracle WER.

  python -m benchmarks.rescoring --asr_workdir=workdirs/small --lm_workdir=workdirs/lm_small
      [--beam=8] [--modes=none,shallow] [--distractors=100] [--tune_split=validation]
      [--eval_splits=test] [--limit=N]

For each biasing mode: beam search (``--beam``, the whole beam kept as the
N-best) over the tuning and evaluation splits, one word lattice per utterance
(:func:`asr.decoding.lattice.build_lattice`), the LM weight and length bonus
tuned by grid search on the tuning split (:func:`asr.lm.rescore.tune`), then
on each evaluation split: WER / U-WER / B-WER of the on-device 1-best and of
the rescored lattice (two methods, each tuned on the tuning split: ``lm``,
first pass + LM weight x LM + length bonus; ``lm+ilm``, the same minus a
weight x the transducer's internal LM estimate, :mod:`asr.lm.ilm`), the oracle WER of the lattice and of the N-best, and the
lattice size (states, arcs, paths, JSON and gzip bytes, OpenFst text bytes)
per utterance against the 16-bit 16 kHz audio it replaces. With the device's
CTC second pass (``--ctc_rescore_weight`` > 0) two more methods work on the
N-best with its scores kept apart (:class:`asr.lm.rescore.NbestComponents`),
tuned on the tuning split: ``ctc``, the CTC weight and bonus re-tuned with no
LM (what re-tuning alone gives), and ``lm+ctc``, those and the LM weight and
length bonus tuned jointly (:func:`asr.lm.rescore.tune_joint`); the LM's own
share is ``lm+ctc`` against ``ctc``. Writes one JSON to ``results/rescoring/``.
"""

import time

from absl import app
from absl import flags
import numpy as np

flags.DEFINE_string("asr_workdir", "workdirs/small", "A trained transducer workdir.")
flags.DEFINE_string("lm_workdir", "workdirs/lm_small", "A trained LM workdir (launch.train_lm).")
flags.DEFINE_integer("beam", 8, "Beam size; the N-best is the whole final beam.")
flags.DEFINE_list("modes", ["none", "shallow"], "On-device biasing modes (none, shallow).")
flags.DEFINE_integer("distractors", 100, "Biasing list = own names + N distractors (shallow).")
flags.DEFINE_float("context_score", 2.0, "Shallow-fusion bonus per token.")
flags.DEFINE_string("tune_split", "validation", "Split the LM weight is tuned on.")
flags.DEFINE_list("eval_splits", ["test"], "Splits reported with the tuned weight.")
flags.DEFINE_list("weights", ["0", "0.05", "0.1", "0.15", "0.2", "0.25", "0.3", "0.4", "0.5", "0.6",
                              "0.8", "1.0", "1.25", "1.5", "2.0"], "LM weights searched.")
flags.DEFINE_list("bonuses", ["0", "0.25", "0.5", "1.0", "1.5", "2.0", "3.0", "-0.5", "-1.0"],
                  "Length bonuses (per word) searched.")
flags.DEFINE_list("ctc_weights", ["0", "0.3", "0.5", "0.7", "1.0", "1.5", "2.0"],
                  "CTC weights searched by the joint methods (with --ctc_rescore_weight > 0).")
flags.DEFINE_list("ctc_bonuses", ["0", "0.5", "1.0", "1.5", "2.0", "3.0"],
                  "CTC per-wordpiece bonuses searched by the joint methods.")
flags.DEFINE_list("ilm_weights", ["0", "0.1", "0.2", "0.3", "0.4", "0.5", "0.6", "0.8"],
                  "Internal-LM subtraction weights searched (method lm+ilm).")
flags.DEFINE_float("first_pass_ilm_weight", 0.0,
                   "Internal-LM subtraction in the on-device beam search itself (BeamSearch "
                   "ilm_weight; the ASR config's eval.ilm_weight is the tuned first pass): the "
                   "lattice then comes from the model's best first-pass search, and rescoring's "
                   "own ILM weight adds to it.")
flags.DEFINE_integer("max_symbols", None,
                     "First-pass beam search kind: 0 = modified, >= 1 = time-synchronous with that "
                     "many labels per frame (default: the ASR config's eval.max_symbols, else 0).")
flags.DEFINE_float("ctc_rescore_weight", None,
                   "On-device second pass: the beam rescored with the CTC head before the lattice "
                   "is built (asr.decoding.ctc_rescore; lattice scores then include it; default: "
                   "the ASR config's eval.ctc_rescore_weight, else 0).")
flags.DEFINE_float("ctc_rescore_bonus", None, "Its per-wordpiece bonus (default: the config's "
                   "eval.ctc_rescore_bonus, else 0).")
flags.DEFINE_integer("limit", None, "Utterances per split (default: all).")
flags.DEFINE_string("data_dir", None, "Override the ASR run's data_dir.")
FLAGS = flags.FLAGS


def decode_split(rec, split: str, mode: str, max_symbols: int = 0, ctc: tuple = (0.0, 0.0)):
  """Utterances, per-utterance N-best (dicts) and biasing lists of one split."""
  from asr.biasing import context_graph as cg  # pylint: disable=g-import-not-at-top
  from asr.data import sources  # pylint: disable=g-import-not-at-top
  from asr.evaluation import evaluate  # pylint: disable=g-import-not-at-top
  from asr.training import state as state_lib  # pylint: disable=g-import-not-at-top
  spec = state_lib.split_spec(rec.config, split)
  utts = evaluate.load_utterances(rec.config, spec, rec.tokenizer, limit=FLAGS.limit)
  graphs = None
  if mode == "shallow":
    pool = sources.name_pool(sources.open_source(spec, rec.config.data.data_dir))
    lists = evaluate.biasing_lists(utts, FLAGS.distractors, pool)
    graphs = [cg.ContextGraph.from_phrases(l, rec.tokenizer.encode, FLAGS.context_score) if l else None
              for l in lists]
  t0 = time.time()
  res = evaluate.decode_utterances(rec.model, rec.params, rec.norm, utts, rec.tokenizer,
                                   beam=FLAGS.beam, graphs=graphs, nbest=FLAGS.beam,
                                   ilm_weight=FLAGS.first_pass_ilm_weight,
                                   max_symbols=max_symbols, ctc_rescore_weight=ctc[0],
                                   ctc_rescore_bonus=ctc[1])
  return utts, [r["nbest"] for r in res], time.time() - t0


def _best(c, t):
  return " ".join(c.best(t["lm_weight"], t["length_bonus"], t["ilm_weight"]))


def split_report(utts, nbests, lats, cands, tunings: dict, joint: dict | None = None) -> dict:
  """WERs (1-best, rescored per method, oracles) and lattice sizes of one
  decoded split; ``joint``: method -> (NbestComponents per utterance, tuning)."""
  from asr.data import features as features_lib  # pylint: disable=g-import-not-at-top
  from asr.evaluation import wer as wer_lib  # pylint: disable=g-import-not-at-top
  from asr.lm import rescore  # pylint: disable=g-import-not-at-top
  one, orc_lat, orc_nb = [], [], []
  resc = {m: [] for m in tunings}
  for u, nb, lat, c in zip(utts, nbests, lats, cands):
    one.append(wer_lib.score_utterance(u.text, nb[0]["text"] if nb else "", u.context))
    for m, t in tunings.items():
      resc[m].append(wer_lib.score_utterance(u.text, _best(c, t), u.context))
    orc_lat.append(lat.oracle(u.text.split())[0])
    orc_nb.append(min((rescore.edit_distance(u.text.split(), h["text"].split()) for h in nb),
                      default=len(u.text.split())))
  n_words = sum(len(u.text.split()) for u in utts)
  audio_s = np.array([len(u.feats) * features_lib.HOP / features_lib.SAMPLE_RATE for u in utts])
  audio_bytes = audio_s * features_lib.SAMPLE_RATE * 2  # int16 PCM
  json_b = np.array([l.num_bytes() for l in lats], np.float64)
  gz_b = np.array([l.num_bytes(compressed=True) for l in lats], np.float64)
  fst_b = np.array([len(l.to_openfst_text().encode()) for l in lats], np.float64)
  one_m = wer_lib.aggregate(one)
  methods = {}
  for m, t in tunings.items():
    rm = wer_lib.aggregate(resc[m])
    methods[m] = {
        "rescored": rm, "lm_weight": t["lm_weight"], "length_bonus": t["length_bonus"],
        "ilm_weight": t["ilm_weight"],
        "relative_wer_reduction": (one_m["wer"] - rm["wer"]) / one_m["wer"] if one_m["wer"] else None,
        "changed_utterances": sum(_best(c, t) != (nb[0]["text"] if nb else "")
                                  for c, nb in zip(cands, nbests))}
  for m, (jc, t) in (joint or {}).items():
    best = [" ".join(c.best(t["ctc_weight"], t["ctc_bonus"], t["lm_weight"], t["length_bonus"]))
            for c in jc]
    rm = wer_lib.aggregate([wer_lib.score_utterance(u.text, b, u.context)
                            for u, b in zip(utts, best)])
    methods[m] = {
        "rescored": rm, "lm_weight": t["lm_weight"], "length_bonus": t["length_bonus"],
        "ilm_weight": 0.0, "ctc_weight": t["ctc_weight"], "ctc_bonus": t["ctc_bonus"],
        "relative_wer_reduction": (one_m["wer"] - rm["wer"]) / one_m["wer"] if one_m["wer"] else None,
        "changed_utterances": sum(b != (nb[0]["text"] if nb else "") for b, nb in zip(best, nbests))}
  return {
      "num_utterances": len(utts), "num_words": n_words, "one_best": one_m, "methods": methods,
      "oracle_wer_lattice": sum(orc_lat) / n_words, "oracle_wer_nbest": sum(orc_nb) / n_words,
      "entity_mentions": rescore.entity_mentions(utts, nbests),
      "lattice": {
          "states_per_utt": float(np.mean([l.num_states for l in lats])),
          "arcs_per_utt": float(np.mean([l.num_arcs for l in lats])),
          "paths_per_utt": float(np.mean([len(c.words) for c in cands])),
          "nbest_words_per_utt": float(np.mean([sum(len(h["text"].split()) for h in nb)
                                                for nb in nbests])),
          "json_bytes_per_utt": float(json_b.mean()), "gzip_bytes_per_utt": float(gz_b.mean()),
          "openfst_text_bytes_per_utt": float(fst_b.mean()),
          "audio_bytes_per_utt": float(audio_bytes.mean()),
          "audio_seconds_per_utt": float(audio_s.mean()),
          "json_fraction_of_audio": float(json_b.sum() / audio_bytes.sum()),
          "gzip_fraction_of_audio": float(gz_b.sum() / audio_bytes.sum()),
      },
  }


def main(argv):
  del argv
  import json  # pylint: disable=g-import-not-at-top
  import os  # pylint: disable=g-import-not-at-top
  from asr import inference  # pylint: disable=g-import-not-at-top
  from asr.data import features as features_lib  # pylint: disable=g-import-not-at-top
  from asr.decoding import lattice as lattice_lib  # pylint: disable=g-import-not-at-top
  from asr.lm import ilm as ilm_lib  # pylint: disable=g-import-not-at-top
  from asr.lm import rescore  # pylint: disable=g-import-not-at-top
  from benchmarks import common  # pylint: disable=g-import-not-at-top
  rec = inference.Recognizer.from_workdir(FLAGS.asr_workdir)
  if FLAGS.data_dir:
    rec.config.data.data_dir = FLAGS.data_dir
  lm = rescore.LanguageModel.from_workdir(FLAGS.lm_workdir)
  max_symbols = (FLAGS.max_symbols if FLAGS.max_symbols is not None
                 else int(rec.config.eval.get("max_symbols", 0)))
  ctc = tuple(float(getattr(FLAGS, k) if getattr(FLAGS, k) is not None
                    else rec.config.eval.get(k, 0.0))
              for k in ("ctc_rescore_weight", "ctc_rescore_bonus"))
  frame_s = rec.config.model.encoder.subsample_factor * features_lib.HOP / features_lib.SAMPLE_RATE
  weights = [float(w) for w in FLAGS.weights]
  bonuses = [float(b) for b in FLAGS.bonuses]
  ilm_weights = [float(a) for a in FLAGS.ilm_weights]
  rows = []
  for mode in FLAGS.modes:
    decoded = {}
    for split in [FLAGS.tune_split] + [s for s in FLAGS.eval_splits if s != FLAGS.tune_split]:
      utts, nbests, decode_s = decode_split(rec, split, mode, max_symbols, ctc)
      t0 = time.time()
      lats = [lattice_lib.build_lattice(nb, tokenizer=rec.tokenizer, frame_seconds=frame_s)
              for nb in nbests]
      lattice_s = time.time() - t0
      t0 = time.time()
      texts = sorted({p.text for l in lats for p in l.paths()})
      lm.score(texts)  # all at once: full batches, cached
      ilm = dict(zip(texts, ilm_lib.ilm_scores(rec.model, rec.params,
                                               [rec.tokenizer.encode(t) for t in texts])))
      cands = [rescore.Candidates.from_lattice(l, lm, ilm) for l in lats]
      lm_s = time.time() - t0
      decoded[split] = (utts, nbests, lats, cands, {"decode_seconds": decode_s,
                                                    "lattice_seconds": lattice_s,
                                                    "lm_seconds": lm_s})
      print(f"{mode} {split}: decoded {len(utts)} in {decode_s:.1f}s, lattices {lattice_s:.1f}s, "
            f"LM {lm_s:.1f}s", flush=True)
    utts, _, _, cands, _ = decoded[FLAGS.tune_split]
    refs = [u.text for u in utts]
    tunings = {"lm": rescore.tune(cands, refs, weights, bonuses),
               "lm+ilm": rescore.tune(cands, refs, weights, bonuses, ilm_weights)}
    joint_cands, joint_tunings = {}, {}
    if ctc[0] > 0:  # the device's CTC pass re-weighted in the cloud, with and without the LM
      for split, (_, nbests, _, _, _) in decoded.items():
        joint_cands[split] = [rescore.NbestComponents.from_nbest(nb, lm, *ctc) for nb in nbests]
      cw, cb = [float(x) for x in FLAGS.ctc_weights], [float(x) for x in FLAGS.ctc_bonuses]
      joint_tunings = {"ctc": rescore.tune_joint(joint_cands[FLAGS.tune_split], refs, cw, cb),
                       "lm+ctc": rescore.tune_joint(joint_cands[FLAGS.tune_split], refs, cw, cb,
                                                    weights, bonuses)}
      for m, t in joint_tunings.items():
        print(f"{mode} {m}: tuned on {FLAGS.tune_split}: {t}", flush=True)
    for m, t in tunings.items():
      print(f"{mode} {m}: tuned on {FLAGS.tune_split}: lm_weight={t['lm_weight']} "
            f"ilm_weight={t['ilm_weight']} length_bonus={t['length_bonus']} "
            f"errors={t['errors']}/{t['num_words']}", flush=True)
    for split in [FLAGS.tune_split] + list(FLAGS.eval_splits):
      utts, nbests, lats, cands, times = decoded[split]
      r = split_report(utts, nbests, lats, cands, tunings,
                       {m: (joint_cands[split], t) for m, t in joint_tunings.items()})
      r.update(split=split, biasing=mode, tuned_on=FLAGS.tune_split, **times)
      rows.append(r)
      print(f"{mode} {split}: 1-best {r['one_best']['wer']:.4f} "
            + " ".join(f"{m} {v['rescored']['wer']:.4f} (rel {-v['relative_wer_reduction']:+.3f})"
                       for m, v in r["methods"].items())
            + f" oracle {r['oracle_wer_lattice']:.4f}; lattice {r['lattice']['json_bytes_per_utt']:.0f} B "
            f"json, {r['lattice']['gzip_bytes_per_utt']:.0f} B gzip vs "
            f"{r['lattice']['audio_bytes_per_utt']:.0f} B audio", flush=True)
    rows.append({"split": FLAGS.tune_split, "biasing": mode, "kind": "grid",
                 "grids": {m: t["grid"] for m, t in tunings.items()}})
  lm_summary = {}
  summary_path = os.path.join(FLAGS.lm_workdir, "summary.json")
  if os.path.exists(summary_path):
    with open(summary_path) as f:
      lm_summary = json.load(f)
  lm_summary["num_truncated_sentences"] = lm.num_truncated
  # An example lattice (first evaluation utterance, last mode) for the record.
  example = decoded[FLAGS.eval_splits[0]][2][0]
  path = common.write_result("rescoring", {"rows": rows, "lm": lm_summary,
                                           "example_lattice": example.to_dict()}, {
      "asr_workdir": os.path.abspath(FLAGS.asr_workdir),
      "lm_workdir": os.path.abspath(FLAGS.lm_workdir), "beam": FLAGS.beam,
      "first_pass_ilm_weight": FLAGS.first_pass_ilm_weight, "max_symbols": max_symbols,
      "ctc_rescore_weight": ctc[0], "ctc_rescore_bonus": ctc[1],
      "modes": FLAGS.modes, "distractors": FLAGS.distractors, "context_score": FLAGS.context_score,
      "tune_split": FLAGS.tune_split, "eval_splits": FLAGS.eval_splits, "weights": weights,
      "bonuses": bonuses, "ilm_weights": ilm_weights, "limit": FLAGS.limit,
      "ctc_weights": [float(x) for x in FLAGS.ctc_weights],
      "ctc_bonuses": [float(x) for x in FLAGS.ctc_bonuses]})
  print(f"wrote {path}")


if __name__ == "__main__":
  app.run(main)
