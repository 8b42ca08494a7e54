"""The kubectl on PATH: its own version document, read without any network.

`kubectl version --client -o json` prints the clientVersion (gitVersion, goVersion, platform); the
version skew and Go's TLS rules are judged against it. No kubectl on PATH is a fact, not an error.
It runs with KUBECONFIG=/dev/null: a plain kubectl needs no configuration for this, and Google Cloud
SDK's dispatcher, which would otherwise contact the current context's server to pick a release,
reports itself ("v1.32.4-dispatcher"); kdoctor.skew knows that it runs a release matching the server.

The answer is cached under the user's cache directory, keyed by the binary's real path, inode, size
and modification time: a kubectl process costs 40-90 ms, more than most of a diagnosis, and the same
binary always prints the same document. Within one run (one event loop) the targets share one answer:
with --all-contexts and no cache file yet (a first run, a home that cannot be written, a pod), each of
200 targets started its own kubectl, 200 processes at once (12 s of CPU where the run needs 4 s).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Mapping

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


#: The answer per event loop (one run) and per question (binary, environment, timeout): every target
#: of --all-contexts awaits the first target's, in flight or done. Weak: a finished run's loop goes.
_SHARED: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[Any, asyncio.Future[KubectlClient]]] = (
    weakref.WeakKeyDictionary()
)


async def read_path_kubectl(ctx: Context) -> KubectlClient:
    """The KUBECTL_CLIENT probe: the kubectl on the target environment's PATH."""
    path = ctx.environment.which("kubectl")
    key = _binary_key(path)
    question = (
        path,
        None if key is None else tuple(key),
        tuple(sorted(ctx.environment.env.items())),
        str(ctx.environment.home),
        ctx.timeout,
    )
    shared = _SHARED.setdefault(asyncio.get_running_loop(), {})
    future = shared.get(question)
    if future is None or (future.done() and (future.cancelled() or future.exception() is not None)):
        future = asyncio.ensure_future(_read_path_kubectl(ctx, path, key))
        shared[question] = future
    # shield: a target whose check times out must not cancel the answer the others await.
    return await asyncio.shield(future)


async def _read_path_kubectl(ctx: Context, path: str | None, key: list[Any] | None) -> KubectlClient:
    cache = _cache_file(ctx.environment.env, ctx.environment.home)
    cached = _read_cache(cache, key)
    if cached is not None:
        return KubectlClient(path, cached)
    # No kubeconfig: `version --client` needs none, and Google Cloud SDK's dispatcher would otherwise
    # contact the current context's server to pick a release (slow, and network kdoctor promised not to use).
    env = {**ctx.environment.env, "KUBECONFIG": os.devnull}
    client = await read_kubectl_client(path, env, ctx.timeout)
    if client.version is not None:
        _write_cache(cache, key, client.version)
    return client


def _cache_file(env: Mapping[str, str], home: Path) -> Path | None:
    base = env.get("XDG_CACHE_HOME") or str(home / ".cache")
    return Path(base) / "kdoctor" / "kubectl-client.json" if os.path.isabs(base) else None


def _binary_key(path: str | None) -> list[Any] | None:
    if path is None:
        return None
    try:
        real = os.path.realpath(path)
        stat = os.stat(real)
    except OSError:
        return None
    return [real, stat.st_ino, stat.st_size, stat.st_mtime_ns]


def _read_cache(cache: Path | None, key: list[Any] | None) -> dict[str, Any] | None:
    if cache is None or key is None:
        return None
    try:
        document = json.loads(cache.read_text(encoding="utf-8")[:_OUTPUT_CAP])
    except (OSError, ValueError):
        return None
    if not isinstance(document, dict) or document.get("key") != key:
        return None
    version = document.get("clientVersion")
    return version if isinstance(version, dict) else None


def _write_cache(cache: Path | None, key: list[Any] | None, version: dict[str, Any]) -> None:
    """Best effort: a cache that cannot be written (read-only home, a pod) only costs the next run time."""
    if cache is None or key is None:
        return
    with contextlib.suppress(OSError):
        cache.parent.mkdir(parents=True, exist_ok=True)
        partial = cache.with_name(f".{cache.name}.{os.getpid()}")
        partial.write_text(json.dumps({"key": key, "clientVersion": version}), encoding="utf-8")
        os.replace(partial, cache)
