"""TLS facts: the chain a server presents, how it was captured, and pure helpers that judge it.

The network part is small: `chain_from_ssl_object` reads the chain off a live connection (the API
session's), and `capture_chain_unverified` makes one evidence-only handshake when verification
failed. Everything else works on DER bytes and needs no network, so it is tested without one.
Reading and describing one certificate is `kdoctor.certs`' (re-exported here: `CertSummary`,
`describe_certificate`, `load_pem_bundle`); this module judges chains and names with it.
`cryptography` is imported inside functions: `kdoctor --version` must not pay for it.
"""

from __future__ import annotations

import asyncio
import ipaddress
import ssl
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from kdoctor.certs import (
    CertSummary,
    describe,
    describe_certificate,
    issued_by,
    load_der,
    load_pem_bundle,
    parse_pem_certificates,
)
from kdoctor.probes import Endpoint
from kdoctor.probes.route import ProxyFailure

if TYPE_CHECKING:
    from cryptography import x509

    from kdoctor.probes.route import Route

__all__ = [
    "CertSummary",
    "ChainAnalysis",
    "PeerTls",
    "ServerNameContext",
    "analyse_chain",
    "capture_chain_unverified",
    "chain_from_ssl_object",
    "describe_certificate",
    "encoded_server_name",
    "hostname_matches",
    "interception_issuer",
    "load_pem_bundle",
    "strength_problems",
]

_DER = 2  # _ssl.ENCODING_DER, for the private Certificate objects of Python < 3.13
_MAX_CHAIN = 10


@dataclass(frozen=True)
class PeerTls:
    """What one TLS handshake with the server showed.

    `verification` is "verified" (the chain and the name checked out), "failed" (the handshake
    was aborted by verification; `verify_message` says why), "off" (insecure-skip-tls-verify, or
    the evidence handshake) or "none" (no handshake completed: `error_kind` says why).
    """

    verification: str
    chain_der: tuple[bytes, ...] = ()  # as the server sent it, leaf first
    verified_chain_der: tuple[bytes, ...] = ()  # leaf → trust anchor, when verified
    verify_code: int | None = None
    verify_message: str | None = None
    server_hostname: str | None = None  # the name sent as SNI and checked against the SANs
    tls_version: str | None = None
    cipher: str | None = None
    #: "session" (the API session's own connection) or "evidence" (the unverified re-handshake)
    captured_on: str = "session"
    error_kind: str | None = None
    error: str | None = None
    duration_ms: float | None = None


def encoded_server_name(name: Any) -> Any:
    """`name` as bytes when ssl's idna encoding of it would give the same bytes; else `name` as is.

    ssl encodes a str server_hostname with the idna codec, whose first use imports stringprep and
    unicodedata (some 30 ms of start-up). For an ASCII name that codec only checks label lengths,
    so the same check here lets ssl skip it; any other name goes to ssl unchanged, to be encoded
    (or refused, with the same error) as before.
    """
    if isinstance(name, str) and name.isascii():
        labels = name.split(".")
        if all(0 < len(label) < 64 for label in labels[:-1]) and len(labels[-1]) < 64:
            return name.encode("ascii")
    return name


class ServerNameContext(ssl.SSLContext):
    """A client SSLContext that controls the server name it sends (SNI) and checks.

    `server_name_override` (a kubeconfig's `tls-server-name`) replaces the URL's host: httpx's
    "sni_hostname" extension covers direct connections only, while through an HTTP proxy tunnel
    httpcore passes the URL's host, so the name is set where the socket is wrapped, like client-go's
    `tls.Config.ServerName`. An ASCII name goes to ssl already encoded (see `encoded_server_name`).
    """

    server_name_override: str | None = None

    def _server_name(self, server_hostname: Any) -> Any:
        name = encoded_server_name(self.server_name_override or server_hostname)
        if isinstance(name, str):
            # A name the idna codec refuses (a label over 63 characters, an empty label): Go sends
            # what it is given and fails on the certificate; ssl would raise UnicodeError, which no
            # TLS caller expects. Make it the TLS error it is.
            try:
                name.encode("idna")
            except UnicodeError as exc:
                raise ssl.SSLError(
                    f"the server name {name[:80]!r} cannot be sent as TLS SNI ({exc})"
                ) from None
        return name

    def wrap_bio(
        self,
        incoming: Any,
        outgoing: Any,
        server_side: bool = False,
        server_hostname: Any = None,
        session: Any = None,
    ) -> ssl.SSLObject:
        return super().wrap_bio(incoming, outgoing, server_side, self._server_name(server_hostname), session)

    def wrap_socket(
        self,
        sock: Any,
        server_side: bool = False,
        do_handshake_on_connect: bool = True,
        suppress_ragged_eofs: bool = True,
        server_hostname: Any = None,
        session: Any = None,
    ) -> ssl.SSLSocket:
        return super().wrap_socket(
            sock,
            server_side,
            do_handshake_on_connect,
            suppress_ragged_eofs,
            self._server_name(server_hostname),
            session,
        )


