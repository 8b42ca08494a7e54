"""An example third-party check family for kdoctor: `pip install ./examples/plugin`, then `kdoctor checks`."""

from __future__ import annotations

from kdoctor.api import (
    API_SESSION,
    SELECTION,
    Check,
    Context,
    Mode,
    Result,
)


class NamespaceExists(Check):
    """Checks that the namespace the kubeconfig context points at exists.

    kubectl happily keeps a context whose `namespace` has a typo, and every namespaced command then
    answers "No resources found" or NotFound. This asks the apiserver for the namespace itself.

    pass: the namespace exists. fail: the apiserver says it does not (404). warn: another answer
    (403: the identity may not read namespaces, so existence is unknown).
    """

    id = "example.namespace"
    title = "The context's namespace exists"
    depends_on = ("auth.identity",)

    def applies(self, ctx: Context) -> str | None:
        return None if ctx.mode is Mode.KUBECONFIG else "kubeconfig contexts only"

    async def run(self, ctx: Context) -> Result:
        selection = await ctx.probe(SELECTION)
        namespace = (selection.context.namespace if selection.context else None) or "default"
        session = await ctx.probe(API_SESSION)
        response = await session.get(f"/api/v1/namespaces/{namespace}", authenticated=True)
        if response.status == 200:
            return Result.ok(f"namespace {namespace!r} exists")
        if response.status == 404:
            return Result.fail(
                f"namespace {namespace!r} does not exist",
                hint=f"Point the context elsewhere (`kubectl config set-context --current --namespace=default`) "
                f"or create it (`kubectl create namespace {namespace}`).",
            )
        return Result.warn(
            f"GET /api/v1/namespaces/{namespace} answered {response.status or response.error_kind}",
            hint="Existence is unknown: the identity may not be allowed to read namespaces.",
        )


CHECKS = (NamespaceExists,)
