"""The root cause of a target: the one broken link that explains the other findings.

A pure function of a target's results, the checks' dependency graph and the access-path order,
so it works whatever the runner's skip messages say and is table-tested without a network.

The root cause is the first failure along the access path (kubeconfig → DNS → TCP → proxy → TLS →
credentials → identity → health; in a pod the service-account files come first) that no earlier
failure explains. A failure is explained when something it depends on, directly or not, did not
succeed. Warnings never become the root cause, and an `error` is a bug in kdoctor, not a broken
link of the cluster: it is reported as such, never as the root cause.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from kdoctor.core import Status

#: (stage, ids or family prefixes ending in "."), in the order kubectl meets them. A check not
#: listed (a third-party family) comes after the built-in path.
ACCESS_PATH: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("service-account files", ("incluster.",)),
    ("kubeconfig", ("kubeconfig.found", "kubeconfig.parse", "kubeconfig.structure", "kubeconfig.context")),
    ("kubeconfig", ("kubeconfig.server", "kubeconfig.ca", "kubeconfig.tls", "kubeconfig.proxy-url")),
    ("dns", ("dns.", "apiserver.dns")),
    ("tcp", ("apiserver.tcp",)),
    ("proxy", ("proxy.env", "proxy.path")),
    ("tls", ("tls.",)),
    ("http", ("apiserver.version",)),
    (
        "credentials",
        ("kubeconfig.credentials", "kubeconfig.client-cert", "kubeconfig.exec", "auth.credential"),
    ),
    ("credentials", ("auth.token",)),
    ("identity", ("auth.identity", "auth.permissions", "auth.")),
    ("health", ("apiserver.livez", "apiserver.readyz", "apiserver.")),
    # Not links of the path: they judge how safe or portable a working path is.
    ("other", ("kubeconfig.", "proxy.")),
)

_SATISFIED = (Status.PASS, Status.WARN)
_OLD_SKIP = re.compile(r"^skipped: (?P<dep>\S+) (?:was skipped|failed|errored)$")


@dataclass(frozen=True)
class RootCause:
    """The broken link of one target: the check, its evidence and its fix (JSON: root_cause)."""

    id: str
    summary: str
    hint: str

    def to_json_dict(self) -> dict[str, Any]:
        return {"id": self.id, "summary": self.summary, "hint": self.hint}


class ResultLike(Protocol):
    """What this module reads of a result (kdoctor.report.CheckResult has these)."""

    @property
    def id(self) -> str: ...
    @property
    def status(self) -> Status: ...
    @property
    def summary(self) -> str: ...
    @property
    def hint(self) -> str: ...


R = TypeVar("R", bound=ResultLike)


def path_rank(check_id: str, path: Sequence[tuple[str, tuple[str, ...]]] = ACCESS_PATH) -> int:
    """The position of `check_id` along the access path; unknown ids come last."""
    for index, (_, patterns) in enumerate(path):
        for pattern in patterns:
            if check_id == pattern or (pattern.endswith(".") and check_id.startswith(pattern)):
                return index
    return len(path)


def _ancestors(check_id: str, depends_on: Mapping[str, Sequence[str]]) -> list[str]:
    """Every check `check_id` depends on, directly or not (breadth first, cycles tolerated)."""
    seen: list[str] = []
    queue = list(depends_on.get(check_id, ()))
    while queue:
        dep = queue.pop(0)
        if dep in seen or dep == check_id:
            continue
        seen.append(dep)
        queue.extend(depends_on.get(dep, ()))
    return seen


def find_root_cause(
    results: Sequence[ResultLike],
    depends_on: Mapping[str, Sequence[str]],
    path: Sequence[tuple[str, tuple[str, ...]]] = ACCESS_PATH,
) -> RootCause | None:
    """The failing check that explains the others, or None when nothing failed.

    `results` are CheckResult-like (id, status, summary, hint), in report order, which breaks
    ties between checks of the same stage.
    """
    status = {r.id: r.status for r in results}
    candidates = []
    for index, result in enumerate(results):
        if result.status is not Status.FAIL:
            continue
        # A failure downstream of a dependency that did not succeed is that dependency's consequence.
        upstream = [d for d in _ancestors(result.id, depends_on) if d in status]
        if any(status[d] not in _SATISFIED for d in upstream):
            continue
        candidates.append((path_rank(result.id, path), index, result))
    if not candidates:
        return None
    _, _, root = min(candidates, key=lambda c: (c[0], c[1]))
    return RootCause(id=root.id, summary=root.summary, hint=root.hint)


def blocked_by(
    result: ResultLike,
    results: Sequence[ResultLike],
    depends_on: Mapping[str, Sequence[str]],
    path: Sequence[tuple[str, tuple[str, ...]]] = ACCESS_PATH,
) -> str | None:
    """For a `skip`: the failed (or errored) check that stopped it, or None when it simply does not apply.

    Found through the dependency graph (the earliest failed ancestor along the path), or, for a
    check that skipped on its own because it could only repeat a finding, the failed check its
    summary names.
    """
    if result.status is not Status.SKIP:
        return None
    by_id = {r.id: r for r in results}
    order = {r.id: i for i, r in enumerate(results)}
    ancestors = [by_id[d] for d in _ancestors(result.id, depends_on) if d in by_id]
    broken = {a.id for a in ancestors if a.status in (Status.FAIL, Status.ERROR)}
    # A skip that could only repeat a finding names the failed check in its reason, and so may
    # a skipped ancestor's reason ("no HTTP exchange: ... (tls.chain says why)").
    reasons = [result.summary, *(a.summary for a in ancestors if a.status is Status.SKIP)]
    # ... or names a skipped check whose own reason leads on (bounded: each check read once).
    read = {result.id, *(a.id for a in ancestors)}
    index = 0
    while index < len(reasons):
        for other in results:
            if other.id not in read and other.status is Status.SKIP and names_check(reasons[index], other.id):
                read.add(other.id)
                reasons.append(other.summary)
        index += 1
    broken.update(
        r.id
        for r in results
        if r.status in (Status.FAIL, Status.ERROR) and any(names_check(text, r.id) for text in reasons)
    )
    if not broken:
        return None
    return min(broken, key=lambda i: (path_rank(i, path), order[i]))


def names_check(text: str, check_id: str) -> bool:
    """Whether `text` names `check_id` as a word (not as part of a longer id)."""
    return re.search(rf"(?<![\w.-]){re.escape(check_id)}(?![\w-])", text) is not None


def _verb(status: Status) -> str:
    return "errored" if status is Status.ERROR else "failed"


def retarget_skips(
    results: Sequence[R],
    depends_on: Mapping[str, Sequence[str]],
    make: Callable[[R, str], R],
) -> list[R]:
    """Results whose runner-made skip reason names a skipped neighbour now name the failed check.

    ``skipped: apiserver.version was skipped`` becomes ``skipped: tls.chain failed``. Only the
    runner's own wording is rewritten (`make(result, new_summary)` builds the copy); a skip with
    a reason of its own is left as it is.
    """
    by_id = {r.id: r for r in results}
    out = []
    for result in results:
        match = _OLD_SKIP.match(result.summary) if result.status is Status.SKIP else None
        if match and match.group("dep") in by_id and by_id[match.group("dep")].status is Status.SKIP:
            root = blocked_by(result, results, depends_on)
            if root is not None:
                result = make(result, f"skipped: {root} {_verb(by_id[root].status)}")
        out.append(result)
    return out


def errored(results: Iterable[R]) -> list[R]:
    """The results that ended in `error` (a bug in a check, never the cluster's broken link)."""
    return [r for r in results if r.status is Status.ERROR]
