"""Shared helpers for the benchmarks: alternate runs, medians, ratios, peak RSS, a pty. Never used by tests.

Absolute times on a shared machine drift from minute to minute; only ratios taken in one run, with
the two commands alternating, mean much. Every script prints the machine it ran on for that reason.
"""

from __future__ import annotations

import os
import platform
import shutil
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

BENCH = Path(__file__).resolve().parent


def kdoctor_cmd() -> list[str]:
    exe = shutil.which("kdoctor", path=str(Path(sys.executable).parent))
    return [exe] if exe else [sys.executable, "-m", "kdoctor"]


def kubectl_cmd() -> list[str]:
    """kubectl itself: on machines where /usr/bin/kubectl is a dispatcher script (Google Cloud SDK),
    the binary it would run, so that the dispatcher's extra process is not counted against kubectl."""
    exe = shutil.which("kubectl")
    if exe is None:
        sys.exit("kubectl not found: the benchmark compares against it")
    real = Path(exe).resolve()
    if real.parent.name == "bin" and (real.parent / "kubectl.1.32").exists():
        versions = sorted(real.parent.glob("kubectl.1.*"), key=lambda p: int(p.name.rsplit(".", 1)[1]))
        wanted = os.environ.get("KDOCTOR_BENCH_KUBECTL", "kubectl.1.32")
        chosen = next((p for p in versions if p.name == wanted), versions[-1])
        return [str(chosen)]
    return [exe]


def clean_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy") and k != "KUBECONFIG"}
    env["HOME"] = str(home)
    return env


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs ({cpu}), load {load}, "
        f"Python {platform.python_version()}"
    )


def run_once(
    cmd: Sequence[str],
    env: dict[str, str],
    ok_codes: Sequence[int] = (0,),
    *,
    tty: bool = False,
    timeout: float = 120,
) -> float:
    """Run `cmd` to its end: the wall time from spawn to reaping, in seconds."""
    if tty:
        return _run_on_pty(cmd, env, ok_codes, timeout)
    started = time.perf_counter()
    proc = subprocess.Popen(
        cmd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    _, err = proc.communicate(timeout=timeout)
    elapsed = time.perf_counter() - started
    _check(cmd, proc.returncode, err, ok_codes)
    return elapsed


def _run_on_pty(cmd: Sequence[str], env: dict[str, str], ok_codes: Sequence[int], timeout: float) -> float:
    """`cmd` with its stdout on a pseudo-terminal (what a person at a terminal gives it)."""
    import pty

    master, slave = pty.openpty()
    os.set_blocking(master, True)
    chunks: list[bytes] = []

    def drain() -> None:
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO once the last writer closed the slave
                return
            if not data:
                return
            chunks.append(data)

    env = {**env, "TERM": env.get("TERM", "xterm-256color"), "COLUMNS": "120", "LINES": "40"}
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, stdout=slave, stderr=subprocess.PIPE)
    os.close(slave)
    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    _, err = proc.communicate(timeout=timeout)
    elapsed = time.perf_counter() - started
    reader.join(5)
    os.close(master)
    _check(cmd, proc.returncode, err, ok_codes)
    return elapsed


def _check(cmd: Sequence[str], code: int, err: bytes, ok_codes: Sequence[int]) -> None:
    if code not in ok_codes:
        sys.exit(f"{' '.join(cmd)} exited {code}: {err.decode(errors='replace')[-2000:]}")


@dataclass
class Side:
    name: str
    cmds: list[list[str]]
    ok_codes: Sequence[int] = (0,)
    tty: bool = False
    walls: list[float] = field(default_factory=list)

    def run(self, env: dict[str, str]) -> None:
        self.walls.append(sum(run_once(c, env, self.ok_codes, tty=self.tty) for c in self.cmds))

    @property
    def median_ms(self) -> float:
        return statistics.median(self.walls) * 1000


def peak_rss_kib(cmd: Sequence[str], env: dict[str, str], ok_codes: Sequence[int] = (0,)) -> int:
    """Peak RSS of one run of `cmd`, measured in a fresh child that only runs it (wait4's rusage)."""
    probe = (
        "import os,subprocess,sys,resource;"
        "p=subprocess.Popen(sys.argv[1:],stdin=subprocess.DEVNULL,stdout=subprocess.DEVNULL,"
        "stderr=subprocess.DEVNULL);_,status,ru=os.wait4(p.pid,0);"
        "print(ru.ru_maxrss, os.waitstatus_to_exitcode(status))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe, *cmd], env=env, capture_output=True, text=True, timeout=120
    )
    rss, code = out.stdout.split()
    if int(code) not in ok_codes:
        sys.exit(f"{' '.join(cmd)} exited {code}")
    return int(rss)


