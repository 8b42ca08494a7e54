"""The kubeconfig family: is the kubeconfig usable, and if not, exactly why?

Everything client-go would reject is a `fail`, named precisely (kubectl prints only the first error,
often as "localhost:8080 refused"); things kubectl accepts but that will bite are `warn`.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import urlsplit

from kdoctor.api import (
    EXEC_API_VERSIONS,
    INTERACTIVE_MODES,
    KUBECONFIG,
    MATERIAL,
    SELECTION,
    Check,
    ClusterEntry,
    Context,
    LoadedKubeconfig,
    Mode,
    Result,
    Selection,
    Unavailable,
    certificate_facts,
    client_cert_facts,
    describe,
    dns_name_problem,
    effective_server,
    expires_soon,
    files_summary,
    fingerprint,
    has_tls_settings,
    is_loopback,
    key_problem,
    parse_pem_certificates,
    python_client_bypasses,
    removed_provider_migration,
    server_url_problem,
    shadowed_definitions,
)

__all__ = ["CHECKS"]


def _join(names: Sequence[str], limit: int = 12) -> str:
    if not names:
        return "(none)"
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


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
        return f"Available contexts: {_join(names)}. Pick one: `--context {names[0]}`."
    return f"Available contexts: {_join(names)}. Pick one: `kubectl config use-context {names[0]}`."


def _one_or_placeholder(names: Iterable[str], placeholder: str) -> str:
    """The only defined name, when there is just one; else the placeholder (the hint lists them)."""
    defined = sorted(names)
    return defined[0] if len(defined) == 1 else placeholder


def _chmod_hint(paths: Sequence[str]) -> str:
    return "; ".join(f"`chmod 600 {p}`" for p in paths)


# ---------------------------------------------------------------------------------------------


class Found(Check):
    """Finds the kubeconfig the way kubectl does.

    Looks at `--kubeconfig PATH`, else every entry of `KUBECONFIG` (separated by the OS path
    separator; kubectl silently ignores entries that do not exist), else `~/.kube/config`.

    - pass: at least one file exists; the details list them in merge order. `KUBECONFIG` entries that do
      not exist are named in a note: kubectl skips them without a word and works from the rest (when a
      typo there hides the context you want, kubeconfig.context fails with that evidence).
    - fail: no file at all. kubectl then falls back to `http://localhost:8080` and prints "The connection
      to the server localhost:8080 was refused". In a pod, use `kdoctor run --in-cluster` instead.
    """

    id = "kubeconfig.found"
    title = "A kubeconfig file is found"
    modes = (Mode.KUBECONFIG,)

    async def run(self, ctx: Context) -> Result:
        loaded = await ctx.probe(KUBECONFIG)
        details = ctx.details
        details.update(
            {
                "source": loaded.source,
                "files": [f.path for f in loaded.files],
                "ignored": list(loaded.ignored),
            }
        )
        in_pod = bool(ctx.env.get("KUBERNETES_SERVICE_HOST"))
        pod_hint = (
            " You are inside a pod (KUBERNETES_SERVICE_HOST is set): to check the pod's own access, run "
            "`kdoctor run --in-cluster`."
            if in_pod
            else ""
        )
        if loaded.source == "--kubeconfig":
            path = loaded.files[0].path if loaded.files else ctx.options.kubeconfig or ""
            if loaded.files and loaded.files[0].error is not None and loaded.files[0].error.kind == "missing":
                return Result.fail(
                    f"--kubeconfig {path} does not exist",
                    hint=f"Check the path; kubectl fails the same way (stat {path}: no such file or directory).",
                )
            return Result.ok(f"using {path} (from --kubeconfig)")
        if loaded.source == "KUBECONFIG":
            if not loaded.files:
                return Result.fail(
                    f"none of the KUBECONFIG entries exist: {_join(list(loaded.ignored))}",
                    hint="kubectl ignores missing entries and falls back to localhost:8080, which refuses the "
                    "connection. Fix KUBECONFIG (`echo $KUBECONFIG`) to point at your kubeconfig files."
                    + pod_hint,
                )
            summary = (
                f"using {len(loaded.files)} file(s) from KUBECONFIG: {_join([f.path for f in loaded.files])}"
            )
            if loaded.ignored:
                # kubectl skips them without a word and works from the rest: a note, not a warning.
                # (If the context wanted lives in a missing file, kubeconfig.context fails with evidence.)
                return Result.ok(
                    summary
                    + f"; note: entries that do not exist are skipped, as kubectl skips them silently: "
                    f"{_join(list(loaded.ignored))}",
                )
            return Result.ok(summary)
        default = str(ctx.environment.home / ".kube" / "config")
        if not loaded.files:
            return Result.fail(
                f"no kubeconfig: KUBECONFIG is not set and {default} does not exist "
                "(kubectl falls back to localhost:8080 and reports 'connection refused')",
                hint="Pass --kubeconfig PATH, set KUBECONFIG, or create ~/.kube/config (your provider's CLI "
                "writes one, e.g. `aws eks update-kubeconfig`, `gcloud container clusters get-credentials`)."
                + pod_hint,
            )
        return Result.ok(f"using {default}")


class Parse(Check):
    """Every kubeconfig file can be read and parsed as YAML, safely.

    kubectl refuses the whole configuration when any file fails to load, even one that does not hold
    the context in use. kdoctor reads files with a size cap of its own (32 MiB, far above the 10 MB
    kubeconfigs of large multi-cluster fleets, which load as kubectl loads them; kubectl has no cap),
    refuses alias bombs and deep nesting, and never executes YAML tags (`!!python/...` is an error,
    not code).

    - fail: a file is missing (--kubeconfig), a directory, unreadable, too big, binary, not UTF-8, or
      not valid YAML (with file:line:column).
    - warn: a key given twice in one mapping (kubectl silently keeps the last value), an empty file
      (kubectl treats it as no configuration), or several YAML documents (kubectl reads only the first).
    - note (in the summary): a context, cluster or user name that a later KUBECONFIG file defines
      again; kubectl silently uses the first file's definition, so edits to the later one have no
      effect. The note names both files (details.shadowed).
    """

    id = "kubeconfig.parse"
    title = "Every kubeconfig file parses as YAML"
    depends_on = ("kubeconfig.found",)
    modes = (Mode.KUBECONFIG,)

    async def run(self, ctx: Context) -> Result:
        loaded = await ctx.probe(KUBECONFIG)
        details = ctx.details
        details.update({"files": files_summary(loaded.files)})
        errors = []
        for f in loaded.files:
            if f.error is None:
                continue
            where = f"{f.path}:{f.error.location}" if f.error.location else f.path
            errors.append(f"{where}: {f.error.message}")
        if errors:
            too_large = any(f.error is not None and f.error.kind == "too-large" for f in loaded.files)
            return Result.fail(
                "; ".join(errors),
                hint="The size limit is kdoctor's, not kubectl's (kubectl may well load this file): check that "
                "the file is the kubeconfig you meant, or point kdoctor at a smaller one (`kubectl config view "
                "--minify --flatten > small.yaml`)."
                if too_large
                else "Fix or remove the file: kubectl refuses every command while one kubeconfig file "
                "fails to load (error loading config file ...).",
            )
        notes = []
        duplicates = []
        for f in loaded.files:
            for dup in f.duplicate_keys:
                duplicates.append(
                    {"file": f.path, "key": dup.key, "line": dup.line, "first_line": dup.first_line}
                )
                notes.append(
                    f"{f.path}:{dup.line}:{dup.column}: key {dup.key!r} repeats line {dup.first_line} "
                    "(kubectl keeps the last value)"
                )
            if f.empty:
                notes.append(f"{f.path} is empty")
            if f.extra_documents:
                notes.append(f"{f.path} holds several YAML documents; kubectl reads only the first")
        if duplicates:
            details["duplicate_keys"] = duplicates
        shadow_note = _shadow_note(loaded, details)
        if notes:
            fixes = []
            if duplicates or any(f.extra_documents for f in loaded.files):
                fixes.append("Remove the repeated keys / extra documents so the file says one thing.")
            if any(f.empty for f in loaded.files):
                fixes.append(
                    "An empty file adds nothing: remove it from KUBECONFIG (or --kubeconfig), or write a "
                    "kubeconfig into it (your provider's CLI does, e.g. `aws eks update-kubeconfig`, "
                    "`gcloud container clusters get-credentials`)."
                )
            return Result.warn("; ".join(notes) + shadow_note, hint=" ".join(fixes))
        return Result.ok(f"{len(loaded.files)} file(s) parsed{shadow_note}")


class Structure(Check):
    """Every kubeconfig file has the shape kubectl's decoder insists on.

    - fail: the document is not a mapping; `kind` is not `Config` or `apiVersion` not `v1`; a value has
      the wrong type (a string where a list belongs, `insecure-skip-tls-verify: "yes"`, an unquoted `y`
      which YAML 1.1 reads as a boolean); a `*-data` field is not valid base64; a name defined twice
      in one list (kubectl: "duplicate name in list"). Any of these makes kubectl refuse every command.
    - warn: fields kubectl does not know (usually a typo such as `certificate-authority_data`) and
      entries without a name — kubectl silently ignores them.
    """

    id = "kubeconfig.structure"
    title = "Every kubeconfig file has the structure kubectl expects"
    depends_on = ("kubeconfig.parse",)
    modes = (Mode.KUBECONFIG,)

    async def run(self, ctx: Context) -> Result:
        loaded = await ctx.probe(KUBECONFIG)
        problems = [p for f in loaded.files for p in f.problems]
        details = ctx.details
        details.update(
            {
                "problems": [
                    {"file": p.file, "where": p.where, "message": p.message, "fatal": p.fatal}
                    for p in problems
                ]
            }
        )
        fatal = [p for p in problems if p.fatal]
        if fatal:
            return Result.fail(
                "; ".join(str(p) for p in fatal[:5])
                + (f" (and {len(fatal) - 5} more)" if len(fatal) > 5 else ""),
                hint="Fix these fields: kubectl refuses to load the file (error loading config file ...). "
                "`kubectl config view` shows the same error once fixed files load.",
            )
        if problems:
            return Result.warn(
                "; ".join(str(p) for p in problems[:5])
                + (f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""),
                hint="Check the spelling of these fields: kubectl ignores fields it does not know.",
            )
        return Result.ok("every file has the expected structure")


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
                "available_contexts": list(selection.available_contexts),
            }
        )
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
                f"(clusters defined: {_join(sorted(loaded.clusters))}).",
            )
        if selection.cluster is None:
            return Result.fail(
                f"{where} names cluster {context.cluster!r}, which no kubeconfig file defines"
                + "; kubectl falls back to localhost:8080 ('connection refused')"
                + broken,
                hint=f"Add the cluster or point the context at a defined one: `kubectl config set-context {name} "
                f"--cluster={_one_or_placeholder(loaded.clusters, 'CLUSTER')}` "
                f"(clusters defined: {_join(sorted(loaded.clusters))}).",
            )
        if context.user and selection.user is None:
            return Result.fail(
                f"{where} names user {context.user!r}, which no kubeconfig file defines (kubectl would send "
                "requests without credentials)" + broken,
                hint=f"Add the user or point the context at a defined one: `kubectl config set-context {name} "
                f"--user={_one_or_placeholder(loaded.users, 'USER')}` (users defined: {_join(sorted(loaded.users))}).",
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
        if user is None and _plain_http_loopback(cluster):
            return Result.ok(summary + "; no user" + _KUBECTL_PROXY_NOTE)
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
        return f"no context: {_join([f.path for f in loaded_files])} {'is' if len(loaded_files) == 1 else 'are'} empty"
    if not loaded_files:
        return "no context: no kubeconfig file could be loaded (see kubeconfig.parse)"
    return f"no context: current-context is not set in {_join([f.path for f in loaded_files])} and --context was not given"


def _broken_note(loaded: LoadedKubeconfig) -> str:
    broken = [f.path for f in loaded.files if f.error is not None]
    if not broken or not loaded.loaded_files:
        return ""
    return f" (it may be in {_join(broken)}, which failed to load — see kubeconfig.parse)"


class Server(Check):
    """The selected cluster's `server` is a usable URL.

    - fail: no server (kubectl: localhost:8080 refused); a scheme other than http/https; no host; a bad
      port; no scheme while TLS settings or credentials are configured (kubectl then speaks plain HTTP,
      even to a TLS port, whatever the CA says, and gets a reset or "400 Bad Request"); `http://` to a
      non-loopback host while credentials are configured (they would cross the network in clear text).
    - warn: no scheme and nothing that needs TLS (plain HTTP, as for `kubectl proxy`); `http://` to a
      non-loopback host.
    """

    id = "kubeconfig.server"
    title = "The cluster's server URL is usable"
    depends_on = ("kubeconfig.context",)
    modes = (Mode.KUBECONFIG,)

    async def run(self, ctx: Context) -> Result:
        selection = await ctx.probe(SELECTION)
        cluster = _cluster(selection)
        details = ctx.details
        details.update({**selection.provenance(), "server": cluster.server})
        where = f"cluster {cluster.name!r} ({cluster.origin})"
        fix = f"`kubectl config set-cluster {cluster.name} --server=https://HOST:PORT`"
        server = cluster.server
        if not server:
            return Result.fail(
                f"{where} has no server; kubectl falls back to localhost:8080 ('connection refused')",
                hint=f"Set the apiserver URL: {fix}.",
            )
        url = effective_server(cluster, selection.user) or server
        details["effective_server"] = url
        problem = server_url_problem(url)
        if problem:
            return Result.fail(f"{where}: server {url!r} is not usable: {problem}", hint=f"Fix it: {fix}.")
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as exc:
            return Result.fail(
                f"{where}: server {server!r} is not a valid URL ({exc})",
                hint=f"Fix it: {fix}.",
            )
        if parts.scheme not in ("http", "https"):
            return Result.fail(
                f"{where}: server {server!r} has scheme {parts.scheme!r}; kubectl speaks only https (or http)",
                hint=f"Use an https URL: {fix}.",
            )
        host = parts.hostname
        if not host:
            return Result.fail(f"{where}: server {server!r} has no host", hint=f"Fix it: {fix}.")
        shown_port = port or (443 if parts.scheme == "https" else 80)
        details.update({"scheme": parts.scheme, "host": host, "port": shown_port, "path": parts.path})
        user = selection.user
        has_credentials = user is not None and bool(user.methods)
        if "://" not in server:
            tls = has_tls_settings(cluster, user)
            consequence = (
                f"kubectl speaks plain HTTP to {host}:{shown_port} (it ignores the TLS settings; a TLS port "
                "answers with a reset or '400 Bad Request')"
            )
            fix_scheme = f"`kubectl config set-cluster {cluster.name} --server=https://{server}`"
            if tls or has_credentials:
                return Result.fail(
                    f"{where}: server {server!r} has no scheme, so {consequence}",
                    hint=f"Write the scheme: {fix_scheme} (or http:// explicitly for `kubectl proxy`).",
                )
            return Result.warn(
                f"{where}: server {server!r} has no scheme, so {consequence}",
                hint=f"Write the scheme: {fix_scheme} (or http:// explicitly for `kubectl proxy`).",
            )
        if parts.scheme == "http" and not is_loopback(host):
            if has_credentials:
                return Result.fail(
                    f"{where}: server {url} is plain HTTP to a non-loopback host and the user has credentials; "
                    "they would cross the network unencrypted (kdoctor will not send them)",
                    hint=f"Use the apiserver's https URL: {fix}.",
                )
            return Result.warn(
                f"{where}: server {url} is plain HTTP to a non-loopback host: nothing is encrypted or verified",
                hint=f"Use the apiserver's https URL: {fix}.",
            )
        note = f"; kubectl ignores the fragment #{parts.fragment}" if parts.fragment else ""
        return Result.ok(f"{url} (host {host}, port {shown_port}) from {where}{note}")


def _cluster(selection: Selection) -> ClusterEntry:
    """The selected cluster; without one, kubeconfig.context has failed and says why."""
    if selection.cluster is None:
        # Reached only when kubeconfig.context was left out of the run (--check kubeconfig.server alone).
        raise Unavailable(
            f"no cluster selected for context {selection.context_name!r}", root="kubeconfig.context"
        )
    return selection.cluster


class CertificateAuthority(Check):
    """The cluster CA (`certificate-authority` file or `certificate-authority-data`) is usable.

    - fail: both the file and the data are set (kubectl refuses: "certificate-authority-data and
      certificate-authority are both specified"); `insecure-skip-tls-verify` together with a CA
      ("specifying a root certificates file with the insecure flag is not allowed"); the file is missing
      or unreadable; the data is not base64 or not PEM; a CA certificate is expired or not yet valid.
    - warn: `insecure-skip-tls-verify: true` (anyone in the path can read and alter every request);
      a certificate that is not a CA (basicConstraints CA:FALSE — works only if the server presents
      exactly that certificate); a CA expiring within 30 days.
    - pass without a CA: the system trust store verifies the server (right for a publicly trusted endpoint).
    """

    id = "kubeconfig.ca"
    title = "The cluster CA is configured and valid"
    depends_on = ("kubeconfig.context",)
    modes = (Mode.KUBECONFIG,)

    async def run(self, ctx: Context) -> Result:
        selection = await ctx.probe(SELECTION)
        cluster = _cluster(selection)
        details = ctx.details
        details.update(
            {
                **selection.provenance(),
                "certificate_authority": cluster.certificate_authority,
                "certificate_authority_data": bool(cluster.certificate_authority_data),
                "insecure_skip_tls_verify": cluster.insecure_skip_tls_verify,
            }
        )
        where = f"cluster {cluster.name!r} ({cluster.origin})"
        has_ca = bool(cluster.certificate_authority or cluster.certificate_authority_data)
        if cluster.certificate_authority and cluster.certificate_authority_data:
            return Result.fail(
                f"{where} sets both certificate-authority ({cluster.certificate_authority}) and "
                "certificate-authority-data; kubectl refuses the cluster",
                hint="Keep exactly one of the two fields.",
            )
        if cluster.insecure_skip_tls_verify and has_ca:
            return Result.fail(
                f"{where} sets insecure-skip-tls-verify together with a CA; kubectl refuses: "
                "'specifying a root certificates file with the insecure flag is not allowed'",
                hint=f"Remove insecure-skip-tls-verify: `kubectl config set-cluster {cluster.name} "
                "--insecure-skip-tls-verify=false` (the CA is what makes the connection safe).",
            )
        if cluster.insecure_skip_tls_verify:
            return Result.warn(
                f"{where} sets insecure-skip-tls-verify: the server is not verified, so a man-in-the-middle "
                "can read and change every request, credentials included",
                hint="Get the cluster CA and set it: `kubectl config set-cluster "
                f"{cluster.name} --certificate-authority=ca.crt --embed-certs --insecure-skip-tls-verify=false`.",
            )
        if not has_ca:
            return Result.ok(
                f"{where} sets no CA: the system trust store verifies the server (fine for a publicly trusted endpoint)",
            )
        material = await ctx.probe(MATERIAL)
        blob = material.ca
        if blob is None or blob.data is None:
            error = blob.error if blob is not None else "could not be read"
            source = f"{blob.setting} {blob.source}" if blob is not None else "the CA"
            return Result.fail(
                f"{source} {error} ({where})",
                hint="Point certificate-authority at the cluster CA file (relative paths resolve against the "
                "kubeconfig's directory) or embed it: `kubectl config set-cluster "
                f"{cluster.name} --certificate-authority=ca.crt --embed-certs`.",
            )
        certs, error = parse_pem_certificates(blob.data)
        if error is not None:
            return Result.fail(
                f"{blob.setting} ({blob.source}) {error}",
                hint="The CA must be PEM ('-----BEGIN CERTIFICATE-----'); convert DER with "
                "`openssl x509 -inform der -in ca.der -out ca.crt`.",
            )
        now = ctx.environment.now()
        summaries = [describe(c) for c in certs]
        infos = [certificate_facts(c, now) for c in summaries]
        details["certificates"] = infos
        for info in infos:
            if info["expired"] or info["not_yet_valid"]:
                state = "expired on" if info["expired"] else "is not valid before"
                when = info["not_after"] if info["expired"] else info["not_before"]
                return Result.fail(
                    f"CA certificate {info['subject']} ({blob.source}) {state} {when}; kubectl fails with "
                    "'x509: certificate has expired or is not yet valid'",
                    hint="Get the cluster's current CA (or fix this machine's clock if the date looks wrong).",
                )
        first = infos[0]
        not_ca = [i for i in infos if not i["is_ca"]]
        if not_ca:
            return Result.warn(
                f"certificate {not_ca[0]['subject']} in {blob.source} is not a CA (basicConstraints CA:FALSE); "
                "it works only if the server presents exactly this certificate",
                hint="Use the CA that signed the apiserver's certificate (on kubeadm clusters /etc/kubernetes/pki/ca.crt).",
            )
        soon = [i for i, c in zip(infos, summaries, strict=True) if expires_soon(c.not_after, now)]
        if soon:
            return Result.warn(
                f"CA certificate {soon[0]['subject']} expires in {soon[0]['expires_in_days']} days ({soon[0]['not_after']})",
                hint="Plan the CA rotation now; every kubeconfig with this CA stops working when it expires.",
            )
        return Result.ok(
            f"{len(infos)} CA certificate(s) from {blob.source}: {first['subject']}, valid until {first['not_after']}",
        )


class TLSServerName(Check):
    """The cluster's `tls-server-name`, when set, is a plain host name.

    kubectl sends it as SNI and checks the serving certificate against it instead of the server's host.
    - fail: it contains a scheme, a port or a path (the certificate can never match it).
    - warn: it is set together with insecure-skip-tls-verify (it then verifies nothing).
    - pass: unset (the certificate is checked against the server's host) or a plain name.
    """

    id = "kubeconfig.tls"
    title = "The cluster's TLS server name is usable"
    depends_on = ("kubeconfig.context",)
    modes = (Mode.KUBECONFIG,)

    async def run(self, ctx: Context) -> Result:
        selection = await ctx.probe(SELECTION)
        cluster = _cluster(selection)
        details = ctx.details
        details.update({**selection.provenance(), "tls_server_name": cluster.tls_server_name})
        name = cluster.tls_server_name
        host = None
        if cluster.server:
            try:
                host = urlsplit(effective_server(cluster, selection.user) or "").hostname
            except ValueError:
                host = None
        if not name:
            return Result.ok(
                f"no tls-server-name: the serving certificate must be valid for {host or 'the server host'}",
            )
        if any(c in name for c in ":/ ") and not _is_ip(name):
            return Result.fail(
                f"tls-server-name {name!r} of cluster {cluster.name!r} ({cluster.origin}) is not a host name",
                hint=f"Set just the name the certificate holds: `kubectl config set-cluster {cluster.name} --tls-server-name=NAME`.",
            )
        problem = dns_name_problem(name)
        if problem and not _is_ip(name):
            return Result.fail(
                f"tls-server-name {name[:80]!r} of cluster {cluster.name!r} ({cluster.origin}) is not a valid "
                f"host name: {problem}; kubectl sends it as the TLS server name and no certificate can match it",
                hint=f"Set just the name the certificate holds: `kubectl config set-cluster {cluster.name} --tls-server-name=NAME`.",
            )
        if cluster.insecure_skip_tls_verify:
            return Result.warn(
                f"tls-server-name {name!r} is set but insecure-skip-tls-verify disables verification",
                hint="Remove insecure-skip-tls-verify and set the CA.",
            )
        return Result.ok(
            f"the serving certificate must be valid for {name!r} (tls-server-name), not {host!r}",
        )


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
        return True
    except ValueError:
        return False


class ProxyURL(Check):
    """The cluster's `proxy-url`, when set, uses a scheme client-go supports (http, https, socks5).

    A `proxy-url` is used for every request to the cluster, loopback included, and overrides
    HTTPS_PROXY/NO_PROXY. - fail: another scheme, or no host. - pass: unset, or usable.
    """

    id = "kubeconfig.proxy-url"
    title = "The cluster's proxy-url is usable"
    depends_on = ("kubeconfig.context",)
    modes = (Mode.KUBECONFIG,)

    async def run(self, ctx: Context) -> Result:
        selection = await ctx.probe(SELECTION)
        cluster = _cluster(selection)
        proxy = cluster.proxy_url
        if not proxy:
            return Result.ok(
                "no proxy-url: HTTPS_PROXY/NO_PROXY decide (see proxy.path)", details=selection.provenance()
            )
        try:
            parts = urlsplit(proxy)
            parts.port  # noqa: B018 - raises ValueError on a bad port
        except ValueError as exc:
            shown = "(unparseable)"
            return Result.fail(
                f"proxy-url of cluster {cluster.name!r} is not a valid URL ({exc})",
                hint=f"Fix it: `kubectl config set clusters.{cluster.name}.proxy-url http://HOST:PORT`.",
                details={**selection.provenance(), "proxy_url": shown},
            )
        if parts.password:
            ctx.secrets.add(parts.password)
        shown = _redacted_url(parts)
        details = ctx.details
        details.update({**selection.provenance(), "proxy_url": shown, "scheme": parts.scheme})
        if parts.scheme not in ("http", "https", "socks5"):
            return Result.fail(
                f"proxy-url {shown} of cluster {cluster.name!r} has scheme {parts.scheme!r}; client-go supports "
                "http, https and socks5",
                hint=f"Use a supported scheme: `kubectl config set clusters.{cluster.name}.proxy-url http://HOST:PORT`.",
            )
        if not parts.hostname:
            return Result.fail(
                f"proxy-url {shown} of cluster {cluster.name!r} has no host",
                hint=f"`kubectl config set clusters.{cluster.name}.proxy-url {parts.scheme}://HOST:PORT`.",
            )
        return Result.ok(f"every request to cluster {cluster.name!r} goes through {shown}")


def _redacted_url(parts: Any) -> str:
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, hostport = netloc.rsplit("@", 1)
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:<redacted>@{hostport}" if ":" in userinfo else f"{user}@{hostport}"
    return f"{parts.scheme}://{netloc}{parts.path}"


_KUBECTL_PROXY_NOTE = (
    "; note: no credential: normal for kubectl proxy, which adds its own; auth.identity says whom the "
    "server takes you for"
)


def _plain_http_loopback(cluster: ClusterEntry | None) -> bool:
    """The server is plain HTTP on loopback: where `kubectl proxy` listens and adds the credential itself.

    Without the network this check cannot know what such a server does; auth.identity asks it (and
    fails with the 401 as evidence when it wants credentials).
    """
    if cluster is None or not cluster.server:
        return False
    parts = urlsplit(cluster.server)
    return parts.scheme == "http" and is_loopback(parts.hostname or "")


class CredentialsConfigured(Check):
    """The selected user has exactly one usable way to authenticate.

    - fail: a token and a username/password together (client-go: "more than one authentication method
      found"); exec together with auth-provider; an empty or whitespace token, or one with a line
      break; an unreadable or empty tokenFile; the removed `gcp`/`azure` auth-providers (use
      gke-gcloud-auth-plugin / kubelogin); an auth-provider client-go does not know.
    - pass with a note: no credentials for a plain-HTTP loopback server (`http://127.0.0.1:8001`):
      normal for `kubectl proxy`, which adds its own. This check reads no network, so it cannot know
      what the server does: auth.identity says whom the server takes you for, and fails with the 401
      as evidence when the server wants credentials.
    - warn: no credentials (anonymous) for any other server; username/password (apiservers reject basic auth since 1.19);
      the `oidc` auth-provider (deprecated: use an exec plugin such as kubelogin); token with
      surrounding spaces; several methods that client-go accepts together (say which one is used).
    Client certificates and exec plugins are examined by kubeconfig.client-cert and kubeconfig.exec.
    """

    id = "kubeconfig.credentials"
    title = "The user's credentials are configured"
    depends_on = ("kubeconfig.context",)
    modes = (Mode.KUBECONFIG,)

    async def run(self, ctx: Context) -> Result:
        selection = await ctx.probe(SELECTION)
        user = selection.user
        details = ctx.details
        details.update({**selection.provenance()})
        if user is None:
            if _plain_http_loopback(selection.cluster):
                return Result.ok(f"context {selection.context_name!r} has no user{_KUBECTL_PROXY_NOTE}")
            return Result.warn(
                f"context {selection.context_name!r} has no user: requests are anonymous",
                hint=f"Set a user: `kubectl config set-context {selection.context_name} --user=USER`.",
            )
        methods = user.methods
        details["methods"] = methods
        where = f"user {user.name!r} ({user.origin})"
        if not methods and _plain_http_loopback(selection.cluster):
            return Result.ok(f"{where} has no credentials{_KUBECTL_PROXY_NOTE}")
        if not methods:
            return Result.warn(
                f"{where} has no credentials: requests are anonymous (usually 401/403)",
                hint="Add credentials: `kubectl config set-credentials "
                f"{user.name} --token=...` or a client certificate or exec plugin from your provider.",
            )
        has_token = user.token is not None or bool(user.token_file)
        if user.token is not None and (user.username or user.password is not None):
            return Result.fail(
                f"more than one authentication method found for {user.name}; found [token basicAuth], only one "
                f"is allowed ({where})",
                hint=f"Remove one: `kubectl config unset users.{user.name}.username` and `... .password`, or the token.",
            )
        if user.exec is not None and user.auth_provider:
            return Result.fail(
                f"{where} sets both exec and auth-provider; client-go refuses: "
                "'execProvider and authProvider cannot be used in combination'",
                hint=f"Remove the auth-provider: `kubectl config unset users.{user.name}.auth-provider`.",
            )
        if user.auth_provider:
            provider = user.auth_provider
            details["auth_provider"] = provider
            migration = removed_provider_migration(provider, ctx.environment.which)
            if migration is not None:
                details["replacement"] = migration.plugin
                details["replacement_installed"] = migration.installed_at
                return Result.fail(
                    f"{where} uses the {provider} auth-provider, removed from kubectl in 1.26 "
                    f"('The {provider} auth plugin has been removed'); {migration.words()}",
                    hint=migration.hint(),
                )
            if provider == "oidc":
                return Result.warn(
                    f"{where} uses the oidc auth-provider, deprecated in favour of exec plugins",
                    hint="Move to an exec plugin such as kubelogin (`kubectl oidc-login`).",
                )
            return Result.fail(
                f"{where} uses auth-provider {provider!r}, which kubectl does not know "
                f"('no Auth Provider found for name {provider!r}')",
                hint="Replace it with the exec plugin your provider documents.",
            )
        if user.token is not None:
            token = user.token.reveal()
            details["token"] = fingerprint(token)
            if not token.strip():
                return Result.fail(
                    f"{where}: token is only whitespace",
                    hint=f"Set a real token: `kubectl config set-credentials {user.name} --token=TOKEN`.",
                )
            if any(c in token.strip() for c in "\r\n\t "):
                return Result.fail(
                    f"{where}: token {fingerprint(token)} contains whitespace or a line break; it is not a valid "
                    "Authorization header",
                    hint="Paste the token again as one line.",
                )
        elif user.token_file:
            material = await ctx.probe(MATERIAL)
            blob = material.token_file
            details["token_file"] = user.token_file
            if blob is None or blob.data is None:
                error = blob.error if blob is not None else "cannot be read"
                return Result.fail(
                    f"tokenFile {user.token_file} {error} ({where}); every request fails",
                    hint="Point tokenFile at a readable file (relative paths resolve against the kubeconfig's directory).",
                )
            text = blob.data.decode("utf-8", "replace").strip()
            if not text:
                return Result.fail(
                    f"tokenFile {user.token_file} is empty ({where})",
                    hint="Write the token into the file (one line).",
                )
            details["token"] = fingerprint(text)
        notes = []
        if user.username or user.password is not None:
            return Result.warn(
                f"{where} uses username/password (basic auth); apiservers reject it since Kubernetes 1.19",
                hint="Use a token, client certificate or your provider's exec plugin instead.",
            )
        if user.token is not None and user.token.reveal() != user.token.reveal().strip():
            notes.append("the token has leading or trailing whitespace")
        if user.token is not None and user.token_file:
            notes.append("both token and tokenFile are set: the token is used")
        if has_token and user.exec is not None:
            notes.append("both a token and an exec plugin are set: the token is used, the plugin is not run")
        if notes:
            return Result.warn(f"{where}: {'; '.join(notes)}", hint="Keep one credential.")
        return Result.ok(f"{where} authenticates with {' + '.join(methods)}")


class ClientCertificate(Check):
    """The user's client certificate and key are readable, match, and are valid now.

    - fail: file and data both set for the certificate or the key (kubectl refuses); a certificate
      without a key; a file missing or unreadable; not PEM; an encrypted key (kubectl cannot use it);
      the key does not belong to the certificate ("tls: private key does not match public key"); the
      certificate expired or is not yet valid.
    - warn: expires within 30 days; a key without a certificate (ignored by kubectl); expired or not
      yet valid while the user also has a token (kubectl sends both, and the apiserver authenticates
      the token after the certificate fails: the auth.* checks judge the token).
    - skip: the user does not use a client certificate.
    The summary shows the certificate's subject, issuer and expiry.
    """

    id = "kubeconfig.client-cert"
    title = "The client certificate and key are valid and match"
    depends_on = ("kubeconfig.context",)
    modes = (Mode.KUBECONFIG,)

    async def run(self, ctx: Context) -> Result:
        selection = await ctx.probe(SELECTION)
        user = selection.user
        details = ctx.details
        details.update({**selection.provenance()})
        if user is None:
            return Result.skip("no user selected")
        has_cert = bool(user.client_certificate or user.client_certificate_data)
        has_key = bool(user.client_key or user.client_key_data is not None)
        where = f"user {user.name!r} ({user.origin})"
        if not has_cert and not has_key:
            return Result.skip(f"{where} does not use a client certificate")
        details.update({"client_certificate": user.client_certificate, "client_key": user.client_key})
        if user.client_certificate and user.client_certificate_data:
            return Result.fail(
                f"client-cert-data and client-cert are both specified for {user.name} ({where})",
                hint="Keep exactly one of client-certificate and client-certificate-data.",
            )
        if user.client_key and user.client_key_data is not None:
            return Result.fail(
                f"client-key-data and client-key are both specified for {user.name} ({where})",
                hint="Keep exactly one of client-key and client-key-data.",
            )
        if not has_key:
            return Result.fail(
                f"{where} has a client certificate but no key (client-key-data or client-key): kubectl "
                "refuses to use the client certificate",
                hint=f"`kubectl config set-credentials {user.name} --client-key=client.key --embed-certs`.",
            )
        if not has_cert:
            return Result.warn(
                f"{where} has a client key but no certificate; kubectl ignores the key",
                hint="Add the certificate (client-certificate) or remove the key.",
            )
        material = await ctx.probe(MATERIAL)
        cert_blob, key_blob = material.client_cert, material.client_key
        if cert_blob is None or key_blob is None:
            return Result.skip("the client certificate was not read")
        for blob in (cert_blob, key_blob):
            if blob.data is None:
                return Result.fail(
                    f"{blob.setting} {blob.source} {blob.error}",
                    hint="Fix the path (relative paths resolve against the kubeconfig's directory) or embed the "
                    f"file: `kubectl config set-credentials {user.name} --client-certificate=... --client-key=... --embed-certs`.",
                )
        if cert_blob.data is None or key_blob.data is None:  # pragma: no cover - handled above
            return Result.skip("the client certificate was not read")
        certs, error = parse_pem_certificates(cert_blob.data)
        if error is not None:
            return Result.fail(
                f"{cert_blob.setting} ({cert_blob.source}) {error}",
                hint="Use the PEM certificate.",
            )
        key_error = key_problem(key_blob.data, certs[0])
        now = ctx.environment.now()
        leaf = describe(certs[0])
        info = certificate_facts(leaf, now)
        details["certificate"] = info
        described = (
            f"client certificate {info['subject']} (issuer {info['issuer']}, valid until {info['not_after']})"
        )
        if key_error is not None:
            return Result.fail(
                f"{key_blob.setting} ({key_blob.source}) {key_error}",
                hint="Use the key that was generated with this certificate (PEM, unencrypted).",
            )
        if info["expired"] or info["not_yet_valid"]:
            state = (
                f"expired on {info['not_after']}"
                if info["expired"]
                else f"is not valid before {info['not_before']}"
            )
            renew = client_cert_facts(cert_blob.data, None).kubeadm_command
            if user.token is not None or user.token_file:
                # kubectl sends the token with the certificate; kube-apiserver's union authenticator
                # passes over the certificate it cannot verify and authenticates the token (asked of
                # kubectl: tests/test_auth_checks.py). Not what blocks access: a warning, auth.* judge the token.
                return Result.warn(
                    f"{described} {state}: the apiserver ignores it and authenticates the token "
                    "that is sent with it",
                    hint=f"Remove the dead certificate (`kubectl config unset users.{user.name}.{cert_blob.setting}` "
                    f"and `kubectl config unset users.{user.name}.{key_blob.setting}`), or renew it (kubeadm: "
                    f"`{renew}`) if it is meant to be the credential.",
                )
            return Result.fail(
                f"{described} {state}; the apiserver rejects it (TLS alert 'expired certificate' or 401 Unauthorized)",
                hint="Get a new certificate from your cluster admin or provider (kubeadm: "
                f"`{renew}`), or fix this machine's clock.",
            )
        if expires_soon(leaf.not_after, now):
            return Result.warn(
                f"{described} expires in {info['expires_in_days']} days",
                hint="Renew the certificate before it expires (kubeadm: `kubeadm certs renew`).",
            )
        return Result.ok(f"{described}; the key matches")


class ExecPlugin(Check):
    """The user's exec credential plugin stanza is valid and its command exists.

    Does not run the plugin (the auth family does). - fail: apiVersion missing, the removed
    `client.authentication.k8s.io/v1alpha1`, or unknown; command missing, not found on PATH, or a path
    that does not exist or is not executable ("exec: executable X not found"); `interactiveMode`
    missing with v1 or not Never/IfAvailable/Always; env entries without a name.
    - skip: the user has no exec stanza. The hint quotes the stanza's installHint when it has one.
    """

    id = "kubeconfig.exec"
    title = "The exec credential plugin is configured and installed"
    depends_on = ("kubeconfig.context",)
    modes = (Mode.KUBECONFIG,)

    async def run(self, ctx: Context) -> Result:
        selection = await ctx.probe(SELECTION)
        user = selection.user
        if user is None or user.exec is None:
            return Result.skip("the user has no exec plugin", details=selection.provenance())
        exec_ = user.exec
        where = f"user {user.name!r} ({user.origin})"
        details = ctx.details
        details.update(
            {
                **selection.provenance(),
                "api_version": exec_.api_version,
                "command": exec_.command,
                "args": list(exec_.args),
                "interactive_mode": exec_.interactive_mode,
                "env_names": [name for name, _ in exec_.env],
            }
        )
        install = (
            f" Install hint from the kubeconfig: {exec_.install_hint.strip()}" if exec_.install_hint else ""
        )
        if not exec_.api_version:
            return Result.fail(
                f"apiVersion must be specified for {user.name} to use exec authentication plugin ({where})",
                hint="Set exec.apiVersion: client.authentication.k8s.io/v1 (or v1beta1, as the plugin documents).",
            )
        if exec_.api_version == "client.authentication.k8s.io/v1alpha1":
            return Result.fail(
                f"{where}: exec apiVersion client.authentication.k8s.io/v1alpha1 was removed in Kubernetes 1.24",
                hint="Update the plugin and regenerate the kubeconfig; set apiVersion client.authentication.k8s.io/v1 "
                "(or v1beta1)." + install,
            )
        if exec_.api_version not in EXEC_API_VERSIONS:
            return Result.fail(
                f"{where}: exec apiVersion {exec_.api_version!r} is not one kubectl knows "
                f"({', '.join(EXEC_API_VERSIONS)})",
                hint="Set exec.apiVersion to client.authentication.k8s.io/v1 or v1beta1.",
            )
        if not exec_.command:
            return Result.fail(
                f"command must be specified for {user.name} to use exec authentication plugin ({where})",
                hint="Set exec.command to the plugin's name or path." + install,
            )
        if exec_.api_version.endswith("/v1") and not exec_.interactive_mode:
            return Result.fail(
                f"interactiveMode must be specified for {user.name} to use exec authentication plugin ({where})",
                hint="Add `interactiveMode: IfAvailable` (or Never) to the exec stanza.",
            )
        if exec_.interactive_mode and exec_.interactive_mode not in INTERACTIVE_MODES:
            return Result.fail(
                f"invalid interactiveMode {exec_.interactive_mode!r} for {user.name} ({where}); use one of "
                f"{', '.join(INTERACTIVE_MODES)}",
                hint="Set interactiveMode to Never, IfAvailable or Always.",
            )
        unnamed = [i for i, (name, _) in enumerate(exec_.env) if not name]
        if unnamed:
            return Result.fail(
                f"env variable name must be specified for {user.name} to use exec authentication plugin ({where})",
                hint="Give every exec.env entry a name.",
            )
        command = exec_.command
        if os.sep in command:
            resolved = command
            if not os.path.isfile(command):
                return Result.fail(
                    f"exec: executable {command} not found ({where})",
                    hint="Install the plugin there or fix the path (relative paths resolve against the "
                    "kubeconfig's directory)." + install,
                )
            if not os.access(command, os.X_OK):
                return Result.fail(
                    f"exec: {command} is not executable ({where})",
                    hint=f"`chmod +x {command}`.",
                )
        else:
            found = ctx.environment.which(command)
            if found is None:
                return Result.fail(
                    f"exec: executable {command} not found on PATH ({where})",
                    hint=f"Install {command} and put it on PATH." + install,
                )
            resolved = found
        details["resolved_command"] = resolved
        return Result.ok(f"exec plugin {resolved} ({exec_.api_version}) for {where}")


class Permissions(Check):
    """Files holding secrets are readable only by their owner.

    Looks at every kubeconfig file that holds a token, password, private key, auth-provider token or
    exec env, and at the selected user's tokenFile and client-key file.
    - warn: such a file is readable by group or others; the hint gives the `chmod 600` that fixes it.
    """

    id = "kubeconfig.permissions"
    title = "Files holding credentials are private"
    depends_on = ("kubeconfig.found",)
    modes = (Mode.KUBECONFIG,)

    async def run(self, ctx: Context) -> Result:
        loaded = await ctx.probe(KUBECONFIG)
        material = await ctx.probe(MATERIAL)
        exposed: list[tuple[str, str, int]] = []
        for f in loaded.files:
            if f.holds_secrets and f.mode is not None and f.mode & 0o044:
                exposed.append((f.path, "kubeconfig with credentials", f.mode))
        for blob in (material.token_file, material.client_key):
            if blob is not None and blob.path and blob.mode is not None and blob.mode & 0o044:
                exposed.append((blob.path, blob.setting, blob.mode))
        details = ctx.details
        details.update({"exposed": [{"path": p, "what": w, "mode": f"{m:04o}"} for p, w, m in exposed]})
        if exposed:
            return Result.warn(
                "; ".join(f"{p} ({w}) has mode {m:04o}, readable by {_who(m)}" for p, w, m in exposed),
                hint="Make them private: " + _chmod_hint(list(dict.fromkeys(p for p, _, _ in exposed))) + ".",
            )
        return Result.ok("files holding credentials are readable only by their owner")


def _who(mode: int) -> str:
    who = []
    if mode & 0o040:
        who.append("group")
    if mode & 0o004:
        who.append("others")
    return " and ".join(who)


class PythonClient(Check):
    """Notes where the official Python `kubernetes` client reads this kubeconfig differently from kubectl.

    Python tooling (scripts, Ansible, Airflow operators) hits these and nobody tells its users why
    kubectl works and their script does not. The differences (kubernetes-client/python
    base/config/kube_config.py): with several KUBECONFIG files the Python client takes
    `current-context` from the last file that has the key (kubectl: the first that sets it); it
    refuses an empty file in KUBECONFIG (kubectl skips it); it keeps a tokenFile's trailing newline
    (kubectl trims it; the header becomes invalid); with HTTPS_PROXY set it sends requests for a
    loopback server through the proxy (kubectl never proxies loopback). With `--client python`
    also: `tls-server-name` (ignored by older releases) and exec plugins (a failing plugin is only
    logged, and the request goes without a credential).

    - pass: no difference applies; or (judging for kubectl, the default) the differences, as a note;
      tls-server-name and exec-plugin caveats, which depend on the Python tool's release or on a
      failure not seen here, are notes even with `--client python`.
    - warn (`--client python`): each difference, with the fix for the Python tool.
    """

    id = "kubeconfig.python-client"
    title = "The Python kubernetes client reads this kubeconfig as kubectl does"
    depends_on = ("kubeconfig.context",)
    modes = (Mode.KUBECONFIG,)

    async def run(self, ctx: Context) -> Result:
        loaded = await ctx.probe(KUBECONFIG)
        selection = await ctx.probe(SELECTION)
        notes: list[str] = []
        fixes: list[str] = []
        if (
            selection.context_source == "current-context"
            and loaded.python_current_context_origin is not None
            and loaded.python_current_context != loaded.current_context
        ):
            notes.append(
                f"current-context: kubectl uses {loaded.current_context!r} (first file, {loaded.current_context_origin}); "
                f"the Python client uses {loaded.python_current_context!r} (last file, {loaded.python_current_context_origin})"
            )
            fixes.append("pass context= explicitly in Python (config.load_kube_config(context=...))")
        empty = [f.path for f in loaded.files if f.loaded and f.empty]
        if empty and len(loaded.files) > len(empty):
            notes.append(
                f"{_join(empty)} {'is' if len(empty) == 1 else 'are'} empty: kubectl skips empty files, the Python "
                "client stops with 'Invalid kube-config ... file is empty'"
            )
            fixes.append("remove the empty files from KUBECONFIG")
        user = selection.user
        if user is not None and user.token is None and user.token_file:
            material = await ctx.probe(MATERIAL)
            blob = material.token_file
            if blob is not None and blob.data is not None and blob.data != blob.data.rstrip():
                notes.append(
                    f"tokenFile {user.token_file} ends with a newline or spaces: kubectl trims them, the Python client "
                    "sends them in the Authorization header"
                )
                fixes.append(f'strip the newline: `printf %s "$(cat {user.token_file})" > {user.token_file}`')
        cluster = selection.cluster
        proxy_var = next((k for k in ("HTTPS_PROXY", "https_proxy") if ctx.env.get(k)), None)
        if cluster is not None and cluster.server and proxy_var and not cluster.proxy_url:
            try:
                host = urlsplit(effective_server(cluster, user) or "").hostname
            except ValueError:
                host = None
            no_proxy = ctx.env.get("no_proxy") or ctx.env.get("NO_PROXY") or ""
            if host and is_loopback(host) and not _python_bypasses_proxy(host, no_proxy):
                notes.append(
                    f"{proxy_var} is set and the server {host} is loopback: kubectl connects directly, the Python "
                    "client sends the requests through the proxy"
                )
                fixes.append(f"add {host} to NO_PROXY for Python tools")
        python = ctx.options.client == "python"
        # Differences that depend on the Python tool's release or on a failure not seen here: notes,
        # even when judging for it (evidence over suspicion).
        version_notes: list[str] = []
        if python and cluster is not None and cluster.tls_server_name:
            # kubernetes-client/python base/config/kube_config.py _load_cluster_info copies
            # tls-server-name into Configuration.tls_server_name only in recent releases; older ones
            # check the certificate against the server URL's host.
            version_notes.append(
                f"tls-server-name {cluster.tls_server_name!r}: older Python client releases ignore it and check "
                "the certificate against the server URL's host (upgrade the kubernetes package)"
            )
        if python and user is not None and user.exec is not None:
            # kube_config.py _load_from_exec_plugin: any plugin error is only logged (logging.error) and
            # the request goes out without a credential, so the server answers 401.
            version_notes.append(
                "exec plugin: when it fails, the Python client only logs the error and sends requests without a "
                "credential (the server answers 401), where kubectl stops with the plugin's error: look for "
                "'exec:' in the Python tool's log when it gets 401"
            )
        details = ctx.details
        details.update(
            {
                **selection.provenance(),
                "differences": notes,
                "notes": version_notes,
                "client": ctx.options.client,
            }
        )
        version_text = "".join(f"; note: {n}" for n in version_notes)
        if notes and python:
            return Result.warn(
                "; ".join(notes) + version_text,
                hint="For the Python tool: " + "; ".join(fixes) + ".",
            )
        if version_notes:
            return Result.ok("no difference the Python client shows for this context" + version_text)
        if notes:
            # Judging for kubectl (the default): a Python tool's different reading is a note.
            return Result.ok(
                "kubectl reads this context as intended; note, the official Python client differs: "
                + "; ".join(notes)
                + " (kdoctor run --client python judges for it)",
            )
        return Result.ok("no known difference between kubectl and the Python client for this context")


def _python_bypasses_proxy(host: str, no_proxy: str) -> bool:
    """The Python client's NO_PROXY test for a host (one home: `kdoctor.proxyrules.python_client_bypasses`)."""
    bracketed = f"[{host}]" if ":" in host and not host.startswith("[") else host
    return python_client_bypasses(f"https://{bracketed}", no_proxy)


def _shadow_note(loaded: LoadedKubeconfig, details: dict[str, Any]) -> str:
    """Names that a later KUBECONFIG file defines again: kubectl silently uses the first (kdoctor.shadowing)."""
    shadows = shadowed_definitions([f for f in loaded.files if f.loaded])
    if not shadows:
        return ""
    details["shadowed"] = [s.to_dict() for s in shadows]
    shown = "; ".join(s.words() for s in shadows[:5])
    more = f" (and {len(shadows) - 5} more)" if len(shadows) > 5 else ""
    return f"; note: {shown}{more}"


#: This family's place in the report, along the access path (kdoctor.registry).
ORDER = 10

CHECKS = (
    Found,
    Parse,
    Structure,
    ContextSelected,
    Server,
    CertificateAuthority,
    TLSServerName,
    ProxyURL,
    CredentialsConfigured,
    ClientCertificate,
    ExecPlugin,
    Permissions,
    PythonClient,
)
