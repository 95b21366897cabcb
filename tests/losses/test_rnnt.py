"""Tests for asr.losses.rnnt against enumeration, closed forms and each other."""

import itertools
import math

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from asr.losses import rnnt

# float32 lattice sums of ~20 terms: a few ulps of a loss around 10.
LOSS_ATOL, LOSS_RTOL = 1e-5, 1e-5
GRAD_ATOL = 1e-5


def _log_softmax64(x):
    x = np.asarray(x, np.float64)
    x = x - x.max(-1, keepdims=True)
    return x - np.log(np.exp(x).sum(-1, keepdims=True))


def brute_force_nll(logits, labels, num_frames, num_labels, blank_id=0):
    """-log P(y|x) summed over every alignment, float64. logits [T, U+1, V]."""
    logp = _log_softmax64(logits)
    steps = num_frames - 1 + num_labels  # All but the final blank.
    path_scores = []
    for label_steps in itertools.combinations(range(steps), num_labels):
        t = u = 0
        score = 0.0
        for step in range(steps):
            if step in label_steps:
                score += logp[t, u, labels[u]]
                u += 1
            else:
                score += logp[t, u, blank_id]
                t += 1
        score += logp[num_frames - 1, num_labels, blank_id]
        path_scores.append(score)
    assert len(path_scores) == math.comb(steps, num_labels)
    m = max(path_scores)
    return -(m + math.log(sum(math.exp(s - m) for s in path_scores)))


def _random_batch(seed, batch=3, frames=4, labels=3, vocab=4, blank_id=0):
    rng = np.random.default_rng(seed)
    logits = rng.normal(scale=2.0, size=(batch, frames, labels + 1, vocab))
    non_blank = [v for v in range(vocab) if v != blank_id]
    ys = rng.choice(non_blank, size=(batch, labels)).astype(np.int32)
    logit_lengths = rng.integers(1, frames + 1, size=batch).astype(np.int32)
    label_lengths = rng.integers(0, labels + 1, size=batch).astype(np.int32)
    # Always cover the full lattice once.
    logit_lengths[0], label_lengths[0] = frames, labels
    return (jnp.asarray(logits, jnp.float32), jnp.asarray(ys),
            jnp.asarray(logit_lengths), jnp.asarray(label_lengths))


def _valid_mask(shape, logit_lengths, label_lengths):
    """[B, T, U+1, 1] bool, lattice nodes inside each example."""
    _, frames, cols = shape[:3]
    t = np.arange(frames)[None, :, None]
    u = np.arange(cols)[None, None, :]
    ok = (t < np.asarray(logit_lengths)[:, None, None]) & (
        u <= np.asarray(label_lengths)[:, None, None])
    return ok[..., None]


_loss_fns = {
    "rnnt_loss": jax.jit(rnnt.rnnt_loss, static_argnames="blank_id"),
    "rnnt_loss_naive": jax.jit(rnnt.rnnt_loss_naive, static_argnames="blank_id"),
}


def _grad(loss_fn, logits, labels, logit_lengths, label_lengths, blank_id=0):
    # Distinct weights per example catch cotangents routed to the wrong row.
    weights = jnp.arange(1.0, logits.shape[0] + 1.0)

    def total(x):
        return jnp.sum(weights * loss_fn(x, labels, logit_lengths, label_lengths,
                                         blank_id=blank_id))

    return jax.jit(jax.grad(total))(logits)


@pytest.mark.parametrize("name", sorted(_loss_fns))
@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize("blank_id", [0, 2])
def test_matches_brute_force(name, seed, blank_id):
    logits, labels, logit_lengths, label_lengths = _random_batch(
        seed, blank_id=blank_id)
    got = _loss_fns[name](logits, labels, logit_lengths, label_lengths,
                          blank_id=blank_id)
    assert got.shape == (logits.shape[0],) and got.dtype == jnp.float32
    want = [brute_force_nll(logits[b], labels[b], int(logit_lengths[b]),
                            int(label_lengths[b]), blank_id)
            for b in range(logits.shape[0])]
    np.testing.assert_allclose(got, want, atol=LOSS_ATOL, rtol=LOSS_RTOL)


