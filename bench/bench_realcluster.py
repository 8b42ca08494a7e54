"""A full diagnosis against the real kube-apiserver vs `kubectl version && kubectl auth whoami`, beside the
same comparison against the emulator (bench_network.py's figure), alternately in one run.

    tests/realcluster/build.sh            # once: builds kube-apiserver and etcd (see README)
    python bench/bench_realcluster.py [--rounds 10]

The real cluster is the tests' one (tests/realcluster/cluster.py): etcd and three apiservers on loopback,
started here and stopped at the end. Only ratios mean anything: the machine is shared.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def _kdoctor() -> list[str]:
    exe = shutil.which("kdoctor", path=str(Path(sys.executable).parent))
    return [exe] if exe else [sys.executable, "-m", "kdoctor"]


def _once(cmd: Sequence[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, timeout=120)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} exited {proc.returncode}: {proc.stderr.decode(errors='replace')[-2000:]}")
    return elapsed


def _compare(label: str, config: Path, kubectl: str, env: dict[str, str], rounds: int) -> float:
    kd = [*_kdoctor(), "run", "-o", "json", "--kubeconfig", str(config)]
    kc = [[kubectl, "version", "-o", "json", "--kubeconfig", str(config)],
          [kubectl, "auth", "whoami", "-o", "json", "--kubeconfig", str(config)]]  # fmt: skip
    times: dict[str, list[float]] = {"kdoctor": [], "kubectl": []}
    for _ in range(rounds):
        times["kdoctor"].append(_once(kd, env))
        times["kubectl"].append(sum(_once(c, env) for c in kc))
    med_kd = statistics.median(times["kdoctor"])
    med_kc = statistics.median(times["kubectl"])
    ratio = med_kd / med_kc
    print(f"{label}: kdoctor run median {med_kd * 1000:7.1f} ms, kubectl version + auth whoami median "
          f"{med_kc * 1000:7.1f} ms, ratio {ratio:.2f}")  # fmt: skip
    return ratio


def main() -> None:
    from kdoctor.emulator import Emulator
    from tests.lab.tools import plain_kubectl
    from tests.realcluster.cluster import bin_dir, start_cluster, versions

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    bins = bin_dir()
    if not (bins / "kube-apiserver").is_file():
        sys.exit(f"no kube-apiserver in {bins}: run tests/realcluster/build.sh first")
    kubectl = plain_kubectl()
    pinned = versions()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        env = {"PATH": "/usr/bin:/bin", "HOME": str(root), "LANG": "C.UTF-8"}
        started = time.perf_counter()
        cluster = start_cluster(root / "cluster", bins, kubectl)
        print(f"real cluster (kube-apiserver {pinned['KUBERNETES_VERSION']}, etcd {pinned['ETCD_VERSION']}) "
              f"up in {time.perf_counter() - started:.1f} s")  # fmt: skip
        try:
            real_config = cluster.admin_kubeconfig()
            with Emulator("healthy") as api:
                emu_config = api.write_kubeconfig(root / "emulator.kubeconfig")
                print(f"rounds: {args.rounds} (each: kdoctor, then kubectl)")
                for _ in range(2):  # warm both sides' caches (bytecode, page cache) before measuring
                    _once([*_kdoctor(), "run", "-o", "json", "--kubeconfig", str(real_config)], env)
                real = _compare("real kube-apiserver", real_config, kubectl, env, args.rounds)
                emu = _compare("emulator           ", emu_config, kubectl, env, args.rounds)
            print(f"ratio real / emulator ratio: {real / emu:.2f}")
        finally:
            cluster.stop()


if __name__ == "__main__":
    main()
