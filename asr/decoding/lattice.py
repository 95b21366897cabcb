"""Word lattices from a beam search's N-best list.

A :class:`Lattice` is an acyclic weighted acceptor over words: states, arcs
``(src, dst, word, acoustic, biasing, start, end)``, one start state, final
states with a final weight. It is built from the N-best hypotheses of
:mod:`asr.decoding.beam` (or ``asr.streaming.StreamingRecognizer.finalize()``)
as a minimal deterministic weighted acceptor (Mohri 1997, "Finite-state
transducers in language and speech processing", sections 3-4):

1. a prefix tree (trie) of the hypotheses' word sequences: shared prefixes
   merged;
2. weight pushing toward the start in the (max, +) semiring: a state's
   potential is the (acoustic, biasing) score pair of the best hypothesis
   through it; an arc carries the difference of its end points' potentials,
   a final state the difference between its hypothesis and its potential, and
   the lattice a ``start_weight`` (the best hypothesis' scores);
3. minimization: states with the same weighted future (finality, final
   weight, outgoing (word, weights, destination)) are merged, bottom-up, so
   shared suffixes are merged wherever the hypotheses that share them agree on
   the scores of the shared part (always the case for a suffix that only one
   hypothesis continues from each branch, e.g. "call {john, jon} smith").

Path scores (the choice the rest of the code relies on): a path's score is
the sum of its arc scores plus the start and final weights, separately for the
acoustic and the biasing stream (``total = acoustic + biasing``). Because the
construction is a deterministic minimization it preserves the weighted
language exactly: the paths are exactly the distinct word sequences of the
N-best, each with the scores of its hypothesis. Hypotheses with the same word
sequence (the beam keeps one entry per (labels, context-graph state), and
different wordpieces can spell the same words) are one path with the scores
of the best-scoring of them (max, not log-sum-exp, so that the acoustic /
biasing split stays that of one real hypothesis).

Times: with a tokenizer and per-token ``times`` (encoder frame of each
emitted label), each arc carries the encoder frames of its word's first and
last wordpiece (inclusive), taken from the best hypothesis that created the
arc in the prefix tree (hypotheses merged into one arc may have aligned the
word differently; their times are dropped).

Serialization: compact JSON (``to_json``/``from_json``; scores rounded to
``1e-4``), gzip of it (``to_bytes``/``from_bytes``), and OpenFst / AT&T text
(``to_openfst_text``: ``src dst ilabel olabel weight`` lines then ``state
weight`` final lines, weights negative log probabilities in the tropical
semiring, word ids from ``symbols()``, id 0 = ``<eps>``).
"""

from __future__ import annotations

import dataclasses
import gzip
import json
from typing import Any, Iterable, Sequence

EPS = "<eps>"
_ROUND = 4  # decimals of scores in the JSON form
_KEY_ROUND = 6  # decimals used to decide that two weighted futures are equal


@dataclasses.dataclass(frozen=True)
class Arc:
  src: int
  dst: int
  word: str
  acoustic: float  # acoustic (transducer) log-prob share
  biasing: float  # shallow-fusion bonus share
  start: int | None = None  # encoder frame of the word's first wordpiece
  end: int | None = None  # encoder frame of its last wordpiece (inclusive)

  @property
  def score(self) -> float:
    return self.acoustic + self.biasing


@dataclasses.dataclass(frozen=True)
class Path:
  words: tuple[str, ...]
  acoustic: float
  biasing: float

  @property
  def score(self) -> float:
    return self.acoustic + self.biasing

  @property
  def text(self) -> str:
    return " ".join(self.words)


