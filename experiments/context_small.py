"""Stream context small: the quickstart model that hears the wake word first.

  python -m launch.train --config=experiments/small.py --workdir=workdirs/small
  python -m launch.train --config=experiments/context_small.py --workdir=workdirs/context_small
  python -m launch.train --config=experiments/small.py --workdir=workdirs/small_ft \
      --config.train.init_from=workdirs/small --config.train.num_steps=2400 \
      --config.train.max_minutes=20 --config.train.learning_rate=1e-3 \
      --config.train.warmup_steps=100
  python -m benchmarks.stream_context --workdir=workdirs/context_small --baseline=workdirs/small_ft

The encoder runs over up to 1.28 s (4 chunks) of audio before the request
(the wake word "alexa" and its lead-in: same speaker, channel and noise)
before the request; its attention caches and convolution state carry into the
request and only request frames reach the loss and the decoder. Warm-starts
from ``workdirs/small``; the fair baseline is ``small`` fine-tuned for the
same steps without context (``small_ft`` above), both 20 minutes on 2 CPU
cores. Per-utterance CMVN as in ``small``: the context frames take the
request's statistics.

Measured: not yet (no CPU time was free when it was written).
"""

from experiments import small


def get_config():
  c = small.get_config()
  c.data.stream_context.enabled = True
  c.data.stream_context.max_seconds = 1.5
  c.train.init_from = "workdirs/small"
  c.train.learning_rate = 1e-3  # fine-tuning
  c.train.warmup_steps = 100
  c.train.num_steps = 2400
  c.train.max_minutes = 20.0
  return c
