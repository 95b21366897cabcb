r"""Streaming speed at batch 1 on one core, against pocketsphinx on the same audio.

  python -m benchmarks.streaming_speed --workdir=workdirs/small [--split=test]
      [--limit=100] [--chunk_ms=320] [--core=0] [--cmvn_splits=test,test_noisy]

The process pins all its threads to one core (``os.sched_setaffinity``, as
``taskset -c 0``), caps BLAS thread pools at 1, and sets
``XLA_FLAGS=--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1``
before JAX starts. RTF is processing wall time over audio time; ``rtf_cpu``
uses the process's CPU time instead (the two differ when other processes share
the core). On the same requests (the stream after the wake word, as offline
evaluation crops it):

* ours: :class:`asr.streaming.StreamingRecognizer` fed ``chunk_ms`` buffers
  (320 ms = one encoder chunk of ``small``), the wake-word segment as CMVN
  prefix; real-time factor (processing / audio seconds), per-buffer latency
  (median, P99), WER; plus the learned end-of-query model's own RTF;
* pocketsphinx (PyPI, its bundled en-us model) fed the same buffers through
  ``process_raw``; RTF, per-buffer latency, WER (same scoring);
* the WER cost of causal CMVN: offline beam search of ``cmvn_splits`` with the
  whole-utterance statistics the model was trained with vs the causal estimate
  the streaming recognizer uses, and how often streaming's transcript equals
  the offline causal one.

Writes one JSON to ``results/streaming_speed/``.
"""

import os
import sys
import time

# One core: BLAS thread pools start when numpy is imported, so they are capped
# here, before the import (a pool started earlier would escape the pinning).
for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
  os.environ.setdefault(_v, "1")

from absl import app  # pylint: disable=g-import-not-at-top,wrong-import-position
from absl import flags  # pylint: disable=g-import-not-at-top,wrong-import-position
import numpy as np  # pylint: disable=g-import-not-at-top,wrong-import-position

flags.DEFINE_string("workdir", None, "Recognizer workdir.")
flags.DEFINE_string("split", "test", "Split for the speed comparison.")
flags.DEFINE_integer("limit", 100, "Requests timed.")
flags.DEFINE_integer("beam", 4, "Beam size.")
flags.DEFINE_float("chunk_ms", 320.0, "Audio per buffer.")
flags.DEFINE_integer("core", 0, "CPU core to pin to (-1: no pinning).")
flags.DEFINE_list("cmvn_splits", ["test", "test_noisy"], "Splits for the causal-CMVN WER cost.")
flags.DEFINE_string("endpointer_dir", "workdirs/endpointer", "End-of-query model to time.")
flags.DEFINE_bool("pocketsphinx", True, "Run the pocketsphinx baseline.")
flags.DEFINE_string("data_dir", None, "Override the recognizer's data_dir.")
flags.mark_flags_as_required(["workdir"])
FLAGS = flags.FLAGS

XLA_ONE_CORE = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"


def pin_one_core(core: int):
  """Before JAX is imported: one core, single-threaded XLA."""
  if "jax" in sys.modules:
    raise RuntimeError("pin_one_core must run before JAX is imported")
  if core >= 0:  # every thread that exists now; later ones inherit it
    for tid in os.listdir("/proc/self/task"):
      os.sched_setaffinity(int(tid), {core})
  os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " " + XLA_ONE_CORE).strip()


class _Clock:
  """Wall and process CPU time of a block (CPU time excludes the time the
  pinned core spent on other processes of a shared machine)."""

  def __enter__(self):
    self.wall, self.cpu = time.perf_counter(), time.process_time()
    return self

  def __exit__(self, *exc):
    self.wall = time.perf_counter() - self.wall
    self.cpu = time.process_time() - self.cpu


def _stats(times, audio_s, cpu_s=None) -> dict:
  t = np.array(times)
  extra = {} if cpu_s is None else {"rtf_cpu": float(cpu_s / audio_s)}
  return {"rtf": float(t.sum() / audio_s), **extra,
          "chunk_latency_median_ms": float(np.median(t) * 1e3),
          "chunk_latency_p99_ms": float(np.percentile(t, 99) * 1e3),
          "chunk_latency_max_ms": float(t.max() * 1e3), "num_chunks": len(t),
          "audio_seconds": audio_s, "processing_seconds": float(t.sum())}


