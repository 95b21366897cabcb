"""Biasing-list decoding flags shared by ``launch.evaluate`` and ``benchmarks.biasing``.

Each launcher calls :func:`define` once at import and passes
``**kwargs(FLAGS, cohort(FLAGS, ...))`` to
:func:`asr.evaluation.evaluate.evaluate_utterances`.
"""

from absl import flags

from asr.biasing import kws

NAMES = ("pointer_root_scale", "pointer_preselect", "pointer_rank", "preselect_min_score",
         "attention_list", "pointer_window", "shallow_preselect", "pointer_verify", "verify_joint",
         "verify_margin")


def define():
  """Defines the flags named in NAMES."""
  flags.DEFINE_float("pointer_root_scale", 1.0, "Pointer models: factor in [0, 1] on the "
                     "generation probability where a name would start "
                     "(asr.decoding.beam.BeamSearch).")
  flags.DEFINE_integer("pointer_preselect", 0, "Pointer models: > 0 keeps the K best-ranked "
                       "phrases of each list in the pointer's tree (--pointer_rank).")
  flags.DEFINE_enum("pointer_rank", "phonetic", ["ctc", "phonetic", "spelling"],
                    "Preselection ranking (--pointer_preselect, --shallow_preselect): ctc (CTC "
                    "keyword spotting on the audio, asr.biasing.kws; no first decode), phonetic "
                    "(by sound, against a first pass's N-best) or spelling (by spelling, "
                    "against its 1-best).")
  flags.DEFINE_float("preselect_min_score", None, "--pointer_rank=ctc: leave out phrases whose "
                     "per-wordpiece keyword score (<= 0) is below this, even among the K best.")
  flags.DEFINE_enum("attention_list", "all", ["all", "preselected", "empty"],
                    "What the attention biasing sees (attention/both): the whole list, the "
                    "pointer's preselected phrases, or nothing (the pointer alone biases).")
  flags.DEFINE_integer("pointer_window", None, "--pointer_rank=ctc: the pointer acts only "
                       "within this many encoder frames of a preselected phrase's keyword "
                       "segment (default: everywhere); in the both mode shallow fusion likewise "
                       "begins phrases only there.")
  flags.DEFINE_integer("shallow_preselect", 0, "> 0: the shallow-fusion graph (shallow/both) "
                       "holds only the K best phrases of each list by --pointer_rank.")

  flags.DEFINE_integer("pointer_verify", 0, "With --pointer_preselect: list verification over "
                       "the empty pointer tree and each of the M best-ranked phrases alone; keeps "
                       "the most probable hypothesis (asr.evaluation.evaluate.verify_decode).")
  flags.DEFINE_integer("verify_joint", 0, "--pointer_verify: also try the J (> 1) best phrases "
                       "together as one tree.")
  flags.DEFINE_float("verify_margin", 0.0, "--pointer_verify: a non-empty tree must beat the "
                     "empty tree's log-probability by more than this many nats.")
  define_cohort()


def define_cohort():
  """Defines --kws_cohort, --kws_cohort_weight, --kws_cohort_power (also used
  alone by ``launch.transcribe``)."""
  flags.DEFINE_integer("kws_cohort", 0, "CTC keyword-spotting preselection: > 0 calibrates each "
                       "phrase's keyword score against its mean over this many training "
                       "utterances (asr.biasing.kws.Cohort; 0: raw per-wordpiece scores).")
  flags.DEFINE_float("kws_cohort_weight", kws.COHORT_WEIGHT, "--kws_cohort: share of the cohort "
                     "mean subtracted.")
  flags.DEFINE_float("kws_cohort_power", kws.COHORT_POWER, "--kws_cohort: scores are divided by "
                     "wordpieces ** this before calibration.")


def cohort(values, config, model, params, norm, tokenizer):
  """The --kws_cohort Cohort of a restored model (None when the flag is 0)."""
  if not values.kws_cohort:
    return None
  from asr.evaluation import evaluate  # pylint: disable=g-import-not-at-top
  return evaluate.keyword_cohort(config, model, params, norm, tokenizer, values.kws_cohort,
                                 values.kws_cohort_weight, values.kws_cohort_power)


def kwargs(values, kws_cohort=None) -> dict:
  """The flags' values (and a :func:`cohort`) as keyword arguments of
  evaluate_utterances."""
  return {**{k: getattr(values, k) for k in NAMES}, "kws_cohort": kws_cohort}
