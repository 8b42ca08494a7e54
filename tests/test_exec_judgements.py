"""Exec plugin judgements: output described by its shape (never echoed), a YAML ExecCredential accepted as
kubectl accepts it, no expirationTimestamp noted with the run time, IfAvailable plugins that wait."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from kdoctor_checks.auth import CredentialCheck

from kdoctor.access import Credentials
from kdoctor.api import Status
from kdoctor.outputshape import describe_shape
from tests.lab.tools import ask_kubectl
from tests.plugins.authlab import (
    V1,
    access_with,
    exec_credential_body,
    exec_spec,
    make_ctx,
    run_check,
    write_plugin,
)

JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJqYW5lIiwiZXhwIjo5OTk5OTk5OTk5fQ.c2lnbmF0dXJlLWNhbmFyeS0xMjM0NTY"


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"", "nothing (empty output)"),
        (JWT.encode() + b"\n", "a bare JWT (95 characters), not wrapped in an ExecCredential"),
        (b"s3cr3t-token-value-1234567890\n", "one word of 29 token-like characters"),
        (
            b'{"kind": "Config", "apiVersion": "v1", "users": []}',
            "a JSON object (kind 'Config') with keys [kind, apiVersion, users]",
        ),
        (b"[1, 2, 3]", "a JSON array of 3 items"),
        (b"<!DOCTYPE html><html><body>login</body></html>", "an HTML page"),
        (b"Please visit https://login.example/device and enter code ABCD\nwaiting...\n", "2 line(s) of text"),
        (b"\xff\xfe\x00", "binary data (3 bytes), not UTF-8 text"),
    ],
)
def test_describe_shape(data: bytes, words: str) -> None:
    described = describe_shape(data)
    assert described.startswith(words), described
    assert JWT not in described and "s3cr3t" not in described and "ABCD" not in described


def test_a_plugin_that_prints_a_bare_jwt(tmp_path: Path) -> None:
    plugin = write_plugin(tmp_path, "kd-jwt", f"sys.stdout.write({JWT!r} + '\\n')\n")
    # kubectl refuses it too, while decoding stdout.
    config = tmp_path / "kc.yaml"
    config.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:1"}}],
                "users": [
                    {
                        "name": "u",
                        "user": {
                            "exec": {"apiVersion": V1, "command": str(plugin), "interactiveMode": "Never"}
                        },
                    }
                ],
                "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "x",
            }
        )
    )
    asked = ask_kubectl(config, tmp_path, request_timeout="3s")
    assert "getting credentials: decoding stdout" in asked.stderr, asked.stderr
    result = run_check(CredentialCheck, make_ctx(tmp_path), access_with(Credentials(exec=exec_spec(plugin))))
    assert result.status is Status.FAIL
    assert "decoding stdout" in result.summary and "a bare JWT (95 characters)" in result.summary
    assert JWT not in json.dumps({"s": result.summary, "h": result.hint, "d": result.details})


def test_a_yaml_exec_credential_works_as_in_kubectl(tmp_path: Path) -> None:
    body = f"sys.stdout.write('apiVersion: {V1}\\nkind: ExecCredential\\nstatus:\\n  token: yaml-canary-token\\n')\n"
    plugin = write_plugin(tmp_path, "kd-yaml", body)
    result = run_check(CredentialCheck, make_ctx(tmp_path), access_with(Credentials(exec=exec_spec(plugin))))
    assert result.status is Status.PASS, result.summary
    assert "yaml-canary-token" not in result.summary


def test_no_expiration_timestamp_is_noted_with_the_run_time(tmp_path: Path) -> None:
    plugin = write_plugin(tmp_path, "kd-noexp", exec_credential_body(V1, token="noexp-canary-token"))
    result = run_check(CredentialCheck, make_ctx(tmp_path), access_with(Credentials(exec=exec_spec(plugin))))
    assert result.status is Status.PASS
    assert "note: no expirationTimestamp, so every kubectl command runs the plugin (" in result.summary
    assert "s here)" in result.summary and "rejects it mid-stream" in result.summary
    assert result.details["expiration_timestamp"] is None


def test_if_available_plugin_that_waits_is_named(tmp_path: Path) -> None:
    plugin = write_plugin(tmp_path, "kd-wait", "time.sleep(30)\n")
    spec = exec_spec(plugin, interactive_mode="IfAvailable")
    result = run_check(CredentialCheck, make_ctx(tmp_path, timeout=0.8), access_with(Credentials(exec=spec)))
    assert result.status is Status.FAIL
    assert "interactiveMode: IfAvailable, and with no terminal the plugin still waited" in result.summary
