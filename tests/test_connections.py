"""How many connections a full run makes to the apiserver, counted by the emulator (not timed)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from kdoctor.emulator import Emulator
from kdoctor.probes import Endpoint
from kdoctor.probes.path import EXTRA_HANDSHAKES
from kdoctor.probes.tls import capture_chain_unverified
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


def test_evidence_handshakes_each_see_the_full_chain(tmp_path: Path) -> None:
    """The evidence handshakes share one client context: none may resume a session (a resumed
    handshake presents no certificate, and the load-balancer fingerprint would be blind)."""
    with Emulator("healthy") as api:
        endpoint = Endpoint("https", "127.0.0.1", api.port)

        async def three() -> list[tuple[bytes, ...]]:
            found = []
            for _ in range(3):  # in turn: a later one could resume the session of an earlier one
                peer = await capture_chain_unverified(endpoint, server_hostname=None, route=None, timeout=5)
                found.append(peer.chain_der)
            return found

        chains = asyncio.run(three())
    assert all(chains) and len(set(chains)) == 1, chains
