r"""Branching-encoder sweep: compute against WER, one row per workdir (lambda).

  python -m benchmarks.branching --workdirs=workdirs/branching_small_l0,workdirs/branching_small_l1 \
      [--reference=workdirs/small] [--split=test] [--thresholds=0.5] [--limit=N]
      [--timing_utterances=20] [--backfill_thresholds=0.05] [--hold_thresholds=0.5]

For each workdir (one trained lambda each) and inference threshold: the
fraction of request chunks the router sends to the expensive branch; encoder
FLOPs per second of audio, analytic (asr.models.branching.encoder_flops) and
from XLA's cost analysis of the compiled batch-1 streaming step with each
branch forced, weighted by the measured fraction; wall time of the batch-1
streaming encoder per second of audio with the router deciding and with
every chunk forced to the expensive branch (the measured saving of the
skipped branch); WER on the split (beam search, full-utterance encoder, which
routes as streaming does). Relative figures are against the all-expensive
encoder of the same model and, with ``--reference``, a plain model's WER and
FLOPs. ``--thresholds`` sweeps the routing threshold of each model without
retraining; ``--backfill_thresholds`` (``onset_backfill`` models) and
``--hold_thresholds`` (hysteresis) are swept at every threshold, and the
re-run chunks of ``onset_backfill`` count in the compute. Writes
``results/branching/<stamp>.json`` and a plot of the sweep beside it
(``.png``).
"""

import itertools
import os

from absl import app
from absl import flags

flags.DEFINE_list("workdirs", None, "Branching workdirs, one per lambda.")
flags.DEFINE_string("reference", None, "Optional plain (non-branching) workdir: WER and FLOPs anchor.")
flags.DEFINE_string("split", "test", "Split of the run's corpus or a manifest.")
flags.DEFINE_list("thresholds", [], "Inference thresholds (default: each model's own).")
flags.DEFINE_list("backfill_thresholds", [], "onset_backfill models: backfill thresholds, each "
                  "run at every threshold (default: each model's own).")
flags.DEFINE_list("hold_thresholds", [], "Hysteresis: hold thresholds (branching.hold_threshold), "
                  "each run at every threshold (default: each model's own).")
flags.DEFINE_integer("beam", 4, "Beam size.")
flags.DEFINE_integer("limit", None, "Utterances (default: all).")
flags.DEFINE_integer("timing_utterances", 20, "Utterances for the streaming wall-time measurement.")
flags.DEFINE_list("timing_modes", ["host", "loop"], "Wall-time measurements "
                  "(asr.evaluation.routing.interleaved_timing): host = one jitted step per "
                  "chunk dispatched from Python (row fields ms_per_audio_s, wall_saving, ...); "
                  "loop = each utterance's chunks as one compiled while-loop, no host work "
                  "between chunks (the same fields prefixed loop_).")
flags.DEFINE_enum("oracle", "", ["", "outputs", "keys", "uncertain_keys"],
                  "Diagnostic rows (asr.models.branching.BranchingConfig.oracle): WER with every "
                  "chunk's output expensive (outputs), no chunk's keys masked (keys) or those of "
                  "p(expensive) > backfill_threshold (uncertain_keys); compute and routes as routed; "
                  "no timing.")
flags.DEFINE_string("data_dir", None, "Override the runs' data_dir.")
flags.DEFINE_float("trailing_s", None, "Crop each request to this long after the end of speech "
                   "(where a device's final end-pointer stops the encoder; the corpus keeps "
                   "0.6-1.5 s); default: everything after the wake word.")
flags.mark_flags_as_required(["workdirs"])
FLAGS = flags.FLAGS


