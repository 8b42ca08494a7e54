"""Running a kubeconfig `exec` credential plugin the way client-go does, but bounded and observed.

client-go runs `command args...` with the plugin's `env` laid over the process environment and
`KUBERNETES_EXEC_INFO` describing the request, hands it the terminal's stdin only when it may be
interactive, lets stderr through to the terminal and decodes stdout as an `ExecCredential`.
kdoctor differs only where it must: it never runs a plugin interactively, bounds the run by the
timeout (killing the whole process group), caps what it reads, and captures stderr so that it can
report it — scrubbed of every secret it knows plus anything token-shaped.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import re
import signal
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from kdoctor.access import ExecSpec
from kdoctor.outputshape import describe_shape
from kdoctor.redact import REDACTED, Secret, SecretRegistry

__all__ = [
    "EXEC_API_VERSIONS",
    "ExecResult",
    "exec_info",
    "run_exec_plugin",
    "scrub_plugin_text",
]

#: The ExecCredential versions client-go still speaks (v1alpha1 was removed in 1.24).
EXEC_API_VERSIONS = ("client.authentication.k8s.io/v1", "client.authentication.k8s.io/v1beta1")

INTERACTIVE_MODES = ("Never", "IfAvailable", "Always")

STDOUT_CAP = 1024 * 1024
STDERR_CAP = 64 * 1024
STDERR_TAIL_LINES = 5
STDERR_LINE_CAP = 300
# After the plugin exits, how long a grandchild that still holds its pipes may keep them open.
_PIPE_GRACE = 0.5

_DEFAULT_INSTALL_HINT = (
    "It looks like you are trying to use a client-go credential plugin that is not installed. "
    "See https://kubernetes.io/docs/reference/access-authn-authz/authentication/#client-go-credential-plugins"
)

# Token-shaped text a plugin may print on stderr that kdoctor was never told about.
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*")
_ASSIGNED = re.compile(
    r"(?i)((?:access|refresh|id|bearer)?[_-]?(?:token|password|secret|passwd|credential|api[_-]?key)"
    r"[\"']?\s*[:=]\s*[\"']?)([^\s\"',;}]{4,})"
)


_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass(frozen=True)
class ExecResult:
    """What running (or not running) the plugin showed. Secrets only as `Secret`."""

    command: str
    api_version: str
    ran: bool = False
    #: Why it was not run (--no-exec, needs a terminal, unsupported apiVersion); None when it ran.
    not_run_reason: str | None = None
    needs_terminal: bool = False
    not_found: bool = False
    #: The plugin could not be started although it exists (permission denied, exec format error).
    start_error: str | None = None
    resolved_path: str | None = None
    install_hint: str | None = None
    exit_code: int | None = None
    duration: float = 0.0  # seconds
    timed_out: bool = False
    timeout: float | None = None
    stderr_tail: tuple[str, ...] = ()
    stdout_bytes: int = 0
    stdout_truncated: bool = False
    returned_api_version: str | None = None
    token: Secret | None = field(default=None, repr=False)
    client_cert_pem: bytes | None = field(default=None, repr=False)
    client_key_pem: Secret | None = field(default=None, repr=False)
    expires_at: datetime | None = None
    parse_error: str | None = None

    @property
    def ok(self) -> bool:
        """The plugin ran, exited 0 and returned a usable ExecCredential."""
        return (
            self.ran
            and not self.timed_out
            and self.exit_code == 0
            and self.parse_error is None
            and (self.token is not None or self.client_cert_pem is not None)
        )

    def client_go_error(self) -> str | None:
        """The error kubectl would print for this outcome (never a secret), or None when usable."""
        name = self.command
        if self.not_found:
            return f"exec: executable {name} not found"
        if self.start_error:
            return f"exec: {self.start_error}"
        if self.timed_out:
            return f"exec: executable {name} did not finish within {self.timeout:g}s (kdoctor's timeout)"
        if self.exit_code not in (None, 0):
            return f"exec: executable {name} failed with exit code {self.exit_code}"
        if self.parse_error:
            return f"exec: {self.parse_error}"
        return None


def exec_info(
    spec: ExecSpec, *, interactive: bool = False, cluster: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The KUBERNETES_EXEC_INFO object client-go hands the plugin."""
    spec_obj: dict[str, Any] = {"interactive": interactive}
    if spec.provide_cluster_info and cluster is not None:
        spec_obj["cluster"] = dict(cluster)
    return {"kind": "ExecCredential", "apiVersion": spec.api_version, "spec": spec_obj}