@dataclasses.dataclass
class Lattice:
  """An acyclic word acceptor; states are numbered in topological order, start = 0.

  Attributes:
    num_states: number of states.
    arcs: arcs sorted by source state.
    finals: final state -> (acoustic, biasing) final weight.
    start_weight: (acoustic, biasing) added to every path.
    frame_seconds: seconds per encoder frame of the arc times (metadata, optional).
  """
  num_states: int
  arcs: list[Arc]
  finals: dict[int, tuple[float, float]]
  start_weight: tuple[float, float] = (0.0, 0.0)
  frame_seconds: float | None = None

  # --- structure -------------------------------------------------------------

  @property
  def num_arcs(self) -> int:
    return len(self.arcs)

  def out_arcs(self) -> list[list[Arc]]:
    out: list[list[Arc]] = [[] for _ in range(self.num_states)]
    for a in self.arcs:
      out[a.src].append(a)
    return out

  def in_arcs(self) -> list[list[Arc]]:
    inc: list[list[Arc]] = [[] for _ in range(self.num_states)]
    for a in self.arcs:
      inc[a.dst].append(a)
    return inc

  def words(self) -> list[str]:
    return sorted({a.word for a in self.arcs})

  # --- paths -----------------------------------------------------------------

  def paths(self, max_paths: int | None = None) -> list[Path]:
    """All paths with their scores (see module docstring), best first.

    Enumerates (exponential in general; the N-best lattices here have at most
    N paths). ``max_paths`` stops the enumeration early (depth-first order).
    """
    if not self.finals and not self.arcs:
      return []
    out_arcs = self.out_arcs()
    found: list[Path] = []
    sa, sb = self.start_weight
    stack: list[tuple[int, tuple[str, ...], float, float]] = [(0, (), sa, sb)]
    while stack and (max_paths is None or len(found) < max_paths):
      s, words, ac, bi = stack.pop()
      if s in self.finals:
        fa, fb = self.finals[s]
        found.append(Path(words, ac + fa, bi + fb))
      for a in reversed(out_arcs[s]):
        stack.append((a.dst, words + (a.word,), ac + a.acoustic, bi + a.biasing))
    return sorted(found, key=lambda p: -p.score)

  def best_path(self) -> Path | None:
    """Highest-scoring path by Viterbi over the DAG (None for an empty lattice)."""
    if not self.finals:
      return None
    neg = float("-inf")
    best: list[tuple[float, float, float, Arc | None]] = [(neg, 0.0, 0.0, None)] * self.num_states
    best[0] = (self.start_weight[0] + self.start_weight[1], *self.start_weight, None)
    for a in self.arcs:  # sorted by src, states in topological order
      tot, ac, bi, _ = best[a.src]
      if tot == neg:
        continue
      cand = tot + a.score
      if cand > best[a.dst][0]:
        best[a.dst] = (cand, ac + a.acoustic, bi + a.biasing, a)
    f = max(self.finals, key=lambda s: best[s][0] + sum(self.finals[s]))
    words = []
    s = f
    while best[s][3] is not None:
      words.append(best[s][3].word)
      s = best[s][3].src
    _, ac, bi, _ = best[f]
    return Path(tuple(reversed(words)), ac + self.finals[f][0], bi + self.finals[f][1])

  # --- oracle ----------------------------------------------------------------

  def oracle(self, ref: str | Sequence[str]) -> tuple[int, tuple[str, ...]]:
    """Minimum word edit distance to ``ref`` over all paths, and the path reaching it.

    Dynamic programming over the DAG in topological order (no enumeration):
    ``D[s][j]`` = fewest edits turning some path prefix ending in ``s`` into
    ``ref[:j]``; an arc with word ``w`` gives ``D[dst][j] = min(D[src][j] + 1
    (insertion), D[src][j-1] + [w != ref[j-1]])``, then within a state
    ``D[s][j] = min(D[s][j], D[s][j-1] + 1)`` (deletion). O(arcs * |ref|).
    An empty lattice (no paths) counts as the empty hypothesis: ``len(ref)``
    deletions.
    """
    r = ref.split() if isinstance(ref, str) else list(ref)
    n = len(r)
    if not self.finals:
      return n, ()
    inf = float("inf")
    cost = [[inf] * (n + 1) for _ in range(self.num_states)]
    back: list[list[Any]] = [[None] * (n + 1) for _ in range(self.num_states)]
    in_arcs = self.in_arcs()
    for s in range(self.num_states):
      c, b = cost[s], back[s]
      if s == 0:
        c[0] = 0
      for a in in_arcs[s]:
        p = cost[a.src]
        for j in range(n + 1):
          v = p[j] + 1  # the arc's word inserted
          if v < c[j]:
            c[j], b[j] = v, (a, j)
          if j and p[j - 1] + (a.word != r[j - 1]) < c[j]:
            c[j], b[j] = p[j - 1] + (a.word != r[j - 1]), (a, j - 1)
      for j in range(1, n + 1):
        if c[j - 1] + 1 < c[j]:
          c[j], b[j] = c[j - 1] + 1, (None, j - 1)  # ref[j-1] deleted
    f = min(self.finals, key=lambda s: cost[s][n])
    errors = cost[f][n]
    words: list[str] = []
    s, j = f, n
    while back[s][j] is not None:
      a, pj = back[s][j]
      if a is not None:
        words.append(a.word)
        s = a.src
      j = pj
    return int(errors), tuple(reversed(words))

  def oracle_wer(self, ref: str | Sequence[str]) -> float:
    """Oracle errors / reference words (errors when the reference is empty)."""
    r = ref.split() if isinstance(ref, str) else list(ref)
    return self.oracle(r)[0] / max(len(r), 1)

  # --- serialization ---------------------------------------------------------

  def to_dict(self) -> dict:
    rnd = lambda x: round(float(x), _ROUND)
    arcs = []
    for a in self.arcs:
      row = [a.src, a.dst, a.word, rnd(a.acoustic), rnd(a.biasing)]
      if a.start is not None:
        row += [a.start, a.end]
      arcs.append(row)
    d = {"num_states": self.num_states,
         "start_weight": [rnd(x) for x in self.start_weight],
         "finals": [[s, rnd(w[0]), rnd(w[1])] for s, w in sorted(self.finals.items())],
         "arcs": arcs}
    if self.frame_seconds is not None:
      d["frame_seconds"] = self.frame_seconds
    return d

  def to_json(self) -> str:
    """Compact JSON: arcs as ``[src, dst, word, acoustic, biasing(, start, end)]``."""
    return json.dumps(self.to_dict(), separators=(",", ":"), ensure_ascii=False)

  @classmethod
  def from_dict(cls, d: dict) -> "Lattice":
    arcs = [Arc(int(r[0]), int(r[1]), str(r[2]), float(r[3]), float(r[4]),
                *(int(x) for x in r[5:7])) for r in d["arcs"]]
    finals = {int(s): (float(a), float(b)) for s, a, b in d["finals"]}
    return cls(int(d["num_states"]), arcs, finals, tuple(map(float, d["start_weight"])),
               d.get("frame_seconds"))

  @classmethod
  def from_json(cls, text: str) -> "Lattice":
    return cls.from_dict(json.loads(text))

  def to_bytes(self) -> bytes:
    """gzip of the JSON form (mtime 0: the same lattice gives the same bytes)."""
    return gzip.compress(self.to_json().encode("utf-8"), mtime=0)

  @classmethod
  def from_bytes(cls, data: bytes) -> "Lattice":
    return cls.from_json(gzip.decompress(data).decode("utf-8"))

  def num_bytes(self, compressed: bool = False) -> int:
    """Size of the JSON form in UTF-8 bytes (``compressed``: of its gzip)."""
    return len(self.to_bytes()) if compressed else len(self.to_json().encode("utf-8"))

  def symbols(self) -> dict[str, int]:
    """Word -> OpenFst label id; 0 is ``<eps>``, words numbered in sorted order."""
    return {EPS: 0, **{w: i + 1 for i, w in enumerate(self.words())}}

  def symbols_text(self) -> str:
    """The symbol table in OpenFst text form (``word id`` lines)."""
    return "".join(f"{w} {i}\n" for w, i in self.symbols().items())

  def to_openfst_text(self, symbols: dict[str, int] | None = None, use_words: bool = False,
                      weight: str = "total") -> str:
    """AT&T text format of the acceptor (``fstcompile --acceptor=false``).

    Lines ``src dst ilabel olabel weight`` (first line from the start state 0)
    then ``state weight`` for each final state. Weights are negative log
    probabilities (tropical semiring): ``-(acoustic + biasing)`` for
    ``weight="total"``, ``-acoustic`` for ``"acoustic"``. OpenFst has no
    initial weight, so ``start_weight`` is added to every final weight (every
    path ends in exactly one final state: path sums unchanged).

    Args:
      symbols: word -> id (default ``self.symbols()``); unknown words raise KeyError.
      use_words: write the words themselves instead of ids (compile with
        ``--isymbols=... --osymbols=...``).
      weight: ``total`` or ``acoustic``.
    """
    if weight not in ("total", "acoustic"):
      raise ValueError(f"weight must be total or acoustic, got {weight!r}")
    syms = symbols if symbols is not None else self.symbols()
    wt = (lambda ac, bi: -(ac + bi)) if weight == "total" else (lambda ac, bi: -ac)
    fmt = lambda x: f"{x + 0.0:.{_ROUND}f}"
    lines = []
    # OpenFst reads the first line's source as the start state: list state 0's arcs first.
    for a in self.arcs:
      lab = a.word if use_words else str(syms[a.word])
      lines.append(f"{a.src}\t{a.dst}\t{lab}\t{lab}\t{fmt(wt(a.acoustic, a.biasing))}")
    sa, sb = self.start_weight
    for s, (fa, fb) in sorted(self.finals.items()):
      lines.append(f"{s}\t{fmt(wt(fa + sa, fb + sb))}")
    return "".join(l + "\n" for l in lines)


