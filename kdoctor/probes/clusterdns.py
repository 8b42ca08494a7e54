"""Cluster DNS as the pod's own resolver sees it: resolv.conf, the search path, the answers.

The model is pure and testable without a network (`parse_resolv_conf`, `search_plan`); the
queries go straight to the resolv.conf nameservers on port 53 with dnspython (UDP, TCP when the
answer is truncated), never through the system resolver, and record for every candidate name its
answer code, addresses, time and the nameserver that answered.

Resolver rules emulated (the ones images actually ship):
- glibc (Debian, Ubuntu, RHEL images): `res_nsearch`. A name with at least `ndots` dots is tried
  as is first, then with each search domain; a name with fewer dots goes through the search list
  first and as is last. NXDOMAIN, NODATA and SERVFAIL move on to the next search domain; a timeout
  or another error ends the search (the as-is query is still sent). Nameservers: the first 3.
  Since glibc 2.26 every search domain is used; older glibc used the first 6 within 256 characters.
- musl (Alpine images): a name with at least `ndots` dots is tried only as is (no search at all);
  otherwise the search list, then as is. Only NXDOMAIN moves on; NODATA, SERVFAIL or a timeout end
  the lookup. A resolv.conf line longer than 254 characters is ignored whole.

kdoctor asks each nameserver once per name (resolvers retry `attempts` times) and does not ask a
nameserver again within one lookup once it stayed silent; every lookup fits in three --timeout
periods, so a check stays within the runner's budget even when every nameserver is silent.
"""

from __future__ import annotations

import asyncio
import ipaddress
import secrets
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kdoctor.keys import FQDN_LOOKUP, NAMESERVERS, RESOLV_CONF, SERVICE_LOOKUP, WILDCARD_LOOKUP
from kdoctor.probes.inpod import (
    KUBELET_NDOTS,
    MAX_NAMESERVERS,
    MUSL_MAX_LINE,
    OLD_GLIBC_MAX_SEARCH,
    OLD_GLIBC_MAX_SEARCH_CHARS,
    SERVICE_NAME,
)

if TYPE_CHECKING:
    from kdoctor.context import Context

__all__ = [
    "FQDN_LOOKUP",
    "KUBELET_NDOTS",
    "MAX_NAMESERVERS",
    "MUSL_MAX_LINE",
    "NAMESERVERS",
    "OLD_GLIBC_MAX_SEARCH",
    "OLD_GLIBC_MAX_SEARCH_CHARS",
    "RESOLV_CONF",
    "SERVICE_LOOKUP",
    "SERVICE_NAME",
    "WILDCARD_LOOKUP",
    "Attempt",
    "DNSUnavailable",
    "Lookup",
    "NameAnswer",
    "ResolvConf",
    "ResolvConfFacts",
    "cluster_domain",
    "parse_resolv_conf",
    "search_plan",
]

GLIBC = "glibc"
MUSL = "musl"
#: DESIGN: the in-pod DNS checks talk to the resolv.conf nameservers on port 53.
DNS_PORT = 53
#: The resolvers' caps on each option (kubelet's ndots and the line limits live in kdoctor.probes.inpod).
DEFAULT_NDOTS = 1
MAX_NDOTS = 15
DEFAULT_TIMEOUT = 5
DEFAULT_ATTEMPTS = 2
GLIBC_MAX_TIMEOUT = 30
GLIBC_MAX_ATTEMPTS = 5

DEFAULT_CLUSTER_DOMAIN = "cluster.local"


class DNSUnavailable(Exception):
    """The resolv.conf cannot be read or names no nameserver: there is nothing to query."""


