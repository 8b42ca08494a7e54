"""API discovery fetched the way kubectl fetches it, through the target's one API session.

Aggregated discovery on /api and /apis first; when the server answers the legacy documents
instead, the per-group-version walk kubectl does. Then, for each group-version that failed or is
stale, its APIService (readable only where RBAC allows). Facts only: `kdoctor.discovery` judges.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kdoctor.discovery import (
    AGGREGATED_ACCEPT,
    MAX_GROUP_VERSIONS,
    APIServiceFacts,
    DiscoveryFacts,
    GroupVersionState,
    apiservice_facts,
    apiservice_name,
    is_aggregated,
    legacy_group_versions,
    legacy_state,
    parse_aggregated,
)
from kdoctor.keys import API_SESSION

if TYPE_CHECKING:
    from kdoctor.context import Context
    from kdoctor.probes.api import ApiResponse, ApiSession

__all__ = ["fetch_discovery", "gather_discovery"]


def _refused(response: ApiResponse) -> DiscoveryFacts | None:
    if not response.answered:
        return DiscoveryFacts(False, None, (), error=response.error or "no answer")
    if response.status in (401, 403) or response.status != 200:
        body = response.json
        message = body.get("message") if isinstance(body, dict) else None
        return DiscoveryFacts(
            False,
            None,
            (),
            error=f"GET {response.path} answered {response.status} {response.reason}"
            + (f": {message}" if message else ""),
            error_status=response.status,
        )
    return None


async def fetch_discovery(session: ApiSession) -> DiscoveryFacts:
    """Discovery as kubectl does it, with the credential kubectl would send."""
    api = await session.get("/api", authenticated=True, accept=AGGREGATED_ACCEPT)
    refused = _refused(api)
    if refused is not None:
        return refused
    apis = await session.get("/apis", authenticated=True, accept=AGGREGATED_ACCEPT)
    refused = _refused(apis)
    if refused is not None:
        return refused
    version = is_aggregated(api.header("content-type")) and is_aggregated(apis.header("content-type"))
    states: list[GroupVersionState] = []
    truncated = False
    if version:
        core, named = parse_aggregated(api.json), parse_aggregated(apis.json)
        if core is None or named is None:
            too_big = api.truncated or apis.truncated
            why = "is larger than kdoctor reads (1 MiB)" if too_big else "could not be read"
            return DiscoveryFacts(True, version, (), error=f"the aggregated discovery document {why}")
        states = core + named
    else:
        names = legacy_group_versions(api.json, apis.json)
        truncated = len(names) > MAX_GROUP_VERSIONS
        for gv in names[:MAX_GROUP_VERSIONS]:
            path = f"/api/{gv}" if "/" not in gv else f"/apis/{gv}"
            answer = await session.get(path, authenticated=True)
            if answer.not_sent:
                # The target's time ran out (a stall elsewhere): the rest is unknown, not failed.
                return DiscoveryFacts(False, None, (), error=f"GET {path} {answer.error}")
            status = answer.status if answer.answered else None
            states.append(legacy_state(gv, status, answer.json, answer.error))
    services: dict[str, APIServiceFacts] = {}
    for state in states:
        if state.state == "ok" or "/" not in state.group_version:
            continue
        name = apiservice_name(state.group_version)
        answer = await session.get(f"/apis/apiregistration.k8s.io/v1/apiservices/{name}", authenticated=True)
        if answer.not_sent:
            break
        services[name] = apiservice_facts(name, answer.status if answer.answered else None, answer.json)
    return DiscoveryFacts(bool(version), version or None, tuple(states), services, truncated=truncated)


async def gather_discovery(ctx: Context) -> DiscoveryFacts:
    """The DISCOVERY probe: discovery through the target's one API session."""

    return await fetch_discovery(await ctx.probe(API_SESSION))
