"""The report model: frozen data that every renderer reads; `to_json_dict()` is the JSON contract."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kdoctor.core import Status
from kdoctor.rootcause import RootCause, blocked_by, find_root_cause, names_check

SCHEMA_ID = "kdoctor.dev/report/v1"
STATUSES = (Status.PASS, Status.WARN, Status.FAIL, Status.SKIP, Status.ERROR)


def worst_status(statuses: Iterable[Status]) -> Status:
    """fail when any is fail or error, else warn when any is warn, else pass (DESIGN)."""
    worst = Status.PASS
    for status in statuses:
        if status in (Status.FAIL, Status.ERROR):
            return Status.FAIL
        if status is Status.WARN:
            worst = Status.WARN
    return worst


@dataclass(frozen=True)
class CheckResult:
    """One check's outcome in the report."""

    id: str
    title: str
    status: Status
    summary: str
    hint: str = ""
    details: Mapping[str, Any] = field(default_factory=dict)
    duration_ms: float = 0.0

    @property
    def family(self) -> str:
        return self.id.split(".", 1)[0]

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "status": self.status.value,
            "summary": self.summary,
            "hint": self.hint,
            "details": dict(self.details),
            "duration_ms": round(self.duration_ms, 1),
        }


@dataclass(frozen=True)
class TargetReport:
    """The results of one target (a context, or the pod's own access)."""

    context: str | None
    cluster: str | None
    user: str | None
    server: str | None
    mode: str
    results: Sequence[CheckResult]
    #: The selected context/cluster/user entries, secrets redacted, for support tickets.
    config: Mapping[str, Any] = field(default_factory=dict)
    #: check id → the ids it depends on (the registry's graph), to tell causes from consequences.
    depends_on: Mapping[str, Sequence[str]] = field(default_factory=dict, compare=False)

    @property
    def status(self) -> Status:
        return worst_status(r.status for r in self.results)

    @property
    def root_cause(self) -> RootCause | None:
        """The broken link that explains the other findings (kdoctor.rootcause); None when nothing failed."""
        return find_root_cause(self.results, self.depends_on)

    def skip_cause(self, result: CheckResult) -> str | None:
        """For a skipped result: the check that stopped it (failed, errored, or whose warning it would only
        repeat); None if it just does not apply."""
        cause = blocked_by(result, self.results, self.depends_on)
        if cause is None and result.status is Status.SKIP:
            # A check that skipped because it could only repeat a warning names the check that reports it.
            cause = next(
                (r.id for r in self.results if r.status is Status.WARN and names_check(result.summary, r.id)),
                None,
            )
        return cause

    def status_of(self, check_id: str) -> Status | None:
        return next((r.status for r in self.results if r.id == check_id), None)

    @property
    def label(self) -> str:
        return self.context or ("in-cluster" if self.mode == "in-cluster" else "(no context)")

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "context": self.context,
            "cluster": self.cluster,
            "user": self.user,
            "server": self.server,
            "mode": self.mode,
            "status": self.status.value,
            "root_cause": root.to_json_dict() if (root := self.root_cause) else None,
            "results": [r.to_json_dict() for r in self.results],
            "config": dict(self.config),
        }


@dataclass(frozen=True)
class Report:
    """The whole run: every target, as the JSON report carries it."""

    kdoctor_version: str
    started_at: str
    duration_ms: float
    targets: Sequence[TargetReport]
    #: Check families that failed to load (plugin name → error), reported, never fatal.
    plugin_errors: Mapping[str, str] = field(default_factory=dict)

    @property
    def results(self) -> list[CheckResult]:
        return [r for t in self.targets for r in t.results]

    @property
    def status(self) -> Status:
        return worst_status(t.status for t in self.targets)

    @property
    def summary(self) -> dict[str, int]:
        counts = {s.value: 0 for s in STATUSES}
        for result in self.results:
            counts[result.status.value] += 1
        return counts

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA_ID,
            "kdoctor_version": self.kdoctor_version,
            "started_at": self.started_at,
            "duration_ms": round(self.duration_ms, 1),
            "status": self.status.value,
            "summary": self.summary,
            "targets": [t.to_json_dict() for t in self.targets],
            "plugin_errors": dict(self.plugin_errors),
        }
