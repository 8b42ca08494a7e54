"""The dns family: does this pod's resolver find the apiserver, and only what exists?

In a pod, `kubernetes.default.svc` is resolved by the pod's own resolver from its resolv.conf
(written by the kubelet: the cluster DNS Service as nameserver, `<ns>.svc.<domain> svc.<domain>
<domain>` as search list, `ndots:5`). These checks read that file, then ask its nameservers
directly on port 53 the questions the resolver would ask, in the order it would ask them.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kdoctor.api import (
    FQDN_LOOKUP,
    KUBELET_NDOTS,
    MAX_NAMESERVERS,
    MUSL_MAX_LINE,
    NAMESERVERS,
    OLD_GLIBC_MAX_SEARCH,
    OLD_GLIBC_MAX_SEARCH_CHARS,
    RESOLV_CONF,
    SERVICE_LOOKUP,
    SERVICE_NAME,
    WILDCARD_LOOKUP,
    Check,
    Context,
    Mode,
    Result,
    is_loopback,
    normal_ip,
)

if TYPE_CHECKING:
    # annotations only: importing them would load their probes with the family
    from kdoctor.api import Lookup, NameAnswer, ResolvConfFacts

# kdoctor.probes.clusterdns is imported where it is used: outside a pod these checks do not apply,
# and its resolver model would only cost start-up time.

__all__ = ["CHECKS", "Finding", "resolv_conf_findings"]

_NETPOL_HINT = (
    "Check that the cluster DNS pods run (`kubectl -n kube-system get pods -l k8s-app=kube-dns`) and that no "
    "NetworkPolicy blocks this pod's egress to them on port 53 (UDP and TCP)."
)


@dataclass(frozen=True)
class Finding:
    """One thing wrong with a resolv.conf: how bad, what, and the fix."""

    severity: str  # "fail" or "warn"
    code: str
    message: str
    hint: str


def resolv_conf_findings(facts: ResolvConfFacts) -> list[Finding]:
    """Everything kdoctor knows to be wrong with this resolv.conf, worst first."""
    conf = facts.conf
    if conf is None:
        return [
            Finding(
                "fail",
                "unreadable",
                f"cannot read {facts.path}: {facts.error}",
                "Pass the pod's resolv.conf with --resolv-conf, or check that the container has /etc/resolv.conf.",
            )
        ]
    found: list[Finding] = []
    if not conf.nameservers:
        found.append(
            Finding(
                "fail",
                "no-nameserver",
                f"{facts.path} names no nameserver"
                + (f" (invalid: {', '.join(conf.invalid_nameservers)})" if conf.invalid_nameservers else ""),
                "With no nameserver, resolvers ask 127.0.0.1, which nothing in a pod answers. Use dnsPolicy "
                "ClusterFirst, or set dnsConfig.nameservers to the cluster DNS Service IP.",
            )
        )
    elif conf.invalid_nameservers:
        found.append(
            Finding(
                "warn",
                "invalid-nameserver",
                f"nameserver lines resolvers ignore: {', '.join(conf.invalid_nameservers)}",
                "A nameserver must be an IP address; fix dnsConfig.nameservers in the pod spec.",
            )
        )
    loopback = [ns for ns in conf.honoured_nameservers if is_loopback(ns.split("%", 1)[0])]
    if loopback:
        found.append(
            Finding(
                "warn",
                "loopback-nameserver",
                f"loopback nameserver {', '.join(loopback)}: inside a pod that is the pod itself (or, with "
                "hostNetwork, the node's local stub resolver, which knows no cluster names)",
                "A node resolv.conf with a loopback stub (systemd-resolved 127.0.0.53) handed to pods or to "
                "CoreDNS (`forward . /etc/resolv.conf`) makes a forwarding loop: point kubelet's --resolv-conf "
                "at /run/systemd/resolve/resolv.conf, and use dnsPolicy ClusterFirstWithHostNet for hostNetwork pods.",
            )
        )
    if conf.ignored_nameservers:
        found.append(
            Finding(
                "warn",
                "too-many-nameservers",
                f"{len(conf.nameservers)} nameservers; glibc and musl use only the first {MAX_NAMESERVERS}, "
                f"ignoring {', '.join(conf.ignored_nameservers)}",
                f"Keep at most {MAX_NAMESERVERS} nameservers (kubelet trims the node's list the same way).",
            )
        )
    if conf.ndots is None:
        found.append(
            Finding(
                "warn",
                "ndots-missing",
                f"no `options ndots:` (resolvers use 1; kubelet writes ndots:{KUBELET_NDOTS} for ClusterFirst "
                f"pods), so {SERVICE_NAME} is first sent to the upstream DNS as is",
                'Use dnsPolicy ClusterFirst, or add `options: [{name: ndots, value: "5"}]` to dnsConfig.',
            )
        )
    elif conf.ndots_effective < KUBELET_NDOTS:
        musl_note = (
            f"; musl (Alpine) never applies the search list to a name with {conf.ndots_effective} or more dots, "
            f"so {SERVICE_NAME} (2 dots) does not resolve there"
            if conf.ndots_effective <= SERVICE_NAME.count(".")
            else ""
        )
        found.append(
            Finding(
                "warn",
                "ndots-low",
                f"ndots:{conf.ndots_effective} is below kubelet's {KUBELET_NDOTS}: names with that many dots "
                f"go to the upstream DNS first{musl_note}",
                f"Use fully qualified names (`{SERVICE_NAME}.<cluster domain>.`) in clients, or raise ndots "
                "in dnsConfig.options.",
            )
        )
    if not conf.search:
        found.append(
            Finding(
                "warn",
                "no-search",
                "no search list: short Service names such as `kubernetes.default` do not resolve",
                "Use dnsPolicy ClusterFirst (kubelet writes `<ns>.svc.<domain> svc.<domain> <domain>`).",
            )
        )
    if len(conf.search) > OLD_GLIBC_MAX_SEARCH or conf.search_chars > OLD_GLIBC_MAX_SEARCH_CHARS:
        kept = conf.search_for("glibc<2.26")
        found.append(
            Finding(
                "warn",
                "search-too-long",
                f"{len(conf.search)} search domains ({conf.search_chars} characters): glibc >= 2.26 uses all, "
                f"glibc < 2.26 only the first {len(kept)} ({OLD_GLIBC_MAX_SEARCH} domains / "
                f"{OLD_GLIBC_MAX_SEARCH_CHARS} characters at most)",
                "Trim the node's search list (kubelet appends it to the pod's) or dnsConfig.searches.",
            )
        )
    if conf.search_line_length > MUSL_MAX_LINE:
        found.append(
            Finding(
                "warn",
                "search-line-musl",
                f"the search line is {conf.search_line_length} characters: musl (Alpine) ignores any "
                f"resolv.conf line over {MUSL_MAX_LINE}, so it searches no domain at all",
                "Shorten the search list below 255 characters, or avoid musl-based images.",
            )
        )
    for name, value in facts.env_overrides:
        found.append(
            Finding(
                "warn",
                "env-override",
                f"{name}={value!r} is set: glibc applies it on top of {facts.path}"
                + (" (it replaces the search list)" if name == "LOCALDOMAIN" else ""),
                f"Unset {name} unless it is deliberate.",
            )
        )
    return found


class ResolvConf(Check):
    """Reads the pod's resolv.conf and flags settings that break or slow cluster DNS.

    Looks at nameservers (glibc and musl use the first 3), the search list (glibc >= 2.26 uses all
    domains; glibc < 2.26 the first 6 within 256 characters; musl ignores a line over 254
    characters), `ndots` (kubelet writes 5), and LOCALDOMAIN/RES_OPTIONS in the environment.

    - pass: nothing known to be wrong.
    - warn: ndots missing or below 5; more nameservers or search domains than resolvers honour; a
      loopback nameserver that does not answer the cluster's names (inside a pod that is a
      forwarding-loop or hostNetwork-stub risk); no search list.
    - a loopback nameserver that answers `kubernetes.default.svc.<domain>` with an address is a
      node-local cache or a sidecar doing its job: a note in the passing summary, not a warning.
    - fail: the file cannot be read or names no nameserver.
    """

    id = "dns.resolv-conf"
    title = "The pod's resolv.conf is one resolvers use as intended"
    modes = (Mode.IN_CLUSTER,)

    async def run(self, ctx: Context) -> Result:
        facts = await ctx.probe(RESOLV_CONF)
        findings = resolv_conf_findings(facts)
        notes: list[str] = []
        if any(f.code == "loopback-nameserver" for f in findings):
            findings, notes = await _loopback_evidence(ctx, findings)
        details = ctx.details
        details.update({"path": facts.path})
        if facts.conf is not None:
            details.update(facts.conf.to_details())
            domain, source = facts.domain
            details["cluster_domain"] = {"domain": domain, "source": source}
        details["findings"] = [
            {"severity": f.severity, "code": f.code, "message": f.message} for f in findings
        ]
        details["notes"] = notes
        note_text = "".join(f"; note: {n}" for n in notes)
        fails = [f for f in findings if f.severity == "fail"]
        if fails:
            return Result.fail("; ".join(f.message for f in fails), hint=fails[0].hint)
        if findings:
            return Result.warn(
                "; ".join(f.message for f in findings) + note_text,
                hint=" ".join(dict.fromkeys(f.hint for f in findings)),
            )
        conf = facts.conf
        assert conf is not None
        return Result.ok(
            f"nameserver {', '.join(conf.honoured_nameservers)}; search {' '.join(conf.search)}; "
            f"ndots:{conf.ndots_effective}{note_text}",
        )


async def _loopback_evidence(ctx: Context, findings: list[Finding]) -> tuple[list[Finding], list[str]]:
    """Evidence over suspicion: a loopback nameserver that answers the cluster's own name is a
    node-local cache or a sidecar doing its job, so the finding becomes a note."""
    # DNSUnavailable: the probe's own failure (no usable resolv.conf), which dns.resolv-conf reports.
    # lazy: its home is the in-pod DNS model, which a run outside a pod never loads
    from kdoctor.api import DNSUnavailable

    # dns.service, dns.fqdn and dns.wildcard wait for this check's verdict; their lookups, started
    # now, run during this query instead of after it (a silent nameserver costs one --timeout).
    ctx.prefetch(SERVICE_LOOKUP, FQDN_LOOKUP, WILDCARD_LOOKUP)
    try:
        answers = await ctx.probe(NAMESERVERS)
    except DNSUnavailable:
        return findings, []
    loopback = [a for a in answers if is_loopback(_server(a))]
    if not loopback or not all(a.resolved for a in loopback):
        return findings, []
    kept = [f for f in findings if f.code != "loopback-nameserver"]
    notes = [
        f"loopback nameserver {_server(a)} answers {a.name.rstrip('.')} with {', '.join(a.addresses)} "
        "(a node-local DNS cache or a sidecar resolver)"
        for a in loopback
    ]
    return kept, notes


class Nameservers(Check):
    """Asks each nameserver of resolv.conf, on its own, for `kubernetes.default.svc.<cluster domain>`.

    - pass: every nameserver answers (NOERROR or NXDOMAIN) and they agree.
    - warn: a nameserver after the first does not answer (lookups that reach it wait the full
      timeout), answers SERVFAIL/REFUSED, or answers differently from the others (NXDOMAIN: it is not
      the cluster DNS).
    - fail: the first nameserver, or every one, does not answer: every lookup waits the resolver's
      timeout and then fails. Check the DNS pods and NetworkPolicies.
    """

    id = "dns.nameservers"
    title = "Every nameserver of the pod answers"
    depends_on = ("dns.resolv-conf",)
    modes = (Mode.IN_CLUSTER,)

    async def run(self, ctx: Context) -> Result:
        answers = await ctx.probe(NAMESERVERS)
        details = ctx.details
        details.update({"nameservers": [_ns_details(a) for a in answers]})
        silent = [_server(a) for a in answers if a.outcome in ("TIMEOUT", "ERROR")]
        failing = [f"{_server(a)} ({a.code})" for a in answers if a.outcome in ("SERVFAIL", "REFUSED")]
        codes = {a.code for a in answers if a.outcome in ("NOERROR", "NXDOMAIN")}
        if answers and len(silent) == len(answers):
            return Result.fail(f"no nameserver answered: {', '.join(silent)}", hint=_NETPOL_HINT)
        if answers and _server(answers[0]) in silent:
            return Result.fail(
                f"the first nameserver {silent[0]} does not answer: every lookup waits "
                f"{_timeout(ctx)} before trying the next",
                hint=_NETPOL_HINT,
            )
        problems = []
        if silent:
            problems.append(f"{', '.join(silent)} did not answer")
        if failing:
            problems.append(f"{', '.join(failing)} failed")
        if len(codes) > 1:
            problems.append(
                "the nameservers disagree: "
                + ", ".join(f"{_server(a)} {a.code}" for a in answers if a.outcome in ("NOERROR", "NXDOMAIN"))
            )
        if problems:
            return Result.warn(
                "; ".join(problems),
                hint="All nameservers of a pod should be the cluster DNS (dnsPolicy ClusterFirst); "
                "a resolver asks the next one only when the first fails, so answers vary by luck. "
                + _NETPOL_HINT,
            )
        return Result.ok(
            ", ".join(f"{_server(a)} answered {a.code} in {a.elapsed_ms:.1f} ms" for a in answers),
        )


def _server(answer: NameAnswer) -> str:
    return answer.attempts[0].nameserver if answer.attempts else (answer.nameserver or "?")


def _ns_details(answer: NameAnswer) -> dict[str, Any]:
    out = answer.to_details()
    out["server"] = _server(answer)
    return out


def _timeout(ctx: Context) -> str:
    facts = ctx.peek(RESOLV_CONF)
    return f"{facts.conf.timeout_effective}s" if facts and facts.conf else "the timeout"


def _lookup_summary(lookup: Lookup) -> str:
    answer = lookup.answer
    assert answer is not None
    position = [c.name for c in lookup.candidates].index(answer.name) + 1
    return (
        f"{lookup.name} → {', '.join(answer.addresses)} via {answer.name} (candidate {position} of "
        f"{len(lookup.candidates)}, from {answer.nameserver} over {answer.transport}, {answer.elapsed_ms:.1f} ms)"
    )


def _trail(lookup: Lookup) -> str:
    return ", ".join(f"{c.name} {c.code}" for c in lookup.candidates if c.outcome != "NOT-TRIED")


def _failure_hint(lookup: Lookup) -> str:
    outcome = lookup.outcome
    if outcome in ("TIMEOUT", "ERROR"):
        return _NETPOL_HINT
    if outcome == "SERVFAIL":
        return (
            "The cluster DNS failed to answer: look at its logs (`kubectl -n kube-system logs -l "
            "k8s-app=kube-dns`); CoreDNS answers SERVFAIL when it cannot reach the apiserver or its upstream."
        )
    if outcome == "REFUSED":
        return "The nameserver refuses queries from this pod: it is not the cluster DNS, or its ACL excludes pods."
    return (
        "The cluster DNS does not serve the Service: check the search list names `svc.<cluster domain>` and the "
        "cluster domain matches kubelet's --cluster-domain and CoreDNS's `kubernetes` zone, and that the Service "
        "exists (`kubectl -n default get svc kubernetes`)."
    )


class Service(Check):
    """Resolves `kubernetes.default.svc` exactly as the pod's resolver does.

    Builds the candidate names from the search list and ndots (glibc's rules; musl's outcome is
    shown too), asks the nameservers in order (UDP, TCP when the answer is truncated), and records
    each candidate's answer code, addresses, time and answering nameserver.

    - pass: it resolves; the summary names the candidate that answered.
    - warn: it resolves with glibc but not with musl (Alpine images), or a candidate on the way
      timed out (every lookup is slowed by the timeout).
    - fail: NXDOMAIN for every candidate (search list or cluster domain wrong, or the cluster DNS
      does not serve it), SERVFAIL, or no answer at all.
    """

    id = "dns.service"
    title = f"{SERVICE_NAME} resolves through the pod's search path"
    depends_on = ("dns.resolv-conf",)
    modes = (Mode.IN_CLUSTER,)

    async def run(self, ctx: Context) -> Result:
        lookup = await ctx.probe(SERVICE_LOOKUP)
        details = ctx.details
        details.update(lookup.to_details())
        if not lookup.resolved:
            return Result.fail(
                f"{lookup.name} did not resolve ({lookup.outcome}): {_trail(lookup)}",
                hint=_failure_hint(lookup),
            )
        summary = _lookup_summary(lookup)
        if lookup.musl_outcome != "resolved":
            return Result.warn(
                summary + f"; but musl (Alpine) ends with {lookup.musl_outcome} after "
                f"{', '.join(lookup.musl_candidates)}",
                hint="musl skips the search list for names with at least ndots dots: raise ndots to 5, or use "
                f"the fully qualified `{SERVICE_NAME}.<cluster domain>.` in clients.",
            )
        slow = [(c, a) for c in lookup.candidates for a in c.attempts if a.slow]
        if slow:
            candidate, attempt = slow[0]
            lost_one = attempt.outcome != "TIMEOUT"
            return Result.warn(
                summary
                + (
                    f"; but {attempt.nameserver} lost one of the A/AAAA answers for {candidate.name} ({attempt.error})"
                    if lost_one
                    else f"; but {attempt.nameserver} timed out on the way ({candidate.name})"
                ),
                hint=(
                    "Lookups wait the resolver's timeout whenever one of the parallel A/AAAA queries is dropped "
                    "(the conntrack race on the node): add `options: [{name: single-request-reopen}]` to the pod's "
                    "dnsConfig, or run NodeLocal DNSCache."
                    if lost_one
                    else "Every lookup waits the resolver's timeout for it. " + _NETPOL_HINT
                ),
            )
        return Result.ok(summary)


class Fqdn(Check):
    """Resolves the fully qualified `kubernetes.default.svc.<cluster domain>.` (domain from the search list).

    - pass: it resolves; the details give the answer, time and nameserver.
    - fail: it does not. With dns.service failing too, the cluster DNS is unreachable or broken; with
      dns.service passing, the cluster domain guessed from the search list is not the cluster's.
    """

    id = "dns.fqdn"
    title = f"{SERVICE_NAME}.<cluster domain> resolves"
    depends_on = ("dns.resolv-conf",)
    modes = (Mode.IN_CLUSTER,)

    async def run(self, ctx: Context) -> Result:
        lookup = await ctx.probe(FQDN_LOOKUP)
        details = ctx.details
        details.update(lookup.to_details())
        facts = ctx.peek(RESOLV_CONF)
        if facts is not None:
            domain, source = facts.domain
            details["cluster_domain"] = {"domain": domain, "source": source}
        if not lookup.resolved:
            return Result.fail(
                f"{lookup.name} did not resolve ({lookup.outcome}): {_trail(lookup)}",
                hint=_failure_hint(lookup),
            )
        answer = lookup.answer
        assert answer is not None
        return Result.ok(
            f"{lookup.name} → {', '.join(answer.addresses)} (from {answer.nameserver}, {answer.elapsed_ms:.1f} ms)",
        )


def _same_ip(a: str, b: str) -> bool:
    """net.IP.Equal for IP literals (one spelling each: normal_ip), else the names compared as text."""
    return normal_ip(a) == normal_ip(b)


class MatchesServiceHost(Check):
    """Compares the DNS answer for `kubernetes.default.svc` with KUBERNETES_SERVICE_HOST.

    Both come from the `default/kubernetes` Service, so they must agree.

    - pass: the address the kubelet put in KUBERNETES_SERVICE_HOST is among the DNS answers.
    - fail: they differ: the environment was overridden, the DNS answers for another cluster (a
      copied kubeconfig-style setup, a hijacking search domain), or the Service was recreated with a
      new IP and the pod predates it (restart the pod).
    - skip: KUBERNETES_SERVICE_HOST is not set, or the name did not resolve (see dns.service).
    """

    id = "dns.matches-service-host"
    title = f"{SERVICE_NAME} resolves to KUBERNETES_SERVICE_HOST"
    depends_on = ("dns.resolv-conf",)
    modes = (Mode.IN_CLUSTER,)

    async def run(self, ctx: Context) -> Result:
        host = ctx.env.get("KUBERNETES_SERVICE_HOST")
        if not host:
            return Result.skip("KUBERNETES_SERVICE_HOST is not set: nothing to compare with")
        # Both at once: each is bounded by the probe's budget, one after the other might not fit the check's.
        service, fqdn = await asyncio.gather(ctx.probe(SERVICE_LOOKUP), ctx.probe(FQDN_LOOKUP))
        lookup = service if service.resolved else fqdn
        details = ctx.details
        details.update(
            {
                "KUBERNETES_SERVICE_HOST": host,
                "name": lookup.answer.name if lookup.answer else lookup.name,
                "addresses": list(lookup.addresses),
            }
        )
        if not lookup.resolved:
            return Result.skip(f"{SERVICE_NAME} did not resolve (see dns.service)")
        if any(_same_ip(host, a) for a in lookup.addresses):
            return Result.ok(
                f"{details['name']} → {', '.join(lookup.addresses)} = KUBERNETES_SERVICE_HOST",
            )
        return Result.fail(
            f"{details['name']} resolves to {', '.join(lookup.addresses)} but KUBERNETES_SERVICE_HOST is {host}",
            hint="Both should be the `default/kubernetes` Service IP (`kubectl -n default get svc kubernetes`). "
            "Remove any KUBERNETES_SERVICE_HOST override from the pod spec; if the Service IP changed, restart "
            "the pod; if the DNS answer is foreign, look at the search list (dns.wildcard).",
        )


class Wildcard(Check):
    """Looks up a random name that cannot exist (`kdoctor-<random>.invalid-check.svc`) through the search path.

    - pass: every candidate is NXDOMAIN, as it must be.
    - warn: the lookup was inconclusive (timeouts, SERVFAIL).
    - fail: it resolved: a search domain (or the upstream DNS) answers for every name, so a mistyped
      Service name silently reaches that address instead of failing — the details name the candidate
      and the search domain that answered.
    """

    id = "dns.wildcard"
    title = "Names that do not exist do not resolve (no wildcard search domain)"
    depends_on = ("dns.resolv-conf",)
    modes = (Mode.IN_CLUSTER,)

    async def run(self, ctx: Context) -> Result:
        lookup = await ctx.probe(WILDCARD_LOOKUP)
        details = ctx.details
        details.update(lookup.to_details())
        if lookup.resolved:
            answer = lookup.answer
            assert answer is not None
            suffix = answer.name[len(lookup.name) + 1 :].rstrip(".") or "(the name as is)"
            details["hijacking_domain"] = suffix
            return Result.fail(
                f"{answer.name} resolved to {', '.join(answer.addresses)} (from {answer.nameserver}): "
                f"search domain {suffix} answers for names that do not exist",
                hint=f"Remove {suffix} from the search list (node resolv.conf or dnsConfig.searches) or delete its "
                "wildcard record; until then a mistyped Service name reaches that address instead of failing.",
            )
        if lookup.outcome in ("NXDOMAIN", "NODATA"):
            return Result.ok(f"{lookup.name} is NXDOMAIN under all {len(lookup.candidates)} candidates")
        return Result.warn(
            f"inconclusive: {lookup.name} ended with {lookup.outcome}: {_trail(lookup)}",
            hint=_failure_hint(lookup),
        )


#: This family's place in the report, along the access path (kdoctor.registry).
ORDER = 30

CHECKS = (ResolvConf, Nameservers, Service, Fqdn, MatchesServiceHost, Wildcard)
