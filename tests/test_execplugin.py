"""Exec credential plugins run like client-go runs them: real subprocesses written in tmp_path."""

from __future__ import annotations

import base64
import json
import os
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from kdoctor.access import ExecSpec
from kdoctor.emulator.pki import make_ca, make_client_cert
from kdoctor.execplugin import ExecResult, cluster_info, run_exec_plugin, scrub_plugin_text
from kdoctor.redact import SecretRegistry
from tests.plugins.authlab import V1, V1BETA1, exec_credential_body, exec_spec, run_async, seen, write_plugin

CANARY_TOKEN = "canary-token-7f3a9c1e5b2d4680"
CANARY_ENV = "canary-env-value-0d9e8f7a6b5c"


def _run(
    spec: ExecSpec,
    tmp_path: Path,
    *,
    timeout: float = 5.0,
    env: dict[str, str] | None = None,
    secrets: SecretRegistry | None = None,
    cluster: dict[str, object] | None = None,
    no_exec: bool = False,
) -> ExecResult:
    base_env = {"PATH": f"{tmp_path}:{os.environ.get('PATH', os.defpath)}", "HOME": str(tmp_path)}
    base_env.update(env or {})
    registry = secrets if secrets is not None else SecretRegistry()

    def which(cmd: str) -> str | None:
        import shutil

        return shutil.which(cmd, path=base_env["PATH"])

    return run_async(
        lambda: run_exec_plugin(
            spec,
            env=base_env,
            timeout=timeout,
            secrets=registry,
            which=which,
            cluster=cluster,
            no_exec=no_exec,
        )
    )