def measure(rec, threshold, utts_cache, backfill_threshold=None, hold_threshold=None,
            reference=None) -> dict:
  """One (model, threshold, backfill threshold, hold threshold) row.

  reference: the plain anchor's Recognizer: its streaming step is timed
  interleaved with the branching model's (``timing["reference"]``,
  ``wall_saving_vs_reference``)."""
  from asr.evaluation import evaluate, routing  # pylint: disable=g-import-not-at-top
  from asr.models import branching  # pylint: disable=g-import-not-at-top
  from asr.evaluation import wer as wer_lib  # pylint: disable=g-import-not-at-top
  from asr.training import state as state_lib  # pylint: disable=g-import-not-at-top
  config = rec.config
  if FLAGS.data_dir:
    config.data.data_dir = FLAGS.data_dir
  model = routing.with_threshold(rec.model, threshold, backfill_threshold, hold_threshold)
  key = (config.data.corpus, config.data.get("cmvn", "global"),
         str(config.data.get("stream_context")), config.model.encoder.subsample_factor)
  if key not in utts_cache:
    spec = state_lib.split_spec(config, FLAGS.split)
    utts_cache[key] = evaluate.load_utterances(config, spec, rec.tokenizer, limit=FLAGS.limit,
                                               trailing_s=FLAGS.trailing_s)
  utts = utts_cache[key]
  e = model.cfg.encoder
  oracle = FLAGS.oracle if e.branching.enabled else ""
  out = evaluate.evaluate_utterances(routing.with_oracle(model, oracle) if oracle else model,
                                     rec.params, rec.norm, utts, rec.tokenizer, beam=FLAGS.beam)
  res = out["metrics"]
  flops = branching.encoder_flops(e, model.cfg.num_mel_bins)
  frames_per_s = 100.0 / e.subsample_factor
  chunks_per_s = frames_per_s / e.chunk_size
  compiled = routing.compiled_flops(model, rec.params)
  sub = utts[:FLAGS.timing_utterances]
  row = {"workdir": rec.workdir, "step": rec.step, "lambda": e.branching.cost_weight,
         "cost_target": e.branching.cost_target,
         "threshold": e.branching.threshold if e.branching.enabled else None,
         "backfill_threshold": (e.branching.backfill_threshold
                                if e.branching.enabled and e.branching.onset_backfill else None),
         "hold_threshold": e.branching.hold_threshold if e.branching.enabled else None,
         "oracle": oracle or None,
         "wer": res["wer"], "u_wer": res["u_wer"], "b_wer": res["b_wer"],
         "num_utterances": len(utts), "branching": e.branching.enabled,
         "cross_chunk": bool(e.branching.enabled and e.branching.cross_chunk),
         "per_utt": wer_lib.errors_by_id(out["utterances"]),
         # {first | middle | last word: [errors, reference words]}
         "errors_by_position": wer_lib.sum_by_position(
             wer_lib.errors_by_position(u["ref"], u["hyp"]) for u in out["utterances"])}
  if e.branching.enabled:
    st = routing.routing_stats(model, rec.params, rec.norm, utts)
    f = st["frac_expensive"]
    # onset_backfill: the share of chunks whose expensive pass re-runs the
    # cheap chunk before it (its extra compute: flops["backfill"] per frame).
    fb = st["frac_backfill"]
    extra = compiled.get("backfill", compiled["expensive"]) - compiled["expensive"]
    row.update(frac_expensive=f, chunks=st["chunks"], frac_backfill=fb,
               context_frac_expensive=(st["context_expensive_chunks"]
                                       / max(1, st["context_chunks"])) if st["context_chunks"] else None,
               analytic_flops_per_s=frames_per_s * (flops["fixed"] + f * flops["expensive"]
                                                    + (1 - f) * flops["cheap"]
                                                    + fb * flops["backfill"]),
               analytic_full_flops_per_s=frames_per_s * flops["full"],
               compiled_flops_per_s=chunks_per_s * (f * compiled["expensive"]
                                                    + (1 - f) * compiled["cheap"] + fb * extra),
               compiled_full_flops_per_s=chunks_per_s * compiled["expensive"],
               compiled_chunk_flops=compiled)
    if ("noise",) + key not in utts_cache:
      utts_cache[("noise",) + key] = routing.noise_kinds(config.data.corpus, utts)
    split = routing.speech_split(st["routes"], [u.speech_span for u in utts],
                                 e.subsample_factor * e.chunk_size / 100.0,
                                 groups=utts_cache[("noise",) + key])
    if split:
      row.update(split)
    row["compute_saving"] = 1 - row["compiled_flops_per_s"] / row["compiled_full_flops_per_s"]
    row["analytic_compute_saving"] = 1 - row["analytic_flops_per_s"] / row["analytic_full_flops_per_s"]
    variants = {"router": (model, rec.params, rec.norm, None),
                "all_expensive": (model, rec.params, rec.norm, 1),
                "all_cheap": (model, rec.params, rec.norm, 0),
                # The routed program with every chunk on one side (thresholds no
                # p passes / every p passes): the conditional's own overhead.
                "routed_all_cheap": (routing.with_threshold(model, 1.01), rec.params, rec.norm, None),
                "routed_all_expensive": (routing.with_threshold(model, -0.01), rec.params, rec.norm,
                                         None)}
    if reference is not None:
      variants["reference"] = (reference.model, reference.params, reference.norm, None)
    for mode in FLAGS.timing_modes if not oracle else ():  # an oracle cannot stream
      pre = "" if mode == "host" else f"{mode}_"
      timing = routing.interleaved_timing(variants, sub, mode=mode)
      row[f"{pre}timing"] = timing
      row[f"{pre}ms_per_audio_s"] = ms = timing["router"]["ms_per_audio_second"]
      row[f"{pre}ms_per_audio_s_all_expensive"] = full = timing["all_expensive"]["ms_per_audio_second"]
      row[f"{pre}wall_saving"] = 1 - ms / full
      if reference is not None:
        row[f"{pre}wall_saving_vs_reference"] = 1 - ms / timing["reference"]["ms_per_audio_second"]
  else:
    row.update(analytic_flops_per_s=frames_per_s * flops["full"],
               compiled_flops_per_s=chunks_per_s * compiled["plain"])
    for mode in FLAGS.timing_modes:
      pre = "" if mode == "host" else f"{mode}_"
      t = routing.stream_timing(model, rec.params, rec.norm, sub, mode=mode)
      row.update({f"{pre}timing": {"plain": t}, f"{pre}ms_per_audio_s": t["ms_per_audio_second"]})
  return row


