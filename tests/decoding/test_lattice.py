"""Word lattices: merged prefixes and suffixes, exact N-best scores, oracle by DP,
JSON / gzip / OpenFst text round trips."""

import itertools
import json

import numpy as np
import pytest

from asr.decoding import lattice as lat_lib
from asr.lm import rescore


def _hyp(text, score, logp=None, **kw):
  return {"text": text, "score": score, "logp": score if logp is None else logp, **kw}


NBEST = [
    _hyp("call john smith", -5.0, -6.0),  # +1 biasing bonus
    _hyp("call jon smith", -6.5),
    _hyp("call john smith", -7.0),  # same words, lower score: merged (max)
    _hyp("call joan smyth", -8.0),
    _hyp("all john smith", -9.0),
]


def _path_dict(lat):
  return {p.text: (p.acoustic, p.biasing) for p in lat.paths()}


def test_prefixes_and_suffixes_merged():
  lat = lat_lib.build_lattice(NBEST)
  # 0 -call-> 2 -john/jon-> 3 -smith-> 5 ; 2 -joan-> 4 -smyth-> 5 ;
  # 0 -all-> 1 -john-> 3 (the "all" branch's future equals the "call john" one
  # once its weight is pushed onto "all").
  words = sorted(a.word for a in lat.arcs)
  assert words.count("call") == 1  # shared prefix
  assert words.count("smith") == 1  # shared suffix (after john, jon and "all john")
  assert len(lat.finals) == 1
  trie_states = 1 + 3 + 2 + 2 + 3  # what a prefix tree alone would need
  assert lat.num_states < trie_states
  assert lat.num_states == 6 and lat.num_arcs == 8


def test_simple_suffix_merge_counts():
  # "a x c", "a y c": 0 -a-> 1 -x/y-> 2 -c-> 3 (4 states, 4 arcs).
  lat = lat_lib.build_lattice([_hyp("a x c", -1.0), _hyp("a y c", -2.0)])
  assert (lat.num_states, lat.num_arcs) == (4, 4)
  # Different weighted futures are not merged: "a x c", "a x d", "b x c".
  lat = lat_lib.build_lattice([_hyp("a x c", -1.0), _hyp("a x d", -2.0), _hyp("b x c", -3.0)])
  assert sorted(p.text for p in lat.paths()) == ["a x c", "a x d", "b x c"]


def test_every_hypothesis_is_a_path_with_its_scores():
  lat = lat_lib.build_lattice(NBEST)
  paths = _path_dict(lat)
  assert set(paths) == {"call john smith", "call jon smith", "call joan smyth", "all john smith"}
  assert paths["call john smith"] == pytest.approx((-6.0, 1.0))
  assert paths["call jon smith"] == pytest.approx((-6.5, 0.0))
  assert paths["call joan smyth"] == pytest.approx((-8.0, 0.0))
  assert paths["all john smith"] == pytest.approx((-9.0, 0.0))
  assert lat.best_path().text == "call john smith"
  assert lat.best_path().score == pytest.approx(-5.0)


def test_random_nbest_scores_exact_and_no_extra_paths():
  rng = np.random.default_rng(0)
  vocab = ["a", "b", "c", "d"]
  for _ in range(30):
    texts = {" ".join(rng.choice(vocab, rng.integers(0, 5))) for _ in range(8)}
    nbest = [_hyp(t, float(-rng.random() * 10), float(-rng.random() * 10)) for t in texts]
    lat = lat_lib.build_lattice(nbest)
    paths = {p.text: p.score for p in lat.paths()}
    assert paths == pytest.approx({h["text"]: h["score"] for h in nbest})
    assert lat.num_arcs <= sum(len(t.split()) for t in texts)
    # States are topologically numbered.
    assert all(a.src < a.dst for a in lat.arcs)


def test_prefix_hypothesis_and_empty_hypothesis():
  lat = lat_lib.build_lattice([_hyp("stop", -1.0), _hyp("stop it", -2.0), _hyp("", -3.0)])
  paths = _path_dict(lat)
  assert sorted(paths) == ["", "stop", "stop it"]
  for text, ac in (("stop", -1.0), ("stop it", -2.0), ("", -3.0)):
    assert paths[text] == pytest.approx((ac, 0.0))


def test_empty_nbest_is_an_empty_lattice():
  lat = lat_lib.build_lattice([])
  assert lat.paths() == [] and lat.best_path() is None
  assert lat.oracle("turn it on") == (3, ())  # counted as the empty hypothesis
  assert lat_lib.Lattice.from_json(lat.to_json()).paths() == []
  with pytest.raises(ValueError, match="text"):
    lat_lib.build_lattice([{"score": 1.0}])


def test_oracle_equals_brute_force():
  rng = np.random.default_rng(1)
  vocab = ["a", "b", "c"]
  for _ in range(40):
    texts = {" ".join(rng.choice(vocab, rng.integers(0, 5))) for _ in range(6)}
    lat = lat_lib.build_lattice([_hyp(t, float(-i)) for i, t in enumerate(sorted(texts))])
    ref = list(rng.choice(vocab, rng.integers(0, 5)))
    brute = min(rescore.edit_distance(ref, p.words) for p in lat.paths())
    errors, words = lat.oracle(ref)
    assert errors == brute
    assert rescore.edit_distance(ref, words) == brute  # the returned path attains it
    assert lat.oracle_wer(ref) == pytest.approx(brute / max(len(ref), 1))


