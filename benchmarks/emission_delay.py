r"""Emission delay of streaming transducers: when do the words come out?

  python -m benchmarks.emission_delay --workdirs=workdirs/small_ft,workdirs/small_ft_fastemit \
      [--split=test] [--beam=0] [--limit=N]

For every utterance the request stream (everything after the wake word, as
in evaluation) is decoded (greedy by default; ``--beam`` > 1: modified beam
search, best hypothesis). A token emitted at encoder frame ``t`` reaches the
device at the end of its streaming chunk, ``(t // C + 1) * C`` frames
(``C`` = ``model.encoder.chunk_size``; every frame when 0). Reported per
model, from the corpus's speech boundaries:

* ``last_delay_ms``: median / P90 of (last token's arrival - end of speech),
  what an end-pointer waiting for the transcript to settle pays;
* ``first_delay_ms``: median / P90 of (first token's arrival - start of speech);
* ``complete_by``: share of utterances whose every token has arrived by the
  end of speech + 0 / 100 / 200 / 300 ms (a speculative end-point there
  sends the final words);
* WER, U-WER, B-WER of the same decode.

This is what FastEmit (``train.fastemit_lambda``) targets. Utterances with no
token count in WER but not in the delays. Writes one JSON to
``results/emission_delay/``.
"""

from absl import app
from absl import flags

flags.DEFINE_list("workdirs", None, "Trained transducer workdirs to compare.")
flags.DEFINE_string("split", "test", "Corpus split.")
flags.DEFINE_integer("beam", 0, "0/1 = greedy; > 1 = modified beam search.")
flags.DEFINE_integer("limit", None, "Utterances (default: all).")
flags.DEFINE_string("data_dir", None, "Override the runs' data_dir.")
flags.mark_flags_as_required(["workdirs"])
FLAGS = flags.FLAGS

COMPLETE_BY_MS = (0, 100, 200, 300)


def arrival_seconds(frame: int, chunk_size: int, frame_seconds: float) -> float:
  """Stream time (s from the request start) at which encoder frame ``frame``'s
  output exists: the end of its chunk (of the frame itself without chunks)."""
  c = max(chunk_size, 1)
  return (frame // c + 1) * c * frame_seconds


def delays(times: list[list[int]], bounds: list[tuple[float, float]], chunk_size: int,
           frame_seconds: float) -> dict:
  """Per-utterance emission delays summarized (see module docstring).

  Args:
    times: encoder frame of each emitted token, per utterance.
    bounds: (speech_start, speech_end) per utterance, seconds from the
      request start.
  """
  import numpy as np  # pylint: disable=g-import-not-at-top
  last, first = [], []
  for ts, (s0, s1) in zip(times, bounds):
    if not ts:
      continue
    last.append(arrival_seconds(max(ts), chunk_size, frame_seconds) - s1)
    first.append(arrival_seconds(min(ts), chunk_size, frame_seconds) - s0)
  last, first = np.array(last) * 1000, np.array(first) * 1000
  q = lambda x, p: float(np.percentile(x, p)) if len(x) else None
  return {
      "last_delay_ms_median": q(last, 50), "last_delay_ms_p90": q(last, 90),
      "first_delay_ms_median": q(first, 50), "first_delay_ms_p90": q(first, 90),
      "complete_by": {str(ms): float(np.mean(last <= ms)) if len(last) else None
                      for ms in COMPLETE_BY_MS},
      "num_timed": int(len(last)),
  }


def main(argv):
  del argv
  from asr.data import features as features_lib  # pylint: disable=g-import-not-at-top
  from asr.evaluation import evaluate  # pylint: disable=g-import-not-at-top
  from asr.evaluation import wer as wer_lib  # pylint: disable=g-import-not-at-top
  from benchmarks import common  # pylint: disable=g-import-not-at-top
  rows = []
  for workdir in FLAGS.workdirs:
    rec = common.load_recognizer(workdir, FLAGS.data_dir)
    config = rec.config
    spec, utts, src = common.load_split(rec, FLAGS.split, FLAGS.limit)
    bounds = []
    for i, u in enumerate(utts):
      ex = src[i]
      if ex["id"] != u.id:
        raise ValueError(f"{spec}: example {i} is {ex['id']!r}, expected {u.id!r}")
      if ex.get("speech_end") is None or ex.get("speech_start") is None:
        raise ValueError(f"{spec}: {u.id} has no speech_start/speech_end")
      w = ex.get("wake_end") or 0.0
      bounds.append((ex["speech_start"] - w, ex["speech_end"] - w))
    hyps = evaluate.decode_utterances(rec.model, rec.params, rec.norm, utts, rec.tokenizer,
                                      beam=FLAGS.beam, batch_frames=config.eval.batch_frames,
                                      max_symbols=0 if FLAGS.beam > 1 else 3)
    scores = [wer_lib.score_utterance(u.text, h["text"], u.context) for u, h in zip(utts, hyps)]
    m = wer_lib.aggregate(scores)
    e = config.model.encoder
    frame_s = e.subsample_factor * features_lib.HOP / features_lib.SAMPLE_RATE
    row = {"workdir": workdir, "step": rec.step, "split": FLAGS.split,
           "fastemit_lambda": float(config.train.get("fastemit_lambda", 0.0)),
           "chunk_ms": round(max(e.chunk_size, 1) * frame_s * 1000),
           "wer": m["wer"], "u_wer": m["u_wer"], "b_wer": m["b_wer"],
           "num_utterances": m["num_utterances"],
           **delays([h["times"] for h in hyps], bounds, e.chunk_size, frame_s)}
    print(row, flush=True)
    rows.append(row)
  path = common.write_result("emission_delay", {"rows": rows}, {
      "workdirs": FLAGS.workdirs, "split": FLAGS.split, "beam": FLAGS.beam, "limit": FLAGS.limit})
  print(path)


if __name__ == "__main__":
  app.run(main)
