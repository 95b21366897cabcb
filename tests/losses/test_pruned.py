"""Pruned RNN-T loss (asr.losses.pruned) against the full loss."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from asr.losses import pruned
from asr.losses import rnnt


def _case(seed=0, b=3, t=7, u=4, d=6, v=9):
  rng = np.random.default_rng(seed)
  f = lambda *s: jnp.asarray(rng.normal(size=s), jnp.float32)
  enc, pred, w = f(b, t, d), f(b, u + 1, d), f(d, v)
  am, lm = f(b, t, v), f(b, u + 1, v)
  labels = jnp.asarray(rng.integers(1, v, size=(b, u)), jnp.int32)
  t_lens = jnp.array([t, t - 2, 3])[:b]
  u_lens = jnp.array([u, 2, u])[:b]
  joint = lambda e, p: jnp.tanh(e + p) @ w
  return enc, pred, am, lm, joint, labels, t_lens, u_lens


def test_full_band_equals_full_loss():
  enc, pred, am, lm, joint, labels, tl, ul = _case()
  full = lambda e, p: jnp.sum(rnnt.rnnt_loss(joint(e[:, :, None], p[:, None]), labels, tl, ul))
  band = lambda e, p: jnp.sum(pruned.pruned_rnnt_loss(e, p, am, lm, joint, labels, tl, ul,
                                                      s_range=labels.shape[1] + 1)[0])
  np.testing.assert_allclose(band(enc, pred), full(enc, pred), rtol=1e-5)
  for g_band, g_full in zip(jax.grad(band, argnums=(0, 1))(enc, pred),
                            jax.grad(full, argnums=(0, 1))(enc, pred)):
    np.testing.assert_allclose(g_band, g_full, atol=1e-5)


def test_simple_loss_is_the_rnnt_loss_of_the_trivial_joint():
  _, _, am, lm, _, labels, tl, ul = _case(1)
  ref = lambda a, l: jnp.sum(rnnt.rnnt_loss(a[:, :, None] + l[:, None], labels, tl, ul))
  got = lambda a, l: jnp.sum(pruned.simple_loss(a, l, labels, tl, ul)[0])
  np.testing.assert_allclose(got(am, lm), ref(am, lm), rtol=1e-5)
  for g, r in zip(jax.grad(got, argnums=(0, 1))(am, lm), jax.grad(ref, argnums=(0, 1))(am, lm)):
    np.testing.assert_allclose(g, r, atol=1e-5)
  # Occupancy: every frame of a complete alignment is visited once per column
  # it passes, so each valid frame's nodes carry total mass >= 1.
  _, occ = pruned.simple_loss(am, lm, labels, tl, ul)
  for i in range(3):
    per_frame = np.asarray(occ[i, :int(tl[i])]).sum(-1)
    assert (per_frame >= 1 - 1e-4).all(), per_frame


@pytest.mark.parametrize("s_range", [2, 3, 5])
def test_prune_ranges_make_a_connected_band(s_range):
  rng = np.random.default_rng(s_range)
  b, t, u = 6, 12, 7
  occ = jnp.asarray(rng.random((b, t, u + 1)), jnp.float32)
  tl = jnp.asarray(rng.integers(4, t + 1, size=b))
  ul = jnp.asarray([int(rng.integers(0, min(u, (s_range - 1) * int(x) - 1) + 1)) for x in tl])
  s = np.asarray(pruned.prune_ranges(occ, tl, ul, s_range))
  for i in range(b):
    n, m = int(tl[i]), int(ul[i])
    si = s[i, :n]
    assert si[0] == 0
    assert (np.diff(si) >= 0).all() and (np.diff(si) <= s_range - 1).all(), si
    assert si[-1] <= m <= si[-1] + s_range - 1, (si, m)  # the final node
    assert si.min() >= 0 and si.max() <= max(m + 1 - s_range, 0)


def test_narrow_band_scores_a_subset_of_paths():
  enc, pred, am, lm, joint, labels, tl, ul = _case(2)
  full = rnnt.rnnt_loss(joint(enc[:, :, None], pred[:, None]), labels, tl, ul)
  for s_range in (3, 4):
    got, _ = pruned.pruned_rnnt_loss(enc, pred, am, lm, joint, labels, tl, ul, s_range=s_range)
    assert np.all(np.asarray(got) >= np.asarray(full) - 1e-4)  # fewer paths: higher NLL
    assert np.all(np.isfinite(np.asarray(got)))
    g = jax.grad(lambda e: jnp.sum(pruned.pruned_rnnt_loss(
        e, pred, am, lm, joint, labels, tl, ul, s_range=s_range)[0]))(enc)
    assert np.isfinite(np.asarray(g)).all()


def test_band_around_a_peaked_alignment_keeps_the_likelihood():
  """When one alignment carries the lattice's mass, a 2-column band placed
  from its occupancy holds the whole likelihood."""
  t, u, v = 6, 3, 5
  labels = jnp.array([[1, 2, 3]])
  path_t = [0, 2, 4]  # label k emitted at frame path_t[k]
  big = 30.0
  logits = np.full((1, t, u + 1, v), -big, np.float32)
  col = 0
  for ti in range(t):
    while col < u and path_t[col] == ti:
      logits[0, ti, col, int(labels[0, col])] = big
      col += 1
    logits[0, ti, col, 0] = big
  logits = jnp.asarray(logits)
  table = logits[0]
  # enc / pred carry frame / column indices; the joint looks the logits up.
  enc = jnp.arange(t, dtype=jnp.float32)[None, :, None]
  pred = jnp.arange(u + 1, dtype=jnp.float32)[None, :, None]
  joint = lambda e, p: table[e[..., 0].astype(jnp.int32), p[..., 0].astype(jnp.int32)]
  tl, ul = jnp.array([t]), jnp.array([u])
  full = rnnt.rnnt_loss(logits, labels, tl, ul)
  nxt = rnnt._next_labels(labels, ul, v)
  blank, label = rnnt._arc_logprobs(logits, nxt, 0)
  occ = -sum(jax.grad(lambda b, l: jnp.sum(rnnt.rnnt_loss_from_logprobs(b, l, tl, ul)),
                      argnums=(0, 1))(blank, label))
  ranges = pruned.prune_ranges(occ, tl, ul, 2)
  got = pruned.pruned_loss(enc, pred, joint, labels, tl, ul, ranges, 2)
  np.testing.assert_allclose(got, full, atol=1e-3)
  assert float(full[0]) < 1e-3  # the peaked path is (nearly) certain
