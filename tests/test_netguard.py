"""The tests' own safety net: nothing but loopback is reachable, in-process or in kdoctor subprocesses."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from tests.clirun import kdoctor


def test_non_loopback_connections_and_made_up_names_are_refused() -> None:
    with pytest.raises(OSError, match="netguard"):
        socket.create_connection(("192.0.2.1", 443), timeout=1)
    with pytest.raises(socket.gaierror, match="netguard"):
        socket.getaddrinfo("made-up.invalid", 443)
    assert socket.getaddrinfo("127.0.0.1", 443)


def test_kdoctor_subprocesses_are_guarded_too(tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        "clusters: [{name: c, cluster: {server: 'https://192.0.2.1:6443', insecure-skip-tls-verify: true}}]\n"
        "contexts: [{name: c, context: {cluster: c, user: u}}]\nusers: [{name: u, user: {}}]\n"
    )
    done = kdoctor(
        "run", "--kubeconfig", str(config), "--check", "apiserver.tcp", "-o", "json", home=tmp_path
    )
    tcp = next(r for r in done.json["targets"][0]["results"] if r["id"] == "apiserver.tcp")
    assert tcp["status"] == "fail"
    assert "netguard" in tcp["summary"] + str(tcp["details"]) or "unreachable" in tcp["summary"].lower()
