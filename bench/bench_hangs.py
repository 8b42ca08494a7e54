"""How far past --timeout each kind of hang ends: `python bench/bench_hangs.py [--timeout T] [--runs N]`.

For every phase a loopback peer hangs in (TCP connect, TLS handshake, response headers, a
trickling body, a proxy CONNECT, the system resolver), and for a server that answers /version and
leaves the other requests hanging (a small TLS server here, and the emulator's etcd-down), kdoctor runs with --timeout T and the
overrun (verdict time - T) is printed: median and worst of N runs. The issue's bound is T + 0.2 s
per target and T + 0.5 s for several hanging targets at once. In-process runs time run_command
(what the CLI calls); the resolver row times a whole process (start-up included, ~0.4 s) because
the hang it measures is at process exit: subtract the "process start-up + exit" row.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests" / "lab" / "netguard")]

import netguard  # noqa: E402

netguard.install()

from tests.lab import hangs  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timeout", type=float, default=2.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--only", action="append", default=[], help="rows whose name contains this (repeatable)"
    )
    args = parser.parse_args()
    t = args.timeout
    rows: list[tuple[str, list[float]]] = []

    def measure(name: str, once: Callable[[Path], float]) -> None:
        if args.only and not any(word in name for word in args.only):
            return
        samples = []
        for _ in range(args.runs):
            with tempfile.TemporaryDirectory() as d:
                samples.append(once(Path(d)) - t)
        rows.append((name, samples))
        print(
            f"{name:<34} overrun median {statistics.median(samples):+.3f}s  worst {max(samples):+.3f}s",
            flush=True,
        )

    for kind, label in (
        ("tcp", "TCP connect"),
        ("accept", "TLS handshake"),
        ("headers", "response headers"),
        ("trickle", "trickling body"),
    ):

        def once(d: Path, kind: str = kind) -> float:
            with hangs.peer(kind) as p:
                return hangs.run_in_process(
                    hangs.kubeconfig(d / "c", f"https://127.0.0.1:{p.port}"), t
                ).seconds

        measure(label, once)

    def partial(d: Path) -> float:
        """Answers /version, leaves every other request hanging: an apiserver whose storage is gone."""
        with hangs.peer("partial") as p:
            return hangs.run_in_process(hangs.kubeconfig(d / "c", f"https://127.0.0.1:{p.port}"), t).seconds

    measure("answers /version only", partial)

    def etcd_down(d: Path) -> float:
        from kdoctor.emulator import Emulator

        with Emulator("etcd-down") as api:
            return hangs.run_in_process(api.write_kubeconfig(d / "c"), t).seconds

    measure("emulator etcd-down", etcd_down)

    def partial_concurrent(d: Path) -> float:
        with hangs.peer("partial") as a, hangs.peer("partial") as b, hangs.peer("partial") as c:
            (d / "c").write_text(json.dumps(hangs.multi_target_config({"a": a, "b": b, "c": c})))
            return hangs.run_in_process(d / "c", t, all_contexts=True).seconds

    measure("3 answering-/version-only at once", partial_concurrent)

    def proxy(d: Path) -> float:
        with hangs.peer("accept") as p:
            config = hangs.kubeconfig(d / "c", "https://kdoctor-loopback-alias:6443")
            return hangs.run_in_process(config, t, {"HTTPS_PROXY": f"http://127.0.0.1:{p.port}"}).seconds

    measure("proxy CONNECT", proxy)

    def plugin(d: Path) -> float:
        with hangs.peer("headers") as p:
            user = {
                "exec": {
                    "command": str(hangs.hang_plugin(d / "p.sh", d / "pid")),
                    "apiVersion": "client.authentication.k8s.io/v1",
                }
            }
            return hangs.run_in_process(
                hangs.kubeconfig(d / "c", f"https://127.0.0.1:{p.port}", user=user), t
            ).seconds

    measure("exec plugin", plugin)

    def concurrent(d: Path) -> float:
        with hangs.peer("headers") as a, hangs.peer("trickle") as b, hangs.peer("accept") as c:
            (d / "c").write_text(json.dumps(hangs.multi_target_config({"a": a, "b": b, "c": c})))
            return hangs.run_in_process(d / "c", t, all_contexts=True).seconds

    measure("3 hanging targets at once", concurrent)

    def baseline(d: Path) -> float:
        """A process that hangs nowhere (no kubeconfig at all): its time is start-up and exit."""
        import subprocess
        import time

        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "kdoctor", "run", "-o", "json", "--no-in-cluster"],
            env={"KUBECONFIG": str(d / "none"), "HOME": str(d), "PATH": os.environ.get("PATH", "")},
            capture_output=True,
            check=False,
        )
        return time.perf_counter() - started + t  # printed as an "overrun": the process cost itself

    measure("process start-up + exit", baseline)

    def in_pod(d: Path) -> float:
        import time

        from kdoctor.emulator import Emulator
        from tests.lab.pod import make_pod

        class _Address:
            def __init__(self, host: str) -> None:
                self.address = host

        dns = hangs.SilentDNS()
        api = Emulator("healthy").start()
        try:
            pod = make_pod(api, _Address(dns.host), d)  # type: ignore[arg-type]
            started = time.perf_counter()
            pod.run("run", "--in-cluster", "-o", "json", "--timeout", f"{t:g}")
            return time.perf_counter() - started
        finally:
            api.stop()
            dns.close()

    measure("in-pod DNS (process)", in_pod)

    if os.geteuid() == 0:

        def resolver(d: Path) -> float:
            dns = hangs.SilentDNS()
            try:
                return hangs.run_with_resolver(
                    hangs.kubeconfig(d / "c", "https://hang.kdoctor.test:6443"), t, dns, d
                ).seconds
            finally:
                dns.close()

        measure("system resolver (process)", resolver)
    return 0


if __name__ == "__main__":
    sys.exit(main())
