"""The long fuzz campaign: `python bench/fuzz.py --n 10000 --seed S`.

Runs hostile kubeconfigs from tests/fuzz (most in-process through kdoctor's own entry, every
--subprocess-every-th as a real `python -m kdoctor` process), checks every invariant, and prints
cases/s, the slowest case, the highest child RSS and every failure with its seed, case number and
reproducer. `--case I` replays one case of a seed. Exit status 1 when any case failed.

Where the machine allows (`unshare`, as root or with user namespaces), the campaign re-runs itself
in a network namespace of its own with only loopback up, so that no case can send a packet beyond
the machine whatever kdoctor does; netguard (in-process) guards it besides. `--no-netns` keeps the
machine's network namespace.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests" / "lab" / "netguard")]

import netguard  # noqa: E402

netguard.install()

from tests.fuzz.harness import Stats, campaign  # noqa: E402

_NETNS_MARK = "KDOCTOR_FUZZ_NETNS"


def _reexec_in_own_netns() -> None:
    """Replace this process with the same campaign in a new network namespace, loopback only.

    Returns only when the machine does not allow one."""
    if os.environ.get(_NETNS_MARK) or not shutil.which("unshare") or not shutil.which("ip"):
        return
    for flags in (["--net"], ["--net", "--map-root-user"]):
        probe = subprocess.run(
            ["unshare", *flags, "ip", "link", "set", "lo", "up"], capture_output=True, timeout=30
        )
        if probe.returncode == 0:
            os.environ[_NETNS_MARK] = "1"
            script = 'ip link set lo up && exec "$@"'
            os.execvp("unshare", ["unshare", *flags, "sh", "-c", script, "sh", sys.executable, *sys.argv])


def main() -> int:
    if "--no-netns" not in sys.argv:
        _reexec_in_own_netns()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--case", type=int, default=None, help="replay only this case number")
    parser.add_argument("--subprocess", action="store_true", help="run every case as a process")
    parser.add_argument("--subprocess-every", type=int, default=20)
    parser.add_argument("--no-netns", action="store_true", help="keep the machine's network namespace")
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "kdoctor-fuzz-failures")
    args = parser.parse_args()
    if os.environ.get(_NETNS_MARK):
        print("network: a namespace of its own, loopback only (and netguard)", file=sys.stderr)
    else:
        print("network: the machine's namespace, guarded by netguard only", file=sys.stderr)
    last = [time.monotonic()]

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)  # a stopped campaign still prints what it ran

    def progress(stats: Stats) -> None:
        if time.monotonic() - last[0] > 30:
            last[0] = time.monotonic()
            print(
                f"  {stats.cases} cases, {len(stats.failures)} failures, slowest #{stats.slowest[1]} "
                f"{stats.slowest[0]:.2f}s, highest RSS #{stats.highest_rss[1]} {stats.highest_rss[0]:.0f} MiB",
                file=sys.stderr,
                flush=True,
            )

    with tempfile.TemporaryDirectory(prefix="kdoctor-fuzz-") as work:
        stats = campaign(
            args.n,
            args.seed,
            Path(work),
            args.out,
            subprocess_every=args.subprocess_every,
            only=args.case,
            force_subprocess=args.subprocess,
            progress=progress,
        )
    rate = stats.cases / stats.seconds if stats.seconds else 0.0
    stopped = f" (stopped early, of {args.n})" if stats.interrupted else ""
    print(f"seed {args.seed}: {stats.cases} cases{stopped} in {stats.seconds:.0f}s ({rate:.1f} cases/s)")
    print(f"slowest case: #{stats.slowest[1]} {stats.slowest[0]:.2f}s")
    print(f"highest RSS (subprocess cases): #{stats.highest_rss[1]} {stats.highest_rss[0]:.0f} MiB")
    print(f"failures: {len(stats.failures)}")
    for f in stats.failures:
        print(f"  case {f.number}: {'; '.join(f.problems)}\n    reproducer: {f.reproducer}")
    return 1 if stats.failures else 0


if __name__ == "__main__":
    sys.exit(main())
