"""Check families used by the engine tests, loaded through real entry points."""

from __future__ import annotations

import asyncio
import time

from kdoctor.api import Check, Context, Mode, Probe, Result

CALLS: dict[str, int] = {}
GATE: dict[str, asyncio.Event] = {}


async def _counted(ctx: Context) -> int:
    CALLS["shared"] = CALLS.get("shared", 0) + 1
    await asyncio.sleep(0.01)
    return 42


SHARED = Probe("sample.shared", _counted)


class First(Check):
    """First explains itself."""

    id = "sample.first"
    title = "The first link holds"

    async def run(self, ctx: Context) -> Result:
        return Result.ok(f"value {await ctx.probe(SHARED)}")


class Broken(Check):
    """Fails on purpose."""

    id = "sample.broken"
    title = "The broken link holds"
    depends_on = ("sample.first",)

    async def run(self, ctx: Context) -> Result:
        await ctx.probe(SHARED)
        return Result.fail("it broke", hint="mend it")


class AfterBroken(Check):
    """Depends on the broken one."""

    id = "sample.after-broken"
    title = "Something after the broken link holds"
    depends_on = ("sample.broken",)

    async def run(self, ctx: Context) -> Result:
        return Result.ok("never reached")


class Crashes(Check):
    """Raises; the runner must turn it into error."""

    id = "sample.crashes"
    title = "The crashing check does not crash"

    async def run(self, ctx: Context) -> Result:
        raise RuntimeError("boom at line one\nsecond line")


class Hangs(Check):
    """Never returns; the runner bounds it."""

    id = "sample.hangs"
    title = "The hanging check ends"

    async def run(self, ctx: Context) -> Result:
        await asyncio.sleep(3600)
        return Result.ok("unreachable")


class WaitsForPeer(Check):
    """Only finishes if SetsPeer runs at the same time (proves concurrency without timing)."""

    id = "sample.waits"
    title = "Independent checks run concurrently"

    async def run(self, ctx: Context) -> Result:
        event = GATE.setdefault("peer", asyncio.Event())
        await asyncio.wait_for(event.wait(), timeout=5)
        return Result.ok("peer ran concurrently")


class SetsPeer(Check):
    """Releases WaitsForPeer."""

    id = "sample.sets"
    title = "The peer check runs"

    async def run(self, ctx: Context) -> Result:
        await asyncio.sleep(0.01)
        GATE.setdefault("peer", asyncio.Event()).set()
        return Result.warn("set the gate", hint="nothing to do")


class PodOnly(Check):
    """Applies only in a pod."""

    id = "sample.pod-only"
    title = "A pod-only check holds"

    def applies(self, ctx: Context) -> str | None:
        return None if ctx.mode is Mode.IN_CLUSTER else "only in a pod"

    async def run(self, ctx: Context) -> Result:
        return Result.ok("in a pod")


class AfterPodOnly(Check):
    """Depends on a check that does not apply: it still runs."""

    id = "sample.after-pod-only"
    title = "A check after a non-applicable one runs"
    depends_on = ("sample.pod-only",)

    async def run(self, ctx: Context) -> Result:
        return Result.ok("ran")


class OptIn(Check):
    """Runs only when named."""

    id = "sample.opt-in"
    title = "The opt-in check holds"
    opt_in = True

    async def run(self, ctx: Context) -> Result:
        return Result.ok("named explicitly")


class LeaksSecret(Check):
    """Puts a registered secret in its summary; the report must be scrubbed."""

    id = "sample.leaky"
    title = "Nothing leaks"

    async def run(self, ctx: Context) -> Result:
        ctx.secrets.add("canary-sample-secret-0001")
        return Result.warn("token canary-sample-secret-0001 seen", details={"t": "canary-sample-secret-0001"})


CHECKS = (First, Broken, AfterBroken, Crashes, WaitsForPeer, SetsPeer, PodOnly, AfterPodOnly, OptIn)
class Starved(Check):
    """Cannot run for longer than its bound (the loop blocked, as on a starved machine), then passes."""

    id = "sample.starved"
    title = "The starved check keeps its verdict"

    async def run(self, ctx: Context) -> Result:
        for _ in range(3):
            # Blocking the loop thread is what descheduling looks like from inside the process.
            time.sleep(1.0)
            await asyncio.sleep(0)
        await asyncio.sleep(0.05)
        return Result.ok("parsed in the end")


class HangsAfterStarving(Check):
    """Blocked for a while, then waits forever: the bound still ends it."""

    id = "sample.starves-then-hangs"
    title = "The starved, then hanging check ends"

    async def run(self, ctx: Context) -> Result:
        time.sleep(1.0)
        await asyncio.sleep(3600)
        return Result.ok("unreachable")


SLOW = (Hangs,)
STARVED = (Starved, HangsAfterStarving)
LEAKY = (LeaksSecret,)
NOT_A_CHECK = (object,)


class CycleA(Check):
    id = "cycle.a"
    title = "Depends on cycle.b"
    depends_on = ("cycle.b",)

    async def run(self, ctx: Context) -> Result:
        return Result.ok("ran")


class CycleB(Check):
    id = "cycle.b"
    title = "Depends on cycle.a"
    depends_on = ("cycle.a",)

    async def run(self, ctx: Context) -> Result:
        return Result.ok("ran")


class NamesUnknown(Check):
    id = "orphan.check"
    title = "Depends on a check nobody provides"
    depends_on = ("nobody.provides-this",)

    async def run(self, ctx: Context) -> Result:
        return Result.ok("ran")


class AfterCycle(Check):
    id = "after.cycle"
    title = "Depends on a check whose family is left out"
    depends_on = ("cycle.a",)

    async def run(self, ctx: Context) -> Result:
        return Result.ok("ran")


CYCLE = (CycleA, CycleB)
ORPHAN = (NamesUnknown,)
AFTER_CYCLE = (AfterCycle,)
