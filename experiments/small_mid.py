"""``small`` trained on the ``mid`` corpus: the same 30 minutes, 3x the requests.

  python -m launch.prepare_data --config=mid --output_dir=data --vocab_sizes=256
  python -m launch.train --config=experiments/small_mid.py --workdir=workdirs/small_mid

The question it answers: is the 30-minute ``small`` model limited by the 8,000
requests it hears ~15 times (it makes 20 % U-WER errors on its own training
requests against ~35 % on test), so that more distinct requests in the same
time would lower the test error, as ``medium`` (50,000 requests, no train/test
gap) suggests? ``mid`` has 24,000 training requests from 1,200 users and the
same validation and test examples as ``small`` (same seed, sizes and users), so
the validation figures compare directly; the test figures come from
``launch.report`` on ``small``'s splits.

Hardware: 2 CPU cores; corpus ~20 min, training 30 min (train.max_minutes).
Measured: BUILD.md, "Training" (the paragraph on compute-limited learning).
"""

from experiments import small


def get_config():
  c = small.get_config()
  c.data.corpus = "mid"  # 24,000 training requests (asr/data/voice_assistant.py)
  return c
