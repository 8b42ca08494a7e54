"""API discovery as kubectl fetches it, judged: which group-versions fail and why. Pure functions.

kubectl (client-go 1.30+) asks /api and /apis for aggregated discovery (one APIGroupDiscoveryList
each, apidiscovery.k8s.io/v2, else v2beta1); a group-version whose extension apiserver cannot be
reached is listed with `freshness: Stale`, which client-go reports as "stale GroupVersion
discovery: metrics.k8s.io/v1beta1" to programs that list every API (kubectl itself skips it
quietly: tests/test_discovery.py asks it). Against an older server (or one that ignores the Accept header)
it walks every group-version (/api/v1, /apis/GROUP/VERSION); a 503 from kube-aggregator becomes
"couldn't get resource list for metrics.k8s.io/v1beta1: the server is currently unable to handle
the request", printed by every kubectl command. In both cases kubectl still works for every other
group: the failure is one extension API (its APIService), not the cluster.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "AGGREGATED_ACCEPT",
    "APIServiceFacts",
    "DiscoveryFacts",
    "DiscoveryVerdict",
    "GroupVersionState",
    "apiservice_facts",
    "apiservice_name",
    "is_aggregated",
    "judge_discovery",
    "legacy_group_versions",
    "legacy_state",
    "parse_aggregated",
]

#: What client-go sends to /api and /apis (discovery_client.go, acceptDiscoveryFormats).
AGGREGATED_ACCEPT = (
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
    "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,"
    "application/json"
)
#: client-go's words for a 503 without a metav1.Status body (errors.NewGenericServerResponse).
UNAVAILABLE = "the server is currently unable to handle the request"
#: A bound on the legacy walk: real clusters with many CRDs have a few hundred group-versions.
MAX_GROUP_VERSIONS = 400

State = Literal["ok", "stale", "failed"]


@dataclass(frozen=True)
class GroupVersionState:
    group_version: str  # "v1" for the core group, else "GROUP/VERSION"
    state: State
    resources: int = 0
    error: str | None = None  # client-go's words for a stale or failed group-version

    @property
    def group(self) -> str:
        return self.group_version.split("/", 1)[0] if "/" in self.group_version else ""

    @property
    def version(self) -> str:
        return self.group_version.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class APIServiceFacts:
    """What the APIService behind a group-version says about itself (when RBAC lets us read it)."""

    name: str
    readable: bool
    status: int | None = None  # the HTTP status of the GET when not readable
    service: str | None = None  # "namespace/name", None for a local (built-in) APIService
    available: str | None = None  # the Available condition's status: "True", "False", "Unknown"
    reason: str | None = None
    message: str | None = None


@dataclass(frozen=True)
class DiscoveryFacts:
    aggregated: bool
    aggregated_version: str | None  # "v2", "v2beta1"
    group_versions: tuple[GroupVersionState, ...]
    apiservices: Mapping[str, APIServiceFacts] = field(default_factory=dict)
    #: Set when discovery itself could not be fetched (no answer, 401/403 on /api or /apis).
    error: str | None = None
    error_status: int | None = None
    truncated: bool = False


def is_aggregated(content_type: str | None) -> str | None:
    """ "v2"/"v2beta1" when a response's Content-Type is an APIGroupDiscoveryList, else None."""
    params: dict[str, str] = {}
    for item in (content_type or "").split(";")[1:]:
        key, _, value = item.strip().partition("=")
        params[key.lower()] = value.strip()
    if params.get("g") == "apidiscovery.k8s.io" and params.get("as") == "APIGroupDiscoveryList":
        return params.get("v") or None
    return None


