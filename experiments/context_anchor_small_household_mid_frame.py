"""``context_small_household_mid_frame`` plus the context anchor.

  python -m launch.train --config=experiments/context_anchor_small_household_mid_frame.py --workdir=workdirs/context_anchor_small_household_mid_frame
  python -m benchmarks.stream_context --workdir=workdirs/context_anchor_small_household_mid_frame --baseline=workdirs/small_ft_household_mid

The whole wake-word segment as context (``data.stream_context.align =
"frame"``) and the encoder's context anchor (``model.encoder.context_anchor``,
as in ``context_anchor_small_talker``): the masked mean of block 0's output
over the wake-word frames, LayerNormed, FiLM-modulates every request frame at
the inputs of blocks 1-3, a per-stream summary of the wake-word voice next to
the attention's left context. Same start (``small_mid``), recipe and seed
handling as ``context_small_household_mid``; the FiLM layers start at zero, so
step 0 is the plain context model's step 0.
"""

from experiments import context_small_household_mid_frame


def get_config():
  c = context_small_household_mid_frame.get_config()
  c.model.encoder.context_anchor = True  # FiLM request frames by the pooled wake-word frames
  c.model.encoder.anchor_block = 0  # pool block 0's output; FiLM blocks 1..3
  return c
