"""Per-target context: options, the injected environment, memoised probes, known secrets."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar, cast

from kdoctor.core import CHECK_DETAILS, Mode, Probe
from kdoctor.redact import SecretRegistry

T = TypeVar("T")

DEFAULT_SERVICEACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
DEFAULT_RESOLV_CONF = "/etc/resolv.conf"


@dataclass(frozen=True)
class Environment:
    """Everything a check may read from the outside world, injected so tests can replace it."""

    env: Mapping[str, str]
    home: Path
    now: Callable[[], datetime] = lambda: datetime.now(timezone.utc)
    monotonic: Callable[[], float] = time.monotonic

    @classmethod
    def from_os(cls) -> Environment:
        return cls(env=dict(os.environ), home=Path.home())

    def which(self, command: str) -> str | None:
        return shutil.which(command, path=self.env.get("PATH", os.defpath))


@dataclass(frozen=True)
class Options:
    """The run's options, as parsed from the command line."""

    kubeconfig: str | None = None
    context: str | None = None
    all_contexts: bool = False
    in_cluster: bool | None = None  # None: auto-detect
    serviceaccount_dir: str = DEFAULT_SERVICEACCOUNT_DIR
    resolv_conf: str = DEFAULT_RESOLV_CONF
    timeout: float = 5.0
    no_exec: bool = False
    debug: bool = False
    selected: tuple[str, ...] = ()  # --check
    skipped: tuple[str, ...] = ()  # --skip
    #: --client: whose behaviour the checks judge, "kubectl" (client-go) or "python" (the official
    #: Python client and httpx): the proxy route, and which differences are findings or notes.
    client: str = "kubectl"


@dataclass(frozen=True)
class Target:
    """What one run of the checks is aimed at. `context` is None for "the current context"."""

    mode: Mode
    context: str | None = None


@dataclass
class Context:
    """Handed to every check of one target. Probes are computed once per context and shared."""

    options: Options
    environment: Environment
    target: Target
    secrets: SecretRegistry = field(default_factory=SecretRegistry)
    #: What the report says this target is (context, cluster, user, server, config); filled in by
    #: the probes that learn it (the kubeconfig selection, the in-cluster environment).
    identity: dict[str, Any] = field(default_factory=dict)
    _probes: dict[Probe[Any], asyncio.Future[Any]] = field(default_factory=dict, repr=False)
    _closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list, repr=False)

    @property
    def mode(self) -> Mode:
        return self.target.mode

    @property
    def timeout(self) -> float:
        """Per network operation (and per exec plugin run), from --timeout."""
        return self.options.timeout

    @property
    def env(self) -> Mapping[str, str]:
        return self.environment.env

    @property
    def details(self) -> dict[str, Any]:
        """The running check's details: fill it as facts are learnt; the runner puts it in the report.

        One mapping per check (it lives in the check's asyncio task), even when checks share this context.
        """
        details = CHECK_DETAILS.get()
        if details is None:
            details = {}
            CHECK_DETAILS.set(details)
        return details

    def identify(self, **facts: Any) -> None:
        """Record what this target is, for the report header (context=, cluster=, user=, server=, config=)."""
        self.identity.update({k: v for k, v in facts.items() if v is not None})

    async def probe(self, key: Probe[T]) -> T:
        """The value of `key` for this target, computed on first use; concurrent callers share it."""
        future = self._probes.get(key)
        if future is None:
            future = asyncio.ensure_future(key.compute(self))
            self._probes[key] = future
        # shield: one check timing out must not cancel a probe other checks are awaiting.
        return cast(T, await asyncio.shield(future))

    def prefetch(self, *keys: Probe[Any]) -> None:
        """Start computing `keys` without waiting for them.

        For a check whose dependents will await them: their network waits then overlap this
        check's own instead of following it (one --timeout for a silent server, not two). A value
        nobody awaits is dropped with the target's other probes.
        """
        for key in keys:
            if key not in self._probes:
                future = asyncio.ensure_future(key.compute(self))
                # Its failure is the awaiting check's to report; unawaited, it must not be logged.
                future.add_done_callback(_retrieve)
                self._probes[key] = future

    def provide(self, key: Probe[T], value: T) -> None:
        """Give `key` its value without computing it (tests inject facts this way). Needs a running loop."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        future.set_result(value)
        self._probes[key] = future

    def peek(self, key: Probe[T]) -> T | None:
        """The value of `key` if it was computed successfully, without computing it."""
        future = self._probes.get(key)
        if future is None or not future.done() or future.cancelled() or future.exception():
            return None
        return cast(T, future.result())

    def cancel_probes(self) -> None:
        for future in self._probes.values():
            if not future.done():
                future.cancel()

    def add_closer(self, close: Callable[[], Awaitable[None]]) -> None:
        """Register a resource (a connection, a temp dir) to release when the target is done."""
        self._closers.append(close)

    async def aclose(self) -> None:
        """Release every registered resource; a failing or slow close never fails the run."""
        closers, self._closers = self._closers, []
        for close in reversed(closers):
            # Best effort: the report is already made, a close that fails changes nothing in it.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(close(), timeout=self.timeout)


def _retrieve(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()
