"""Running the real `kdoctor` command in a subprocess with a controlled environment."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
NETGUARD = REPO / "tests" / "lab" / "netguard"


@dataclass
class Completed:
    code: int
    stdout: str
    stderr: str

    @property
    def json(self) -> Any:
        return json.loads(self.stdout)


def base_env(
    home: Path, extra: Mapping[str, str] | None = None, pythonpath: Sequence[Path] = ()
) -> dict[str, str]:
    """A minimal environment: no proxies, no KUBECONFIG, HOME in the test's directory."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "LANG": "C.UTF-8",
        # netguard: the subprocess, like the test process, may reach loopback only.
        "PYTHONPATH": os.pathsep.join(str(p) for p in (*pythonpath, REPO, NETGUARD)),
    }
    env.update(extra or {})
    return env


def kdoctor(
    *args: str,
    home: Path,
    env: Mapping[str, str] | None = None,
    pythonpath: Sequence[Path] = (),
    timeout: float = 60,
) -> Completed:
    proc = subprocess.run(
        [sys.executable, "-m", "kdoctor", *args],
        env=base_env(home, env, pythonpath),
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    return Completed(proc.returncode, proc.stdout, proc.stderr)


def install_plugin(site: Path, dist: str, entry_points: Mapping[str, str]) -> Path:
    """A real installed distribution (dist-info with entry points) in `site`, to put on PYTHONPATH."""
    info = site / f"{dist.replace('-', '_')}-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
    lines = "".join(f"{name} = {value}\n" for name, value in entry_points.items())
    (info / "entry_points.txt").write_text(f"[kdoctor.checks]\n{lines}")
    return site
