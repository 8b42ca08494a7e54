"""The public check API: everything a check family (built-in or third-party) may use.

A check is a small class::

    class ServerURL(Check):
        \"\"\"What `kdoctor explain kubeconfig.server` prints: what it looks at, outcomes, fixes.\"\"\"

        id = "kubeconfig.server"
        title = "The cluster's server URL is usable"
        depends_on = ("kubeconfig.context",)

        def applies(self, ctx: Context) -> str | None:
            return None if ctx.mode is Mode.KUBECONFIG else "only for kubeconfig targets"

        async def run(self, ctx: Context) -> Result:
            config = await ctx.probe(SELECTED)
            ...
            return Result.fail("no server in cluster 'prod'", hint="Set clusters[].cluster.server ...")

and a family module exposes ``CHECKS = (ServerURL, ...)`` registered under the entry-point group
``kdoctor.checks``. Only the runner produces status ``error``; a check that raises is a bug.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

if TYPE_CHECKING:
    from kdoctor.context import Context

__all__ = [
    "Check",
    "Context",
    "Mode",
    "Probe",
    "Result",
    "Status",
]

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


@dataclass(frozen=True)
class Result:
    """What a check returns: a status, the evidence (summary), the fix (hint), and details."""

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


class Check:
    """Base class of every check. Subclasses set the class attributes and implement `run`.

    The class docstring is the text of `kdoctor explain ID`.
    """

    id: ClassVar[str]
    title: ClassVar[str]
    depends_on: ClassVar[tuple[str, ...]] = ()
    #: Opt-in checks run only when named by --check (e.g. ones that probe many services).
    opt_in: ClassVar[bool] = False

    def applies(self, ctx: Context) -> str | None:
        """None when the check applies to this target, else the reason it does not (shown as skip)."""
        return None

    async def run(self, ctx: Context) -> Result:
        raise NotImplementedError


class Probe(Generic[T]):
    """A typed key for a fact computed once per target and shared by every check that awaits it.

    ``compute`` gathers facts (files, DNS answers, a TLS handshake); it never judges them. It may
    await other probes through the context it is given.
    """

    def __init__(self, name: str, compute: Callable[[Context], Awaitable[T]]) -> None:
        self.name = name
        self.compute = compute

    def __repr__(self) -> str:
        return f"Probe({self.name!r})"


async def gather_probes(ctx: Context, *probes: Probe[Any]) -> list[Any]:
    """Await several probes concurrently."""
    return list(await asyncio.gather(*(ctx.probe(p) for p in probes)))


def __getattr__(name: str) -> Any:
    # Context lives in its own module (it needs the options model); re-exported lazily so that
    # `from kdoctor.api import Context` works without an import cycle.
    if name == "Context":
        from kdoctor.context import Context

        return Context
    raise AttributeError(name)
