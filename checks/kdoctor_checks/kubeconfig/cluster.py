"""The selected cluster: server URL, CA, TLS server name and proxy URL."""

from __future__ import annotations

import ipaddress
from typing import Any
from urllib.parse import urlsplit

from kdoctor.api import (
    MATERIAL,
    SELECTION,
    Check,
    ClusterEntry,
    Context,
    Mode,
    Result,
    Selection,
    Unavailable,
    certificate_facts,
    describe,
    dns_name_problem,
    effective_server,
    expires_soon,
    has_tls_settings,
    is_loopback,
    parse_pem_certificates,
    server_url_problem,
)


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
