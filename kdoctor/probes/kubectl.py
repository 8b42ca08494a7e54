"""The kubectl on PATH: its own version document, read without any network.

`kubectl version --client -o json` prints the clientVersion (gitVersion, goVersion, platform); the
version skew and Go's TLS rules are judged against it. No kubectl on PATH is a fact, not an error.
It runs with KUBECONFIG=/dev/null: a plain kubectl needs no configuration for this, and Google Cloud
SDK's dispatcher, which would otherwise contact the current context's server to pick a release,
reports itself ("v1.32.4-dispatcher"); kdoctor.skew knows that it runs a release matching the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kdoctor.context import Context

__all__ = ["KubectlClient", "read_kubectl_client", "read_path_kubectl"]

_OUTPUT_CAP = 64 * 1024


@dataclass(frozen=True)
class KubectlClient:
    path: str | None  # None: no kubectl on PATH
    version: dict[str, Any] | None  # clientVersion, when it could be read
    error: str | None = None


async def read_kubectl_client(path: str | None, env: dict[str, str], timeout: float) -> KubectlClient:
    """Run `kubectl version --client -o json` (bounded by `timeout`); never raises."""
    if path is None:
        return KubectlClient(None, None)
    try:
        process = await asyncio.create_subprocess_exec(
            path,
            "version",
            "--client",
            "-o",
            "json",
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )
    except OSError as exc:
        return KubectlClient(path, None, f"could not run {path}: {exc.strerror or exc}")
    try:
        stdout, _ = await asyncio.wait_for(process.communicate(), timeout)
    except asyncio.TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        await process.wait()
        return KubectlClient(path, None, f"`kubectl version --client` did not finish within {timeout:g}s")
    try:
        document = json.loads(stdout[:_OUTPUT_CAP].decode("utf-8", "replace"))
    except ValueError:
        return KubectlClient(path, None, "`kubectl version --client -o json` did not print JSON")
    client = document.get("clientVersion") if isinstance(document, dict) else None
    if not isinstance(client, dict):
        return KubectlClient(path, None, "`kubectl version --client -o json` printed no clientVersion")
    return KubectlClient(path, client)


async def read_path_kubectl(ctx: Context) -> KubectlClient:
    """The KUBECTL_CLIENT probe: the kubectl on the target environment's PATH."""
    # No kubeconfig: `version --client` needs none, and Google Cloud SDK's dispatcher would otherwise
    # contact the current context's server to pick a release (slow, and network kdoctor promised not to use).
    env = {**ctx.environment.env, "KUBECONFIG": os.devnull}
    return await read_kubectl_client(ctx.environment.which("kubectl"), env, ctx.timeout)
