"""`python -m kdoctor.emulator --scenario NAME --kubeconfig PATH`: run an emulated cluster until Ctrl-C.

For manual runs and benchmarks: prints the URL, writes a kubeconfig that points at it, and serves
until interrupted (or for --seconds).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

from kdoctor.emulator.scenarios import SCENARIOS


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kdoctor.emulator", description=__doc__)
    parser.add_argument("--scenario", default="healthy", choices=list(SCENARIOS))
    parser.add_argument("--kubeconfig", help="write a kubeconfig for the emulator here")
    parser.add_argument(
        "--user", default="token", choices=["token", "cert", "basic", "exec", "none"], help="credential kind"
    )
    parser.add_argument("--port", type=int, default=0, help="port to bind on 127.0.0.1 (default: ephemeral)")
    parser.add_argument("--identity", help="apiserver identity (Lease name)")
    parser.add_argument("--seconds", type=float, default=0.0, help="stop after this long (default: Ctrl-C)")
    parser.add_argument("--list", action="store_true", help="list the scenarios and exit")
    args = parser.parse_args(argv)
    if args.list:
        for name, scenario in SCENARIOS.items():
            print(f"{name:<22} {scenario.description}")
        return 0

    # lazy: --list needs no server (nor cryptography)
    from kdoctor.emulator.server import Emulator

    overrides: dict[str, object] = {"port": args.port}
    if args.identity:
        overrides["identity"] = args.identity
    with Emulator(args.scenario, **overrides) as api:
        print(f"{args.scenario}: {api.description}", flush=True)
        print(f"url {api.url}", flush=True)
        if args.kubeconfig:
            path = api.write_kubeconfig(args.kubeconfig, user=args.user)
            print(f"kubeconfig {path}", flush=True)
        deadline = time.monotonic() + args.seconds if args.seconds > 0 else None
        try:
            while deadline is None or time.monotonic() < deadline:
                time.sleep(0.2)
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
