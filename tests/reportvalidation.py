"""Validate JSON reports against the shipped schema; sample reports for renderer tests.

Every test that produces a JSON report should call `assert_valid_report(doc)`:
    from tests.reportvalidation import assert_valid_report
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import jsonschema

from kdoctor.api import Status
from kdoctor.report import CheckResult, Report, TargetReport
from kdoctor.schema import load_report_schema


@lru_cache(maxsize=1)
def _validator() -> jsonschema.Draft202012Validator:
    schema = load_report_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )


def schema_errors(doc: Any) -> list[str]:
    """Every way `doc` breaks the report schema, as ``path: message`` lines (empty when valid)."""
    errors = sorted(_validator().iter_errors(doc), key=lambda e: list(map(str, e.absolute_path)))
    return [f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}" for e in errors]


def assert_valid_report(doc: dict[str, Any]) -> None:
    """Fail unless `doc` is a valid kdoctor.dev/report/v1 document.

    Beyond the schema: the summary counts are the results' counts, and no check id appears
    twice within one target.
    """
    problems = schema_errors(doc)
    assert not problems, "report does not match its schema:\n" + "\n".join(problems)
    statuses = Counter(r["status"] for t in doc["targets"] for r in t["results"])
    expected = {s.value: statuses.get(s.value, 0) for s in Status}
    assert doc["summary"] == expected, f"summary {doc['summary']} does not count the results {expected}"
    for target in doc["targets"]:
        ids = Counter(r["id"] for r in target["results"])
        repeated = [i for i, n in ids.items() if n > 1]
        assert not repeated, f"target {target['context']!r} repeats check ids {repeated}"


# --- sample reports --------------------------------------------------------------------------

LONG_HINT = (
    "The chain is not from the cluster CA: a TLS-intercepting proxy is in the path. Ask the proxy's "
    "owners to exempt the apiserver (add it to the bypass list), or set NO_PROXY=10.0.0.1 so kubectl "
    "connects directly; do not set insecure-skip-tls-verify, which lets anyone in the path read every "
    "request. Check with: openssl s_client -connect 10.0.0.1:6443 -showcerts </dev/null"
)


def _r(check_id: str, status: Status, summary: str, hint: str = "", **details: Any) -> CheckResult:
    duration = float(len(check_id)) / 4
    return CheckResult(
        id=check_id,
        title=f"Title of {check_id}",
        status=status,
        summary=summary,
        hint=hint,
        details=details,
        duration_ms=duration,
    )


def prod_target() -> TargetReport:
    """A target with every status, unicode, long text, timings, hops and a terminal escape."""
    return TargetReport(
        context="prod",
        cluster="prod-cluster",
        user="admin@prod",
        server="https://10.0.0.1:6443",
        mode="kubeconfig",
        config={"context": {"cluster": "prod-cluster", "user": "admin@prod"}, "user": {"token": "REDACTED"}},
        results=[
            _r("kubeconfig.file", Status.PASS, "found /home/zoë/.kube/config (1 file, 3 contexts)"),
            _r(
                "kubeconfig.permissions",
                Status.WARN,
                "/home/zoë/.kube/config is readable by group and others (mode 0644) and holds a token",
                "Run: chmod 600 /home/zoë/.kube/config",
                mode="0644",
            ),
            _r("kubeconfig.context", Status.PASS, "context prod → cluster prod-cluster, user admin@prod"),
            _r(
                "proxy.path",
                Status.WARN,
                "HTTPS_PROXY=http://proxy.corp:3128 is used for 10.0.0.1 (not in NO_PROXY)",
                "Add the apiserver to NO_PROXY if the proxy is not meant to see cluster traffic.",
                hops=[
                    {"kind": "http-proxy", "evidence": "HTTPS_PROXY=http://proxy.corp:3128"},
                    {
                        "kind": "tls-intercepting-proxy",
                        "evidence": "issuer CN=corp-proxy-ca | not the cluster CA",
                    },
                ],
            ),
            _r(
                "tls.chain",
                Status.FAIL,
                "x509: certificate signed by unknown authority (issuer CN=corp-proxy-ca, not the cluster CA "
                "CN=kubernetes); the served chain was "
                "MIIBszCCAVmgAwIBAgIUQx0yZ2Zk3JkNnQxLz4xR0ZpY2tleS1jYS10aGF0LWlzLWxvbmc=",
                LONG_HINT,
                issuer="CN=corp-proxy-ca",
                timings_ms={"dns": 1.24, "connect": 0.4, "tls": 13.0, "first_byte": 1234.5},
            ),
            _r("tls.hostname", Status.SKIP, "skipped: tls.chain failed"),
            _r("auth.whoami", Status.SKIP, "skipped: tls.chain failed"),
            _r(
                "auth.exec",
                Status.ERROR,
                "RuntimeError: plugin wrote \x1b[31mred\x1b[0m to stdout\r and exited",
                "This is a bug in kdoctor; run with --debug and report it.",
            ),
            _r(
                "dns.server",
                Status.PASS,
                "10.0.0.1 is an IP address, no lookup needed",
                timings_ms={"connect": 0.25},
            ),
            _r("apiserver.version", Status.SKIP, "skipped: tls.chain failed"),
            _r("apiserver.readyz", Status.PASS, "サーバーは正常です (all 14 checks ok)"),
        ],
    )


def staging_target() -> TargetReport:
    """A healthy second target with no cluster/user names (in-cluster style, server unknown)."""
    return TargetReport(
        context="staging|eu",
        cluster=None,
        user=None,
        server=None,
        mode="kubeconfig",
        results=[
            _r("kubeconfig.file", Status.PASS, "found /home/zoë/.kube/config"),
            _r(
                "proxy.path",
                Status.PASS,
                "direct connection",
                hops=[{"kind": "direct", "evidence": "no proxy set"}],
            ),
        ],
    )


def single_report() -> Report:
    """One target, every status, and a plugin that failed to load."""
    return Report(
        kdoctor_version="0.1.0",
        started_at="2026-11-30T12:00:00Z",
        duration_ms=84.2,
        targets=[prod_target()],
        plugin_errors={"acme": "ModuleNotFoundError: No module named 'acme_checks'"},
    )


def multi_report() -> Report:
    """Two targets, as --all-contexts makes."""
    return Report(
        kdoctor_version="0.1.0",
        started_at="2026-11-30T12:00:00.250+01:00",
        duration_ms=1520.0,
        targets=[prod_target(), staging_target()],
    )


def empty_report() -> Report:
    """A run that had nothing to check."""
    return Report(kdoctor_version="0.1.0", started_at="2026-11-30T12:00:00Z", duration_ms=0.0, targets=[])


# --- golden files ----------------------------------------------------------------------------

GOLDEN_DIR = Path(__file__).parent / "golden"


def assert_golden(name: str, actual: str) -> None:
    """Compare `actual` byte for byte with tests/golden/`name`.

    Run with KDOCTOR_UPDATE_GOLDEN=1 to rewrite the file, then review the diff.
    """
    path = GOLDEN_DIR / name
    data = actual.encode("utf-8")
    if os.environ.get("KDOCTOR_UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    assert path.exists(), f"no golden file {path}; run with KDOCTOR_UPDATE_GOLDEN=1 to create it"
    expected = path.read_bytes().decode("utf-8")
    assert actual == expected, f"output differs from {path} (KDOCTOR_UPDATE_GOLDEN=1 rewrites it)"


# --- the three kinds of target the golden tests render (compact and -v) ---------------------

#: The built-in dependency graph, as far as the sample targets below use it.
SAMPLE_GRAPH: dict[str, tuple[str, ...]] = {
    "kubeconfig.parse": ("kubeconfig.found",),
    "kubeconfig.context": ("kubeconfig.found",),
    "kubeconfig.server": ("kubeconfig.context",),
    "kubeconfig.ca": ("kubeconfig.context",),
    "kubeconfig.client-cert": ("kubeconfig.context",),
    "apiserver.dns": ("kubeconfig.server",),
    "apiserver.tcp": ("apiserver.dns",),
    "apiserver.version": ("apiserver.tcp",),
    "apiserver.readyz": ("apiserver.version",),
    "proxy.path": ("kubeconfig.server",),
    "tls.chain": ("apiserver.tcp", "kubeconfig.ca"),
    "tls.expiry": ("apiserver.tcp", "kubeconfig.ca"),
    "auth.credential": ("tls.chain", "apiserver.version"),
    "auth.identity": ("tls.chain", "apiserver.version", "auth.credential"),
}

CHAIN_HINT = (
    "A TLS-intercepting proxy re-signs the apiserver's certificate: add the apiserver to NO_PROXY "
    "(`export NO_PROXY=$NO_PROXY,10.0.0.1`) so kubectl connects directly. Compare fingerprints with "
    "`openssl s_client -connect 10.0.0.1:6443 </dev/null | openssl x509 -noout -fingerprint -sha256`."
)


def _target(context: str, results: list[CheckResult]) -> TargetReport:
    return TargetReport(
        context=context,
        cluster=context,
        user=f"{context}-admin",
        server="https://10.0.0.1:6443",
        mode="kubeconfig",
        results=results,
        depends_on=SAMPLE_GRAPH,
    )


def _passing_kubeconfig() -> list[CheckResult]:
    return [
        _r("kubeconfig.found", Status.PASS, "using /home/ana/.kube/config"),
        _r("kubeconfig.parse", Status.PASS, "1 file parsed"),
        _r("kubeconfig.context", Status.PASS, "context prod → cluster prod, user prod-admin"),
        _r("kubeconfig.server", Status.PASS, "https://10.0.0.1:6443"),
        _r("kubeconfig.ca", Status.PASS, "1 CA certificate: CN=kubernetes"),
        _r("kubeconfig.client-cert", Status.SKIP, "the user does not use a client certificate"),
    ]


def failing_target() -> TargetReport:
    """tls.chain is the broken link: what depends on it is not run, proxy.path names it."""
    cert = {
        "subject": "CN=kube-apiserver",
        "issuer": "CN=corp-proxy-ca",
        "sha256": "AB:CD:EF:01",
        "serial": "2069c11060b29f7c14bd9c2a456683e1a9df3591",
        "not_before": "2026-11-01T00:00:00Z",
        "not_after": "2027-11-01T00:00:00Z",
        "dns_names": ["kubernetes", "kubernetes.default"],
        "key_type": "EC",
        "pem": "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUQx0y\n-----END CERTIFICATE-----\n",
    }
    return _target(
        "prod",
        [
            *_passing_kubeconfig(),
            _r("apiserver.dns", Status.PASS, "10.0.0.1 is an IP address: no lookup needed"),
            _r(
                "apiserver.tcp",
                Status.PASS,
                "connected to 10.0.0.1:6443 in 0.8 ms",
                timings_ms={"connect": 0.8},
            ),
            _r(
                "apiserver.version",
                Status.SKIP,
                "no HTTP exchange: certificate verification failed (tls.chain or tls.hostname says why)",
            ),
            _r("apiserver.readyz", Status.SKIP, "skipped: tls.chain failed"),
            _r(
                "proxy.path",
                Status.SKIP,
                "not examined beyond client → apiserver: the TLS handshake failed (tls.chain)",
                hops=[{"kind": "direct", "evidence": "no proxy set"}],
            ),
            _r(
                "tls.chain",
                Status.FAIL,
                "x509: certificate signed by unknown authority (issuer CN=corp-proxy-ca, not the cluster CA "
                "CN=kubernetes)",
                CHAIN_HINT,
                chain=[cert],
                timings_ms={"connect": 0.9, "tls": 3.1},
            ),
            _r("tls.expiry", Status.PASS, "CN=kube-apiserver is valid until 2027-11-01 (330 days)"),
            _r("auth.credential", Status.SKIP, "skipped: tls.chain failed"),
            _r("auth.identity", Status.SKIP, "skipped: tls.chain failed"),
        ],
    )


def warning_target() -> TargetReport:
    """Every link works; the serving certificate expires soon."""
    return _target(
        "staging",
        [
            *_passing_kubeconfig(),
            _r("apiserver.dns", Status.PASS, "10.0.0.1 is an IP address: no lookup needed"),
            _r("apiserver.tcp", Status.PASS, "connected to 10.0.0.1:6443 in 0.8 ms"),
            _r("apiserver.version", Status.PASS, "Kubernetes v1.31.4"),
            _r("apiserver.readyz", Status.PASS, "/readyz: ok"),
            _r(
                "proxy.path",
                Status.PASS,
                "client → apiserver directly",
                hops=[{"kind": "direct", "evidence": "-"}],
            ),
            _r(
                "tls.chain", Status.PASS, "CN=kube-apiserver ← CN=kubernetes, verified against the cluster CA"
            ),
            _r(
                "tls.expiry",
                Status.WARN,
                "CN=kube-apiserver expires on 2026-12-16 00:51 UTC, in 10 days",
                "Renew it before then (kubeadm: `kubeadm certs renew apiserver`, then restart kube-apiserver).",
            ),
            _r("auth.credential", Status.PASS, "token sha256:11933330 from the token setting"),
            _r("auth.identity", Status.PASS, "authenticated as ana (groups: system:authenticated)"),
        ],
    )


def healthy_target() -> TargetReport:
    """Every link works."""
    target = warning_target()
    results = [
        replace(r, status=Status.PASS, summary="CN=kube-apiserver is valid until 2027-11-01", hint="")
        if r.id == "tls.expiry"
        else r
        for r in target.results
    ]
    return replace(target, context="dev", cluster="dev", user="dev-admin", results=results)


def kind_report(kind: str) -> Report:
    """`failing`, `warning`, `healthy` (one target each) or `mixed` (all three, as --all-contexts)."""
    makers = {"failing": [failing_target], "warning": [warning_target], "healthy": [healthy_target]}
    targets = [m() for m in makers.get(kind, [failing_target, warning_target, healthy_target])]
    return Report(
        kdoctor_version="0.1.0", started_at="2026-11-30T12:00:00Z", duration_ms=84.2, targets=targets
    )
