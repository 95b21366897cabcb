"""Stream context small: the quickstart model that hears the wake word first.

  python -m launch.train --config=experiments/small.py --workdir=workdirs/small
  python -m launch.train --config=experiments/context_small.py --workdir=workdirs/context_small
  python -m launch.train --config=experiments/small_ft.py --workdir=workdirs/small_ft
  python -m benchmarks.stream_context --workdir=workdirs/context_small --baseline=workdirs/small_ft

The encoder runs over up to 1.28 s (4 chunks) of audio before the request
(the wake word "alexa" and its lead-in: same speaker, channel and noise)
before the request; its attention caches and convolution state carry into the
request and only request frames reach the loss and the decoder. Warm-starts
from ``workdirs/small``; the fair baseline is ``small`` fine-tuned for the
same 1,500 steps without context (``experiments/small_ft.py``).
Per-utterance CMVN as in ``small``: the context frames take the request's
statistics.

Measured (2026-11-26, 2 CPU cores): 1,500 steps in 16.8 min (31
utterances/s, against 43 for ``small_ft``: the context frames cost ~28 %); the context averaged 0.62 s
(the wake-word segment rounded down to whole 320 ms chunks). Beam 4, against
``small_ft``: test WER 52.8 % vs 54.3 % (-3 % relative), test_noisy 77.9 %
vs 80.9 % (-4 %); the issue's target was -6 % on test_noisy. Without its
context at inference the same model gets 64.8 % / 84.5 %
(``python -m benchmarks.stream_context``; BUILD.md table).
"""

from experiments import small
from experiments import small_ft


def get_config():
  c = small.get_config()
  c.data.stream_context.enabled = True
  c.data.stream_context.max_seconds = 1.5
  return small_ft.fine_tune(c)
