"""Rescoring LM: causal masking, a tiny training run learns and resumes, the
training text holds no validation/test names, rescoring follows the LM."""

import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from asr.decoding import lattice as lat_lib
from asr.lm import model as model_lib
from asr.lm import rescore


def _tiny_model(vocab=20):
  cfg = model_lib.LMConfig(vocab_size=vocab, dim=16, num_layers=2, num_heads=2, mlp_dim=32,
                           max_len=12, dropout=0.0)
  model = model_lib.TransformerLM(cfg)
  params = model.init(jax.random.PRNGKey(0), jnp.zeros((1, 12), jnp.int32))["params"]
  return model, params


def test_causal_masking():
  model, params = _tiny_model()
  a = model_lib.make_batch([[3, 4, 5, 6, 7, 8]], 12)
  b = model_lib.make_batch([[3, 4, 5, 9, 10, 11]], 12)  # differs from position 4 on
  la = np.asarray(model_lib.token_logprobs(model, params, a["inputs"], a["targets"]))
  lb = np.asarray(model_lib.token_logprobs(model, params, b["inputs"], b["targets"]))
  # Targets 0..2 (y1..y3) see inputs <s> y1 y2 only: identical. Target 3 differs itself.
  np.testing.assert_allclose(la[0, :3], lb[0, :3], rtol=1e-6, atol=1e-6)
  assert not np.allclose(la[0, 3:7], lb[0, 3:7])


def test_make_batch_layout():
  b = model_lib.make_batch([[5, 6], []], 4)
  np.testing.assert_array_equal(b["inputs"], [[0, 5, 6, 0], [0, 0, 0, 0]])
  np.testing.assert_array_equal(b["targets"], [[5, 6, 0, 0], [0, 0, 0, 0]])
  np.testing.assert_array_equal(b["weights"], [[1, 1, 1, 0], [1, 0, 0, 0]])


def test_grammar_text_uses_train_names_only():
  from asr.data import corpus, names
  from asr.lm import data
  sents = data.grammar_sentences(300, 30, seed=0)
  assert len(sents) == 300 and all(s == s.strip() and s for s in sents)
  pools = corpus._pools()  # pylint: disable=protected-access
  held_out = {n for p in ("validation", "test") for k in ("first", "last") for n, _ in pools[p][k]}
  held_out |= {m for p in ("validation", "test") for m in pools[p]["modifiers"]}
  words = {w for s in sents for w in s.replace("'s ", " ").split()}
  assert not words & held_out
  with pytest.raises(ValueError, match="train"):
    data.grammar_sentences(1, 1, 0, pool="test")
  assert names.pool_of("zzz") in ("train", "validation", "test")


@pytest.fixture(scope="module")
def tiny_lm(tiny_data_dir, tmp_path_factory):
  from experiments import lm_small
  from asr.lm import train
  c = lm_small.get_config()
  c.data.corpus, c.data.data_dir, c.data.vocab_size = "tiny", tiny_data_dir, 128
  c.data.grammar_samples, c.data.grammar_users, c.data.eval_utterances = 400, 20, 16
  c.data.max_len = 32
  c.model.dim, c.model.mlp_dim, c.model.num_heads, c.model.max_len, c.model.dropout = 32, 64, 2, 48, 0.0
  c.train.num_steps, c.train.log_every, c.train.checkpoint_every = 60, 10, 30
  c.train.learning_rate, c.train.warmup_steps = 3e-3, 10
  workdir = str(tmp_path_factory.mktemp("lm"))
  metrics = train.train_and_evaluate(c, workdir)
  return c, workdir, metrics


def test_tiny_training_loss_falls_and_resumes(tiny_lm):
  from asr.lm import train
  c, workdir, metrics = tiny_lm
  assert metrics["step"] == 60
  assert metrics["final_loss"] < metrics["first_loss"] - 0.5
  assert np.isfinite(metrics["val_ppl_piece"]) and metrics["val_ppl_piece"] < 128
  lines = [json.loads(l) for l in open(os.path.join(workdir, "metrics.jsonl"))]
  assert lines[0]["loss"] > lines[-1]["loss"]
  # Resume: 20 more steps start from the checkpoint at 60, not from scratch.
  c2 = c.copy_and_resolve_references()
  c2.train.num_steps = 80
  m2 = train.train_and_evaluate(c2, workdir)
  assert m2["step"] == 80 and m2["first_loss"] < metrics["first_loss"] - 0.3


