"""kdoctor's kubeconfig family vs `kubectl config view --minify`, alternately, in one run.

    python bench/bench_kubeconfig.py [--rounds 15]

Also times `kdoctor --version` (start-up cost alone).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import alternate, clean_env, kdoctor_cmd, kubectl_cmd, time_once


def write_kubeconfig(directory: Path) -> Path:
    """A healthy kubeconfig with a real CA and a token, as a cluster admin would have."""
    from kdoctor.emulator.pki import make_ca

    ca = make_ca("kubernetes")
    ca_path = directory / "ca.crt"
    ca_path.write_bytes(ca.cert_pem)
    config = directory / "config"
    config.write_text(
        f"""apiVersion: v1
kind: Config
current-context: bench
clusters:
- name: bench
  cluster:
    server: https://127.0.0.1:6443
    certificate-authority: {ca_path}
contexts:
- name: bench
  context: {{cluster: bench, user: bench, namespace: default}}
users:
- name: bench
  user: {{token: bench-token-not-a-secret}}
"""
    )
    config.chmod(0o600)
    return config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        config = write_kubeconfig(home)
        env = clean_env(home)
        kd = [*kdoctor_cmd(), "run", "--check", "kubeconfig", "-o", "json", "--kubeconfig", str(config)]
        kc = [*kubectl_cmd(), "config", "view", "--minify", "--kubeconfig", str(config)]
        print(f"kdoctor: {' '.join(kd)}\nkubectl: {' '.join(kc)}")
        alternate(
            ("kdoctor run --check kubeconfig", [kd]), ("kubectl config view --minify", [kc]), env, args.rounds
        )
        version = [time_once([*kdoctor_cmd(), "--version"], env) for _ in range(args.rounds)]
        print(f"{'kdoctor --version':<40} median {statistics.median(version) * 1000:8.1f} ms")


if __name__ == "__main__":
    main()
