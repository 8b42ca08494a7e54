"""Runs the checks of one target: dependency order, concurrency, a time bound, crash capture.

Every check starts as soon as the checks it depends on have finished; independent checks run
concurrently and share probes through the context. Results come back in declared order, whatever
order they finished in. Only this module produces status `error`.
"""

from __future__ import annotations

import asyncio
import time
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from kdoctor.context import Context
from kdoctor.core import CHECK_DETAILS, Result, Status, Unavailable
from kdoctor.observer import NullObserver, RunObserver
from kdoctor.progressclock import progress_clock
from kdoctor.registry import RegisteredCheck
from kdoctor.report import CheckResult

#: Dependencies in these states let dependents run; anything else makes them `skip`.
_SATISFIED = (Status.PASS, Status.WARN)


def check_budget(timeout: float) -> float:
    """The most one check may wait: a few sequential network phases, each bounded by --timeout.

    Measured on the progress clock, so time the process could not run (a starved machine, a large
    kubeconfig being parsed) does not count against it.
    """
    return timeout * 4 + 2


@dataclass
class TargetRun:
    """What running one target's checks produced."""

    results: list[CheckResult]
    #: check id → traceback text (unscrubbed; the caller scrubs before showing it)
    tracebacks: dict[str, str] = field(default_factory=dict)


async def run_target(
    ctx: Context,
    checks: Sequence[RegisteredCheck],
    *,
    observer: RunObserver | None = None,
    label: str = "",
    show_not_applicable: bool = False,
) -> TargetRun:
    """Run `checks` against the target of `ctx`.

    A check whose `applies()` gives a reason is left out of the results (a laptop report has no
    use for ten "not in a pod" lines) unless `show_not_applicable`, when it is a `skip`; either way
    its dependents do not wait on it. A dependency that is not among `checks` counts as satisfied.
    """
    observer = observer or NullObserver()
    present = {c.id for c in checks}
    outcomes: dict[str, asyncio.Future[CheckResult | None]] = {
        c.id: asyncio.get_running_loop().create_future() for c in checks
    }
    tracebacks: dict[str, str] = {}
    #: skipped check id → the check whose failure (or own skip) is the root of it
    roots: dict[str, str] = {}
    depends = {c.id: tuple(c.depends_on) for c in checks}

    async def run_one(entry: RegisteredCheck) -> None:
        future = outcomes[entry.id]
        try:
            result = await _run_one(
                ctx, entry, outcomes, present, observer, label, tracebacks, roots, depends
            )
        except BaseException:
            future.set_result(_error(entry, "the runner was interrupted", 0.0))
            raise
        future.set_result(result)

    tasks = [asyncio.create_task(run_one(c), name=f"check:{c.id}") for c in checks]
    try:
        await asyncio.gather(*tasks)
    finally:
        ctx.cancel_probes()
        await ctx.aclose()
    results = []
    for entry in checks:
        result = outcomes[entry.id].result()
        if result is None:
            if not show_not_applicable:
                continue
            reason = entry.check.applies(ctx) or "not applicable"
            result = _make(entry, Result.skip(f"not applicable: {reason}"), 0.0)
        results.append(result)
    return TargetRun(results=results, tracebacks=tracebacks)


async def _run_one(
    ctx: Context,
    entry: RegisteredCheck,
    outcomes: dict[str, asyncio.Future[CheckResult | None]],
    present: set[str],
    observer: RunObserver,
    label: str,
    tracebacks: dict[str, str],
    roots: dict[str, str],
    depends: Mapping[str, Sequence[str]],
) -> CheckResult | None:
    for dep in entry.depends_on:
        if dep not in present or dep == entry.id:
            continue
        dep_result = await asyncio.shield(outcomes[dep])
        if dep_result is not None and dep_result.status not in _SATISFIED:
            # Name the root, not the neighbour: "kubeconfig.context failed", even three skips away.
            root = roots.get(dep, dep)
            roots[entry.id] = root
            root_result = (
                outcomes[root].result() if root in outcomes and outcomes[root].done() else dep_result
            )
            status = root_result.status if root_result is not None else Status.SKIP
            # A root named by `Unavailable` may have passed (its own reading disagreed): say no more.
            verb = {Status.FAIL: "failed", Status.ERROR: "errored", Status.SKIP: "was skipped"}.get(
                status, "reports the cause"
            )
            result = _make(entry, Result.skip(f"skipped: {root} {verb}"), 0.0)
            observer.finished(label, result)
            return result
    try:
        reason = entry.check.applies(ctx)
    except Exception as exc:
        tracebacks[entry.id] = traceback.format_exc()
        result = _error(entry, f"applies() crashed: {type(exc).__name__}: {exc}", 0.0)
        observer.finished(label, result)
        return result
    if reason is not None:
        return None

    observer.started(label, entry.id)
    budget = check_budget(ctx.timeout)
    started = time.perf_counter()
    # The check's own details mapping (ctx.details), set before run() so that its task sees it.
    details: dict[str, object] = {}
    CHECK_DETAILS.set(details)
    try:
        outcome = await progress_clock().run_within(entry.check.run(ctx), budget)
        if not isinstance(outcome, Result) or outcome.status is Status.ERROR:
            raise TypeError(f"run() returned {outcome!r}, not a Result with a non-error status")
        result = _make(entry, outcome, _ms(started), details)
    except Unavailable as exc:
        # A fact the check needs cannot be had (e.g. the target names no usable server): the
        # check that reports the cause says why, so this one is a skip naming it, not a crash.
        if exc.root:
            roots[entry.id] = exc.root
            if exc.root in outcomes and not _reaches(exc.root, entry.id, depends):
                # Let the root finish first, so that the checks after this one name its verdict
                # ("kubeconfig.client-cert failed"), not a guess. Never when the root waits on
                # this check: that would be a deadlock.
                await asyncio.shield(outcomes[exc.root])
        result = _make(entry, Result.skip(exc.summary), _ms(started), details)
    except asyncio.TimeoutError:
        result = _error(
            entry, f"did not finish within {budget:g}s (the check's time bound)", _ms(started), details
        )
    except Exception as exc:
        tracebacks[entry.id] = traceback.format_exc()
        message = str(exc).splitlines()[0] if str(exc) else ""
        summary = f"check crashed: {type(exc).__name__}" + (f": {message}" if message else "")
        result = _error(entry, summary, _ms(started), details)
    observer.finished(label, result)
    return result


def _reaches(start: str, goal: str, depends: Mapping[str, Sequence[str]]) -> bool:
    """Whether `start` waits, directly or through others, on `goal` (or is it)."""
    seen: set[str] = set()
    stack = [start]
    while stack:
        current = stack.pop()
        if current == goal:
            return True
        if current not in seen:
            seen.add(current)
            stack.extend(depends.get(current, ()))
    return False


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000


def _make(
    entry: RegisteredCheck, outcome: Result, duration_ms: float, details: Mapping[str, object] | None = None
) -> CheckResult:
    return CheckResult(
        id=entry.id,
        title=entry.title,
        status=outcome.status,
        summary=outcome.summary,
        hint=outcome.hint,
        details={**(details or {}), **outcome.details},
        duration_ms=duration_ms,
    )


def _error(
    entry: RegisteredCheck, summary: str, duration_ms: float, details: Mapping[str, object] | None = None
) -> CheckResult:
    return CheckResult(
        id=entry.id,
        title=entry.title,
        status=Status.ERROR,
        summary=summary,
        hint="This is a bug in the check: please report it with the output of --debug.",
        details=dict(details or {}),
        duration_ms=duration_ms,
    )
