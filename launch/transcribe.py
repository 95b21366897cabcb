r"""Transcribes WAV files with a trained workdir, one JSON line per file.

  python -m launch.transcribe --workdir=DIR [--context_file=F] [--beam=K] a.wav b.wav

Each line: {"audio": path, "text": best hypothesis, "nbest": [{"text", "score"}]}.
``--context_file`` holds the user's phrases (one a line, optional ``:score``):
shallow fusion, plus attention biasing when the model was trained with it.
Pointer models with a long list: ``--pointer_preselect=K`` keeps the K phrases
that CTC keyword spotting finds best in the audio (``--preselect_min_score``,
``--pointer_window``, ``--attention_list``; ``--pointer_verify`` decodes one
tree per kept phrase and keeps the most probable; ``--kws_cohort=N`` calibrates
the keyword scores against N training utterances of the run's corpus;
BUILD.md, "Context biasing").
"""

import json

from absl import app
from absl import flags

from asr.evaluation import biasing_flags

flags.DEFINE_string("workdir", None, "Training workdir.")
flags.DEFINE_string("context_file", None, "Biasing phrases, one a line, optional ':score'.")
flags.DEFINE_integer("beam", None, "Beam size (default: the config's eval.beam, whose tuned "
                     "search settings, CTC rescoring included, the decode uses).")
flags.DEFINE_integer("nbest", 4, "Hypotheses to print per file.")
flags.DEFINE_float("context_score", 2.0, "Default shallow-fusion bonus per matched token.")
flags.DEFINE_enum("biasing", "both", ["none", "shallow", "attention", "both"],
                  "How the context list is used (attention needs a CATT model; "
                  "both = shallow fusion plus attention where the model has it).")
flags.DEFINE_float("start", 0.0, "Seconds to skip at the start (e.g. the wake word).")
flags.DEFINE_integer("pointer_preselect", 0, "Pointer models: > 0 keeps this many phrases in the "
                     "pointer's tree, ranked by CTC keyword spotting on the audio.")
flags.DEFINE_float("preselect_min_score", None, "With --pointer_preselect: leave out phrases "
                   "whose per-wordpiece keyword score is below this.")
flags.DEFINE_integer("pointer_window", None, "With --pointer_preselect: the pointer acts only "
                     "within this many encoder frames of a kept phrase's keyword segment.")
flags.DEFINE_enum("attention_list", "all", ["all", "preselected", "empty"],
                  "With --pointer_preselect: what the attention biasing sees.")
flags.DEFINE_integer("pointer_verify", 0, "With --pointer_preselect: list verification over "
                     "the empty tree and each of the M best phrases alone (the most probable "
                     "hypothesis is kept; BUILD.md, 'List verification').")
flags.DEFINE_integer("verify_joint", 0, "--pointer_verify: also the J (> 1) best phrases together.")
flags.DEFINE_float("verify_margin", 0.0, "--pointer_verify: nats a phrase must gain over the "
                   "empty tree.")
biasing_flags.define_cohort()  # --kws_cohort (needs the run's corpus), _weight, _power
flags.mark_flags_as_required(["workdir"])
FLAGS = flags.FLAGS


def main(argv):
  files = argv[1:]
  if not files:
    raise app.UsageError("give one or more audio files")
  from asr import inference  # pylint: disable=g-import-not-at-top
  rec = inference.Recognizer.from_workdir(FLAGS.workdir)
  phrases = []
  if FLAGS.context_file:
    from asr.biasing import context_graph  # pylint: disable=g-import-not-at-top
    phrases = context_graph.parse_context_file(FLAGS.context_file)
  for path in files:
    beam = rec.config.eval.beam if FLAGS.beam is None else FLAGS.beam
    out = rec.transcribe_file(path, phrases, beam=beam, nbest=FLAGS.nbest,
                              context_score=FLAGS.context_score, start_s=FLAGS.start,
                              shallow=FLAGS.biasing in ("shallow", "both"),
                              attention=FLAGS.biasing in ("attention", "both"),
                              pointer_preselect=FLAGS.pointer_preselect,
                              preselect_min_score=FLAGS.preselect_min_score,
                              pointer_window=FLAGS.pointer_window,
                              attention_list=FLAGS.attention_list,
                              pointer_verify=FLAGS.pointer_verify,
                              verify_joint=FLAGS.verify_joint,
                              verify_margin=FLAGS.verify_margin,
                              kws_cohort=FLAGS.kws_cohort,
                              kws_cohort_weight=FLAGS.kws_cohort_weight,
                              kws_cohort_power=FLAGS.kws_cohort_power)
    print(json.dumps(out, ensure_ascii=False), flush=True)


if __name__ == "__main__":
  app.run(main)