@pytest.mark.parametrize("frames,labels", [(1, 0), (1, 3), (3, 2), (5, 4)])
def test_closed_form_uniform_binary(frames, labels):
    # V=2, zero logits: every arc has probability 1/2 and every alignment has
    # T + U arcs, so P = C(T-1+U, U) / 2^(T+U).
    logits = jnp.zeros((1, frames, labels + 1, 2))
    ys = jnp.ones((1, labels), jnp.int32)
    want = -(math.log(math.comb(frames - 1 + labels, labels))
             - (frames + labels) * math.log(2.0))
    for fn in _loss_fns.values():
        got = fn(logits, ys, jnp.array([frames]), jnp.array([labels]))
        np.testing.assert_allclose(got, [want], atol=LOSS_ATOL, rtol=LOSS_RTOL)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_custom_vjp_grad_matches_naive_autodiff(seed):
    args = _random_batch(seed, batch=4, frames=6, labels=4, vocab=5)
    got = _grad(rnnt.rnnt_loss, *args)
    want = _grad(rnnt.rnnt_loss_naive, *args)
    assert np.abs(np.asarray(want)).max() > 1e-2  # Not vacuous.
    np.testing.assert_allclose(got, want, atol=GRAD_ATOL, rtol=0)


def test_core_grads_match_autodiff_of_naive_recursion():
    # Arbitrary arc scores (not normalized per node) exercise the custom_vjp
    # directly, without log_softmax's gradient projection hiding errors.
    rng = np.random.default_rng(7)
    blank = jnp.asarray(rng.normal(size=(2, 5, 4)), jnp.float32)
    label = jnp.asarray(rng.normal(size=(2, 5, 4)), jnp.float32)
    lengths = (jnp.array([5, 3]), jnp.array([3, 2]))

    def reference(blank, label):
        # Python-loop alpha over tiny shapes; autodiff gives the reference.
        out = []
        for b in range(2):
            t_len, u_len = int(lengths[0][b]), int(lengths[1][b])
            alpha = {}
            for t in range(t_len):
                for u in range(u_len + 1):
                    terms = []
                    if t == 0 and u == 0:
                        terms.append(jnp.float32(0.0))
                    if t > 0:
                        terms.append(alpha[t - 1, u] + blank[b, t - 1, u])
                    if u > 0:
                        terms.append(alpha[t, u - 1] + label[b, t, u - 1])
                    alpha[t, u] = jax.nn.logsumexp(jnp.stack(terms))
            out.append(-(alpha[t_len - 1, u_len] + blank[b, t_len - 1, u_len]))
        return jnp.stack(out)

    weights = jnp.array([1.0, -2.0])
    f_core = lambda bl, la: jnp.sum(weights * rnnt.rnnt_loss_from_logprobs(
        bl, la, *lengths))
    f_ref = lambda bl, la: jnp.sum(weights * reference(bl, la))
    np.testing.assert_allclose(rnnt.rnnt_loss_from_logprobs(blank, label,
                                                            *lengths),
                               reference(blank, label), atol=1e-5, rtol=1e-6)
    got = jax.grad(f_core, argnums=(0, 1))(blank, label)
    want = jax.grad(f_ref, argnums=(0, 1))(blank, label)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, atol=GRAD_ATOL, rtol=0)


@pytest.mark.parametrize("name", sorted(_loss_fns))
def test_padding_is_ignored(name):
    logits, labels, logit_lengths, label_lengths = _random_batch(
        11, batch=3, frames=5, labels=3, vocab=5)
    rng = np.random.default_rng(12)
    batch, frames, cols, vocab = logits.shape
    # Same lengths, two more frames and labels; junk everywhere outside the
    # valid region, including out-of-range label ids.
    junk = rng.normal(scale=50.0, size=(batch, frames + 2, cols + 2, vocab))
    valid = _valid_mask(logits.shape, logit_lengths, label_lengths)
    padded = np.asarray(junk, np.float32)
    padded[:, :frames, :cols] = np.where(valid, logits, junk[:, :frames, :cols])
    padded_labels = rng.integers(-5, 1000, size=(batch, cols - 1 + 2))
    keep = np.arange(cols - 1)[None] < np.asarray(label_lengths)[:, None]
    padded_labels[:, :cols - 1] = np.where(keep, labels,
                                           padded_labels[:, :cols - 1])
    padded = jnp.asarray(padded)
    padded_labels = jnp.asarray(padded_labels, jnp.int32)

    fn = _loss_fns[name]
    np.testing.assert_allclose(
        fn(padded, padded_labels, logit_lengths, label_lengths),
        fn(logits, labels, logit_lengths, label_lengths), atol=1e-6, rtol=1e-6)

    loss_fn = getattr(rnnt, name)
    g = np.asarray(_grad(loss_fn, logits, labels, logit_lengths, label_lengths))
    g_pad = np.asarray(_grad(loss_fn, padded, padded_labels, logit_lengths,
                             label_lengths))
    np.testing.assert_allclose(g_pad[:, :frames, :cols] * valid, g * valid,
                               atol=1e-6, rtol=0)
    padded_valid = _valid_mask(g_pad.shape, logit_lengths, label_lengths)
    assert np.all(g_pad[~np.broadcast_to(padded_valid, g_pad.shape)] == 0.0)
    assert np.all(g[~np.broadcast_to(valid, g.shape)] == 0.0)


