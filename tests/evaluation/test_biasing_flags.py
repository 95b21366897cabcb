"""The shared biasing flags map onto evaluate_utterances' keyword arguments."""

import inspect
import types

from asr.evaluation import biasing_flags
from asr.evaluation import evaluate


def test_flag_names_are_evaluate_utterances_arguments():
  params = inspect.signature(evaluate.evaluate_utterances).parameters
  assert set(biasing_flags.NAMES) <= set(params)
  values = types.SimpleNamespace(**{k: i for i, k in enumerate(biasing_flags.NAMES)},
                                 other=99)
  want = {k: i for i, k in enumerate(biasing_flags.NAMES)}
  assert biasing_flags.kwargs(values) == {**want, "kws_cohort": None}
  assert biasing_flags.kwargs(values, "c") == {**want, "kws_cohort": "c"}
  assert "kws_cohort" in params
  # --kws_cohort=0 builds nothing (no model needed).
  assert biasing_flags.cohort(types.SimpleNamespace(kws_cohort=0), None, None, None, None,
                              None) is None
