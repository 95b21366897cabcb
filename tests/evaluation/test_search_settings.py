"""Which beam-search settings a decode takes from a run's config."""

import ml_collections

from asr.evaluation import evaluate


def _config(**ev):
  c = ml_collections.ConfigDict()
  c.eval = ml_collections.ConfigDict(ev)
  return c


def test_beam_search_takes_the_configs_tuned_settings():
  c = _config(ilm_weight=0.1, label_bonus=0.5, max_symbols=2, ctc_rescore_weight=0.3,
              ctc_rescore_bonus=1.0)
  want = {"ilm_weight": 0.1, "label_bonus": 0.5, "max_symbols": 2, "ctc_rescore_weight": 0.3,
          "ctc_rescore_bonus": 1.0}
  assert evaluate.search_settings(c) == want
  assert evaluate.search_settings(c, beam=4) == want


def test_greedy_takes_none_of_them():
  c = _config(ilm_weight=0.1, label_bonus=0.5, max_symbols=2, ctc_rescore_weight=0.3)
  for beam in (0, 1):
    assert evaluate.search_settings(c, beam) == {"ilm_weight": 0.0, "label_bonus": 0.0,
                                                 "max_symbols": 0, "ctc_rescore_weight": 0.0,
                                                 "ctc_rescore_bonus": 0.0}


def test_absent_settings_are_the_plain_search():
  assert evaluate.search_settings(_config()) == evaluate.PLAIN_SEARCH
