r"""Biasing benchmark (Le et al. 2021 protocol) on the voice-assistant corpus.

  python -m benchmarks.biasing --workdir=workdirs/catt_small [--split=test]
      [--distractors=0,100,500,1000] [--modes=none,shallow,attention,both]
      [--pointer_root_scale=1.0] [--pointer_preselect=K]

For each list size N and biasing mode: WER, U-WER, B-WER on the split (each
utterance's list = its own entity phrases + N distractors from the split's
name pool), plus U-WER on the utterances that name no entity but still get a
list (false biasing), and relative B-WER changes against ``none`` at the same
N. Also times streaming recognition (batch 1, chunk by chunk) with a
1,000-phrase list against no list on the same utterances. Writes one JSON to
``results/biasing/``.
"""

import time

from absl import app
from absl import flags
import numpy as np

from asr.evaluation import biasing_flags

flags.DEFINE_string("workdir", None, "A trained workdir (CATT for attention modes).")
flags.DEFINE_string("split", "test", "Split of the run's corpus or a manifest.")
flags.DEFINE_list("distractors", ["0", "100", "500", "1000"], "List sizes N.")
flags.DEFINE_list("modes", ["none", "shallow", "attention", "both"], "Biasing modes.")
flags.DEFINE_integer("beam", 4, "Beam size.")
flags.DEFINE_bool("pointer_ablation", True, "Models with the tree-constrained pointer: also "
                  "run attention biasing without it (rows 'attention-noptr'; any mode with "
                  "the suffix -noptr can be named in --modes).")
flags.DEFINE_float("context_score", 2.0, "Shallow-fusion bonus per token (unless tuned).")
flags.DEFINE_list("tune_context_score", [],
                  "Candidate shallow-fusion bonuses: the one with the lowest WER on "
                  "--tune_split (N=100, mode shallow, or both for CATT models) is used.")
biasing_flags.define()
flags.DEFINE_string("tune_split", "validation", "Split for --tune_context_score.")
flags.DEFINE_integer("tune_limit", 200, "Utterances of --tune_split used for tuning.")
flags.DEFINE_integer("limit", None, "Utterances (default: all).")
flags.DEFINE_integer("rtf_utterances", 20, "Utterances for the streaming RTF measurement.")
flags.DEFINE_string("data_dir", None, "Override the run's data_dir.")
flags.mark_flags_as_required(["workdir"])
FLAGS = flags.FLAGS


def _rel(x, ref):
  if x is None or ref in (None, 0):
    return None
  return (x - ref) / ref


def streaming_rtf(rec, utts, lists, audio_by_id) -> dict:
  """Real-time factor of batch-1 streaming with and without the lists."""
  from asr import streaming  # pylint: disable=g-import-not-at-top
  out = {}
  for name, use in (("no_list", False), ("list", True)):
    total_audio, total_time = 0.0, 0.0
    for i, u in enumerate(utts):
      audio = audio_by_id[u.id]
      sr = streaming.StreamingRecognizer(rec, 1, beam=FLAGS.beam,
                                         phrases=[lists[i]] if use else None)
      if i == 0:  # compile outside the timing
        sr.accept_waveform(audio)
        sr.finalize()
        sr = streaming.StreamingRecognizer(rec, 1, beam=FLAGS.beam,
                                           phrases=[lists[i]] if use else None)
      t0 = time.perf_counter()
      for k in range(0, len(audio), 1600):  # 100 ms chunks
        sr.accept_waveform(audio[k:k + 1600])
      sr.finalize()
      total_time += time.perf_counter() - t0
      total_audio += len(audio) / 16000
    out[name] = {"rtf": total_time / total_audio, "audio_seconds": total_audio}
  out["list_size"] = int(np.mean([len(l) for l in lists]))
  return out