# --- resolv.conf ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ResolvConf:
    """A parsed resolv.conf, with what each resolver makes of it."""

    nameservers: tuple[str, ...] = ()  # every valid `nameserver` line, in order
    invalid_nameservers: tuple[str, ...] = ()
    search: tuple[str, ...] = ()  # the last `search`/`domain` line wins (glibc and musl)
    search_keyword: str | None = None  # "search" or "domain"
    search_line_length: int = 0
    ndots: int | None = None  # as written; None when no `options ndots:`
    timeout: int | None = None
    attempts: int | None = None
    options: tuple[str, ...] = ()  # every option token, in order
    unknown_lines: tuple[str, ...] = ()

    @property
    def honoured_nameservers(self) -> tuple[str, ...]:
        return self.nameservers[:MAX_NAMESERVERS]

    @property
    def ignored_nameservers(self) -> tuple[str, ...]:
        return self.nameservers[MAX_NAMESERVERS:]

    @property
    def ndots_effective(self) -> int:
        return min(self.ndots if self.ndots is not None else DEFAULT_NDOTS, MAX_NDOTS)

    @property
    def timeout_effective(self) -> int:
        value = self.timeout if self.timeout is not None else DEFAULT_TIMEOUT
        return max(1, min(value, GLIBC_MAX_TIMEOUT))

    @property
    def attempts_effective(self) -> int:
        value = self.attempts if self.attempts is not None else DEFAULT_ATTEMPTS
        return max(1, min(value, GLIBC_MAX_ATTEMPTS))

    @property
    def search_chars(self) -> int:
        """Characters of the search list as glibc < 2.26 stored it (names plus separators)."""
        return sum(len(d) + 1 for d in self.search)

    def search_for(self, flavour: str) -> tuple[str, ...]:
        """The search domains `flavour` uses ("glibc" is glibc >= 2.26, "glibc<2.26", "musl")."""
        if flavour == MUSL:
            return () if self.search_line_length > MUSL_MAX_LINE else self.search
        if flavour == "glibc<2.26":
            kept: list[str] = []
            used = 0
            for domain in self.search[:OLD_GLIBC_MAX_SEARCH]:
                used += len(domain) + 1
                if used > OLD_GLIBC_MAX_SEARCH_CHARS:
                    break
                kept.append(domain)
            return tuple(kept)
        return self.search

    def has_option(self, name: str) -> bool:
        return name in self.options

    def to_details(self) -> dict[str, Any]:
        return {
            "nameservers": list(self.nameservers),
            "honoured_nameservers": list(self.honoured_nameservers),
            "invalid_nameservers": list(self.invalid_nameservers),
            "search": list(self.search),
            "ndots": self.ndots,
            "ndots_effective": self.ndots_effective,
            "timeout": self.timeout_effective,
            "attempts": self.attempts_effective,
            "options": list(self.options),
        }


def parse_resolv_conf(text: str) -> ResolvConf:
    """Parse resolv.conf text the way glibc's res_init does (musl agrees on all of this)."""
    nameservers: list[str] = []
    invalid: list[str] = []
    search: tuple[str, ...] = ()
    keyword: str | None = None
    line_length = 0
    options: list[str] = []
    ndots = timeout = attempts = None
    unknown: list[str] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        word, _, rest = line.partition(" ") if " " in line else line.partition("\t")
        values = rest.split()
        if word == "nameserver":
            if values and _is_address(values[0]):
                nameservers.append(values[0])
            else:
                invalid.append(rest.strip())
        elif word in ("search", "domain"):
            search = (
                tuple(d.rstrip(".") for d in values if d.rstrip("."))
                if word == "search"
                else tuple(values[:1])
            )
            keyword, line_length = word, len(raw.rstrip("\r\n"))
        elif word == "options":
            for token in values:
                options.append(token)
                key, _, value = token.partition(":")
                if key in ("ndots", "timeout", "attempts") and value.isdigit():
                    if key == "ndots":
                        ndots = int(value)
                    elif key == "timeout":
                        timeout = int(value)
                    else:
                        attempts = int(value)
        elif word == "sortlist":
            continue
        else:
            unknown.append(line)
    return ResolvConf(
        nameservers=tuple(nameservers),
        invalid_nameservers=tuple(invalid),
        search=search,
        search_keyword=keyword,
        search_line_length=line_length,
        ndots=ndots,
        timeout=timeout,
        attempts=attempts,
        options=tuple(options),
        unknown_lines=tuple(unknown),
    )


def _is_address(value: str) -> bool:
    try:
        ipaddress.ip_address(value.split("%", 1)[0])
    except ValueError:
        return False
    return True


