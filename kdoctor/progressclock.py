"""A clock for the per-check time bound that stops while the process cannot run.

The bound (runner.check_budget) exists so that a check stuck waiting on something that never comes
cannot hold the run. It is sized for waiting: a few network phases, each bounded by --timeout. On a
starved machine (a CI runner shared with a build, a laptop compiling) a check that parses a large
kubeconfig can spend seconds of wall time without being scheduled at all; counting those seconds
against a bound meant for waiting turned a correct verdict into status `error` (issue 10: six of
10,000 fuzz cases, all under a load of 5+).

So the bound is measured on this clock: wall time minus the time the event loop was late, i.e.
could not run its callbacks because the process was descheduled or busy with local work. A ticker
wakes every TICK seconds; whatever it wakes late beyond TOLERANCE is counted as lag. Time the loop
spends idle waiting on sockets, pipes or timers is not lag, so a check that waits forever still
ends at its bound. One ticker serves every target of a run (200 contexts cost 20 wake-ups a second,
not 4,000).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import weakref
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

#: How often the ticker wakes to measure lag.
TICK = 0.05
#: Lateness the loop may show without counting as lag: timer granularity and a busy but healthy
#: loop (hundreds of targets' callbacks) delay a wake-up by a few milliseconds.
TOLERANCE = 0.02
#: However starved the machine, a check is given up after its bound plus this much wall time.
WALL_SLACK = 60.0

T = TypeVar("T")


class ProgressClock:
    """Wall time minus the event loop's lag, for one event loop."""

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._monotonic = monotonic
        self._lag = 0.0
        self._last_tick = monotonic()
        self._users = 0
        self._ticker: asyncio.Task[None] | None = None

    def now(self) -> float:
        """Seconds on this clock: monotonic time minus the lag so far, the current wake-up included."""
        current = self._monotonic()
        return current - self._lag - self._late(current)

    def _late(self, current: float) -> float:
        if self._ticker is None:
            return 0.0
        return max(0.0, current - (self._last_tick + TICK) - TOLERANCE)

    async def _tick(self) -> None:
        self._last_tick = self._monotonic()
        while True:  # bounded by its users: the last one to leave cancels it
            await asyncio.sleep(TICK)
            current = self._monotonic()
            self._lag += self._late(current)
            self._last_tick = current

    def _enter(self) -> None:
        self._users += 1
        if self._ticker is None:
            self._ticker = asyncio.get_running_loop().create_task(self._tick(), name="progress-clock")

    def _leave(self) -> None:
        self._users -= 1
        if self._users == 0 and self._ticker is not None:
            self._ticker.cancel()
            self._ticker = None

    async def run_within(self, coro: Coroutine[Any, Any, T], budget: float) -> T:
        """Run `coro` as a task; raise TimeoutError once it has had `budget` seconds on this clock.

        The task keeps the caller's context variables (asyncio copies them when it is made), as
        asyncio.wait_for's does. On a timeout or cancellation it is cancelled and given a moment
        to unwind.
        """
        task = asyncio.ensure_future(coro)
        self._enter()
        started = self.now()
        wall_deadline = self._monotonic() + budget + WALL_SLACK
        try:
            # Each round waits for what is left of the budget; lag found meanwhile earns another
            # round. The wall deadline bounds the rounds.
            while True:
                left = min(budget - (self.now() - started), wall_deadline - self._monotonic())
                if left <= 0:
                    break
                done, _ = await asyncio.wait({task}, timeout=left)
                if done:
                    return task.result()
        except asyncio.CancelledError:
            await _cancel(task)
            raise
        finally:
            self._leave()
        await _cancel(task)
        if task.done() and not task.cancelled():
            # It finished in the same breath as the deadline: its answer stands.
            return task.result()
        raise asyncio.TimeoutError


async def _cancel(task: asyncio.Future[Any]) -> None:
    if task.done():
        return
    task.cancel()
    # A check that swallows its cancellation must not hold the run either.
    with contextlib.suppress(BaseException):
        await asyncio.wait({task}, timeout=1.0)


_CLOCKS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, ProgressClock] = weakref.WeakKeyDictionary()


def progress_clock() -> ProgressClock:
    """The clock of the running event loop (one per loop, made on first use)."""
    loop = asyncio.get_running_loop()
    clock = _CLOCKS.get(loop)
    if clock is None:
        clock = _CLOCKS[loop] = ProgressClock()
    return clock
