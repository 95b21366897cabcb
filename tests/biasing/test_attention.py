"""CATT biasing attention: masks, the no-bias entry, permutation invariance,
long lists, and a joint training step."""

import jax
import jax.numpy as jnp
import numpy as np

from asr.biasing import attention as bias_lib
from asr.models import encoder as enc_lib
from asr.models import transducer


def _model(audio=True, label=True):
  cfg = transducer.TransducerConfig(
      encoder=enc_lib.EncoderConfig(num_layers=1, dim=32, num_heads=2, ffn_mult=2, conv_kernel=5,
                                    subsample_channels=8, chunk_size=2, left_context=4, dropout=0.0),
      predictor=transducer.PredictorConfig(embed_dim=8, hidden=16, dropout=0.0),
      joint_dim=24, vocab_size=40,
      biasing=bias_lib.BiasingConfig(enabled=True, embed_dim=8, dim=16, num_heads=2, dropout=0.0,
                                     audio_queries=audio, label_queries=label))
  model = transducer.Transducer(cfg)
  params = transducer.init_params(cfg, jax.random.PRNGKey(0))
  # Make the combiners non-trivial (they start at zero).
  for k in ("audio_combiner", "label_combiner"):
    w = params[k]["proj"]["kernel"]
    params[k]["proj"]["kernel"] = jax.random.normal(jax.random.PRNGKey(1), w.shape) * 0.3
  return model, params


def _inputs(n_phrases=5, batch=2, seed=0):
  rng = np.random.default_rng(seed)
  feats = jnp.asarray(rng.standard_normal((batch, 90, 80)), jnp.float32)
  lengths = jnp.array([90, 70][:batch])
  labels = jnp.asarray(rng.integers(1, 40, (batch, 4)), jnp.int32)
  tokens = rng.integers(2, 40, (batch, n_phrases, 3)).astype(np.int32)
  plen = rng.integers(1, 4, (batch, n_phrases)).astype(np.int32)
  return feats, lengths, labels, {"tokens": jnp.asarray(tokens), "lengths": jnp.asarray(plen)}


def test_padding_phrases_receive_no_attention_and_change_nothing():
  model, params = _model()
  feats, lengths, labels, ctx = _inputs()
  pad = {"tokens": jnp.concatenate([ctx["tokens"], jnp.full((2, 3, 3), 7)], axis=1),
         "lengths": jnp.concatenate([ctx["lengths"], jnp.zeros((2, 3), jnp.int32)], axis=1)}
  a = model.apply({"params": params}, feats, lengths, labels, ctx)
  b = model.apply({"params": params}, feats, lengths, labels, pad)
  np.testing.assert_allclose(np.asarray(a["enc"]), np.asarray(b["enc"]), atol=1e-5)
  np.testing.assert_allclose(np.asarray(a["pred"]), np.asarray(b["pred"]), atol=1e-5)
  maps = model.apply({"params": params}, feats, lengths, labels, pad,
                     method=transducer.Transducer.attention_maps)
  for kind in ("audio", "label"):
    w = np.asarray(maps[kind])  # [B, H, Q, N+1]
    assert np.all(w[..., 6:] < 1e-6)  # the 3 padding phrases (after no-bias + 5)
    np.testing.assert_allclose(w.sum(-1), 1.0, atol=1e-5)


def test_empty_list_puts_all_weight_on_no_bias():
  model, params = _model()
  feats, lengths, labels, _ = _inputs()
  empty = {"tokens": jnp.zeros((2, 4, 3), jnp.int32), "lengths": jnp.zeros((2, 4), jnp.int32)}
  maps = model.apply({"params": params}, feats, lengths, labels, empty,
                     method=transducer.Transducer.attention_maps)
  for kind in ("audio", "label"):
    np.testing.assert_allclose(np.asarray(maps[kind])[..., 0], 1.0, atol=1e-6)
  # and equals running with no list at all
  a = model.apply({"params": params}, feats, lengths, labels, empty)
  b = model.apply({"params": params}, feats, lengths, labels, None)
  np.testing.assert_allclose(np.asarray(a["enc"]), np.asarray(b["enc"]), atol=1e-5)


