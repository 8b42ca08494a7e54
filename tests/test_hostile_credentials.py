"""Credentials with bytes no header may carry: never sent, never echoed (found by tests/fuzz)."""

from __future__ import annotations

import io
import json
from pathlib import Path

from kdoctor.app import OutputOptions, run_command
from kdoctor.context import Environment, Options
from kdoctor.redact import SecretRegistry

CANARY = "kdoctor-canary-binary-5e2b71"


def test_a_secret_is_scrubbed_even_when_quoted_escaped() -> None:
    registry = SecretRegistry()
    registry.add("\x00\ufffd" + CANARY + "\ufffd")
    quoted = "Illegal header value b'Bearer \\x00\\xef\\xbf\\xbd" + CANARY + "\\xef\\xbf\\xbd'"
    assert CANARY not in registry.scrub(quoted)


def test_a_token_file_with_a_nul_byte_is_no_credential_and_never_leaks(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_bytes(b"\x00\xff" + CANARY.encode() + b"\xfe")
    config = tmp_path / "config"
    config.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:1"}}],
                "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "c",
                "users": [{"name": "u", "user": {"tokenFile": str(token_file)}}],
            }
        )
    )
    out = io.StringIO()
    run_command(
        Options(timeout=1, in_cluster=False, selected=("auth.credential",)),
        OutputOptions(format="json"),
        environment=Environment(env={"KUBECONFIG": str(config)}, home=tmp_path),
        stdout=out,
        stderr=io.StringIO(),
    )
    assert CANARY not in out.getvalue()
    (result,) = json.loads(out.getvalue())["targets"][0]["results"]
    assert result["status"] == "fail", result
    assert "control character '\\x00' at position 0" in result["summary"]
    assert "invalid header field value" in result["summary"]
