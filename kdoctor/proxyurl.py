"""Apiserver proxy URLs for services, built the way the Kubernetes "Accessing Clusters" page builds them.

    https://SERVER/api/v1/namespaces/NAMESPACE/services/[https:]NAME[:PORT]/proxy/

The name segment is what the apiserver splits on ``:`` (apimachinery ``SplitSchemeNamePort``):
one part is NAME, two parts are NAME:PORT, three parts are SCHEME:NAME:PORT with SCHEME ``http`` or
``https`` — which is why https to the default port is written ``https:NAME:`` with a trailing colon.
PORT is a port name or number. `kdoctor proxy-url` prints such a URL; `proxy.services` requests them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from kdoctor.context import Environment

__all__ = [
    "ServiceRef",
    "apiserver_proxy_path",
    "apiserver_proxy_url",
    "parse_service_spec",
    "proxy_url_command",
    "split_proxy_path",
]

_DNS1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_LABEL_MAX = 63
_SCHEMES = ("http", "https")
#: /api/v1/namespaces/NS/services/SEGMENT/proxy[/...] anywhere in a URL path (servers may carry a prefix).
_PROXY_PATH = re.compile(r"/api/v1/namespaces/(?P<ns>[^/]+)/services/(?P<segment>[^/]+)/proxy(?:/|$)")


@dataclass(frozen=True)
class ServiceRef:
    """A service as the apiserver proxy names it: optional scheme, name, optional port (name or number)."""

    name: str
    scheme: str | None = None  # None or "http": the apiserver's default, plain http
    port: str | None = None

    @property
    def segment(self) -> str:
        """The ``[https:]NAME[:PORT]`` path segment."""
        if self.scheme == "https":
            return f"https:{self.name}:{self.port or ''}"
        return f"{self.name}:{self.port}" if self.port else self.name


def _check_name(name: str) -> None:
    if not name:
        raise ValueError("the service name is empty")
    if len(name) > _LABEL_MAX or not _DNS1035_LABEL.match(name):
        raise ValueError(
            f"{name!r} is not a valid service name: a DNS-1035 label (lower-case letters, digits and '-', "
            f"starting with a letter, ending with a letter or digit, at most {_LABEL_MAX} characters)"
        )


def _check_namespace(namespace: str) -> None:
    if len(namespace) > _LABEL_MAX or not _DNS1123_LABEL.match(namespace):
        raise ValueError(
            f"{namespace!r} is not a valid namespace: a DNS-1123 label (lower-case letters, digits and '-', "
            f"starting and ending with a letter or digit, at most {_LABEL_MAX} characters)"
        )


def _check_port(port: str) -> None:
    if port.isdigit():
        if not 1 <= int(port) <= 65535:
            raise ValueError(f"port {port} is out of range (1-65535)")
        return
    if len(port) > _LABEL_MAX or not _DNS1123_LABEL.match(port) or not re.search(r"[a-z]", port):
        raise ValueError(
            f"{port!r} is neither a port number nor a port name (lower-case letters, digits and '-', "
            "starting and ending with a letter or digit)"
        )


def parse_service_spec(spec: str) -> ServiceRef:
    """Parse ``[https:]NAME[:PORT]`` as the apiserver reads the proxy path segment, validating each part.

    ``https:web`` is rejected as ambiguous: the apiserver reads it as service "https", port "web";
    write ``https:web:`` for service web over https on its default port.
    """
    text = spec.strip()
    parts = text.split(":")
    if len(parts) == 1:
        scheme, name, port = None, parts[0], ""
    elif len(parts) == 2:
        if parts[0] in _SCHEMES:
            raise ValueError(
                f"{text!r} is ambiguous: the apiserver reads it as service {parts[0]!r}, port {parts[1]!r}; "
                f"write '{parts[0]}:{parts[1]}:' for service {parts[1]!r} over {parts[0]} on its default port"
            )
        scheme, name, port = None, parts[0], parts[1]
    elif len(parts) == 3:
        if parts[0] not in _SCHEMES:
            raise ValueError(f"{text!r}: the scheme before the service name must be http or https")
        scheme, name, port = parts[0], parts[1], parts[2]
    else:
        raise ValueError(f"{text!r} has too many ':' (expected [https:]NAME[:PORT])")
    _check_name(name)
    if port:
        _check_port(port)
    return ServiceRef(name=name, scheme=None if scheme == "http" else scheme, port=port or None)


def apiserver_proxy_path(
    name: str, namespace: str, scheme: str | None = None, port: str | None = None
) -> str:
    """``/api/v1/namespaces/NS/services/[https:]NAME[:PORT]/proxy/`` after validating every part."""
    _check_namespace(namespace)
    _check_name(name)
    if scheme not in (None, "", *_SCHEMES):
        raise ValueError(f"scheme {scheme!r} is not supported by the apiserver proxy (http or https)")
    if port:
        _check_port(port)
    ref = ServiceRef(name=name, scheme="https" if scheme == "https" else None, port=port or None)
    return f"/api/v1/namespaces/{namespace}/services/{ref.segment}/proxy/"


def apiserver_proxy_url(
    server: str, name: str, namespace: str, scheme: str | None = None, port: str | None = None
) -> str:
    """The full proxy URL of a service: the server URL (with any path prefix kept) + the proxy path."""
    base = server.strip()
    parts = urlsplit(base)
    if parts.scheme not in _SCHEMES or not parts.netloc:
        raise ValueError(f"server {base!r} is not an http:// or https:// URL")
    if parts.query or parts.fragment:
        raise ValueError(f"server {base!r} must not carry a query or fragment")
    return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}" + apiserver_proxy_path(
        name, namespace, scheme, port
    )


def split_proxy_path(path: str) -> tuple[str, ServiceRef] | None:
    """(namespace, service) when a URL path goes through the apiserver's service proxy, else None."""
    match = _PROXY_PATH.search(path)
    if match is None:
        return None
    segment = match.group("segment")
    parts = segment.split(":")
    if len(parts) == 1:
        ref = ServiceRef(name=parts[0])
    elif len(parts) == 2:
        ref = ServiceRef(name=parts[0], port=parts[1] or None)
    elif len(parts) == 3 and parts[0] in ("", *_SCHEMES):
        ref = ServiceRef(
            name=parts[1], scheme=parts[0] if parts[0] == "https" else None, port=parts[2] or None
        )
    else:
        return None
    return match.group("ns"), ref