def test_v1_token_with_exec_info_env_and_closed_stdin(tmp_path: Path) -> None:
    plugin = write_plugin(
        tmp_path, "kd-token", exec_credential_body(V1, token=CANARY_TOKEN, expiration="2030-01-02T03:04:05Z")
    )
    spec = exec_spec(
        "kd-token",  # found on PATH, like kubectl finds it
        V1,
        args=("get-token", "--cluster", "prod"),
        env={"KD_SECRET": CANARY_ENV, "KD_OVERRIDE": "from-stanza"},
    )
    secrets = SecretRegistry()
    result = _run(spec, tmp_path, env={"KD_OVERRIDE": "from-process", "KD_INHERITED": "yes"}, secrets=secrets)

    assert result.ok, result
    assert result.ran and result.exit_code == 0 and not result.timed_out
    assert result.resolved_path == str(plugin)
    assert result.token is not None and result.token.reveal() == CANARY_TOKEN
    assert result.expires_at == datetime(2030, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    assert result.returned_api_version == V1
    assert result.client_cert_pem is None
    assert CANARY_TOKEN in secrets and CANARY_ENV in secrets
    assert CANARY_TOKEN not in repr(result)

    observed = seen(plugin)
    assert observed["argv"] == ["get-token", "--cluster", "prod"]
    assert json.loads(observed["exec_info"]) == {
        "kind": "ExecCredential",
        "apiVersion": V1,
        "spec": {"interactive": False},
    }
    # stdin is closed: the plugin reads end-of-file at once and sees no terminal.
    assert observed["stdin"] == ""
    assert observed["stdin_isatty"] is False
    # The stanza's env is laid over the process environment.
    assert observed["env"] == {"KD_SECRET": CANARY_ENV, "KD_OVERRIDE": "from-stanza", "KD_INHERITED": "yes"}


def test_v1beta1_client_certificate_with_cluster_info(tmp_path: Path) -> None:
    ca = make_ca("kdoctor-test-ca")
    client = make_client_cert(ca, "jane", ["devs", "ops"])
    plugin = write_plugin(
        tmp_path, "kd-cert", exec_credential_body(V1BETA1, cert_pem=client.cert_pem, key_pem=client.key_pem)
    )
    spec = exec_spec(plugin, V1BETA1, interactive_mode=None, provide_cluster_info=True)
    cluster = cluster_info(
        server="https://127.0.0.1:6443",
        tls_server_name="kubernetes",
        ca_pem=ca.cert_pem,
        proxy_url="http://127.0.0.1:3128",
    )
    secrets = SecretRegistry()
    result = _run(spec, tmp_path, cluster=cluster, secrets=secrets)

    assert result.ok, result
    assert result.token is None
    assert result.client_cert_pem == client.cert_pem
    assert result.client_key_pem is not None and result.client_key_pem.reveal() == client.key_pem.decode()
    assert client.key_pem.decode() in secrets

    info = json.loads(seen(plugin)["exec_info"])
    assert info["apiVersion"] == V1BETA1
    assert info["spec"]["interactive"] is False
    assert info["spec"]["cluster"] == {
        "server": "https://127.0.0.1:6443",
        "tls-server-name": "kubernetes",
        "certificate-authority-data": base64.b64encode(ca.cert_pem).decode(),
        "proxy-url": "http://127.0.0.1:3128",
    }


def test_cluster_info_only_when_the_stanza_asks_for_it(tmp_path: Path) -> None:
    plugin = write_plugin(tmp_path, "kd-plain", exec_credential_body(V1, token="opaque-token-1234"))
    result = _run(exec_spec(plugin, V1), tmp_path, cluster=cluster_info(server="https://127.0.0.1:1"))
    assert result.ok
    assert "cluster" not in json.loads(seen(plugin)["exec_info"])["spec"]


def test_failure_reports_exit_code_and_scrubbed_stderr(tmp_path: Path) -> None:
    jwt_like = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJqYW5lIn0.c2lnbmF0dXJl"
    body = exec_credential_body(
        V1,
        token=CANARY_TOKEN,
        exit_code=3,
        stderr=(
            "line one\n"
            f"refreshing with {os.environ.get('X', '')}\n"
            f"error: token {CANARY_TOKEN} was rejected\n"
            f"Authorization: Bearer {CANARY_TOKEN}xyz\n"
            f"id_token={jwt_like}\n"
            "refresh_token: hunter2hunter2\n"
        ),
    )
    plugin = write_plugin(tmp_path, "kd-fail", body + "\n")
    # A plugin that echoes its env value (a credential handed to it through the stanza).
    plugin2 = write_plugin(
        tmp_path,
        "kd-fail-env",
        "sys.stderr.write('login failed for key ' + os.environ['KD_SECRET'] + '\\n'); sys.exit(1)\n",
    )
    result = _run(exec_spec(plugin), tmp_path)
    assert not result.ok
    assert result.exit_code == 3 and result.ran
    assert result.token is None  # client-go ignores stdout of a failed plugin
    assert result.client_go_error() == f"exec: executable {plugin} failed with exit code 3"
    text = "\n".join(result.stderr_tail)
    assert len(result.stderr_tail) == 5  # the last lines only
    for secret in (CANARY_TOKEN, jwt_like, "hunter2hunter2"):
        assert secret not in text
    assert "was rejected" in text and "<redacted>" in text

    result2 = _run(exec_spec(plugin2, env={"KD_SECRET": CANARY_ENV}), tmp_path)
    assert result2.exit_code == 1
    assert result2.stderr_tail == ("login failed for key <redacted>",)


def test_hang_is_killed_within_the_timeout_with_its_children(tmp_path: Path) -> None:
    body = """
import subprocess
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
with open(os.path.join(_here, "child.pid"), "w") as fh:
    fh.write(str(child.pid))
sys.stderr.write("waiting for browser login...\\n")
sys.stderr.flush()
time.sleep(60)
"""
    plugin = write_plugin(tmp_path, "kd-hang", body)
    started = time.monotonic()
    result = _run(exec_spec(plugin), tmp_path, timeout=1.0)
    elapsed = time.monotonic() - started
    assert result.timed_out and result.ran
    assert result.exit_code is None
    assert elapsed < 4.0
    assert result.stderr_tail == ("waiting for browser login...",)
    assert "did not finish within 1s" in (result.client_go_error() or "")
    child_pid = int((tmp_path / "child.pid").read_text())
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        if not _alive(child_pid):
            break
        time.sleep(0.05)
    else:
        pytest.fail("the plugin's child survived the timeout")


def _alive(pid: int) -> bool:
    """Running, not merely a zombie waiting for whichever init adopted it to reap it."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_not_found_carries_the_install_hint(tmp_path: Path) -> None:
    hint = "Install kd-missing: brew install kd-missing"
    result = _run(exec_spec("kd-missing-plugin", install_hint=hint), tmp_path)
    assert result.not_found and not result.ran
    assert result.install_hint == hint
    assert result.client_go_error() == "exec: executable kd-missing-plugin not found"
    absolute = _run(exec_spec(tmp_path / "nope" / "plugin"), tmp_path)
    assert absolute.not_found
    assert absolute.install_hint  # client-go's default text when the stanza has none


def test_not_executable_is_a_start_error(tmp_path: Path) -> None:
    plugin = write_plugin(tmp_path, "kd-noexec", exec_credential_body(V1, token="t0ken-abc"))
    plugin.chmod(0o644)
    result = _run(exec_spec(plugin), tmp_path)
    assert not result.ok and not result.ran
    assert result.start_error is not None and "Permission denied" in result.start_error


@pytest.mark.parametrize(
    ("stdout", "expected"),
    [
        # YAML decodes (client-go takes YAML too), but a mapping without kind is not an ExecCredential.
        ("token: abc", "expected kind ExecCredential"),
        ("{not json", "not an ExecCredential: it printed 1 line(s) of text"),
        ("[]", "not a JSON object: it printed a JSON array of 0 items"),
        (
            json.dumps({"apiVersion": V1, "kind": "Other", "status": {"token": "x"}}),
            "expected kind ExecCredential",
        ),
        (
            json.dumps({"apiVersion": V1BETA1, "kind": "ExecCredential", "status": {"token": CANARY_TOKEN}}),
            f"exec plugin is configured to use API version {V1}, plugin returned version '{V1BETA1}'",
        ),
        (json.dumps({"apiVersion": V1, "kind": "ExecCredential"}), "didn't return a status field"),
        (
            json.dumps({"apiVersion": V1, "kind": "ExecCredential", "status": {}}),
            "didn't return a token or cert/key pair",
        ),
        (
            json.dumps(
                {"apiVersion": V1, "kind": "ExecCredential", "status": {"clientCertificateData": "x"}}
            ),
            "only certificate or key",
        ),
        (
            json.dumps(
                {
                    "apiVersion": V1,
                    "kind": "ExecCredential",
                    "status": {"token": "abcd", "expirationTimestamp": "soon"},
                }
            ),
            "bad expirationTimestamp",
        ),
    ],
)
def test_bad_output_is_a_parse_error(tmp_path: Path, stdout: str, expected: str) -> None:
    plugin = write_plugin(tmp_path, "kd-bad", f"sys.stdout.write({stdout!r})\n")
    secrets = SecretRegistry()
    result = _run(exec_spec(plugin), tmp_path, secrets=secrets)
    assert result.ran and result.exit_code == 0
    assert not result.ok
    assert result.parse_error is not None and expected in result.parse_error
    assert CANARY_TOKEN not in result.parse_error
    assert result.token is None
    if CANARY_TOKEN in stdout:
        assert CANARY_TOKEN in secrets  # registered even though the output was refused


def test_huge_stdout_is_capped(tmp_path: Path) -> None:
    plugin = write_plugin(tmp_path, "kd-huge", "sys.stdout.write('x' * (3 * 1024 * 1024))\n")
    result = _run(exec_spec(plugin), tmp_path)
    assert result.stdout_truncated and result.stdout_bytes == 3 * 1024 * 1024
    assert result.parse_error is not None and "more than" in result.parse_error


def test_not_run_when_no_exec_or_terminal_needed_or_bad_api_version(tmp_path: Path) -> None:
    plugin = write_plugin(tmp_path, "kd-never", exec_credential_body(V1, token="abcd-token"))
    marker = plugin.with_name(plugin.name + ".seen.json")

    no_exec = _run(exec_spec(plugin), tmp_path, no_exec=True)
    assert not no_exec.ran and no_exec.not_run_reason and "--no-exec" in no_exec.not_run_reason

    terminal = _run(exec_spec(plugin, interactive_mode="Always"), tmp_path)
    assert not terminal.ran and terminal.needs_terminal
    assert terminal.not_run_reason and "terminal" in terminal.not_run_reason

    alpha = _run(exec_spec(plugin, "client.authentication.k8s.io/v1alpha1"), tmp_path)
    assert not alpha.ran and alpha.not_run_reason and "invalid apiVersion" in alpha.not_run_reason

    unspecified = _run(exec_spec(plugin, V1, interactive_mode=None), tmp_path)
    assert not unspecified.ran and unspecified.not_run_reason
    assert "interactiveMode must be specified" in unspecified.not_run_reason

    invalid = _run(exec_spec(plugin, V1, interactive_mode="Sometimes"), tmp_path)
    assert not invalid.ran and invalid.not_run_reason and "invalid interactiveMode" in invalid.not_run_reason

    assert not marker.exists()  # the plugin never ran

    if_available = _run(exec_spec(plugin, interactive_mode="IfAvailable"), tmp_path)
    assert if_available.ok  # run without a terminal, as client-go does when stdin is not a TTY


def test_scrub_plugin_text_patterns() -> None:
    registry = SecretRegistry()
    registry.add("known-secret-value")
    text = scrub_plugin_text(
        'got known-secret-value; {"access_token": "ya29.abcdef123"} password=pa55word Bearer abc.def',
        registry,
    )
    for secret in ("known-secret-value", "ya29.abcdef123", "pa55word", "abc.def"):
        assert secret not in text


def test_stderr_is_plain_text(tmp_path: Path) -> None:
    body = "sys.stderr.write('\\x1b[31merror\\x1b[0m: login required\\x07\\n' + 'x' * 1000 + '\\n'); sys.exit(1)\n"
    plugin = write_plugin(tmp_path, "kd-ansi", body)
    result = _run(exec_spec(plugin), tmp_path)
    assert result.stderr_tail[0] == "error: login required"
    assert len(result.stderr_tail[1]) == 300 and result.stderr_tail[1].endswith("…")
