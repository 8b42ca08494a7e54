"""Discovery as kube-apiserver 1.30+ serves it: aggregated documents, extension APIs, APIServices.

- Aggregated discovery (KEP-3352): GET /api or /apis with
  `Accept: application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList` answers one
  APIGroupDiscoveryList holding every group-version and its resources; a group-version whose
  extension apiserver cannot be reached is listed with `freshness: Stale`.
- The legacy walk: /apis/GROUP/VERSION of an unavailable extension API answers 503 with the
  aggregator's plain-text "service unavailable" (client-go words it "the server is currently
  unable to handle the request").
- APIService objects (apiregistration.k8s.io/v1) with the Available condition.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kdoctor.emulator.scenarios import AggregatedApi, EmulatorConfig

__all__ = [
    "aggregated_document",
    "aggregated_version_requested",
    "apiservice",
    "apiservice_list",
    "extension_discovery",
]

_CREATED = "2026-01-01T00:00:00Z"
_VERBS_READ = ("get", "list")


def aggregated_version_requested(accept: str | None) -> str | None:
    """ "v2" or "v2beta1" when the Accept header asks for an APIGroupDiscoveryList, in its order."""
    for part in (accept or "").split(","):
        params = {}
        for item in part.split(";")[1:]:
            key, _, value = item.strip().partition("=")
            params[key] = value
        if (
            params.get("g") == "apidiscovery.k8s.io"
            and params.get("as") == "APIGroupDiscoveryList"
            and params.get("v") in ("v2", "v2beta1")
        ):
            return params["v"]
    return None


def _split(resource: str) -> tuple[str, str | None]:
    parent, _, sub = resource.partition("/")
    return parent, sub or None


def _version_entry(
    group: str,
    version: str,
    resources: Iterable[tuple[str, str, bool, Sequence[str]]],
    *,
    stale: bool = False,
) -> dict[str, Any]:
    entries: dict[str, dict[str, Any]] = {}
    subresources: list[tuple[str, str, str, Sequence[str]]] = []
    for name, kind, namespaced, verbs in resources:
        parent, sub = _split(name)
        if sub is not None:
            subresources.append((parent, sub, kind, verbs))
            continue
        entries[name] = {
            "resource": name,
            "responseKind": {"group": group, "version": version, "kind": kind},
            "scope": "Namespaced" if namespaced else "Cluster",
            "singularResource": kind.lower(),
            "verbs": list(verbs),
        }
    for parent, sub, kind, verbs in subresources:
        if parent in entries:
            entries[parent].setdefault("subresources", []).append(
                {
                    "subresource": sub,
                    "responseKind": {"group": "", "version": "", "kind": kind},
                    "verbs": list(verbs),
                }
            )
    entry: dict[str, Any] = {"version": version, "resources": list(entries.values())}
    entry["freshness"] = "Stale" if stale else "Current"
    return entry


def aggregated_document(
    config: EmulatorConfig,
    path: str,
    version: str,
    groups: Sequence[tuple[str, Sequence[str]]],
    resources: Sequence[tuple[str, str, str, str, bool, Sequence[str]]],
) -> bytes:
    """The APIGroupDiscoveryList of /api (the core group) or /apis (every named group)."""
    by_gv: dict[tuple[str, str], list[tuple[str, str, bool, Sequence[str]]]] = {}
    for group, ver, name, kind, namespaced, verbs in resources:
        by_gv.setdefault((group, ver), []).append((name, kind, namespaced, verbs))
    items: list[dict[str, Any]] = []
    if path == "/api":
        items.append(
            {
                "metadata": {"creationTimestamp": None},
                "versions": [_version_entry("", "v1", by_gv.get(("", "v1"), []))],
            }
        )
    else:
        for group, versions in groups:
            items.append(
                {
                    "metadata": {"name": group, "creationTimestamp": None},
                    "versions": [_version_entry(group, v, by_gv.get((group, v), [])) for v in versions],
                }
            )
        for api in config.aggregated_apis:
            listed = [(n, k, ns, _VERBS_READ) for n, k, ns in api.resources] if api.available else []
            items.append(
                {
                    "metadata": {"name": api.group, "creationTimestamp": None},
                    "versions": [_version_entry(api.group, api.version, listed, stale=not api.available)],
                }
            )
    return json.dumps(
        {
            "kind": "APIGroupDiscoveryList",
            "apiVersion": f"apidiscovery.k8s.io/{version}",
            "metadata": {},
            "items": items,
        },
        separators=(",", ":"),
    ).encode()


def extension_discovery(config: EmulatorConfig, path: str) -> tuple[int, bytes, str] | None:
    """The legacy answer for /apis/GROUP[/VERSION] of an extension API (None: not one of them)."""
    for api in config.aggregated_apis:
        if path == f"/apis/{api.group}":
            gv = {"groupVersion": api.group_version, "version": api.version}
            body = {
                "kind": "APIGroup",
                "apiVersion": "v1",
                "name": api.group,
                "versions": [gv],
                "preferredVersion": gv,
            }
            return 200, json.dumps(body).encode(), "application/json"
        if path == f"/apis/{api.group_version}" or path.startswith(f"/apis/{api.group_version}/"):
            if not api.available:
                # kube-aggregator's proxy: a plain-text 503, not a metav1.Status.
                return 503, b"service unavailable\n", "text/plain; charset=utf-8"
            if path != f"/apis/{api.group_version}":
                return None
            body = {
                "kind": "APIResourceList",
                "apiVersion": "v1",
                "groupVersion": api.group_version,
                "resources": [
                    {"name": n, "singularName": "", "namespaced": ns, "kind": k, "verbs": list(_VERBS_READ)}
                    for n, k, ns in api.resources
                ],
            }
            return 200, json.dumps(body).encode(), "application/json"
    return None


def apiservice(api: AggregatedApi) -> dict[str, Any]:
    """The APIService object of an extension API, with its Available condition."""
    condition = {
        "type": "Available",
        "status": "True" if api.available else "False",
        "lastTransitionTime": _CREATED,
        "reason": "Passed" if api.available else api.reason,
        "message": "all checks passed" if api.available else api.message,
    }
    return {
        "kind": "APIService",
        "apiVersion": "apiregistration.k8s.io/v1",
        "metadata": {
            "name": api.apiservice_name,
            "creationTimestamp": _CREATED,
            "labels": {"k8s-app": api.service_name},
        },
        "spec": {
            "service": {"namespace": api.service_namespace, "name": api.service_name, "port": 443},
            "group": api.group,
            "version": api.version,
            "insecureSkipTLSVerify": True,
            "groupPriorityMinimum": 100,
            "versionPriority": 100,
        },
        "status": {"conditions": [condition]},
    }


def apiservice_list(config: EmulatorConfig) -> list[dict[str, Any]]:
    items = []
    for api in config.aggregated_apis:
        item = apiservice(api)
        item.pop("kind")
        item.pop("apiVersion")
        items.append(item)
    return items