def main(argv):
  del argv
  from asr.data import pipeline, sources  # pylint: disable=g-import-not-at-top
  from asr.evaluation import evaluate, wer  # pylint: disable=g-import-not-at-top
  from asr.training import state as state_lib  # pylint: disable=g-import-not-at-top
  from benchmarks import common  # pylint: disable=g-import-not-at-top
  rec = common.load_recognizer(FLAGS.workdir, FLAGS.data_dir)
  config = rec.config
  spec, utts, src = common.load_split(rec, FLAGS.split, FLAGS.limit)
  pool = sources.name_pool(src)
  modes = [m for m in FLAGS.modes
           if m in ("none", "shallow") or rec.model.cfg.biasing.enabled]
  if rec.model.cfg.biasing.pointer and FLAGS.pointer_ablation:
    modes += [f"{m}-noptr" for m in modes if m == "attention" and f"{m}-noptr" not in modes]
  no_entity = [i for i, u in enumerate(utts) if not u.entities]
  cohort = biasing_flags.cohort(FLAGS, config, rec.model, rec.params, rec.norm, rec.tokenizer)
  context_score, tuning = FLAGS.context_score, []
  if FLAGS.tune_context_score:
    tspec = state_lib.split_spec(config, FLAGS.tune_split)
    tutts = evaluate.load_utterances(config, tspec, rec.tokenizer, limit=FLAGS.tune_limit)
    tpool = sources.name_pool(sources.open_source(tspec, config.data.data_dir))
    tmode = "both" if rec.model.cfg.biasing.enabled else "shallow"
    for cs in (float(x) for x in FLAGS.tune_context_score):
      m = evaluate.evaluate_utterances(rec.model, rec.params, rec.norm, tutts, rec.tokenizer,
                                       beam=FLAGS.beam, biasing=tmode, distractors=100,
                                       pool=tpool, context_score=cs,
                                       **biasing_flags.kwargs(FLAGS, cohort))["metrics"]
      tuning.append({"context_score": cs, "mode": tmode, "wer": m["wer"], "u_wer": m["u_wer"],
                     "b_wer": m["b_wer"]})
      print("tuning", tuning[-1], flush=True)
    context_score = min(tuning, key=lambda r: r["wer"])["context_score"]
    print(f"context_score={context_score} (lowest {FLAGS.tune_split} WER)", flush=True)
  rows = []
  for n in (int(x) for x in FLAGS.distractors):
    base = None
    for mode in modes:
      res = evaluate.evaluate_utterances(rec.model, rec.params, rec.norm, utts, rec.tokenizer,
                                         beam=FLAGS.beam, biasing=mode.removesuffix("-noptr"),
                                         distractors=n, pool=pool, context_score=context_score,
                                         pointer=not mode.endswith("-noptr"),
                                         **biasing_flags.kwargs(FLAGS, cohort))
      m = res["metrics"]
      ne = wer.aggregate(wer.score_utterance(utts[i].text, res["utterances"][i]["hyp"],
                                             utts[i].context) for i in no_entity)
      row = {"distractors": n, "biasing": mode, "wer": m["wer"], "u_wer": m["u_wer"],
             "b_wer": m["b_wer"], "rtf": m["rtf"], "num_utterances": len(utts),
             "no_entity_u_wer": ne["u_wer"], "no_entity_utterances": len(no_entity)}
      if mode == "none":
        base = row
      row["b_wer_rel"] = _rel(row["b_wer"], base["b_wer"] if base else None)
      row["u_wer_rel"] = _rel(row["u_wer"], base["u_wer"] if base else None)
      row["wer_rel"] = _rel(row["wer"], base["wer"] if base else None)
      print(row, flush=True)
      rows.append(row)
  # Streaming cost of a 1,000-phrase list (batch 1).
  k = min(FLAGS.rtf_utterances, len(utts))
  sub = utts[:k]
  lists = evaluate.biasing_lists(sub, 1000, pool)
  audio_by_id = {}
  for i in range(len(src)):
    ex = src[i]
    if any(ex["id"] == u.id for u in sub):
      audio_by_id[ex["id"]] = pipeline.crop_request(ex, None)
    if len(audio_by_id) == k:
      break
  try:
    rtf = streaming_rtf(rec, sub, lists, audio_by_id)
  except ValueError as e:  # e.g. a model trained with per-utterance CMVN
    rtf = {"skipped": str(e)}
  print("streaming:", rtf)
  path = common.write_result("biasing", {"rows": rows, "streaming_rtf": rtf}, {
      "workdir": FLAGS.workdir, "split": FLAGS.split, "beam": FLAGS.beam,
      "context_score": context_score, "context_score_tuning": tuning, "limit": FLAGS.limit, "modes": modes,
      "pointer_root_scale": FLAGS.pointer_root_scale, "pointer_preselect": FLAGS.pointer_preselect,
      "pointer_rank": (FLAGS.pointer_rank if FLAGS.pointer_preselect or FLAGS.shallow_preselect
                       else None),
      "shallow_preselect": FLAGS.shallow_preselect,
      "preselect_min_score": FLAGS.preselect_min_score,
      "attention_list": FLAGS.attention_list,
      "pointer_window": FLAGS.pointer_window,
      "pointer_verify": FLAGS.pointer_verify, "verify_joint": FLAGS.verify_joint,
      "verify_margin": FLAGS.verify_margin,
      "kws_cohort": ({"utterances": FLAGS.kws_cohort, "weight": FLAGS.kws_cohort_weight,
                      "power": FLAGS.kws_cohort_power} if cohort is not None else None),
      "step": rec.step})
  print(path)


if __name__ == "__main__":
  app.run(main)