def test_score_and_rescoring_follow_the_lm(tiny_lm):
  _, workdir, _ = tiny_lm
  lm = rescore.LanguageModel.from_workdir(workdir)
  good, bad = "turn on the light", "light the on turn"
  s = lm.score([good, bad, good])
  assert s[0] == s[2] and s[0] > s[1]  # the trained LM prefers the template word order
  # The acoustics prefer the bad order slightly; a large LM weight flips the choice.
  lat = lat_lib.build_lattice([{"text": bad, "score": -1.0, "logp": -1.0},
                               {"text": good, "score": -1.5, "logp": -1.5}])
  assert rescore.rescore_lattice(lat, lm, lm_weight=0.0) == bad
  assert rescore.rescore_lattice(lat, lm, lm_weight=5.0) == good
  cands = [rescore.Candidates.from_lattice(lat, lm)]
  tuned = rescore.tune(cands, [good], weights=[0.0, 0.5, 5.0], bonuses=[0.0])
  assert tuned["errors"] == 0 and tuned["lm_weight"] > 0
  # P(</s> | text): the last term of log P(text </s>), and higher after a whole request.
  seq = lm.tokenizer.encode(good)
  b = model_lib.make_batch([seq], 48)
  lp = np.asarray(model_lib.token_logprobs(lm.model, lm.params, b["inputs"], b["targets"]))[0]
  np.testing.assert_allclose(lm.eos_logprob([good])[0], lp[len(seq)], rtol=1e-5, atol=1e-5)
  np.testing.assert_allclose(lp[:len(seq) + 1].sum(), s[0], rtol=1e-5, atol=1e-4)
  e = lm.eos_logprob([good, "turn on the", good])
  assert e[0] == e[2] and e[0] > e[1]
  # The empty lattice rescoring to the empty transcript.
  assert rescore.rescore_lattice(lat_lib.build_lattice([]), lm, 1.0) == ""


def test_tune_prefers_smallest_weight_on_ties():
  cands = [rescore.Candidates([("a",), ("b",)], np.array([0.0, -1.0]), np.array([-5.0, -1.0]))]
  t = rescore.tune(cands, ["a"], weights=[1.0, 0.0, 0.1], bonuses=[0.0, 1.0])
  assert (t["lm_weight"], t["length_bonus"], t["errors"]) == (0.0, 0.0, 0)
  assert len(t["grid"]) == 6 and t["ilm_weight"] == 0.0
  t = rescore.tune(cands, ["b"], weights=[0.0, 0.5, 1.0])
  assert t["lm_weight"] == 0.5 and t["errors"] == 0


def test_internal_lm_scores_match_a_manual_loop():
  from asr.lm import ilm
  from asr.models import transducer
  from tests import tiny_models
  model, params = tiny_models.tiny_transducer(dim=16, conv_kernel=3, subsample_channels=4,
                                              left_context=2, joint_dim=12, vocab_size=10)
  seqs = [[3, 4, 5], [7], [], [2, 9, 9, 1]]
  batched = ilm.ilm_scores(model, params, seqs, batch_size=4)
  one_by_one = np.array([ilm.ilm_scores(model, params, [s], batch_size=1)[0] for s in seqs])
  np.testing.assert_allclose(batched, one_by_one, rtol=1e-5, atol=1e-5)
  assert batched[2] == 0.0 and np.all(batched[[0, 1, 3]] < 0)
  # Manual: prediction network from blank, joint with the encoder projection's bias only.
  state = model.apply({"params": params}, 1, method=transducer.Transducer.init_pred_state)
  prev, total = jnp.zeros(1, jnp.int32), 0.0
  for y in seqs[0]:
    pred, state = model.apply({"params": params}, prev, state, method=transducer.Transducer.predict_step)
    logits = model.apply({"params": params}, params["joint_net"]["enc_proj"]["bias"][None], pred,
                         method=transducer.Transducer.joint)[0]
    total += float(jax.nn.log_softmax(logits[1:])[y - 1])
    prev = jnp.array([y], jnp.int32)
  assert batched[0] == pytest.approx(total, abs=1e-4)


