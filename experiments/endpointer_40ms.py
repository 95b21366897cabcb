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

Measured (2026-11-28, 2 CPU cores; 28 s for 800 steps, 30,145 parameters;
through ``context_small_household``, 200 streams per split; BUILD.md,
"Streaming and end-pointing", rows ``endpointer_csh_40b`` and
``endpointer_csh_40_clean``): final P >= 0.9995 held 200 ms, 490 / 821 ms
after the end of speech on test / test_noisy, 0.0 % cut-offs. Re-tuned with
the talker-mixed budget: 80 ms lead on test (3.1 % revised), 240 ms on
test_noisy (14.5 %); re-tuned on clean validation only: 320 ms lead on test at
7.5 % revised, 28.2 % on test_noisy. The 40 ms grid does not lower the noisy
revision rate (80 ms, same recognizer: 160 ms lead, 13.3 %).
"""

from experiments import endpointer


def get_config():
  c = endpointer.get_config()
  c.data.pool = 4  # 40 ms end-of-query frames
  c.tune.final_hold_frames = 5  # final held 200 ms (5 x 40 ms)
  c.tune.stable_frames = (0, 2, 4)  # stability gates of 0, 80 and 160 ms
  return c