def parse_openfst_text(text: str, symbols: dict[str, int] | None = None
                       ) -> tuple[list[tuple[int, int, str, str, float]], dict[int, float]]:
  """Parses AT&T text: (arcs as (src, dst, ilabel, olabel, weight), finals {state: weight}).

  Labels are mapped back to words through ``symbols`` (word -> id) when given.
  A missing weight is 0 (the tropical semiring's one).
  """
  inv = {str(i): w for w, i in symbols.items()} if symbols is not None else None
  arcs, finals = [], {}
  for ln, line in enumerate(text.splitlines(), 1):
    f = line.split()
    if not f:
      continue
    if len(f) in (1, 2):
      finals[int(f[0])] = float(f[1]) if len(f) == 2 else 0.0
    elif len(f) in (4, 5):
      il, ol = (inv[f[2]], inv[f[3]]) if inv is not None else (f[2], f[3])
      arcs.append((int(f[0]), int(f[1]), il, ol, float(f[4]) if len(f) == 5 else 0.0))
    else:
      raise ValueError(f"line {ln}: expected 'src dst ilabel olabel [weight]' or "
                       f"'state [weight]', got {line!r}")
  return arcs, finals


# --- construction --------------------------------------------------------------


def _word_times(tokens: Sequence[int], times: Sequence[int], tokenizer) -> list[tuple[int, int]] | None:
  """(first, last) frame per word from wordpiece times; None if they do not line up."""
  if tokenizer is None or not tokens or len(tokens) != len(times):
    return None
  spans: list[list[int]] = []
  new = True
  for piece, t in zip(tokenizer.pieces(tokens), times):
    if piece.startswith("\u2581"):  # SentencePiece's word-boundary marker
      new = True
      if piece == "\u2581":  # a bare boundary: the next piece starts the word
        continue
    if new or not spans:
      spans.append([int(t), int(t)])
      new = False
    else:
      spans[-1][1] = int(t)
  return [(a, b) for a, b in spans]