def proxy_url_command(
    spec: str,
    namespace: str,
    server: str | None,
    *,
    kubeconfig: str | None = None,
    context: str | None = None,
    environment: Environment | None = None,
) -> str:
    """What `kdoctor proxy-url SPEC -n NS` prints; the server comes from the kubeconfig when not given.

    Raises ValueError with a one-line reason for a bad spec, namespace or server, or when the
    kubeconfig names no usable server.
    """
    ref = parse_service_spec(spec)
    if not server:
        server = _server_from_kubeconfig(kubeconfig, context, environment)
    return apiserver_proxy_url(server, ref.name, namespace, ref.scheme, ref.port)


def _server_from_kubeconfig(
    kubeconfig: str | None, context: str | None, environment: Environment | None
) -> str:
    # lazy: only the `proxy-url` command reads a kubeconfig; the checks use the pure helpers above
    from kdoctor.context import Environment, Options
    from kdoctor.kubeconfig import effective_server, load_kubeconfig, select

    env = environment if environment is not None else Environment.from_os()
    loaded = load_kubeconfig(Options(kubeconfig=kubeconfig, context=context), env)
    selection = select(loaded, context)
    if selection.context is None:
        wanted = selection.context_name or "(no current-context)"
        raise ValueError(f"context {wanted} not found in the kubeconfig; pass --server or --context")
    if selection.cluster is None:
        raise ValueError(f"context {selection.context_name} names no existing cluster; pass --server")
    server = effective_server(selection.cluster, selection.user)
    if not server:
        raise ValueError(f"cluster {selection.cluster_name} has no server; pass --server")
    return server
