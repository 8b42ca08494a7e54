"""Helpers shared by the kubeconfig family's modules."""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlsplit

from kdoctor.api import (
    ClusterEntry,
    is_loopback,
)


def join_names(names: Sequence[str], limit: int = 12) -> str:
    if not names:
        return "(none)"
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


KUBECTL_PROXY_NOTE = (
    "; note: no credential: normal for kubectl proxy, which adds its own; auth.identity says whom the "
    "server takes you for"
)


def plain_http_loopback(cluster: ClusterEntry | None) -> bool:
    """The server is plain HTTP on loopback: where `kubectl proxy` listens and adds the credential itself.

    Without the network this check cannot know what such a server does; auth.identity asks it (and
    fails with the 401 as evidence when it wants credentials).
    """
    if cluster is None or not cluster.server:
        return False
    parts = urlsplit(cluster.server)
    return parts.scheme == "http" and is_loopback(parts.hostname or "")
