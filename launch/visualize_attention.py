r"""Draws the biasing attention map of a CATT model for one recording.

  python -m launch.visualize_attention --workdir=DIR --audio=a.wav --context_file=F \
      --output=map.png [--start=0.8]

Heat maps of attention weight (mean over heads) over time (audio-frame
queries; decoded wordpieces placed at their emission frames) and over labels
(prediction-network queries) against the context phrases, no-bias entry
included. Also prints the hypothesis and the most attended phrase.
"""

import json

from absl import app
from absl import flags

flags.DEFINE_string("workdir", None, "Training workdir of a model with attention biasing.")
flags.DEFINE_string("audio", None, "WAV file.")
flags.DEFINE_string("context_file", None, "Phrases, one a line (optional ':score' ignored here).")
flags.DEFINE_string("output", "attention_map.png", "PNG to write.")
flags.DEFINE_float("start", 0.0, "Seconds to skip (e.g. the wake word).")
flags.DEFINE_integer("beam", 4, "Beam size.")
flags.mark_flags_as_required(["workdir", "audio", "context_file"])
FLAGS = flags.FLAGS


def main(argv):
  del argv
  import numpy as np  # pylint: disable=g-import-not-at-top
  from asr import inference  # pylint: disable=g-import-not-at-top
  from asr.biasing import context_graph  # pylint: disable=g-import-not-at-top
  from asr.data import manifest  # pylint: disable=g-import-not-at-top
  from asr.visualization import attention  # pylint: disable=g-import-not-at-top
  rec = inference.Recognizer.from_workdir(FLAGS.workdir)
  phrases = [p for p, _ in context_graph.parse_context_file(FLAGS.context_file)]
  audio = manifest.load_audio(FLAGS.audio, where=FLAGS.audio)[int(FLAGS.start * 16000):]
  maps = attention.compute_maps(rec, audio, phrases, FLAGS.beam)
  attention.plot_maps(maps, FLAGS.output, title=FLAGS.audio)
  top = None
  if maps["audio"] is not None:
    top = maps["names"][int(np.argmax(maps["audio"][:, 1:].max(0))) + 1] if len(phrases) else None
  print(json.dumps({"output": FLAGS.output, "text": maps["text"], "most_attended": top}))


if __name__ == "__main__":
  app.run(main)
