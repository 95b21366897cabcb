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
  assert biasing_flags.kwargs(values) == {k: i for i, k in enumerate(biasing_flags.NAMES)}