def chain_from_ssl_object(ssl_object: Any) -> tuple[tuple[bytes, ...], tuple[bytes, ...]]:
    """(presented chain, verified chain) of a live `ssl.SSLObject`/`SSLSocket`, as DER.

    Python 3.13 made `get_unverified_chain()`/`get_verified_chain()` public; before that they are
    methods of the private `_sslobj`. Without either, the leaf alone is what can be had.
    """
    presented = _call_chain(ssl_object, "get_unverified_chain")
    verified = _call_chain(ssl_object, "get_verified_chain")
    if not presented:
        try:
            leaf = ssl_object.getpeercert(binary_form=True)
        except (ValueError, AttributeError, ssl.SSLError):
            leaf = None
        presented = (leaf,) if leaf else ()
    return presented, verified


def _call_chain(ssl_object: Any, name: str) -> tuple[bytes, ...]:
    method = getattr(ssl_object, name, None) or getattr(getattr(ssl_object, "_sslobj", None), name, None)
    if method is None:
        return ()
    try:
        items = method() or []
    except (ValueError, ssl.SSLError):
        return ()
    out: list[bytes] = []
    for item in list(items)[:_MAX_CHAIN]:
        out.append(bytes(item) if isinstance(item, (bytes, bytearray)) else item.public_bytes(_DER))
    return tuple(out)


_EVIDENCE_CONTEXT: list[ssl.SSLContext] = []


def _evidence_context() -> ssl.SSLContext:
    """The one unverified client context of the evidence handshakes (nothing in it is per target).

    Making a context costs ~0.2 ms of CPU; 200 contexts make 600-800 evidence handshakes. Sharing
    it resumes no session: a Python client offers a session only when given one (`session=`).
    """
    if not _EVIDENCE_CONTEXT:
        context = ServerNameContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        _EVIDENCE_CONTEXT.append(context)
    return _EVIDENCE_CONTEXT[0]


async def capture_chain_unverified(
    target: Endpoint,
    *,
    server_hostname: str | None,
    route: Route | None,
    timeout: float,
) -> PeerTls:
    """One handshake with verification off, only to see the chain the server presents.

    It dials along `route` (`kdoctor.probes.dial.open_route`: direct, CONNECT through an http:// or
    https:// proxy, SOCKS5), the same route as the API session's, so the chain seen is the one
    kubectl meets. This is evidence gathering, not a channel: no client certificate is loaded, no
    credential and no HTTP request is ever written to it, and it is closed as soon as the handshake
    is done. Its verification is off because a verifying handshake aborts before the chain can be read.
    """
    # lazy: anyio (with the dialer) loads when a handshake is made, not with the chain analysis
    import anyio

    context = _evidence_context()
    sni = server_hostname or target.host
    started = time.perf_counter()
    try:
        presented, version, cipher = await asyncio.wait_for(
            _evidence_handshake(target, route, context, sni, timeout), timeout * 2
        )
    except (asyncio.TimeoutError, TimeoutError):
        return PeerTls(
            "none",
            server_hostname=sni,
            captured_on="evidence",
            error_kind="tls-handshake-timeout",
            error=f"no TLS handshake within {timeout:g}s",
            duration_ms=_ms(started),
        )
    except ProxyFailure as exc:
        return PeerTls(
            "none",
            server_hostname=sni,
            captured_on="evidence",
            error_kind="proxy-error",
            error=exc.fault.message,
            duration_ms=_ms(started),
        )
    except (OSError, ssl.SSLError, ValueError, EOFError, anyio.EndOfStream, anyio.BrokenResourceError) as exc:
        return PeerTls(
            "none",
            server_hostname=sni,
            captured_on="evidence",
            error_kind="tls-error",
            error=str(exc) or type(exc).__name__,
            duration_ms=_ms(started),
        )
    return PeerTls(
        "off",
        chain_der=presented,
        server_hostname=sni,
        tls_version=version,
        cipher=cipher,
        captured_on="evidence",
        duration_ms=_ms(started),
    )


