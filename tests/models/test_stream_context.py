"""Stream context in the encoder: request-only outputs, batching of different
wake lengths, streaming over [context; request] equals the full run; the same
with the context anchor (FiLM by the pooled context), whose reach goes past
the attention's left context."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from asr.models import encoder as enc_lib

CHUNK, FACTOR = 2, 8
Q = CHUNK * FACTOR  # feature frames per chunk


def _cfg(kind="conformer", anchor=False):
  return enc_lib.EncoderConfig(kind=kind, num_layers=2, dim=32, num_heads=2, ffn_mult=2,
                               conv_kernel=5, subsample_channels=8, subsample_factor=FACTOR,
                               chunk_size=CHUNK, left_context=6, dropout=0.0,
                               context_anchor=anchor, anchor_block=0)


def _setup(kind="conformer", anchor=False):
  cfg = _cfg(kind, anchor)
  model = enc_lib.Encoder(cfg)
  rng = np.random.default_rng(0)
  req = jnp.asarray(rng.standard_normal((2, 90, 80)), jnp.float32)
  wake = jnp.asarray(rng.standard_normal((2, 4 * Q, 80)), jnp.float32)
  params = model.init(jax.random.PRNGKey(0), req, jnp.array([90, 90]))
  if anchor:  # the FiLM starts as the identity: give it weights that matter
    film = params["params"]["anchor_film1"]["proj"]
    film["kernel"] = jnp.asarray(0.3 * rng.standard_normal(film["kernel"].shape), jnp.float32)
  return cfg, model, params, req, wake


def _right_aligned(wake, lengths, tw):
  """wake [B, >=tw, F] -> [B, tw, F] with each row's last ``lengths`` frames kept."""
  out = np.zeros((wake.shape[0], tw, wake.shape[2]), np.float32)
  for b, n in enumerate(lengths):
    if n:
      out[b, tw - n:] = np.asarray(wake)[b, -n:]
  return jnp.asarray(out)


def test_outputs_cover_the_request_only_and_depend_on_context():
  cfg, model, params, req, wake = _setup()
  lengths = jnp.array([90, 61])
  plain, plain_len = model.apply(params, req, lengths)
  ctx, ctx_len = model.apply(params, req, lengths, False, (wake, jnp.array([4 * Q, 2 * Q])))
  assert ctx.shape == plain.shape and ctx_len.tolist() == plain_len.tolist()
  for b in range(2):  # padding stays zero; context changes the request's first frames
    n = int(plain_len[b])
    assert np.all(np.asarray(ctx[b, n:]) == 0)
    assert np.abs(np.asarray(ctx[b, :2]) - np.asarray(plain[b, :2])).max() > 1e-3
  # Zero valid context frames (all masked padding) is the plain run.
  none, _ = model.apply(params, req, lengths, False, (wake, jnp.array([0, 0])))
  np.testing.assert_allclose(np.asarray(none), np.asarray(plain), atol=1e-5)


@pytest.mark.parametrize("anchor", [False, True])
def test_batched_wake_lengths_equal_single_runs(anchor):
  cfg, model, params, req, wake = _setup(anchor=anchor)
  lengths = jnp.array([90, 75])
  wl = [4 * Q, Q]
  batch, _ = model.apply(params, req, lengths, False,
                         (_right_aligned(wake, wl, 4 * Q), jnp.array(wl)))
  for b in range(2):
    one, n = model.apply(params, req[b:b + 1], lengths[b:b + 1], False,
                         (wake[b:b + 1, -wl[b]:], jnp.array([wl[b]])))
    np.testing.assert_allclose(np.asarray(batch[b, :int(n[0])]), np.asarray(one[0, :int(n[0])]),
                               atol=2e-5, rtol=1e-4)


def test_wake_must_be_whole_chunks():
  cfg, model, params, req, wake = _setup()
  with pytest.raises(ValueError, match="multiple"):
    model.apply(params, req, jnp.array([90, 90]), False, (wake[:, :Q + 8], jnp.array([8, 8])))


