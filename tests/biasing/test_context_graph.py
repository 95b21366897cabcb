import random

import pytest

from asr.biasing.context_graph import ContextGraph, ContextState, parse_context_file


def run(graph: ContextGraph, tokens: list[int]):
    """Feeds tokens from the root; returns per-step deltas, matches, final state."""
    state = graph.root
    deltas, matches = [], []
    for t in tokens:
        delta, state, matched = graph.forward_one_step(state, t)
        deltas.append(delta)
        matches.append(matched)
    return deltas, matches, state


def test_full_match_keeps_bonus():
    g = ContextGraph([[1, 2, 3]], context_score=2.0)
    deltas, matches, state = run(g, [1, 2, 3])
    assert deltas == [2.0, 2.0, 2.0]
    assert matches == [(), (), (0,)]
    assert g.finalize(state) == 0.0  # +6 kept


def test_full_match_inside_other_tokens():
    g = ContextGraph([[1, 2, 3]], context_score=2.0)
    deltas, matches, state = run(g, [9, 1, 2, 3, 9])
    assert deltas == [0.0, 2.0, 2.0, 2.0, 0.0]
    assert matches == [(), (), (), (0,), ()]
    assert state == g.root and g.finalize(state) == 0.0


def test_partial_match_then_mismatch_is_refunded():
    g = ContextGraph([[1, 2, 3]], context_score=2.0)
    deltas, _, state = run(g, [1, 2, 5])
    assert deltas == [2.0, 2.0, -4.0]
    assert state == g.root


def test_mismatch_restarting_same_phrase():
    # [1,2,1]: the third token abandons [1,2] but starts [1] again: -4 + 2.
    g = ContextGraph([[1, 2, 3]], context_score=2.0)
    deltas, matches, state = run(g, [1, 2, 1, 2, 3])
    assert deltas == [2.0, 2.0, -2.0, 2.0, 2.0]
    assert matches[-1] == (0,)
    assert sum(deltas) + g.finalize(state) == 6.0


def test_partial_match_at_end_refunded_by_finalize():
    g = ContextGraph([[1, 2, 3]], context_score=2.0)
    deltas, _, state = run(g, [1, 2])
    assert deltas == [2.0, 2.0]
    assert g.pending(state) == 4.0
    assert g.finalize(state) == -4.0


def test_unknown_token_ids_fall_back_to_root():
    g = ContextGraph([[1, 2, 3]], context_score=2.0)
    for bad in (100, -1):
        deltas, _, state = run(g, [1, bad])
        assert deltas == [2.0, -2.0] and state == g.root


def test_overlapping_phrases_each_position_rewarded_once():
    g = ContextGraph([[1, 2, 3], [2, 3, 4]], context_score=2.0)
    deltas, matches, state = run(g, [1, 2, 3, 4])
    # 1: +2 ([1]); 2: +2 ([1,2]); 3: +2, [1,2,3] done, all banked;
    # 4: fail to [2,3] (banked) then [2,3,4]: only token 4 is new, +2.
    assert deltas == [2.0, 2.0, 2.0, 2.0]
    assert matches == [(), (), (0,), (1,)]
    assert g.finalize(state) == 0.0  # 8 kept: four covered tokens * 2


def test_overlapping_phrases_second_not_completed():
    g = ContextGraph([[1, 2, 3], [2, 3, 4]], context_score=2.0)
    deltas, matches, state = run(g, [1, 2, 3, 5])
    # Abandoning [2,3] after [1,2,3] completed refunds nothing: 2 and 3 are banked.
    assert deltas == [2.0, 2.0, 2.0, 0.0]
    assert matches == [(), (), (0,), ()]
    assert g.finalize(state) == 0.0  # 6 kept


def test_overlapping_phrases_with_different_scores():
    g = ContextGraph([[1, 2, 3], [2, 3, 4]], context_score=2.0, scores=[2.0, 1.0])
    deltas, matches, state = run(g, [1, 2, 3, 4])
    # Token 4 is valued with [2,3,4]'s bonus; 2 and 3 stay banked at 2 each.
    assert deltas == [2.0, 2.0, 2.0, 1.0]
    assert matches[-1] == (1,)
    assert g.finalize(state) == 0.0  # 7 kept


def test_nested_phrases_prefix():
    g = ContextGraph([[1, 2], [1, 2, 3]], context_score=2.0)
    deltas, matches, state = run(g, [1, 2, 3])
    assert deltas == [2.0, 2.0, 2.0]
    assert matches == [(), (0,), (1,)]
    assert g.finalize(state) == 0.0  # 6

    deltas, matches, state = run(g, [1, 2, 4])
    # [1,2] completed, so failing to extend it to [1,2,3] refunds nothing.
    assert deltas == [2.0, 2.0, 0.0]
    assert matches == [(), (0,), ()]
    assert state == g.root


