"""Branching small, cross-chunk: ``branching_small`` whose expensive blocks keep
attention and convolution state across chunks.

  python -m launch.train --config=experiments/small.py --workdir=workdirs/small
  python -m launch.train --config=experiments/small_ft.py --workdir=workdirs/small_ft
  for lam in 1 1.5 2 3; do
    python -m launch.train --config=experiments/branching_small_cc.py \
        --workdir=workdirs/branching_small_cc_l$lam \
        --config.model.encoder.branching.cost_weight=$lam
  done
  python -m launch.train --config=experiments/branching_small_cc.py \
      --workdir=workdirs/branching_small_cc_b0.58 \
      --config.model.encoder.branching.cost_weight=3 \
      --config.model.encoder.branching.cost_target=0.58
  python -m benchmarks.branching \
      --workdirs=workdirs/branching_small_cc_l1.5,workdirs/branching_small_cc_b0.58 \
      --reference=workdirs/small_ft --thresholds=0.1,0.2,0.3,0.5

``branching_small``'s chunk-local expensive blocks cost 7 % relative WER by
themselves (every chunk expensive, against the plain ``small_ft``). Here the
expensive blocks attend ``left_context`` frames back and convolve across chunk
boundaries as the trunk does; a chunk routed to the cheap branch fills their
caches with keys/values projected from its trunk output and zero convolution
inputs (``asr/models/branching.py``), so every chunk expensive is exactly the
plain 4-block ``small`` encoder, and the warm start loses nothing. The price:
a cheap chunk still projects keys and values in the 3 expensive blocks, so
all-cheap costs 47 % of all-expensive (analytic) instead of 43 %, and the
issue's 40 % saving needs at most ~24 % of chunks on the expensive branch.

Same warm start (``workdirs/small``) and 1,500 fine-tuning steps as
``branching_small`` and ``small_ft`` (its WER anchor).

Measured (2026-11-27, 2 CPU cores, 11.4-12.3 min per run, from the
quickstart's ``workdirs/small`` step 5,341; anchor ``small_ft`` from the same
start: test WER 43.1 %, beam 4; BUILD.md, "Branching encoder and stream
context"): lambda 1 keeps the anchor's WER at 21-25 % fewer encoder FLOPs
(42.7 % at threshold 0.3, 43.1 % at 0.5); at >= 40 % saving the best is the
budget run (lambda 3, ``cost_target`` 0.58): 44.6 % saved at +7 % relative
(46.3 %, threshold 0.3). lambda 1.5: 42 % at +11 %; lambda 2 and 3 collapse
to the cheap branch (52-54 %). The issue's <= 3 % at >= 40 % is not met.

A wider, distilled cheap branch (2026-11-28, from a retrained ``small``, anchor
``small_ft`` 41.0 %): the budget run with ``cheap_rank=128`` saves 44 % at
+14 %, and with ``distill_weight=1`` as well 44 % at +17 %: no better
(BUILD.md, same section).
"""

from experiments import branching_small


def get_config():
  c = branching_small.get_config()
  c.model.encoder.branching.cross_chunk = True
  return c
