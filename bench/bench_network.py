"""kdoctor's full run vs `kubectl version` + `kubectl auth whoami` on the healthy demo cluster,
alternately in one run; then the time to a verdict on the hang scenario with --timeout 2.

    python bench/bench_network.py [--rounds 15]

The emulator runs in this process (a background thread); kdoctor and kubectl are subprocesses.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import alternate, clean_env, kdoctor_cmd, kubectl_cmd, time_once


def main() -> None:
    from kdoctor.emulator import Emulator

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, Emulator("healthy") as healthy, Emulator("hang") as hang:
        home = Path(tmp)
        env = clean_env(home)
        config = healthy.write_kubeconfig(home / "healthy.kubeconfig")
        kd = [*kdoctor_cmd(), "run", "-o", "json", "--kubeconfig", str(config)]
        kc = kubectl_cmd()
        version = [*kc, "version", "-o", "json", "--kubeconfig", str(config)]
        whoami = [*kc, "auth", "whoami", "-o", "json", "--kubeconfig", str(config)]
        print(f"kdoctor: {' '.join(kd)}\nkubectl: {' '.join(version)} ; ... auth whoami")
        # kdoctor exits 1 when a check fails; on the healthy cluster only warnings are expected.
        alternate(
            ("kdoctor run (all families)", [kd]),
            ("kubectl version + auth whoami", [version, whoami]),
            env,
            args.rounds,
            ok_codes=(0, 1),
        )
        hang_config = hang.write_kubeconfig(home / "hang.kubeconfig")
        kd_hang = [*kdoctor_cmd(), "run", "-o", "json", "--timeout", "2", "--kubeconfig", str(hang_config)]
        kc_hang = [*kc, "version", "--request-timeout", "2s", "--kubeconfig", str(hang_config)]
        rounds = max(3, args.rounds // 3)
        kd_times = [time_once(kd_hang, env, ok_codes=(1,)) for _ in range(rounds)]
        kc_times = [time_once(kc_hang, env, ok_codes=(1,)) for _ in range(rounds)]
        print(f"hang scenario, --timeout 2 ({rounds} rounds):")
        print(f"{'kdoctor run: time to verdict':<40} median {statistics.median(kd_times) * 1000:8.1f} ms")
        print(
            f"{'kubectl version --request-timeout 2s':<40} median {statistics.median(kc_times) * 1000:8.1f} ms"
        )


if __name__ == "__main__":
    main()
