"""Branching small with a feature router that hears level and the past.

  python -m launch.train --config=experiments/small.py --workdir=workdirs/small
  python -m launch.train --config=experiments/small_ft.py --workdir=workdirs/small_ft
  python -m launch.train --config=experiments/branching_small_frv.py \\
      --workdir=workdirs/branching_small_frv
  python -m benchmarks.branching --workdirs=workdirs/branching_small_frv \\
      --reference=workdirs/small_ft --thresholds=0,0.1,0.2,0.3,0.5

``branching_small_frc`` with every parameter trained (its best run,
``branching_small_frc_ft``) plus two changes to what the router reads:

* **Level** (``branching.router_level``): the feature projection's
  LayerNorm removes each frame's overall level, so the router saw spectral
  shape only. On test it kept 1.7 % of the non-speech chunks of noise-free
  requests expensive but 67 % of those with babble noise (speech-like, 8-30 dB
  below the request), 38 % with pink noise and 20 % with white noise: the
  errors are whole utterances, not positions around the speech.
* **History** (``branching.router_context = 12``): the router also reads the
  mean projection of the 12 encoder frames (0.96 s) before the chunk, so that
  it can compare the chunk with the noise before it.

Everything else as ``branching_small_frc`` with ``train.trainable = ""``:
warm start from ``small_ft``, carry, speech target weight 10, distillation 1,
lambda 3 on the budget 0.58, whole streams, 1,500 steps.

Measured (2026-12-05, 2 CPU cores, 12.3 min; test, beam 4; BUILD.md "Branching
encoder and stream context"): at threshold 0.1 the router keeps 17.5 % of the
non-speech chunks expensive (``branching_small_frc_ft``: 35 %) at 92 % of the
speech chunks. Against the fair anchor ``small_ft2`` (39.9 %; this run starts
from ``small_ft`` and fine-tunes 1,500 more steps): every chunk expensive
+2.7 %, 27 % saving at +2.8 %, 34 % at +6.0 %, 40 % at +12.7 %. The target
(>= 40 % at <= 3 %) is not met.
"""

from experiments import branching_small_frc


def get_config():
  c = branching_small_frc.get_config()
  br = c.model.encoder.branching
  br.router_level = True  # the projection keeps each frame's level
  br.router_context = 12  # the router also reads the 0.96 s before the chunk
  c.train.trainable = ""  # every parameter (frozen blocks lost more: branching_small_frc)
  return c
