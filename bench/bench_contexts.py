"""`kdoctor run --all-contexts` over many contexts on loopback emulators.

    python bench/bench_contexts.py [--contexts 200] [--emulators 4] [--timeout 2] [--rounds 3] [--no-pin]

1. every context healthy (goal: 200 contexts in <= 2 s);
2. half the contexts on an emulator that accepts TCP and never answers TLS (goal: a verdict within
   2 x --timeout + 1 s: the hanging targets wait together, not in turns);
3. every context hanging: how many targets wait on the network at once, without the CPU of a healthy half.

The emulators run as separate processes (python -m kdoctor.emulator), so that serving does not share
this process's interpreter lock; their kubeconfigs are merged into one with N contexts, each with its
own cluster and user entry. They still share the machine: on 2 cores, the CPU they spend answering
(a real cluster's apiservers run elsewhere) is CPU kdoctor cannot have. Beside the wall time, each
line gives kdoctor's own CPU time (user + system, its children included) and the emulators' CPU in
the same runs, so a wall time can be read against the CPU it needed and the CPU it competed with.
With two CPUs or more (Linux), the emulators are pinned to the first and kdoctor to the others, as
apiservers that run elsewhere would be (--no-pin: everything shares every CPU).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import yaml
from _common import clean_env, header, kdoctor_cmd, peak_rss_kib, run_once


def start_emulator(scenario: str, kubeconfig: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "kdoctor.emulator", "--scenario", scenario, "--kubeconfig", str(kubeconfig)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line.startswith("kubeconfig "):
            return proc
        if not line and proc.poll() is not None:
            break
    proc.kill()
    sys.exit(f"the {scenario} emulator did not start")


def cpu_seconds(pids: list[int]) -> float | None:
    """User + system CPU the processes `pids` have used so far (Linux /proc), or None elsewhere."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    try:
        for pid in pids:
            # The fields after the command name (which may hold spaces), utime and stime are 14 and 15.
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
    except (OSError, IndexError, ValueError):
        return None
    return total / ticks


def pin(emulators: list[int]) -> str:
    """The emulators on the first CPU this process may use, this process (and so kdoctor) on the others."""
    if not hasattr(os, "sched_setaffinity"):
        return "shared (no CPU affinity on this system)"
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return "shared (one CPU)"
    for pid in emulators:
        # Every thread: affinity is per thread, and one started before this keeps its own.
        for task in Path(f"/proc/{pid}/task").iterdir():
            os.sched_setaffinity(int(task.name), {cpus[0]})
    os.sched_setaffinity(0, set(cpus[1:]))
    return f"emulators pinned to CPU {cpus[0]}, kdoctor to {', '.join(map(str, cpus[1:]))}"


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def merged(configs: list[Path], count: int, out: Path) -> Path:
    """`count` contexts, spread over the emulators' kubeconfigs in turn."""
    docs = [yaml.safe_load(c.read_text()) for c in configs]
    clusters, users, contexts = [], [], []
    for i in range(count):
        doc = docs[i % len(docs)]
        name = f"ctx-{i:03d}"
        clusters.append({"name": name, "cluster": doc["clusters"][0]["cluster"]})
        users.append({"name": name, "user": doc["users"][0]["user"]})
        contexts.append({"name": name, "context": {"cluster": name, "user": name}})
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": clusters,
        "users": users,
        "contexts": contexts,
        "current-context": "ctx-000",
    }
    out.write_text(yaml.safe_dump(config))
    out.chmod(0o600)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--contexts", type=int, default=200)
    parser.add_argument("--emulators", type=int, default=4)
    parser.add_argument("--timeout", type=float, default=2.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--no-pin", dest="pin", action="store_false", help="do not pin the emulators to one CPU"
    )
    args = parser.parse_args()
    header(f"--all-contexts over {args.contexts} contexts ({args.emulators} emulator processes per scenario)")
    procs: list[subprocess.Popen[str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        env = clean_env(home)
        try:
            healthy = []
            hanging = []
            for i in range(args.emulators):
                path = home / f"healthy-{i}.kubeconfig"
                procs.append(start_emulator("healthy", path))
                healthy.append(path)
                path = home / f"hang-{i}.kubeconfig"
                procs.append(start_emulator("hang", path))
                hanging.append(path)
            print(
                f"   CPUs: {pin([p.pid for p in procs]) if args.pin else 'shared by kdoctor and the emulators'}"
            )
            all_healthy = merged(healthy, args.contexts, home / "healthy.kubeconfig")
            # Alternate healthy and hanging emulators: half the contexts hang.
            mixed = merged(
                [p for pair in zip(healthy, hanging, strict=True) for p in pair],
                args.contexts,
                home / "mixed.kubeconfig",
            )
            all_hanging = merged(hanging, args.contexts, home / "hanging.kubeconfig")
            timeout = f"{args.timeout:g}"
            for label, config, bound in (
                (f"{args.contexts} healthy contexts", all_healthy, 2.0),
                (f"{args.contexts} contexts, half hanging, --timeout {timeout}", mixed, 2 * args.timeout + 1),
                # No CPU-bound healthy half: only how many targets wait on the network at once.
                (
                    f"{args.contexts} contexts, all hanging, --timeout {timeout}",
                    all_hanging,
                    2 * args.timeout + 1,
                ),
            ):
                cmd = [
                    *kdoctor_cmd(),
                    "run",
                    "--all-contexts",
                    "-o",
                    "json",
                    "--timeout",
                    timeout,
                    "--kubeconfig",
                    str(config),
                ]
                times, cpus, served = [], [], []
                for _ in range(args.rounds):
                    before, emulators_before = children_cpu(), cpu_seconds([p.pid for p in procs])
                    times.append(run_once(cmd, env, ok_codes=(0, 1), timeout=600))
                    cpus.append(children_cpu() - before)
                    emulators_after = cpu_seconds([p.pid for p in procs])
                    if emulators_before is not None and emulators_after is not None:
                        served.append(emulators_after - emulators_before)
                check = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
                doc = json.loads(check.stdout)
                targets = len(doc["targets"])
                failing = sum(1 for t in doc["targets"] if any(r["status"] == "fail" for r in t["results"]))
                rss = peak_rss_kib(cmd, env, ok_codes=(0, 1)) / 1024
                print(f"-- {label}: {targets} targets, {failing} with a failure, peak RSS {rss:.0f} MiB")
                print(
                    f"  median {statistics.median(times):6.2f} s (runs: {', '.join(f'{t:.2f}' for t in times)});"
                    f" goal <= {bound:g} s"
                )
                emulators = f"{statistics.median(served):.2f} s" if served else "n/a"
                print(
                    f"  CPU: kdoctor median {statistics.median(cpus):6.2f} s (runs: {', '.join(f'{c:.2f}' for c in cpus)});"
                    f" the emulators, in the same runs, median {emulators}; load {os.getloadavg()[0]:.1f}"
                )
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                proc.wait(10)


if __name__ == "__main__":
    main()
