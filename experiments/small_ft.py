"""Small fine-tuned: the fair baseline for the warm-started small variants.

  python -m launch.train --config=experiments/small.py --workdir=workdirs/small
  python -m launch.train --config=experiments/small_ft.py --workdir=workdirs/small_ft

``context_small`` and ``branching_small`` warm-start from ``workdirs/small``
and fine-tune for ``train.num_steps`` more steps; comparing them with
``small`` itself would credit their method with the extra training. This is
``small`` fine-tuned with the same recipe (steps, learning rate, warm-up) and
nothing else changed: the WER anchor of ``benchmarks.stream_context`` and
``benchmarks.branching --reference``.

Measured (2026-11-26, 2 CPU cores): 1,500 steps in 12.1 min at 43.1
utterances/s from the fused-loss ``small`` checkpoint (step 3,850, now
``workdirs/small_fused``; ``small`` itself has since moved to the pruned loss,
see its docstring: every warm-started variant below was measured from that
checkpoint, and keeps the fused loss it was measured with); greedy validation WER
49.6 % (200 utterances). Test (600 utterances): greedy WER 49.8 % (U-WER
39.5 %, B-WER 88.9 %), beam 4 54.3 % (``benchmarks.decoding``; greedy wins on
clean speech, BUILD.md "Model, loss, decoding"). From the quickstart's
pruned-loss ``small`` (step 5,341; 2026-11-27, ``workdirs/small_ft_p5341``,
the anchor of ``branching_small_cc``): 11.8 min, greedy validation 40.9 %
(U-WER 29.0 %), test beam 4 43.1 %.
"""

from experiments import small


# Shared by every warm-started small variant (context_small, branching_small).
FINE_TUNE_STEPS = 1500


def fine_tune(c):
  """Applies the shared fine-tuning recipe to a small-derived config.

  The start is whatever ``workdirs/small`` holds: the ``small_ft`` /
  ``branching_small`` / ``context_small`` figures of 2026-11-26 came from
  the fused-loss checkpoint (step 3,850), the ``*_talker`` figures of
  2026-11-27 from the quickstart's pruned-loss one (step 5,341); compare
  runs only from the same start."""
  small.fused_loss(c)  # as measured (see small.fused_loss)
  c.train.ema_decay = 0.0  # as measured: small's averaging came later (2026-11-28)
  c.train.init_from = "workdirs/small"
  c.train.learning_rate = 1e-3  # half of small's peak
  c.train.warmup_steps = 100
  c.train.num_steps = FINE_TUNE_STEPS
  c.train.max_minutes = 30.0  # safety cap; 1,500 steps take ~12-20 min on 2 cores
  return c


def get_config():
  return fine_tune(small.get_config())