def parse_aggregated(document: Any) -> list[GroupVersionState] | None:
    """Every group-version of an APIGroupDiscoveryList with its freshness (None: not such a list)."""
    if not isinstance(document, dict) or not isinstance(document.get("items"), list):
        return None
    out: list[GroupVersionState] = []
    for item in document["items"]:
        if not isinstance(item, dict):
            continue
        metadata = item.get("metadata")
        group = metadata.get("name", "") if isinstance(metadata, dict) else ""
        versions = item.get("versions")
        for entry in versions if isinstance(versions, list) else []:
            if not isinstance(entry, dict) or not isinstance(entry.get("version"), str):
                continue
            gv = f"{group}/{entry['version']}" if group else entry["version"]
            resources = entry.get("resources")
            count = len(resources) if isinstance(resources, list) else 0
            if entry.get("freshness") == "Stale":
                out.append(GroupVersionState(gv, "stale", count, f"stale GroupVersion discovery: {gv}"))
            else:
                out.append(GroupVersionState(gv, "ok", count))
    return out


def legacy_group_versions(api: Any, apis: Any) -> list[str]:
    """The group-versions kubectl walks: /api's versions, then every version of every /apis group."""
    out: list[str] = []
    if isinstance(api, dict) and isinstance(api.get("versions"), list):
        out += [v for v in api["versions"] if isinstance(v, str)]
    groups = apis.get("groups") if isinstance(apis, dict) else None
    for group in groups if isinstance(groups, list) else []:
        versions = group.get("versions") if isinstance(group, dict) else None
        for v in versions if isinstance(versions, list) else []:
            if isinstance(v, dict) and isinstance(v.get("groupVersion"), str):
                out.append(v["groupVersion"])
    return list(dict.fromkeys(out))


def legacy_state(
    group_version: str, status: int | None, body: Any, error: str | None = None
) -> GroupVersionState:
    """One /api/VERSION or /apis/GROUP/VERSION answer as client-go would read it."""
    if status is None:
        return GroupVersionState(group_version, "failed", error=error or "no answer")
    if status == 200 and isinstance(body, dict) and isinstance(body.get("resources"), list):
        return GroupVersionState(group_version, "ok", len(body["resources"]))
    if status == 200:
        return GroupVersionState(
            group_version, "failed", error=f"received empty response for: {group_version}"
        )
    message = body.get("message") if isinstance(body, dict) and body.get("kind") == "Status" else None
    if status == 503 and not message:
        message = UNAVAILABLE
    if status == 404 and not message:
        message = "the server could not find the requested resource"
    return GroupVersionState(group_version, "failed", error=message or f"HTTP {status}")


def apiservice_name(group_version: str) -> str:
    """The APIService that serves a group-version: "v1beta1.metrics.k8s.io" (core "v1": "v1.")."""
    group, _, version = group_version.rpartition("/")
    return f"{version}.{group}"


def apiservice_facts(name: str, status: int | None, body: Any) -> APIServiceFacts:
    """An APIService GET's answer, reduced to its Service and Available condition."""
    if status != 200 or not isinstance(body, dict):
        return APIServiceFacts(name, readable=False, status=status)
    spec = body.get("spec") if isinstance(body.get("spec"), dict) else {}
    service = spec.get("service") if isinstance(spec, dict) else None
    where = (
        f"{service.get('namespace', '?')}/{service.get('name', '?')}" if isinstance(service, dict) else None
    )
    status_obj = body.get("status")
    conditions = status_obj.get("conditions") if isinstance(status_obj, dict) else None
    available = next(
        (c for c in conditions or [] if isinstance(c, dict) and c.get("type") == "Available"), None
    )
    return APIServiceFacts(
        name,
        readable=True,
        status=status,
        service=where,
        available=str(available.get("status")) if available else None,
        reason=str(available.get("reason")) if available and available.get("reason") else None,
        message=str(available.get("message")) if available and available.get("message") else None,
    )


@dataclass(frozen=True)
class DiscoveryVerdict:
    status: Literal["pass", "warn", "fail", "skip"]
    summary: str
    hint: str = ""
    details: dict[str, Any] = field(default_factory=dict)


def _kubectl_words(facts: DiscoveryFacts, gv: GroupVersionState) -> str:
    if facts.aggregated:
        return f"unable to retrieve the complete list of server APIs: {gv.group_version}: {gv.error}"
    return f"couldn't get resource list for {gv.group_version}: {gv.error}"


