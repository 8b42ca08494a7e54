"""The root cause of a target, table-tested: a pure function of results, graph and access path."""

from __future__ import annotations

from dataclasses import replace

import pytest

from kdoctor.api import Status
from kdoctor.report import CheckResult
from kdoctor.rootcause import ACCESS_PATH, blocked_by, find_root_cause, path_rank, retarget_skips

P, W, F, S, E = Status.PASS, Status.WARN, Status.FAIL, Status.SKIP, Status.ERROR

GRAPH = {
    "kubeconfig.context": ("kubeconfig.found",),
    "kubeconfig.server": ("kubeconfig.context",),
    "kubeconfig.exec": ("kubeconfig.context",),
    "apiserver.dns": ("kubeconfig.server",),
    "apiserver.tcp": ("apiserver.dns",),
    "apiserver.version": ("apiserver.tcp",),
    "apiserver.livez": ("apiserver.version",),
    "apiserver.readyz": ("apiserver.version",),
    "proxy.env": ("kubeconfig.server",),
    "proxy.path": ("kubeconfig.server",),
    "tls.chain": ("apiserver.tcp",),
    "tls.hostname": ("apiserver.tcp",),
    "auth.credential": ("tls.chain", "apiserver.version"),
    "auth.identity": ("tls.chain", "apiserver.version", "auth.credential"),
    "auth.permissions": ("auth.identity",),
}


def results(*pairs: tuple[str, Status] | tuple[str, Status, str]) -> list[CheckResult]:
    out = []
    for pair in pairs:
        check_id, status = pair[0], pair[1]
        summary = pair[2] if len(pair) > 2 else f"{check_id} {status.value}"  # type: ignore[misc]
        out.append(CheckResult(check_id, "t", status, summary, hint=f"fix {check_id}"))
    return out


CASES = [
    pytest.param(
        results(("kubeconfig.found", P), ("apiserver.tcp", P), ("tls.chain", F), ("auth.identity", S)),
        "tls.chain",
        id="one failure",
    ),
    pytest.param(results(("kubeconfig.found", P), ("tls.expiry", W)), None, id="warnings are never the root"),
    pytest.param(results(("kubeconfig.found", P), ("tls.chain", P)), None, id="healthy"),
    pytest.param(
        results(("auth.exec", E), ("tls.chain", P)), None, id="an error is a kdoctor bug, not a link"
    ),
    pytest.param(
        results(("auth.exec", E), ("tls.chain", F)), "tls.chain", id="an error beside a failure: the failure"
    ),
    pytest.param(
        # Report order puts proxy before tls and tls before apiserver.version; the path decides.
        results(("apiserver.tcp", F), ("proxy.env", F), ("tls.chain", S)),
        "apiserver.tcp",
        id="tcp comes before proxy along the path",
    ),
    pytest.param(
        results(("apiserver.version", F), ("proxy.path", P), ("tls.hostname", F)),
        "tls.hostname",
        id="tls before the first HTTP exchange",
    ),
    pytest.param(
        results(("apiserver.livez", F), ("apiserver.readyz", F), ("auth.identity", F)),
        "auth.identity",
        id="identity before health",
    ),
    pytest.param(
        results(("kubeconfig.exec", F), ("tls.chain", F)),
        "tls.chain",
        id="the credential plugin comes after TLS along the path",
    ),
    pytest.param(
        results(("kubeconfig.found", F), ("kubeconfig.context", S), ("apiserver.tcp", S)),
        "kubeconfig.found",
        id="kubeconfig first",
    ),
    pytest.param(
        results(("incluster.token", F), ("dns.service", F)),
        "incluster.token",
        id="in a pod: files before DNS",
    ),
    pytest.param(
        results(("apiserver.livez", F), ("apiserver.readyz", F)),
        "apiserver.livez",
        id="same stage: report order",
    ),
    pytest.param(
        # auth.permissions fails, but what it depends on failed before it: that is the cause.
        results(("auth.identity", F), ("auth.permissions", F)),
        "auth.identity",
        id="explained by a failed dependency",
    ),
    pytest.param(
        results(("acme.widget", F), ("apiserver.livez", F)),
        "apiserver.livez",
        id="third-party families come last",
    ),
    pytest.param(results(("acme.widget", F)), "acme.widget", id="a third-party failure alone is the root"),
]


