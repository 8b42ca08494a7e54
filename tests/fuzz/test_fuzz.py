"""The fuzzer's CI run: a few hundred hostile kubeconfigs, each checked against every invariant.

KDOCTOR_FUZZ_CASES / KDOCTOR_FUZZ_SEED change the size and the seed (a failure prints both, with
the case number, and leaves a reproducer in KDOCTOR_FUZZ_OUT). The long campaign is bench/fuzz.py.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.fuzz.harness import campaign

CASES = int(os.environ.get("KDOCTOR_FUZZ_CASES", "200"))
SEED = int(os.environ.get("KDOCTOR_FUZZ_SEED", "20261206"))
SUBPROCESS_EVERY = 15


@pytest.mark.timeout(900)
def test_hostile_kubeconfigs_keep_every_invariant(tmp_path: Path) -> None:
    failures_dir = Path(os.environ.get("KDOCTOR_FUZZ_OUT", tmp_path / "failures"))
    stats = campaign(CASES, SEED, tmp_path / "work", failures_dir, subprocess_every=SUBPROCESS_EVERY)
    assert stats.cases >= CASES * 0.9, f"Hypothesis drew only {stats.cases} of {CASES} cases"
    report = "\n".join(
        f"seed {f.seed} case {f.number}: {'; '.join(f.problems)}  (reproducer: {f.reproducer})"
        for f in stats.failures
    )
    assert not stats.failures, f"{len(stats.failures)} of {stats.cases} cases broke an invariant:\n{report}"
