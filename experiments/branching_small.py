"""Branching small: the quickstart model with a learned router (AmNet-style).

  python -m launch.train --config=experiments/small.py --workdir=workdirs/small
  for lam in 0 0.3 1; do
    python -m launch.train --config=experiments/branching_small.py \
        --workdir=workdirs/branching_small_l$lam \
        --config.model.encoder.branching.cost_weight=$lam
  done
  python -m launch.train --config=experiments/small_ft.py --workdir=workdirs/small_ft
  python -m benchmarks.branching --workdirs=workdirs/branching_small_l0,... \
      --reference=workdirs/small_ft --thresholds=0.3,0.5,0.7

The small model's 4 Conformer blocks become a 1-block streaming trunk and a
3-block expensive branch whose attention and convolution see only the chunk
(no cross-chunk state, so a skipped chunk is skipped exactly); the cheap branch
is a rank-32 residual feed-forward layer; a 32-unit router picks per chunk
(320 ms). Analytic encoder FLOPs per 80 ms frame: all-cheap is 43 % of
all-expensive (the x8 subsampling convolutions and the trunk stay), so the
issue's 40 % saving needs at most 30 % of chunks on the expensive branch.
Warm-starts from ``workdirs/small`` (train.init_from: subsampling, trunk,
blocks 1-3 as the expensive branch, prediction and joint networks; router and
cheap branch fresh), then the 1,500 fine-tuning steps of ``small_ft`` (its
WER anchor) per lambda.

Measured (2026-11-26, 2 CPU cores; ``benchmarks.branching``, test, beam 4,
BUILD.md table): 13.7-14.7 min per lambda. lambda 0 keeps every chunk
expensive (WER 58.2 %); lambda 0.3 sends 40-75 % of chunks to the expensive
branch (thresholds 0.7-0.3; 58.0-58.4 %, 14-34 % fewer encoder FLOPs);
lambda 1 sends 13-15 % (48-49 % fewer FLOPs; 59.9 % at threshold 0.3, +2.9 %
relative to lambda 0, 60.3 % at 0.5). The plain ``small_ft`` (same
fine-tuning) gets 54.3 %: the chunk-local expensive branch alone costs 7 %.
Before fine-tuning (1 step after the warm start), on 100 test utterances:
all expensive 78.1 %, all cheap 93.4 %; batch-1 streaming encoder, every
chunk expensive 5.1 ms per audio second, every chunk cheap 2.1 ms (-59 %).
"""

from experiments import small
from experiments import small_ft


def get_config():
  c = small.get_config()
  e = c.model.encoder
  e.num_layers = 1  # trunk
  br = e.branching
  br.enabled = True
  br.expensive_layers = 3
  br.cheap_rank = 32
  br.router_hidden = 32
  # Start with ~88 % of chunks expensive (the warm-started blocks), not 50 %:
  # the task loss alone must not push chunks to the fresh cheap branch early.
  br.router_init_bias = 2.0
  br.cost_weight = 1.0
  return small_ft.fine_tune(c)
