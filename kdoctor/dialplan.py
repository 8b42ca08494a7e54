"""How Go's dialer tries a host name with several addresses, and what each address did. Pure.

net.Dialer (dial.go, dialParallel / dialSerial) splits the resolver's answer by address family:
the "primaries" are the addresses of the first answer's family, tried one after another (each
with a share of the remaining deadline); the "fallbacks", the other family, start racing
300 ms later (Dialer.FallbackDelay; RFC 6555 happy eyeballs) if no primary has connected yet. The
first connection wins. So `localhost` → ::1, 127.0.0.1 with nothing on ::1 still works for kubectl
(::1 is refused at once, or 127.0.0.1 takes over after 300 ms), and a DNS round robin with one
dead address costs kubectl a share of its timeout whenever that address comes first.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

__all__ = ["FALLBACK_DELAY_MS", "DialPlan", "describe_dial", "go_dial_plan"]

FALLBACK_DELAY_MS = 300


@dataclass(frozen=True)
class DialPlan:
    primaries: tuple[str, ...]
    fallbacks: tuple[str, ...]


def _family(address: str) -> int:
    try:
        return ipaddress.ip_address(address.split("%", 1)[0]).version
    except ValueError:
        return 0


def go_dial_plan(addresses: Sequence[str]) -> DialPlan:
    """Primaries (the first address's family, in order) and fallbacks (the rest), as dialParallel splits them."""
    if not addresses:
        return DialPlan((), ())
    first = _family(addresses[0])
    return DialPlan(
        tuple(a for a in addresses if _family(a) == first), tuple(a for a in addresses if _family(a) != first)
    )


def describe_dial(host: str, plan: DialPlan, outcomes: Mapping[str, str]) -> str:
    """One sentence: the order Go dials in and what each address did ("refused", "connected", ...)."""

    def shown(address: str) -> str:
        return f"{address} {outcomes.get(address, 'not tried')}"

    order = ", then ".join(shown(a) for a in plan.primaries)
    words = f"{host} has {len(plan.primaries) + len(plan.fallbacks)} addresses; Go's dialer tries {order}"
    if plan.fallbacks:
        fallback = ", ".join(shown(a) for a in plan.fallbacks)
        words += f", racing {fallback} from {FALLBACK_DELAY_MS} ms on (happy eyeballs, RFC 6555)"
    answered = [a for a in (*plan.primaries, *plan.fallbacks) if outcomes.get(a) == "connected"]
    dead = [a for a in (*plan.primaries, *plan.fallbacks) if outcomes.get(a) not in (None, "connected")]
    if answered and dead:
        first_ok = answered[0]
        if plan.primaries and plan.primaries[0] != first_ok and outcomes.get(plan.primaries[0]) == "timeout":
            words += f"; kubectl reaches {first_ok} only after {plan.primaries[0]} times out or the fallback starts"
        else:
            words += f"; kubectl connects to {first_ok}"
    return words