def cluster_info(
    *,
    server: str,
    tls_server_name: str | None = None,
    insecure_skip_tls_verify: bool = False,
    ca_pem: bytes | None = None,
    proxy_url: str | None = None,
) -> dict[str, Any]:
    """The `spec.cluster` object for provideClusterInfo, with client-go's JSON names and omitempty."""
    out: dict[str, Any] = {"server": server}
    if tls_server_name:
        out["tls-server-name"] = tls_server_name
    if insecure_skip_tls_verify:
        out["insecure-skip-tls-verify"] = True
    if ca_pem:
        out["certificate-authority-data"] = base64.b64encode(ca_pem).decode("ascii")
    if proxy_url:
        out["proxy-url"] = proxy_url
    return out


def scrub_plugin_text(text: str, secrets: SecretRegistry) -> str:
    """`text` without known secrets, bearer/basic credentials, private keys, JWTs or `token=...` values."""
    text = secrets.scrub(text)
    text = _JWT.sub(REDACTED, text)
    return _ASSIGNED.sub(lambda m: m.group(1) + REDACTED, text)


async def run_exec_plugin(
    spec: ExecSpec,
    *,
    env: Mapping[str, str],
    timeout: float,
    secrets: SecretRegistry,
    which: Callable[[str], str | None],
    cluster: Mapping[str, Any] | None = None,
    no_exec: bool = False,
    monotonic: Callable[[], float] = time.monotonic,
) -> ExecResult:
    """Run the plugin described by `spec` once, non-interactively, within `timeout` seconds.

    `env` is the process environment the plugin inherits (kdoctor's injected environment);
    `which` finds a bare command on that environment's PATH. Every secret met (the stanza's env
    values, the returned token and key) is added to `secrets` before any text is kept.
    """
    base = ExecResult(command=spec.command, api_version=spec.api_version, install_hint=spec.install_hint)
    for _, value in spec.env:
        secrets.add(value)
    if no_exec:
        return _replace(base, not_run_reason="--no-exec was given: kdoctor does not run exec plugins")
    if spec.api_version not in EXEC_API_VERSIONS:
        return _replace(
            base,
            not_run_reason=(
                f"exec plugin: invalid apiVersion {spec.api_version!r} "
                f"(client-go accepts {', '.join(EXEC_API_VERSIONS)})"
            ),
        )
    mode = spec.interactive_mode
    if mode is None and spec.api_version == EXEC_API_VERSIONS[0]:
        return _replace(
            base,
            not_run_reason="interactiveMode must be specified to use exec authentication plugin "
            f"{spec.api_version} (client-go refuses the stanza)",
        )
    if mode is not None and mode not in INTERACTIVE_MODES:
        return _replace(
            base, not_run_reason=f"invalid interactiveMode {mode!r} (one of {', '.join(INTERACTIVE_MODES)})"
        )
    if mode == "Always":
        return _replace(
            base,
            needs_terminal=True,
            not_run_reason=(
                "interactiveMode is Always: the plugin needs a terminal, and kdoctor never runs plugins "
                "interactively"
            ),
        )

    path = _resolve(spec.command, which)
    if path is None:
        return _replace(base, not_found=True, install_hint=spec.install_hint or _DEFAULT_INSTALL_HINT)

    child_env = dict(env)
    child_env.update({name: value.reveal() for name, value in spec.env})
    child_env["KUBERNETES_EXEC_INFO"] = json.dumps(exec_info(spec, interactive=False, cluster=cluster))

    started = monotonic()
    try:
        proc = await asyncio.create_subprocess_exec(
            path,
            *spec.args,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=child_env,
            # Own process group, so a timeout kills the plugin and everything it started.
            start_new_session=True,
        )
    except FileNotFoundError:
        return _replace(
            base,
            not_found=True,
            resolved_path=path,
            install_hint=spec.install_hint or _DEFAULT_INSTALL_HINT,
        )
    except OSError as exc:
        return _replace(
            base,
            resolved_path=path,
            start_error=f"cannot run {path}: {exc.strerror or type(exc).__name__}",
            duration=monotonic() - started,
        )
    except ValueError:
        # Python refuses before exec: a NUL byte in the path, an argument or the environment, or
        # '=' in an environment name. Go's os/exec fails on the same input ("invalid argument").
        return _replace(
            base,
            resolved_path=path,
            start_error=(
                f"cannot run {path}: an argument or env entry holds a NUL byte, or an env name holds '=' "
                "(kubectl: invalid argument)"
            ),
            duration=monotonic() - started,
        )

    stdout_buf = _CappedBuffer(STDOUT_CAP, keep="head")
    stderr_buf = _CappedBuffer(STDERR_CAP, keep="tail")
    try:
        timed_out = await _communicate(proc, stdout_buf, stderr_buf, timeout)
    except BaseException:
        # Cancelled (the run's own deadline): never leave the plugin running behind us.
        _kill_group(proc.pid)
        raise
    duration = monotonic() - started

    stdout = stdout_buf.data()
    parsed = _parse(stdout, spec.api_version, secrets) if not stdout_buf.truncated else None
    stderr_tail = _tail(stderr_buf.data(), secrets)
    result = _replace(
        base,
        ran=True,
        resolved_path=path,
        exit_code=None if timed_out else proc.returncode,
        duration=duration,
        timed_out=timed_out,
        timeout=timeout,
        stderr_tail=stderr_tail,
        stdout_bytes=stdout_buf.total,
        stdout_truncated=stdout_buf.truncated,
    )
    if timed_out or proc.returncode != 0:
        # client-go ignores stdout of a failed plugin; its secrets are registered all the same.
        return result
    if stdout_buf.truncated:
        return _replace(result, parse_error=f"plugin wrote more than {STDOUT_CAP} bytes to stdout")
    assert parsed is not None
    if parsed.get("parse_error"):
        # The error quotes fields of the plugin's output; nothing secret may ride along.
        parsed["parse_error"] = scrub_plugin_text(str(parsed["parse_error"]), secrets)
    return _replace(result, **parsed)