def test_permuting_the_list_does_not_change_outputs():
  model, params = _model()
  feats, lengths, labels, ctx = _inputs(n_phrases=6)
  perm = np.array([3, 0, 5, 1, 4, 2])
  shuffled = {k: v[:, perm] for k, v in ctx.items()}
  a = model.apply({"params": params}, feats, lengths, labels, ctx)
  b = model.apply({"params": params}, feats, lengths, labels, shuffled)
  np.testing.assert_allclose(np.asarray(a["enc"]), np.asarray(b["enc"]), atol=1e-5)
  np.testing.assert_allclose(np.asarray(a["pred"]), np.asarray(b["pred"]), atol=1e-5)


def test_list_changes_outputs_and_long_lists_work():
  model, params = _model()
  feats, lengths, labels, ctx = _inputs(n_phrases=3)
  _, _, _, ctx2 = _inputs(n_phrases=1200, seed=3)
  a = model.apply({"params": params}, feats, lengths, labels, ctx)
  b = model.apply({"params": params}, feats, lengths, labels, ctx2)
  assert np.abs(np.asarray(a["enc"]) - np.asarray(b["enc"])).max() > 1e-4
  assert np.all(np.isfinite(np.asarray(b["enc"])))


def test_streaming_encoder_with_biasing_equals_full_run():
  model, params = _model()
  feats, lengths, labels, ctx = _inputs()
  c, m = model.apply({"params": params}, ctx["tokens"], ctx["lengths"],
                     method=transducer.Transducer.encode_context)
  full, full_len = model.apply({"params": params}, feats, lengths, c, m,
                               method=transducer.Transducer.encode)
  ecfg = model.cfg.encoder
  win, hop = enc_lib.stream_window(ecfg), ecfg.subsample_factor * ecfg.chunk_size
  state = enc_lib.init_stream_state(ecfg, 2, 80)
  n = int(full_len.max())
  chunks = -(-n // ecfg.chunk_size)
  padded = jnp.concatenate([feats, jnp.zeros((2, chunks * hop + win, 80))], axis=1)
  outs = []
  for k in range(chunks):
    out, state = model.apply({"params": params}, padded[:, k * hop:k * hop + win],
                             jnp.clip(full_len - k * ecfg.chunk_size, 0, ecfg.chunk_size), state,
                             c, m, method=transducer.Transducer.encode_stream)
    outs.append(np.asarray(out))
  stream = np.concatenate(outs, axis=1)
  for b in range(2):
    k = int(full_len[b])
    np.testing.assert_allclose(stream[b, :k], np.asarray(full)[b, :k], atol=3e-5)


def test_guided_attention_targets():
  """Label u's target is 1 + the list index of the true phrase covering it."""
  from asr.data import pipeline

  class Tok:
    table = {"zoe muller": [5, 6, 7], "reading lamp": [8, 9], "ada lovelace": [10, 11]}

    def encode(self, text):
      return self.table[text]

  ph = pipeline.PhraseTokens(Tok())
  labels = [[1, 5, 6, 7, 2, 8, 9], [3, 10, 11, 4]]
  lists = [["ada lovelace", "reading lamp", "zoe muller"],  # ada: a distractor for row 0
           ["zoe muller"]]  # row 1's own name was left out of its list
  own = [{"zoe muller", "reading lamp"}, {"ada lovelace"}]
  t = pipeline.attention_targets(labels, lists, own, ph, max_labels=8)
  assert t.shape == (2, 9)
  np.testing.assert_array_equal(t[0], [0, 3, 3, 3, 0, 2, 2, 0, 0])
  np.testing.assert_array_equal(t[1], np.zeros(9))  # distractor tokens never targeted
