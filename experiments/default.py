"""Base configuration: every field documented here; experiments override it.

Not an experiment by itself: ``tiny.py``, ``small.py``, ``medium.py``,
``base.py``, ``teacher.py`` and the ``librispeech_*.py`` files call
:func:`get_config` and change what differs.
"""

import ml_collections


def get_config():
  c = ml_collections.ConfigDict()
  c.seed = 0  # parameters, data order, SpecAugment and dropout

  # --- data ---------------------------------------------------------------
  d = c.data = ml_collections.ConfigDict()
  d.corpus = "small"  # voice_assistant builder config (tiny/small/full)
  d.data_dir = "data"  # TFDS data_dir that launch.prepare_data wrote
  # Source specs (asr.data.sources): "tfds:<name>/<config>:<split>" or a
  # .jsonl manifest. Empty -> the corpus's train / validation splits.
  d.train = ""
  d.validation = ""
  d.vocab_size = 256  # SentencePiece pieces (blank = 0 included)
  d.tokenizer = ""  # explicit .model path; empty -> spm_unigram<vocab_size> beside the data
  d.num_mel_bins = 80
  # Feature normalization before the model's global mean/std: "global" (none)
  # or "utterance" (asr.data.pipeline.utterance_cmvn: whole-request statistics,
  # faster learning on many-voice TTS data; streaming uses its causal estimate,
  # asr.data.cmvn, from the wake word + the request so far; "causal" decodes
  # offline with that estimate).
  d.cmvn = "global"
  # Training crops each stream to [wake_end, speech_end + train_trailing_s];
  # evaluation keeps everything after wake_end (the end-pointer's business).
  d.train_trailing_s = 0.3
  d.max_train_utterances = 0  # 0 = all; >0 truncates the training set (tests)
  d.num_buckets = 6  # length buckets: one jit shape each
  d.batch_frames = 6000  # padded feature frames per global batch (B * T)
  d.skip_bad = False  # manifests: skip unusable lines (reported) instead of failing
  # Competing-talker augmentation of the training streams (asr.data.pipeline.
  # TalkerMix): with probability prob, the speech of `pieces` other training
  # utterances is mixed over the whole stream (wake word included, as in
  # test_noisy) at an SNR drawn from snr_db. Static per utterance; 0 = off.
  tm = d.talker_mix = ml_collections.ConfigDict()
  tm.prob = 0.0
  tm.snr_db = (4.0, 12.0)
  tm.pieces = 2
  # Partners from the same user_id in another voice (a household saying the
  # same contact and device names, like test_noisy's talker); else any.
  tm.same_user = False
  # Stream context (asr.models.encoder): the encoder first runs over the audio
  # just before the request (the wake-word segment), whose attention caches
  # and convolution state carry into the request; outputs, loss and decoding
  # cover the request only. The context is cut to at most max_seconds
  # (rounded down to whole encoder chunks) and each utterance's to a whole
  # number of units of `align`; shorter ones are left-padded with masked
  # frames to whole chunks.
  sc = d.stream_context = ml_collections.ConfigDict()
  sc.enabled = False
  sc.max_seconds = 1.5
  # "chunk": each context is rounded down to whole encoder chunks
  # (subsample_factor * chunk_size feature frames: 320 ms here, so a 0.78 s
  # wake segment keeps 0.64 s); "frame": to whole encoder frames (80 ms),
  # the padding to whole chunks masked (Encoder.stream's lead_pad).
  sc.align = "chunk"

  # --- model ----------------------------------------------------------------
  m = c.model = ml_collections.ConfigDict()
  e = m.encoder = ml_collections.ConfigDict()
  e.kind = "conformer"  # conformer | transformer
  e.num_layers = 6
  e.dim = 144
  e.num_heads = 4
  e.ffn_mult = 4
  e.conv_kernel = 15  # causal depthwise convolution (conformer)
  e.subsample_channels = 64
  e.subsample_factor = 8  # 4 or 8 (80 ms frames)
  e.chunk_size = 4  # streaming chunk, encoder frames (4 x 80 ms = 320 ms); 0 = full context
  e.left_context = 32  # encoder frames of left context per chunk (2.56 s)
  e.dropout = 0.1
  e.block_final_ln = False  # see EncoderConfig: the per-block LayerNorm collapses the encoder here
  # Context anchor (needs data.stream_context): the mean of block anchor_block's
  # output over the context frames FiLM-modulates the request frames at the
  # inputs of the later blocks (zero-initialized: starts as the identity), so
  # the wake-word voice reaches the whole request, not just left_context.
  e.context_anchor = False
  e.anchor_block = 0  # 0-based block whose output is pooled; < num_layers - 1
  # Every attention layer also attends to a learned key/value per head (no
  # position, zero-initialized), always visible: a query whose left context is
  # mostly masked (the branching encoder's cheap chunks) can attend to
  # "nothing" (experiments/branching_small_frvp_c2hbfs.py).
  e.attention_sink = False
  # Branching encoder (asr/models/branching.py; off = the plain encoder): after
  # the num_layers trunk blocks a router sends each chunk to an expensive
  # branch (expensive_layers chunk-local Conformer blocks) or a cheap one.
  br = e.branching = ml_collections.ConfigDict()
  br.enabled = False
  br.expensive_layers = 2  # Conformer blocks of the expensive branch
  # False: the expensive blocks are chunk-local (no cross-chunk state); True: they
  # keep attention/convolution caches, which skipped chunks fill with keys/values
  # projected from the trunk output (asr/models/branching.py).
  br.cross_chunk = False
  br.cheap_rank = 32  # rank of the cheap branch's residual low-rank feed-forward layer
  br.router_hidden = 32  # hidden units of the router MLP on the chunk-mean trunk output
  br.router_init_bias = 0.0  # initial logit margin of the expensive branch (>0: start mostly expensive)
  br.gumbel_tau = 1.0  # straight-through Gumbel-softmax temperature (training)
  br.threshold = 0.5  # inference: expensive iff router p(expensive) > threshold
  # lambda: loss += cost_weight * expected encoder compute relative to
  # all-expensive (in (0, 1]; the RNN-T loss is in nats per label).
  br.cost_weight = 0.0
  # > 0: a compute budget instead: loss += cost_weight * max(0, cost -
  # cost_target), so the router is pushed down to the budget (e.g. 0.6 = 40 %
  # less encoder compute) and no further; 0 = the plain linear term above.
  br.cost_target = 0.0
  # > 0: loss += distill_weight * relative squared error between the cheap and
  # the (stop-gradient) expensive branch's outputs over every valid chunk, so
  # the cheap branch learns to stand in for the expensive one everywhere, not
  # only from the task loss on the chunks routed to it; 0 = off (measured at 1
  # with cheap_rank 128 on the budget run: no gain, BUILD.md).
  br.distill_weight = 0.0
  # Route on a projection of the raw log-mel frames and run the subsampling in
  # the expensive branch only (needs num_layers = 0 and cross_chunk); cheap
  # chunks are masked out of the expensive blocks' caches
  # (experiments/branching_small_fr.py).
  br.feature_router = False
  # > 0: loss += speech_weight * cross-entropy between the router's p(expensive)
  # and each chunk's share inside the corpus's speech span (an auxiliary
  # router target; asr/models/branching.py); 0 = off.
  br.speech_weight = 0.0
  # feature_router only: the cheap branch also reads the last output frame of
  # the stream's latest expensive chunk (zero-initialized D x D projection), so
  # that a cheap chunk after speech can still emit the last word pieces
  # (experiments/branching_small_frc.py).
  br.cheap_carry = False
  # feature_router only: the feature projection keeps each frame's level (mean
  # and spread over its pooled log-mel values, which its LayerNorm removes).
  br.router_level = False
  # feature_router only: > 0 = the router also reads the mean projection of this
  # many encoder frames before the chunk (causal; kept in the streaming state);
  # 0 = the chunk alone (experiments/branching_small_frv.py).
  br.router_context = 0
  # True: the router's LayerNorm + hidden layer run on every frame (chunk and
  # history) and the output layer reads their chunk mean / max and history mean
  # (experiments/branching_small_frvp.py); False: one MLP on the chunk mean.
  br.router_per_frame = False
  # > 0: training routes hard at this p(expensive) threshold, as inference does
  # (no Gumbel noise; the router then learns from the speech target and the
  # cost term only; experiments/branching_small_frvp_h.py); 0 = Gumbel.
  br.train_threshold = 0.0
  # With train_threshold: the task loss also trains the router, through the
  # straight-through estimator without noise (one_hot + p - sg(p)).
  br.train_straight_through = False
  # feature_router only: an expensive chunk after a cheap one first re-runs the
  # expensive branch over that cheap chunk, so its keys and convolution inputs
  # reach the expensive blocks (no latency; one more expensive chunk per onset;
  # experiments/branching_small_frvp_c2hb.py). Needs left_context >= chunk_size.
  br.onset_backfill = False
  # onset_backfill: re-run only a cheap chunk whose own p(expensive) exceeds
  # this (0 = every cheap chunk before an onset); an inference knob too
  # (benchmarks.branching --backfill_thresholds).
  br.backfill_threshold = 0.0
  # > 0: inference hysteresis: a chunk after an expensive one stays expensive
  # while p(expensive) exceeds this (below threshold); training ignores it
  # (benchmarks.branching --hold_thresholds); 0 = off.
  br.hold_threshold = 0.0
  # Diagnostic of the routing's cost (full-utterance inference only, cannot
  # stream; benchmarks.branching --oracle): "outputs" = every chunk's output
  # from the expensive branch, keys as routed; "keys" = no chunk's keys or
  # convolution inputs masked, outputs as routed; "uncertain_keys" = only those
  # of chunks with p(expensive) > backfill_threshold unmasked; "" = off.
  br.oracle = ""
  p = m.predictor = ml_collections.ConfigDict()
  p.kind = "lstm"  # lstm | stateless
  p.embed_dim = 128
  p.hidden = 256
  p.num_layers = 1
  p.context_size = 2  # stateless only
  p.dropout = 0.1
  m.joint_dim = 256
  # Attention biasing (CATT, asr/biasing/attention.py); off in the baseline.
  bi = m.biasing = ml_collections.ConfigDict()
  bi.enabled = False
  bi.encoder = "blstm"  # phrase encoder: blstm | transformer
  bi.embed_dim = 64
  bi.dim = 128  # context vector width
  bi.num_heads = 4
  bi.audio_queries = True  # encoder frames attend to the list
  bi.label_queries = True  # prediction-network outputs attend to the list
  bi.dropout = 0.1
  # Tree-constrained pointer generator (asr/biasing/pointer.py): a pointer over
  # the list's valid next wordpieces mixed into the output; needs enabled.
  bi.pointer = False
  bi.pointer_dim = 64  # pointer query/key width
  # Training lists (asr.data.pipeline.ContextSampler): each true entity kept
  # with keep_prob, plus U{0..max_distractors} names from the training pool.
  bc = c.data.context = ml_collections.ConfigDict()
  bc.max_distractors = 32
  bc.keep_prob = 0.8
  bc.max_entities = 4
  bc.max_phrase_len = 12  # wordpieces per phrase (longer ones are cut)
  bc.max_pointer_cands = 48  # pointer candidates per label position (K)

  # --- training ---------------------------------------------------------------
  t = c.train = ml_collections.ConfigDict()
  t.num_steps = 3000
  t.max_minutes = 0.0  # >0: stop (and checkpoint) after this much training time
  # Warm start: a training workdir whose latest parameters initialize every
  # tensor of matching path and shape (new modules start fresh; optimizer and
  # step start over; its feature statistics are reused). Ignored on resume.
  t.init_from = ""
  t.learning_rate = 2e-3  # peak
  t.warmup_steps = 300
  t.end_lr_ratio = 0.05  # cosine decay to peak * end_lr_ratio
  t.weight_decay = 1e-3  # AdamW, matrices only
  t.b1 = 0.9
  t.b2 = 0.98
  t.clip_norm = 5.0  # global gradient-norm clipping
  # Regular expression over '/'-joined parameter paths (as train.trainable):
  # the parameters it matches are clipped as a group of their own (each group
  # to clip_norm), so that large gradients of auxiliary-trained parameters
  # (a fresh router under its speech target) do not scale down the step of
  # the rest. "" = one global norm.
  t.clip_separately = ""
  # Regular expression over '/'-joined parameter paths (e.g.
  # "encoder/router/hidden/kernel"): only parameters it matches (re.search)
  # are trained; the rest get zero updates (no gradient step, no weight
  # decay) and stay as initialized or warm-started. "" = train everything.
  t.trainable = ""
  # Exponential moving average of the parameters (Polyak averaging), kept in
  # the train state; > 0: validation, evaluation, export and warm starts
  # use the average, decay_t = min(ema_decay, (1 + t) / (10 + t)) at step t
  # (the average of the last ~1 / (1 - ema_decay) steps). 0 = off.
  t.ema_decay = 0.0
  # RNN-T loss: "fused" evaluates the joint in time slices of loss_time_chunk
  # frames and recomputes them in the backward pass (memory ~ 1/slices);
  # "full" materializes [B, T', U+1, V] (faster when it fits); "pruned"
  # (asr.losses.pruned, Kuang et al. 2022) evaluates it on pruned.s_range
  # columns per frame chosen by a trivial joint trained alongside.
  t.loss_impl = "fused"
  pr = t.pruned = ml_collections.ConfigDict()
  pr.s_range = 5  # band width (labels per frame <= s_range - 1)
  pr.simple_scale = 0.5  # weight of the trivial joint's own RNN-T loss
  pr.warmup_steps = 500  # pruned term ramps 0.1 -> 1 over these steps (0: full from the start)
  # Transducer lattice: "regular" (any number of labels per frame) or
  # "modified" (one symbol per frame, as modified beam search decodes).
  t.rnnt_type = "regular"
  t.loss_time_chunk = 16
  # FastEmit (asr.losses.rnnt): label-arc gradients x (1 + lambda), which
  # pulls emissions earlier in streaming; 0 = the plain RNN-T loss.
  t.fastemit_lambda = 0.0
  # Weight of the auxiliary CTC loss on the encoder (0 disables the head).
  t.ctc_weight = 0.3
  # Steps at the start that train the encoder with CTC alone (RNN-T off).
  t.ctc_only_steps = 0
  # Guided attention for CATT (Tang et al. 2024): weight of the cross-entropy
  # pushing the label-query biasing attention (mean over heads) onto the true
  # phrase of the next label, and onto the no-bias entry elsewhere
  # (asr.data.pipeline.attention_targets). 0 disables it.
  t.bias_guide_weight = 0.0
  t.log_every = 50
  t.eval_every = 1000  # greedy WER on a validation subset
  t.eval_utterances = 200
  t.checkpoint_every = 250
  t.keep_checkpoints = 2
  sa = t.spec_augment = ml_collections.ConfigDict()
  sa.enabled = True
  sa.num_freq_masks = 2
  sa.freq_mask_width = 15
  sa.time_masks_per_100 = 1.0
  sa.max_time_masks = 6
  sa.time_mask_ratio = 0.05
  # Feature-domain perturbations before the masks (asr.data.features): time
  # resampling by a rate in [1 - speed_range, 1 + speed_range] (speed_perturb)
  # and a mel-axis stretch in [1 - freq_warp, 1 + freq_warp] (freq_warp), one
  # draw per utterance and step. 0 = off. They apply with enabled only.
  sa.speed_range = 0.0
  sa.freq_warp = 0.0
  # (start, end) steps: both perturbations are off before start and ramp up
  # linearly to their full range at end, so that they act against late
  # memorization without slowing the early learning; (0, 0) = full from step 0.
  sa.perturb_ramp = (0, 0)

  # --- evaluation -------------------------------------------------------------
  ev = c.eval = ml_collections.ConfigDict()
  ev.splits = ("validation", "test", "test_noisy", "test_unseen_voice")
  ev.beam = 4  # 0/1 = greedy
  # Beam search length reward per non-blank label (asr.decoding.beam); tune
  # on validation with benchmarks.decoding. 0 = the plain search.
  ev.label_bonus = 0.0
  # Internal-LM subtraction in the beam search (asr.decoding.beam, ILME decoding):
  # label scores - ilm_weight * log P_ILM. Tune on validation with
  # benchmarks.decoding --ilm_weights. 0 = the plain search.
  ev.ilm_weight = 0.0
  # Beam search kind (asr.decoding.beam): 0 = modified beam search (one label
  # per frame); >= 1 = time-synchronous search of the regular lattice with up
  # to that many labels per frame.
  ev.max_symbols = 0
  # CTC rescoring of the final beam (asr.decoding.ctc_rescore), a second pass
  # with the model's CTC head (train.ctc_weight > 0): each hypothesis scores
  # search score + ctc_rescore_weight * log P_CTC(y | x) + ctc_rescore_bonus *
  # (its wordpieces), and the best is the transcript. Tune on validation with
  # benchmarks.ctc_rescoring. 0 = off (the first pass alone).
  ev.ctc_rescore_weight = 0.0
  ev.ctc_rescore_bonus = 0.0
  ev.batch_frames = 20000
  return c
