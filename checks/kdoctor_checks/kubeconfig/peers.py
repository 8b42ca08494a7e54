"""Other clients of the same kubeconfig: where the official Python client reads it differently."""

from __future__ import annotations

from urllib.parse import urlsplit

from kdoctor.api import (
    KUBECONFIG,
    MATERIAL,
    SELECTION,
    Check,
    Context,
    Mode,
    Result,
    effective_server,
    is_loopback,
    python_client_bypasses,
)
from kdoctor_checks.kubeconfig.common import join_names


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
                f"{join_names(empty)} {'is' if len(empty) == 1 else 'are'} empty: kubectl skips empty files, the Python "
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