def plot(rows: list[dict], reference: dict | None, output: str) -> str:
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  fig, axes = plt.subplots(1, 3, figsize=(15, 4))
  br = [r for r in rows if r["branching"]]
  labels = [f"λ={r['lambda']:g}" + (f", t={r['threshold']:g}" if len(
      {x['threshold'] for x in br}) > 1 else "")
            + (f", b={r['backfill_threshold']:g}" if len(
                {x.get('backfill_threshold') for x in br}) > 1 else "")
            + (f", h={r['hold_threshold']:g}" if len(
                {x.get('hold_threshold') for x in br}) > 1 else "") for r in br]
  x = [100 * (1 - r["compute_saving"]) for r in br]
  ax = axes[0]
  ax.plot(x, [100 * r["wer"] for r in br], "o-")
  for xi, r, lab in zip(x, br, labels):
    ax.annotate(lab, (xi, 100 * r["wer"]), fontsize=7, xytext=(3, 3), textcoords="offset points")
  if reference:
    ax.axhline(100 * reference["wer"], color="gray", ls="--", label="plain reference")
    ax.legend(fontsize=8)
  ax.axvline(60, color="red", ls=":", lw=1)
  ax.set_xlabel("encoder FLOPs, % of all-expensive (compiled)")
  ax.set_ylabel(f"WER % ({FLAGS.split})")
  ax = axes[1]
  pos = range(len(br))
  ax.bar(pos, [100 * r["frac_expensive"] for r in br])
  ax.set_xticks(list(pos), labels, rotation=45, fontsize=7, ha="right")
  ax.set_ylabel("% of chunks on the expensive branch")
  ax = axes[2]
  pre = "loop_" if all("loop_timing" in r for r in br) else ""  # the compiled loop if timed
  if not all(f"{pre}timing" in r for r in br):  # oracle rows: not timed
    ax.set_axis_off()
    fig.tight_layout()
    fig.savefig(output, dpi=120)
    plt.close(fig)
    return output
  t = [r[f"{pre}timing"] for r in br]
  ax.bar([p - 0.27 for p in pos], [x["router"]["ms_per_audio_second"] for x in t], 0.27,
         label="router")
  ax.bar(list(pos), [x["all_expensive"]["ms_per_audio_second"] for x in t], 0.27,
         label="all expensive")
  ax.bar([p + 0.27 for p in pos], [x["all_cheap"]["ms_per_audio_second"] for x in t], 0.27,
         label="all cheap")
  ax.set_xticks(list(pos), labels, rotation=45, fontsize=7, ha="right")
  ax.set_ylabel("streaming encoder ms per audio second (batch 1"
                + (", compiled loop)" if pre else ", host loop)"))
  ax.legend(fontsize=8)
  fig.tight_layout()
  fig.savefig(output, dpi=120)
  plt.close(fig)
  return output


