r"""Stream context against the same model without it, on test and test_noisy.

  python -m benchmarks.stream_context --workdir=workdirs/context_small \
      --baseline=workdirs/small_ft [--splits=test,test_noisy] [--beam=4] [--max_symbols=0] \
      [--limit=N] [--baseline_context]

WER / U-WER / B-WER of the model trained with stream context (the wake-word
segment encoded before the request, ``data.stream_context``), of the baseline
trained without it (same recipe otherwise), and of the context model decoded
with its context withheld (ablation: how much of the gain is the context at
inference). ``test_noisy`` mixes a competing talker, where the wake word tells
the encoder whose voice the request is. Relative WER change against the
baseline per split, with a paired bootstrap 95 % interval over utterances
(``asr.evaluation.wer.paired_bootstrap``). Writes
``results/stream_context/<stamp>.json``.
"""

import copy

from absl import app
from absl import flags

flags.DEFINE_string("workdir", None, "Workdir of a model trained with data.stream_context.")
flags.DEFINE_string("baseline", None, "Workdir of the same model trained without it.")
flags.DEFINE_bool("baseline_context", False, "Decode the baseline with its own stream context "
                  "(a baseline trained with it: compares two context models, e.g. "
                  "data.stream_context.align 'chunk' against 'frame').")
flags.DEFINE_list("splits", ["test", "test_noisy"], "Splits of the runs' corpus.")
flags.DEFINE_integer("beam", 4, "Beam size.")
flags.DEFINE_integer("max_symbols", 0, "Beam search kind for every run: 0 = modified search, "
                     ">= 1 = time-synchronous with that many labels per frame.")
flags.DEFINE_integer("limit", None, "Utterances per split (default: all).")
flags.DEFINE_string("data_dir", None, "Override the runs' data_dir.")
flags.DEFINE_float("ctc_rescore_weight", 0.0, "Every run's beam rescored with its own CTC head "
                   "(asr.decoding.ctc_rescore; 0 = the first pass alone).")
flags.DEFINE_float("ctc_rescore_bonus", 0.0, "The CTC rescoring's per-wordpiece bonus.")
flags.mark_flags_as_required(["workdir", "baseline"])
FLAGS = flags.FLAGS


def _evaluate(rec, split, context: bool) -> dict:
  from asr.evaluation import evaluate  # pylint: disable=g-import-not-at-top
  from asr.evaluation import wer as wer_lib  # pylint: disable=g-import-not-at-top
  from asr.training import state as state_lib  # pylint: disable=g-import-not-at-top
  config = copy.deepcopy(rec.config)
  if FLAGS.data_dir:
    config.data.data_dir = FLAGS.data_dir
  if "stream_context" in config.data:
    config.data.stream_context.enabled = bool(context and config.data.stream_context.enabled)
  utts = evaluate.load_utterances(config, state_lib.split_spec(config, split), rec.tokenizer,
                                  limit=FLAGS.limit)
  out = evaluate.evaluate_utterances(rec.model, rec.params, rec.norm, utts, rec.tokenizer,
                                     beam=FLAGS.beam, max_symbols=FLAGS.max_symbols,
                                     ctc_rescore_weight=FLAGS.ctc_rescore_weight,
                                     ctc_rescore_bonus=FLAGS.ctc_rescore_bonus)
  m = out["metrics"]
  with_ctx = sum(u.wake_feats is not None and len(u.wake_feats) > 0 for u in utts)
  per_utt = wer_lib.errors_by_id(out["utterances"])
  n = max(m["num_words"], 1)
  return {"per_utt": per_utt, "wer": m["wer"], "u_wer": m["u_wer"], "b_wer": m["b_wer"],
          "sub": m["substitutions"] / n, "del": m["deletions"] / n, "ins": m["insertions"] / n,
          "rtf": m["rtf"],
          "num_utterances": len(utts), "utterances_with_context": with_ctx,
          "context_seconds": sum(len(u.wake_feats) for u in utts if u.wake_feats is not None)
                             / 100 / max(1, with_ctx)}


def main(argv):
  del argv
  from asr import inference  # pylint: disable=g-import-not-at-top
  from asr.evaluation import wer as wer_lib  # pylint: disable=g-import-not-at-top
  from benchmarks import common  # pylint: disable=g-import-not-at-top
  ctx = inference.Recognizer.from_workdir(FLAGS.workdir)
  base = inference.Recognizer.from_workdir(FLAGS.baseline)
  if not ctx.config.data.get("stream_context", {}).get("enabled"):
    raise ValueError(f"{FLAGS.workdir} was not trained with data.stream_context.enabled")
  rows = []
  for split in FLAGS.splits:
    b = _evaluate(base, split, context=FLAGS.baseline_context)
    runs = {"baseline": b, "context": _evaluate(ctx, split, context=True),
            "context_model_without_context": _evaluate(ctx, split, context=False)}
    per = {name: r.pop("per_utt") for name, r in runs.items()}
    for name, r in runs.items():
      per_utt, base_utt = per[name], per["baseline"]
      row = {"split": split, "model": name, **r,
             "wer_rel_baseline": (r["wer"] - b["wer"]) / max(b["wer"], 1e-9)}
      boot = None if name == "baseline" else wer_lib.paired_bootstrap_by_id(base_utt, per_utt)
      if boot is not None:
        row["bootstrap"] = boot
      print(row, flush=True)
      rows.append(row)
  path = common.write_result("stream_context", {"rows": rows}, {
      "workdir": FLAGS.workdir, "baseline": FLAGS.baseline, "splits": FLAGS.splits,
      "beam": FLAGS.beam, "max_symbols": FLAGS.max_symbols,
      "ctc_rescore_weight": FLAGS.ctc_rescore_weight,
      "ctc_rescore_bonus": FLAGS.ctc_rescore_bonus, "limit": FLAGS.limit, "step": ctx.step, "baseline_step": base.step,
      "max_seconds": ctx.config.data.stream_context.max_seconds,
      "align": ctx.config.data.stream_context.get("align", "chunk"),
      "baseline_context": FLAGS.baseline_context})
  print(path)


if __name__ == "__main__":
  app.run(main)
