"""Stream context with a context anchor, trained with competing talkers.

  python -m launch.train --config=experiments/small.py --workdir=workdirs/small
  python -m launch.train --config=experiments/small_ft_talker.py --workdir=workdirs/small_ft_talker
  python -m launch.train --config=experiments/context_anchor_small_talker.py --workdir=workdirs/context_anchor_small_talker
  python -m benchmarks.stream_context --workdir=workdirs/context_anchor_small_talker --baseline=workdirs/small_ft_talker

``context_small_talker`` plus the encoder's context anchor
(``model.encoder.context_anchor``): the mean of block 0's output over the
wake-word frames, LayerNormed, FiLM-modulates every request frame at the
inputs of blocks 1-3. The plain stream context reaches the request only
through the attention's left context (2.56 s) and the convolution state; the
anchor is a summary of the wake-word voice that every request frame sees,
the cue a model needs to follow that voice against a competing talker
(anchored speech recognition, Wang et al. 2019). Zero-initialized FiLM: the
warm start from ``small`` begins as ``context_small_talker`` does.

Measured (2026-11-27, 2 CPU cores, warm-started from the quickstart's
``small`` at step 5,341): 1,500 steps in 17.9 min (2.88M parameters, +126k
for the FiLM layers); greedy validation WER 39.9 % (U-WER 28.2 %, 200
utterances). Beam 4 against ``small_ft_talker`` (``benchmarks.stream_context``,
paired bootstrap 95 % intervals): test 42.8 % vs 45.3 % (-5.4 %, -9.4 ..
-1.6 %), test_noisy 65.1 % vs 64.3 % (+1.2 %, -3.5 .. +6.5 %: no gain). The
plain context (``context_small_talker``, same run) gets -6.9 % / +1.9 %: the
anchor adds nothing measurable (BUILD.md, "Branching encoder and stream
context").
"""

from experiments import context_small_talker


def get_config():
  c = context_small_talker.get_config()
  c.model.encoder.context_anchor = True
  c.model.encoder.anchor_block = 0
  return c
