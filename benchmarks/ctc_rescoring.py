r"""CTC rescoring of the transducer's beam: first pass against second pass.

  python -m benchmarks.ctc_rescoring --workdir=workdirs/catt_small_mid
      [--beams=4,8] [--tune_split=validation] [--eval_splits=test,test_noisy,test_unseen_voice]
      [--weights=...] [--bonuses=...] [--limit=N] [--data_dir=DIR] [--noverify]

For each beam size: the config's first-pass search (``eval`` settings, no
biasing) over the tuning and evaluation splits with the whole final beam kept
as the N-best, each hypothesis scored by the model's CTC head
(``log P_CTC(y | x)``, :mod:`asr.decoding.ctc_rescore`), the weight and the
per-wordpiece bonus of ``score + w * CTC + b * |y|`` tuned by grid search on
the tuning split, then on every split: WER / U-WER / B-WER of the first pass
and of the rescored choice, the N-best oracle, and the CTC head's own greedy
WER. ``--verify`` (default) re-decodes the first evaluation split through the
library path that launchers use (``evaluate_utterances`` with
``ctc_rescore_weight`` / ``ctc_rescore_bonus``) and records its WER next to
the benchmark's selection. Writes one JSON to ``results/ctc_rescoring/``.
"""

import time

from absl import app
from absl import flags
import numpy as np

flags.DEFINE_string("workdir", None, "A trained transducer workdir with a CTC head.")
flags.DEFINE_list("beams", ["4", "8"], "Beam sizes (the N-best is the whole final beam).")
flags.DEFINE_string("tune_split", "validation", "Split the weights are tuned on.")
flags.DEFINE_list("eval_splits", ["test", "test_noisy", "test_unseen_voice"],
                  "Splits reported with the tuned weights.")
flags.DEFINE_list("weights", ["0", "0.1", "0.2", "0.3", "0.4", "0.5", "0.7", "1.0", "1.5", "2.0"],
                  "CTC weights searched.")
flags.DEFINE_list("bonuses", ["-0.5", "0", "0.25", "0.5", "0.75", "1.0", "1.5", "2.0"],
                  "Per-wordpiece bonuses searched.")
flags.DEFINE_integer("limit", None, "Utterances per split (default: all).")
flags.DEFINE_string("data_dir", None, "Override the run's data_dir.")
flags.DEFINE_bool("verify", True, "Re-decode the first evaluation split through the library's "
                  "CTC rescoring and record its WER.")
flags.mark_flags_as_required(["workdir"])
FLAGS = flags.FLAGS


def _ctc_greedy(lp, tokenizer) -> str:
  best = lp.argmax(-1)
  seq = [int(x) for i, x in enumerate(best) if x != 0 and (i == 0 or best[i - 1] != x)]
  return tokenizer.decode(seq)


def decode_split(rec, split: str, beam: int, settings: dict):
  """Utterances and per-utterance N-best dicts with CTC log-likelihoods."""
  from asr.decoding import ctc_rescore  # pylint: disable=g-import-not-at-top
  from asr.evaluation import evaluate  # pylint: disable=g-import-not-at-top
  from benchmarks import common  # pylint: disable=g-import-not-at-top
  _, utts, _ = common.load_split(rec, split, FLAGS.limit)
  t0 = time.time()
  res = evaluate.decode_utterances(rec.model, rec.params, rec.norm, utts, rec.tokenizer,
                                   beam=beam, batch_frames=rec.config.eval.batch_frames,
                                   nbest=beam, **settings)
  decode_s = time.time() - t0
  t0 = time.time()
  lps = evaluate.ctc_logprobs(rec.model, rec.params, rec.norm, utts,
                              rec.config.eval.batch_frames)
  for r, lp in zip(res, lps):
    toks = [h["tokens"] for h in r["nbest"]]
    r["ctc"] = ctc_rescore.nbest_ctc_scores(lp[None], [len(lp)], [toks])[0]
    r["ctc_greedy"] = _ctc_greedy(lp, rec.tokenizer)
  return utts, res, decode_s, time.time() - t0


