"""Bad input never crashes: each hostile or broken kubeconfig is a clear `fail`, fast, with exit 1."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.clirun import base_env, kdoctor
from tests.fixtures.kubeconfigs.harness import run_kubeconfig_checks
from tests.lab.tools import missing
from tests.reportvalidation import assert_valid_report


def _bomb() -> bytes:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 10):
        prev, cur = chr(ord("a") + i - 1), chr(ord("a") + i)
        lines.append(f"{cur}: &{cur} [" + ",".join([f"*{prev}"] * 9) + "]")
    return "\n".join(lines).encode()


def _big(path: Path) -> None:
    with path.open("wb") as handle:
        handle.truncate(50 * 1024 * 1024)


def _bytes(data: bytes) -> Callable[[Path], None]:
    return lambda path: path.write_bytes(data)


#: name → (make the file at PATH, failing check, words in its summary)
CASES: dict[str, tuple[Callable[[Path], None], str, str]] = {
    "missing": (lambda path: None, "kubeconfig.found", "does not exist"),
    "directory": (lambda path: path.mkdir(), "kubeconfig.parse", "is a directory"),
    "under-a-file": (lambda path: None, "kubeconfig.found", "does not exist"),
    "empty": (_bytes(b""), "kubeconfig.context", "is empty"),
    "binary-junk": (_bytes(bytes(range(256)) * 64), "kubeconfig.parse", "binary data"),
    "invalid-utf8": (_bytes(b"clusters:\n- name: caf\xe9\n"), "kubeconfig.parse", "not valid UTF-8"),
    "50MB": (_big, "kubeconfig.parse", "over kdoctor's 32 MiB limit (a memory guard of kdoctor's; kubectl has none)"),
    "alias-bomb": (_bytes(_bomb()), "kubeconfig.parse", "billion laughs"),
    "python-tag": (
        _bytes(b"current-context: !!python/object/apply:os.system ['echo pwned > /tmp/kdoctor-pwned']\n"),
        "kubeconfig.parse",
        "python/object/apply:os.system",
    ),
    "deep-nesting": (_bytes(b"clusters: " + b"[" * 100_000), "kubeconfig.parse", "nesting deeper"),
    "wrong-types": (
        _bytes(b"clusters: prod\nusers:\n- name: u\n  user: [token]\ncurrent-context: [a]\n"),
        "kubeconfig.structure",
        "kubectl expects a list",
    ),
    "not-a-mapping": (_bytes(b"- just\n- a list\n"), "kubeconfig.structure", "not a mapping"),
    "syntax": (_bytes(b"clusters:\n  - name: 'unterminated\n"), "kubeconfig.parse", ":3:1:"),
}


def _make(tmp_path: Path, name: str) -> Path:
    make, _, _ = CASES[name]
    if name == "under-a-file":
        (tmp_path / "file").write_text("x: 1\n")
        return tmp_path / "file" / "config"
    path = tmp_path / "config"
    make(path)
    return path


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_is_a_clear_fail_within_a_second(tmp_path: Path, name: str) -> None:
    path = _make(tmp_path, name)
    _, check_id, words = CASES[name]
    started = time.monotonic()
    outcome = run_kubeconfig_checks(tmp_path / "home", kubeconfig=str(path))
    elapsed = time.monotonic() - started
    assert elapsed < 1.0, f"{name} took {elapsed:.2f}s"
    result = outcome.results[check_id]
    assert result.status.value == "fail", (name, result.summary)
    assert words in result.summary, result.summary
    assert result.hint
    assert "error" not in outcome.statuses().values()
    assert not Path("/tmp/kdoctor-pwned").exists()


@pytest.mark.parametrize(
    "name", ["missing", "directory", "binary-junk", "50MB", "alias-bomb", "python-tag", "wrong-types"]
)
def test_bad_input_cli_exit_1_without_traceback(tmp_path: Path, name: str) -> None:
    path = _make(tmp_path, name)
    _, check_id, words = CASES[name]
    result = kdoctor("run", "-o", "json", "--check", "kubeconfig", "--kubeconfig", str(path), home=tmp_path)
    assert result.code == 1, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    report = result.json
    assert_valid_report(report)
    by_id = {r["id"]: r for r in report["targets"][0]["results"]}
    assert by_id[check_id]["status"] == "fail" and words in by_id[check_id]["summary"]
    text = kdoctor("run", "-o", "text", "--check", "kubeconfig", "--kubeconfig", str(path), home=tmp_path)
    assert text.code == 1 and "Traceback" not in text.stderr + text.stdout


def test_permission_denied(tmp_path: Path) -> None:
    """A real EACCES. Root ignores file modes, so as root the run drops CAP_DAC_OVERRIDE/READ_SEARCH."""
    path = tmp_path / "config"
    path.write_text("current-context: x\n")
    path.chmod(0)
    command = [
        sys.executable,
        "-m",
        "kdoctor",
        "run",
        "-o",
        "json",
        "--check",
        "kubeconfig",
        "--kubeconfig",
        str(path),
    ]
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            missing("setpriv (util-linux), to deny file access to root")
            return
        drop = "-dac_override,-dac_read_search"
        prefix = [setpriv, f"--bounding-set={drop}", f"--inh-caps={drop}"]
        probe = subprocess.run([*prefix, "cat", str(path)], capture_output=True, text=True, timeout=30)
        if probe.returncode == 0 or "Permission denied" not in probe.stderr:
            # A container without CAP_SETPCAP cannot drop capabilities: no way to deny root here.
            missing(f"a way to deny file access to root ({probe.stderr.strip() or 'cat succeeded'})")
            return
        command = [*prefix, *command]
    proc = subprocess.run(
        command, env=base_env(tmp_path), capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL
    )
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    import json

    by_id = {r["id"]: r for r in json.loads(proc.stdout)["targets"][0]["results"]}
    assert by_id["kubeconfig.parse"]["status"] == "fail"
    assert "permission denied" in by_id["kubeconfig.parse"]["summary"]


def test_unreadable_ca_and_key_files_are_fails_not_crashes(tmp_path: Path) -> None:
    from tests.fixtures.kubeconfigs.factory import kubeconfig, write

    (tmp_path / "ca-dir").mkdir()
    (tmp_path / "key.pem").write_bytes(b"\x00\x01junk")
    (tmp_path / "cert.pem").write_bytes(
        b"-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n"
    )
    doc = kubeconfig(
        server="https://127.0.0.1:6443",
        cluster={"certificate-authority": "ca-dir"},
        user={"client-certificate": "cert.pem", "client-key": "key.pem", "tokenFile": "ca-dir"},
    )
    path = write(tmp_path / "config", doc)
    outcome = run_kubeconfig_checks(tmp_path, kubeconfig=str(path))
    assert (
        outcome.status("kubeconfig.ca") == "fail"
        and "is a directory" in outcome.results["kubeconfig.ca"].summary
    )
    assert outcome.status("kubeconfig.client-cert") == "fail"
    assert outcome.status("kubeconfig.credentials") == "fail"
    assert "error" not in outcome.statuses().values()
