"""Shared helpers for the benchmarks: alternate runs, medians, ratios. Never used by the tests."""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path


def kdoctor_cmd() -> list[str]:
    exe = shutil.which("kdoctor", path=str(Path(sys.executable).parent))
    return [exe] if exe else [sys.executable, "-m", "kdoctor"]


def kubectl_cmd() -> list[str]:
    """A plain kubectl binary when the machine has one (the /usr/bin/kubectl wrapper adds a round trip)."""
    plain = sorted(Path("/usr/lib/google-cloud-sdk/bin").glob("kubectl.1.*"))
    if plain:
        return [str(plain[-1])]
    exe = shutil.which("kubectl")
    if exe is None:
        sys.exit("kubectl not found: the benchmark compares against it")
    return [exe]


def clean_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy") and k != "KUBECONFIG"}
    env["HOME"] = str(home)
    return env


def time_once(cmd: Sequence[str], env: dict[str, str], ok_codes: Sequence[int] = (0,)) -> float:
    started = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, timeout=120)
    elapsed = time.perf_counter() - started
    if proc.returncode not in ok_codes:
        sys.exit(f"{' '.join(cmd)} exited {proc.returncode}: {proc.stderr.decode(errors='replace')[-2000:]}")
    return elapsed


def alternate(
    a: tuple[str, list[list[str]]],
    b: tuple[str, list[list[str]]],
    env: dict[str, str],
    rounds: int,
    ok_codes: Sequence[int] = (0,),
) -> None:
    """Run A's and B's command sequences alternately `rounds` times; print medians and A/B ratio."""
    times: dict[str, list[float]] = {a[0]: [], b[0]: []}
    for _ in range(rounds):
        for name, cmds in (a, b):
            times[name].append(sum(time_once(c, env, ok_codes) for c in cmds))
    med_a = statistics.median(times[a[0]])
    med_b = statistics.median(times[b[0]])
    print(f"rounds: {rounds}")
    print(f"{a[0]:<40} median {med_a * 1000:8.1f} ms")
    print(f"{b[0]:<40} median {med_b * 1000:8.1f} ms")
    print(f"ratio {a[0]} / {b[0]}: {med_a / med_b:.2f}")
