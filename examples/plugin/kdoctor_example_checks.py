"""An example third-party check family for kdoctor: `pip install ./examples/plugin`, then `kdoctor checks`.

It shows the whole public API: a check, a probe of its own, ctx.details, Unavailable, modes.
"""

from __future__ import annotations

from kdoctor.api import API_SESSION, SELECTION, Check, Context, Mode, Probe, Result, Unavailable


async def _namespace(ctx: Context) -> str:
    """A probe gathers a fact (never a verdict); other probes are awaited through the context."""
    selection = await ctx.probe(SELECTION)
    if selection.context is None:
        # The check that judges the context reports why; every check awaiting this probe skips.
        raise Unavailable("no context selected", root="kubeconfig.context")
    return selection.context.namespace or "default"


#: A probe key: computed once per target, shared by every check that awaits it.
NAMESPACE: Probe[str] = Probe("example.namespace", _namespace)


class NamespaceExists(Check):
    """Checks that the namespace the kubeconfig context points at exists.

    kubectl happily keeps a context whose `namespace` has a typo, and every namespaced command then
    answers "No resources found" or NotFound. This asks the apiserver for the namespace itself.

    pass: the namespace exists. fail: the apiserver says it does not (404). warn: another answer
    (403: the identity may not read namespaces, so existence is unknown).
    """

    id = "example.namespace"
    title = "The context's namespace exists"
    depends_on = ("auth.identity",)  # runs only once the credential is known to work
    modes = (Mode.KUBECONFIG,)  # in a pod there is no context to read a namespace from

    async def run(self, ctx: Context) -> Result:
        namespace = await ctx.probe(NAMESPACE)
        ctx.details["namespace"] = namespace  # in the report whatever the verdict
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