def main(argv):
  del argv
  if not FLAGS.timing_modes or set(FLAGS.timing_modes) - {"host", "loop"}:
    raise app.UsageError(f"--timing_modes: one or both of host, loop; got {FLAGS.timing_modes}")
  from asr import inference  # pylint: disable=g-import-not-at-top
  from asr.evaluation import wer as wer_lib  # pylint: disable=g-import-not-at-top
  from benchmarks import common  # pylint: disable=g-import-not-at-top
  cache = {}
  rows = []
  ref_rec = None
  if FLAGS.reference:
    ref_rec = inference.Recognizer.from_workdir(FLAGS.reference)
    ref_rec.workdir = FLAGS.reference
  for wd in FLAGS.workdirs:
    rec = inference.Recognizer.from_workdir(wd)
    rec.workdir = wd
    if not rec.model.cfg.encoder.branching.enabled:
      raise ValueError(f"{wd} is not a branching model (use it as --reference)")
    for thr, bthr, hold in itertools.product(
        [float(t) for t in FLAGS.thresholds] or [None],
        [float(t) for t in FLAGS.backfill_thresholds] or [None],
        [float(t) for t in FLAGS.hold_thresholds] or [None]):
      row = measure(rec, thr, cache, bthr, hold, reference=ref_rec)
      print({k: v for k, v in row.items()
             if k not in ("timing", "loop_timing", "compiled_chunk_flops", "per_utt")},
            flush=True)
      rows.append(row)
  reference = None
  if ref_rec is not None:
    reference = measure(ref_rec, None, cache)
    print("reference", {k: v for k, v in reference.items() if k != "per_utt"}, flush=True)
    base_utt = reference.pop("per_utt")
    for r in rows:
      r["wer_rel_reference"] = (r["wer"] - reference["wer"]) / max(reference["wer"], 1e-9)
      r["flops_rel_reference"] = r["compiled_flops_per_s"] / reference["compiled_flops_per_s"]
      boot = wer_lib.paired_bootstrap_by_id(base_utt, r["per_utt"])
      if boot is not None:
        r["bootstrap"] = boot
  for r in rows:
    r.pop("per_utt")
  path = common.write_result("branching", {"rows": rows, "reference": reference}, {
      "workdirs": FLAGS.workdirs, "reference": FLAGS.reference, "split": FLAGS.split,
      "beam": FLAGS.beam, "limit": FLAGS.limit, "thresholds": FLAGS.thresholds,
      "backfill_thresholds": FLAGS.backfill_thresholds, "hold_thresholds": FLAGS.hold_thresholds,
      "timing_utterances": FLAGS.timing_utterances, "timing_modes": FLAGS.timing_modes,
      "oracle": FLAGS.oracle or None,
      "trailing_s": FLAGS.trailing_s})
  png = plot(rows, reference, os.path.splitext(str(path))[0] + ".png")
  print(path, png)


if __name__ == "__main__":
  app.run(main)
