"""Every address of the server's name, connected to at once: which ones answer (kdoctor.dialplan judges).

Only for a direct connection to a name with several addresses; the API session dials just one, and
apiserver.tcp's probe stops at the first that answers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING

from kdoctor.keys import RESOLUTION, ROUTE
from kdoctor.probes.tcp import ConnectAttempt, connect_once

if TYPE_CHECKING:
    from kdoctor.context import Context

__all__ = ["survey_addresses", "survey_resolved_addresses"]

_MAX_ADDRESSES = 8


async def survey_addresses(addresses: Sequence[str], port: int, timeout: float) -> tuple[ConnectAttempt, ...]:
    """Connect to each address concurrently (bounded by `timeout`), in the given order."""
    chosen = list(dict.fromkeys(addresses))[:_MAX_ADDRESSES]
    return tuple(await asyncio.gather(*(connect_once(a, port, timeout) for a in chosen)))


async def survey_resolved_addresses(ctx: Context) -> tuple[ConnectAttempt, ...]:
    """The ADDRESS_SURVEY probe: every resolved address of a direct connection, when there are several."""
    route = await ctx.probe(ROUTE)
    resolution = await ctx.probe(RESOLUTION)
    if route.proxied or not resolution.ok or len(resolution.addresses) < 2:
        return ()
    return await survey_addresses(resolution.addresses, route.dial.port, ctx.timeout)
