"""A tiny real training run: loss falls, checkpoints resume after SIGKILL,
one device and four devices give the same update, NaN stops the run."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from experiments import tiny

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _config(data_dir, **train):
  c = tiny.get_config()
  c.data.data_dir = data_dir
  # One length bucket: one train-step compile per run (the SIGKILL test below
  # keeps tiny's two buckets, whose interleaving is part of the data order).
  c.data.num_buckets = 1
  for k, v in train.items():
    setattr(c.train, k, v)
  return c


def _losses(workdir):
  with open(os.path.join(workdir, "metrics.jsonl")) as f:
    return [(r["step"], r["loss"]) for r in map(json.loads, f) if "loss" in r]


@pytest.fixture(scope="module")
def trained(tiny_data_dir, tmp_path_factory):
  from asr.training import train
  workdir = str(tmp_path_factory.mktemp("tiny_run"))
  cfg = _config(tiny_data_dir, num_steps=40, log_every=5, checkpoint_every=20, eval_every=0)
  metrics = train.train_and_evaluate(cfg, workdir)
  return workdir, metrics


def test_loss_falls(trained):
  workdir, metrics = trained
  losses = _losses(workdir)
  first = np.mean([l for _, l in losses[:2]])
  last = np.mean([l for _, l in losses[-2:]])
  assert last < 0.85 * first, losses
  assert metrics["step"] == 40
  assert "val_wer" in metrics  # the final greedy evaluation ran
  for name in ("config.json", "tokenizer.model", "feature_stats.npz"):
    assert os.path.exists(os.path.join(workdir, name))


def test_pruned_loss_trains(tiny_data_dir, tmp_path):
  """train.loss_impl="pruned": the trivial joint trains alongside and the
  loss (pruned + simple) falls."""
  from asr.training import train
  cfg = _config(tiny_data_dir, num_steps=30, log_every=5, checkpoint_every=100, eval_every=0,
                loss_impl="pruned")
  cfg.train.pruned.warmup_steps = 0  # a ramp would raise the loss's weight during the run
  cfg.train.pruned.s_range = 3
  metrics = train.train_and_evaluate(cfg, str(tmp_path))
  losses = _losses(str(tmp_path))
  first = np.mean([l for _, l in losses[:2]])
  last = np.mean([l for _, l in losses[-2:]])
  assert last < 0.85 * first, losses
  assert metrics["step"] == 30 and np.isfinite(metrics["loss"])


def test_restored_model_decodes(trained, tiny_data_dir):
  from asr.evaluation import evaluate
  from asr.training import state as state_lib
  workdir, _ = trained
  config, model, params, norm, tok, step = state_lib.restore_for_inference(workdir)
  assert step == 40
  config.data.data_dir = tiny_data_dir
  utts = evaluate.load_utterances(config, "tfds:voice_assistant/tiny:test", tok, limit=6)
  greedy = evaluate.evaluate_utterances(model, params, norm, utts, tok, beam=0)
  beam = evaluate.evaluate_utterances(model, params, norm, utts, tok, beam=3, nbest=3)
  assert greedy["metrics"]["num_utterances"] == 6 and beam["metrics"]["num_utterances"] == 6
  for u in beam["utterances"]:
    scores = [h["score"] for h in u["nbest"]]
    assert scores == sorted(scores, reverse=True)


def _launch(workdir, data_dir, steps, extra=()):
  cmd = [sys.executable, "-m", "launch.train", "--config=experiments/tiny.py",
         f"--workdir={workdir}", f"--config.data.data_dir={data_dir}",
         f"--config.train.num_steps={steps}", "--config.train.checkpoint_every=4",
         "--config.train.log_every=2", "--config.train.eval_every=0",
         "--config.train.eval_utterances=2", *extra]
  return subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          env={**os.environ, "JAX_PLATFORMS": "cpu"})


def _final_params(workdir):
  from asr.training import state as state_lib
  _, _, params, _, _, step = state_lib.restore_for_inference(workdir)
  import jax
  return step, [np.asarray(x) for x in jax.tree_util.tree_leaves(params)]


@pytest.mark.slow
def test_resume_after_sigkill_replays_same_data(tiny_data_dir, tmp_path):
  steps = 16
  ref_dir, run_dir = str(tmp_path / "ref"), str(tmp_path / "killed")
  # The uninterrupted reference and the run to be killed start together
  # (independent processes; saves one start-up and compile).
  ref = _launch(ref_dir, tiny_data_dir, steps)
  proc = _launch(run_dir, tiny_data_dir, steps)
  ckpt = os.path.join(run_dir, "checkpoints")
  deadline = time.time() + 600
  while time.time() < deadline:
    done = [d for d in os.listdir(ckpt) if d.isdigit()] if os.path.isdir(ckpt) else []
    if any(int(d) >= 8 for d in done):
      break
    if proc.poll() is not None:
      pytest.fail("training ended before it could be killed")
    time.sleep(0.2)
  proc.send_signal(signal.SIGKILL)
  proc.wait()
  killed_at = max(int(d) for d in os.listdir(ckpt) if d.isdigit())
  assert killed_at < steps
  assert ref.wait(timeout=600) == 0, ref.stderr.read().decode()[-3000:]
  resumed = _launch(run_dir, tiny_data_dir, steps)
  assert resumed.wait(timeout=600) == 0, resumed.stderr.read().decode()[-3000:]
  s1, p1 = _final_params(ref_dir)
  s2, p2 = _final_params(run_dir)
  assert s1 == s2 == steps
  for a, b in zip(p1, p2):
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
  # the resumed run logged the steps after the checkpoint, not from zero
  steps_logged = [s for s, _ in _losses(run_dir)]
  assert steps_logged.count(steps) == 1


def test_one_and_four_devices_give_the_same_update(tiny_data_dir):
  script = os.path.join(REPO, "tests", "training", "pmap_equivalence.py")
  env = {**os.environ, "XLA_FLAGS": os.environ.get("XLA_FLAGS", "") +
         " --xla_force_host_platform_device_count=4",
         "JAX_PLATFORMS": "cpu"}
  out = subprocess.run([sys.executable, script], cwd=REPO, env=env, capture_output=True,
                       text=True, timeout=600)
  assert out.returncode == 0, out.stderr[-3000:]
  result = json.loads(out.stdout.strip().splitlines()[-1])
  assert result["devices"] == 4
  assert result["max_param_diff"] < 1e-5, result
  assert result["loss_diff"] < 1e-5 * max(1.0, abs(result["loss"])), result
  assert result["param_change"] > 1e-4  # the update did something


def test_nan_stops_with_clear_message(tiny_data_dir, tmp_path):
  from asr.training import train
  cfg = _config(tiny_data_dir, num_steps=30, log_every=1, checkpoint_every=100, eval_every=0,
                learning_rate=1e8, clip_norm=1e30, warmup_steps=1)
  with pytest.raises(FloatingPointError, match="non-finite loss"):
    train.train_and_evaluate(cfg, str(tmp_path / "nan"))


def _tiny_batch(data_dir, tokenizer_path, n):
  """(tokenizer, one-device batch of n tiny training utterances, mean, std)."""
  from asr.data import pipeline, sources, tokenizer
  from asr.training import train
  tok = tokenizer.Tokenizer(tokenizer_path)
  src = sources.open_source("tfds:voice_assistant/tiny:train", data_dir)
  utts = pipeline.prepare_utterances(src, tok, 0.3, limit=n)
  mean, std = pipeline.feature_stats(utts)
  bucket = pipeline.make_buckets(utts, 10**6, 1)[0]
  return tok, train.shard(pipeline.collate(utts, list(range(n)), bucket), 1), mean, std


def _pmapped_step(c, tok, mean, std):
  """(fresh train state, pmapped train step) of config c."""
  import functools
  import jax
  import jax.numpy as jnp
  from asr.models import transducer
  from asr.training import state as state_lib
  from asr.training import train
  mcfg = state_lib.model_config(c, tok.vocab_size)
  tx, _ = state_lib.make_optimizer(c.train)
  st = state_lib.create_train_state(jax.random.PRNGKey(0), mcfg, tx)
  step = jax.pmap(functools.partial(train.train_step, model=transducer.Transducer(mcfg), tx=tx,
                                    mean=jnp.asarray(mean), std=jnp.asarray(std), cfg=c),
                  axis_name="batch")
  return st, step


def test_spec_augment_does_not_blow_up_gradients(tiny_data_dir, tiny_tokenizer_path):
  """Regression: time masks once fed exact zeros into a LayerNorm (gradients
  x50), which collapsed the encoder. Masked and clean batches must give
  gradients of the same order."""
  import jax
  from asr.training import train
  tok, batch, mean, std = _tiny_batch(tiny_data_dir, tiny_tokenizer_path, 8)
  norms = {}
  for masked in (True, False):
    c = tiny.get_config()
    c.train.spec_augment.enabled = masked
    c.train.spec_augment.time_mask_ratio = 0.2  # wide masks: many all-zero patches
    c.train.spec_augment.time_masks_per_100 = 3.0
    st, step = _pmapped_step(c, tok, mean, std)
    _, m = step(train.replicate(st), batch, train.replicate(jax.random.PRNGKey(0)))
    norms[masked] = float(m["l2_grads"][0])
  assert norms[True] < 3 * norms[False], norms


def test_trainable_pattern_freezes_the_other_parameters(tiny_data_dir, tiny_tokenizer_path):
  """train.trainable: two real train steps move exactly the matched
  parameters (frozen ones keep their values bit for bit: no step, no weight
  decay); a pattern that matches nothing is an error naming the field."""
  import jax
  from asr.training import state as state_lib
  from asr.training import train
  tok, batch, mean, std = _tiny_batch(tiny_data_dir, tiny_tokenizer_path, 4)
  c = tiny.get_config()
  c.train.trainable = "^joint_net/"
  st, step = _pmapped_step(c, tok, mean, std)
  rst = train.replicate(st)
  for i in range(2):
    rst, _ = step(rst, batch, train.replicate(jax.random.PRNGKey(i)))
  before = jax.tree_util.tree_leaves_with_path(st.params)
  after = jax.tree_util.tree_leaves(jax.tree_util.tree_map(lambda x: x[0], rst.params))
  moved = {jax.tree_util.keystr(k): bool(np.any(np.asarray(a) != np.asarray(b)))
           for (k, b), a in zip(before, after)}
  joint = {k: v for k, v in moved.items() if k.startswith("['joint_net']")}
  assert joint and all(joint.values()), joint
  assert not any(v for k, v in moved.items() if k not in joint)
  c.train.trainable = "^no_such_module/"
  tx, _ = state_lib.make_optimizer(c.train)
  with pytest.raises(ValueError, match="train.trainable='\\^no_such_module/' matches no parameter"):
    tx.init(st.params)


def test_warm_start_copies_transducer_and_keeps_biasing_fresh(trained, tiny_data_dir, tmp_path):
  """train.init_from: a CATT model starts from the trained baseline's tensors."""
  import jax
  from flax import traverse_util
  from asr.training import state as state_lib
  from experiments import catt_tiny
  src_workdir, _ = trained
  cfg = catt_tiny.get_config()
  cfg.data.data_dir = tiny_data_dir
  tok = state_lib.resolve_tokenizer(state_lib.load_config(src_workdir), src_workdir)
  mcfg = state_lib.model_config(cfg, tok.vocab_size)
  fresh = state_lib.transducer.init_params(mcfg, jax.random.PRNGKey(7))
  params, copied, new = state_lib.warm_start(fresh, src_workdir)
  _, _, src, _, _, _ = state_lib.restore_for_inference(src_workdir)
  flat_src = traverse_util.flatten_dict(dict(src))
  flat = traverse_util.flatten_dict(dict(params))
  flat_fresh = traverse_util.flatten_dict(dict(fresh))
  assert copied and new
  for k, v in flat.items():
    name = "/".join(k)
    if name in copied:
      np.testing.assert_array_equal(np.asarray(v), np.asarray(flat_src[k]))
    else:
      assert k not in flat_src or flat_src[k].shape != v.shape
      np.testing.assert_array_equal(np.asarray(v), np.asarray(flat_fresh[k]))
  assert all(n.split("/")[0] in ("context_encoder", "audio_bias", "label_bias", "audio_combiner",
                                 "label_combiner") for n in new)
  with pytest.raises(FileNotFoundError, match="workdir"):
    state_lib.warm_start(fresh, str(tmp_path))


