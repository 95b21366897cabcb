"""Branching encoder: streaming equals the full run, cheap chunks skip the
expensive branch, the compute cost, the router trained with a large lambda."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from asr.models import branching
from asr.models import encoder as enc_lib
from tests import tiny_models


def _cfg(chunk=2, layers=1, expensive=2, threshold=0.5, cross_chunk=False, feature_router=False,
         cheap_carry=False, router_level=False, router_context=0, router_per_frame=False,
         onset_backfill=False):
  return enc_lib.EncoderConfig(
      num_layers=layers, dim=32, num_heads=2, ffn_mult=2, conv_kernel=5, subsample_channels=8,
      chunk_size=chunk, left_context=4, dropout=0.0,
      branching=branching.BranchingConfig(enabled=True, expensive_layers=expensive, cheap_rank=4,
                                          router_hidden=8, threshold=threshold,
                                          cross_chunk=cross_chunk or feature_router,
                                          feature_router=feature_router,
                                          cheap_carry=cheap_carry,
                                          router_level=router_level,
                                          router_context=router_context,
                                          router_per_frame=router_per_frame,
                                          onset_backfill=onset_backfill))


def _init(cfg, t=101, b=2, seed=0):
  model = enc_lib.Encoder(cfg)
  feats = jnp.asarray(np.random.default_rng(seed).standard_normal((b, t, 80)), jnp.float32)
  params = model.init(jax.random.PRNGKey(0), feats, jnp.full((b,), t))
  return model, params, feats


def _force(params, route: int):
  """Router output biased so that every chunk takes ``route`` (1 = expensive)."""
  p = jax.tree_util.tree_map(lambda x: x, params)
  logits = p["params"]["router"]["logits"]
  logits["kernel"] = jnp.zeros_like(logits["kernel"])
  logits["bias"] = jnp.array([0.0, 20.0]) if route else jnp.array([20.0, 0.0])
  return p


def _stream(model, params, feats, lengths, cfg, force_route=None, fn=None):
  """Chunk-by-chunk run; returns (outputs [B, T', D], routes [B, chunks])."""
  b = feats.shape[0]
  f = cfg.subsample_factor
  win, hop = enc_lib.stream_window(cfg), f * cfg.chunk_size
  n_out = int(enc_lib.subsampled_lengths(lengths, f).max())
  n_chunks = -(-n_out // cfg.chunk_size)
  padded = jnp.concatenate([feats, jnp.zeros((b, n_chunks * hop + win, 80))], axis=1)
  state = enc_lib.init_stream_state(cfg, b, 80)
  fn = fn or jax.jit(lambda p, w, n, s: model.apply(p, w, n, s, force_route,
                                                    method=enc_lib.Encoder.stream))
  full_len = enc_lib.subsampled_lengths(lengths, f)
  outs, routes = [], []
  for c in range(n_chunks):
    num_valid = jnp.clip(full_len - c * cfg.chunk_size, 0, cfg.chunk_size)
    out, state = fn(params, padded[:, c * hop:c * hop + win], num_valid, state)
    outs.append(np.asarray(out))
    routes.append(np.asarray(state["route"]))
  return np.concatenate(outs, axis=1), np.stack(routes, axis=1)


def _mixing(cfg, params, feats, lengths):
  """The config with its threshold at the median router probability over the
  valid chunks, so that a randomly initialized router mixes both branches."""
  model = enc_lib.Encoder(cfg)
  _, _, r = model.apply(params, feats, lengths, method=enc_lib.Encoder.forward)
  p = np.asarray(branching.p_expensive(r["logits"]))[np.asarray(r["valid"])]
  thr = float(np.sort(p)[len(p) // 2 - 1] + np.sort(p)[len(p) // 2]) / 2
  cfg = dataclasses.replace(cfg, branching=dataclasses.replace(cfg.branching, threshold=thr))
  return enc_lib.Encoder(cfg), cfg


def _check_streaming_equals_full_run(cfg, t=101, mixing=True):
  """Batch 2 (lengths t and 70) at a threshold that mixes the branches (or,
  ``mixing`` off, at the config's own): streaming outputs and routes equal
  the full run's. Returns (model, params, feats, lengths, cfg at that
  threshold)."""
  model, params, feats = _init(cfg, t=t)
  lengths = jnp.array([t, 70])
  if mixing:
    model, cfg = _mixing(cfg, params, feats, lengths)
  _assert_stream_equals_full(model, params, feats, lengths, cfg)
  return model, params, feats, lengths, cfg


def _assert_stream_equals_full(model, params, feats, lengths, cfg):
  """Streaming outputs and routes equal the full run's (batch 2, mixed
  routes); returns the full run's output."""
  full, full_len, routing = model.apply(params, feats, lengths, method=enc_lib.Encoder.forward)
  stream, routes = _stream(model, params, feats, lengths, cfg)
  for b in range(2):
    n = int(full_len[b])
    np.testing.assert_allclose(stream[b, :n], np.asarray(full)[b, :n], atol=2e-5, rtol=1e-4)
    nc = -(-n // cfg.chunk_size)
    assert routes[b, :nc].tolist() == np.asarray(routing["expensive"])[b, :nc].astype(int).tolist()
  mixed = np.asarray(routing["expensive"])[np.asarray(routing["valid"])]
  assert 0 < mixed.mean() < 1, "random router should mix branches"
  return np.asarray(full)


ROUTED = [(False, 1, False), (True, 1, False), (True, 0, False), (True, 0, True)]


@pytest.mark.parametrize("cross_chunk,layers,feature_router", ROUTED)
def test_streaming_equals_full_run_with_routing(cross_chunk, layers, feature_router):
  """Batch 2 with mixed routes: with cross_chunk the expensive path also
  writes fallback keys/values for the row that chose the cheap branch;
  layers=0: no trunk, the router reads the subsampling output;
  feature_router: it reads the feature projection, and cheap chunks are
  masked out of the expensive blocks' caches."""
  _check_streaming_equals_full_run(
      _cfg(cross_chunk=cross_chunk, layers=layers, feature_router=feature_router))


def test_branches_differ_and_forcing_picks_them():
  cfg = _cfg()
  model, params, feats = _init(cfg, b=1)
  lengths = jnp.array([101])
  outs = {}
  for r in (0, 1):
    outs[r], routes = _stream(model, _force(params, r), feats, lengths, cfg)
    assert set(routes.ravel().tolist()) <= {r} and routes.sum() == r * routes.size
    forced, _ = _stream(model, params, feats, lengths, cfg, force_route=r)
    np.testing.assert_allclose(forced, outs[r], atol=1e-5)
  assert np.abs(outs[0] - outs[1]).max() > 1e-2


@pytest.mark.parametrize("cross_chunk,layers,feature_router", ROUTED)
def test_cheap_chunks_do_not_execute_the_expensive_branch(monkeypatch, cross_chunk, layers,
                                                         feature_router):
  """Counts executions of the expensive branch with a host callback inside it."""
  cfg = _cfg(cross_chunk=cross_chunk, layers=layers, feature_router=feature_router)
  model, params, feats = _init(cfg, b=1)
  lengths = jnp.array([101])
  model, cfg = _mixing(cfg, params, feats, lengths)
  calls = tiny_models.count_expensive_calls(monkeypatch)
  results = {}
  for name, p in (("router", params), ("cheap", _force(params, 0)), ("expensive", _force(params, 1))):
    calls.clear()
    fn = jax.jit(lambda p, w, n, s: model.apply(p, w, n, s, method=enc_lib.Encoder.stream))
    _, routes = _stream(model, p, feats, lengths, cfg, fn=fn)
    jax.effects_barrier()
    results[name] = (len(calls), int(routes.sum()), routes.size)
  assert results["cheap"][0] == 0
  assert results["expensive"][0] == results["expensive"][2]
  n_calls, n_exp, n = results["router"]
  assert n_calls == n_exp and 0 < n_exp < n  # executed exactly for the expensive chunks


def _stream_jaxpr(model, params, cfg):
  """The traced batch-1 streaming step."""
  win = enc_lib.stream_window(cfg)
  state = enc_lib.init_stream_state(cfg, 1, 80)
  return jax.make_jaxpr(lambda p, w, n, s: model.apply(p, w, n, s, method=enc_lib.Encoder.stream))(
      params, jnp.zeros((1, win, 80)), jnp.array([cfg.chunk_size]), state)


def count(jx, prim):
  """Equations of primitive ``prim`` in a jaxpr, sub-jaxprs included."""
  n = 0
  for eqn in jx.eqns:
    n += eqn.primitive.name == prim
    for sub in jax.core.jaxprs_in_params(eqn.params):
      n += count(sub, prim)
  return n


def test_stream_program_conditions_on_the_route():
  """The traced streaming step holds a ``cond`` whose taken branch alone has
  the expensive blocks' attention."""
  cfg = _cfg()
  model, params, _ = _init(cfg, b=1)
  jaxpr = _stream_jaxpr(model, params, cfg)
  conds = [e for e in jaxpr.jaxpr.eqns if e.primitive.name == "cond"]
  assert len(conds) == 1
  cheap, expensive = (count(b.jaxpr, "dot_general") for b in conds[0].params["branches"])
  # Each expensive block: ff1 (2), qkv, 2 attention einsums, out, pw1, pw2, ff2 (2) = 10;
  # the cheap branch is the low-rank layer's two matrices.
  assert expensive >= 10 * cfg.branching.expensive_layers and cheap == 2


@pytest.mark.parametrize("layers,feature_router", [(1, False), (0, False), (0, True)])
def test_cross_chunk_all_expensive_is_the_plain_encoder(layers, feature_router):
  """Every chunk expensive with cross_chunk = the plain encoder of
  num_layers + expensive_layers blocks on the same parameters (full run and
  streaming); chunk-local expensive blocks differ from it. layers=0: the
  whole plain stack is the expensive branch."""
  cfg = _cfg(cross_chunk=True, layers=layers, feature_router=feature_router)
  _, params, feats = _init(cfg)
  lengths = jnp.array([101, 70])
  forced = _force(params, 1)
  plain_cfg = dataclasses.replace(cfg, num_layers=layers + 2, branching=branching.BranchingConfig())
  plain = enc_lib.Encoder(plain_cfg)
  pp = {"params": {k: v for k, v in params["params"].items()
                   if k not in ("router", "cheap", "cheap_in")}}
  ref, ref_len = plain.apply(pp, feats, lengths)
  out, out_len = enc_lib.Encoder(cfg).apply(forced, feats, lengths)
  np.testing.assert_array_equal(np.asarray(out_len), np.asarray(ref_len))
  for b in range(2):
    n = int(ref_len[b])
    np.testing.assert_allclose(np.asarray(out)[b, :n], np.asarray(ref)[b, :n], atol=1e-5, rtol=1e-4)
  stream, _ = _stream(enc_lib.Encoder(cfg), forced, feats, lengths, cfg)
  n = int(ref_len[0])
  np.testing.assert_allclose(stream[0, :n], np.asarray(ref)[0, :n], atol=2e-5, rtol=1e-4)
  local = _cfg(cross_chunk=False, layers=layers)
  out_local, _ = enc_lib.Encoder(local).apply(forced, feats, lengths)
  assert np.abs(np.asarray(out_local)[0, :n] - np.asarray(ref)[0, :n]).max() > 1e-2


def test_cross_chunk_expensive_chunks_see_skipped_chunks():
  """With cross_chunk an expensive chunk's output depends on the audio of an
  earlier chunk that took the cheap branch (through its fallback keys);
  chunk-local expensive blocks do not."""
  feats = np.random.default_rng(1).standard_normal((1, 101, 80)).astype(np.float32)
  lengths = jnp.array([101])
  changed = feats.copy()
  changed[0, 16:32] += 3.0  # feature frames of encoder chunk 1 (x8 subsampling, chunks of 2)
  diffs = {}
  for cross in (False, True):
    cfg = _cfg(cross_chunk=cross)
    model, params, _ = _init(cfg, b=1)
    p = jax.tree_util.tree_map(lambda x: x, params)
    # Route on the chunk's trunk output would change with the audio; fix the
    # routes instead: chunk 1 cheap, chunks 2+ expensive, via the threshold.
    stream_fn = jax.jit(lambda pr, w, n, s, r: model.apply(pr, w, n, s, r,
                                                           method=enc_lib.Encoder.stream),
                        static_argnums=4)
    outs = []
    for f in (feats, changed):
      f = jnp.asarray(f)
      win, hop = enc_lib.stream_window(cfg), 8 * cfg.chunk_size
      padded = jnp.concatenate([f, jnp.zeros((1, 6 * hop + win, 80))], axis=1)
      state = enc_lib.init_stream_state(cfg, 1, 80)
      chunks = []
      for c in range(6):
        route = 0 if c == 1 else 1
        out, state = stream_fn(p, padded[:, c * hop:c * hop + win], jnp.array([2]), state, route)
        chunks.append(np.asarray(out))
        if cross and c in (0, 1):
          conv = np.asarray(state["exp_layers"][0]["conv"][:, -2:])
          keys = np.asarray(state["exp_layers"][0]["kv"][0][:, -2:])
          # A skipped chunk leaves zero convolution inputs and real keys.
          assert (np.abs(conv).max() == 0) == (route == 0) and np.abs(keys).max() > 0
      outs.append(chunks)
    diffs[cross] = float(np.abs(outs[0][3] - outs[1][3]).max())  # chunk 3: expensive, after
  # Chunk-local: chunk 3 still depends on chunk 1 through the trunk's own
  # left context, so compare against the trunk-only dependence: with the
  # cross-chunk caches the dependence is larger.
  assert diffs[True] > diffs[False] + 1e-3, diffs


def _chunk1_dependence(model, params, cfg, routes, check=None):
  """Batch 1, chunks of 2 at x8, every chunk forced (``routes``: force_route
  per chunk): how much the last chunk's output moves when the feature frames
  read by encoder chunk 1 alone are perturbed. ``check(c, state)`` sees the
  state before each chunk c and after the last (c = len(routes))."""
  feats = np.random.default_rng(1).standard_normal((1, 101, 80)).astype(np.float32)
  changed = feats.copy()
  changed[0, 19:32] += 3.0  # feature frames read by encoder chunk 1 only (chunks of 2, x8)
  stream_fn = jax.jit(lambda pr, w, n, s, r: model.apply(pr, w, n, s, r,
                                                         method=enc_lib.Encoder.stream),
                      static_argnums=4)
  win, hop = enc_lib.stream_window(cfg), 8 * cfg.chunk_size
  outs = []
  for f in (feats, changed):
    padded = jnp.concatenate([jnp.asarray(f), jnp.zeros((1, 6 * hop + win, 80))], axis=1)
    st = enc_lib.init_stream_state(cfg, 1, 80)
    for c, route in enumerate(routes):
      if check:
        check(c, st)
      out, st = stream_fn(params, padded[:, c * hop:c * hop + win], jnp.array([2]), st, route)
    if check:
      check(len(routes), st)
    outs.append(np.asarray(out))
  return float(np.abs(outs[0] - outs[1]).max())


def test_feature_router_cheap_chunks_skip_the_subsampling_and_leave_no_keys():
  """feature_router: the cheap branch of the traced streaming step has no
  convolution (the subsampling runs in the expensive branch only, and nowhere
  outside the cond); an expensive chunk after a cheap one does not depend on
  the cheap chunk's audio (its keys are masked, its convolution inputs zero)
  but does on an expensive one's (streaming = the full run with mixed routes:
  test_streaming_equals_full_run_with_routing)."""
  cfg = _cfg(layers=0, feature_router=True)
  model, params, _ = _init(cfg, b=1)
  jaxpr = _stream_jaxpr(model, params, cfg)
  conds = [e for e in jaxpr.jaxpr.eqns if e.primitive.name == "cond"]
  assert len(conds) == 1
  cheap, expensive = (count(b.jaxpr, "conv_general_dilated") for b in conds[0].params["branches"])
  assert cheap == 0 and expensive == 2
  assert count(jaxpr.jaxpr, "conv_general_dilated") == 2  # both inside the expensive branch

  diffs = {}
  for route1 in (0, 1):
    def check(c, st, route1=route1):
      if c == 3:  # the left context (4 frames): chunk 1's slots valid iff it was expensive
        assert np.asarray(st["exp_cache_valid"])[0].tolist() == [bool(route1)] * 2 + [True] * 2
    diffs[route1] = _chunk1_dependence(model, params, cfg, (1, route1, 1, 1), check)
  assert diffs[0] == 0.0 and diffs[1] > 1e-3, diffs


@pytest.mark.parametrize("cheap_carry,backfill_threshold", [(False, 0.0), (True, 0.0),
                                                             (False, -1.0)])
def test_onset_backfill_streaming_equals_full_run(cheap_carry, backfill_threshold):
  """onset_backfill: batch 2 with mixed routes (so a backfill window also runs
  for rows that need none): streaming equals the full run, whose keys of a
  cheap chunk count when the next chunk is expensive; some chunks are
  backfilled, and the run differs from the same parameters without it.
  backfill_threshold -1: set between the p(expensive) of the onsets' cheap
  chunks, so that only some of them are re-run."""
  cfg = _cfg(layers=0, feature_router=True, onset_backfill=True, cheap_carry=cheap_carry)
  model, params, feats, lengths, cfg = _check_streaming_equals_full_run(cfg, t=201)
  out, _, r = model.apply(params, feats, lengths, method=enc_lib.Encoder.forward)
  exp, valid, back = (np.asarray(r[k]) for k in ("expensive", "valid", "backfill"))
  onsets = np.pad(exp[:, 1:] & ~exp[:, :-1] & valid[:, 1:], ((0, 0), (0, 1))) & valid
  assert back.any() and (back == onsets).all()
  if backfill_threshold < 0:
    p = np.asarray(branching.p_expensive(r["logits"]))
    ps = np.sort(p[onsets])
    assert len(ps) >= 2, ps
    bthr = float(ps[len(ps) // 2 - 1] + ps[len(ps) // 2]) / 2
    cfg = dataclasses.replace(cfg, branching=dataclasses.replace(cfg.branching,
                                                                 backfill_threshold=bthr))
    model = enc_lib.Encoder(cfg)
    _check_streaming_equals_full_run(cfg, t=201, mixing=False)
    _, _, r = model.apply(params, feats, lengths, method=enc_lib.Encoder.forward)
    back = np.asarray(r["backfill"])
    assert (back == (onsets & (p > bthr))).all() and 0 < back.sum() < onsets.sum()
  plain_cfg = dataclasses.replace(cfg, branching=dataclasses.replace(cfg.branching,
                                                                     onset_backfill=False))
  plain, _, r0 = enc_lib.Encoder(plain_cfg).apply(params, feats, lengths,
                                                  method=enc_lib.Encoder.forward)
  assert (np.asarray(r0["expensive"]) == exp).all()
  assert np.abs(np.asarray(out) - np.asarray(plain)).max() > 1e-3


@pytest.mark.parametrize("filtered", [False, True])
def test_onset_backfill_runs_once_per_onset(monkeypatch, filtered):
  """Batch 1: the two-chunk path runs exactly at the chunks that turn
  expensive after a cheap one, the one-chunk path at the other expensive
  chunks, neither at cheap chunks (host-callback counts). ``filtered``: a
  backfill threshold between the onsets' cheap chunks' p(expensive) leaves
  the others to the one-chunk path."""
  cfg = _cfg(layers=0, feature_router=True, onset_backfill=True)
  model, params, feats = _init(cfg, t=201, b=1)
  lengths = jnp.array([201])
  model, cfg = _mixing(cfg, params, feats, lengths)
  _, _, r = model.apply(params, feats, lengths, method=enc_lib.Encoder.forward)
  p = np.asarray(branching.p_expensive(r["logits"]))[0]
  exp = np.asarray(r["expensive"])[0]
  before_onset = np.append(exp[1:] & ~exp[:-1], False)
  keep = np.ones_like(exp)
  if filtered:
    ps = np.sort(p[before_onset])
    bthr = float(ps[len(ps) // 2 - 1] + ps[len(ps) // 2]) / 2
    cfg = dataclasses.replace(cfg, branching=dataclasses.replace(cfg.branching,
                                                                 backfill_threshold=bthr))
    model = enc_lib.Encoder(cfg)
    keep = p > bthr
  expected_back = int((before_onset & keep).sum())
  calls = {"exp": 0, "back": 0}
  for name, attr in (("exp", "_run_expensive"), ("back", "_run_backfill")):
    orig = getattr(enc_lib, attr)

    def counted(c, operands, orig=orig, name=name):
      jax.debug.callback(lambda: calls.__setitem__(name, calls[name] + 1))
      return orig(c, operands)

    monkeypatch.setattr(enc_lib, attr, counted)
  fn = jax.jit(lambda p, w, n, s: model.apply(p, w, n, s, method=enc_lib.Encoder.stream))
  _, routes = _stream(model, params, feats, lengths, cfg, fn=fn)
  jax.effects_barrier()
  r = routes[0].astype(bool)
  onsets = int((r[1:] & ~r[:-1]).sum())
  assert onsets > 0 and 0 < r.sum() < len(r) and r.tolist() == exp[:len(r)].tolist()
  assert 0 < expected_back <= onsets and (expected_back < onsets) == filtered
  assert calls == {"exp": int(r.sum()) - expected_back, "back": expected_back}, (calls, r)


def test_onset_backfill_makes_the_onset_chunk_visible():
  """Chunk 1 cheap, chunk 2 expensive: with the backfill (forced), chunk 2's
  output depends on chunk 1's audio and chunk 1's cache slots count; with the
  one-chunk expensive path (force_route = 1) it does not, as without
  onset_backfill."""
  cfg = _cfg(layers=0, feature_router=True, onset_backfill=True)
  model, params, _ = _init(cfg, b=1)
  diffs = {}
  for route2 in (1, 2):
    def check(c, st, route2=route2):
      if c == 3:  # slots: [chunk 0 (2); chunk 1 (2); chunk 2 (2)] (left context 4 + one chunk kept)
        assert (np.asarray(st["exp_cache_valid"])[0].tolist()
                == [True] * 2 + [route2 == 2] * 2 + [True] * 2)
    diffs[route2] = _chunk1_dependence(model, params, cfg, (1, 0, route2), check)
  assert diffs[1] == 0.0 and diffs[2] > 1e-3, diffs


@pytest.mark.parametrize("onset_backfill", [False, True])
def test_hold_threshold_is_hysteresis_and_streams_as_the_full_run(onset_backfill):
  """hold_threshold: a chunk after an expensive one is expensive iff its
  p(expensive) exceeds the hold threshold, any other iff it exceeds the
  threshold (checked against a loop over the full run's probabilities);
  streaming equals the full run (batch 2); it keeps chunks expensive that the
  plain threshold would not."""
  cfg = _cfg(layers=0, feature_router=True, onset_backfill=onset_backfill)
  model, params, feats = _init(cfg, t=201)
  lengths = jnp.array([201, 70])
  _, cfg = _mixing(cfg, params, feats, lengths)
  _, _, r = enc_lib.Encoder(cfg).apply(params, feats, lengths, method=enc_lib.Encoder.forward)
  p, valid = np.asarray(branching.p_expensive(r["logits"])), np.asarray(r["valid"])
  hold = float(np.quantile(p[valid], 0.2))
  cfg = dataclasses.replace(cfg, branching=dataclasses.replace(cfg.branching, hold_threshold=hold))
  model, params, feats, lengths, cfg = _check_streaming_equals_full_run(cfg, t=201, mixing=False)
  _, _, rh = model.apply(params, feats, lengths, method=enc_lib.Encoder.forward)
  exp = np.asarray(rh["expensive"])
  for b in range(2):
    prev = False
    for n in range(exp.shape[1]):
      want = bool(valid[b, n] and p[b, n] > (hold if prev else cfg.branching.threshold))
      assert bool(exp[b, n]) == want, (b, n)
      prev = want
  plain = np.asarray(r["expensive"]) & valid
  assert (exp & valid).sum() > plain.sum() and (exp | ~plain).all()


def test_onset_backfill_needs_the_feature_router():
  cfg = _cfg(layers=1, cross_chunk=True, onset_backfill=True)
  with pytest.raises(ValueError, match="onset_backfill"):
    _init(cfg)


def test_cheap_carry_streaming_equals_full_run_and_reaches_only_cheap_chunks_after_speech():
  """cheap_carry: a cheap chunk reads the last frame of the stream's latest
  expensive chunk. Streaming (state) equals the full run (gathered from the
  routes) at batch 2 with mixed routes; the carry changes exactly the cheap
  chunks that follow some expensive chunk, and nothing else."""
  cfg = _cfg(layers=0, feature_router=True, cheap_carry=True)
  model, params, feats = _init(cfg)
  lengths = jnp.array([101, 70])
  model, cfg = _mixing(cfg, params, feats, lengths)
  k = params["params"]["cheap_carry"]["kernel"]
  assert float(jnp.abs(k).max()) == 0.0  # zero-initialized: starts without the carry
  with_carry = jax.tree_util.tree_map(lambda x: x, params)
  with_carry["params"]["cheap_carry"]["kernel"] = jnp.asarray(
      np.random.default_rng(3).standard_normal(k.shape) * 0.3, jnp.float32)
  outs = {}
  for name, p in (("zero", params), ("carry", with_carry)):
    full, full_len, routing = model.apply(p, feats, lengths, method=enc_lib.Encoder.forward)
    stream, routes = _stream(model, p, feats, lengths, cfg)
    for b in range(2):
      n = int(full_len[b])
      np.testing.assert_allclose(stream[b, :n], np.asarray(full)[b, :n], atol=2e-5, rtol=1e-4)
    outs[name] = (np.asarray(full), np.asarray(routing["expensive"]))
  exp = outs["zero"][1]
  assert (exp == outs["carry"][1]).all()  # the router does not read the carry
  for b in range(2):
    n = int(full_len[b])
    for c in range(-(-n // cfg.chunk_size)):
      sl = slice(c * cfg.chunk_size, min((c + 1) * cfg.chunk_size, n))
      d = np.abs(outs["zero"][0][b, sl] - outs["carry"][0][b, sl]).max()
      after_expensive = (not exp[b, c]) and exp[b, :c].any()
      assert (d > 1e-4) == after_expensive, (b, c, d, exp[b].tolist())
  assert any((not exp[0, c]) and exp[0, :c].any() for c in range(exp.shape[1]))
  with pytest.raises(ValueError, match="cheap_carry needs"):
    _init(_cfg(layers=0, cross_chunk=True, cheap_carry=True))


@pytest.mark.parametrize("context,per_frame", [(3, False), (5, True)])
def test_router_context_and_level_stream_as_the_full_run_and_read_only_the_past(context,
                                                                                per_frame):
  """router_context: the router reads the chunk and the ``context`` frames
  before it (3 < chunk + 2: part of the previous chunk; 5: more than one
  chunk back); streaming keeps them in its state and equals the full run at
  batch 2 with mixed routes, also with the per-frame router. A change to the
  features of frames after a chunk never changes its decision; a change
  inside its history does. router_level: the projection passes on the frame
  level that its LayerNorm removes (a constant added to every bin of a frame
  moves it only then)."""
  model, params, feats, lengths, cfg = _check_streaming_equals_full_run(
      _cfg(layers=0, feature_router=True, cheap_carry=True, router_level=True,
           router_context=context, router_per_frame=per_frame))

  logits = lambda f: np.asarray(model.apply(params, f, lengths,
                                            method=enc_lib.Encoder.forward)[2]["logits"])
  base = logits(feats)
  hop = cfg.subsample_factor * cfg.chunk_size  # feature frames per chunk
  k = 3  # chunk 3 starts at encoder frame 6, feature frame 3 * hop
  later = feats.at[:, (k + 1) * hop:].add(3.0)
  moved = np.abs(logits(later) - base).max(-1)  # [B, N]
  assert moved[:, :k + 1].max() < 1e-6 and moved[:, k + 1:].max() > 1e-3
  # The encoder frame just before chunk k (in every history) and the one
  # `context` frames before it (in this history only when context > chunk).
  f = cfg.subsample_factor
  for frame in (k * cfg.chunk_size - 1, k * cfg.chunk_size - context):
    other = feats.at[:, frame * f:(frame + 1) * f].add(3.0)
    assert np.abs(logits(other) - base)[:, k].max() > 1e-4, frame
  first = k * cfg.chunk_size - context  # the earliest frame of chunk k's history
  outside = feats.at[:, (first - 1) * f:first * f].add(3.0)
  d = np.abs(logits(outside) - base)
  assert d[:, k].max() < 1e-6 and d[:, k - 1].max() > 1e-4

  proj = lambda level, x: branching.FeatureProjection(32, 8, level).init_with_output(
      jax.random.PRNGKey(1), x, 4)[0]
  x = feats[:1, :32]
  for level in (False, True):
    shift = np.abs(np.asarray(proj(level, x + 2.0)) - np.asarray(proj(level, x))).max()
    assert (shift > 1e-3) == level, (level, shift)
  with pytest.raises(ValueError, match="router_level and branching.router_context need"):
    _init(_cfg(layers=0, cross_chunk=True, router_context=2))


def test_relative_cost_and_flops():
  cfg = _cfg()
  f = branching.encoder_flops(cfg)
  assert f["full"] > f["min"] > 0
  assert branching.relative_cost(cfg, 1.0) == pytest.approx(1.0)
  assert branching.relative_cost(cfg, 0.0) == pytest.approx(f["min"] / f["full"])
  plain = enc_lib.EncoderConfig(num_layers=3, dim=32, num_heads=2, ffn_mult=2, conv_kernel=5,
                                subsample_channels=8, chunk_size=2, left_context=4)
  assert branching.encoder_flops(plain)["expensive"] == 0.0
  cross = branching.encoder_flops(_cfg(cross_chunk=True))
  # Cross-chunk expensive blocks attend to the left context; skipped chunks
  # still project keys and values (2 D x D per expensive block).
  assert cross["expensive"] > f["expensive"]
  assert cross["cheap"] == pytest.approx(f["cheap"] + 2 * 2 * 2 * 32 * 32)
  # feature_router: the subsampling moves into the expensive branch; the
  # cheap path is the feature projection, the router and the low-rank layer.
  fr = branching.encoder_flops(_cfg(layers=0, feature_router=True))
  t0 = branching.encoder_flops(_cfg(layers=0, cross_chunk=True))
  assert fr["expensive"] == pytest.approx(t0["expensive"] + t0["subsample"])
  assert fr["min"] < 0.1 * fr["full"] < t0["min"]
  # router_level: two more inputs to the projection; router_context: the
  # router MLP reads two means, once per chunk.
  frv = branching.encoder_flops(_cfg(layers=0, feature_router=True, router_level=True,
                                     router_context=3))
  assert frv["router"] - fr["router"] == pytest.approx(2 * 2 * 32 + 2 * 32 * 8 / 2 + 32 * 3 / 2)
  assert frv["expensive"] == fr["expensive"] and frv["cheap"] == fr["cheap"]
  # router_per_frame: the hidden layer once per frame (streaming keeps the
  # history's 3 hidden frames), the output layer on three pooled vectors,
  # the history's mean once per chunk of 2.
  pf = branching.encoder_flops(_cfg(layers=0, feature_router=True, router_context=3,
                                    router_per_frame=True))
  nopf = branching.encoder_flops(_cfg(layers=0, feature_router=True))
  assert pf["router"] - nopf["router"] == pytest.approx(
      (2 * 32 * 8 * 2 + 2 * 3 * 8 * 2 + 8 * 3) / 2 - ((2 * 32 * 8 + 2 * 8 * 2) / 2 + 32))


def test_training_routing_is_a_straight_through_sample():
  cfg = _cfg()
  model, params, feats = _init(cfg)
  lengths = jnp.array([101, 70])

  def loss(p):
    out, _, r = model.apply(p, feats, lengths, True, rngs={"dropout": jax.random.PRNGKey(3)},
                            method=enc_lib.Encoder.forward)
    return jnp.sum(out ** 2), r

  (_, r), g = jax.value_and_grad(loss, has_aux=True)(params)
  assert r["expensive"].dtype == jnp.bool_ and r["logits"].shape[-1] == 2
  # The relaxed sample carries the task loss's gradient into the router.
  assert float(jnp.abs(g["params"]["router"]["logits"]["kernel"]).max()) > 0


def test_hard_training_routes_are_the_inference_routes_and_give_the_router_no_task_gradient():
  cfg = _cfg(feature_router=True, layers=0)
  model, params, feats = _init(cfg)
  lengths = jnp.array([101, 70])
  model, cfg = _mixing(cfg, params, feats, lengths)  # a threshold that mixes the branches
  thr = cfg.branching.threshold
  hard = dataclasses.replace(cfg, branching=dataclasses.replace(cfg.branching, train_threshold=thr))
  hard_model = enc_lib.Encoder(hard)
  infer, _, r_inf = model.apply(params, feats, lengths, method=enc_lib.Encoder.forward)

  def loss(p, rng):
    out, _, r = hard_model.apply(p, feats, lengths, True, rngs={"dropout": rng},
                                 method=enc_lib.Encoder.forward)
    return jnp.sum(out ** 2), (out, r)

  (_, (out, r)), g = jax.value_and_grad(loss, has_aux=True)(params, jax.random.PRNGKey(3))
  (_, (out2, r2)), _ = jax.value_and_grad(loss, has_aux=True)(params, jax.random.PRNGKey(4))
  # The same routes as inference, whatever the rng (dropout is 0: the same outputs).
  np.testing.assert_array_equal(np.asarray(r["expensive"]), np.asarray(r_inf["expensive"]))
  np.testing.assert_array_equal(np.asarray(r2["expensive"]), np.asarray(r_inf["expensive"]))
  mixed = np.asarray(r["expensive"])[np.asarray(r["valid"])]
  assert 0 < mixed.mean() < 1
  np.testing.assert_allclose(np.asarray(out), np.asarray(infer), atol=1e-5, rtol=1e-5)
  np.testing.assert_allclose(np.asarray(out2), np.asarray(infer), atol=1e-5, rtol=1e-5)
  # No task-loss gradient reaches the router; the branches still get one.
  assert float(jnp.abs(g["params"]["router"]["logits"]["kernel"]).max()) == 0.0
  assert float(jnp.abs(g["params"]["cheap"]["up"]["kernel"]).max()) > 0
  # train_straight_through: the same routes and outputs, and a router gradient.
  st = dataclasses.replace(hard, branching=dataclasses.replace(hard.branching,
                                                               train_straight_through=True))
  out3, _, r3 = enc_lib.Encoder(st).apply(params, feats, lengths, True,
                                          rngs={"dropout": jax.random.PRNGKey(5)},
                                          method=enc_lib.Encoder.forward)
  np.testing.assert_array_equal(np.asarray(r3["expensive"]), np.asarray(r_inf["expensive"]))
  np.testing.assert_allclose(np.asarray(out3), np.asarray(infer), atol=1e-5, rtol=1e-5)
  g3 = jax.grad(lambda p: jnp.sum(enc_lib.Encoder(st).apply(
      p, feats, lengths, True, rngs={"dropout": jax.random.PRNGKey(5)},
      method=enc_lib.Encoder.forward)[0] ** 2))(params)
  assert float(jnp.abs(g3["params"]["router"]["logits"]["kernel"]).max()) > 0


def _tiny_training(tiny_data_dir, tiny_tokenizer_path, config):
  """(train state, pmapped train_step, sharded batch of 2 tiny utterances) of
  a branching_tiny-style config, as the launcher builds them."""
  import functools
  from asr.data import pipeline, sources, tokenizer
  from asr.models import transducer
  from asr.training import state as state_lib
  from asr.training import train
  tok = tokenizer.Tokenizer(tiny_tokenizer_path)
  src = sources.open_source("tfds:voice_assistant/tiny:train", tiny_data_dir)
  utts = pipeline.prepare_utterances(src, tok, 0.3, limit=2)
  bucket = pipeline.Bucket(max(len(u.feats) for u in utts) // 32 * 32 + 32, 16, 2, (0, 1))
  batch = train.shard(pipeline.collate(utts, [0, 1], bucket), 1)
  mcfg = state_lib.model_config(config, tok.vocab_size)
  model = transducer.Transducer(mcfg)
  tx, _ = state_lib.make_optimizer(config.train)
  st = train.replicate(state_lib.create_train_state(jax.random.PRNGKey(0), mcfg, tx))
  step = jax.pmap(functools.partial(train.train_step, model=model, tx=tx, mean=jnp.zeros(80),
                                    std=jnp.ones(80), cfg=config), axis_name="batch")
  return st, step, batch, mcfg


def test_large_lambda_sends_chunks_to_the_cheap_branch(tiny_data_dir, tiny_tokenizer_path):
  """Real training steps of the tiny branching model with a large lambda: the
  router goes from mixing to sending almost every chunk to the cheap branch,
  and the logged compute cost falls to near its all-cheap floor.

  (At this learning rate the untrained tiny model's task loss alone also
  drifts to the cheap branch within ~20 steps: random expensive blocks do not
  help yet. The small experiments therefore warm-start the expensive blocks.)"""
  from asr.training import train
  from experiments import branching_tiny
  config = branching_tiny.get_config()
  config.model.encoder.branching.cost_weight = 100.0
  config.train.warmup_steps = 1
  config.train.learning_rate = 1e-2
  st, step, batch, mcfg = _tiny_training(tiny_data_dir, tiny_tokenizer_path, config)
  rng = train.replicate(jax.random.PRNGKey(0))
  history = []
  for _ in range(8):
    st, m = step(st, batch, rng)
    history.append({k: float(v[0]) for k, v in m.items()})
  assert 0.2 < history[0]["router_p_expensive"] < 0.8, history[0]
  last = history[-1]
  assert last["router_p_expensive"] < 0.05 and last["frac_expensive"] < 0.05, last
  floor = branching.relative_cost(mcfg.encoder, 0.0)
  assert last["compute_cost"] < floor + 0.05 < history[0]["compute_cost"]
  assert np.isfinite(last["loss"])


def test_streaming_recognizer_with_routing_equals_offline(tiny_tokenizer_path):
  """The batch-1 recognizer (lax.cond per chunk) decodes as the offline
  full-utterance run (both branches computed, selected)."""
  import ml_collections
  from asr import inference, streaming
  from asr.data import pipeline, tokenizer
  from asr.evaluation import evaluate
  from asr.models import transducer
  tok = tokenizer.Tokenizer(tiny_tokenizer_path)
  cfg = transducer.TransducerConfig(encoder=_cfg(threshold=0.45),
                                    predictor=transducer.PredictorConfig(embed_dim=8, hidden=16,
                                                                         dropout=0.0),
                                    joint_dim=24, vocab_size=tok.vocab_size)
  params = transducer.init_params(cfg, jax.random.PRNGKey(0))
  params["joint_net"]["out"]["kernel"] = params["joint_net"]["out"]["kernel"] * 6.0
  config = ml_collections.ConfigDict({"data": {"num_mel_bins": 80},
                                      "model": {"encoder": {"subsample_factor": 8}}})
  norm = (np.full(80, -4.0, np.float32), np.full(80, 3.0, np.float32))
  rec = inference.Recognizer(config, transducer.Transducer(cfg), params, norm, tok, 0)
  rng = np.random.default_rng(0)
  t = np.arange(int(16000 * 2.1)) / 16000
  audio = ((0.3 * np.sin(2 * np.pi * (200 + 300 * np.sin(t * 3)) * t) * (1 + np.sin(t * 7)))
           * 12000 + rng.normal(0, 300, len(t))).astype(np.int16)
  utt = pipeline._prepare_fn(None, None, 80, 11)({"id": "x", "audio": audio, "text": ""})  # pylint: disable=protected-access
  off = evaluate.decode_utterances(rec.model, rec.params, rec.norm, [utt], tok, beam=3)[0]
  sr = streaming.StreamingRecognizer(rec, 1, beam=3)
  for i in range(0, len(audio), 1234):
    sr.accept_waveform(audio[i:i + 1234])
  out = sr.finalize()[0][0]
  assert out["tokens"] == off["tokens"]
  assert out["score"] == pytest.approx(off["score"], rel=5e-4, abs=1e-2)


def test_cost_penalty_is_linear_or_a_budget():
  assert float(branching.cost_penalty(jnp.float32(0.7), 0.0)) == pytest.approx(0.7)
  assert float(branching.cost_penalty(jnp.float32(0.7), 0.6)) == pytest.approx(0.1)
  assert float(branching.cost_penalty(jnp.float32(0.5), 0.6)) == 0.0
  # Under the budget the router feels no push toward the cheap branch.
  assert float(jax.grad(lambda c: branching.cost_penalty(c, 0.6))(jnp.float32(0.5))) == 0.0
  assert float(jax.grad(lambda c: branching.cost_penalty(c, 0.6))(jnp.float32(0.7))) == 1.0


def test_distillation_term_trains_only_the_cheap_branch():
  """The training-time distillation sums (BranchingConfig.distill_weight):
  zero on padding chunks, positive elsewhere, and their gradient reaches the
  cheap branch (and the trunk below it) but neither the expensive blocks
  (stop-gradient target) nor the router."""
  cfg = _cfg()
  cfg = dataclasses.replace(cfg, branching=dataclasses.replace(cfg.branching, distill_weight=1.0))
  model, params, feats = _init(cfg)
  lengths = jnp.array([101, 40])

  def rel(p):
    _, _, r = model.apply(p, feats, lengths, True, rngs={"dropout": jax.random.PRNGKey(3)},
                          method=enc_lib.Encoder.forward)
    return jnp.sum(r["distill_err"]) / jnp.sum(r["distill_ref"]), r

  (d, r), g = jax.value_and_grad(rel, has_aux=True)(params)
  valid = np.asarray(r["valid"])
  assert not valid.all()  # the short utterance leaves padding chunks
  err, ref = np.asarray(r["distill_err"]), np.asarray(r["distill_ref"])
  assert (err[~valid] == 0).all() and (ref[~valid] == 0).all()
  assert (err[valid] > 0).all() and (ref[valid] > 0).all() and float(d) > 0
  absmax = lambda tree: max(float(jnp.abs(x).max()) for x in jax.tree_util.tree_leaves(tree))
  gp = g["params"]
  assert absmax(gp["cheap"]) > 0 and absmax(gp["block0"]) > 0
  for i in range(cfg.branching.expensive_layers):
    assert absmax(gp[f"block{cfg.num_layers + i}"]) == 0
  assert absmax(gp["router"]) == 0
  # Inference returns no distillation sums.
  _, _, r_eval = model.apply(params, feats, lengths, method=enc_lib.Encoder.forward)
  assert "distill_err" not in r_eval


def test_distill_weight_adds_its_term_to_the_training_loss(tiny_data_dir, tiny_tokenizer_path):
  """One real training step of branching_tiny with distill_weight w: the loss
  is the w = 0 loss plus w times the logged relative error."""
  from asr.training import train
  from experiments import branching_tiny
  metrics = {}
  for w in (0.0, 0.5):
    config = branching_tiny.get_config()
    config.model.encoder.branching.distill_weight = w
    st, step, batch, _ = _tiny_training(tiny_data_dir, tiny_tokenizer_path, config)
    _, m = step(st, batch, train.replicate(jax.random.PRNGKey(0)))
    metrics[w] = {k: float(v[0]) for k, v in m.items()}
  assert "distill" not in metrics[0.0] and metrics[0.5]["distill"] > 0
  assert metrics[0.5]["loss"] == pytest.approx(
      metrics[0.0]["loss"] + 0.5 * metrics[0.5]["distill"], rel=1e-5, abs=1e-5)


def test_speech_targets_are_chunk_shares_of_the_span():
  spans = jnp.array([[0.5, 1.1], [-1.0, -1.0]])
  tgt, known = branching.speech_targets(spans, 5, 0.32)
  # Chunks [0, .32) [.32, .64) [.64, .96) [.96, 1.28) [1.28, 1.6).
  np.testing.assert_allclose(np.asarray(tgt[0]), [0.0, 0.14 / 0.32, 1.0, 0.14 / 0.32, 0.0],
                             atol=1e-6)
  assert np.asarray(known).tolist() == [1.0, 0.0]
  logits = jnp.array([[0.0, 2.0], [1.0, -1.0]])
  bce = branching.router_speech_bce(logits, jnp.array([1.0, 0.25]))
  p = jax.nn.softmax(logits)[:, 1]
  np.testing.assert_allclose(np.asarray(bce), [-np.log(p[0]), -(0.25 * np.log(p[1])
                                                                + 0.75 * np.log(1 - p[1]))],
                             rtol=1e-5)


def test_speech_target_teaches_the_feature_router_where_speech_is(tiny_data_dir,
                                                                   tiny_tokenizer_path):
  """feature_router with speech_weight: the collated batch carries each
  utterance's speech span, and real training steps lower the router's
  cross-entropy against it, raising p(expensive) on speech chunks above the
  silent ones."""
  from asr.data import pipeline, sources, tokenizer
  from asr.training import train
  from experiments import branching_tiny
  config = branching_tiny.get_config()
  br = config.model.encoder.branching
  config.model.encoder.num_layers = 0
  br.cross_chunk, br.feature_router = True, True
  br.cost_weight, br.speech_weight = 0.0, 20.0
  config.train.warmup_steps = 1
  config.train.learning_rate = 1e-2
  config.train.spec_augment.enabled = False  # the same features every step
  tok = tokenizer.Tokenizer(tiny_tokenizer_path)
  utts = pipeline.prepare_utterances(sources.open_source("tfds:voice_assistant/tiny:train",
                                                         tiny_data_dir), tok, 5.0, limit=2)
  assert all(u.speech_span is not None and u.speech_span[1] > u.speech_span[0] > 0 for u in utts)
  bucket = pipeline.Bucket(max(len(u.feats) for u in utts) // 32 * 32 + 32, 16, 2, (0, 1))
  raw = pipeline.collate(utts, [0, 1], bucket, speech_spans=True)
  np.testing.assert_allclose(raw["speech_span"], [u.speech_span for u in utts], rtol=1e-6)
  assert "speech_span" not in pipeline.collate(utts, [0, 1], bucket)
  st, step, _, mcfg = _tiny_training(tiny_data_dir, tiny_tokenizer_path, config)
  batch = train.shard(raw, 1)
  rng = train.replicate(jax.random.PRNGKey(0))
  history = []
  for _ in range(20):
    st, m = step(st, batch, rng)
    history.append(float(m["router_speech_bce"][0]))
  assert history[-1] < 0.7 * history[0], history
  params = jax.tree_util.tree_map(lambda x: x[0], st.params)
  enc = enc_lib.Encoder(mcfg.encoder)
  feats = jnp.asarray(raw["feats"])
  _, _, r = enc.apply({"params": params["encoder"]}, feats, jnp.asarray(raw["feat_lengths"]),
                      method=enc_lib.Encoder.forward)
  tgt, _ = branching.speech_targets(jnp.asarray(raw["speech_span"]), r["logits"].shape[1], 0.32)
  p = np.asarray(branching.p_expensive(r["logits"]))
  valid, tgt = np.asarray(r["valid"]), np.asarray(tgt)
  assert p[valid & (tgt > 0.99)].mean() > p[valid & (tgt == 0)].mean() + 0.2


@pytest.mark.parametrize("onset_backfill", [False, True])
def test_oracles_replace_one_effect_of_the_routing(onset_backfill):
  """branching.oracle (a full-run diagnostic): "keys" = the routed model's
  outputs on its cheap chunks and the every-chunk-expensive model's on its
  expensive ones (no key masked); "outputs" = the routed model's outputs on
  its expensive chunks and an expensive output (not the cheap one) on the
  others; "uncertain_keys" = "keys" for the chunks whose p passes
  backfill_threshold. None streams; an unknown name is refused."""
  cfg = _cfg(layers=0, feature_router=True, onset_backfill=onset_backfill)
  model, params, feats = _init(cfg)
  lengths = jnp.array([101, 70])
  model, cfg = _mixing(cfg, params, feats, lengths)

  def run(thr=None, oracle="", backfill_threshold=0.0):
    br = dataclasses.replace(cfg.branching, oracle=oracle, backfill_threshold=backfill_threshold,
                             threshold=cfg.branching.threshold if thr is None else thr)
    m = enc_lib.Encoder(dataclasses.replace(cfg, branching=br))
    out, out_len, r = m.apply(params, feats, lengths, method=enc_lib.Encoder.forward)
    return np.asarray(out), np.asarray(out_len), np.asarray(r["expensive"])

  routed, out_len, exp = run()
  every, _, _ = run(thr=-1.0)  # p > -1: every chunk expensive, no key masked
  keys, _, exp_k = run(oracle="keys")
  outputs, _, exp_o = run(oracle="outputs")
  assert (exp_k == exp).all() and (exp_o == exp).all()  # the routes are unchanged
  n_cheap = 0
  for b in range(2):
    n = int(out_len[b])
    e = np.repeat(exp[b], cfg.chunk_size)[:n]
    np.testing.assert_allclose(keys[b, :n][e], every[b, :n][e], atol=2e-5, rtol=1e-4)
    np.testing.assert_allclose(keys[b, :n][~e], routed[b, :n][~e], atol=2e-5, rtol=1e-4)
    np.testing.assert_allclose(outputs[b, :n][e], routed[b, :n][e], atol=2e-5, rtol=1e-4)
    if (~e).any():
      assert np.abs(outputs[b, :n][~e] - routed[b, :n][~e]).max() > 1e-3
      n_cheap += int((~e).sum())
  assert n_cheap > 0
  # the keys oracle changes the expensive chunks after a masked cheap one
  assert np.abs(keys - routed).max() > 1e-3
  # uncertain_keys: the chunks with p > backfill_threshold unmasked (p > 0:
  # every chunk, as "keys"; p > 1: none, as routed)
  np.testing.assert_allclose(run(oracle="uncertain_keys")[0], keys, atol=2e-5, rtol=1e-4)
  np.testing.assert_allclose(run(oracle="uncertain_keys", backfill_threshold=1.0)[0],
                             run(backfill_threshold=1.0)[0], atol=2e-5, rtol=1e-4)
  br = dataclasses.replace(cfg.branching, oracle="keys")
  m = enc_lib.Encoder(dataclasses.replace(cfg, branching=br))
  with pytest.raises(ValueError, match="cannot stream"):
    _stream(m, params, feats, lengths, dataclasses.replace(cfg, branching=br))
  bad = dataclasses.replace(cfg, branching=dataclasses.replace(cfg.branching, oracle="both"))
  with pytest.raises(ValueError, match="oracle"):
    enc_lib.Encoder(bad).init(jax.random.PRNGKey(0), feats, lengths)


def test_attention_sink_streams_as_the_full_run_and_changes_attention():
  """encoder.attention_sink: zero-initialized parameters in every attention
  layer; with non-zero ones (as after training) the outputs change, and
  streaming still equals the full run at batch 2 with mixed routes."""
  cfg = dataclasses.replace(_cfg(layers=0, feature_router=True, onset_backfill=True),
                            attention_sink=True)
  model, params, feats = _init(cfg)
  sinks = [v for k, v in jax.tree_util.tree_leaves_with_path(params)
           if "sink" in jax.tree_util.keystr(k)]
  assert len(sinks) == 2 * cfg.branching.expensive_layers and all((v == 0).all() for v in sinks)
  rng = np.random.default_rng(3)
  moved = jax.tree_util.tree_map_with_path(
      lambda k, v: jnp.asarray(rng.standard_normal(v.shape), v.dtype) * 2.0
      if "sink" in jax.tree_util.keystr(k) else v, params)
  lengths = jnp.array([101, 70])
  model, cfg = _mixing(cfg, moved, feats, lengths)
  full = _assert_stream_equals_full(model, moved, feats, lengths, cfg)
  zero, _, _ = model.apply(params, feats, lengths, method=enc_lib.Encoder.forward)
  assert np.abs(full - np.asarray(zero)).max() > 1e-3  # the sink is used