def main(argv):
  del argv
  from asr.data import features as features_lib  # pylint: disable=g-import-not-at-top
  from asr.decoding import ctc_rescore  # pylint: disable=g-import-not-at-top
  from asr.evaluation import evaluate  # pylint: disable=g-import-not-at-top
  from asr.evaluation import wer as wer_lib  # pylint: disable=g-import-not-at-top
  from benchmarks import common  # pylint: disable=g-import-not-at-top
  rec = common.load_recognizer(FLAGS.workdir, FLAGS.data_dir)
  if not rec.model.cfg.ctc_head:
    raise app.UsageError(f"{FLAGS.workdir}: the model has no CTC head (train.ctc_weight = 0)")
  settings = evaluate.search_settings(rec.config, 4)
  settings.update(ctc_rescore_weight=0.0, ctc_rescore_bonus=0.0)  # the first pass
  weights = [float(w) for w in FLAGS.weights]
  bonuses = [float(b) for b in FLAGS.bonuses]
  splits = [FLAGS.tune_split] + [s for s in FLAGS.eval_splits if s != FLAGS.tune_split]
  rows, tunings = [], {}
  for beam in (int(b) for b in FLAGS.beams):
    decoded = {}
    for split in splits:
      utts, res, decode_s, ctc_s = decode_split(rec, split, beam, settings)
      errs = [[wer_lib.score_utterance(u.text, h["text"], u.context) for h in r["nbest"]]
              for u, r in zip(utts, res)]
      decoded[split] = (utts, res, errs, decode_s, ctc_s)
      print(f"beam {beam} {split}: decoded {len(utts)} in {decode_s:.1f}s, CTC {ctc_s:.1f}s",
            flush=True)

    def parts(split):
      _, res, errs, _, _ = decoded[split]
      return ([np.array([h["score"] for h in r["nbest"]]) for r in res],
              [r["ctc"] for r in res], [[len(h["tokens"]) for h in r["nbest"]] for r in res],
              [[s.errors for s in e] for e in errs])
    sc, ll, ln, er = parts(FLAGS.tune_split)
    t = ctc_rescore.tune(sc, ll, ln, er, weights, bonuses)
    tunings[beam] = t
    print(f"beam {beam}: tuned on {FLAGS.tune_split}: weight={t['weight']:g} "
          f"bonus={t['length_bonus']:g} errors={t['errors']}", flush=True)
    for split in splits:
      utts, res, errs, decode_s, ctc_s = decoded[split]
      sc, ll, ln, _ = parts(split)
      picks = ctc_rescore.select(sc, ll, ln, t["weight"], t["length_bonus"])
      first = wer_lib.aggregate([e[0] for e in errs if e])
      resc = wer_lib.aggregate([e[p] for e, p in zip(errs, picks) if p >= 0])
      oracle = wer_lib.aggregate([min(e, key=lambda s: s.errors) for e in errs if e])
      greedy_ctc = wer_lib.aggregate([wer_lib.score_utterance(u.text, r["ctc_greedy"], u.context)
                                      for u, r in zip(utts, res)])
      audio_s = sum(len(u.feats) for u in utts) * features_lib.HOP / features_lib.SAMPLE_RATE
      words = [e[0].n_words for e in errs if e]
      boot = None
      if first["wer"]:
        boot = wer_lib.paired_bootstrap([e[0].errors for e in errs if e],
                                        [e[p].errors for e, p in zip(errs, picks) if p >= 0],
                                        words)
      row = {"split": split, "beam": beam, "tuned_on": FLAGS.tune_split, "bootstrap": boot,
             "per_utterance": [{"id": u.id, "words": e[0].n_words, "first_errors": e[0].errors,
                                "rescored_errors": e[p].errors}
                               for u, e, p in zip(utts, errs, picks) if e],
             "weight": t["weight"], "length_bonus": t["length_bonus"],
             "first_pass": first, "rescored": resc, "oracle": oracle, "ctc_greedy": greedy_ctc,
             "changed_utterances": int(sum(p > 0 for p in picks)),
             "num_utterances": len(utts), "decode_seconds": decode_s, "ctc_seconds": ctc_s,
             "audio_seconds": audio_s}
      if FLAGS.verify and split == FLAGS.eval_splits[0]:
        lib = evaluate.evaluate_utterances(
            rec.model, rec.params, rec.norm, utts, rec.tokenizer, beam=beam,
            batch_frames=rec.config.eval.batch_frames,
            **dict(settings, ctc_rescore_weight=t["weight"], ctc_rescore_bonus=t["length_bonus"]))
        row["library"] = {k: lib["metrics"][k] for k in ("wer", "u_wer", "b_wer", "rtf")}
      rows.append(row)
      print(f"beam {beam} {split}: first pass {first['wer']:.4f} (U {first['u_wer']:.4f}) -> "
            f"rescored {resc['wer']:.4f} (U {resc['u_wer']:.4f}); oracle {oracle['wer']:.4f}; "
            f"CTC greedy {greedy_ctc['wer']:.4f}"
            + (f"; library {row['library']['wer']:.4f}" if "library" in row else ""), flush=True)
  path = common.write_result("ctc_rescoring", {
      "rows": rows, "grids": {str(b): t["grid"] for b, t in tunings.items()}}, {
      "workdir": FLAGS.workdir, "step": int(rec.step) if getattr(rec, "step", None) is not None
      else None, "beams": [int(b) for b in FLAGS.beams], "tune_split": FLAGS.tune_split,
      "eval_splits": FLAGS.eval_splits, "weights": weights, "bonuses": bonuses,
      "search": settings, "limit": FLAGS.limit})
  print(f"wrote {path}")


if __name__ == "__main__":
  app.run(main)
