"""The per-target API session against the package's apiserver emulator, a real HTTP proxy (tinyproxy)
and raw servers made here: one connection, credentials only on verified channels, errors classified."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pytest

from kdoctor.access import AccessSpec
from kdoctor.api import Mode
from kdoctor.context import Context, Environment, Options, Target
from kdoctor.emulator import Emulator
from kdoctor.probes import parse_endpoint
from kdoctor.probes.api import (
    API_SESSION,
    GRACE,
    MAX_BODY,
    PATIENCE,
    TLS_HANDSHAKE,
    VERSION,
    ApiResponse,
    ApiSession,
    close_session,
)
from kdoctor.probes.route import Route
from tests.lab.proxies import Tinyproxy

if TYPE_CHECKING:
    from tests.lab.emulator_fixtures import EmulatorFactory

pytest_plugins = ("tests.lab.emulator_fixtures",)

T = TypeVar("T")


def make_ctx(kubeconfig: Path, home: Path, *, timeout: float = 2.0) -> Context:
    return Context(
        options=Options(kubeconfig=str(kubeconfig), timeout=timeout),
        environment=Environment(env={"PATH": "/usr/bin:/bin"}, home=home),
        target=Target(Mode.KUBECONFIG),
    )


def within(ctx: Context, body: Callable[[Context], Awaitable[T]]) -> T:
    """Run `body(ctx)` on a fresh loop and close the target's session afterwards."""

    async def main() -> T:
        try:
            return await body(ctx)
        finally:
            await close_session(ctx)

    return asyncio.run(main())


def tls_connections(api: Emulator) -> int:
    return sum(1 for c in api.connections if c.tls)


def test_one_connection_serves_every_request(emulator: EmulatorFactory, tmp_path: Path) -> None:
    api = emulator("healthy")
    ctx = make_ctx(api.write_kubeconfig(tmp_path / "config"), tmp_path)

    async def body(ctx: Context) -> list[Any]:
        session = await ctx.probe(API_SESSION)
        version = await ctx.probe(VERSION)
        concurrent = await asyncio.gather(
            *(session.get(p, authenticated=True) for p in ("/api", "/apis", "/livez", "/readyz", "/healthz"))
        )
        again = await ctx.probe(VERSION)  # memoised: no second round trip
        return [version, again, *concurrent]

    version, again, *rest = within(ctx, body)
    assert version is again
    assert version.status == 200 and version.json["gitVersion"] == "v1.31.4"
    assert version.new_connection and not rest[0].new_connection
    assert version.timings.connect is not None and version.timings.tls is not None
    assert version.timings.first_byte is not None
    assert [r.status for r in rest] == [200] * 5
    assert tls_connections(api) == 1
    paths = [r.path for r in api.requests]
    assert paths.count("/version") == 1
    # /version goes out anonymously; authenticated requests carry the bearer token.
    by_path = {r.path: r for r in api.requests}
    assert by_path["/version"].header("authorization") is None
    assert by_path["/api"].header("authorization") == f"Bearer {api.admin_token}"
    assert (by_path["/api"].header("user-agent") or "").startswith("kdoctor/")


FAILED_VERIFICATION = [
    "unknown-ca",
    "ca-rotated",
    "self-signed",
    "expired",
    "san-mismatch",
    "missing-intermediate",
]