def run_ours(rec, reqs, step: int) -> tuple[dict, list[str]]:
  from asr import streaming  # pylint: disable=g-import-not-at-top
  warm = streaming.StreamingRecognizer(rec, 1, beam=FLAGS.beam)  # compile outside the timing
  warm.accept_prefix(reqs[0][0])
  for k in range(0, len(reqs[0][1]), step):
    warm.accept_waveform(reqs[0][1][k:k + step])
  warm.peek()
  warm.finalize()
  times, texts, audio_s = [], [], 0.0
  clock = _Clock().__enter__()
  for prefix, audio in reqs:
    t0 = time.perf_counter()
    sr = streaming.StreamingRecognizer(rec, 1, beam=FLAGS.beam)
    sr.accept_prefix(prefix)
    setup = time.perf_counter() - t0
    chunk_t = []
    for k in range(0, len(audio), step):
      t0 = time.perf_counter()
      sr.accept_waveform(audio[k:k + step])
      chunk_t.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    texts.append(sr.finalize()[0][0]["text"])
    chunk_t[-1] += time.perf_counter() - t0 + setup  # the flush belongs to the last buffer
    times += chunk_t
    audio_s += len(audio) / 16000
  clock.__exit__()
  return _stats(times, audio_s, clock.cpu), texts


def run_eoq(eoq, reqs, step: int) -> dict:
  from asr import endpointing  # pylint: disable=g-import-not-at-top
  s = endpointing.EoqStream(eoq, reqs[0][0])
  s.push(reqs[0][1][:step * 3])
  times, audio_s = [], 0.0
  clock = _Clock().__enter__()
  for prefix, audio in reqs:
    s = endpointing.EoqStream(eoq, prefix)
    for k in range(0, len(audio), step):
      t0 = time.perf_counter()
      s.push(audio[k:k + step])
      times.append(time.perf_counter() - t0)
    audio_s += len(audio) / 16000
  clock.__exit__()
  return _stats(times, audio_s, clock.cpu)


def run_pocketsphinx(reqs, step: int) -> tuple[dict, list[str]]:
  import pocketsphinx  # pylint: disable=g-import-not-at-top
  dec = pocketsphinx.Decoder(loglevel="FATAL")  # bundled en-us model, 16 kHz
  times, texts, audio_s = [], [], 0.0
  clock = _Clock().__enter__()
  for _, audio in reqs:
    pcm = np.asarray(audio, np.int16)
    t0 = time.perf_counter()
    dec.start_utt()
    chunk_t = [time.perf_counter() - t0]
    for k in range(0, len(pcm), step):
      t0 = time.perf_counter()
      dec.process_raw(pcm[k:k + step].tobytes(), False, False)
      chunk_t.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    dec.end_utt()
    hyp = dec.hyp()
    chunk_t[-1] += time.perf_counter() - t0 + chunk_t.pop(0)
    times += chunk_t
    texts.append(hyp.hypstr.lower() if hyp is not None else "")
    audio_s += len(pcm) / 16000
  clock.__exit__()
  import importlib.metadata  # pylint: disable=g-import-not-at-top
  out = _stats(times, audio_s, clock.cpu)
  out["version"] = importlib.metadata.version("pocketsphinx")
  return out, texts


def _wer(refs, hyps, contexts):
  from asr.evaluation import wer  # pylint: disable=g-import-not-at-top
  return wer.aggregate(wer.score_utterance(r, h, c) for r, h, c in zip(refs, hyps, contexts))["wer"]