def cluster_domain(conf: ResolvConf) -> tuple[str, str]:
    """The cluster domain and where it came from, e.g. ("cluster.local", "search svc.cluster.local").

    kubelet writes `<ns>.svc.<domain> svc.<domain> <domain>`; the first search entry that has a
    `svc` label names the domain. Without one, Kubernetes' default is assumed.
    """
    for domain in conf.search:
        labels = domain.split(".")
        if "svc" in labels:
            index = labels.index("svc")
            rest = labels[index + 1 :]
            if rest:
                return ".".join(rest), f"search domain {domain}"
    return DEFAULT_CLUSTER_DOMAIN, "Kubernetes' default (no <ns>.svc.<domain> entry in the search list)"


def search_plan(name: str, conf: ResolvConf, flavour: str = GLIBC) -> list[str]:
    """The absolute names the resolver queries for `name`, in order, until one resolves."""
    return [candidate for candidate, _ in _phased_plan(name, conf, flavour)]


def _phased_plan(name: str, conf: ResolvConf, flavour: str) -> list[tuple[str, str]]:
    """(absolute name, phase) with phase "as-is" or "search", in query order."""
    if name.endswith("."):
        return [(name, "as-is")]
    dots = name.count(".")
    search = conf.search_for(flavour)
    as_is = name + "."
    if flavour == MUSL:
        if dots >= conf.ndots_effective:
            return [(as_is, "as-is")]
        return [(f"{name}.{d}.", "search") for d in search] + [(as_is, "as-is")]
    # glibc res_nsearch
    plan: list[tuple[str, str]] = []
    tried_as_is = dots >= conf.ndots_effective
    if tried_as_is:
        plan.append((as_is, "as-is"))
    root_on_list = False
    for domain in search:
        if domain in ("", "."):
            root_on_list = True
            plan.append((as_is, "search"))
        else:
            plan.append((f"{name}.{domain}.", "search"))
    searched = bool(search)
    if (dots or not searched or not conf.has_option("no-tld-query")) and not (tried_as_is or root_on_list):
        plan.append((as_is, "as-is"))
    return plan


# --- queries ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Attempt:
    """One nameserver asked about one name (A and AAAA together)."""

    nameserver: str
    outcome: str  # NOERROR, NXDOMAIN, SERVFAIL, REFUSED, ..., TIMEOUT, ERROR, NOT-ASKED
    elapsed_ms: float
    transport: str = "udp"  # "udp" or "tcp" (after a truncated UDP answer)
    error: str | None = None

    @property
    def slow(self) -> bool:
        """The resolver waited a full timeout here (no answer, or one of A/AAAA lost)."""
        return self.outcome == "TIMEOUT" or (self.outcome in _CONCLUSIVE and self.error is not None)

    def to_details(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "nameserver": self.nameserver,
            "outcome": self.outcome,
            "elapsed_ms": round(self.elapsed_ms, 1),
            "transport": self.transport,
        }
        if self.error:
            out["error"] = self.error
        return out


#: Outcomes that are answers from a server, as opposed to silence or a local error.
_CONCLUSIVE = ("NOERROR", "NXDOMAIN")


@dataclass(frozen=True)
class NameAnswer:
    """What the resolver got for one absolute name: the first conclusive answer of its nameservers."""

    name: str
    outcome: str  # NOERROR, NXDOMAIN, SERVFAIL, REFUSED, TIMEOUT, ERROR, NOT-TRIED
    addresses: tuple[str, ...] = ()
    cnames: tuple[str, ...] = ()
    nameserver: str | None = None
    transport: str | None = None
    elapsed_ms: float = 0.0
    attempts: tuple[Attempt, ...] = ()

    @property
    def resolved(self) -> bool:
        return self.outcome == "NOERROR" and bool(self.addresses)

    @property
    def code(self) -> str:
        """The outcome with NOERROR-without-addresses spelled NODATA, as resolvers treat it."""
        return "NODATA" if self.outcome == "NOERROR" and not self.addresses else self.outcome

    def to_details(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "code": self.code,
            "addresses": list(self.addresses),
            "nameserver": self.nameserver,
            "transport": self.transport,
            "elapsed_ms": round(self.elapsed_ms, 1),
        }
        if self.cnames:
            out["cnames"] = list(self.cnames)
        if self.attempts:
            out["attempts"] = [a.to_details() for a in self.attempts]
        return out


