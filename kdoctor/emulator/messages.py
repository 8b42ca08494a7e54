"""The emulator's HTTP request and response, and what the apiserver's RequestInfoFactory derives from a path."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote


@dataclass(frozen=True)
class Request:
    """One HTTP request as the listener parsed it."""

    method: str
    target: str  # the request-target as sent: path?query
    headers: tuple[tuple[str, str], ...]
    body: bytes = b""
    client_cert_der: bytes | None = None

    @property
    def path(self) -> str:
        return self.target.split("?", 1)[0]

    @property
    def query(self) -> str:
        return self.target.split("?", 1)[1] if "?" in self.target else ""

    @property
    def params(self) -> dict[str, list[str]]:
        return parse_qs(self.query, keep_blank_values=True)

    def header(self, name: str) -> str | None:
        lname = name.lower()
        for key, value in self.headers:
            if key.lower() == lname:
                return value
        return None


@dataclass
class Response:
    status: int
    body: bytes
    content_type: str = "application/json"
    headers: list[tuple[str, str]] = field(default_factory=list)
    #: Who the request was authenticated as (for the request log); None: not authenticated.
    user: str | None = None


@dataclass(frozen=True)
class RequestInfo:
    """What the RBAC authorizer sees, derived from the path like the apiserver's RequestInfoFactory."""

    verb: str
    path: str
    resource_request: bool
    api_group: str = ""
    api_version: str = ""
    namespace: str = ""
    resource: str = ""
    subresource: str = ""
    name: str = ""
    parts: tuple[str, ...] = ()  # path segments after the resource name / subresource


_METHOD_VERBS = {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}


def request_info(method: str, path: str) -> RequestInfo:
    """Resource/non-resource, verb, group, namespace, resource, name and subresource of a request."""
    segments = [unquote(s) for s in path.strip("/").split("/")] if path.strip("/") else []
    nonresource = RequestInfo(
        verb="get" if method == "HEAD" else method.lower(), path=path, resource_request=False
    )
    if not segments or segments[0] not in ("api", "apis"):
        return nonresource
    if segments[0] == "api":
        if len(segments) < 3:
            return nonresource
        group, version, rest = "", segments[1], segments[2:]
    else:
        if len(segments) < 4:
            return nonresource
        group, version, rest = segments[1], segments[2], segments[3:]
    namespace = ""
    if rest[0] == "namespaces" and len(rest) >= 3:
        namespace, rest = rest[1], rest[2:]
    elif rest[0] == "namespaces" and len(rest) == 2:
        namespace = rest[1]
    resource = rest[0]
    name = rest[1] if len(rest) >= 2 else ""
    subresource = rest[2] if len(rest) >= 3 else ""
    tail = tuple(rest[3:])
    verb = (
        ("get" if name else "list")
        if method in ("GET", "HEAD")
        else _METHOD_VERBS.get(method, method.lower())
    )
    return RequestInfo(
        verb=verb,
        path=path,
        resource_request=True,
        api_group=group,
        api_version=version,
        namespace=namespace,
        resource=resource,
        subresource=subresource,
        name=name,
        parts=tail,
    )


def status_body(
    code: int, reason: str, message: str, details: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """A metav1.Status failure, fields in the apiserver's order."""
    body: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
    }
    if details is not None:
        body["details"] = dict(details)
    body["code"] = code
    return body
