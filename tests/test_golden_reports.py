"""Before/after: the report of every demo scenario and kubeconfig fixture is what tests/golden/reports pins.

A difference is either a regression or an intended change of verdict; for the latter, regenerate with
`CI=true python -m tests.golden.reports` and name the change in the commit message.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.golden.reports import GOLDEN, all_reports, dump


@pytest.fixture(scope="module")
def reports() -> dict[str, Any]:
    return all_reports()


def test_every_golden_has_a_report_and_every_report_a_golden(reports: dict[str, Any]) -> None:
    assert sorted(reports) == sorted(p.stem for p in GOLDEN.glob("*.json"))


@pytest.mark.parametrize("name", sorted(p.stem for p in GOLDEN.glob("*.json")))
def test_report_matches_golden(name: str, reports: dict[str, Any]) -> None:
    assert dump(reports[name]) == (GOLDEN / f"{name}.json").read_text()
