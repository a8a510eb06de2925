"""The bounded memo every remembered input goes through (headers, cookies, proofs, routes)."""

from __future__ import annotations

from jwt_wsgi._memo import BoundedMemo


def test_it_keeps_at_most_size_entries_then_starts_over() -> None:
    memo: BoundedMemo[str, int] = BoundedMemo(3)
    for n in range(3):
        assert memo.remember(f"k{n}", n) == n
    assert memo == {"k0": 0, "k1": 1, "k2": 2}
    memo.remember("k3", 3)
    assert memo == {"k3": 3}


def test_a_key_too_long_is_answered_but_not_kept() -> None:
    memo: BoundedMemo[str, str] = BoundedMemo(10, max_length=4)
    assert memo.remember("abcd", "kept") == "kept"
    assert memo.remember("abcde", "computed") == "computed"
    assert memo == {"abcd": "kept"}


def test_a_tuple_key_is_as_long_as_its_parts() -> None:
    memo: BoundedMemo[tuple[str, str], int] = BoundedMemo(10, max_length=4)
    memo.remember(("ab", "cd"), 1)
    memo.remember(("ab", "cde"), 2)
    assert memo == {("ab", "cd"): 1}
    assert memo.get(("ab", "cd")) == 1 and memo.get(("ab", "cde")) is None