async def _communicate(
    proc: asyncio.subprocess.Process, stdout: _CappedBuffer, stderr: _CappedBuffer, timeout: float
) -> bool:
    """Wait for the plugin and read its pipes; True when it had to be killed for the timeout."""
    assert proc.stdout is not None and proc.stderr is not None
    readers = [
        asyncio.ensure_future(stdout.drain(proc.stdout)),
        asyncio.ensure_future(stderr.drain(proc.stderr)),
    ]
    timed_out = False
    try:
        try:
            await asyncio.wait_for(proc.wait(), timeout=max(timeout, 0.0))
        except asyncio.TimeoutError:
            timed_out = True
            _kill_group(proc.pid)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(proc.wait(), timeout=2.0)
        # A grandchild may hold the pipes after the plugin exited: read what there is, then stop.
        _, pending = await asyncio.wait(readers, timeout=_PIPE_GRACE)
        if pending:
            _kill_group(proc.pid)
    finally:
        for task in readers:
            task.cancel()
        await asyncio.gather(*readers, return_exceptions=True)
    return timed_out


def _replace(result: ExecResult, **changes: Any) -> ExecResult:

    return replace(result, **changes)


def _resolve(command: str, which: Callable[[str], str | None]) -> str | None:
    if os.sep in command or (os.altsep and os.altsep in command):
        return command if os.path.exists(command) else None
    return which(command)


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


