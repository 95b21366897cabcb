r"""End-pointing benchmark: learned end-of-query model vs the sherpa-onnx rule.

  python -m benchmarks.endpointing --workdir=workdirs/small \
      --endpointer_dir=workdirs/endpointer [--splits=test,test_noisy] [--limit=200]
      [--downstream_ms=300] [--after_end_s=3.0] [--chunk_ms=40]

The learned end-pointer runs with its stored thresholds and, when the
speculative one was re-tuned on revisions (``launch.train_endpointer
--asr_workdir``), also with the acoustic speculative threshold
(``learned_acoustic``). Each stream is lengthened to ``speech_end + after_end_s`` with its own
trailing noise (the corpus keeps 0.6-1.5 s after the request, less than the
rule's 1.2 s plus decoding lag), its wake-word segment seeds the causal CMVN,
and the request is fed through :class:`asr.session.StreamSession` in
``chunk_ms`` buffers, once per end-pointer. Per split and end-pointer:

* end-point latency from the true end of speech (``speech_end``), median and
  P90, for the speculative and the final end-point (decision times in audio
  seconds; compute time is measured by ``benchmarks/streaming_speed.py``);
* early rate (fired before the end of speech) and cut-off rate (fired before
  the end of speech *and* the final hypothesis has fewer words than the
  streaming decode of the whole request after its wake-word prefix);
* revised share: speculative results followed by ``reset_downstream``;
* user-perceived latency, end of speech -> downstream result, with a
  downstream (NLU/response) time of ``downstream_ms``: without speculation
  ``final + D``; with it ``max(final, speculative + D)`` when confirmed and
  ``final + D`` when revised;
* WER of the end-pointed transcripts and of the whole-stream decode.

Writes one JSON to ``results/endpointing/``.
"""

import dataclasses

from absl import app
from absl import flags
import numpy as np

flags.DEFINE_string("workdir", None, "Recognizer workdir (e.g. workdirs/small).")
flags.DEFINE_string("endpointer_dir", "workdirs/endpointer", "Trained end-of-query model.")
flags.DEFINE_list("splits", ["test", "test_noisy"], "Splits of the recognizer's corpus.")
flags.DEFINE_integer("limit", 200, "Streams per split.")
flags.DEFINE_integer("beam", 4, "Beam size.")
flags.DEFINE_float("downstream_ms", 300.0, "Downstream processing time for perceived latency.")
flags.DEFINE_float("after_end_s", 3.0, "Streams lengthened to speech_end + this.")
flags.DEFINE_float("chunk_ms", 40.0, "Device buffer size.")
flags.DEFINE_string("data_dir", None, "Override the recognizer's data_dir.")
flags.mark_flags_as_required(["workdir"])
FLAGS = flags.FLAGS


def _q(x, q):
  x = [v for v in x if v is not None]
  return float(np.percentile(x, q)) if x else None


def run_split(rec, eoq, spec: str, data_dir: str) -> dict:
  from asr import endpointing, session  # pylint: disable=g-import-not-at-top
  from asr.data import sources  # pylint: disable=g-import-not-at-top
  src = sources.open_source(spec, data_dir)
  n = min(FLAGS.limit or len(src), len(src))
  exs = [src[i] for i in range(n)]
  exs = [e for e in exs if e.get("speech_end") is not None and e.get("wake_end") is not None]
  audios = [endpointing.extend_stream(e, FLAGS.after_end_s) for e in exs]
  # Whole-stream reference decode: the streaming recognizer over the whole
  # request after its wake-word prefix, no end-pointing (equal to offline
  # decoding with the same causal CMVN, and it gives stream-context models
  # their context, which the offline causal path does not).
  wakes = [int(e["wake_end"] * endpointing.SR) for e in exs]
  full = [{"text": session.decode_whole_stream(rec, a[w:], a[:w], FLAGS.beam)}
          for a, w in zip(audios, wakes)]
  variants = {"learned": ("learned", eoq), "rule": ("rule", None)}
  if eoq.acoustic_speculative not in (None, eoq.speculative):
    variants["learned_acoustic"] = (
        "learned", dataclasses.replace(eoq, speculative=eoq.acoustic_speculative,
                                       lookahead_frames=0, stable_frames=0,
                                       min_completion=0.0))
  rows = {name: [] for name in variants}
  for e, a, f, w in zip(exs, audios, full, wakes):
    end = e["speech_end"] - w / endpointing.SR
    for name, (kind, ep) in variants.items():
      sess = session.StreamSession(rec, kind, ep, beam=FLAGS.beam)
      evs = session.simulate(sess, [a[w:]], FLAGS.chunk_ms, prefixes=[a[:w]])
      spec_ev = next((x for x in evs if x["event"] == "speculative_endpoint"), None)
      fin = next(x for x in evs if x["event"] == "final_endpoint")
      rows[name].append({
          "id": e["id"], "end": end, "final_t": fin["t"], "reason": fin["reason"],
          "spec_t": spec_ev["t"] if spec_ev else None, "action": fin["action"],
          "spec_text": spec_ev["text"] if spec_ev else None,
          "text": fin["text"], "full": f["text"], "ref": e["text"], "context": e["context"]})
  out = {name: summarize(r, variants[name][0]) for name, r in rows.items()}
  for name, (kind, ep) in variants.items():
    if kind == "learned":
      out[name]["thresholds"] = {"speculative": ep.speculative, "final": ep.final,
                                 "lookahead_frames": ep.lookahead_frames,
                                 "final_hold_frames": ep.final_hold_frames,
                                 "stable_frames": ep.stable_frames,
                                 "min_completion": ep.min_completion,
                                 "completion_lm": ep.completion_lm, "pool": ep.pool}
  for kind, r in rows.items():  # per-stream records for analysis
    out[kind]["streams"] = [{k: v for k, v in x.items() if k != "context"} for x in r]
  return out