def test_catt_warm_started_joint_training_learns_to_attend(trained, tiny_data_dir, tmp_path):
  """A CATT run warm-started from the tiny baseline (train.init_from): the
  guided-attention loss falls and the attention mass on true names rises."""
  from asr.training import train
  from experiments import catt_tiny
  src_workdir, _ = trained
  cfg = catt_tiny.get_config()
  cfg.data.data_dir = tiny_data_dir
  cfg.data.num_buckets = 1
  cfg.train.init_from = src_workdir
  cfg.train.update(num_steps=60, log_every=10, checkpoint_every=60, eval_every=0,
                   learning_rate=3e-3, warmup_steps=5)
  workdir = str(tmp_path / "catt")
  train.train_and_evaluate(cfg, workdir)
  with open(os.path.join(workdir, "metrics.jsonl")) as f:
    rows = [r for r in map(json.loads, f) if "bias_guide_loss" in r]
  assert len(rows) == 6
  assert all(np.isfinite(r["loss"]) for r in rows)
  assert rows[-1]["bias_guide_loss"] < 0.8 * rows[0]["bias_guide_loss"], rows
  assert rows[-1]["bias_attn_on_name"] > rows[0]["bias_attn_on_name"], rows


def test_update_ema_recurrence():
  import jax.numpy as jnp
  from asr.training import state as state_lib
  ema, p = {"w": jnp.array([1.0, 2.0])}, {"w": jnp.array([3.0, 6.0])}
  # Step 0: decay capped at 1/10, so the average moves 90 % of the way.
  np.testing.assert_allclose(state_lib.update_ema(ema, p, 0.99, 0)["w"], [2.8, 5.6], rtol=1e-6)
  # Late steps: the configured decay.
  np.testing.assert_allclose(state_lib.update_ema(ema, p, 0.99, 10_000)["w"], [1.02, 2.04], rtol=1e-6)
  assert float(state_lib.ema_decay_at(0.99, 0)) == pytest.approx(0.1)


