"""Credentials with bytes no header may carry: never sent, never echoed (found by tests/fuzz)."""

from __future__ import annotations

import io
import json
import os
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


def test_a_secret_learnt_after_a_text_was_scrubbed_is_scrubbed_from_it_next_time() -> None:
    """Scrubbed texts are remembered (a report repeats most of them); a new secret forgets them."""
    registry = SecretRegistry()
    registry.add("an-older-secret-value")
    text = f"the server said: {CANARY}"
    assert registry.scrub(text) == text
    assert registry.scrub(text) == text  # remembered
    registry.add(CANARY)
    assert registry.scrub(text) == "the server said: <redacted>"
    other = SecretRegistry()
    other.add("yet-another-secret")
    registry.merge(other)
    assert registry.scrub("yet-another-secret and " + CANARY) == "<redacted> and <redacted>"


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


def test_nul_bytes_in_paths_arguments_and_env_names_are_findings_not_crashes(tmp_path: Path) -> None:
    """Found by tests/fuzz (seed 2026, case 387): read_blob, the tokenFile reader and the exec
    runner let Python's ValueError ('embedded null byte') escape."""
    nul = str(tmp_path / "a\x00b.crt")
    users = {
        "file": {"tokenFile": nul},
        "cert": {"client-certificate": nul, "client-key": nul},
        "exec": {
            "exec": {
                "command": "/bin/true",
                "args": ["a\x00b"],
                "env": [{"name": "A=B", "value": "x"}],
                "apiVersion": "client.authentication.k8s.io/v1",
            }
        },
    }
    for name, user in users.items():
        config = tmp_path / f"config-{name}"
        config.write_text(
            json.dumps(
                {
                    "apiVersion": "v1",
                    "kind": "Config",
                    "clusters": [
                        {
                            "name": "c",
                            "cluster": {"server": "https://127.0.0.1:1", "certificate-authority": nul},
                        }
                    ],
                    "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
                    "current-context": "c",
                    "users": [{"name": "u", "user": user}],
                }
            )
        )
        out = io.StringIO()
        code = run_command(
            Options(timeout=1, in_cluster=False, selected=("kubeconfig", "auth.credential")),
            OutputOptions(format="json"),
            environment=Environment(env={"KUBECONFIG": str(config), "PATH": "/usr/bin:/bin"}, home=tmp_path),
            stdout=out,
            stderr=io.StringIO(),
        )
        results = json.loads(out.getvalue())["targets"][0]["results"]
        assert code == 1 and not [r for r in results if r["status"] == "error"], (name, results)


def test_a_token_file_that_is_a_fifo_does_not_hang_the_run(tmp_path: Path) -> None:
    """Found by the fuzz campaign (seed 2026, case 2361): open() on a FIFO with no writer blocked
    the event loop, and every timeout with it, for ever."""
    fifo = tmp_path / "token"
    os.mkfifo(fifo)
    config = tmp_path / "config"
    config.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:1"}}],
                "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "c",
                "users": [{"name": "u", "user": {"tokenFile": str(fifo)}}],
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
    (result,) = json.loads(out.getvalue())["targets"][0]["results"]
    assert result["status"] == "fail" and "not a regular file" in result["summary"], result
