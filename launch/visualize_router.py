r"""Plots a branching encoder's routing decisions along one recording.

  python -m launch.visualize_router --workdir=DIR --audio=a.wav --output=routes.png \
      [--wake_end=0.9] [--beam=4]

Waveform with each chunk shaded by the branch that computed it, the router's
p(expensive) per chunk, and the transcript placed at emission frames. With
``--wake_end`` the audio before it is the wake-word segment: it is skipped, or
encoded as stream context by models trained with ``data.stream_context``.
Prints the text and the fraction of expensive chunks as JSON.
"""

import json

from absl import app
from absl import flags

flags.DEFINE_string("workdir", None, "Training workdir of a branching model.")
flags.DEFINE_string("audio", None, "WAV file.")
flags.DEFINE_string("output", "router.png", "PNG to write.")
flags.DEFINE_float("wake_end", None, "Seconds where the request starts (after the wake word).")
flags.DEFINE_integer("beam", 4, "Beam size.")
flags.mark_flags_as_required(["workdir", "audio"])
FLAGS = flags.FLAGS


def main(argv):
  del argv
  import numpy as np  # pylint: disable=g-import-not-at-top
  from asr import inference  # pylint: disable=g-import-not-at-top
  from asr.data import manifest  # pylint: disable=g-import-not-at-top
  from asr.visualization import router  # pylint: disable=g-import-not-at-top
  rec = inference.Recognizer.from_workdir(FLAGS.workdir)
  audio = manifest.load_audio(FLAGS.audio, where=FLAGS.audio)
  routes = router.compute_routes(rec, audio, FLAGS.wake_end, FLAGS.beam)
  router.plot_routes(routes, FLAGS.output, title=FLAGS.audio)
  req = routes["expensive"][routes["context_chunks"]:]
  print(json.dumps({"output": FLAGS.output, "text": routes["text"],
                    "frac_expensive": float(np.mean(req)) if len(req) else None,
                    "chunks": int(len(req))}))


if __name__ == "__main__":
  app.run(main)
