"""A large but valid kubeconfig (10 MB, thousands of contexts, as multi-cluster fleets have) loads as kubectl
loads it; kdoctor's own size guard sits far above, and says it is kdoctor's. Speed is measured in
bench/bench_bigconfig.py, never here; memory is a fact of the run and is checked.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

from tests.clirun import base_env
from tests.lab.tools import plain_kubectl

CONTEXTS = 5000
MAX_RSS_MIB = 200


def write_fleet(path: Path) -> None:
    ca = base64.b64encode(b"-----BEGIN CERTIFICATE-----\n" + b"QUJD" * 300 + b"\n-----END CERTIFICATE-----\n").decode()
    lines = ["apiVersion: v1", "kind: Config", "current-context: ctx-4321", "clusters:"]
    for i in range(CONTEXTS):
        lines += [f"- name: cluster-{i}", "  cluster:", f"    server: https://10.0.{i // 256 % 256}.{i % 256}:6443",
                  f"    certificate-authority-data: {ca}"]  # fmt: skip
    lines.append("contexts:")
    for i in range(CONTEXTS):
        lines += [f"- name: ctx-{i}", "  context:", f"    cluster: cluster-{i}", f"    user: user-{i}"]
    lines.append("users:")
    for i in range(CONTEXTS):
        lines += [f"- name: user-{i}", "  user:", f"    token: token-{i:04d}-" + "x" * 48]
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o600)


def test_a_10mb_fleet_kubeconfig_loads_as_kubectl_loads_it(tmp_path: Path) -> None:
    config = tmp_path / "fleet.yaml"
    write_fleet(config)
    assert config.stat().st_size > 9_000_000
    # kubectl first: it loads the file and selects the current context
    view = subprocess.run(
        [plain_kubectl(), "--kubeconfig", str(config), "config", "view", "--minify", "-o", "json"],
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert view.returncode == 0, view.stderr
    assert json.loads(view.stdout)["contexts"][0]["name"] == "ctx-4321"
    # kdoctor, in a child whose peak RSS is read back
    measure = (
        "import resource, subprocess, sys; done = subprocess.run(sys.argv[1:], capture_output=True, text=True, "
        "timeout=120); sys.stdout.write(done.stdout); "
        "sys.stderr.write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))"
    )
    argv = [sys.executable, "-m", "kdoctor", "run", "--kubeconfig", str(config), "--check", "kubeconfig", "-o", "json"]
    done = subprocess.run(
        [sys.executable, "-c", measure, *argv],
        env=base_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=180,
    )
    results = {r["id"]: r for r in json.loads(done.stdout)["targets"][0]["results"]}
    assert results["kubeconfig.parse"]["status"] == "pass", results["kubeconfig.parse"]
    assert results["kubeconfig.context"]["status"] == "pass"
    assert "ctx-4321" in results["kubeconfig.context"]["summary"]
    rss_mib = int(done.stderr.strip().splitlines()[-1]) / 1024
    assert rss_mib < MAX_RSS_MIB, f"peak RSS {rss_mib:.0f} MiB"
    # no token of the thousands of users leaks into the report
    assert "token-4321-" not in done.stdout
