"""lm_small: the rescoring language model for the ``small`` corpus (cloud side).

  python -m launch.train_lm --config=experiments/lm_small.py --workdir=workdirs/lm_small

A causal Transformer over the recognizer's 256 SentencePiece pieces
(asr/lm/model.py), trained on the ``small`` train transcripts plus requests
sampled from the template grammar with train-pool names only (asr/lm/data.py);
no validation or test text. Its own config, not a variant of the transducer's
``default.py``. Hardware: 2 CPU cores, a few minutes (train.max_minutes).

Measured (2026-11-26, 2 CPU cores): 0.45M parameters, 1,800 steps in 4.3 min,
loss 5.58 -> 1.82 nats per piece; validation perplexity 6.75 per piece (53.0
per word). Rescoring beam-8 lattices on test (``python -m benchmarks.rescoring
--asr_workdir=workdirs/small --lm_workdir=workdirs/lm_small --beam=8``, the
pruned-loss ``small``): WER 47.3 % -> 47.3 % (LM alone), 44.6 % (LM +
internal-LM subtraction, -5.7 %); ``medium`` 36.3 -> 34.1 % (-6.2 %); oracle
34.4 / 26.8 % (BUILD.md, "Lattices and cloud rescoring").
"""

import ml_collections


def get_config():
  c = ml_collections.ConfigDict()
  c.seed = 0  # parameters, dropout, grammar sampling and batch order

  # --- data ---------------------------------------------------------------
  d = c.data = ml_collections.ConfigDict()
  d.corpus = "small"  # voice_assistant config whose train transcripts are used
  d.data_dir = "data"  # TFDS data_dir of the corpus
  # SentencePiece model: empty -> spm_unigram<vocab_size> beside the data
  # (the one the small transducer was trained with; copied into the workdir).
  d.tokenizer = ""
  d.vocab_size = 256  # selects the default tokenizer above
  d.train_limit = 0  # 0 = all train transcripts; >0 = the first N (tests)
  d.grammar_samples = 60000  # extra requests sampled from the template grammar
  d.grammar_users = 4000  # simulated users (train name pool) they are drawn for
  # Pieces per training sequence (<s> included); longer ones are cut. The
  # longest request of the grammar is 35 pieces; padding is most of a step.
  d.max_len = 40
  d.eval_utterances = 2000  # validation transcripts for the perplexity (0 = none)

  # --- model (asr.lm.model.LMConfig) ---------------------------------------
  m = c.model = ml_collections.ConfigDict()
  m.dim = 128  # embedding / residual width
  m.num_layers = 2  # decoder blocks
  m.num_heads = 4  # attention heads (dim must divide)
  m.mlp_dim = 512  # MLP hidden width
  m.max_len = 128  # learned positions: also the longest sentence that can be scored
  m.dropout = 0.1  # residual, attention and embedding dropout

  # --- training -------------------------------------------------------------
  t = c.train = ml_collections.ConfigDict()
  t.batch_size = 64  # sentences per step
  t.num_steps = 1800  # optimizer steps (~6 min on 2 CPU cores; the schedule ends here)
  t.max_minutes = 10.0  # safety stop (and checkpoint); 0 = no limit
  t.learning_rate = 2e-3  # AdamW peak learning rate
  t.warmup_steps = 200  # linear warm-up, then cosine decay to 0 at num_steps
  t.weight_decay = 0.01  # AdamW decoupled weight decay
  t.grad_clip = 1.0  # global-norm clipping
  t.log_every = 100  # steps between metric lines
  t.checkpoint_every = 1000  # steps between Orbax checkpoints
  t.keep_checkpoints = 2  # checkpoints kept
  return c