def test_edge_lengths_under_jit():
    # U = 0 (no labels at all): P = prod_t P(blank | t, 0).
    rng = np.random.default_rng(3)
    logits = jnp.asarray(rng.normal(size=(3, 4, 1, 3)), jnp.float32)
    labels = jnp.zeros((3, 0), jnp.int32)
    logit_lengths = jnp.array([4, 2, 1])
    label_lengths = jnp.array([0, 0, 0])
    logp = _log_softmax64(logits)[:, :, 0, 0]
    want = [-logp[b, :int(logit_lengths[b])].sum() for b in range(3)]
    for name, fn in _loss_fns.items():
        got = fn(logits, labels, logit_lengths, label_lengths)
        np.testing.assert_allclose(got, want, atol=LOSS_ATOL, rtol=LOSS_RTOL,
                                   err_msg=name)
        g = _grad(getattr(rnnt, name), logits, labels, logit_lengths,
                  label_lengths)
        assert np.all(np.isfinite(g)), name

    # T_b == U_b, T_b == 1 with labels, U_b == 0 beside full-length rows.
    logits, labels, _, _ = _random_batch(5, batch=4, frames=3, labels=3)
    logit_lengths = jnp.array([3, 1, 2, 3])
    label_lengths = jnp.array([3, 3, 0, 0])
    got = _loss_fns["rnnt_loss"](logits, labels, logit_lengths, label_lengths)
    want = [brute_force_nll(logits[b], labels[b], int(logit_lengths[b]),
                            int(label_lengths[b])) for b in range(4)]
    np.testing.assert_allclose(got, want, atol=LOSS_ATOL, rtol=LOSS_RTOL)
    g = _grad(rnnt.rnnt_loss, logits, labels, logit_lengths, label_lengths)
    g_ref = _grad(rnnt.rnnt_loss_naive, logits, labels, logit_lengths,
                  label_lengths)
    assert np.all(np.isfinite(g))
    np.testing.assert_allclose(g, g_ref, atol=GRAD_ATOL, rtol=0)


class _Joint(nn.Module):
    hidden: int
    vocab: int

    @nn.compact
    def __call__(self, enc, pred):
        h = nn.Dense(self.hidden)(enc) + nn.Dense(self.hidden,
                                                  use_bias=False)(pred)
        return nn.Dense(self.vocab)(jnp.tanh(h))


@pytest.mark.parametrize("time_chunk", [4, 32])
def test_fused_matches_full(time_chunk):
    batch, frames, labels_len, vocab = 3, 13, 4, 6  # 13 % 4 != 0.
    rng = np.random.default_rng(21)
    enc = jnp.asarray(rng.normal(size=(batch, frames, 5)), jnp.float32)
    pred = jnp.asarray(rng.normal(size=(batch, labels_len + 1, 7)), jnp.float32)
    labels = jnp.asarray(rng.integers(1, vocab, size=(batch, labels_len)),
                         jnp.int32)
    logit_lengths = jnp.array([13, 9, 4])
    label_lengths = jnp.array([4, 2, 0])
    joint = _Joint(hidden=8, vocab=vocab)
    params = joint.init(jax.random.key(0), enc[:, :, None], pred[:, None])
    weights = jnp.array([1.0, 0.5, 2.0])

    def full(params, enc, pred):
        logits = joint.apply(params, enc[:, :, None], pred[:, None])
        assert logits.shape == (batch, frames, labels_len + 1, vocab)
        loss = rnnt.rnnt_loss(logits, labels, logit_lengths, label_lengths,
                              blank_id=1)
        return jnp.sum(weights * loss), loss

    def fused(params, enc, pred):
        loss = rnnt.rnnt_loss_fused(
            enc, pred, lambda e, p: joint.apply(params, e, p), labels,
            logit_lengths, label_lengths, blank_id=1, time_chunk=time_chunk)
        return jnp.sum(weights * loss), loss

    grad_fn = lambda f: jax.jit(jax.grad(f, argnums=(0, 1, 2), has_aux=True))
    g_full, loss_full = grad_fn(full)(params, enc, pred)
    g_fused, loss_fused = grad_fn(fused)(params, enc, pred)
    np.testing.assert_allclose(loss_fused, loss_full, atol=1e-5, rtol=1e-6)
    flat_full = jax.tree_util.tree_leaves_with_path(g_full)
    flat_fused = jax.tree_util.tree_leaves(g_fused)
    # 5 parameter leaves (two biased Dense, one bias-free) + enc + pred.
    assert len(flat_full) == len(flat_fused) == 7
    for (path, a), b in zip(flat_full, flat_fused):
        assert np.abs(np.asarray(a)).max() > 1e-3, path  # Not vacuous.
        # 1e-5 absolute, or 1e-6 relative for the large summed bias
        # gradients (|g| ~ 20: float32 rounding in a different summation order).
        np.testing.assert_allclose(b, a, atol=1e-5, rtol=1e-6,
                                   err_msg=jax.tree_util.keystr(path))
    # Padded frames get no encoder gradient.
    assert np.all(np.asarray(g_fused[1])[2, 4:] == 0.0)


