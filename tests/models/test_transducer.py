"""Encoder streaming equivalence, predictor consistency, shapes."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from asr.models import encoder as enc_lib
from asr.models import transducer


def _enc_cfg(kind="conformer", factor=8, chunk=2, left=4):
  return enc_lib.EncoderConfig(kind=kind, num_layers=2, dim=32, num_heads=2, ffn_mult=2,
                               conv_kernel=5, subsample_channels=8, subsample_factor=factor,
                               chunk_size=chunk, left_context=left, dropout=0.0)


def test_chunk_mask():
  m = np.asarray(enc_lib.chunk_mask(8, 2, 2))
  # frame 5 (chunk 2 = frames 4,5) sees frames 2..5
  assert m[5].tolist() == [False, False, True, True, True, True, False, False]
  assert m[0].tolist() == [True, True] + [False] * 6
  assert np.asarray(enc_lib.chunk_mask(5, 0, 0)).all()


@pytest.mark.parametrize("kind,factor,chunk,left", [
    ("conformer", 8, 2, 4), ("conformer", 4, 3, 3), ("transformer", 8, 2, 2)])
def test_streaming_equals_masked_full_run(kind, factor, chunk, left):
  cfg = _enc_cfg(kind, factor, chunk, left)
  model = enc_lib.Encoder(cfg)
  rng = np.random.default_rng(0)
  t_feats = 101
  feats = jnp.asarray(rng.standard_normal((2, t_feats, 80)), jnp.float32)
  lengths = jnp.array([101, 77])
  params = model.init(jax.random.PRNGKey(0), feats, lengths)
  full, full_len = model.apply(params, feats, lengths)
  full = np.asarray(full)

  win = enc_lib.stream_window(cfg)
  hop = factor * chunk
  state = enc_lib.init_stream_state(cfg, 2, 80)
  outs = []
  n_out = int(full_len.max())
  n_chunks = -(-n_out // chunk)
  padded = jnp.concatenate([feats, jnp.zeros((2, n_chunks * hop + win, 80))], axis=1)
  for c in range(n_chunks):
    window = padded[:, c * hop:c * hop + win]
    num_valid = jnp.clip(full_len - c * chunk, 0, chunk)
    out, state = model.apply(params, window, num_valid, state, method=enc_lib.Encoder.stream)
    outs.append(np.asarray(out))
  stream = np.concatenate(outs, axis=1)
  for b in range(2):
    n = int(full_len[b])
    np.testing.assert_allclose(stream[b, :n], full[b, :n], atol=2e-5, rtol=1e-4)
  assert int(full_len[1]) < n_out  # the short utterance really ended early


def test_full_context_sees_the_future():
  cfg = _enc_cfg(chunk=0)
  model = enc_lib.Encoder(cfg)
  feats = jnp.asarray(np.random.default_rng(1).standard_normal((1, 90, 80)), jnp.float32)
  params = model.init(jax.random.PRNGKey(0), feats, jnp.array([90]))
  a, _ = model.apply(params, feats, jnp.array([90]))
  feats2 = feats.at[:, 60:].set(0.0)
  b, _ = model.apply(params, feats2, jnp.array([90]))
  assert np.abs(np.asarray(a[0, 0]) - np.asarray(b[0, 0])).max() > 1e-4
  # a streaming encoder's first frames do not change when the future does
  s = enc_lib.Encoder(_enc_cfg(chunk=2, left=4))
  sp = s.init(jax.random.PRNGKey(0), feats, jnp.array([90]))
  a, _ = s.apply(sp, feats, jnp.array([90]))
  b, _ = s.apply(sp, feats2, jnp.array([90]))
  np.testing.assert_allclose(np.asarray(a[0, :2]), np.asarray(b[0, :2]), atol=1e-6)


def test_padding_does_not_change_outputs():
  cfg = _enc_cfg()
  model = enc_lib.Encoder(cfg)
  rng = np.random.default_rng(2)
  feats = jnp.asarray(rng.standard_normal((1, 80, 80)), jnp.float32)
  params = model.init(jax.random.PRNGKey(0), feats, jnp.array([80]))
  a, la = model.apply(params, feats, jnp.array([80]))
  junk = jnp.concatenate([feats, 5 * jnp.ones((1, 40, 80))], axis=1)
  b, lb = model.apply(params, junk, jnp.array([80]))
  assert int(la[0]) == int(lb[0])
  n = int(la[0])
  np.testing.assert_allclose(np.asarray(a[0, :n]), np.asarray(b[0, :n]), atol=1e-5)
  assert np.all(np.asarray(b[0, n:]) == 0)


@pytest.mark.parametrize("kind", ["lstm", "stateless"])
def test_predictor_steps_equal_full_sequence(kind):
  cfg = transducer.PredictorConfig(kind=kind, embed_dim=8, hidden=16, dropout=0.0)
  pred = transducer.Predictor(cfg, vocab_size=20)
  labels = jnp.array([[3, 7, 1, 9], [4, 4, 2, 0]])
  params = pred.init(jax.random.PRNGKey(0), labels)
  full = np.asarray(pred.apply(params, labels))
  assert full.shape == (2, 5, 16)
  state = pred.apply(params, 2, method=transducer.Predictor.init_state)
  tok = jnp.zeros((2,), jnp.int32)
  for u in range(5):
    out, state = pred.apply(params, tok, state, method=transducer.Predictor.predict_step)
    np.testing.assert_allclose(np.asarray(out), full[:, u], atol=1e-5)
    if u < 4:
      tok = labels[:, u]


def test_transducer_shapes_and_greedy():
  from asr.decoding import greedy
  cfg = transducer.TransducerConfig(
      encoder=_enc_cfg(), predictor=transducer.PredictorConfig(embed_dim=8, hidden=16),
      joint_dim=24, vocab_size=30)
  model = transducer.Transducer(cfg)
  params = transducer.init_params(cfg, jax.random.PRNGKey(0))
  feats = jnp.zeros((3, 120, 80))
  out = model.apply({"params": params}, feats, jnp.array([120, 100, 50]), jnp.zeros((3, 6), jnp.int32))
  assert out["enc"].shape == (3, int(enc_lib.subsampled_lengths(120, 8)), 24)
  assert out["pred"].shape == (3, 7, 24)
  assert out["enc_lengths"].tolist() == [int(enc_lib.subsampled_lengths(n, 8)) for n in (120, 100, 50)]
  enc, lens = model.apply({"params": params}, feats, jnp.array([120, 100, 50]),
                          method=transducer.Transducer.encode)
  toks = greedy.greedy_search(model, params, enc, lens, max_symbols=2)
  assert toks.shape == (3, enc.shape[1] * 2)


@pytest.mark.parametrize("kernel", [1, 3, 15])
def test_depthwise_conv_equals_grouped_lax_conv(kernel):
  """The shifted-sum depthwise convolution (and its hand-written gradient)
  equals XLA's grouped convolution, which it replaces for speed."""
  b, t, d = 3, 11, 6
  x = jax.random.normal(jax.random.PRNGKey(0), (b, t + kernel - 1, d))
  w = jax.random.normal(jax.random.PRNGKey(1), (kernel, d))
  probe = jax.random.normal(jax.random.PRNGKey(2), (b, t, d))

  def ref(x, w):
    return jax.lax.conv_general_dilated(x, w[:, None], (1,), "VALID",
                                        dimension_numbers=("NWC", "WIO", "NWC"),
                                        feature_group_count=d)

  np.testing.assert_allclose(enc_lib.depthwise_conv1d(x, w), ref(x, w), atol=1e-5)
  loss = lambda f: (lambda x, w: jnp.sum(jnp.tanh(f(x, w)) * probe))
  got = jax.grad(loss(enc_lib.depthwise_conv1d), argnums=(0, 1))(x, w)
  want = jax.grad(loss(ref), argnums=(0, 1))(x, w)
  for g, r in zip(got, want):
    np.testing.assert_allclose(g, r, atol=1e-5)


def test_depthwise_module_keeps_nn_conv_parameters():
  """DepthwiseConv holds nn.Conv's parameters (checkpoints from before the
  change load) and computes the same function."""
  import flax.linen as nn
  x = jax.random.normal(jax.random.PRNGKey(0), (2, 20, 8))
  conv = nn.Conv(8, (5,), padding="VALID", feature_group_count=8)
  p = conv.init(jax.random.PRNGKey(3), x)
  p = jax.tree.map(lambda a: a + 0.1, p)  # non-zero bias
  ours = enc_lib.DepthwiseConv(8, 5)
  q = ours.init(jax.random.PRNGKey(3), x)
  assert jax.tree.map(jnp.shape, p) == jax.tree.map(jnp.shape, q)
  np.testing.assert_allclose(ours.apply(p, x), conv.apply(p, x), atol=1e-5)
