"""Tiny randomly initialized transducers shared by the decoding and LM tests."""

import jax

from asr.models import encoder as enc_lib
from asr.models import transducer


def tiny_transducer(dim=32, conv_kernel=5, subsample_channels=8, left_context=4, hidden=16,
                    joint_dim=24, vocab_size=12, seed=0, sharpen=1.0):
  """(model, params): a 1-block streaming Conformer transducer, no dropout.

  ``sharpen`` scales the joint's output kernel so that decoding emits labels
  (a random joint is nearly uniform and blank-free hypotheses are rare)."""
  cfg = transducer.TransducerConfig(
      encoder=enc_lib.EncoderConfig(num_layers=1, dim=dim, num_heads=2, ffn_mult=2,
                                    conv_kernel=conv_kernel, subsample_channels=subsample_channels,
                                    chunk_size=2, left_context=left_context, dropout=0.0),
      predictor=transducer.PredictorConfig(embed_dim=8, hidden=hidden, dropout=0.0),
      joint_dim=joint_dim, vocab_size=vocab_size)
  model = transducer.Transducer(cfg)
  params = transducer.init_params(cfg, jax.random.PRNGKey(seed))
  if sharpen != 1.0:
    params["joint_net"]["out"]["kernel"] = params["joint_net"]["out"]["kernel"] * sharpen
  return model, params


def count_expensive_calls(monkeypatch) -> list:
  """Patches ``encoder._run_expensive`` (looked up at trace time) to append to
  the returned list each time the expensive branch executes (host callback)."""
  calls = []
  orig = enc_lib._run_expensive  # pylint: disable=protected-access

  def counted(cfg, operands):
    jax.debug.callback(lambda: calls.append(1))
    return orig(cfg, operands)

  monkeypatch.setattr(enc_lib, "_run_expensive", counted)
  return calls