def test_shared_prefix_takes_max_token_score():
    g = ContextGraph([[1, 2], [1, 2, 3]], scores=[1.0, 3.0])
    deltas, matches, state = run(g, [1, 2, 4])
    # Nodes 1 and 2 are shared, so they carry max(1, 3) = 3 per token.
    assert deltas == [3.0, 3.0, 0.0]
    assert matches[1] == (0,)


def test_suffix_phrase_completed_via_output_link():
    g = ContextGraph([[1, 2, 3, 4], [2, 3]], context_score=2.0)
    deltas, matches, state = run(g, [1, 2, 3, 5])
    # 3 completes [2,3] through the output link of [1,2,3]: tokens 2,3 banked,
    # token 1 (only in the unfinished [1,2,3,4]) is refunded on 5.
    assert deltas == [2.0, 2.0, 2.0, -2.0]
    assert matches == [(), (), (1,), ()]
    assert sum(deltas) + g.finalize(state) == 4.0

    deltas, matches, state = run(g, [1, 2, 3, 4])
    assert deltas == [2.0, 2.0, 2.0, 2.0]
    assert matches == [(), (), (1,), (0,)]
    assert g.finalize(state) == 0.0  # 8


def test_single_token_suffix_phrase():
    g = ContextGraph([[1, 2, 3], [2]], context_score=2.0)
    deltas, matches, state = run(g, [1, 2, 5])
    assert deltas == [2.0, 2.0, -2.0]  # keeps [2]'s bonus, refunds token 1
    assert matches == [(), (1,), ()]


def test_fail_link_switches_to_prefix_of_other_phrase():
    g = ContextGraph([[1, 2, 5], [2, 3, 4]], scores=[3.0, 1.0])
    deltas, matches, state = run(g, [1, 2, 3, 4])
    # 1: +3 ([1]=3); 2: +3 ([1,2]=6); 3: fail to [2] of [2,3,4], goto [2,3]=1+1=2:
    # keep the suffix's bonus 2, refund 6-2 = 4; 4: +1, [2,3,4] done.
    assert deltas == [3.0, 3.0, -4.0, 1.0]
    assert matches == [(), (), (), (1,)]
    assert g.finalize(state) == 0.0  # 3 kept = 3 tokens * 1

    deltas, _, state = run(g, [1, 2, 3])
    assert deltas == [3.0, 3.0, -4.0]
    assert g.finalize(state) == -2.0  # [2,3] unfinished: total 0


def test_fail_link_completion_with_refund():
    g = ContextGraph([[1, 2, 3], [2, 4]], scores=[3.0, 1.0])
    deltas, matches, state = run(g, [1, 2, 4])
    # 4: fail to [2] then [2,4] done (node score 2): 2 - 6 = -4.
    assert deltas == [3.0, 3.0, -4.0]
    assert matches == [(), (), (1,)]
    assert g.finalize(state) == 0.0  # 2 kept


def test_per_phrase_scores():
    g = ContextGraph([[1, 2], [3, 4, 5]], context_score=2.0, scores=[1.5, None])
    deltas, matches, state = run(g, [1, 2, 3, 4, 5])
    assert deltas == [1.5, 1.5, 2.0, 2.0, 2.0]
    assert matches == [(), (0,), (), (), (1,)]
    assert g.finalize(state) == 0.0


def test_duplicate_phrases_take_max_and_report_all_ids():
    g = ContextGraph([[1, 2], [1, 2]], scores=[1.0, 3.0])
    deltas, matches, _ = run(g, [1, 2])
    assert deltas == [3.0, 3.0]
    assert matches[-1] == (0, 1)


def test_rejects_bad_phrases():
    with pytest.raises(ValueError, match="phrase 1 is empty"):
        ContextGraph([[1], []])
    with pytest.raises(ValueError, match="negative"):
        ContextGraph([[1, -2]])
    with pytest.raises(ValueError, match="scores"):
        ContextGraph([[1]], scores=[1.0, 2.0])
    with pytest.raises(TypeError):
        ContextGraph([[1.5]])


def test_empty_graph():
    g = ContextGraph([])
    assert g.forward_one_step(g.root, 3) == (0.0, g.root, ())
    assert g.finalize(g.root) == 0.0


