"""The selected user: credentials configured, client certificate and key, exec plugin."""

from __future__ import annotations

import os

import kdoctor.api as api
from kdoctor.api import (
    EXEC_API_VERSIONS,
    INTERACTIVE_MODES,
    MATERIAL,
    SELECTION,
    Check,
    Context,
    Mode,
    Result,
    certificate_facts,
    describe,
    expires_soon,
    fingerprint,
    key_problem,
    parse_pem_certificates,
)
from kdoctor_checks.kubeconfig.common import KUBECTL_PROXY_NOTE, plain_http_loopback

# `api.removed_provider_migration` and `api.client_cert_facts` resolve on first use (the facade's
# lazy names): kdoctor.cloudcreds and kdoctor.credentials (with kdoctor.jwt, ~5 ms) load for a removed
# auth-provider or a client certificate, not for `--check kubeconfig` on a token.


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
            if plain_http_loopback(selection.cluster):
                return Result.ok(f"context {selection.context_name!r} has no user{KUBECTL_PROXY_NOTE}")
            return Result.warn(
                f"context {selection.context_name!r} has no user: requests are anonymous",
                hint=f"Set a user: `kubectl config set-context {selection.context_name} --user=USER`.",
            )
        methods = user.methods
        details["methods"] = methods
        where = f"user {user.name!r} ({user.origin})"
        if not methods and plain_http_loopback(selection.cluster):
            return Result.ok(f"{where} has no credentials{KUBECTL_PROXY_NOTE}")
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
            migration = api.removed_provider_migration(provider, ctx.environment.which)
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
            renew = api.client_cert_facts(cert_blob.data, None).kubeadm_command
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
