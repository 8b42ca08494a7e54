"""What the load-balancer evidence costs a full run: with and without its extra TLS handshakes.

    python bench/bench_evidence.py [--rounds 40]

proxy.path makes EXTRA_HANDSHAKES unverified handshakes to the server (different leaf certificates
behind one address are the evidence of a load balancer). They are meant to run concurrently with
the API lookups, so a run should take no longer with them than without (issue 12: at most 5 ms).
Both sides run the same launcher, which sets kdoctor.probes.path.EXTRA_HANDSHAKES before the run
(3, kdoctor's own value, or 0), against the healthy emulator; they alternate, and the figure is the
median of the pairwise differences. With two CPUs or more the emulator (this process's threads) is
pinned to the first and kdoctor to the others, as an apiserver that runs elsewhere would be: the
figure is then what the handshakes cost kdoctor, not the emulator's share of kdoctor's CPU
(--no-pin shares them).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import clean_env, header, run_once

LAUNCH = (
    "import sys; import kdoctor.probes.path as p; p.EXTRA_HANDSHAKES = int(sys.argv[1]); "
    "sys.argv = ['kdoctor', *sys.argv[2:]]; from kdoctor.__main__ import main; main()"
)


def pin_emulator() -> str:
    """This process's other threads (the emulator's) on the first CPU; this thread, and so every
    kdoctor it starts, on the others."""
    if not hasattr(os, "sched_setaffinity"):
        return "shared (no CPU affinity on this system)"
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return "shared (one CPU)"
    me = threading.get_native_id()
    for task in Path("/proc/self/task").iterdir():
        if int(task.name) != me:
            os.sched_setaffinity(int(task.name), {cpus[0]})
    os.sched_setaffinity(0, set(cpus[1:]))
    return f"emulator pinned to CPU {cpus[0]}, kdoctor to {', '.join(map(str, cpus[1:]))}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--no-pin", dest="pin", action="store_false", help="share every CPU")
    args = parser.parse_args()
    from kdoctor.emulator import Emulator
    from kdoctor.probes.path import EXTRA_HANDSHAKES

    header("load-balancer evidence: a full run with and without its extra handshakes (healthy emulator)")
    with tempfile.TemporaryDirectory() as tmp, Emulator() as healthy:
        home = Path(tmp)
        env = clean_env(home)
        config = str(healthy.write_kubeconfig(home / "healthy.kubeconfig"))
        print(f"   CPUs: {pin_emulator() if args.pin else 'shared by kdoctor and the emulator'}")

        def cmd(handshakes: int) -> list[str]:
            return [sys.executable, "-c", LAUNCH, str(handshakes), "run", "-o", "json", "--kubeconfig", config]

        with_evidence, without = cmd(EXTRA_HANDSHAKES), cmd(0)
        for _ in range(2):  # warm-up: bytecode, page cache, the kubectl version cache
            run_once(with_evidence, env)
            run_once(without, env)
        walls: dict[int, list[float]] = {EXTRA_HANDSHAKES: [], 0: []}
        differences = []
        for i in range(args.rounds):
            # Alternate which side goes first, so neither always runs on a warmer machine.
            order = (EXTRA_HANDSHAKES, 0) if i % 2 == 0 else (0, EXTRA_HANDSHAKES)
            for n in order:
                walls[n].append(run_once(cmd(n), env) * 1000)
            differences.append(walls[EXTRA_HANDSHAKES][-1] - walls[0][-1])
        with_ms, without_ms = statistics.median(walls[EXTRA_HANDSHAKES]), statistics.median(walls[0])
        print(f"  with {EXTRA_HANDSHAKES} evidence handshakes   median {with_ms:8.1f} ms")
        print(f"  without them                 median {without_ms:8.1f} ms")
        q = statistics.quantiles(differences, n=4)
        print(
            f"  added by the evidence: median of pairwise differences {statistics.median(differences):+.1f} ms "
            f"(quartiles {q[0]:+.1f} / {q[2]:+.1f} ms, {args.rounds} pairs; goal <= 5 ms)"
        )


if __name__ == "__main__":
    main()