def test_entity_mentions_in_the_nbest():
  """The rescoring benchmark counts the reference names that the 1-best and the N-best contain."""
  import types
  utts = [types.SimpleNamespace(text="call ada lovelace now", context=["ada lovelace", "bob"]),
          types.SimpleNamespace(text="text bob hi", context=["bob"]),
          types.SimpleNamespace(text="turn on the lamp", context=["kitchen lamp"])]
  nbests = [[{"text": "call ada love lace now"}, {"text": "call ada lovelace  now "}],
            [{"text": "text bob hi"}],
            [{"text": "turn on the lamp"}]]
  assert rescore.entity_mentions(utts, nbests) == {"total": 2, "in_one_best": 1, "in_nbest": 2}
  assert rescore.entity_mentions(utts[:1], [[]]) == {"total": 1, "in_one_best": 0, "in_nbest": 0}


class _FixedLM:
  """LanguageModel stand-in: a fixed log-prob per text."""

  def __init__(self, table):
    self.table = table

  def score(self, texts):
    return np.array([self.table[t] for t in texts], np.float64)


def test_nbest_components_recover_the_search_score_and_tune_jointly():
  """NbestComponents undoes the device's CTC weighting exactly; tune_joint
  equals a brute-force loop over the grid and prefers the smallest weights
  on ties; an N-best without CTC scores is refused."""
  rng = np.random.default_rng(0)
  texts = ["turn on the light", "turn on the lights", "turn the light", "burn on the night"]
  lm = _FixedLM({t: float(v) for t, v in zip(texts, rng.normal(-10, 3, len(texts)))})
  cands, refs = [], []
  for k in range(12):
    search = rng.normal(-5, 2, 4)
    ctc = rng.normal(-8, 3, 4)
    toks = [list(range(3 + j)) for j in range(4)]
    nb = [{"text": t, "tokens": tk, "ctc": float(c),
           "score": float(s + 0.7 * c + 1.5 * len(tk))}
          for t, tk, c, s in zip(texts, toks, ctc, search)]
    c = rescore.NbestComponents.from_nbest(nb, lm, 0.7, 1.5)
    np.testing.assert_allclose(c.search, search, atol=1e-9)
    np.testing.assert_allclose(c.totals(0.7, 1.5, 0.0, 0.0), [h["score"] for h in nb], atol=1e-9)
    cands.append(c)
    refs.append(texts[k % 4])
  grid = dict(ctc_weights=[0.0, 0.5, 1.0], ctc_bonuses=[0.0, 1.0], lm_weights=[0.0, 0.3, 1.0],
              length_bonuses=[0.0, -1.0])
  t = rescore.tune_joint(cands, refs, **grid)
  brute = min(
      (sum(rescore.edit_distance(r.split(), c.best(cw, cb, lw, lb)) for c, r in zip(cands, refs)),
       lw, cw, abs(cb), abs(lb))
      for lw in grid["lm_weights"] for cw in grid["ctc_weights"]
      for cb in grid["ctc_bonuses"] for lb in grid["length_bonuses"])
  assert t["errors"] == brute[0]
  assert (t["lm_weight"], t["ctc_weight"]) == (brute[1], brute[2])
  assert t["num_words"] == sum(len(r.split()) for r in refs)
  # Everything fixed to one point: the grid is that point.
  one = rescore.tune_joint(cands, refs, [0.7], [1.5])
  assert one["errors"] == sum(rescore.edit_distance(r.split(), c.best(0.7, 1.5))
                              for c, r in zip(cands, refs))
  with pytest.raises(ValueError, match="ctc"):
    rescore.NbestComponents.from_nbest([{"text": "a", "tokens": [1], "score": 0.0}], lm, 0.7, 1.5)