def alternate(a: Side, b: Side, env: dict[str, str], rounds: int, *, warmup: int = 1) -> float:
    """Run A and B alternately `rounds` times (after `warmup` uncounted rounds); print medians and the
    ratio of medians; return the ratio."""
    for _ in range(warmup):
        a.run(env)
        b.run(env)
    a.walls.clear()
    b.walls.clear()
    pair_ratios = []
    for _ in range(rounds):
        a.run(env)
        b.run(env)
        pair_ratios.append(a.walls[-1] / b.walls[-1])
    ratio = a.median_ms / b.median_ms
    print(f"  {a.name:<52} median {a.median_ms:8.1f} ms")
    print(f"  {b.name:<52} median {b.median_ms:8.1f} ms")
    print(
        f"  ratio of medians {ratio:.2f}  (median of pairwise ratios {statistics.median(pair_ratios):.2f},"
        f" {rounds} rounds)"
    )
    return ratio


def header(title: str) -> None:
    print(f"== {title}")
    print(f"   machine: {machine()}")
    print("   (absolute times drift on a shared machine: read the ratios, taken in one interleaved run)")
    print(f"   bytecode: {ensure_bytecode()}")


def ensure_bytecode() -> str:
    """Compile kdoctor's and the built-in families' sources to __pycache__, as `pip install` does.

    An editable install has no bytecode until a run writes it, and none is ever written under
    PYTHONDONTWRITEBYTECODE (set on some machines): every run would then compile ~30 modules from
    source, some 80 ms of CPU that an installed kdoctor never spends. Runs only read the cache.
    """
    import compileall
    import importlib.util

    dirs = []
    for package in ("kdoctor", "kdoctor_checks"):
        spec = importlib.util.find_spec(package)
        if spec is not None and spec.submodule_search_locations:
            dirs += list(spec.submodule_search_locations)
    ok = all(compileall.compile_dir(d, quiet=1) for d in dirs)
    return f"{'compiled' if ok else 'NOT all compiled'} for {', '.join(dirs) or 'nothing found'}"


PHASES = (
    ("start-up", "interpreter start to kdoctor's main()"),
    ("CLI", "argument parsing and the imports it makes (typer only off the fast path)"),
    ("engine import", "kdoctor.app, kdoctor.context and what they import"),
    ("plugin discovery", "finding and importing the check families"),
    ("imports during the run", "modules first imported while the checks run (httpx, x509, ...)"),
    ("checks + network", "the checks themselves, their probes and every round trip"),
    ("render", "the report written to stdout (and --report)"),
    ("other", "the rest of run_command: selection, the event loop, the exit code"),
    ("shutdown", "from the exit call to the process being reaped"),
)


def budget_once(
    args: Sequence[str], env: dict[str, str], *, ok_codes: Sequence[int] = (0, 1)
) -> dict[str, float]:
    """One instrumented run of `kdoctor ARGS` (see _phases.py): milliseconds per phase."""
    import json
    import tempfile

    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        spawned = time.monotonic()
        proc = subprocess.run(
            [sys.executable, str(BENCH / "_phases.py"), out.name, repr(spawned), "--", *args],
            env=env,
            capture_output=True,
            timeout=120,
        )
        reaped = time.monotonic()
        _check(["kdoctor", *args], proc.returncode, proc.stderr, ok_codes)
        doc = json.loads(Path(out.name).read_text())
    m: dict[str, float] = doc["marks"]
    imports: list[tuple[str, float, float]] = doc["imports"]
    start_run = m.get("run_command", m["exit"])

    def imported(lo: float, hi: float, names: tuple[str, ...] | None = None) -> float:
        return sum(e - s for n, s, e in imports if lo <= s < hi and (names is None or n in names))

    engine = imported(m["main"], start_run, ("kdoctor.app", "kdoctor.context"))
    discovery = m.get("registry_end", 0.0) - m.get("registry", 0.0)
    collect = m.get("collect_end", 0.0) - m.get("collect", 0.0)
    run_imports = imported(m.get("collect", 0.0), m.get("collect_end", 0.0)) if collect else 0.0
    render = float(doc["render"])
    run_total = m.get("run_command_end", start_run) - start_run
    phases = {
        "start-up": m["main"] - m["spawn"],
        "CLI": start_run - m["main"] - engine,
        "engine import": engine,
        "plugin discovery": discovery,
        "imports during the run": run_imports,
        "checks + network": collect - run_imports,
        "render": render,
        "other": run_total - discovery - collect - render + (m["exit"] - m.get("run_command_end", m["exit"])),
        "shutdown": reaped - m["exit"],
        "total": reaped - m["spawn"],
    }
    return {k: v * 1000 for k, v in phases.items()}


def budget(args: Sequence[str], env: dict[str, str], rounds: int) -> None:
    """Print the median of each phase over `rounds` instrumented runs (the instrumentation adds a
    little to imports; the ratios come from uninstrumented runs)."""
    runs = [budget_once(args, env) for _ in range(rounds)]
    print(
        f"  budget of `kdoctor {' '.join(args[:4])}{' ...' if len(args) > 4 else ''}` (median of {rounds} runs)"
    )
    for name, what in (*PHASES, ("total", "spawn to reaped")):
        value = statistics.median(r[name] for r in runs)
        print(f"    {name:<24} {value:7.1f} ms   {what}")
