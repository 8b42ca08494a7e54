"""The selected context: chosen, and naming a cluster and a user that exist."""

from __future__ import annotations

from collections.abc import Iterable

from kdoctor.api import (
    KUBECONFIG,
    SELECTION,
    Check,
    Context,
    LoadedKubeconfig,
    Mode,
    Result,
    Selection,
)
from kdoctor_checks.kubeconfig.common import KUBECTL_PROXY_NOTE, join_names, plain_http_loopback


def _use_context_hint(selection: Selection) -> str:
    names = list(selection.available_contexts)
    if not names:
        return (
            "The kubeconfig defines no contexts at all: fetch one from your cluster's provider "
            "(e.g. `gcloud container clusters get-credentials`, `aws eks update-kubeconfig`, "
            "`az aks get-credentials`) or your cluster admin."
        )
    if selection.context_source == "--context":
        # The user named a context for this run: the fix is another name, not a new current-context.
        return f"Available contexts: {join_names(names)}. Pick one: `--context {names[0]}`."
    return f"Available contexts: {join_names(names)}. Pick one: `kubectl config use-context {names[0]}`."


def _one_or_placeholder(names: Iterable[str], placeholder: str) -> str:
    """The only defined name, when there is just one; else the placeholder (the hint lists them)."""
    defined = sorted(names)
    return defined[0] if len(defined) == 1 else placeholder


class ContextSelected(Check):
    """The context in use exists and names a cluster and a user that exist.

    The context is `--context NAME`, else the merged `current-context` (from the first file that sets
    it). Details say which file defined the context, the cluster and the user.

    - fail: no context chosen (an empty kubeconfig, or no `current-context`), the context does not exist
      ("context was not found for specified context"), or it names a cluster or user no file defines.
      kubectl turns a missing cluster into "localhost:8080 refused"; kdoctor names the real cause.
    - warn: the context names no user, so requests are anonymous (a pass with a note when the server
      is plain HTTP on loopback, as `kubectl proxy` is: it adds its own credential).
    Fix: `kubectl config get-contexts`, then `kubectl config use-context NAME`.
    """

    id = "kubeconfig.context"
    title = "The selected context exists and names a defined cluster and user"
    depends_on = ("kubeconfig.found",)
    modes = (Mode.KUBECONFIG,)

    async def run(self, ctx: Context) -> Result:
        loaded = await ctx.probe(KUBECONFIG)
        selection = await ctx.probe(SELECTION)
        details = ctx.details
        details.update(
            {
                **selection.provenance(),
                "context_source": selection.context_source,
                "current_context_file": loaded.current_context_origin,
            }
        )
        # With --all-contexts every context is a target of the same report, whose target list
        # names them all: listing them again in each target made the report quadratic in the
        # number of contexts (40,000 names, 1 MB of 6.7 MB with 200). The list stays where it is
        # the evidence: when the context is not found, and in a run for one context.
        if not ctx.options.all_contexts or selection.context is None:
            details["available_contexts"] = list(selection.available_contexts)
        broken = _broken_note(loaded)
        if selection.context_name is None:
            return Result.fail(
                _no_context_reason(loaded) + broken,
                hint="kubectl falls back to localhost:8080 ('connection refused'). "
                + _use_context_hint(selection),
            )
        name = selection.context_name
        chosen_by = (
            "--context"
            if selection.context_source == "--context"
            else f"current-context in {loaded.current_context_origin}"
        )
        if selection.context is None:
            return Result.fail(
                f"context {name!r} (from {chosen_by}) is not defined in any kubeconfig file" + broken,
                hint=_use_context_hint(selection),
            )
        context = selection.context
        where = f"context {name!r} ({context.origin})"
        if not context.cluster:
            return Result.fail(
                f"{where} names no cluster; kubectl falls back to localhost:8080 ('connection refused')",
                hint=f"Set the cluster: `kubectl config set-context {name} "
                f"--cluster={_one_or_placeholder(loaded.clusters, 'CLUSTER')}` "
                f"(clusters defined: {join_names(sorted(loaded.clusters))}).",
            )
        if selection.cluster is None:
            return Result.fail(
                f"{where} names cluster {context.cluster!r}, which no kubeconfig file defines"
                + "; kubectl falls back to localhost:8080 ('connection refused')"
                + broken,
                hint=f"Add the cluster or point the context at a defined one: `kubectl config set-context {name} "
                f"--cluster={_one_or_placeholder(loaded.clusters, 'CLUSTER')}` "
                f"(clusters defined: {join_names(sorted(loaded.clusters))}).",
            )
        if context.user and selection.user is None:
            return Result.fail(
                f"{where} names user {context.user!r}, which no kubeconfig file defines (kubectl would send "
                "requests without credentials)" + broken,
                hint=f"Add the user or point the context at a defined one: `kubectl config set-context {name} "
                f"--user={_one_or_placeholder(loaded.users, 'USER')}` (users defined: {join_names(sorted(loaded.users))}).",
            )
        cluster, user = selection.cluster, selection.user
        origins = {context.origin, cluster.origin} | ({user.origin} if user is not None else set())
        if len(origins) == 1:
            # One file defined everything: name it once.
            described = f"context {name!r} → cluster {context.cluster!r}"
            described += f", user {context.user!r}" if user is not None else ""
            summary = f"{described} (all from {context.origin})"
        else:
            summary = f"{where} → cluster {context.cluster!r} ({cluster.origin})"
            summary += f", user {context.user!r} ({user.origin})" if user is not None else ""
        if user is None and plain_http_loopback(cluster):
            return Result.ok(summary + "; no user" + KUBECTL_PROXY_NOTE)
        if user is None:
            return Result.warn(
                summary + "; no user: requests are anonymous",
                hint="Set a user if the cluster needs credentials: "
                f"`kubectl config set-context {name} --user={_one_or_placeholder(loaded.users, 'USER')}`.",
            )
        return Result.ok(summary)


def _no_context_reason(loaded: LoadedKubeconfig) -> str:
    loaded_files = loaded.loaded_files
    if loaded_files and all(f.empty for f in loaded_files):
        return f"no context: {join_names([f.path for f in loaded_files])} {'is' if len(loaded_files) == 1 else 'are'} empty"
    if not loaded_files:
        return "no context: no kubeconfig file could be loaded (see kubeconfig.parse)"
    return f"no context: current-context is not set in {join_names([f.path for f in loaded_files])} and --context was not given"


def _broken_note(loaded: LoadedKubeconfig) -> str:
    broken = [f.path for f in loaded.files if f.error is not None]
    if not broken or not loaded.loaded_files:
        return ""
    return f" (it may be in {join_names(broken)}, which failed to load — see kubeconfig.parse)"
