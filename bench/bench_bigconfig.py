"""A 10 MB kubeconfig with thousands of contexts (a multi-cluster fleet's): kdoctor's kubeconfig family vs
`kubectl config view --minify`, alternately, with each one's peak RSS.

    python bench/bench_bigconfig.py [--contexts 5000] [--rounds 5]

The issue's targets for kdoctor: well under a second and under 200 MiB RSS; reported here as measured,
with the ratio to kubectl on the same machine at the same time.
"""

from __future__ import annotations

import argparse
import base64
import os
import secrets
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import alternate, clean_env, kdoctor_cmd, kubectl_cmd


def write_fleet(path: Path, contexts: int) -> int:
    """`contexts` clusters (each with ~1.3 KB of CA data), contexts and token users; returns the size."""
    ca = base64.b64encode(b"-----BEGIN CERTIFICATE-----\n" + base64.encodebytes(os.urandom(900)) + b"-----END "
                          b"CERTIFICATE-----\n").decode()  # fmt: skip
    lines = ["apiVersion: v1", "kind: Config", "current-context: ctx-0", "clusters:"]
    for i in range(contexts):
        server = f"https://10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}:6443"
        lines += [f"- name: cluster-{i}", "  cluster:", f"    server: {server}", f"    certificate-authority-data: {ca}"]
    lines.append("contexts:")
    for i in range(contexts):
        lines += [f"- name: ctx-{i}", "  context:", f"    cluster: cluster-{i}", f"    user: user-{i}"]
    lines.append("users:")
    for i in range(contexts):
        lines += [f"- name: user-{i}", "  user:", f"    token: {secrets.token_hex(32)}"]
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o600)
    return path.stat().st_size


_RSS_OF_CHILD = (
    "import resource, subprocess, sys; subprocess.run(sys.argv[1:], capture_output=True, timeout=120); "
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
)


def peak_rss_mib(cmd: list[str], env: dict[str, str]) -> float:
    # A fresh parent per measurement: RUSAGE_CHILDREN is the largest child a process ever had.
    done = subprocess.run([sys.executable, "-c", _RSS_OF_CHILD, *cmd], env=env, capture_output=True, timeout=180)
    return int(done.stdout.strip() or 0) / 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--contexts", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        config = home / "fleet.yaml"
        size = write_fleet(config, args.contexts)
        print(f"kubeconfig: {size / 1e6:.1f} MB, {args.contexts} contexts")
        env = clean_env(home)
        kdoctor = [*kdoctor_cmd(), "run", "--kubeconfig", str(config), "--check", "kubeconfig", "-o", "json"]
        kubectl = [*kubectl_cmd(), "--kubeconfig", str(config), "config", "view", "--minify", "-o", "name"]
        alternate(("kdoctor --check kubeconfig", [kdoctor]), ("kubectl config view --minify", [kubectl]), env,
                  args.rounds, ok_codes=(0, 1))  # fmt: skip
        print(f"peak RSS kubectl: {peak_rss_mib(kubectl, env):.0f} MiB")
        print(f"peak RSS kdoctor: {peak_rss_mib(kdoctor, env):.0f} MiB")


if __name__ == "__main__":
    main()