async def _evidence_handshake(
    target: Endpoint, route: Route | None, context: ssl.SSLContext, sni: str, timeout: float
) -> tuple[tuple[bytes, ...], str | None, str | None]:
    # lazy: anyio and the dialer (httpcore, socksio) load when a handshake is made
    import anyio
    from anyio.streams.tls import TLSAttribute, TLSStream

    from kdoctor.probes.dial import close_quietly, open_route

    if route is None:
        from kdoctor.probes.route import direct_route

        route = direct_route(target)
    stream = await open_route(target, route, timeout)
    try:
        with anyio.fail_after(timeout):
            tls = await TLSStream.wrap(stream, hostname=sni, ssl_context=context, standard_compatible=False)
        ssl_object = tls.extra(TLSAttribute.ssl_object)
        presented, _ = chain_from_ssl_object(ssl_object)
        cipher = ssl_object.cipher()
        return presented, ssl_object.version(), cipher[0] if cipher else None
    finally:
        await close_quietly(stream)


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)


# --- pure analysis -------------------------------------------------------------------------


@dataclass(frozen=True)
class ChainAnalysis:
    """The presented chain judged against the trust anchors.

    `finding` is one of: "ok"; "no-chain"; "unparsable"; "self-signed" (the leaf signs itself and is
    not a configured CA); "ca-rotated" (a configured CA has the issuer's name but not its key);
    "untrusted-root" (the chain ends at a self-signed CA that is not configured);
    "missing-issuer" (the top certificate's issuer was neither sent nor configured: a missing
    intermediate or another CA); "expired" / "not-yet-valid" (the chain reaches the CA but a
    certificate in it is outside its validity at `now`); "system-roots" (no CA configured: the
    verdict is the system's, `verified_by_system`).
    """

    finding: str
    chain: tuple[CertSummary, ...]
    anchors: tuple[CertSummary, ...]
    path: tuple[CertSummary, ...] = ()  # leaf → anchor when the chain reaches one
    #: True: the chain reaches a configured CA; False: a CA is configured and the chain does not
    #: reach it; None: no CA is configured (system roots), so "the cluster CA" is unknown.
    issuer_is_cluster_ca: bool | None = None
    #: The top of the chain (the last certificate walked) whose issuer could not be found.
    dangling: CertSummary | None = None
    #: The configured CA(s) that share the dangling issuer's name but not its key.
    same_name_anchors: tuple[CertSummary, ...] = ()
    expired: tuple[CertSummary, ...] = ()
    not_yet_valid: tuple[CertSummary, ...] = ()

    @property
    def leaf(self) -> CertSummary | None:
        return self.chain[0] if self.chain else None


def analyse_chain(chain_der: Sequence[bytes], ca_pem: bytes | None, now: datetime) -> ChainAnalysis:
    """Walk the presented chain from the leaf up to a configured CA, and say where it breaks."""
    parsed: list[tuple[x509.Certificate, CertSummary]] = []
    for der in list(chain_der)[:_MAX_CHAIN]:
        try:
            cert = load_der(der)
            parsed.append((cert, describe(cert)))
        except ValueError:
            continue
    anchors: list[tuple[x509.Certificate, CertSummary]] = []
    for cert in parse_pem_certificates(ca_pem or b"")[0][:_MAX_CHAIN]:
        try:
            anchors.append((cert, describe(cert)))
        except ValueError:
            continue
    chain = tuple(s for _, s in parsed)
    anchor_summaries = tuple(s for _, s in anchors)
    if not chain_der:
        return ChainAnalysis("no-chain", (), anchor_summaries)
    if not parsed:
        return ChainAnalysis("unparsable", (), anchor_summaries)

    expired = tuple(s for s in chain if s.not_after < now)
    not_yet = tuple(s for s in chain if s.not_before > now)
    if not anchors:
        return ChainAnalysis(
            "system-roots", chain, (), issuer_is_cluster_ca=None, expired=expired, not_yet_valid=not_yet
        )

    anchor_fingerprints = {s.sha256 for s in anchor_summaries}
    intermediates = parsed[1:]
    current, current_summary = parsed[0]
    path = [current_summary]
    for _ in range(_MAX_CHAIN):
        if current_summary.sha256 in anchor_fingerprints:
            return _reached(chain, anchor_summaries, tuple(path), now)
        signer = next(
            (a for a in anchors if a[0].subject == current.issuer and issued_by(current, a[0])), None
        )
        if signer is not None:
            path.append(signer[1])
            return _reached(chain, anchor_summaries, tuple(path), now)
        same_name = tuple(s for c, s in anchors if c.subject == current.issuer)
        if same_name:
            return ChainAnalysis(
                "ca-rotated",
                chain,
                anchor_summaries,
                tuple(path),
                issuer_is_cluster_ca=False,
                dangling=current_summary,
                same_name_anchors=same_name,
                expired=expired,
                not_yet_valid=not_yet,
            )
        if current_summary.self_signed:
            finding = "self-signed" if len(path) == 1 else "untrusted-root"
            return ChainAnalysis(
                finding,
                chain,
                anchor_summaries,
                tuple(path),
                issuer_is_cluster_ca=False,
                dangling=current_summary,
                expired=expired,
                not_yet_valid=not_yet,
            )
        parent = next(
            (i for i in intermediates if i[0].subject == current.issuer and issued_by(current, i[0])), None
        )
        if parent is None or parent[1] in path:
            break
        current, current_summary = parent
        path.append(current_summary)
    return ChainAnalysis(
        "missing-issuer",
        chain,
        anchor_summaries,
        tuple(path),
        issuer_is_cluster_ca=False,
        dangling=current_summary,
        expired=expired,
        not_yet_valid=not_yet,
    )