@dataclass
class QueryBudget:
    """Keeps a lookup within the check's time: per-query timeout, overall deadline, silent servers.

    A nameserver that did not answer once is not asked again within the same probe: the real
    resolver would wait its timeout again for every name, which kdoctor reports instead of repeating.
    """

    per_query: float
    deadline: float
    silent: set[str] = field(default_factory=set)
    port: int = DNS_PORT

    def remaining(self) -> float:
        return self.deadline - time.monotonic()


async def _ask(
    nameserver: str, name: str, rdtype: str, budget: QueryBudget
) -> tuple[str, Any, str, str | None]:
    """(outcome, response or None, transport, error) for one query of one type."""
    # lazy: dnspython is needed only in a pod, for cluster DNS
    import dns.asyncquery
    import dns.exception
    import dns.flags
    import dns.message
    import dns.rcode

    timeout = max(0.05, min(budget.per_query, budget.remaining()))
    query = dns.message.make_query(name, rdtype)
    transport = "udp"
    try:
        response = await dns.asyncquery.udp(query, nameserver, timeout=timeout, port=budget.port)
        if response.flags & dns.flags.TC:
            transport = "tcp"
            response = await dns.asyncquery.tcp(query, nameserver, timeout=timeout, port=budget.port)
    except dns.exception.Timeout:
        return "TIMEOUT", None, transport, f"no answer within {timeout:.1f}s"
    except (OSError, EOFError, dns.exception.DNSException) as exc:
        return "ERROR", None, transport, f"{type(exc).__name__}: {exc}"
    return dns.rcode.to_text(response.rcode()), response, transport, None


def _addresses(response: Any) -> tuple[list[str], list[str]]:
    # lazy: dnspython is needed only in a pod, for cluster DNS
    import dns.rdatatype

    addresses: list[str] = []
    cnames: list[str] = []
    for rrset in response.answer:
        for rdata in rrset:
            if rrset.rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA):
                addresses.append(rdata.address)
            elif rrset.rdtype == dns.rdatatype.CNAME:
                cnames.append(rdata.target.to_text())
    return addresses, cnames


async def query_name(name: str, nameservers: Sequence[str], budget: QueryBudget) -> NameAnswer:
    """A and AAAA for `name`, asking the nameservers in order like glibc (no `rotate`).

    A server that times out, fails (SERVFAIL, REFUSED, ...) or errors makes the resolver ask the
    next one; NOERROR and NXDOMAIN are final.
    """
    attempts: list[Attempt] = []
    started = time.monotonic()
    for nameserver in nameservers:
        if nameserver in budget.silent:
            attempts.append(
                Attempt(nameserver, "TIMEOUT", 0.0, error="did not answer earlier; not asked again")
            )
            continue
        if budget.remaining() <= 0:
            attempts.append(Attempt(nameserver, "NOT-ASKED", 0.0, error="kdoctor's time budget ran out"))
            continue
        t0 = time.monotonic()
        (out_a, resp_a, tr_a, err_a), (out_aaaa, resp_aaaa, tr_aaaa, err_aaaa) = await asyncio.gather(
            _ask(nameserver, name, "A", budget), _ask(nameserver, name, "AAAA", budget)
        )
        elapsed = (time.monotonic() - t0) * 1000
        transport = "tcp" if "tcp" in (tr_a, tr_aaaa) else "udp"
        outcome = _combine(out_a, out_aaaa)
        error = "; ".join(f"{t}: {e}" for t, e in (("A", err_a), ("AAAA", err_aaaa)) if e) or None
        attempts.append(Attempt(nameserver, outcome, elapsed, transport, error))
        if outcome == "TIMEOUT":
            budget.silent.add(nameserver)
        if outcome in _CONCLUSIVE:
            addresses: list[str] = []
            cnames: list[str] = []
            for response in (resp_a, resp_aaaa):
                if response is not None:
                    found, aliases = _addresses(response)
                    addresses += found
                    cnames += [c for c in aliases if c not in cnames]
            return NameAnswer(
                name=name,
                outcome=outcome,
                addresses=tuple(addresses),
                cnames=tuple(cnames),
                nameserver=nameserver,
                transport=transport,
                elapsed_ms=(time.monotonic() - started) * 1000,
                attempts=tuple(attempts),
            )
    final = _worst_failure([a.outcome for a in attempts])
    return NameAnswer(
        name=name, outcome=final, elapsed_ms=(time.monotonic() - started) * 1000, attempts=tuple(attempts)
    )


