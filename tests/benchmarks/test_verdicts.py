"""The verdicts ``make bench`` prints beside each ratio (see ``conftest.py``)."""

from __future__ import annotations

import pytest

from .conftest import _target


@pytest.mark.parametrize(
    ("ratio", "verdict"),
    [
        (0.019, "met"),
        (0.02, "met"),
        (0.021, "MISSED"),
        (0.0, "met"),
        (-0.0594, "no verdict, below zero is noise"),
    ],
)
def test_a_ratio_gets_its_verdict(ratio: float, verdict: str) -> None:
    assert _target(ratio, 0.02) == f"target <= 0.0200: {verdict}"