def test_json_and_gzip_round_trip():
  lat = lat_lib.build_lattice(NBEST, frame_seconds=0.08)
  back = lat_lib.Lattice.from_json(lat.to_json())
  assert back.num_states == lat.num_states and back.frame_seconds == 0.08
  assert [(p.text, round(p.score, 3)) for p in back.paths()] == \
         [(p.text, round(p.score, 3)) for p in lat.paths()]
  assert lat_lib.Lattice.from_bytes(lat.to_bytes()).to_json() == lat.to_json()
  assert lat.num_bytes() == len(lat.to_json().encode()) and json.loads(lat.to_json())
  assert lat.num_bytes(compressed=True) == len(lat.to_bytes())


def _openfst_paths(arcs, finals):
  """All (words, weight) of a parsed AT&T acceptor, start = first arc's source."""
  out = []
  start = arcs[0][0] if arcs else next(iter(finals))
  def walk(s, words, w):
    if s in finals:
      out.append((" ".join(words), w + finals[s]))
    for a in arcs:
      if a[0] == s:
        walk(a[1], words + [a[2]], w + a[4])
  walk(start, [], 0.0)
  return out


def test_openfst_text_round_trip():
  lat = lat_lib.build_lattice(NBEST)
  text = lat.to_openfst_text()
  for line in text.splitlines():
    f = line.split("\t")
    assert len(f) in (2, 5) and all(x.lstrip("-").replace(".", "").isdigit() for x in f)
  arcs, finals = lat_lib.parse_openfst_text(text, lat.symbols())
  assert arcs[0][0] == 0
  assert all(a[2] == a[3] for a in arcs)  # an acceptor
  got = dict(_openfst_paths(arcs, finals))
  # Tropical weights = negative log probabilities of the total scores.
  assert got == pytest.approx({p.text: -p.score for p in lat.paths()}, abs=1e-3)
  ac = dict(_openfst_paths(*lat_lib.parse_openfst_text(lat.to_openfst_text(weight="acoustic"),
                                                        lat.symbols())))
  assert ac == pytest.approx({p.text: -p.acoustic for p in lat.paths()}, abs=1e-3)
  # Word labels and the symbol table.
  assert "\tcall\tcall\t" in lat.to_openfst_text(use_words=True)
  assert lat.symbols_text().splitlines()[0] == "<eps> 0"


class _FakeTokenizer:
  """Pieces: word-initial pieces start with the SentencePiece marker."""
  table = {1: "\u2581call", 2: "\u2581jo", 3: "hn", 4: "\u2581smith", 5: "\u2581", 6: "n"}

  def pieces(self, ids):
    return [self.table[i] for i in ids]

  def decode(self, ids):
    return "".join(self.table[i] for i in ids).replace("\u2581", " ").strip()


def test_word_times_from_token_times():
  tok = _FakeTokenizer()
  nbest = [_hyp("call john smith", -1.0, tokens=[1, 2, 3, 4], times=[3, 7, 8, 12]),
           _hyp("call jon smith", -2.0, tokens=[1, 2, 6, 5, 4], times=[3, 6, 9, 10, 13])]
  lat = lat_lib.build_lattice(nbest, tokenizer=tok)
  t = {(a.word): (a.start, a.end) for a in lat.arcs}
  assert t["call"] == (3, 3) and t["john"] == (7, 8) and t["jon"] == (6, 9)
  back = lat_lib.Lattice.from_json(lat.to_json())
  assert {(a.word): (a.start, a.end) for a in back.arcs} == t
  # Without a tokenizer the times are absent, the lattice the same.
  assert all(a.start is None for a in lat_lib.build_lattice(nbest).arcs)


def test_many_paths_enumeration_limit():
  # A lattice with 3^4 paths from an N-best of 81 (every combination).
  texts = [" ".join(c) for c in itertools.product("xyz", repeat=4)]
  lat = lat_lib.build_lattice([_hyp(t, -1.0) for t in texts])  # equal scores: fully merged
  assert (lat.num_states, lat.num_arcs) == (5, 12)
  assert len(lat.paths()) == 81 and len(lat.paths(max_paths=10)) == 10


class _IdTokenizer:
  """Even ids start a word, odd ids continue one (a stand-in SentencePiece model)."""

  def pieces(self, ids):
    return [("\u2581w" if i % 2 == 0 else "x") + str(i) for i in ids]

  def decode(self, ids):
    return "".join(self.pieces([i for i in ids if i])).replace("\u2581", " ").strip()


def test_lattice_from_real_beam_search():
  import jax.numpy as jnp
  from asr.decoding import beam as beam_lib
  from asr.models import transducer
  from tests import tiny_models
  model, params = tiny_models.tiny_transducer(sharpen=8.0)
  feats = jnp.asarray(np.random.default_rng(0).standard_normal((2, 200, 80)), jnp.float32)
  enc, enc_len = model.apply({"params": params}, feats, jnp.array([200, 120]),
                             method=transducer.Transducer.encode)
  tok = _IdTokenizer()
  for hyps in beam_lib.beam_search(model, params, np.asarray(enc), np.asarray(enc_len), beam=6):
    lat = lat_lib.build_lattice(hyps, tokenizer=tok)  # beam.Hyp objects directly
    best = {}
    for h in hyps:
      t = tok.decode(h.tokens)
      best[t] = max(best.get(t, -np.inf), h.score)
    assert {p.text: p.score for p in lat.paths()} == pytest.approx(best)
    assert lat.best_path().text == tok.decode(hyps[0].tokens)
    timed = [a for a in lat.arcs if a.start is not None]
    assert timed and all(0 <= a.start <= a.end for a in timed)
    assert lat.num_arcs <= sum(len(tok.decode(h.tokens).split()) for h in hyps)