def _worst_failure(outcomes: list[str]) -> str:
    """The outcome to report when no nameserver gave a conclusive answer."""
    for preferred in ("SERVFAIL", "REFUSED"):
        if preferred in outcomes:
            return preferred
    for outcome in outcomes:
        if outcome not in ("TIMEOUT", "ERROR", "NOT-ASKED"):
            return outcome
    if "TIMEOUT" in outcomes:
        return "TIMEOUT"
    return outcomes[0] if outcomes else "ERROR"


def _combine(a: str, aaaa: str) -> str:
    """One outcome for the A and AAAA answers of a server (they share a name, so usually agree)."""
    if a == aaaa:
        return a
    # One of the pair lost (the conntrack race of parallel A/AAAA queries): glibc waits out the
    # timeout, then uses the answer it has. The attempt keeps the error, so the delay is reported.
    if "TIMEOUT" in (a, aaaa) and (a in _CONCLUSIVE or aaaa in _CONCLUSIVE):
        return a if a in _CONCLUSIVE else aaaa
    for outcome in ("NOERROR", "NXDOMAIN"):
        if outcome in (a, aaaa) and {a, aaaa} <= set(_CONCLUSIVE):
            return "NOERROR" if "NOERROR" in (a, aaaa) else outcome
    # glibc sends both and waits for both: one lost or failed answer fails the server.
    for outcome in ("SERVFAIL", "REFUSED", "TIMEOUT", "ERROR"):
        if outcome in (a, aaaa):
            return outcome
    return a if a not in _CONCLUSIVE else aaaa


@dataclass(frozen=True)
class Lookup:
    """A name resolved the way the pod's resolver would: every candidate, in order."""

    name: str
    flavour: str
    candidates: tuple[NameAnswer, ...]  # as queried under glibc's rules (NOT-TRIED after the end)
    answer: NameAnswer | None  # the candidate that resolved under glibc's rules
    musl_candidates: tuple[str, ...] = ()
    musl_answer: NameAnswer | None = None  # what an Alpine (musl) image would end with
    musl_outcome: str = ""

    @property
    def resolved(self) -> bool:
        return self.answer is not None

    @property
    def addresses(self) -> tuple[str, ...]:
        return self.answer.addresses if self.answer else ()

    @property
    def outcome(self) -> str:
        """ "resolved", else the code that ended the lookup (NXDOMAIN, NODATA, SERVFAIL, TIMEOUT ...)."""
        if self.answer is not None:
            return "resolved"
        tried = [c for c in self.candidates if c.outcome != "NOT-TRIED"]
        for code in ("TIMEOUT", "ERROR", "SERVFAIL", "REFUSED"):
            if any(c.code == code for c in tried):
                return code
        return tried[-1].code if tried else "NOT-TRIED"

    def to_details(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "resolver": self.flavour,
            "outcome": self.outcome,
            "answer": self.answer.name if self.answer else None,
            "addresses": list(self.addresses),
            "candidates": [c.to_details() for c in self.candidates],
            "musl": {
                "candidates": list(self.musl_candidates),
                "outcome": self.musl_outcome,
                "answer": self.musl_answer.name if self.musl_answer else None,
            },
        }