def summarize(rows: list[dict], kind: str) -> dict:
  from asr.evaluation import wer  # pylint: disable=g-import-not-at-top
  d = FLAGS.downstream_ms / 1000
  lat_f = [r["final_t"] - r["end"] for r in rows]
  lat_s = [None if r["spec_t"] is None else r["spec_t"] - r["end"] for r in rows]
  early = [r["final_t"] < r["end"] for r in rows]
  cut = [r["final_t"] < r["end"] and len(r["text"].split()) < len(r["full"].split()) for r in rows]
  with_spec = [r for r in rows if r["spec_t"] is not None]
  revised = [r["action"] == "reset_downstream" for r in with_spec]
  no_spec = [lf + d for lf in lat_f]
  perceived = []
  for r, lf in zip(rows, lat_f):
    if r["spec_t"] is not None and r["action"] == "confirm":
      perceived.append(max(lf, r["spec_t"] - r["end"] + d))
    else:
      perceived.append(lf + d)
  score = lambda key: wer.aggregate(wer.score_utterance(r["ref"], r[key], r["context"])
                                    for r in rows)["wer"]
  out = {
      "num_streams": len(rows),
      "final_latency_median_s": _q(lat_f, 50), "final_latency_p90_s": _q(lat_f, 90),
      "final_early_rate": float(np.mean(early)), "final_cutoff_rate": float(np.mean(cut)),
      "reasons": {k: sum(r["reason"] == k for r in rows)
                  for k in sorted({r["reason"] for r in rows})},
      "perceived_no_speculative_median_s": _q(no_spec, 50),
      "perceived_no_speculative_p90_s": _q(no_spec, 90),
      "wer_endpointed": score("text"), "wer_whole_stream": score("full"),
  }
  if kind == "learned":
    out.update({
        "speculative_latency_median_s": _q(lat_s, 50), "speculative_latency_p90_s": _q(lat_s, 90),
        "speculative_rate": len(with_spec) / max(1, len(rows)),
        "speculative_early_rate": float(np.mean([s is not None and s < 0 for s in lat_s])),
        "speculative_advance_median_s": _q([lf - ls for lf, ls in zip(lat_f, lat_s)
                                            if ls is not None], 50),
        "revised_rate": float(np.mean(revised)) if revised else 0.0,
        "perceived_speculative_median_s": _q(perceived, 50),
        "perceived_speculative_p90_s": _q(perceived, 90),
    })
  return out


def main(argv):
  del argv
  from asr import endpointing, inference  # pylint: disable=g-import-not-at-top
  from asr.training import state as state_lib  # pylint: disable=g-import-not-at-top
  from benchmarks import common  # pylint: disable=g-import-not-at-top
  rec = inference.Recognizer.from_workdir(FLAGS.workdir)
  data_dir = FLAGS.data_dir or rec.config.data.data_dir
  eoq = endpointing.Eoq.load(FLAGS.endpointer_dir)
  results = {}
  for split in FLAGS.splits:
    results[split] = run_split(rec, eoq, state_lib.split_spec(rec.config, split), data_dir)
    print(split, {k: {m: v for m, v in r.items() if m != "streams"}
                  for k, r in results[split].items()}, flush=True)
  path = common.write_result("endpointing", {"splits": results}, {
      "workdir": FLAGS.workdir, "endpointer_dir": FLAGS.endpointer_dir, "limit": FLAGS.limit,
      "beam": FLAGS.beam, "downstream_ms": FLAGS.downstream_ms, "after_end_s": FLAGS.after_end_s,
      "chunk_ms": FLAGS.chunk_ms, "step": rec.step,
      "thresholds": {"speculative": eoq.speculative, "final": eoq.final,
                     "lookahead_frames": eoq.lookahead_frames,
                     "final_hold_frames": eoq.final_hold_frames,
                     "stable_frames": eoq.stable_frames, "min_completion": eoq.min_completion,
                     "completion_lm": eoq.completion_lm, "pool": eoq.pool}})
  print(path)


if __name__ == "__main__":
  app.run(main)