def test_states_are_hashable_and_merge():
    g = ContextGraph([[1, 2, 3]])
    _, _, a = run(g, [7, 1])
    _, _, b = run(g, [1, 2, 9, 1])
    assert isinstance(a, ContextState)
    assert a == b and hash(a) == hash(b)
    assert len({a, b, g.root}) == 2


def _check_against_brute_force(g, phrases, score, sequences):
    """With a uniform score the totals have a closed form: score * covered positions
    (+ the uncovered positions of the current partial match before finalize)."""
    max_len = max(len(p) for p in phrases)
    ids_of: dict[tuple[int, ...], list[int]] = {}
    for pid, p in enumerate(phrases):
        ids_of.setdefault(tuple(p), []).append(pid)
    prefixes = {tuple(p[:k]) for p in phrases for k in range(1, len(p) + 1)}
    for seq in sequences:
        state, total, covered = g.root, 0.0, set()
        for t, tok in enumerate(seq):
            delta, state, matched = g.forward_one_step(state, tok)
            total += delta
            expected_ids = []
            for length in range(1, min(max_len, t + 1) + 1):
                suffix = tuple(seq[t + 1 - length : t + 1])
                if suffix in ids_of:
                    expected_ids += ids_of[suffix]
                    covered.update(range(t + 1 - length, t + 1))
            assert sorted(matched) == sorted(expected_ids)
            window = max(
                (k for k in range(1, min(max_len, t + 1) + 1) if tuple(seq[t + 1 - k : t + 1]) in prefixes),
                default=0,
            )
            uncovered = sum(i not in covered for i in range(t + 1 - window, t + 1))
            assert g.pending(state) == pytest.approx(score * uncovered)
            assert total == pytest.approx(score * (len(covered) + uncovered))
        assert total + g.finalize(state) == pytest.approx(score * len(covered))


def test_random_dense_phrases_match_brute_force():
    rng = random.Random(0)
    for _ in range(40):
        phrases = [[rng.randrange(4) for _ in range(rng.randint(1, 4))] for _ in range(rng.randint(1, 8))]
        g = ContextGraph(phrases, context_score=1.5)
        seqs = [[rng.randrange(5) for _ in range(30)] for _ in range(5)]
        _check_against_brute_force(g, phrases, 1.5, seqs)


def test_many_random_phrases():
    rng = random.Random(1)
    vocab = 1000
    phrases = [[rng.randrange(vocab) for _ in range(rng.randint(2, 6))] for _ in range(20_000)]
    g = ContextGraph(phrases, context_score=2.0)
    assert g.num_phrases == 20_000
    seqs = []
    for _ in range(20):
        seq: list[int] = []
        while len(seq) < 100:
            if rng.random() < 0.5:
                seq += rng.choice(phrases)
            else:
                seq += [rng.randrange(vocab) for _ in range(rng.randint(1, 3))]
        seqs.append(seq)
    _check_against_brute_force(g, phrases, 2.0, seqs)


def test_from_phrases_normalizes_and_encodes():
    vocab: dict[str, int] = {}
    seen: list[str] = []

    def encode(text: str) -> list[int]:
        seen.append(text)
        return [vocab.setdefault(w, len(vocab)) for w in text.split()]

    g = ContextGraph.from_phrases(["Zoë Müller", "call 911"], encode, default_score=1.0, scores=[None, 2.5])
    assert seen == ["zoe muller", "call nine hundred eleven"]
    assert g.texts == seen
    zoe, muller = vocab["zoe"], vocab["muller"]
    deltas, matches, _ = run(g, [zoe, muller])
    assert deltas == [1.0, 1.0] and matches[-1] == (0,)
    deltas, matches, _ = run(g, encode("call nine hundred eleven"))
    assert sum(deltas) == 10.0 and matches[-1] == (1,)

    with pytest.raises(ValueError, match="empty after normalization"):
        ContextGraph.from_phrases(["ok", "?!"], encode)


def test_parse_context_file(tmp_path):
    path = tmp_path / "context.txt"
    path.write_text("# names\nzoe muller:3.5\n\n  Anne O'Brien  \nsiobhan : -1\n", encoding="utf-8")
    assert parse_context_file(path) == [("zoe muller", 3.5), ("Anne O'Brien", None), ("siobhan", -1.0)]


@pytest.mark.parametrize("bad_line", ["zoe:abc", "zoe:", "zoe:nan", ":2.0"])
def test_parse_context_file_errors_name_file_and_line(tmp_path, bad_line):
    path = tmp_path / "context.txt"
    path.write_text(f"ok\n# comment\n{bad_line}\n", encoding="utf-8")
    with pytest.raises(ValueError, match=rf"context\.txt:3: "):
        parse_context_file(path)
