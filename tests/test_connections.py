"""How many connections a full run makes to the apiserver, counted by the emulator (not timed)."""

from __future__ import annotations

from pathlib import Path

from kdoctor.emulator import Emulator
from kdoctor.probes.path import EXTRA_HANDSHAKES
from tests.clirun import kdoctor


def test_one_tls_connection_carries_every_request(tmp_path: Path) -> None:
    with Emulator("healthy") as api:
        config = api.write_kubeconfig(tmp_path / "config")
        done = kdoctor("run", "-o", "json", "--kubeconfig", str(config), home=tmp_path)
        connections = api.connections
        requests = api.requests
    assert done.code == 0, done.stderr
    carrying = {r.connection_id for r in requests}
    assert len(carrying) == 1 and len(requests) >= 7
    (carrier,) = (c for c in connections if c.connection_id in carrying)
    assert carrier.tls and carrier.requests == len(requests)
    idle = [c for c in connections if c.connection_id not in carrying]
    # Only the load-balancer evidence: extra handshakes that send no request. apiserver.tcp reads
    # the session's connect (one address, no proxy) instead of opening a bare connection.
    assert [c.tls for c in idle] == [True] * EXTRA_HANDSHAKES
    assert all(c.requests == 0 for c in idle)
    version = next(r for r in done.json["targets"][0]["results"] if r["id"] == "apiserver.version")
    assert version["details"]["protocol"] == "HTTP/1.1"
