"""End-of-query model (learned end-pointer) on the ``small`` corpus.

  python -m launch.train_endpointer --config=experiments/endpointer.py \
      --workdir=workdirs/endpointer [--asr_workdir=workdirs/small]

A 64-wide GRU over 80 ms frames of causally normalized log-mel features
(:mod:`asr.endpointing`), trained on the train split's ``speech_end`` times;
its speculative and final thresholds are tuned on validation. Hardware: 2 CPU
cores (shared), 2.3 minutes: 98 s feature preparation, 37 s for 800 steps.

Measured (2026-11-26, ``workdirs/endpointer``): 30,145 parameters, loss
0.696 -> 0.046; on 400 validation streams the final threshold P >= 0.998
fires 264 ms after the end of speech (median; P90 458 ms), 0.5 % before it;
the acoustic speculative threshold P >= 0.69 fires 160 ms earlier (median,
short of the 200 ms target within the 8 % early budget) but 36 % of its results
are revised; re-tuned through ``workdirs/small`` (``--asr_workdir``,
``--retune_only``, 200 validation streams, 22 s) it is P >= 0.99: 8 % revised,
80 ms earlier. Test / test_noisy figures, against the sherpa-onnx rule:
BUILD.md "Streaming and end-pointing" (``python -m benchmarks.endpointing``).
Quiet look-ahead for speculative results (``tune.lookahead_frames``, re-tuned
2026-11-26 with ``--retune_only``, 64 s): 160 ms halves the revised share at
low thresholds (P >= 0.5: 36 % -> 16 %; 0.9: 22 % -> 10.5 %) but has a ~9 %
floor, so within ``max_revised`` = 8 % the tuner keeps no look-ahead at 0.99.

Held final end-point (``tune.final_hold_frames = 1``, the default since
2026-11-27; measured on a fresh model, 2.3 min incl. re-tuning, through the
quickstart's ``small``): without the hold the final fires 276 ms after the end
of speech on test (0.5 % cut-offs) and no speculative threshold stays within
the 8 % revision budget on validation, so speculation coincides with the final.
With the final held 80 ms the re-tuned speculative point is P >= 0.95 with
160 ms of quiet look-ahead and on test fires 240 ms before the final (median)
with 7.5 % of its results revised; final 356 ms with 0.0 % cut-offs;
perceived latency 458 ms (300 ms downstream) against 576 ms for the unheld
final alone. Held 160 ms: 320 ms lead, 9.5 % revised, final 436 ms, perceived
471 ms. test_noisy: 21.5 % (23.6 %) revised, not within 10 %. BUILD.md,
"Streaming and end-pointing".

Talker-mixed validation and the stability gate (2026-11-27, session 10;
``tune.talker_validation``, ``tune.stable_frames``; ``--retune_only`` 2 min):
through ``small`` the chosen points revise 11.5-12.2 % on test_noisy at
80-160 ms of lead (holds 1-3). Through ``context_small_household`` with
``final_hold_frames=2``: P >= 0.998 with 160 ms look-ahead, 160 ms before the
final, 1.0 % / 9.5 % revised on test / test_noisy, 0.0 % final cut-offs.
The completion gate: ``experiments/endpointer_lm.py``.
"""

import ml_collections


def get_config():
  c = ml_collections.ConfigDict()
  c.seed = 0  # parameter init and batch order
  c.data = d = ml_collections.ConfigDict()
  d.data_dir = "data"  # TFDS data_dir of the corpus
  d.train = "tfds:voice_assistant/small:train"  # source spec of the training streams
  d.validation = "tfds:voice_assistant/small:validation"  # streams for threshold tuning
  d.max_train_utterances = 3000  # training streams used (0: all)
  d.max_val_utterances = 400  # validation streams used (0: all)
  d.after_end_s = 2.0  # streams lengthened to speech_end + this (tiled trailing noise)
  d.num_mel_bins = 80  # log-mel bins (as the recognizer)
  d.cmvn_block = 32  # causal CMVN update period in 10-ms frames (as the recognizer)
  # 10-ms feature frames per end-of-query frame: the model's decision period
  # (8 = 80 ms) and the unit of the holds and stability gates below
  # (experiments/endpointer_40ms.py: 4).
  d.pool = 8
  c.model = ml_collections.ConfigDict()
  c.model.hidden = 64  # GRU width
  c.train = t = ml_collections.ConfigDict()
  t.steps = 800  # Adam steps
  t.batch_size = 64  # streams per step
  t.learning_rate = 3e-3  # peak; cosine decay to 5 %
  c.tune = u = ml_collections.ConfigDict()
  u.max_final_early = 0.005  # final threshold: share of validation streams fired before speech end
  u.max_speculative_early = 0.08  # speculative threshold: the same budget (revision risk)
  u.target_advance_s = 0.2  # speculative fires this much earlier than final (median)
  # With --asr_workdir: the speculative threshold is re-chosen as the earliest
  # whose share of revised speculative results (through that recognizer, on
  # validation) is at most this.
  u.max_revised = 0.08
  # Quiet feature frames (10 ms) appended when decoding a speculative result,
  # so late transducer emissions come out (StreamingRecognizer.peek); the
  # re-tuning tries each and keeps the one whose threshold fires earliest.
  u.lookahead_frames = (0, 16, 32)
  # The final end-point waits this many more end-of-query frames (80 ms) with P >= final (a
  # hangover; 0: fires at the first crossing). The final threshold is tuned
  # without it; the speculative one may then equal it (it has no hold). 1
  # (80 ms) since 2026-11-27: with 0 no speculative threshold stays within
  # max_revised; with 1 (or 2) the pair meets the targets on test
  # (docstring), 1 with the lower perceived latency.
  u.final_hold_frames = 1
  # Stability gates tried by the re-tuning (Eoq.stable_frames): the
  # speculative end-point, once armed by its threshold, fires when its result
  # has held this many more end-of-query steps (80 ms) (0: at the crossing).
  u.stable_frames = (0, 1, 2)
  # Re-tuning also on the same validation streams with a competing talker
  # mixed in as test_noisy's (endpointing.talker_streams); the chosen point
  # must keep the revised share within max_revised_noisy there too.
  u.talker_validation = True
  u.max_revised_noisy = 0.08
  # Completion gate (Eoq.min_completion): a launch.train_lm workdir whose
  # P(</s> | speculative result) must reach one of min_completion (0 = off)
  # for the speculative end-point to fire; "" = no gate (experiments/
  # endpointer_lm.py turns it on).
  u.completion_lm = ""
  u.min_completion = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7)
  return c
