"""Building contexts and exec credential plugins for the auth tests.

Plugins are real executables: a Python script with `sys.executable` in its shebang, written into
the test's tmp_path and run by kdoctor as a subprocess, exactly as kubectl would run it.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import textwrap
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from kdoctor.access import ACCESS, AccessSpec, Credentials, ExecSpec
from kdoctor.api import Check, Mode, Result
from kdoctor.api import run_check as run_one_check
from kdoctor.context import Context, Environment, Options, Target
from kdoctor.redact import Secret

T = TypeVar("T")

V1 = "client.authentication.k8s.io/v1"
V1BETA1 = "client.authentication.k8s.io/v1beta1"

# Records what the plugin saw (KUBERNETES_EXEC_INFO, stdin, argv, selected env) next to itself.
_PRELUDE = """\
import json, os, sys, time
_here = os.path.dirname(os.path.abspath(__file__))
_seen = {
    "argv": sys.argv[1:],
    "exec_info": os.environ.get("KUBERNETES_EXEC_INFO"),
    "stdin": sys.stdin.read() if sys.stdin is not None else None,
    "stdin_isatty": sys.stdin.isatty() if sys.stdin is not None else None,
    "env": {k: v for k, v in os.environ.items() if k.startswith("KD_")},
}
with open(os.path.join(_here, os.path.basename(__file__) + ".seen.json"), "w") as _fh:
    json.dump(_seen, _fh)
"""


def write_plugin(directory: Path, name: str, body: str) -> Path:
    """An executable Python script `directory/name` that records what it saw, then runs `body`."""
    path = directory / name
    path.write_text(f"#!{sys.executable}\n" + _PRELUDE + textwrap.dedent(body))
    path.chmod(0o755)
    return path


def seen(plugin: Path) -> dict[str, Any]:
    """What the plugin recorded about its run (see _PRELUDE)."""
    data: dict[str, Any] = json.loads(plugin.with_name(plugin.name + ".seen.json").read_text())
    return data


def exec_credential_body(
    api_version: str,
    *,
    token: str | None = None,
    cert_pem: bytes | None = None,
    key_pem: bytes | None = None,
    expiration: str | None = None,
    exit_code: int = 0,
    stderr: str = "",
) -> str:
    """A plugin body that prints an ExecCredential (and optionally complains and fails)."""
    status: dict[str, Any] = {}
    if token is not None:
        status["token"] = token
    if cert_pem is not None:
        status["clientCertificateData"] = cert_pem.decode()
    if key_pem is not None:
        status["clientKeyData"] = key_pem.decode()
    if expiration is not None:
        status["expirationTimestamp"] = expiration
    credential = {"apiVersion": api_version, "kind": "ExecCredential", "status": status}
    return f"""
sys.stdout.write({json.dumps(json.dumps(credential))})
sys.stderr.write({stderr!r})
sys.exit({exit_code})
"""


def make_ctx(
    tmp_path: Path,
    *,
    env: Mapping[str, str] | None = None,
    no_exec: bool = False,
    timeout: float = 5.0,
    mode: Mode = Mode.KUBECONFIG,
    now: Callable[[], Any] | None = None,
) -> Context:
    """A context whose environment is controlled by the test (PATH from the real one, HOME=tmp_path)."""
    full_env = {"PATH": os.environ.get("PATH", os.defpath), "HOME": str(tmp_path)}
    full_env.update(env or {})
    environment = (
        Environment(env=full_env, home=tmp_path, now=now)
        if now is not None
        else Environment(env=full_env, home=tmp_path)
    )
    return Context(
        options=Options(no_exec=no_exec, timeout=timeout),
        environment=environment,
        target=Target(mode),
    )


def seed_access(ctx: Context, access: AccessSpec) -> None:
    """Make `ACCESS` answer `access` for this context, as if a kubeconfig had said so.

    Must be called with an event loop running (the probe cache holds futures).
    """
    ctx.provide(ACCESS, access)


def access_with(
    credentials: Credentials, server: str = "https://127.0.0.1:6443", ca_pem: bytes | None = None
) -> AccessSpec:
    return AccessSpec(server=server, ca_pem=ca_pem, ca_source="test", credentials=credentials, origin="test")


def exec_spec(
    command: str | Path,
    api_version: str = V1,
    *,
    args: tuple[str, ...] = (),
    env: Mapping[str, str] | None = None,
    interactive_mode: str | None = "Never",
    install_hint: str | None = None,
    provide_cluster_info: bool = False,
) -> ExecSpec:
    return ExecSpec(
        api_version=api_version,
        command=str(command),
        args=args,
        env=tuple((k, Secret(v)) for k, v in (env or {}).items()),
        interactive_mode=interactive_mode,
        install_hint=install_hint,
        provide_cluster_info=provide_cluster_info,
    )


def run_check(check: type[Check], ctx: Context, access: AccessSpec) -> Result:
    """Run one check against `access` (seeded as the context's ACCESS)."""

    async def go() -> Result:
        seed_access(ctx, access)
        try:
            return await run_one_check(check(), ctx)
        finally:
            ctx.cancel_probes()

    return asyncio.run(go())


def run_async(factory: Callable[[], Awaitable[T]]) -> T:
    async def go() -> T:
        return await factory()

    return asyncio.run(go())
