"""The kubeconfig probes, and the AccessSpec kubectl would build from the selection and its material."""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from kdoctor.access import (
    AccessSpec,
    AccessUnavailable,
    Credentials,
    ExecSpec,
)
from kdoctor.keys import KUBECONFIG, MATERIAL, SELECTION
from kdoctor.kubeconfig.load import load_kubeconfig, select, selected_config
from kdoctor.kubeconfig.material import gather_material
from kdoctor.kubeconfig.model import (
    LoadedKubeconfig,
    Material,
    Selection,
    effective_server,
)
from kdoctor.kubeconfig.validation import server_url_problem
from kdoctor.redact import Secret, redact_config

if TYPE_CHECKING:
    from kdoctor.context import Context, Environment, Options


#: The kubeconfig --all-contexts already loaded to list the contexts, with the options and environment
#: it was loaded for: every target of that run shares it instead of parsing the same files again (200
#: contexts of a 300 KB file: 200 parses of it).
PRELOADED: contextvars.ContextVar[tuple[Options, Environment, LoadedKubeconfig] | None] = (
    contextvars.ContextVar("kdoctor_preloaded_kubeconfig", default=None)
)


async def _compute_kubeconfig(ctx: Context) -> LoadedKubeconfig:
    preloaded = PRELOADED.get()
    if preloaded is not None and preloaded[0] is ctx.options and preloaded[1] is ctx.environment:
        loaded = preloaded[2]
    else:
        # Parsing a file near the size cap takes a moment; keep the event loop (and other checks'
        # timers) free.
        loaded = await asyncio.to_thread(load_kubeconfig, ctx.options, ctx.environment)
    ctx.secrets.merge(loaded.secrets)
    return loaded


async def _compute_selection(ctx: Context) -> Selection:
    loaded = await ctx.probe(KUBECONFIG)
    selection = select(loaded, ctx.target.context or ctx.options.context)
    config = redact_config(selected_config(selection), ctx.secrets)
    server = selection.cluster.server if selection.cluster else None
    ctx.identify(
        context=selection.context_name,
        cluster=selection.cluster_name,
        user=selection.user_name,
        server=server,
        config=config,
    )
    if selection.user is not None:
        for secret in (selection.user.token, selection.user.password, selection.user.client_key_data):
            ctx.secrets.add(secret)
        if selection.user.exec is not None:
            for _, value in selection.user.exec.env:
                ctx.secrets.add(value)
    return selection


async def _compute_material(ctx: Context) -> Material:
    selection = await ctx.probe(SELECTION)
    material = await asyncio.to_thread(gather_material, selection)
    if material.client_key is not None and material.client_key.data is not None:
        ctx.secrets.add(material.client_key.data)
    if material.token_file is not None and material.token_file.data is not None:
        ctx.secrets.add(material.token_file.data)
    return material


async def _compute_access(ctx: Context) -> AccessSpec:
    selection = await ctx.probe(SELECTION)
    material = await ctx.probe(MATERIAL)
    return build_access(selection, material)


def build_access(selection: Selection, material: Material) -> AccessSpec:
    """The AccessSpec for a selection; AccessUnavailable when kubectl could not reach a server with it."""
    cluster, user = selection.cluster, selection.user
    if selection.context is None:
        raise AccessUnavailable(f"context {selection.context_name!r} not found")
    if cluster is None:
        raise AccessUnavailable(f"cluster {selection.cluster_name!r} not found")
    server = effective_server(cluster, user)
    if server is None:
        raise AccessUnavailable(f"cluster {cluster.name!r} has no server")
    # Every probe downstream parses the URL: one kubectl refuses (or Python cannot parse) is no
    # server to check, named once here rather than crashing each of them.
    problem = server_url_problem(server)
    if problem is None:
        try:
            urlsplit(server).port  # noqa: B018 - parsing is the check (a bad port or bracket raises)
        except ValueError as exc:
            problem = str(exc)
    if problem is not None:
        raise AccessUnavailable(f"server {server!r} of cluster {cluster.name!r} is not usable: {problem}")
    if cluster.certificate_authority and cluster.certificate_authority_data:
        raise AccessUnavailable("certificate-authority and certificate-authority-data are both set")
    if cluster.insecure_skip_tls_verify and (
        cluster.certificate_authority or cluster.certificate_authority_data
    ):
        raise AccessUnavailable(
            "insecure-skip-tls-verify is set together with a CA; kubectl refuses the cluster"
        )
    # An unreadable CA does not stop kdoctor looking at the server (kubeconfig.ca reports it; the
    # session then connects only to read the chain, without a credential).
    ca_error = (
        f"{material.ca.setting} {material.ca.source} {material.ca.error}"
        if material.ca is not None and material.ca.data is None
        else None
    )
    credentials = Credentials()
    if user is not None:
        token = user.token
        if token is None and material.token_file is not None and material.token_file.data is not None:
            # client-go trims the file's whitespace (a trailing newline is common).
            token = Secret(material.token_file.data.decode("utf-8", "replace").strip())
        exec_spec = None
        if user.exec is not None:
            exec_spec = ExecSpec(
                api_version=user.exec.api_version or "",
                command=user.exec.command or "",
                args=user.exec.args,
                env=user.exec.env,
                interactive_mode=user.exec.interactive_mode,
                install_hint=user.exec.install_hint,
                provide_cluster_info=user.exec.provide_cluster_info,
            )
        cert = material.client_cert.data if material.client_cert is not None else None
        key = material.client_key
        credentials = Credentials(
            token=token,
            token_file=user.token_file,
            client_cert_pem=cert,
            client_key_pem=Secret(key.data.decode("utf-8", "replace"))
            if key is not None and key.data
            else None,
            username=user.username,
            password=user.password,
            exec=exec_spec,
            auth_provider=user.auth_provider,
            auth_provider_config=_auth_provider_config(user.raw),
        )
    context = selection.context
    return AccessSpec(
        server=server,
        ca_pem=material.ca.data if material.ca is not None else None,
        ca_source=material.ca.source if material.ca is not None else "",
        insecure_skip_tls_verify=cluster.insecure_skip_tls_verify,
        tls_server_name=cluster.tls_server_name,
        proxy_url=cluster.proxy_url,
        credentials=credentials,
        origin=f"context {context.name} in {context.origin}",
        ca_error=ca_error,
    )


def _auth_provider_config(body: Mapping[str, Any]) -> tuple[tuple[str, Secret], ...]:
    """The auth-provider's string config values, each a Secret (id-token and refresh-token are credentials)."""
    provider = body.get("auth-provider")
    config = provider.get("config") if isinstance(provider, Mapping) else None
    if not isinstance(config, Mapping):
        return ()
    return tuple((str(k), Secret(v)) for k, v in config.items() if isinstance(v, str) and v)