# --- one-symbol-per-frame ("modified") lattice ---------------------------------


def _modified_brute_force(logits, labels, t_len, u_len, blank=0):
    """Sum over every choice of which U frames emit the labels."""
    logp = np.asarray(jax.nn.log_softmax(jnp.asarray(logits, jnp.float64), axis=-1))
    total = -np.inf
    for frames in itertools.combinations(range(t_len), u_len):
        u, lp = 0, 0.0
        for t in range(t_len):
            if t in frames:
                lp += logp[t, u, labels[u]]
                u += 1
            else:
                lp += logp[t, u, blank]
        total = np.logaddexp(total, lp)
    return -total


def test_modified_lattice_equals_brute_force():
    rng = np.random.default_rng(7)
    b, t, u, v = 3, 5, 3, 4
    logits = rng.standard_normal((b, t, u + 1, v)).astype(np.float32)
    labels = rng.integers(1, v, (b, u)).astype(np.int32)
    t_lens = np.array([5, 4, 3], np.int32)
    u_lens = np.array([3, 2, 3], np.int32)
    got = np.asarray(rnnt.rnnt_loss(logits, labels, t_lens, u_lens, rnnt_type="modified"))
    for i in range(b):
        want = _modified_brute_force(logits[i], labels[i], t_lens[i], u_lens[i])
        np.testing.assert_allclose(got[i], want, rtol=1e-5, atol=1e-5)


def test_modified_infeasible_is_zero_and_fused_agrees():
    rng = np.random.default_rng(8)
    b, t, u, v, d = 2, 6, 4, 5, 3
    enc = rng.standard_normal((b, t, d)).astype(np.float32)
    pred = rng.standard_normal((b, u + 1, d)).astype(np.float32)
    w = rng.standard_normal((d, v)).astype(np.float32)
    joint = lambda e, p: jnp.tanh(e + p) @ w
    labels = rng.integers(1, v, (b, u)).astype(np.int32)
    t_lens = np.array([6, 3], np.int32)
    u_lens = np.array([4, 4], np.int32)  # second example: 4 labels in 3 frames
    full = rnnt.rnnt_loss(joint(enc[:, :, None], pred[:, None]), labels, t_lens, u_lens,
                          rnnt_type="modified")
    fused = rnnt.rnnt_loss_fused(enc, pred, joint, labels, t_lens, u_lens, time_chunk=4,
                                 rnnt_type="modified")
    np.testing.assert_allclose(np.asarray(full), np.asarray(fused), rtol=1e-5)
    assert float(full[1]) == 0.0 and float(full[0]) > 0
    g = jax.grad(lambda e: rnnt.rnnt_loss_fused(e, pred, joint, labels, t_lens, u_lens,
                                                time_chunk=4, rnnt_type="modified").sum())(enc)
    assert np.all(np.isfinite(np.asarray(g))) and np.all(np.asarray(g)[1] == 0)


# --- FastEmit -----------------------------------------------------------------