@pytest.mark.parametrize("scenario", FAILED_VERIFICATION)
@pytest.mark.parametrize("user", ["token", "cert"])
def test_no_credential_ever_reaches_a_server_that_failed_verification(
    emulator: EmulatorFactory, tmp_path: Path, scenario: str, user: str
) -> None:
    api = emulator(scenario)
    ctx = make_ctx(api.write_kubeconfig(tmp_path / "config", user=user), tmp_path)

    async def body(ctx: Context) -> Any:
        session = await ctx.probe(API_SESSION)
        assert session.credentials_allowed  # the channel policy allows them: verification must stop them
        first = await session.get("/api", authenticated=True)
        review = await session.post(
            "/apis/authentication.k8s.io/v1/selfsubjectreviews",
            {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"},
            authenticated=True,
        )
        facts = await ctx.probe(TLS_HANDSHAKE)
        return first, review, facts

    first, review, facts = within(ctx, body)
    assert first.error_kind == "tls-verify" and not first.credentials_sent
    assert review.repeated and not review.credentials_sent
    # The chain was still captured, on the evidence-only handshake.
    assert facts.verification == "failed" and facts.captured_on == "evidence"
    assert len(facts.chain_der) >= 1
    # The emulator's log: no HTTP request at all, so no Authorization header; no client certificate.
    assert api.requests == []
    assert all(c.client_cert_subject is None for c in api.connections)


def test_client_certificate_is_presented_on_the_verified_connection(
    emulator: EmulatorFactory, tmp_path: Path
) -> None:
    api = emulator("healthy")
    ctx = make_ctx(api.write_kubeconfig(tmp_path / "config", user="cert"), tmp_path)

    async def body(ctx: Context) -> Any:
        session = await ctx.probe(API_SESSION)
        return await session.get("/api", authenticated=True)

    response = within(ctx, body)
    assert response.status == 200 and response.credentials_sent
    assert [c.client_cert_subject for c in api.connections if c.tls] != [None]
    assert api.requests[0].header("authorization") is None


def test_insecure_skip_tls_verify_sends_the_credential_like_kubectl(
    emulator: EmulatorFactory, tmp_path: Path
) -> None:
    api = emulator("self-signed")
    ctx = make_ctx(api.write_kubeconfig(tmp_path / "config", insecure_skip_tls_verify=True), tmp_path)

    async def body(ctx: Context) -> Any:
        session = await ctx.probe(API_SESSION)
        response = await session.get("/version", authenticated=True)
        return session, response, await ctx.probe(TLS_HANDSHAKE)

    session, response, facts = within(ctx, body)
    # kubectl sends its credential to an unverified server; kdoctor judges that path with it
    assert session.credentials_allowed
    assert (
        "insecure-skip-tls-verify" in session.credentials_reason
        and "as kubectl" in session.credentials_reason
    )
    assert response.status == 200 and response.credentials_sent
    assert facts.verification == "off" and facts.chain_der
    # ours (authenticated) and VERSION's (the public path goes without a credential first)
    assert [r.header("authorization") for r in api.requests] == [f"Bearer {api.admin_token}", None]


def test_plain_http_to_a_remote_host_allows_no_credentials() -> None:
    # Policy only: nothing connects to this address.
    access = AccessSpec(server="http://10.11.12.13:8080")
    server = parse_endpoint(access.server)
    route = Route(server, None, None, "direct", "none", "", server)
    session = ApiSession(access, route, None, timeout=1)
    assert not session.credentials_allowed
    assert "plain HTTP" in session.credentials_reason
    loopback = AccessSpec(server="http://127.0.0.1:8001")
    server = parse_endpoint(loopback.server)
    assert ApiSession(
        loopback, Route(server, None, None, "direct", "none", "", server), None, timeout=1
    ).credentials_allowed


def test_hang_ends_in_a_classified_timeout_once(emulator: EmulatorFactory, tmp_path: Path) -> None:
    api = emulator("hang")
    ctx = make_ctx(api.write_kubeconfig(tmp_path / "config"), tmp_path, timeout=1.0)

    async def body(ctx: Context) -> Any:
        session = await ctx.probe(API_SESSION)
        started = time.monotonic()
        first = await ctx.probe(VERSION)
        first_elapsed = time.monotonic() - started
        second = await session.get("/readyz", authenticated=False)
        return first, first_elapsed, second, time.monotonic() - started

    first, first_elapsed, second, total = within(ctx, body)
    assert first.error_kind == "tls-handshake-timeout"
    assert 0.9 <= first_elapsed < 2.0
    # The next request is not tried again: the target costs one timeout, not one per check.
    assert second.error_kind == "tls-handshake-timeout" and second.repeated
    assert total < 2.0


def test_slow_headers_is_a_read_timeout(emulator: EmulatorFactory, tmp_path: Path) -> None:
    api = emulator("slow-headers")
    ctx = make_ctx(api.write_kubeconfig(tmp_path / "config"), tmp_path, timeout=1.0)
    started = time.monotonic()
    response = within(ctx, lambda ctx: ctx.probe(VERSION))
    assert response.error_kind == "read-timeout"
    assert response.timings.tls is not None  # TLS completed; the wait was for headers
    assert time.monotonic() - started < 2.5


def test_slow_headers_from_the_first_request_on_is_the_routes_fact(
    emulator: EmulatorFactory, tmp_path: Path
) -> None:
    # A server that has answered nothing: the silence is remembered, the target costs one timeout.
    api = emulator("slow-headers")
    ctx = make_ctx(api.write_kubeconfig(tmp_path / "config"), tmp_path, timeout=1.0)

    async def body(ctx: Context) -> tuple[Any, Any, float]:
        session = await ctx.probe(API_SESSION)
        first = await session.get("/version", authenticated=False)
        started = time.monotonic()
        second = await session.get("/livez", authenticated=False)
        return first, second, time.monotonic() - started

    first, second, elapsed = within(ctx, body)
    assert first.error_kind == "read-timeout" and not first.repeated
    assert second.error_kind == "read-timeout" and second.repeated
    assert elapsed < 0.5


REVIEW_PATH = "/apis/authentication.k8s.io/v1/selfsubjectreviews"
ENDPOINTS_PATH = "/api/v1/namespaces/default/endpoints/kubernetes"


def test_stalled_requests_cost_one_timeout_and_the_others_are_still_answered(
    emulator: EmulatorFactory, tmp_path: Path
) -> None:
    # An apiserver without etcd answers /version, /livez, /readyz and discovery, never the
    # SelfSubjectReview nor a read of a resource. Checks ask them all at about the same time.
    api = emulator("etcd-down")
    ctx = make_ctx(api.write_kubeconfig(tmp_path / "config"), tmp_path, timeout=1.0)

    async def body(ctx: Context) -> tuple[list[Any], float, Any, int]:
        session = await ctx.probe(API_SESSION)
        await session.get("/version", authenticated=False)
        started = time.monotonic()
        answers = await asyncio.gather(
            session.post(REVIEW_PATH, {"kind": "SelfSubjectReview"}, authenticated=True),
            session.get("/livez?verbose", authenticated=False),
            session.get(ENDPOINTS_PATH, authenticated=True),
            session.get("/readyz?verbose", authenticated=False),
            session.get("/api", authenticated=True),
        )
        elapsed = time.monotonic() - started
        await asyncio.sleep(PATIENCE + GRACE + 0.2)  # past the target's end
        seen = len(api.requests)
        # Asked once the target's time is up: not sent, and nothing reaches the server.
        late = await session.get("/apis", authenticated=True)
        await asyncio.sleep(0.1)
        return answers, elapsed, late, len(api.requests) - seen

    (review, livez, endpoints, readyz, discovery), elapsed, late, reached = within(ctx, body)
    # Each stalled request is its own fact, with its own timeout, not a repeat of another.
    for stalled in (review, endpoints):
        assert stalled.error_kind == "read-timeout" and not stalled.repeated, stalled
        assert stalled.error == "no response headers within 1s of the request" and stalled.cut_by is None
        assert stalled.stalled and stalled.credentials_sent
    # The others were asked on other connections (HTTP/1.1 cannot pass a stuck request) and answered.
    assert livez.status == 500 and "[-]etcd failed: reason withheld" in livez.failed_subchecks
    assert readyz.status == 500 and discovery.status == 200
    # One timeout for the lot, not one per stalled request (generous margin for a loaded machine).
    assert 0.9 <= elapsed < 1.0 + 0.9, elapsed
    assert late.not_sent and not late.answered and not late.stalled and not late.credentials_sent
    assert late.cut_by in (f"POST {REVIEW_PATH}", f"GET {ENDPOINTS_PATH}"), late
    assert late.error.startswith("not sent: the target's time ran out: ") and "within 1s" in late.error
    assert reached == 0
    by_connection: dict[int, list[str]] = {}
    for r in api.requests:
        by_connection.setdefault(r.connection_id, []).append(r.path)
    # The two stalled requests are on different connections, each the last on its connection.
    stuck = [cid for cid, paths in by_connection.items() if paths[-1] in (REVIEW_PATH, ENDPOINTS_PATH)]
    assert len(stuck) == 2, by_connection
    assert len(by_connection) <= 6, by_connection


def test_a_request_asked_after_the_first_stall_gets_what_is_left_of_the_targets_time(
    emulator: EmulatorFactory, tmp_path: Path
) -> None:
    # One after the other: the review stalls for its timeout; the next review is sent (the target has a
    # little time left) and cut when the target's time runs out; what is asked after that is not sent.
    api = emulator("etcd-down")
    ctx = make_ctx(api.write_kubeconfig(tmp_path / "config"), tmp_path, timeout=1.0)

    async def body(ctx: Context) -> list[tuple[Any, float]]:
        session = await ctx.probe(API_SESSION)
        out = []
        for send in (
            lambda: session.get("/version", authenticated=False),
            lambda: session.post(REVIEW_PATH, {"kind": "SelfSubjectReview"}, authenticated=True),
            lambda: session.post(REVIEW_PATH, {"kind": "SelfSubjectReview"}, authenticated=True),
            lambda: session.get("/readyz?verbose", authenticated=False),
        ):
            started = time.monotonic()
            out.append((await send(), time.monotonic() - started))
        return out

    (version, _), (review, review_s), (again, again_s), (readyz, readyz_s) = within(ctx, body)
    assert version.status == 200
    assert review.error_kind == "read-timeout" and review.cut_by is None and 0.9 <= review_s < 2.0
    label = f"POST {REVIEW_PATH}"
    # Cut short (or, on a slow machine, still opening its new connection): it says which stall ended it.
    assert again.cut_by == label and not again.repeated, again
    if again.error_kind == "read-timeout":
        assert again.error.endswith(f"the target's time ran out: {label} got no answer within 1s"), again
    else:
        assert again.not_sent, again
    assert again_s < 0.5
    assert readyz.not_sent and readyz.cut_by == label and readyz_s < 0.1
    assert [r.path for r in api.requests].count("/readyz") == 0


def test_refused_connection(tmp_path: Path) -> None:
    with Emulator("healthy") as api:
        config = api.write_kubeconfig(tmp_path / "config")
    ctx = make_ctx(config, tmp_path)
    response = within(ctx, lambda ctx: ctx.probe(VERSION))
    assert response.error_kind == "refused"
    assert not response.answered


@contextmanager
def raw_http_server(payload: bytes) -> Iterator[int]:
    """A plain-HTTP server on 127.0.0.1 that answers every connection with `payload` once."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    # A short accept timeout lets the thread notice `stop` (closing a socket does not wake accept()).
    listener.settimeout(0.1)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn:
                conn.settimeout(5)
                try:
                    conn.recv(65536)
                    conn.sendall(payload)
                except OSError:
                    pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join(5)
        listener.close()


def _get_once(url: str, *, timeout: float) -> ApiResponse:
    """One unauthenticated GET /version through a direct session to `url`, then the session closed."""
    access = AccessSpec(server=url)
    server = parse_endpoint(access.server)
    session = ApiSession(
        access, Route(server, None, None, "direct", "none", "", server), None, timeout=timeout
    )

    async def main() -> ApiResponse:
        try:
            return await session.get("/version", authenticated=False)
        finally:
            await session.aclose()

    return asyncio.run(main())


def test_bodies_are_capped(tmp_path: Path) -> None:
    body = b"x" * (MAX_BODY * 2)
    payload = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n" % len(body) + body
    with raw_http_server(payload) as port:
        response = _get_once(f"http://127.0.0.1:{port}", timeout=2)
    assert response.status == 200
    assert response.truncated and len(response.body) == MAX_BODY
    assert response.json is None


def test_garbage_instead_of_http_is_a_protocol_error(tmp_path: Path) -> None:
    with raw_http_server(b"SSH-2.0-OpenSSH_9.6\r\n") as port:
        response = _get_once(f"http://127.0.0.1:{port}", timeout=2)
    assert response.error_kind in ("protocol-error", "reset")
    assert response.error


def test_session_goes_through_the_decided_http_proxy(emulator: EmulatorFactory, tmp_path: Path) -> None:
    api = emulator("healthy", extra_sans=("kubernetes.example",))
    with Tinyproxy(tmp_path, connect_ports=[api.port]) as proxy:
        # The cluster's proxy-url is honoured even for loopback (client-go); tls-server-name goes
        # through the tunnel too.
        config = api.write_kubeconfig(
            tmp_path / "config", proxy_url=proxy.url, tls_server_name="kubernetes.example"
        )
        ctx = make_ctx(config, tmp_path)

        async def body(ctx: Context) -> Any:
            session = await ctx.probe(API_SESSION)
            api_response = await session.get("/api", authenticated=True)
            return session, await ctx.probe(VERSION), api_response, await ctx.probe(TLS_HANDSHAKE)

        session, version, api_response, facts = within(ctx, body)
        connects = proxy.connects()
    assert session.route.proxy_kind == "http-proxy"
    assert version.status == 200 and api_response.status == 200
    assert facts.verification == "verified" and facts.server_hostname == "kubernetes.example"
    assert connects == [f"127.0.0.1:{api.port}"]
    assert tls_connections(api) == 1


def test_evidence_handshake_goes_through_the_proxy_too(emulator: EmulatorFactory, tmp_path: Path) -> None:
    api = emulator("unknown-ca")
    with Tinyproxy(tmp_path, connect_ports=[api.port]) as proxy:
        config = api.write_kubeconfig(tmp_path / "config", proxy_url=proxy.url)
        ctx = make_ctx(config, tmp_path)
        facts = within(ctx, lambda ctx: ctx.probe(TLS_HANDSHAKE))
        connects = proxy.connects()
    assert facts.verification == "failed" and facts.captured_on == "evidence"
    assert len(facts.chain_der) == 1
    assert connects == [f"127.0.0.1:{api.port}"] * 2
    assert api.requests == []


def test_evidence_handshake_authenticates_to_the_proxy(emulator: EmulatorFactory, tmp_path: Path) -> None:
    api = emulator("self-signed")
    with Tinyproxy(tmp_path, connect_ports=[api.port], basic_auth=("kdoctor", "proxy-secret-1")) as proxy:
        config = api.write_kubeconfig(tmp_path / "config", proxy_url=proxy.url_with_credentials)
        ctx = make_ctx(config, tmp_path)
        facts = within(ctx, lambda ctx: ctx.probe(TLS_HANDSHAKE))
        connects = proxy.connects()
    assert facts.verification == "failed" and facts.captured_on == "evidence"
    # The CONNECT carried the proxy's credentials, so the evidence handshake got through.
    assert len(facts.chain_der) == 1
    assert "chain not captured" not in (facts.error or "")
    assert len(connects) == 2
    assert api.requests == []


def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not _ipv6_loopback(), reason="no IPv6 loopback on this machine")
def test_ipv6_literal_server(emulator: EmulatorFactory, tmp_path: Path) -> None:
    api = emulator("healthy", host="::1")
    ctx = make_ctx(api.write_kubeconfig(tmp_path / "config"), tmp_path)

    async def body(ctx: Context) -> Any:
        session = await ctx.probe(API_SESSION)
        return session, await ctx.probe(VERSION), await ctx.probe(TLS_HANDSHAKE)

    session, version, facts = within(ctx, body)
    assert api.url.startswith("https://[::1]:")
    assert version.status == 200
    assert facts.verification == "verified" and facts.server_hostname == "::1"
    assert session.peer_address == "::1"


def test_a_host_httpx_cannot_address_is_an_answerless_response_not_a_crash(tmp_path: Path) -> None:
    # Found by the fuzz campaign (seed 20261206, case 563): httpx decodes an `xn--` host as IDNA and
    # raised from build_request for "xn--.invalid"; Go sends the name as it is. The request fails
    # before anything is dialled or resolved, so no lookup of the made-up name happens.
    response = _get_once("http://xn--.invalid:8080", timeout=1)
    assert not response.answered and not response.credentials_sent
    assert response.error_kind == "error"
    assert "cannot address http://xn--.invalid:8080" in (response.error or "")
    assert "IDNAError" in (response.error or "")
