"""``small_ft`` with 160 ms streaming chunks, on whole streams: the anchor of
``branching_small_frvp_c2``.

  python -m launch.train --config=experiments/small_ft_c2.py \\
      --workdir=workdirs/small_ft_c2

The quickstart's ``small`` (320 ms chunks: ``model.encoder.chunk_size = 4``
encoder frames of 80 ms) fine-tuned 1,500 steps with the shared recipe
(``small_ft.fine_tune``) at ``chunk_size = 2`` and with every training
request kept whole (``data.train_trailing_s = 5``), exactly as
``branching_small_frvp_c2`` is trained, so that the two differ only in the
routed encoder. A 160 ms chunk sees less of its own future (one encoder
frame instead of up to three) and has half the latency.

Measured (2026-12-05, 2 CPU cores, 11.3 min): greedy validation WER 42.3 %
(``small_ft_ws``, the same at 320 ms: 39.0 %); test, beam 4: 42.0 % against
39.8 % at 320 ms: the shorter chunk costs the plain model 5.5 % relative.
"""

from experiments import small_ft_ws


def get_config():
  c = small_ft_ws.get_config()  # small_ft on whole streams
  c.model.encoder.chunk_size = 2  # 2 x 80 ms = 160 ms streaming chunks
  return c