def test_ema_is_kept_evaluated_resumed_and_warm_started(tiny_data_dir, tmp_path):
  """train.ema_decay > 0: the checkpoint holds the average next to the
  parameters; inference and warm starts read the average; the final
  validation reports both; a resumed run continues the average."""
  import jax
  import orbax.checkpoint as ocp
  from asr.data import tokenizer as tok_lib
  from asr.training import state as state_lib
  from asr.training import train
  workdir = str(tmp_path / "ema")
  cfg = _config(tiny_data_dir, num_steps=8, log_every=4, checkpoint_every=4, eval_every=0,
                ema_decay=0.9, learning_rate=1e-2, warmup_steps=1)
  cfg.train.eval_utterances = 4
  m = train.train_and_evaluate(cfg, workdir)
  assert "val_raw_wer" in m and "val_wer" in m
  cfg.train.num_steps = 12
  m = train.train_and_evaluate(cfg, workdir)  # resumes at step 8
  assert m["start_step"] == 8 and m["step"] == 12
  tok = tok_lib.Tokenizer(os.path.join(workdir, state_lib.TOKENIZER_FILE))
  mcfg = state_lib.model_config(cfg, tok.vocab_size)
  tx, _ = state_lib.make_optimizer(cfg.train)
  abstract = jax.eval_shape(lambda: state_lib.create_train_state(jax.random.PRNGKey(0), mcfg, tx, True))
  mngr = ocp.CheckpointManager(os.path.abspath(os.path.join(workdir, "checkpoints")))
  st = mngr.restore(12, args=ocp.args.StandardRestore(abstract))
  assert isinstance(st, state_lib.EmaTrainState)
  _, _, params, _, _, step = state_lib.restore_for_inference(workdir)
  assert step == 12
  ema = jax.tree_util.tree_leaves(st.ema)
  for a, b in zip(jax.tree_util.tree_leaves(params), ema):
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
  _, _, raw, _, _, _ = state_lib.restore_for_inference(workdir, raw=True)
  for a, b in zip(jax.tree_util.tree_leaves(raw), jax.tree_util.tree_leaves(st.params)):
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
  gap = max(float(np.abs(np.asarray(a) - np.asarray(b)).max())
            for a, b in zip(jax.tree_util.tree_leaves(st.params), ema))
  assert gap > 1e-4  # the average is not the last parameters
  fresh = state_lib.create_train_state(jax.random.PRNGKey(1), mcfg, tx).params
  warm, copied, _ = state_lib.warm_start(fresh, workdir)
  assert copied
  for a, b in zip(jax.tree_util.tree_leaves(warm), ema):
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_perturb_strength_ramp():
  import jax.numpy as jnp
  import ml_collections
  from asr.training import train
  sa = ml_collections.ConfigDict({"perturb_ramp": (100, 300)})
  got = [float(train.perturb_strength(sa, jnp.array(s))) for s in (0, 99, 100, 200, 300, 5000)]
  assert got == pytest.approx([0.0, 0.0, 0.0, 0.5, 1.0, 1.0])
  assert train.perturb_strength(ml_collections.ConfigDict({"perturb_ramp": (0, 0)}), 7) == 1.0
  sa = ml_collections.ConfigDict({"perturb_ramp": (50, 50)})  # a step, not a ramp
  assert [float(train.perturb_strength(sa, jnp.array(s))) for s in (49, 50)] == [0.0, 1.0]


