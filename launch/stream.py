r"""Simulates the device: streams WAV files through the recognizer and the
end-pointers and prints the events as JSON lines.

  python -m launch.stream --workdir=DIR --context_file=F a.wav [b.wav ...]
      [--realtime] [--chunk_ms=40] [--beam=4] [--endpointer=auto|learned|rule]
      [--endpointer_dir=workdirs/endpointer] [--prefix_s=0.7] [--concurrent]

Events (see :mod:`asr.session`): ``partial``, ``speculative_endpoint`` (lattice,
``start_downstream``), ``final_endpoint`` (``confirm``, or a revised lattice
with ``reset_downstream``); each with ``audio``, ``stream``, ``t`` (request
audio seconds) and ``wall_s``. ``--prefix_s`` seconds at the start of each
file are the wake word: they seed the feature normalization and are not
recognized. Files run one after the other at batch 1, or as concurrent streams
batched together with ``--concurrent``.
"""

import json
import os

from absl import app
from absl import flags

flags.DEFINE_string("workdir", None, "Training workdir of the recognizer.")
flags.DEFINE_string("context_file", None, "Biasing phrases, one a line, optional ':score'.")
flags.DEFINE_integer("beam", 4, "Beam size.")
flags.DEFINE_integer("nbest", 4, "Hypotheses in each lattice.")
flags.DEFINE_float("chunk_ms", 40.0, "Audio per device buffer (any size).")
flags.DEFINE_bool("realtime", False, "Feed audio at real-time pace (else as fast as possible).")
flags.DEFINE_enum("endpointer", "auto", ["auto", "learned", "rule"],
                  "auto: learned if --endpointer_dir holds a trained model, else rule.")
flags.DEFINE_string("endpointer_dir", "workdirs/endpointer", "Trained end-of-query model.")
flags.DEFINE_float("prefix_s", 0.0, "Leading seconds of each file that are the wake word.")
flags.DEFINE_float("max_utterance_s", 20.0, "Forced final end-point (seconds).")
flags.DEFINE_float("context_score", 2.0, "Shallow-fusion bonus per matched token.")
flags.DEFINE_bool("concurrent", False, "All files as concurrent streams of one batch.")
flags.DEFINE_bool("partials", True, "Print partial events.")
flags.mark_flags_as_required(["workdir"])
FLAGS = flags.FLAGS


def main(argv):
  files = argv[1:]
  if not files:
    raise app.UsageError("give one or more audio files")
  from asr import endpointing, inference, session  # pylint: disable=g-import-not-at-top
  from asr.data import manifest  # pylint: disable=g-import-not-at-top
  rec = inference.Recognizer.from_workdir(FLAGS.workdir)
  phrases = []
  if FLAGS.context_file:
    from asr.biasing import context_graph  # pylint: disable=g-import-not-at-top
    phrases = [p for p, _ in context_graph.parse_context_file(FLAGS.context_file)]
  kind, eoq = FLAGS.endpointer, None
  have = os.path.exists(os.path.join(FLAGS.endpointer_dir, "endpointer.json"))
  if kind == "auto":
    kind = "learned" if have else "rule"
  if kind == "learned":
    eoq = endpointing.Eoq.load(FLAGS.endpointer_dir)
  cut = int(FLAGS.prefix_s * endpointing.SR)
  audios = [manifest.load_audio(f, where=f) for f in files]
  groups = [list(range(len(files)))] if FLAGS.concurrent else [[i] for i in range(len(files))]
  import numpy as np  # pylint: disable=g-import-not-at-top
  for g in groups:
    make = lambda g=g: session.StreamSession(
        rec, kind, eoq, num_streams=len(g), beam=FLAGS.beam,
        phrases=[phrases] * len(g) if phrases else None, nbest=FLAGS.nbest,
        max_utterance_s=FLAGS.max_utterance_s, context_score=FLAGS.context_score)
    if FLAGS.realtime:  # compile before the clock starts, as a device would
      session.simulate(make(), [np.zeros(24000, np.int16)] * len(g), FLAGS.chunk_ms)
    sess = make()

    def emit(e, g=g):
      if e["event"] == "partial" and not FLAGS.partials:
        return
      print(json.dumps({"audio": files[g[e["stream"]]], "endpointer": kind, **e},
                       ensure_ascii=False), flush=True)

    session.simulate(sess, [audios[i][cut:] for i in g], FLAGS.chunk_ms, FLAGS.realtime,
                     [audios[i][:cut] for i in g], emit)


if __name__ == "__main__":
  app.run(main)
