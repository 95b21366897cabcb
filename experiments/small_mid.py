"""``small`` trained on the ``mid`` corpus: the quickstart's first stage (since 2026-12-04).

The same model and 30 minutes as ``small``, 3x the distinct requests.

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

Measured (2026-11-26/27, 2 CPU cores): corpus 19.1 min (26,700 utterances,
2.82 GiB); 5,400 steps in 30.2 min at 62.4 utterances/s; greedy validation
43.6 % (U-WER 32.2 %; 41.0 / 28.9 % at step 5,000), against the quickstart
``small``'s 45.8 % (34.7 %) on the same 200 utterances. On ``small``'s test
(``python -m launch.report --workdir=workdirs/small_mid --results=mid_reports
--splits=tfds:voice_assistant/small:test,...``): greedy 42.0 % (U-WER 30.6 %,
B-WER 85.4 %) against ``small``'s 45.5 % (34.9 %); beam 4 with ``small``'s ILM
weight 44.3 % (not re-tuned); test_noisy 74.7 %, test_unseen_voice 78.1 %
(greedy). BUILD.md, "Training".

Again with the current recipe (2026-12-04, a machine ~1.5x slower per step):
5,350 steps in 30.1 min; validation (200, greedy) 36.6 % (U-WER 25.1 %)
against ``small``'s 47.1 % (36.3 %) on the same machine; test greedy 40.0 %
(U-WER 28.6 %) against 43.1 % (31.6 %). Its ``catt_small_mid`` stage reached
test 35.3 % (U-WER 23.7 %) at beam 4 without a list against the ``small``
chain's 39.4 % (28.0 %), so the quickstart builds ``mid`` and trains this
config (``launch/quickstart.sh``; ``CORPUS=small`` for the old chain).
"""

from experiments import small


def get_config():
  c = small.get_config()
  c.data.corpus = "mid"  # 24,000 training requests (asr/data/voice_assistant.py)
  return c
