"""The floor under a full run: the libraries it imports, without a line of kdoctor, against kubectl.

    python bench/bench_floor.py [--rounds 15]

A full `kdoctor run -o json` against the healthy emulator is run once with a hook that records every
module loaded by the end of it. The floor is then a `python -c` that imports only the modules not
from kdoctor (asyncio, ssl, yaml, cryptography, httpx and what they load) with the collector off:
what any run with these libraries costs before kdoctor does anything. It alternates with
`kubectl version` + `kubectl auth whoami` and the full run itself, and prints the ratios. When the
floor alone is above a goal's ratio, no change inside kdoctor can meet that goal with these
libraries. The same for `--check kubeconfig` against `kubectl config view --minify`.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Side, clean_env, header, kubectl_cmd, run_once

# Runs kdoctor's real entry point and writes sys.modules when it exits (it ends with os._exit).
RECORD = (
    "import json, os, sys\n"
    "out, sys.argv = sys.argv[1], ['kdoctor', *sys.argv[2:]]\n"
    "real_exit = os._exit\n"
    "def record(code):\n"
    "    json.dump(sorted(k for k, v in sys.modules.items() if v is not None), open(out, 'w'))\n"
    "    real_exit(code)\n"
    "os._exit = record\n"
    "from kdoctor.__main__ import main\n"
    "main()\n"
)
OURS = ("kdoctor", "kdoctor_checks", "__main__", "_common")


def floor_script(modules: list[str]) -> str:
    outside = [m for m in modules if m.split(".")[0] not in OURS]
    return (
        # As kdoctor does (kdoctor.probes.api._import_httpx): httpx without its command-line client.
        "import gc, importlib, sys\ngc.disable()\nsys.modules['httpx._main'] = None\n"
        f"for name in {outside!r}:\n"
        "    try:\n        importlib.import_module(name)\n    except Exception:\n        pass\n"
    )


def loaded_by(args: list[str], env: dict[str, str], work: Path, ok: tuple[int, ...]) -> list[str]:
    out = work / "modules.json"
    done = subprocess.run(
        [sys.executable, "-c", RECORD, str(out), *args], env=env, capture_output=True, timeout=120
    )
    if done.returncode not in ok or not out.exists():
        sys.exit(f"kdoctor {' '.join(args)} exited {done.returncode}: {done.stderr.decode()[-500:]}")
    return list(json.loads(out.read_text()))


def compare(sides: list[Side], env: dict[str, str], rounds: int) -> None:
    for side in sides:  # warm-up
        side.run(env)
        side.walls.clear()
    for _ in range(rounds):
        for side in sides:
            side.run(env)
    base = sides[-1]
    for side in sides:
        ratio = side.median_ms / base.median_ms
        print(f"  {side.name:<58} median {side.median_ms:7.1f} ms   {ratio:4.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    from kdoctor.emulator import Emulator

    header("the library floor: a full run's outside imports alone, against kubectl")
    kc = kubectl_cmd()
    with tempfile.TemporaryDirectory() as tmp, Emulator() as healthy:
        work = Path(tmp)
        env = clean_env(work)
        config = str(healthy.write_kubeconfig(work / "healthy.kubeconfig"))
        kdoctor = [sys.executable, "-m", "kdoctor"]
        for title, kd_args, ok, yardstick in (
            (
                "full diagnosis, -o json",
                ["run", "-o", "json", "--kubeconfig", config],
                (0,),
                [
                    [*kc, "version", "-o", "json", "--kubeconfig", config],
                    [*kc, "auth", "whoami", "-o", "json", "--kubeconfig", config],
                ],
            ),
            (
                "--check kubeconfig",
                ["run", "--check", "kubeconfig", "-o", "json", "--kubeconfig", config],
                (0, 1),
                [[*kc, "config", "view", "--minify", "--kubeconfig", config]],
            ),
        ):
            modules = loaded_by(kd_args, env, work, ok)
            outside = [m for m in modules if m.split(".")[0] not in OURS]
            print(
                f"-- {title}: {len(outside)} modules from outside kdoctor, {len(modules) - len(outside)} of its own"
            )
            run_once([sys.executable, "-c", floor_script(modules)], env)  # fails loudly if it cannot run
            compare(
                [
                    Side(f"kdoctor {' '.join(kd_args[:3])}", [[*kdoctor, *kd_args]], ok_codes=ok),
                    Side(
                        "floor: python -c 'import <those modules>' (gc off)",
                        [[sys.executable, "-c", floor_script(modules)]],
                    ),
                    Side("python3 -c pass", [[sys.executable, "-c", "pass"]]),
                    Side(f"kubectl ({' + '.join(c[1] for c in yardstick)})", yardstick),
                ],
                env,
                args.rounds,
            )
    print(f"  (medians of {args.rounds} interleaved rounds; ratios against kubectl)")


if __name__ == "__main__":
    main()
