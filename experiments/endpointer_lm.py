"""End-of-query model with a completion gate on its speculative end-point.

  python -m launch.train_lm --config=experiments/lm_small.py --workdir=workdirs/lm_small
  python -m launch.train_endpointer --config=experiments/endpointer_lm.py \
      --workdir=workdirs/endpointer_lm --asr_workdir=workdirs/small
  python -m benchmarks.endpointing --workdir=workdirs/small --endpointer_dir=workdirs/endpointer_lm

``endpointer`` whose re-tuning (``--asr_workdir``) also tries a semantic
gate: the speculative end-point fires only when the small Transformer LM
``lm_small`` (0.45M parameters, small enough for the device) gives the
speculative result P(</s> | words) >= ``tune.min_completion``, so that a
request decoded up to "shuffle songs by the" or "order more oatmeal to" does
not start downstream work. Measured: BUILD.md, "Streaming and end-pointing".
"""

from experiments import endpointer


def get_config():
  c = endpointer.get_config()
  c.tune.completion_lm = "workdirs/lm_small"  # a launch.train_lm workdir
  return c
