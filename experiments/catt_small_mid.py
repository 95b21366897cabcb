"""CATT small on the ``mid`` corpus: the quickstart's second stage (since 2026-12-04).

  python -m launch.prepare_data --config=mid --output_dir=data --vocab_sizes=256
  python -m launch.train --config=experiments/small_mid.py --workdir=workdirs/small_mid
  python -m launch.train --config=experiments/catt_small_mid.py --workdir=workdirs/catt_small_mid

``catt_small`` (attention biasing trained jointly with the transducer, the
same 20-minute budget, fused loss, search settings) warm-started from
``small_mid`` and fine-tuned on the ``mid`` corpus's 24,000 training requests
instead of ``small``'s 8,000. ``mid``'s validation and test splits are the
same examples as ``small``'s (same seed, sizes and users; checked example by
example: text, audio length and samples), so the figures compare directly
with the ``small`` chain's.

Hardware: 2 CPU cores, 20 minutes (train.max_minutes) after ``small_mid``.

Measured (2026-12-04, 2 CPU cores, the AMD EPYC machine ~1.5x slower per
step than the 2026-11-28 one): 2,150 of 2,400 steps in 20.3 min (36.8
utterances/s); validation (200, greedy) 37.4 % (U-WER 26.0 %) against the
``small`` chain's 42.0 % (30.3 %) on the same machine. Report (``python -m
launch.report --workdir=workdirs/catt_small_mid --data_dir=data``; beam 4,
own names + 100 distractors): test 35.3 % with no list (U-WER 23.7 %, B-WER
79.2 %), 35.3 % with attention biasing (23.7 %), greedy 36.6 % (25.0 %),
against the ``small`` chain's 39.4 % (28.0 %), 39.7 % (28.2 %) and 39.7 %
(28.2 %) on the same machine; test_noisy 67.8 % (73.3 %), test_unseen_voice
70.9 % (75.4 %). With ``catt_small``'s CTC second pass (beam 8 rescored by the
CTC head, weight 0.7, bonus 1.5; ``python -m launch.report
--workdir=workdirs/catt_small_mid --data_dir=data --beam=8
--ctc_rescore_weight=0.7 --ctc_rescore_bonus=1.5``, the settings this config
now carries): test 30.0 % (U-WER 18.4 %), validation 34.6 % (23.4 %),
test_noisy 66.5 %, test_unseen_voice 64.4 %. BUILD.md, "Quickstart results".
"""

from experiments import catt_small


def get_config():
  c = catt_small.get_config()
  c.data.corpus = "mid"  # 24,000 training requests (asr/data/voice_assistant.py)
  c.train.init_from = "workdirs/small_mid"
  return c
