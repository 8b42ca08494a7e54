"""`kdoctor run --check kubeconfig` vs `kubectl config view --minify`, and `kdoctor --version` vs
`python3 -c pass`, alternately in one run.

    python bench/bench_kubeconfig.py [--rounds 15]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Side, alternate, budget, clean_env, header, kdoctor_cmd, kubectl_cmd


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
    header("kubeconfig family and start-up")
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        config = str(write_kubeconfig(home))
        env = clean_env(home)
        run_args = ["run", "--check", "kubeconfig", "-o", "json", "--kubeconfig", config]
        print("-- kdoctor run --check kubeconfig vs kubectl config view --minify")
        alternate(
            Side("kdoctor run --check kubeconfig -o json", [[*kdoctor_cmd(), *run_args]]),
            Side(
                "kubectl config view --minify",
                [[*kubectl_cmd(), "config", "view", "--minify", "--kubeconfig", config]],
            ),
            env,
            args.rounds,
        )
        print("-- where the time goes")
        budget(run_args, env, max(5, args.rounds // 2))
        print("-- kdoctor --version vs python3 -c pass (the interpreter's own start-up)")
        alternate(
            Side("kdoctor --version", [[*kdoctor_cmd(), "--version"]]),
            Side("python3 -c pass", [[sys.executable, "-c", "pass"]]),
            env,
            args.rounds,
        )


if __name__ == "__main__":
    main()
