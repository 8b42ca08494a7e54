"""The fuzzer's CI run: a few hundred hostile kubeconfigs, each checked against every invariant.

KDOCTOR_FUZZ_CASES / KDOCTOR_FUZZ_SEED change the size and the seed (a failure prints both, with
the case number, and leaves a reproducer in KDOCTOR_FUZZ_OUT). The long campaign is bench/fuzz.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
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


def test_a_case_that_hangs_the_harness_is_named_not_waited_on(tmp_path: Path) -> None:
    # In-process cases share the campaign's process: one that never returns must end the campaign
    # with its seed and case number and every thread's stack, not hold it forever.
    script = f"""
import sys, time
from pathlib import Path
sys.path.insert(0, {str(Path(__file__).resolve().parents[2])!r})
from tests.fuzz import harness
harness.WATCHDOG_SECONDS = 0.5
harness.materialise = lambda case, case_dir, peers: harness.Prepared(case_dir, [], None, {{}}, {{}})
harness.run_in_process = lambda case, prepared: time.sleep(60)
harness.run_case(None, 7, 42, Path({str(tmp_path)!r}), Path({str(tmp_path / "f")!r}), None,
                 subprocess_run=False, campaign_size=100)
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=30)
    assert done.returncode == 3
    assert "FUZZ WATCHDOG seed=42 case=7: no verdict within 0.5s" in done.stderr
    assert "--seed 42 --case 7" in done.stderr
    assert "in <lambda>" in done.stderr  # the hung thread's stack