class _CappedBuffer:
    """Reads a pipe to its end, keeping at most `cap` bytes (the head or the tail)."""

    def __init__(self, cap: int, *, keep: str) -> None:
        self.cap = cap
        self.keep = keep
        self.total = 0
        self._data = bytearray()

    @property
    def truncated(self) -> bool:
        return self.total > self.cap

    async def drain(self, stream: asyncio.StreamReader) -> None:
        while True:
            chunk = await stream.read(65536)
            if not chunk:
                return
            self.total += len(chunk)
            if self.keep == "head":
                room = self.cap + 1 - len(self._data)
                if room > 0:
                    self._data += chunk[:room]
            else:
                self._data += chunk
                if len(self._data) > self.cap:
                    del self._data[: len(self._data) - self.cap]

    def data(self) -> bytes:
        return bytes(self._data)


def _tail(stderr: bytes, secrets: SecretRegistry) -> tuple[str, ...]:
    # Colours and cursor movement are for a terminal; a report gets plain text.
    text = _CONTROL.sub("", _ANSI.sub("", stderr.decode("utf-8", "replace")))
    text = scrub_plugin_text(text, secrets)
    lines = [line.rstrip() for line in text.splitlines() if line.strip()]
    out = []
    for line in lines[-STDERR_TAIL_LINES:]:
        out.append(line if len(line) <= STDERR_LINE_CAP else line[: STDERR_LINE_CAP - 1] + "…")
    return tuple(out)


def _parse(stdout: bytes, api_version: str, secrets: SecretRegistry) -> dict[str, Any]:
    """The ExecCredential fields client-go reads, or `parse_error` with client-go's wording."""
    from kdoctor.yamlload import YamlDocument, load_yaml_bytes

    try:
        obj: Any = json.loads(stdout.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        # client-go's decoder takes YAML too: kubectl accepts a YAML ExecCredential.
        loaded = load_yaml_bytes(stdout)
        if not isinstance(loaded, YamlDocument) or not isinstance(loaded.data, dict):
            # Whatever it printed may hold a credential: described by its shape, none of it kept.
            return {
                "parse_error": f"decoding stdout: not an ExecCredential: it printed {describe_shape(stdout)}"
            }
        obj = loaded.data
    if not isinstance(obj, dict):
        return {"parse_error": f"decoding stdout: not a JSON object: it printed {describe_shape(stdout)}"}
    status = obj.get("status")
    _register_status(status, secrets)
    kind = obj.get("kind")
    returned = obj.get("apiVersion")
    out: dict[str, Any] = {"returned_api_version": returned if isinstance(returned, str) else None}
    if kind != "ExecCredential":
        out["parse_error"] = (
            f"decoding stdout: expected kind ExecCredential, got {_short(kind)}: it printed {describe_shape(stdout)}"
        )
        return out
    if returned != api_version:
        out["parse_error"] = (
            f"exec plugin is configured to use API version {api_version}, "
            f"plugin returned version {_short(returned)}"
        )
        return out
    if not isinstance(status, dict):
        out["parse_error"] = "exec plugin didn't return a status field"
        return out
    token = _str_field(status, "token")
    cert = _str_field(status, "clientCertificateData")
    key = _str_field(status, "clientKeyData")
    if not token and not cert and not key:
        out["parse_error"] = "exec plugin didn't return a token or cert/key pair"
        return out
    if bool(cert) != bool(key):
        out["parse_error"] = "exec plugin returned only certificate or key, not both"
        return out
    expiry = status.get("expirationTimestamp")
    if expiry is not None:
        parsed_expiry = _parse_time(expiry)
        if parsed_expiry is None:
            out["parse_error"] = f"decoding stdout: bad expirationTimestamp {_short(expiry)}"
            return out
        out["expires_at"] = parsed_expiry
    if token:
        out["token"] = Secret(token)
    if cert:
        out["client_cert_pem"] = cert.encode()
        out["client_key_pem"] = Secret(key)
    return out


def _str_field(obj: Mapping[str, Any], key: str) -> str:
    value = obj.get(key)
    return value if isinstance(value, str) else ""


def _register_status(status: Any, secrets: SecretRegistry) -> None:
    if isinstance(status, dict):
        for key in ("token", "clientKeyData"):
            value = status.get(key)
            if isinstance(value, str):
                secrets.add(value)


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def _short(value: Any) -> str:
    text = json.dumps(value) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 80 else text[:79] + "…"
