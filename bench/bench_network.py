"""A full diagnosis vs `kubectl version` + `kubectl auth whoami` on the healthy emulator, run alternately.

    python bench/bench_network.py [--rounds 15]

For -o json, -o text and -o rich (stdout on a pseudo-terminal, as a person sees it; kubectl gets one
too); then the time budget of a run, peak RSS against kubectl's, and the time to a verdict on the
hang scenario with --timeout 2. The emulator runs in this process (a background thread); kdoctor
and kubectl are subprocesses.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    Side,
    alternate,
    budget,
    clean_env,
    header,
    kdoctor_cmd,
    kubectl_cmd,
    peak_rss_kib,
    run_once,
)


def main() -> None:
    from kdoctor.emulator import Emulator

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    header("full diagnosis vs kubectl version && kubectl auth whoami (healthy emulator, TCP_NODELAY)")
    with tempfile.TemporaryDirectory() as tmp, Emulator("healthy") as healthy, Emulator("hang") as hang:
        home = Path(tmp)
        env = clean_env(home)
        config = str(healthy.write_kubeconfig(home / "healthy.kubeconfig"))
        kc = kubectl_cmd()
        print(f"   kdoctor: {' '.join(kdoctor_cmd())}; kubectl: {kc[0]}")

        def kubectl(fmt: str, tty: bool = False) -> Side:
            return Side(
                f"kubectl version + auth whoami (-o {fmt}{', pty' if tty else ''})",
                [
                    [*kc, "version", "-o", fmt, "--kubeconfig", config],
                    [*kc, "auth", "whoami", "-o", fmt, "--kubeconfig", config],
                ],
                tty=tty,
            )

        # kdoctor exits 1 when a check fails; on the healthy cluster only notes and warnings are expected.
        for fmt, kfmt, tty in (("json", "json", False), ("text", "yaml", False), ("rich", "yaml", True)):
            kd = Side(
                f"kdoctor run -o {fmt}{' (pty)' if tty else ''}",
                [[*kdoctor_cmd(), "run", "-o", fmt, "--kubeconfig", config]],
                ok_codes=(0,),
                tty=tty,
            )
            print(f"-- -o {fmt}")
            alternate(kd, kubectl(kfmt, tty), env, args.rounds)

        print("-- where the time goes")
        budget(["run", "-o", "json", "--kubeconfig", config], env, max(5, args.rounds // 2))

        print("-- peak RSS (KiB, median of 5; kubectl: the larger of its two processes)")
        kd_rss = [
            peak_rss_kib([*kdoctor_cmd(), "run", "-o", "json", "--kubeconfig", config], env) for _ in range(5)
        ]
        kc_rss = [max(peak_rss_kib(c, env) for c in kubectl("json").cmds) for _ in range(5)]
        kd_med, kc_med = statistics.median(kd_rss), statistics.median(kc_rss)
        print(
            f"  kdoctor run -o json {kd_med:10.0f}\n  kubectl             {kc_med:10.0f}\n  ratio {kd_med / kc_med:.2f}"
        )

        hang_config = str(hang.write_kubeconfig(home / "hang.kubeconfig"))
        kd_hang = [*kdoctor_cmd(), "run", "-o", "json", "--timeout", "2", "--kubeconfig", hang_config]
        kc_hang = [*kc, "version", "--request-timeout", "2s", "--kubeconfig", hang_config]
        rounds = max(3, args.rounds // 5)
        kd_times = [run_once(kd_hang, env, ok_codes=(1,)) for _ in range(rounds)]
        kc_times = [run_once(kc_hang, env, ok_codes=(1,)) for _ in range(rounds)]
        print(f"-- hang scenario (TCP accepted, no TLS answer), --timeout 2 ({rounds} rounds)")
        print(f"  {'kdoctor run: time to verdict':<52} median {statistics.median(kd_times) * 1000:8.1f} ms")
        print(
            f"  {'kubectl version --request-timeout 2s':<52} median {statistics.median(kc_times) * 1000:8.1f} ms"
        )


if __name__ == "__main__":
    main()