def test_frame_aligned_wake_lengths_batch_as_single_runs():
  """Contexts of whole encoder frames (data.stream_context.align="frame"):
  the masked padding in front of a partial first chunk changes nothing."""
  cfg, model, params, req, wake = _setup()
  lengths = jnp.array([90, 75])
  wl = [3 * Q + FACTOR, 3 * FACTOR]  # not whole chunks
  batch, _ = model.apply(params, req, lengths, False,
                         (_right_aligned(wake, wl, 4 * Q), jnp.array(wl)))
  for b in range(2):  # alone, padded only to its own whole chunks
    tw = -(-wl[b] // Q) * Q
    one, n = model.apply(params, req[b:b + 1], lengths[b:b + 1], False,
                         (_right_aligned(wake[b:b + 1], wl[b:b + 1], tw), jnp.array([wl[b]])))
    np.testing.assert_allclose(np.asarray(batch[b, :int(n[0])]), np.asarray(one[0, :int(n[0])]),
                               atol=2e-5, rtol=1e-4)
  # The first context frames matter: dropping one encoder frame of context changes the output.
  short, _ = model.apply(params, req, lengths, False,
                         (_right_aligned(wake, wl, 4 * Q), jnp.array(wl) - FACTOR))
  assert np.abs(np.asarray(short[:, :2]) - np.asarray(batch[:, :2])).max() > 1e-4


@pytest.mark.parametrize("kind,anchor,wl", [
    ("conformer", False, (3 * Q, 2 * Q)), ("transformer", False, (3 * Q, 2 * Q)),
    ("conformer", True, (3 * Q, 2 * Q)),
    # Frame-aligned contexts: the stream starts with masked padding (lead_pad).
    ("conformer", False, (2 * Q + FACTOR, 3 * FACTOR)), ("conformer", True, (Q + FACTOR, FACTOR)),
    ("transformer", False, (3 * Q + FACTOR, 2 * Q - FACTOR))])
def test_streaming_with_context_equals_full_run(kind, anchor, wl):
  cfg, model, params, req, wake = _setup(kind, anchor)
  lengths = jnp.array([90, 67])
  full, full_len = model.apply(params, req, lengths, False,
                               (_right_aligned(wake, wl, 4 * Q), jnp.array(wl)))
  win, hop = enc_lib.stream_window(cfg), FACTOR * CHUNK
  fn = jax.jit(lambda p, w, n, s: model.apply(p, w, n, s, method=enc_lib.Encoder.stream))
  for b in range(2):  # each stream: padding to whole chunks, its context, then the request
    pad = -wl[b] % Q
    seq = jnp.concatenate([jnp.zeros((1, pad, 80)), wake[b:b + 1, -wl[b]:],
                           req[b:b + 1, :int(lengths[b])]], axis=1)
    ctx = (pad + wl[b]) // FACTOR  # context encoder frames, padding included
    total = int(enc_lib.subsampled_lengths(seq.shape[1], FACTOR))
    n_chunks = -(-total // CHUNK)
    seq = jnp.concatenate([seq, jnp.zeros((1, n_chunks * hop + win, 80))], axis=1)
    state = enc_lib.init_stream_state(cfg, 1, 80)
    state["lead_pad"] = jnp.array([pad // FACTOR], jnp.int32)
    if anchor:
      state["context_left"] = jnp.array([ctx], jnp.int32)
    outs = []
    for c in range(n_chunks):
      nv = jnp.array([min(CHUNK, total - c * CHUNK)])
      out, state = fn(params, seq[:, c * hop:c * hop + win], nv, state)
      outs.append(np.asarray(out[0]))
    assert int(state["lead_pad"][0]) == 0
    if pad:  # the padding frames are masked: zero output
      assert np.all(outs[0][:pad // FACTOR] == 0)
    stream = np.concatenate(outs)[ctx:]  # drop the context frames
    n = int(full_len[b])
    assert total - ctx == n
    np.testing.assert_allclose(stream[:n], np.asarray(full[b, :n]), atol=2e-5, rtol=1e-4)


def test_anchor_reaches_past_the_left_context_and_is_identity_without_context():
  _, plain_model, plain_params, _, wake = _setup()
  cfg, model, params, _, _ = _setup(anchor=True)
  # 37 encoder frames: the last ones lie beyond the plain model's reach of
  # 2 blocks x (left_context 6 + chunk 2 + conv kernel 4) frames.
  req = jnp.asarray(np.random.default_rng(1).standard_normal((2, 300, 80)), jnp.float32)
  lengths = jnp.array([300, 300])
  w = (wake, jnp.array([4 * Q, 4 * Q]))
  plain_ctx, _ = plain_model.apply(plain_params, req, lengths, False, w)
  anchored, n = model.apply(params, req, lengths, False, w)
  # left_context = 6 frames: the plain model's last request frames never see
  # the context (equal to its run without context); the anchored ones do.
  plain_none, _ = plain_model.apply(plain_params, req, lengths)
  late = slice(int(n[0]) - 2, int(n[0]))
  np.testing.assert_allclose(np.asarray(plain_ctx[:, late]), np.asarray(plain_none[:, late]),
                             atol=1e-5)
  shared = {k: v for k, v in params["params"].items() if k in plain_params["params"]}
  assert set(shared) == set(plain_params["params"])  # the anchor adds parameters only
  assert np.abs(np.asarray(anchored[:, late]) - np.asarray(plain_ctx[:, late])).max() > 1e-3
  # Another context voice changes the late frames too.
  other, _ = model.apply(params, req, lengths, False, (wake[::-1], w[1]))
  assert np.abs(np.asarray(other[:, late]) - np.asarray(anchored[:, late])).max() > 1e-3
  # No context: the FiLM is the identity, the model is the plain encoder.
  none, _ = model.apply(params, req, lengths)
  zero, _ = model.apply(params, req, lengths, False, (wake, jnp.array([0, 0])))
  plain_same = plain_model.apply({"params": shared}, req, lengths)[0]
  np.testing.assert_allclose(np.asarray(none), np.asarray(plain_same), atol=1e-5)
  np.testing.assert_allclose(np.asarray(zero), np.asarray(plain_same), atol=1e-5)


def test_anchor_block_must_leave_a_block_to_modulate():
  cfg = dataclasses.replace(_cfg(anchor=True), anchor_block=1)
  with pytest.raises(ValueError, match="anchor_block"):
    enc_lib.Encoder(cfg).init(jax.random.PRNGKey(0), jnp.zeros((1, 40, 80)), jnp.array([40]))