async def resolve_like_pod(name: str, conf: ResolvConf, budget: QueryBudget) -> Lookup:
    """Resolve `name` through the search path with glibc's rules, and derive musl's outcome."""
    nameservers = conf.honoured_nameservers
    seen: dict[str, NameAnswer] = {}
    results: list[NameAnswer] = []
    answer: NameAnswer | None = None
    searching_done = False
    for candidate, phase in _phased_plan(name, conf, GLIBC):
        if answer is not None or (searching_done and phase == "search"):
            results.append(NameAnswer(name=candidate, outcome="NOT-TRIED"))
            continue
        result = seen.get(candidate) or await query_name(candidate, nameservers, budget)
        seen[candidate] = result
        results.append(result)
        if result.resolved:
            answer = result
        elif phase == "search" and result.code not in ("NXDOMAIN", "NODATA", "SERVFAIL"):
            # glibc stops searching here, but still sends the as-is query it has not sent yet.
            searching_done = True
    musl_plan = search_plan(name, conf, MUSL)
    musl_answer: NameAnswer | None = None
    musl_outcome = "NXDOMAIN"
    for candidate in musl_plan:
        known = seen.get(candidate)
        if known is None:
            known = seen[candidate] = await query_name(candidate, nameservers, budget)
        result = known
        if result.resolved:
            musl_answer, musl_outcome = result, "resolved"
            break
        musl_outcome = result.code
        if result.code != "NXDOMAIN":
            break
    return Lookup(
        name=name,
        flavour=GLIBC,
        candidates=tuple(results),
        answer=answer,
        musl_candidates=tuple(musl_plan),
        musl_answer=musl_answer,
        musl_outcome=musl_outcome,
    )


# --- probes -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ResolvConfFacts:
    """The resolv.conf file and what it says; `conf` is None when it could not be read."""

    path: str
    conf: ResolvConf | None
    error: str | None = None
    #: glibc reads LOCALDOMAIN (replaces the search list) and RES_OPTIONS (appends options).
    env_overrides: tuple[tuple[str, str], ...] = ()

    @property
    def domain(self) -> tuple[str, str]:
        return cluster_domain(self.conf or ResolvConf())


def read_resolv_conf(path: str, env: Iterable[tuple[str, str]] = ()) -> ResolvConfFacts:
    overrides = tuple((k, v) for k, v in env if k in ("LOCALDOMAIN", "RES_OPTIONS"))
    try:
        data = Path(path).read_bytes()[: 1024 * 1024]
    except OSError as exc:
        return ResolvConfFacts(path=path, conf=None, error=f"{type(exc).__name__}: {exc.strerror or exc}")
    return ResolvConfFacts(
        path=path, conf=parse_resolv_conf(data.decode("utf-8", "replace")), env_overrides=overrides
    )


def _budget(ctx: Context, conf: ResolvConf) -> QueryBudget:
    # Three timeouts' worth leaves the check inside the runner's budget (4 x timeout + 2).
    per_query = min(float(conf.timeout_effective), ctx.timeout)
    return QueryBudget(per_query=per_query, deadline=time.monotonic() + 3 * ctx.timeout)


async def _usable_conf(ctx: Context) -> ResolvConf:
    facts = await ctx.probe(RESOLV_CONF)
    if facts.conf is None:
        raise DNSUnavailable(f"cannot read {facts.path}: {facts.error}")
    if not facts.conf.honoured_nameservers:
        raise DNSUnavailable(f"{facts.path} names no usable nameserver")
    return facts.conf


async def _compute_resolv_conf(ctx: Context) -> ResolvConfFacts:
    return read_resolv_conf(ctx.options.resolv_conf, ctx.env.items())


async def _compute_nameservers(ctx: Context) -> tuple[NameAnswer, ...]:
    conf = await _usable_conf(ctx)
    domain, _ = cluster_domain(conf)
    fqdn = f"{SERVICE_NAME}.{domain}."
    # Each nameserver on its own (no fallback): which ones answer at all, and what they say.
    answers = await asyncio.gather(
        *(query_name(fqdn, [ns], _budget(ctx, conf)) for ns in conf.honoured_nameservers)
    )
    return tuple(answers)


async def _compute_service(ctx: Context) -> Lookup:
    conf = await _usable_conf(ctx)
    return await resolve_like_pod(SERVICE_NAME, conf, _budget(ctx, conf))


async def _compute_fqdn(ctx: Context) -> Lookup:
    conf = await _usable_conf(ctx)
    domain, _ = cluster_domain(conf)
    return await resolve_like_pod(f"{SERVICE_NAME}.{domain}.", conf, _budget(ctx, conf))


def random_label() -> str:
    return f"kdoctor-{secrets.token_hex(6)}"


async def _compute_wildcard(ctx: Context) -> Lookup:
    conf = await _usable_conf(ctx)
    # Two dots like kubernetes.default.svc, so it walks the same search path a service name does.
    return await resolve_like_pod(f"{random_label()}.invalid-check.svc", conf, _budget(ctx, conf))
