"""benchmarks.emission_delay's arithmetic and greedy token times."""

import numpy as np
import pytest

from asr.decoding import greedy
from benchmarks import emission_delay


def test_arrival_is_end_of_chunk():
  # 80 ms frames, 4-frame chunks: frames 0-3 arrive at 320 ms, frame 4 at 640 ms.
  assert emission_delay.arrival_seconds(0, 4, 0.08) == pytest.approx(0.32)
  assert emission_delay.arrival_seconds(3, 4, 0.08) == pytest.approx(0.32)
  assert emission_delay.arrival_seconds(4, 4, 0.08) == pytest.approx(0.64)
  assert emission_delay.arrival_seconds(4, 0, 0.08) == pytest.approx(0.40)  # no chunks


def test_delays_summary():
  times = [[1, 5], [2], [], [9, 11]]
  bounds = [(0.0, 0.5), (0.1, 0.2), (0.0, 1.0), (0.2, 0.9)]
  d = emission_delay.delays(times, bounds, 4, 0.08)
  # last arrivals: 0.64, 0.32, 0.96 -> minus ends 0.5, 0.2, 0.9 -> 140, 120, 60 ms.
  assert d["num_timed"] == 3
  assert d["last_delay_ms_median"] == pytest.approx(120.0)
  # first arrivals: 0.32, 0.32, 0.96 -> minus starts 0, 0.1, 0.2 -> 320, 220, 760 ms.
  assert d["first_delay_ms_median"] == pytest.approx(320.0)
  assert d["complete_by"]["0"] == 0.0
  assert d["complete_by"]["100"] == pytest.approx(1 / 3)
  assert d["complete_by"]["200"] == 1.0


def test_compact_times_matches_compact():
  raw = np.array([[-1, -1, -1, 7, 8, -1, -1, -1, -1, 3, -1, -1],
                  [-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1]])
  assert greedy.compact(raw) == [[7, 8, 3], []]
  assert greedy.compact_times(raw, 3) == [[1, 1, 3], []]
