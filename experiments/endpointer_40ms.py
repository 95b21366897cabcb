"""End-of-query model deciding every 40 ms instead of 80 ms.

  python -m launch.train_endpointer --config=experiments/endpointer_40ms.py \
      --workdir=workdirs/endpointer_40ms [--asr_workdir=workdirs/<recognizer>]
  python -m benchmarks.endpointing --workdir=workdirs/<recognizer> \
      --endpointer_dir=workdirs/endpointer_40ms --limit=200

``endpointer`` with ``data.pool = 4``: the GRU reads 40 ms frames (4 10-ms
log-mel frames mean-pooled, plus their peak energy), so both end-points and
the session's steps move on a 40 ms grid. With 80 ms frames the speculative
lead over a held final comes in 80 ms quanta (160 ms within the revision
budget, 240 ms beyond it on noisy validation); 40 ms frames allow the 200 ms
in between, and the final end-point itself fires on a finer grid. Holds and
stability gates count 40 ms frames: the values below keep the 80 ms config's
durations (final held 200 ms, gates 0 / 80 / 160 ms).
Measured: BUILD.md, "Streaming and end-pointing".
"""

from experiments import endpointer


def get_config():
  c = endpointer.get_config()
  c.data.pool = 4  # 40 ms end-of-query frames
  c.tune.final_hold_frames = 5  # final held 200 ms (5 x 40 ms)
  c.tune.stable_frames = (0, 2, 4)  # stability gates of 0, 80 and 160 ms
  return c
