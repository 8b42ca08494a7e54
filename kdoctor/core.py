"""The leaf types of the check API: statuses, modes, results, checks, probe keys, `Unavailable`.

They import nothing from kdoctor, so the context, the probes and the facade (`kdoctor.api`) can all
stand on them without a circle. Checks import them through `kdoctor.api`.
"""

from __future__ import annotations

import contextvars
import enum
import importlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar, cast

if TYPE_CHECKING:
    from kdoctor.context import Context

T = TypeVar("T")


class Status(str, enum.Enum):
    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"
    SKIP = "skip"
    ERROR = "error"

    @property
    def severity(self) -> int:
        """Rank for "worst of": error and fail rank alike in a target's status (DESIGN)."""
        return _SEVERITY[self]


_SEVERITY = {Status.PASS: 0, Status.SKIP: 0, Status.WARN: 1, Status.FAIL: 2, Status.ERROR: 2}


class Mode(str, enum.Enum):
    KUBECONFIG = "kubeconfig"
    IN_CLUSTER = "in-cluster"


#: Why a check does not apply to a target of another mode (shown with --show-not-applicable).
_NOT_FOR_MODE = {
    Mode.KUBECONFIG: "only in a pod (in-cluster mode)",
    Mode.IN_CLUSTER: "only for kubeconfig targets (this one is in-cluster)",
}


@dataclass(frozen=True)
class Result:
    """What a check returns: a status, the evidence (summary), the fix (hint), and details.

    Details a check gathered on its way belong in `ctx.details`; the runner merges them under the
    result's own (which win), whatever the check returns, and even when it crashes.
    """

    status: Status
    summary: str
    hint: str = ""
    details: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def ok(cls, summary: str, *, hint: str = "", details: Mapping[str, Any] | None = None) -> Result:
        return cls(Status.PASS, summary, hint, dict(details or {}))

    @classmethod
    def warn(cls, summary: str, *, hint: str = "", details: Mapping[str, Any] | None = None) -> Result:
        return cls(Status.WARN, summary, hint, dict(details or {}))

    @classmethod
    def fail(cls, summary: str, *, hint: str = "", details: Mapping[str, Any] | None = None) -> Result:
        return cls(Status.FAIL, summary, hint, dict(details or {}))

    @classmethod
    def skip(cls, summary: str, *, hint: str = "", details: Mapping[str, Any] | None = None) -> Result:
        return cls(Status.SKIP, summary, hint, dict(details or {}))


class Unavailable(Exception):
    """A fact cannot be had because an input is missing: raise it from a probe (or a check).

    Checks need not guard against it: the runner turns it into `skip`. `root` names the check that
    reports the cause (e.g. "kubeconfig.server"); the skip then points there, not at a neighbour.
    """

    def __init__(self, reason: str, *, root: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.root = root

    @property
    def summary(self) -> str:
        """The skip's summary."""
        return f"{self.reason} (see {self.root})" if self.root else self.reason


class Check:
    """Base class of every check. Subclasses set the class attributes and implement `run`.

    The class docstring is the text of `kdoctor explain ID`.
    """

    id: ClassVar[str]
    title: ClassVar[str]
    depends_on: ClassVar[tuple[str, ...]] = ()
    #: The target modes the check applies to; the default `applies` says why not for the others.
    modes: ClassVar[tuple[Mode, ...]] = (Mode.KUBECONFIG, Mode.IN_CLUSTER)
    #: Why not in the other modes, when more can be said than the mode (e.g. which check does it
    #: there instead); empty: the generic reason.
    not_for_mode: ClassVar[str] = ""
    #: Opt-in checks run only when named by --check (e.g. ones that probe many services).
    opt_in: ClassVar[bool] = False

    def applies(self, ctx: Context) -> str | None:
        """None when the check applies to this target, else the reason it does not (shown as skip)."""
        if ctx.mode in self.modes:
            return None
        return self.not_for_mode or _NOT_FOR_MODE[ctx.mode]

    async def run(self, ctx: Context) -> Result:
        raise NotImplementedError


class Probe(Generic[T]):
    """A typed key for a fact computed once per target and shared by every check that awaits it.

    Keys compare by identity: two probes never collide, whatever their names. ``compute`` gathers
    facts (files, DNS answers, a TLS handshake); it never judges them, and may await other probes
    through the context it is given. It may be given as ``"module:function"``, imported on the
    first await: the key is then importable without importing the code behind it.
    """

    def __init__(self, name: str, compute: Callable[[Context], Awaitable[T]] | str) -> None:
        self.name = name
        self._compute = compute

    @property
    def compute(self) -> Callable[[Context], Awaitable[T]]:
        if isinstance(self._compute, str):
            module, _, attr = self._compute.partition(":")
            self._compute = cast(
                "Callable[[Context], Awaitable[T]]", getattr(importlib.import_module(module), attr)
            )
        return self._compute

    def __repr__(self) -> str:
        return f"Probe({self.name!r})"


#: The details of the check running in the current asyncio task (see `Context.details`).
CHECK_DETAILS: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "check_details", default=None
)


async def run_check(check: Check, ctx: Context) -> Result:
    """Run one check outside the runner (tests, tools): its `ctx.details` merged into the result.

    The runner does the same and more (dependencies, a time bound, crash capture, `Unavailable`).
    """
    details: dict[str, Any] = {}
    token = CHECK_DETAILS.set(details)
    try:
        result = await check.run(ctx)
    finally:
        CHECK_DETAILS.reset(token)
    return replace(result, details={**details, **result.details})
