"""Run with 4 forced host devices: one pmapped step on 1 device vs 4 devices.

Prints one JSON line: devices, max parameter difference, loss difference.
Dropout is off (its masks depend on the device split); SpecAugment stays on
(its keys come from the global example index, so they do not).
"""

import functools
import json
import sys

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, ".")
from experiments import tiny  # pylint: disable=g-import-not-at-top
from asr.training import state as state_lib  # pylint: disable=g-import-not-at-top
from asr.training import train  # pylint: disable=g-import-not-at-top
from asr.models import transducer  # pylint: disable=g-import-not-at-top


def main():
  c = tiny.get_config()
  c.model.encoder.dropout = 0.0
  c.model.predictor.dropout = 0.0
  mcfg = state_lib.model_config(c, 128)
  model = transducer.Transducer(mcfg)
  tx, _ = state_lib.make_optimizer(c.train)
  st = state_lib.create_train_state(jax.random.PRNGKey(0), mcfg, tx)
  b, t, u = 8, 120, 10
  rng = np.random.default_rng(0)
  batch = {"feats": rng.standard_normal((b, t, 80)).astype(np.float32),
           "feat_lengths": rng.integers(60, t + 1, b).astype(np.int32),
           "labels": rng.integers(2, 128, (b, u)).astype(np.int32),
           "label_lengths": rng.integers(1, u + 1, b).astype(np.int32)}
  step = functools.partial(train.train_step, model=model, tx=tx, mean=jnp.zeros(80),
                           std=jnp.ones(80), cfg=c)
  outs = {}
  for n in (1, 4):
    devices = jax.local_devices()[:n]
    f = jax.pmap(step, axis_name="batch", devices=devices)
    stacked = jax.tree_util.tree_map(lambda x: np.broadcast_to(np.asarray(x), (n,) + np.shape(x)), st)
    rngs = np.broadcast_to(np.asarray(jax.random.PRNGKey(3)), (n, 2))
    new, m = f(stacked, train.shard(batch, n), rngs)
    outs[n] = ([np.asarray(x[0]) for x in jax.tree_util.tree_leaves(new.params)], float(m["loss"][0]))
  p1, l1 = outs[1]
  p4, l4 = outs[4]
  p0 = [np.asarray(x) for x in jax.tree_util.tree_leaves(st.params)]
  print(json.dumps({
      "devices": jax.local_device_count(),
      "max_param_diff": max(float(np.abs(a - b_).max()) for a, b_ in zip(p1, p4)),
      "loss_diff": abs(l1 - l4),
      "loss": l1,
      "param_change": max(float(np.abs(a - b_).max()) for a, b_ in zip(p0, p1)),
  }))


if __name__ == "__main__":
  main()
