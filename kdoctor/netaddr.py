"""Addresses as client-go reads them: IP literals and loopback, defined once for every module.

Go's rules, which kubectl follows and kdoctor therefore follows everywhere (the server URL check, the
session that decides whether a credential may go over plain HTTP, the proxy decision, the path):

- `net.ParseIP`: dotted IPv4 or IPv6 text; no brackets, no zone ("fe80::1%eth0" is not an IP).
- `net.IP.IsLoopback`: 127.0.0.0/8 and ::1, looking through IPv4-mapped IPv6 (::ffff:127.0.0.1).
- loopback host (golang.org/x/net/http/httpproxy, `useProxy`): the name `localhost` (compared after
  IDNA lower-casing) or a loopback IP literal. Nothing else: not `foo.localhost`, not `localhost.`
  (a trailing dot makes another name to Go), whatever a resolver would answer for them.
"""

from __future__ import annotations

import ipaddress

IP = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_ip(text: str) -> IP | None:
    """net.ParseIP: the address, or None when `text` is not an IP literal (brackets and zones included)."""
    if not text or "%" in text:
        return None
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def is_loopback_ip(ip: IP) -> bool:
    """net.IP.IsLoopback, which looks through IPv4-mapped IPv6 addresses."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped.is_loopback
    return ip.is_loopback


def is_loopback(host: str) -> bool:
    """A URL's host (brackets already stripped) that Go treats as loopback: `localhost` or a loopback IP."""
    if host.lower() == "localhost":
        return True
    ip = parse_ip(host)
    return ip is not None and is_loopback_ip(ip)


def normal_ip(text: str) -> str:
    """An address in one spelling, to compare addresses from different sources ("[::1]", "::0:1" → "::1").

    Spelled as Go's net.IP.String does, so that two texts are equal exactly when net.IP.Equal holds:
    an IPv4-mapped IPv6 address is the IPv4 address ("::ffff:10.0.0.1" → "10.0.0.1"). Text that is
    not an IP literal comes back stripped and lower-cased (a host name).
    """
    ip = parse_ip(text.strip().strip("[]"))
    if ip is None:
        return text.strip().lower()
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ip)
