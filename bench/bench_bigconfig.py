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
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Side, alternate, clean_env, header, kdoctor_cmd, kubectl_cmd, peak_rss_kib


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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--contexts", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        config = home / "fleet.yaml"
        size = write_fleet(config, args.contexts)
        header(f"a {size / 1e6:.1f} MB kubeconfig, {args.contexts} contexts")
        env = clean_env(home)
        kdoctor = [*kdoctor_cmd(), "run", "--kubeconfig", str(config), "--check", "kubeconfig", "-o", "json"]
        kubectl = [*kubectl_cmd(), "--kubeconfig", str(config), "config", "view", "--minify", "-o", "name"]
        alternate(
            Side("kdoctor run --check kubeconfig", [kdoctor], ok_codes=(0, 1)),
            Side("kubectl config view --minify", [kubectl]),
            env,
            args.rounds,
        )
        print(f"  peak RSS kdoctor {peak_rss_kib(kdoctor, env, (0, 1)) / 1024:.0f} MiB")
        print(f"  peak RSS kubectl {peak_rss_kib(kubectl, env) / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