def _reached(
    chain: tuple[CertSummary, ...],
    anchors: tuple[CertSummary, ...],
    path: tuple[CertSummary, ...],
    now: datetime,
) -> ChainAnalysis:
    expired = tuple(s for s in path if s.not_after < now)
    not_yet = tuple(s for s in path if s.not_before > now)
    finding = "expired" if expired else "not-yet-valid" if not_yet else "ok"
    return ChainAnalysis(
        finding, chain, anchors, path, issuer_is_cluster_ca=True, expired=expired, not_yet_valid=not_yet
    )


#: Words in the names of the CAs Kubernetes distributions make (kubeadm, k3s, RKE, OpenShift, ...): a chain
#: from such a CA that is not the configured one is another cluster's, not an interception.
KUBERNETES_CA_WORDS = (
    "kube",
    "k3s",
    "k8s",
    "rke",
    "cluster",
    "openshift",
    "etcd",
    "front-proxy",
    "apiserver",
)


def interception_issuer(analysis: ChainAnalysis | None, proxied: bool) -> str | None:
    """The issuer that re-signs the server's chain when a TLS-intercepting proxy is identified, else None.

    Identified: a CA is configured, the presented chain does not reach it and ends at a CA that is
    neither sent nor configured (missing issuer or untrusted root), and either an HTTP proxy is in the
    route or the issuer's name is not a Kubernetes distribution's (another cluster's CA is not an
    interception).
    """
    if analysis is None or analysis.issuer_is_cluster_ca is not False:
        return None
    if analysis.finding not in ("missing-issuer", "untrusted-root"):
        return None
    top = analysis.dangling or (analysis.chain[-1] if analysis.chain else None)
    if top is None:
        return None
    if not proxied and any(word in top.issuer.lower() for word in KUBERNETES_CA_WORDS):
        return None
    return top.issuer


def hostname_matches(cert: CertSummary, host: str) -> bool:
    """Whether `host` (a DNS name or an IP literal) is among the certificate's SANs (RFC 6125)."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    if address is not None:
        return any(_same_ip(address, ip) for ip in cert.ip_addresses)
    name = host.rstrip(".").lower()
    for pattern in cert.dns_names:
        pattern = pattern.rstrip(".").lower()
        if pattern == name:
            return True
        # A wildcard stands for exactly one left-most label.
        if pattern.startswith("*.") and "." in name and name.split(".", 1)[1] == pattern[2:]:
            return True
    return False


def go_hostname_error(cert: CertSummary, host: str) -> str:
    """kubectl's words (Go's x509.HostnameError) for a certificate that does not name `host`.

    Go lists only the SANs of the kind it was matching: the IP SANs for an IP host, the DNS SANs
    for a name; an IP host and a certificate without IP SANs has a message of its own.
    """
    try:
        ipaddress.ip_address(host)
    except ValueError:
        valid = ", ".join(cert.dns_names)
    else:
        if not cert.ip_addresses:
            return f"x509: cannot validate certificate for {host} because it doesn't contain any IP SANs"
        valid = ", ".join(cert.ip_addresses)
    if not valid:
        return f"x509: certificate is not valid for any names, but wanted to match {host}"
    return f"x509: certificate is valid for {valid}, not {host}"


def _same_ip(address: ipaddress.IPv4Address | ipaddress.IPv6Address, text: str) -> bool:
    try:
        return ipaddress.ip_address(text) == address
    except ValueError:
        return False


#: RSA keys below this many bits are considered weak (NIST SP 800-131A, Go's crypto/tls defaults).
MIN_RSA_BITS = 2048
WEAK_HASHES = frozenset({"md5", "sha1"})


def strength_problems(cert: CertSummary, *, is_root: bool) -> list[str]:
    """Why `cert` is weak, in words (empty when it is not). A root's own signature does not count."""
    problems = []
    if cert.key_type in ("RSA", "DSA") and cert.key_bits is not None and cert.key_bits < MIN_RSA_BITS:
        problems.append(f"{cert.key_type} key of {cert.key_bits} bits (< {MIN_RSA_BITS})")
    if not is_root and cert.signature_hash in WEAK_HASHES:
        problems.append(f"signed with {cert.signature_hash.upper()}")
    return problems