def _normalize(nbest: Iterable[Any], tokenizer) -> list[dict]:
  """Accepts dicts {"text", "score", "logp"[, "tokens", "times"]} or beam.Hyp objects."""
  out = []
  for i, h in enumerate(nbest):
    if not isinstance(h, dict):  # asr.decoding.beam.Hyp
      if tokenizer is None:
        raise ValueError("build_lattice: Hyp objects need a tokenizer to spell their words")
      h = {"text": tokenizer.decode(h.tokens), "score": h.score, "logp": h.logp,
           "tokens": list(h.tokens), "times": list(h.times)}
    if "text" not in h or "score" not in h:
      raise ValueError(f"build_lattice: hypothesis {i} needs 'text' and 'score', got keys {sorted(h)}")
    score = float(h["score"])
    logp = float(h.get("logp", score))
    words = tuple(str(h["text"]).split())
    times = None
    if "tokens" in h and "times" in h:
      times = _word_times(h["tokens"], h["times"], tokenizer)
      if times is not None and len(times) != len(words):
        times = None
    out.append({"words": words, "acoustic": logp, "biasing": score - logp, "times": times})
  return out


def build_lattice(nbest: Sequence[Any], tokenizer=None, frame_seconds: float | None = None) -> Lattice:
  """Builds the minimal word lattice of an N-best list (see module docstring).

  Args:
    nbest: hypotheses as dicts ``{"text": str, "score": float, "logp": float,
      "tokens": [int], "times": [int]}`` (``score`` = acoustic log-prob +
      biasing bonus, ``logp`` = acoustic log-prob; ``tokens``/``times``
      optional), the form of ``StreamingRecognizer.finalize()`` and of
      ``decode_utterances(..., nbest=N)``; ``beam.Hyp`` objects also work
      with a ``tokenizer``. ``logp`` defaults to ``score`` (no biasing).
    tokenizer: optional :class:`asr.data.tokenizer.Tokenizer`, to put encoder
      frame times on the words (from ``tokens`` and ``times``).
    frame_seconds: seconds per encoder frame, stored as metadata.

  Returns:
    A :class:`Lattice` whose paths are the distinct word sequences of
    ``nbest``. An empty ``nbest`` gives the empty lattice (one non-final
    state, no paths; its oracle counts every reference word as deleted).
  """
  hyps = _normalize(nbest, tokenizer)
  if not hyps:
    return Lattice(1, [], {}, (0.0, 0.0), frame_seconds)
  # Best entry per word sequence (max of the total score).
  best: dict[tuple[str, ...], dict] = {}
  for h in hyps:
    k = h["words"]
    if k not in best or h["acoustic"] + h["biasing"] > best[k]["acoustic"] + best[k]["biasing"]:
      best[k] = h
  # 1. Trie. Node: children {word: node}, the best hypothesis through it, its own hypothesis.
  children: list[dict[str, int]] = [{}]
  through: list[dict] = [None]  # type: ignore[list-item]
  ends: list[dict | None] = [None]
  arc_time: dict[tuple[int, str], tuple[int, int] | None] = {}
  total = lambda h: h["acoustic"] + h["biasing"]
  for h in sorted(best.values(), key=lambda h: -total(h)):  # best first: first visitor is best
    s = 0
    if through[0] is None:
      through[0] = h
    for i, w in enumerate(h["words"]):
      if w not in children[s]:
        children.append({})
        through.append(h)
        ends.append(None)
        children[s][w] = len(children) - 1
        arc_time[(s, w)] = h["times"][i] if h["times"] is not None else None
      s = children[s][w]
    ends[s] = h
  # 2. Push: potential(q) = scores of the best hypothesis through q.
  pot = [(h["acoustic"], h["biasing"]) for h in through]
  # 3. Minimize bottom-up (children have larger ids than parents in the trie).
  n = len(children)
  klass = [0] * n
  sig_to_class: dict[tuple, int] = {}
  key = lambda x: round(x, _KEY_ROUND) + 0.0
  for s in range(n - 1, -1, -1):
    fin = None
    if ends[s] is not None:
      fin = (key(ends[s]["acoustic"] - pot[s][0]), key(ends[s]["biasing"] - pot[s][1]))
    out = tuple(sorted((w, key(pot[c][0] - pot[s][0]), key(pot[c][1] - pot[s][1]), klass[c])
                       for w, c in children[s].items()))
    sig = (fin, out)
    if sig not in sig_to_class:
      sig_to_class[sig] = len(sig_to_class)
    klass[s] = sig_to_class[sig]
  # Representative trie node per class: the first visited top-down (its
  # hypothesis is the best through it, so its arc times are the best's).
  rep: dict[int, int] = {}
  order: list[int] = []  # classes in topological order (BFS over the trie)
  queue = [0]
  for s in queue:
    c = klass[s]
    if c not in rep:
      rep[c] = s
      order.append(c)
      queue.extend(children[s].values())
  # BFS order is not topological in a DAG with merged suffixes: sort.
  topo = _topological(order, {c: [klass[d] for d in children[rep[c]].values()] for c in order},
                      klass[0])
  sid = {c: i for i, c in enumerate(topo)}
  arcs, finals = [], {}
  for c in topo:
    s = rep[c]
    for w, d in sorted(children[s].items()):
      t = arc_time.get((s, w))
      arcs.append(Arc(sid[c], sid[klass[d]], w, pot[d][0] - pot[s][0], pot[d][1] - pot[s][1],
                      *(t if t is not None else (None, None))))
    if ends[s] is not None:
      finals[sid[c]] = (ends[s]["acoustic"] - pot[s][0], ends[s]["biasing"] - pot[s][1])
  return Lattice(len(topo), arcs, finals, pot[0], frame_seconds)


def _topological(nodes: list[int], succ: dict[int, list[int]], start: int) -> list[int]:
  """Topological order of a DAG's nodes reachable from ``start`` (start first)."""
  indeg = {c: 0 for c in nodes}
  for c in nodes:
    for d in succ[c]:
      indeg[d] += 1
  ready, out = [start], []
  while ready:
    c = ready.pop()
    out.append(c)
    for d in sorted(set(succ[c]), reverse=True):
      indeg[d] -= succ[c].count(d)
      if indeg[d] == 0:
        ready.append(d)
  if len(out) != len(nodes):
    raise AssertionError("lattice construction produced a cycle")
  return out