def test_perturbation_before_its_ramp_changes_nothing(tiny_data_dir, tmp_path):
  """Speed and vocal-tract perturbation ramped in later train exactly like no
  perturbation until the ramp starts, and differently once it is on."""
  from asr.training import train
  runs = {}
  for name, sa in [("plain", {}), ("ramped", {"speed_range": 0.2, "freq_warp": 0.2,
                                             "perturb_ramp": (100, 200)}),
                   ("on", {"speed_range": 0.2, "freq_warp": 0.2})]:
    cfg = _config(tiny_data_dir, num_steps=3, log_every=1, checkpoint_every=100, eval_every=0)
    for k, v in sa.items():
      setattr(cfg.train.spec_augment, k, v)
    wd = str(tmp_path / name)
    train.train_and_evaluate(cfg, wd)
    runs[name] = [l for _, l in _losses(wd)]
  assert runs["ramped"] == pytest.approx(runs["plain"], rel=1e-6)
  assert runs["on"][1:] != pytest.approx(runs["plain"][1:], rel=1e-4)


def test_separate_clipping_groups_keep_one_groups_norm_off_the_other():
  """train.clip_separately: a huge router gradient is clipped within its own
  group and leaves the rest as one global norm would have left it alone."""
  import jax.numpy as jnp
  import ml_collections
  from asr.training import state as state_lib
  grads = {"encoder": {"router": {"kernel": jnp.full((4,), 100.0)},
                       "block0": {"kernel": jnp.full((4,), 1.0)}}}
  t = ml_collections.ConfigDict({"clip_norm": 5.0, "clip_separately": ""})
  one = state_lib.gradient_clipping(t)
  out, _ = one.update(grads, one.init(grads))
  scale = 5.0 / np.sqrt(4 * 100.0 ** 2 + 4 * 1.0)  # one norm: both shrink
  np.testing.assert_allclose(out["encoder"]["block0"]["kernel"], scale, rtol=1e-5)
  t.clip_separately = "^encoder/router"
  two = state_lib.gradient_clipping(t)
  out, _ = two.update(grads, two.init(grads))
  np.testing.assert_allclose(out["encoder"]["block0"]["kernel"], 1.0, rtol=1e-6)  # norm 2 < 5
  np.testing.assert_allclose(np.linalg.norm(out["encoder"]["router"]["kernel"]), 5.0, rtol=1e-5)
  t.clip_separately = "^nothing"
  with pytest.raises(ValueError, match="train.clip_separately=.*matches no parameter"):
    bad = state_lib.gradient_clipping(t)
    bad.init(grads)