def cmvn_cost(rec, data_dir: str) -> dict:
  """Offline WER with whole-utterance vs causal CMVN (beam search)."""
  from asr.evaluation import evaluate  # pylint: disable=g-import-not-at-top
  from asr.training import state as state_lib  # pylint: disable=g-import-not-at-top
  out = {}
  for split in FLAGS.cmvn_splits:
    row = {}
    for mode in ("utterance", "causal"):
      cfg = rec.config.copy_and_resolve_references()
      cfg.data.cmvn = mode
      cfg.data.data_dir = data_dir
      utts = evaluate.load_utterances(cfg, state_lib.split_spec(cfg, split), rec.tokenizer)
      res = evaluate.evaluate_utterances(rec.model, rec.params, rec.norm, utts, rec.tokenizer,
                                         beam=FLAGS.beam)
      row[mode] = {"wer": res["metrics"]["wer"], "u_wer": res["metrics"]["u_wer"],
                   "b_wer": res["metrics"]["b_wer"], "num_utterances": len(utts)}
      print(split, mode, row[mode], flush=True)
    row["wer_delta_abs"] = row["causal"]["wer"] - row["utterance"]["wer"]
    out[split] = row
  return out


def main(argv):
  del argv
  pin_one_core(FLAGS.core)
  from asr import endpointing, inference  # pylint: disable=g-import-not-at-top
  from asr.data import pipeline, sources  # pylint: disable=g-import-not-at-top
  from asr.evaluation import evaluate  # pylint: disable=g-import-not-at-top
  from asr.models import encoder as encoder_lib  # pylint: disable=g-import-not-at-top
  from asr.training import state as state_lib  # pylint: disable=g-import-not-at-top
  from benchmarks import common  # pylint: disable=g-import-not-at-top
  rec = inference.Recognizer.from_workdir(FLAGS.workdir)
  data_dir = FLAGS.data_dir or rec.config.data.data_dir
  src = sources.open_source(state_lib.split_spec(rec.config, FLAGS.split), data_dir)
  exs = [src[i] for i in range(min(FLAGS.limit, len(src)))]
  reqs = []
  for e in exs:
    w = int((e.get("wake_end") or 0.0) * 16000)
    reqs.append((e["audio"][:w], pipeline.crop_request(e, None)))
  refs = [e["text"] for e in exs]
  ctxs = [e.get("context", []) for e in exs]
  step = int(FLAGS.chunk_ms * 16)
  ours, texts = run_ours(rec, reqs, step)
  ours["wer"] = _wer(refs, texts, ctxs)
  # The same requests decoded offline with the same causal CMVN.
  prep = pipeline._prepare_fn(  # pylint: disable=protected-access
      rec.tokenizer, None, rec.config.data.num_mel_bins,
      encoder_lib.min_feature_frames(rec.config.model.encoder.subsample_factor),
      "causal" if rec.config.data.get("cmvn", "global") == "utterance" else "global")
  off = evaluate.decode_utterances(rec.model, rec.params, rec.norm, [prep(e) for e in exs],
                                   rec.tokenizer, beam=FLAGS.beam)
  ours["same_as_offline_rate"] = float(np.mean([o["text"] == t for o, t in zip(off, texts)]))
  print("ours", ours, flush=True)
  metrics = {"ours": ours}
  if os.path.exists(os.path.join(FLAGS.endpointer_dir, "endpointer.json")):
    metrics["eoq"] = run_eoq(endpointing.Eoq.load(FLAGS.endpointer_dir), reqs, step)
    print("eoq", metrics["eoq"], flush=True)
  if FLAGS.pocketsphinx:
    ps, ps_texts = run_pocketsphinx(reqs, step)
    ps["wer"] = _wer(refs, ps_texts, ctxs)
    metrics["pocketsphinx"] = ps
    print("pocketsphinx", ps, flush=True)
  if rec.config.data.get("cmvn", "global") == "utterance" and FLAGS.cmvn_splits:
    metrics["cmvn"] = cmvn_cost(rec, data_dir)
  path = common.write_result("streaming_speed", metrics, {
      "workdir": FLAGS.workdir, "split": FLAGS.split, "limit": FLAGS.limit, "beam": FLAGS.beam,
      "chunk_ms": FLAGS.chunk_ms, "core": FLAGS.core, "xla_flags": os.environ.get("XLA_FLAGS"),
      "affinity": sorted(os.sched_getaffinity(0)), "step": rec.step,
      "cmvn_block": __import__("asr.data.cmvn", fromlist=["x"]).DEFAULT_BLOCK,
      "num_params": int(sum(np.prod(p.shape) for p in
                            __import__("jax").tree_util.tree_leaves(rec.params)))})
  print(path)


if __name__ == "__main__":
  app.run(main)