def _apiservice_words(api: APIServiceFacts | None) -> str:
    if api is None:
        return ""
    if not api.readable:
        return f"; APIService {api.name} not readable here ({api.status or 'no answer'}: RBAC)"
    parts = [f"APIService {api.name}"]
    if api.service:
        parts.append(f"→ Service {api.service}")
    if api.available:
        condition = f"Available={api.available}"
        if api.reason:
            condition += f" ({api.reason})"
        parts.append(condition)
    words = " ".join(parts)
    if api.message and api.available != "True":
        words += f": {api.message}"
    return "; " + words


def judge_discovery(facts: DiscoveryFacts) -> DiscoveryVerdict:
    """The verdict: pass with the count, warn naming every failing group-version, or why it could not run."""
    gvs = facts.group_versions
    broken = [g for g in gvs if g.state != "ok"]
    mode = (
        f"aggregated discovery (apidiscovery.k8s.io/{facts.aggregated_version})"
        if facts.aggregated
        else "legacy discovery (no aggregated discovery: a server before 1.27, or it is off)"
    )
    details: dict[str, Any] = {
        "aggregated": facts.aggregated,
        "aggregated_version": facts.aggregated_version,
        "group_versions": len(gvs),
        "resources": sum(g.resources for g in gvs),
        "failing": [
            {
                "group_version": g.group_version,
                "state": g.state,
                "error": g.error,
                "apiservice": _apiservice_dict(facts.apiservices.get(apiservice_name(g.group_version))),
            }
            for g in broken
        ],
        "truncated": facts.truncated,
    }
    if facts.error is not None:
        details["error"] = facts.error
        details["error_status"] = facts.error_status
        if facts.error_status in (401, 403):
            return DiscoveryVerdict(
                "skip",
                f"discovery was refused ({facts.error}): auth.identity says why",
                details=details,
            )
        return DiscoveryVerdict("skip", f"discovery could not be fetched: {facts.error}", details=details)
    if not broken:
        return DiscoveryVerdict(
            "pass",
            f"{len(gvs)} group-versions, {details['resources']} resources, via {mode}",
            details=details,
        )
    named = "; ".join(
        _kubectl_words(facts, g) + _apiservice_words(facts.apiservices.get(apiservice_name(g.group_version)))
        for g in broken
    )
    ok = len(gvs) - len(broken)
    top = " (`kubectl top` needs metrics.k8s.io)" if any(g.group == "metrics.k8s.io" for g in broken) else ""
    if facts.aggregated:
        # kubectl skips stale group-versions of aggregated discovery quietly; programs that list every
        # API (ServerGroupsAndResources: controllers, Argo CD, Helm) stop with the error.
        effect = (
            f"kubectl works for the other {ok} and skips these quietly, but requests to them fail{top} and "
            "client-go programs that list every API stop with this error"
        )
    else:
        effect = f"every kubectl command prints this error; kubectl works for the other {ok}, requests to these fail{top}"
    summary = f"{len(broken)} of {len(gvs)} group-versions fail discovery ({named}); {effect}; via {mode}"
    first = broken[0]
    name = apiservice_name(first.group_version)
    api = facts.apiservices.get(name)
    service = api.service if api is not None and api.service else None
    steps = [f"`kubectl get apiservice {name}` and `kubectl describe apiservice {name}` show why"]
    if service:
        namespace, _, svc = service.partition("/")
        steps.append(
            f"check the backend: `kubectl -n {namespace} get endpoints {svc}` and "
            f"`kubectl -n {namespace} get pods` (is it running and ready?), then its logs"
        )
    steps.append(
        f"if the extension is no longer wanted, remove its APIService (`kubectl delete apiservice {name}`) "
        "so discovery stops failing"
    )
    hint = "This is one extension API, not the cluster: " + "; ".join(steps) + "."
    return DiscoveryVerdict("warn", summary, hint, details)


def _apiservice_dict(api: APIServiceFacts | None) -> dict[str, Any] | None:
    if api is None:
        return None
    return {
        "name": api.name,
        "readable": api.readable,
        "status": api.status,
        "service": api.service,
        "available": api.available,
        "reason": api.reason,
        "message": api.message,
    }
