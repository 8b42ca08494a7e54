"""Which proxy a request to the apiserver takes, decided the way kubectl (client-go) decides it.

kdoctor never lets its HTTP library guess: it computes the decision here, hands it to httpx
explicitly (``proxy=decision.url, trust_env=False``) and reports it, so what it predicts is what it
did and what kubectl will do. The rules, from client-go and golang.org/x/net/http/httpproxy:

- The cluster's ``proxy-url`` (http, https or socks5) is used for every request to that cluster,
  loopback included, and NO_PROXY does not apply to it (``http.ProxyURL``).
- Otherwise HTTPS_PROXY for https servers, HTTP_PROXY for http servers (never the other one). Each
  variable is read upper case first, the lower-case spelling only when the upper one is unset or
  empty. HTTP_PROXY is refused when REQUEST_METHOD is set (a CGI environment).
- ``localhost`` and loopback IP literals never go through an environment proxy.
- NO_PROXY (then no_proxy): comma-separated, case-insensitive; ``*`` alone disables proxying; an
  IP or a CIDR matches addresses; ``example.com`` matches itself and its subdomains,
  ``.example.com`` (or ``*.example.com``) its subdomains only; an entry may carry ``:port``.
- A proxy value without a scheme is read as ``http://value``.

The module also models what httpx (``trust_env=True``) and the official Python client would do with
the same environment, so a check can warn when a Python tool takes a different path from kubectl.
Everything here is pure: no network, no os.environ.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal
from urllib.parse import SplitResult, urlsplit

from kdoctor.keys import ACCESS, PROXY_DECISION
from kdoctor.netaddr import is_loopback, is_loopback_ip, parse_ip
from kdoctor.redact import proxy_url_secrets

if TYPE_CHECKING:
    from kdoctor.context import Context

__all__ = [
    "PROXY_DECISION",
    "HttpxRejected",
    "NoProxyEntry",
    "ProxyDecision",
    "ProxyKind",
    "decide_proxy",
    "display_proxy_url",
    "httpx_would_choose",
    "no_proxy_value",
    "parse_no_proxy",
    "proxy_url_secrets",
    "python_client_bypasses",
    "python_client_decision",
    "python_client_would_choose",
]

ProxyKind = Literal["direct", "http-proxy", "socks-proxy"]

_DEFAULT_PORTS = {"http": "80", "https": "443", "socks5": "1080"}
# Schemes client-go accepts in a kubeconfig proxy-url (clientcmd parseProxyURL).
_CLUSTER_PROXY_SCHEMES = ("http", "https", "socks5")
# Schemes httpproxy keeps as written in HTTPS_PROXY/HTTP_PROXY; anything else gets "http://" prepended.
_ENV_PROXY_SCHEMES = ("http", "https", "socks5")
_REDACTED_USERINFO = "<redacted>"


@dataclass(frozen=True)
class ProxyDecision:
    """Where kubectl would send the connection for one server URL, and why.

    ``url`` is the proxy URL (None when direct) and may carry credentials: show ``display_url``.
    ``error`` is set when the proxy setting itself dooms the request: kubectl refuses to send it (a
    proxy-url with an unsupported scheme, HTTP_PROXY in a CGI environment; ``url`` is then None), or
    dials a proxy URL that cannot work (an HTTPS_PROXY of another scheme or with a bad port, which Go
    re-reads as ``http://VALUE``; ``url`` is that URL).
    """

    url: str | None
    kind: ProxyKind
    source: str  # "cluster proxy-url", "HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "none"
    reason: str
    credentials_in_url: bool = False
    error: str | None = None

    @property
    def display_url(self) -> str | None:
        """The proxy URL with any user:password replaced, safe to print."""
        return None if self.url is None else display_proxy_url(self.url)

    @property
    def is_proxied(self) -> bool:
        return self.url is not None

    def __repr__(self) -> str:
        # The proxy URL may carry a password: never let a repr (logs, tracebacks) show it.
        return (
            f"ProxyDecision(url={self.display_url!r}, kind={self.kind!r}, source={self.source!r}, "
            f"reason={self.reason!r}, credentials_in_url={self.credentials_in_url!r}, error={self.error!r})"
        )

    __str__ = __repr__


# --------------------------------------------------------------------------------------------
# Small helpers shared by the models


def display_proxy_url(url: str) -> str:
    """`url` with its userinfo (user and password) replaced by ``<redacted>``."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    authority_end = len(rest)
    for stop in "/?#":
        index = rest.find(stop)
        if index != -1:
            authority_end = min(authority_end, index)
    authority = rest[:authority_end]
    if "@" not in authority:
        return url
    host = authority.rpartition("@")[2]
    return f"{scheme}://{_REDACTED_USERINFO}@{host}{rest[authority_end:]}"


def _has_userinfo(url: str) -> bool:
    if "://" not in url:
        return False
    authority = re.split(r"[/?#]", url.partition("://")[2], maxsplit=1)[0]
    return "@" in authority


def _first_set(env: Mapping[str, str], *names: str) -> tuple[str, str] | None:
    """Go's getEnvAny: the first variable that is set to a non-empty value, with its name."""
    for name in names:
        value = env.get(name, "")
        if value:
            return name, value
    return None


def no_proxy_value(env: Mapping[str, str]) -> str:
    """NO_PROXY as client-go reads it: the upper-case variable, else the lower-case one ("" if neither)."""
    found = _first_set(env, "NO_PROXY", "no_proxy")
    return found[1] if found else ""


def _split_server(server_url: str) -> tuple[str, str, str]:
    """(scheme, host, port) of the server URL; host without brackets, port defaulted by scheme."""
    url = server_url.strip()
    if "://" not in url:
        # kubectl reads a bare host[:port] server as https (a kubeconfig with TLS settings).
        url = "https://" + url
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = _hostname(parts)
    port = _port_text(parts) or _DEFAULT_PORTS.get(scheme, "")
    return scheme, host, port


def _hostname(parts: SplitResult) -> str:
    """The host as Go's url.Hostname() gives it: brackets removed, case kept."""
    netloc = parts.netloc.rpartition("@")[2]
    if netloc.startswith("["):
        end = netloc.find("]")
        return netloc[1:end] if end != -1 else netloc[1:]
    return netloc.rpartition(":")[0] if ":" in netloc else netloc


def _port_text(parts: SplitResult) -> str:
    netloc = parts.netloc.rpartition("@")[2]
    if netloc.startswith("["):
        tail = netloc[netloc.find("]") + 1 :]
        return tail[1:] if tail.startswith(":") else ""
    return netloc.rpartition(":")[2] if ":" in netloc else ""


def _idna(host: str) -> str:
    if host.isascii():
        return host
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        return host


def _same_ip(
    a: ipaddress.IPv4Address | ipaddress.IPv6Address, b: ipaddress.IPv4Address | ipaddress.IPv6Address
) -> bool:
    """net.IP.Equal: an IPv4 address equals its IPv4-mapped IPv6 form."""

    def norm(
        ip: ipaddress.IPv4Address | ipaddress.IPv6Address,
    ) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            return ip.ipv4_mapped
        return ip

    return norm(a) == norm(b)


def _go_split_host_port(text: str) -> tuple[str, str] | None:
    """net.SplitHostPort, or None where Go returns an error (missing port, too many colons, ...)."""
    colon = text.rfind(":")
    if colon < 0:
        return None
    host_start, port_search = 0, 0
    if text.startswith("["):
        end = text.find("]")
        if end < 0 or end + 1 != colon:
            return None
        host = text[1:end]
        host_start, port_search = 1, end + 1
    else:
        host = text[:colon]
        if ":" in host:
            return None
    if "[" in text[host_start:] or "]" in text[port_search:]:
        return None
    return host, text[colon + 1 :]


# --------------------------------------------------------------------------------------------
# NO_PROXY, client-go style


@dataclass(frozen=True)
class NoProxyEntry:
    """One parsed NO_PROXY entry."""

    text: str  # the entry as written (trimmed), for evidence
    kind: Literal["all", "cidr", "ip", "domain"]
    network: ipaddress.IPv4Network | ipaddress.IPv6Network | None = None
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address | None = None
    domain: str = ""  # always with a leading dot
    match_host: bool = False  # "example.com" also matches "example.com" itself
    port: str = ""


def parse_no_proxy(value: str) -> list[NoProxyEntry]:
    """httpproxy's config.init: entries in order; `*` short-circuits to a single "all" entry."""
    entries: list[NoProxyEntry] = []
    for raw in value.split(","):
        written = raw.strip()
        entry = written.lower()
        if not entry:
            continue
        if entry == "*":
            return [NoProxyEntry(text=written, kind="all")]
        network = _go_parse_cidr(entry)
        if network is not None:
            entries.append(NoProxyEntry(text=written, kind="cidr", network=network))
            continue
        port = ""
        split = _go_split_host_port(entry)
        if split is not None:
            host, port = split
            if not host:
                continue
        else:
            host = entry
        ip = parse_ip(host)
        if ip is not None:
            entries.append(NoProxyEntry(text=written, kind="ip", ip=ip, port=port))
            continue
        if not host:
            continue
        if host.startswith("*."):
            host = host[1:]
        match_host = not host.startswith(".")
        if match_host:
            host = "." + host
        entries.append(
            NoProxyEntry(text=written, kind="domain", domain=_idna(host), match_host=match_host, port=port)
        )
    return entries


def _go_parse_cidr(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    """net.ParseCIDR: ADDRESS/BITS with a decimal prefix length (no netmask form, no zone)."""
    address, slash, bits = text.partition("/")
    if not slash or not bits.isdigit() or parse_ip(address) is None:
        return None
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        return None


def _no_proxy_match(entries: list[NoProxyEntry], host: str, port: str) -> NoProxyEntry | None:
    """The first entry that exempts host:port from proxying (httpproxy useProxy, after loopback)."""
    addr = host.strip().lower()
    ip = parse_ip(host)
    if ip is not None:
        for entry in entries:
            if entry.kind == "all":
                return entry
            if entry.kind == "cidr" and entry.network is not None and _in_network(ip, entry.network):
                return entry
            if (
                entry.kind == "ip"
                and entry.ip is not None
                and _same_ip(entry.ip, ip)
                and entry.port in ("", port)
            ):
                return entry
    # Domain entries are tried for IP literals too: Go compares the text ("3.4" matches 1.2.3.4).
    for entry in entries:
        if entry.kind == "all":
            return entry
        if (
            entry.kind == "domain"
            and entry.port in ("", port)
            and (addr.endswith(entry.domain) or (entry.match_host and addr == entry.domain[1:]))
        ):
            return entry
    return None


def _in_network(
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address, network: ipaddress.IPv4Network | ipaddress.IPv6Network
) -> bool:
    candidates: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = [ip]
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        candidates.append(ip.ipv4_mapped)
    return any(c.version == network.version and c in network for c in candidates)


# --------------------------------------------------------------------------------------------
# Proxy values


def _kind_for_scheme(scheme: str) -> ProxyKind:
    return "socks-proxy" if scheme.lower().startswith("socks") else "http-proxy"


def _go_url_parses(url: str) -> bool:
    """A light stand-in for Go's url.Parse on an authority-form proxy URL: bad ports and spaces fail."""
    if any(c.isspace() for c in url):
        return False
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    port = _port_text(parts)
    return port == "" or port.isdigit()


def _env_proxy_value(value: str) -> tuple[str | None, str | None]:
    """httpproxy parseProxy: (proxy URL, problem). A URL of another scheme becomes http://VALUE."""
    value = value.strip()
    scheme = value.partition("://")[0].lower() if "://" in value else ""
    if scheme in _ENV_PROXY_SCHEMES and _go_url_parses(value):
        return value, None
    candidate = "http://" + value
    if not _go_url_parses(candidate):
        # config.init drops a value it cannot parse: the variable is silently ignored.
        return None, "is not a URL Go can parse, so client-go ignores it"
    if scheme in _ENV_PROXY_SCHEMES:
        return candidate, (
            f"is not a valid URL (a bad port?); client-go falls back to reading it as "
            f"{display_proxy_url(candidate)} and the connection will fail"
        )
    if scheme:
        return candidate, (
            f"has scheme {scheme}://, which client-go does not support for proxies; it reads the value as "
            f"{display_proxy_url(candidate)} and the connection will fail"
        )
    return candidate, None


# --------------------------------------------------------------------------------------------
# The client-go decision


def decide_proxy(server_url: str, env: Mapping[str, str], cluster_proxy_url: str | None) -> ProxyDecision:
    """The proxy kubectl/client-go uses to reach `server_url`, with the rule that decided it."""
    if cluster_proxy_url:
        return _decide_cluster_proxy(server_url, cluster_proxy_url)

    scheme, host, port = _split_server(server_url)
    if scheme == "https":
        chosen = _first_set(env, "HTTPS_PROXY", "https_proxy")
        other = _first_set(env, "HTTP_PROXY", "http_proxy")
        wanted = "HTTPS_PROXY"
    elif scheme == "http":
        chosen = _first_set(env, "HTTP_PROXY", "http_proxy")
        other = _first_set(env, "HTTPS_PROXY", "https_proxy")
        wanted = "HTTP_PROXY"
    else:
        return ProxyDecision(None, "direct", "none", f"scheme {scheme or '(none)'}:// is never proxied")

    if chosen is None:
        reason = f"no proxy-url for this cluster and neither {wanted} nor {wanted.lower()} is set"
        if other is not None:
            reason += f" ({other[0]} is set, but client-go uses it only for {'http' if scheme == 'https' else 'https'}:// servers)"
        return ProxyDecision(None, "direct", "none", reason)

    name, value = chosen
    proxy_url, problem = _env_proxy_value(value)
    if proxy_url is None:
        return ProxyDecision(None, "direct", "none", f"{name} {problem}")

    if scheme == "http" and env.get("REQUEST_METHOD", ""):
        return ProxyDecision(
            None,
            "direct",
            name,
            f"{name} applies to this http:// server but REQUEST_METHOD is set (a CGI environment)",
            credentials_in_url=_has_userinfo(proxy_url),
            error="refusing to use HTTP_PROXY value in CGI environment; see golang.org/s/cgihttpproxy",
        )

    ascii_host = _idna(host)
    if ascii_host == "localhost":
        return ProxyDecision(None, "direct", "none", f"localhost is never proxied ({name} is ignored for it)")
    ip = parse_ip(ascii_host)
    if ip is not None and is_loopback_ip(ip):
        return ProxyDecision(
            None, "direct", "none", f"loopback is never proxied ({ascii_host}; {name} is ignored for it)"
        )

    no_proxy = _first_set(env, "NO_PROXY", "no_proxy")
    if no_proxy is not None:
        entry = _no_proxy_match(parse_no_proxy(no_proxy[1]), ascii_host, port)
        if entry is not None:
            if entry.kind == "all":
                why = f"{no_proxy[0]} is * (no proxy for any host)"
            else:
                why = f"{no_proxy[0]} entry {entry.text} matches {_host_port_text(ascii_host, port)}"
            return ProxyDecision(None, "direct", "none", f"{why}; {name} is not used")

    reason = f"{name} applies to {scheme}:// servers"
    reason += (
        f" and no {no_proxy[0]} entry matches {_host_port_text(ascii_host, port)}"
        if no_proxy is not None
        else " and NO_PROXY is not set"
    )
    return ProxyDecision(
        proxy_url,
        _kind_for_scheme(proxy_url.partition("://")[0]),
        name,
        reason,
        credentials_in_url=_has_userinfo(proxy_url),
        error=f"{name} {problem}" if problem else None,
    )


def _go_scheme(value: str) -> tuple[str, bool]:
    """(scheme, parses) the way Go's url.Parse reads the start of `value`.

    A leading run of letters, digits, ``+-.`` starting with a letter and ended by ``:`` is the scheme;
    without one, a colon in the first path segment is a parse error ("10.0.0.1:3128").
    """
    match = re.match(r"([A-Za-z][A-Za-z0-9+.-]*):", value)
    if match:
        return match.group(1).lower(), _go_url_parses(value)
    first_segment = value.split("/", 1)[0]
    return "", ":" not in first_segment and not any(c.isspace() for c in value)


def _decide_cluster_proxy(server_url: str, proxy_url: str) -> ProxyDecision:
    value = proxy_url.strip()
    credentials = _has_userinfo(value)
    scheme, parses = _go_scheme(value)
    problem = None
    if not parses:
        problem = f"could not parse: {display_proxy_url(value)}"
    elif scheme not in _CLUSTER_PROXY_SCHEMES:
        problem = f'unsupported scheme "{scheme}", must be http, https, or socks5'
    if problem is not None:
        return ProxyDecision(
            None,
            "direct",
            "cluster proxy-url",
            "the cluster's proxy-url is not usable, so kubectl refuses to connect",
            credentials_in_url=credentials,
            error=problem,
        )
    _, host, _ = _split_server(server_url)
    reason = "the cluster's proxy-url is used for every request to this cluster; NO_PROXY does not apply"
    if is_loopback(host):
        reason += " (loopback included)"
    return ProxyDecision(
        value, _kind_for_scheme(scheme), "cluster proxy-url", reason, credentials_in_url=credentials
    )


def _host_port_text(host: str, port: str) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"{shown}:{port}" if port else shown


# --------------------------------------------------------------------------------------------
# What other clients would do with the same environment


class HttpxRejected(ValueError):
    """httpx (trust_env=True) would refuse to build a client from this environment at all."""


def python_getproxies(env: Mapping[str, str]) -> dict[str, str]:
    """urllib.request.getproxies_environment on `env`: lower-case spellings win, empty ones unset."""
    proxies: dict[str, str] = {}
    for name, value in env.items():
        if len(name) > 5 and name[-6] == "_" and name[-5:].lower() == "proxy" and value:
            proxies[name.lower()[:-6]] = value
    if "REQUEST_METHOD" in env:
        proxies.pop("http", None)
    for name, value in env.items():
        if name[-6:] == "_proxy":
            key = name.lower()[:-6]
            if value:
                proxies[key] = value
            else:
                proxies.pop(key, None)
    return proxies


@dataclass(frozen=True)
class _HttpxPattern:
    """One proxy-mount pattern as httpx matches it."""

    pattern: str
    scheme: str  # "" for any
    host: str  # "" for any
    port: int | None
    proxy: str | None

    @property
    def priority(self) -> tuple[int, int, int]:
        return (0 if self.port is not None else 1, -len(self.host), -len(self.scheme))

    def matches(self, scheme: str, host: str, port: int | None) -> bool:
        if self.scheme and self.scheme != scheme:
            return False
        if self.host:
            if self.host.startswith("*."):
                regex = f"^.+\\.{re.escape(self.host[2:])}$"
            elif self.host.startswith("*"):
                regex = f"^(.+\\.)?{re.escape(self.host[1:])}$"
            else:
                regex = f"^{re.escape(self.host)}$"
            if not re.match(regex, host):
                return False
        return self.port is None or self.port == port


def _httpx_pattern(key: str, proxy: str | None) -> _HttpxPattern:
    scheme, _, rest = key.partition("://")
    authority = re.split(r"[/?#]", rest, maxsplit=1)[0]
    if authority.startswith("["):
        end = authority.find("]")
        host, tail = (authority[1:end], authority[end + 1 :]) if end != -1 else (authority, "")
        port_text = tail[1:] if tail.startswith(":") else ""
        if tail and not tail.startswith(":"):
            raise HttpxRejected(f"httpx rejects the proxy pattern {key!r}")
    else:
        host, _, port_text = authority.partition(":")
    if port_text and not port_text.isdigit():
        raise HttpxRejected(f"httpx rejects the NO_PROXY entry in pattern {key!r} (invalid port)")
    port = int(port_text) if port_text else None
    if port is not None and str(port) == _DEFAULT_PORTS.get(scheme.lower()):
        port = None
    host = host.lower()
    return _HttpxPattern(
        pattern=key,
        scheme="" if scheme.lower() == "all" else scheme.lower(),
        host="" if host == "*" else host,
        port=port,
        proxy=proxy,
    )


def _is_ip_text(text: str, version: int) -> bool:
    try:
        return ipaddress.ip_address(text.split("/")[0]).version == version
    except ValueError:
        return False


def httpx_would_choose(server_url: str, env: Mapping[str, str]) -> str | None:
    """The proxy httpx 0.27/0.28 with ``trust_env=True`` would use for `server_url`, or None (direct).

    httpx reads the variables through urllib (lower case wins; ALL_PROXY counts), turns each NO_PROXY
    entry into a URL pattern and matches patterns most specific first. Unlike client-go it has no
    loopback exception and no CIDR support: ``10.0.0.0/8`` matches only the host 10.0.0.0, and an
    IPv6 CIDR makes httpx refuse the environment (raised as `HttpxRejected`). A port written in a
    NO_PROXY entry never matches a URL that uses the scheme's default port.
    """
    proxies = python_getproxies(env)
    patterns: list[_HttpxPattern] = []
    for scheme in ("http", "https", "all"):
        value = proxies.get(scheme)
        if value:
            patterns.append(_httpx_pattern(f"{scheme}://", value if "://" in value else f"http://{value}"))
    for raw in proxies.get("no", "").split(","):
        entry = raw.strip()
        if entry == "*":
            return None
        if not entry:
            continue
        if "://" in entry:
            key = entry
        elif _is_ip_text(entry, 4):
            key = f"all://{entry}"
        elif _is_ip_text(entry, 6):
            if "/" in entry:
                raise HttpxRejected(f"httpx cannot use the NO_PROXY entry {entry} (an IPv6 CIDR): InvalidURL")
            key = f"all://[{entry}]"
        elif entry.lower() == "localhost":
            key = f"all://{entry}"
        else:
            key = f"all://*{entry}"
        patterns.append(_httpx_pattern(key, None))

    scheme, host, port_text = _split_server(server_url)
    port: int | None = int(port_text) if port_text.isdigit() else None
    if port is not None and port_text == _DEFAULT_PORTS.get(scheme):
        port = None
    for pattern in sorted(patterns, key=lambda p: p.priority):
        if pattern.matches(scheme, _idna(host).lower(), port):
            return pattern.proxy
    return None


def python_client_bypasses(server_url: str, no_proxy: str) -> bool:
    """The official Python client's NO_PROXY test (kubernetes/client/rest.py ``should_bypass_proxies``,
    v37): ``*``, CIDR entries for IP hosts, a host or ``host:port`` and their subdomains (a leading dot
    is ignored). Loopback is not special, unlike client-go."""
    parts = urlsplit(server_url if "://" in server_url else f"https://{server_url}")
    host = (parts.hostname or "").lower()
    if not host:
        return True
    host_and_port = parts.netloc.lower().rpartition("@")[2]
    try:
        host_ip: ipaddress.IPv4Address | ipaddress.IPv6Address | None = ipaddress.ip_address(host)
    except ValueError:
        host_ip = None
    for entry in (e.strip().lower() for e in no_proxy.split(",")):
        if not entry:
            continue
        if entry == "*":
            return True
        if host_ip is not None:
            try:
                if host_ip in ipaddress.ip_network(entry, strict=False):
                    return True
            except ValueError:
                pass
        entry = entry.lstrip(".")
        if (
            host in (entry,)
            or host.endswith("." + entry)
            or host_and_port == entry
            or host_and_port.endswith("." + entry)
        ):
            return True
    return False


def python_client_would_choose(
    server_url: str, env: Mapping[str, str], cluster_proxy_url: str | None
) -> str | None:
    """The proxy the official Python client (``kubernetes``, sync, via load_kube_config) would use.

    Modelled on kubernetes 37.x, and checked against the installed client by
    tests/test_python_client_agreement.py: ``Configuration`` reads the environment with
    urllib's ``getproxies()`` (lower-case spellings win) and picks the proxy for the server URL's
    scheme, else ``all`` (configuration.py ``_env_proxy``, re-resolved when ``host`` is set);
    the kubeconfig's ``proxy-url`` replaces it (kube_config.py ``_load_cluster_info``); and rest.py
    skips the proxy when NO_PROXY matches (``should_bypass_proxies``, see `python_client_bypasses`),
    for a proxy-url too. No loopback exception. Older releases differ: they ignored proxy-url in the
    sync client (kubernetes-client/python#2680) and HTTPS_PROXY/HTTP_PROXY for a kubeconfig
    (kubernetes-client/python#2681).
    """
    proxies = python_getproxies(env)
    if cluster_proxy_url:
        value: str | None = cluster_proxy_url.strip()
    else:
        scheme = urlsplit(server_url if "://" in server_url else f"https://{server_url}").scheme.lower()
        value = proxies.get(scheme) or proxies.get("all")
    if not value or python_client_bypasses(server_url, proxies.get("no", "")):
        return None
    return value if "://" in value else f"http://{value}"


def python_client_decision(
    server_url: str, env: Mapping[str, str], cluster_proxy_url: str | None
) -> ProxyDecision:
    """`python_client_would_choose` as a decision, for `--client python`: the route the network
    checks then take is the one the official Python client would take."""
    url = python_client_would_choose(server_url, env, cluster_proxy_url)
    if url is None:
        no_proxy = python_getproxies(env).get("no")
        return ProxyDecision(
            None,
            "direct",
            "none",
            f"the official Python client connects directly (NO_PROXY {no_proxy!r} matches, or no proxy is set)"
            if no_proxy
            else "the official Python client connects directly: no proxy-url and no proxy variable applies",
        )
    parts = urlsplit(url)
    kind: ProxyKind = "socks-proxy" if parts.scheme.lower().startswith("socks") else "http-proxy"
    if cluster_proxy_url:
        source, reason = "cluster proxy-url", "the official Python client applies the cluster's proxy-url"
    else:
        scheme = urlsplit(server_url if "://" in server_url else f"https://{server_url}").scheme.lower()
        names = (f"{scheme}_proxy", f"{scheme.upper()}_PROXY", "all_proxy", "ALL_PROXY")
        source = next((n for n in names if env.get(n) and python_getproxies({n: env[n]})), "ALL_PROXY")
        reason = (
            f"the official Python client applies {source} (urllib's getproxies: lower case first; no loopback "
            "exception, unlike client-go)"
        )
    return ProxyDecision(url, kind, source, reason, credentials_in_url=parts.username is not None)


# --------------------------------------------------------------------------------------------
# The probe


async def _compute_decision(ctx: Context) -> ProxyDecision:

    access = await ctx.probe(ACCESS)
    for value in proxy_url_secrets(access.proxy_url):
        ctx.secrets.add(value)
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        for value in proxy_url_secrets(ctx.env.get(name)):
            ctx.secrets.add(value)
    if ctx.options.client == "python":
        return python_client_decision(access.server, ctx.env, access.proxy_url)
    return decide_proxy(access.server, ctx.env, access.proxy_url)


"""The proxy decision for the target's server (the PROXY_DECISION key): client-go's, or with `--client python`
the official Python client's; also registers proxy credentials as secrets."""
