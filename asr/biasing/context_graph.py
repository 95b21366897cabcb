"""Aho-Corasick context graph for shallow-fusion contextual biasing.

Same role as icefall / sherpa-onnx ``ContextGraph``: during beam search every
emitted (non-blank) token is fed to :meth:`ContextGraph.forward_one_step`, whose
score delta is added to the hypothesis score, and :meth:`ContextGraph.finalize`
is added once at the end of the utterance.

Scoring semantics. Phrases are token-id sequences, each with a per-token bonus
(its score). Every emitted token that extends a partial match earns the bonus
of its trie node at once, so a phrase is favoured while it is being decoded.

* A token position that lies inside a *completed* phrase occurrence keeps its
  bonus forever: completing a phrase never leads to a refund later.
* The bonus of positions that belong only to an unfinished partial match is
  refunded when that match is abandoned (the fail link drops them) or by
  ``finalize`` at the end of the utterance.
* Matching continues after a completion (the state is not reset to the root),
  so nested and overlapping phrases ([1, 2] and [1, 2, 3]; [1, 2, 3] and
  [2, 3, 4]) are all found; a position covered by several occurrences is
  rewarded once. With a uniform score ``s`` the bonus finally kept is exactly
  ``s`` times the number of positions covered by some phrase occurrence.
* When the match falls back along a fail link to a shorter suffix, the positions
  still inside the suffix are re-valued with the suffix path's bonuses (those
  already banked stay banked); the difference is refunded.
* Phrases sharing a trie prefix share its nodes, and a shared node carries the
  largest per-token score of the phrases through it (as in icefall); duplicate
  phrases therefore take the max score.

To honour the first rule without resetting to the root, the state remembers
which of the matched positions are banked (:class:`ContextState`).
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NamedTuple

from asr.data.text import normalize_transcript

_ROOT = 0


class ContextState(NamedTuple):
    """Biasing state of one hypothesis; hashable, so hypotheses can merge on it."""

    # Trie node of the longest suffix of the emitted tokens that is a phrase prefix.
    node: int
    # Bit j is set when the token j steps before the newest one lies inside a
    # completed phrase occurrence, i.e. its bonus is banked and never refunded.
    covered: int


_ROOT_STATE = ContextState(_ROOT, 0)


class ContextGraph:
    """Aho-Corasick automaton over token-id phrases with per-token bonuses."""

    def __init__(
        self,
        phrases: Sequence[Sequence[int]],
        context_score: float = 2.0,
        scores: Sequence[float | None] | None = None,
        texts: Sequence[str] | None = None,
    ) -> None:
        """Builds the graph in time linear in the total number of tokens.

        Args:
          phrases: token ids of each phrase; phrase ids are indices in this list.
          context_score: per-token bonus of phrases without their own score.
          scores: optional per-phrase per-token bonus; ``None`` entries use
            ``context_score``.
          texts: optional phrase texts, kept for reporting matches.
        """
        if scores is not None and len(scores) != len(phrases):
            raise ValueError(f"got {len(scores)} scores for {len(phrases)} phrases")
        if texts is not None and len(texts) != len(phrases):
            raise ValueError(f"got {len(texts)} texts for {len(phrases)} phrases")
        self.context_score = float(context_score)
        self.texts: list[str] | None = None if texts is None else list(texts)
        self.num_phrases = len(phrases)

        token_lists = []
        max_token = 0
        for pid, phrase in enumerate(phrases):
            toks = [operator.index(t) for t in phrase]  # rejects floats, accepts numpy ints
            if not toks:
                raise ValueError(f"phrase {pid} is empty" + self._describe(pid))
            if min(toks) < 0:
                raise ValueError(f"phrase {pid} has a negative token id: {toks}")
            max_token = max(max_token, max(toks))
            token_lists.append(toks)

        # One flat dict keyed by node * stride + token instead of a dict per node:
        # several times less memory and faster to build for 1e5+ phrases.
        stride = max_token + 1
        edges: dict[int, int] = {}
        parent = [_ROOT]
        token = [-1]
        depth = [0]
        token_score = [0.0]
        ends: dict[int, list[int]] = {}  # end node -> ids of the phrases ending there
        for pid, toks in enumerate(token_lists):
            score = self.context_score if scores is None or scores[pid] is None else float(scores[pid])
            if not math.isfinite(score):
                raise ValueError(f"phrase {pid} has a non-finite score {score}" + self._describe(pid))
            node = _ROOT
            for tok in toks:
                key = node * stride + tok
                child = edges.get(key)
                if child is None:
                    child = len(parent)
                    edges[key] = child
                    parent.append(node)
                    token.append(tok)
                    depth.append(depth[node] + 1)
                    token_score.append(score)
                elif score > token_score[child]:
                    token_score[child] = score
                node = child
            ends.setdefault(node, []).append(pid)

        num_nodes = len(parent)
        # Children are created after their parents, so id order is a valid
        # order for accumulating scores from the root.
        node_score = [0.0] * num_nodes
        for n in range(1, num_nodes):
            node_score[n] = node_score[parent[n]] + token_score[n]

        # Fail links need every shallower node done first (BFS order); ids are
        # not in that order when a later phrase adds a shallow suffix node.
        fail = [_ROOT] * num_nodes
        output = [-1] * num_nodes  # nearest proper-suffix end node, -1 if none
        match_depth = [0] * num_nodes  # length of the longest phrase ending here
        for n in sorted(range(1, num_nodes), key=depth.__getitem__):
            p, tok = parent[n], token[n]
            f = _ROOT
            if p != _ROOT:
                f = fail[p]
                while True:
                    nxt = edges.get(f * stride + tok)
                    if nxt is not None:
                        f = nxt
                        break
                    if f == _ROOT:
                        break
                    f = fail[f]
            fail[n] = f
            output[n] = f if f in ends else output[f]
            match_depth[n] = depth[n] if n in ends else match_depth[f]

        self._stride = stride
        self._edges = edges
        self._parent = parent
        self._depth = depth
        self._token_score = token_score
        self._node_score = node_score
        self._fail = fail
        self._output = output
        self._match_depth = match_depth
        self._ends = ends

    @classmethod
    def from_phrases(
        cls,
        phrases: Sequence[str],
        encode_fn: Callable[[str], Sequence[int]],
        default_score: float = 2.0,
        scores: Sequence[float | None] | None = None,
    ) -> ContextGraph:
        """Builds a graph from raw text phrases (normalized, then encoded with ``encode_fn``)."""
        texts = [normalize_transcript(p) for p in phrases]
        for pid, (raw, text) in enumerate(zip(phrases, texts)):
            if not text:
                raise ValueError(f"phrase {pid} ({raw!r}) is empty after normalization")
        return cls([encode_fn(t) for t in texts], default_score, scores, texts)

    @property
    def root(self) -> ContextState:
        """State of a hypothesis that has not started matching anything."""
        return _ROOT_STATE

    @property
    def num_nodes(self) -> int:
        return len(self._parent)

    def forward_one_step(
        self, state: ContextState, token: int
    ) -> tuple[float, ContextState, tuple[int, ...]]:
        """Consumes one emitted token.

        Returns:
          (score delta, next state, ids of the phrases completed by this token,
          longest first).
        """
        node, covered = state
        edges, stride, fail = self._edges, self._stride, self._fail
        nxt = _ROOT
        if 0 <= token < stride:
            while True:
                child = edges.get(node * stride + token)
                if child is not None:
                    nxt = child
                    break
                if node == _ROOT:
                    break
                node = fail[node]
        # Shift in the new (not yet banked) position, drop those outside the suffix.
        covered = (covered << 1) & ((1 << self._depth[nxt]) - 1)
        delta = self._pending(nxt, covered) - self._pending(state.node, state.covered)
        m = self._match_depth[nxt]
        if not m:
            return delta, ContextState(nxt, covered), ()
        # All completed phrases end here, so together they cover the last m positions.
        return delta, ContextState(nxt, covered | ((1 << m) - 1)), self._matched(nxt)

    def finalize(self, state: ContextState) -> float:
        """Score delta at the end of the utterance: refunds the unfinished partial match."""
        return -self.pending(state)

    def pending(self, state: ContextState) -> float:
        """Bonus awarded to ``state``'s partial match that is not banked yet."""
        return self._pending(state.node, state.covered)

    def _pending(self, node: int, covered: int) -> float:
        if not covered:
            return self._node_score[node]
        parent, token_score = self._parent, self._token_score
        total = 0.0
        while node != _ROOT:
            if not covered & 1:
                total += token_score[node]
            covered >>= 1
            node = parent[node]
        return total

    def _matched(self, node: int) -> tuple[int, ...]:
        ids: list[int] = []
        if node not in self._ends:
            node = self._output[node]
        while node != -1:
            ids.extend(self._ends[node])
            node = self._output[node]
        return tuple(ids)

    def _describe(self, pid: int) -> str:
        return f" ({self.texts[pid]!r})" if self.texts is not None else ""


def parse_context_file(path: str | Path) -> list[tuple[str, float | None]]:
    """Reads a biasing list: one phrase a line with an optional ``:score`` suffix.

    Blank lines and lines starting with ``#`` are skipped. The last ``:`` starts
    the score, so a phrase itself cannot contain one.
    """
    entries: list[tuple[str, float | None]] = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, start=1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            phrase, sep, score_text = line.rpartition(":")
            if not sep:
                entries.append((line, None))
                continue
            phrase = phrase.strip()
            try:
                score = float(score_text)
            except ValueError:
                score = math.nan
            if not math.isfinite(score):
                raise ValueError(f"{path}:{lineno}: malformed score {score_text.strip()!r} in {line!r}")
            if not phrase:
                raise ValueError(f"{path}:{lineno}: empty phrase in {line!r}")
            entries.append((phrase, score))
    return entries
