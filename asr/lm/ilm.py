"""Internal language model estimate of a transducer (ILME, Meng et al. 2021,
"Internal language model estimation for domain-adaptive end-to-end speech
recognition").

The transducer's prediction network learns a language model of its training
text; on this corpus it is the same template text the external LM learns, so
``first_pass + w * LM`` counts that knowledge twice. ILME removes the acoustic
input from the joint (encoder features = 0, i.e. the encoder projection keeps
only its bias) and renormalizes over the non-blank labels:

  log P_ILM(y) = sum_u log softmax_{v != blank}(joint(enc_proj(0), pred(y_<u)))[y_u]

Rescoring with ``first_pass - ilm_weight * ILM + lm_weight * LM`` is the
density-ratio / ILM-subtraction fusion.
"""

import functools
from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from asr.models import transducer


def label_logprobs(model, params, pred):
  """Internal-LM log-probabilities [R, V-1] of the next label (ids 1..V-1)
  given prediction-network outputs pred [R, P]: the joint with the encoder
  input removed (its projection keeps only the bias), renormalized without
  the blank."""
  bias = params["joint_net"]["enc_proj"]["bias"]
  zero_enc = jnp.broadcast_to(bias, (pred.shape[0], bias.shape[0]))
  logits = model.apply({"params": params}, zero_enc, pred, method=transducer.Transducer.joint)
  return jax.nn.log_softmax(logits.astype(jnp.float32)[:, 1:], axis=-1)


@functools.partial(jax.jit, static_argnames=("model",))
def _step(model, params, tokens, state, targets):
  """One label position for a batch: (log P_ILM(targets | history) [B], new state)."""
  pred, state = model.apply({"params": params}, tokens, state,
                            method=transducer.Transducer.predict_step)
  lp = label_logprobs(model, params, pred)
  return jnp.take_along_axis(lp, jnp.maximum(targets - 1, 0)[:, None], axis=-1)[:, 0], state


def ilm_scores(model, params, token_seqs: Sequence[Sequence[int]], batch_size: int = 256) -> np.ndarray:
  """log P_ILM of each label sequence [N] (no end-of-sentence: transducers have none)."""
  out = np.zeros(len(token_seqs), np.float64)
  order = sorted(range(len(token_seqs)), key=lambda i: len(token_seqs[i]))
  for k in range(0, len(order), batch_size):
    idx = order[k:k + batch_size]
    seqs = [list(token_seqs[i]) for i in idx]
    n = len(seqs)
    u_max = max(map(len, seqs), default=0)
    if u_max == 0:
      continue
    arr = np.zeros((batch_size, u_max), np.int32)
    for j, s in enumerate(seqs):
      arr[j, :len(s)] = s
    state = model.apply({"params": params}, batch_size, method=transducer.Transducer.init_pred_state)
    prev = np.zeros(batch_size, np.int32)  # blank = start of sequence
    total = np.zeros(batch_size, np.float64)
    for u in range(u_max):
      lp, state = _step(model, params, prev, state, arr[:, u])
      total += np.asarray(lp) * (arr[:, u] > 0)
      prev = arr[:, u]
    out[idx] = total[:n]
  return out