@pytest.mark.parametrize(("target", "expected"), CASES)
def test_root_cause(target: list[CheckResult], expected: str | None) -> None:
    root = find_root_cause(target, GRAPH)
    assert (root.id if root else None) == expected
    if root is not None:
        source = next(r for r in target if r.id == expected)
        assert (root.summary, root.hint) == (source.summary, source.hint)
        assert root.to_json_dict() == {"id": expected, "summary": source.summary, "hint": source.hint}


def test_a_failure_behind_a_failed_dependency_is_explained_even_if_earlier_on_the_path() -> None:
    # A made-up graph where a health check feeds an identity check: the graph wins over the order.
    graph = {"auth.identity": ("apiserver.livez",)}
    root = find_root_cause(results(("auth.identity", F), ("apiserver.livez", F)), graph)
    assert root is not None and root.id == "apiserver.livez"


def test_access_path_order() -> None:
    ids = [
        "incluster.token",
        "kubeconfig.found",
        "kubeconfig.server",
        "apiserver.dns",
        "apiserver.tcp",
        "proxy.env",
        "tls.chain",
        "apiserver.version",
        "auth.credential",
        "auth.identity",
        "apiserver.readyz",
        "kubeconfig.permissions",
        "acme.widget",
    ]
    ranks = [path_rank(i) for i in ids]
    assert ranks == sorted(ranks)
    assert path_rank("acme.widget") == len(ACCESS_PATH)


def test_blocked_by_follows_the_graph_and_named_causes() -> None:
    target = results(
        ("apiserver.tcp", P),
        ("tls.chain", F),
        (
            "apiserver.version",
            S,
            "no HTTP exchange: verification failed (tls.chain or tls.hostname says why)",
        ),
        ("apiserver.livez", S, "skipped: apiserver.version was skipped"),
        ("proxy.path", S, "not examined beyond client → apiserver: the TLS handshake failed (tls.chain)"),
        ("auth.identity", S, "skipped: tls.chain failed"),
        ("kubeconfig.exec", S, "the user has no exec plugin"),
        ("tls.chain-extra", S, "mentions tls.chain-extra only"),
    )
    by_id = {r.id: r for r in target}
    assert blocked_by(by_id["auth.identity"], target, GRAPH) == "tls.chain"
    assert blocked_by(by_id["apiserver.version"], target, GRAPH) == "tls.chain"
    # Through a skipped neighbour whose own reason names the failure.
    assert blocked_by(by_id["apiserver.livez"], target, GRAPH) == "tls.chain"
    # No edge to tls.chain, but the check skipped because it could only repeat it, and says so.
    assert blocked_by(by_id["proxy.path"], target, GRAPH) == "tls.chain"
    assert blocked_by(by_id["kubeconfig.exec"], target, GRAPH) is None
    # No edge either, but it names a skipped check whose reason names the failure.
    clock = CheckResult(
        "apiserver.clock", "t", S, "no Date header (GET /version got no answer: see apiserver.version)"
    )
    assert blocked_by(clock, [*target, clock], {"apiserver.clock": ("apiserver.tcp",)}) == "tls.chain"
    assert blocked_by(by_id["tls.chain-extra"], target, GRAPH) is None
    assert blocked_by(by_id["tls.chain"], target, GRAPH) is None


def test_skip_reasons_name_the_root_not_the_skipped_neighbour() -> None:
    target = results(
        ("apiserver.tcp", P),
        ("tls.chain", F),
        ("apiserver.version", S, "no HTTP exchange (tls.chain says why)"),
        ("apiserver.livez", S, "skipped: apiserver.version was skipped"),
        ("auth.credential", S, "skipped: tls.chain failed"),
        ("kubeconfig.exec", S, "skipped: kubeconfig.context was skipped"),
    )
    out = retarget_skips(target, GRAPH, lambda r, text: replace(r, summary=text))
    summaries = {r.id: r.summary for r in out}
    assert summaries["apiserver.livez"] == "skipped: tls.chain failed"
    assert summaries["auth.credential"] == "skipped: tls.chain failed"
    assert summaries["apiserver.version"] == "no HTTP exchange (tls.chain says why)"
    # Nothing failed upstream of it: the runner's words stay.
    assert summaries["kubeconfig.exec"] == "skipped: kubeconfig.context was skipped"
    assert [r.id for r in out] == [r.id for r in target]