@pytest.mark.parametrize("rnnt_type", ["regular", "modified"])
def test_fastemit_scales_label_arc_gradients(rnnt_type):
    """Same loss value; d/dlogits is the log-softmax VJP of the plain lattice
    gradient with the label-arc part multiplied by (1 + lambda)."""
    lam = 0.5
    logits, labels, t_lens, u_lens = _random_batch(11, batch=3, frames=6, labels=3, vocab=5)
    if rnnt_type == "modified":
        t_lens = jnp.maximum(t_lens, u_lens)
    plain = rnnt.rnnt_loss(logits, labels, t_lens, u_lens, rnnt_type=rnnt_type)
    fe = rnnt.rnnt_loss(logits, labels, t_lens, u_lens, rnnt_type=rnnt_type, fastemit_lambda=lam)
    np.testing.assert_allclose(fe, plain, rtol=1e-6)
    nxt = rnnt._next_labels(labels, u_lens, logits.shape[-1])
    (blank, label), arc_vjp = jax.vjp(lambda x: rnnt._arc_logprobs(x, nxt, 0), logits)
    g_blank, g_label = jax.grad(
        lambda b, l: jnp.sum(rnnt._from_logprobs(rnnt_type)(b, l, t_lens, u_lens)),
        argnums=(0, 1))(blank, label)
    want = arc_vjp((g_blank, (1 + lam) * g_label))[0]
    got = jax.grad(lambda x: jnp.sum(rnnt.rnnt_loss(
        x, labels, t_lens, u_lens, rnnt_type=rnnt_type, fastemit_lambda=lam)))(logits)
    np.testing.assert_allclose(got, want, atol=GRAD_ATOL)
    base = jax.grad(lambda x: jnp.sum(rnnt.rnnt_loss(x, labels, t_lens, u_lens,
                                                     rnnt_type=rnnt_type)))(logits)
    assert np.abs(np.asarray(got) - np.asarray(base)).max() > 1e-3  # it does something


def test_fastemit_fused_equals_full():
    rng = np.random.default_rng(5)
    b, t, u, d, v = 2, 9, 4, 6, 7
    enc = jnp.asarray(rng.normal(size=(b, t, d)), jnp.float32)
    pred = jnp.asarray(rng.normal(size=(b, u + 1, d)), jnp.float32)
    w = jnp.asarray(rng.normal(size=(d, v)), jnp.float32)
    joint = lambda e, p: jnp.tanh(e + p) @ w
    labels = jnp.asarray(rng.integers(1, v, size=(b, u)), jnp.int32)
    t_lens, u_lens = jnp.array([9, 6]), jnp.array([4, 2])
    full = lambda e: jnp.sum(rnnt.rnnt_loss(joint(e[:, :, None], pred[:, None]), labels, t_lens,
                                            u_lens, fastemit_lambda=0.3))
    fused = lambda e: jnp.sum(rnnt.rnnt_loss_fused(e, pred, joint, labels, t_lens, u_lens,
                                                   time_chunk=4, fastemit_lambda=0.3))
    np.testing.assert_allclose(fused(enc), full(enc), rtol=1e-5)
    np.testing.assert_allclose(jax.grad(fused)(enc), jax.grad(full)(enc), atol=GRAD_ATOL)


def _mean_emission_frame(logits, labels, t_lens, u_lens):
    """Posterior-expected frame of the label emissions (lattice occupancy)."""
    nxt = rnnt._next_labels(labels, u_lens, logits.shape[-1])
    blank, label = rnnt._arc_logprobs(logits, nxt, 0)
    occ = -jax.grad(lambda l: jnp.sum(rnnt.rnnt_loss_from_logprobs(blank, l, t_lens, u_lens)))(label)
    frames = jnp.arange(logits.shape[1])[None, :, None]
    return float(jnp.sum(occ * frames) / jnp.sum(occ))


def test_fastemit_moves_emissions_earlier():
    """Gradient descent with FastEmit leaves the labels' expected emission
    frame earlier than the same descent without it."""
    logits, labels, t_lens, u_lens = _random_batch(3, batch=4, frames=10, labels=3, vocab=5)
    t_lens = jnp.full_like(t_lens, 10)
    u_lens = jnp.full_like(u_lens, 3)
    before = _mean_emission_frame(logits, labels, t_lens, u_lens)

    def trained(lam, steps=30):
        grad = jax.jit(jax.grad(lambda x: jnp.sum(rnnt.rnnt_loss(x, labels, t_lens, u_lens,
                                                                 fastemit_lambda=lam))))
        x = logits
        for _ in range(steps):
            x = x - 0.5 * grad(x)
        return _mean_emission_frame(x, labels, t_lens, u_lens)

    plain, fast = trained(0.0), trained(4.0)
    assert fast < plain - 0.2, (before, plain, fast)


def test_fastemit_rejects_negative_lambda():
    logits, labels, t_lens, u_lens = _random_batch(0)
    with pytest.raises(ValueError, match="fastemit_lambda"):
        rnnt.rnnt_loss(logits, labels, t_lens, u_lens, fastemit_lambda=-0.1)
