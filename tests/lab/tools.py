"""Finding the real tools tests run against; under CI=true a missing tool fails the test, never skips it."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

import pytest

# Plain kubectl binaries: the /usr/bin/kubectl of some machine images is a wrapper that sends its own
# GET /version before the real command, which breaks tests that count requests.
_PLAIN_KUBECTL_GLOBS = ("/usr/lib/google-cloud-sdk/bin/kubectl.1.*",)


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def missing(what: str) -> None:
    """Skip locally, fail in CI: CI installs every tool the tests need."""
    if in_ci():
        pytest.fail(f"{what} is required under CI=true (.ci/run installs it)")
    pytest.skip(f"{what} not available")


def require_tool(name: str) -> str:
    """The absolute path of `name` on PATH (or in /usr/sbin for daemons), else skip/fail."""
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    if path is None:
        missing(name)
        raise AssertionError("unreachable")
    return path


def plain_kubectl() -> str:
    """A kubectl binary that sends exactly the requests of its command, else kubectl on PATH."""
    for pattern in _PLAIN_KUBECTL_GLOBS:
        parent = Path(pattern).parent
        if parent.is_dir():
            candidates = sorted(parent.glob(Path(pattern).name), key=_version_key)
            if candidates:
                return str(candidates[-1])
    return require_tool("kubectl")


def _version_key(path: Path) -> tuple[int, ...]:
    parts = path.name.split(".")[1:]
    return tuple(int(p) for p in parts if p.isdigit())


def ask_kubectl(
    config: Path,
    home: Path,
    *args: str,
    env: Mapping[str, str] | None = None,
    binary: str | None = None,
    request_timeout: str | None = "5s",
) -> subprocess.CompletedProcess[str]:
    """kubectl's own verdict on `config` (default: `get --raw /version`), asked before kdoctor's.

    A clean environment: PATH, HOME=`home` (no ~/.kube of the machine), then `env` (proxy variables,
    SSL_CERT_FILE). `binary`: another kubectl (default: plain_kubectl()). Bounded twice: the request
    by --request-timeout (None: kubectl's default), the process by 30 s.
    """
    command = [
        binary or plain_kubectl(),
        "--kubeconfig",
        str(config),
        *(args or ("get", "--raw", "/version")),
    ]
    if request_timeout is not None:
        command.append(f"--request-timeout={request_timeout}")
    return subprocess.run(
        command,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), **(env or {})},
        capture_output=True,
        text=True,
        timeout=30,
        stdin=subprocess.DEVNULL,
    )
