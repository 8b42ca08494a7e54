"""Version skew between the apiserver, the kubectl on PATH, and kdoctor's known range: pure judging.

Kubernetes' version skew policy: kubectl is supported within one minor version (older or newer)
of kube-apiserver. Each minor release gets about 14 months of upstream patches; a server past its
end of life still works but gets no fixes (managed providers may extend support: a note, not a
finding). The facts come from GET /version and `kubectl version --client -o json` (no network).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal

__all__ = [
    "END_OF_LIFE",
    "KNOWN_RANGE",
    "SkewVerdict",
    "judge_skew",
    "kubectl_download_url",
    "minor_version",
]

#: Upstream end of life (maintenance mode ends) of each minor release (kubernetes.io/releases).
END_OF_LIFE: dict[tuple[int, int], date] = {
    (1, 19): date(2021, 10, 28),
    (1, 20): date(2022, 2, 28),
    (1, 21): date(2022, 6, 28),
    (1, 22): date(2022, 10, 28),
    (1, 23): date(2023, 2, 28),
    (1, 24): date(2023, 7, 28),
    (1, 25): date(2023, 10, 28),
    (1, 26): date(2024, 2, 28),
    (1, 27): date(2024, 6, 28),
    (1, 28): date(2024, 10, 28),
    (1, 29): date(2025, 2, 28),
    (1, 30): date(2025, 6, 28),
    (1, 31): date(2025, 10, 28),
    (1, 32): date(2026, 2, 28),
    (1, 33): date(2026, 6, 28),
    (1, 34): date(2026, 10, 27),
}
#: The apiserver versions kdoctor's verdicts are written and tested for (its emulator, the real
#: apiserver of tests/realcluster and kubectl 1.27-1.33 messages).
KNOWN_RANGE = ((1, 24), (1, 35))
#: kubectl is supported within this many minor versions of the apiserver.
KUBECTL_SKEW = 1

_VERSION = re.compile(r"^v?(\d+)\.(\d+)")
_MINOR = re.compile(r"^(\d+)")


def minor_version(document: Any) -> tuple[int, int] | None:
    """(1, 31) from a version document (gitVersion "v1.31.4", else major/minor "1", "31+")."""
    if not isinstance(document, dict):
        return None
    git = document.get("gitVersion")
    if isinstance(git, str):
        match = _VERSION.match(git.strip())
        if match:
            return int(match.group(1)), int(match.group(2))
    major, minor = document.get("major"), document.get("minor")
    if isinstance(major, str) and isinstance(minor, str):
        m1, m2 = _MINOR.match(major), _MINOR.match(minor)
        if m1 and m2:
            return int(m1.group(1)), int(m2.group(1))
    return None


def kubectl_download_url(git_version: str, platform: str | None) -> str:
    """The upstream download URL of kubectl `git_version` for `platform` ("linux/amd64")."""
    match = _VERSION.match(git_version)
    version = f"v{match.group(1)}.{match.group(2)}" if match else git_version
    # A server's gitVersion may carry a vendor suffix (v1.31.4-eks-...): the upstream patch is the same.
    patch = re.match(r"^v?\d+\.\d+\.\d+", git_version)
    if patch:
        version = "v" + patch.group(0).lstrip("v")
    os_arch = platform or "linux/amd64"
    suffix = ".exe" if os_arch.startswith("windows") else ""
    return f"https://dl.k8s.io/release/{version}/bin/{os_arch}/kubectl{suffix}"


def _v(version: tuple[int, int]) -> str:
    return f"{version[0]}.{version[1]}"


@dataclass(frozen=True)
class SkewVerdict:
    status: Literal["pass", "warn", "skip"]
    summary: str
    hint: str = ""
    notes: tuple[str, ...] = ()
    details: dict[str, Any] = field(default_factory=dict)


def judge_skew(
    server: Any,
    kubectl: Any | None,
    *,
    today: date | datetime,
    kubectl_path: str | None = None,
) -> SkewVerdict:
    """Judge the server's version document against kubectl's `clientVersion` document and the calendar.

    `kubectl` is None when no kubectl is on PATH (not a finding: kdoctor says so and judges the rest).
    """
    day = today.date() if isinstance(today, datetime) else today
    server_v = minor_version(server)
    server_git = server.get("gitVersion") if isinstance(server, dict) else None
    details: dict[str, Any] = {
        "server": server_git,
        "server_minor": _v(server_v) if server_v else None,
        "kubectl": kubectl.get("gitVersion") if isinstance(kubectl, dict) else None,
        "kubectl_path": kubectl_path,
        "kubectl_go": kubectl.get("goVersion") if isinstance(kubectl, dict) else None,
        "known_range": [_v(KNOWN_RANGE[0]), _v(KNOWN_RANGE[1])],
    }
    if server_v is None:
        return SkewVerdict(
            "skip", "the server's version could not be read (see apiserver.version)", details=details
        )
    notes: list[str] = []
    eol = END_OF_LIFE.get(server_v)
    if eol is not None and eol < day:
        details["server_end_of_life"] = eol.isoformat()
        notes.append(
            f"Kubernetes {_v(server_v)} reached upstream end of life on {eol.isoformat()} (no more patches; "
            "managed providers may support it longer)"
        )
    elif server_v < min(END_OF_LIFE):
        notes.append(f"Kubernetes {_v(server_v)} is long past upstream end of life")
    if not KNOWN_RANGE[0] <= server_v <= KNOWN_RANGE[1]:
        notes.append(
            f"kdoctor's verdicts are written for Kubernetes {_v(KNOWN_RANGE[0])}–{_v(KNOWN_RANGE[1])}; "
            f"some may not fit {_v(server_v)}"
        )
    client_v = minor_version(kubectl)
    if client_v is None or not isinstance(kubectl, dict):
        where = "no kubectl on PATH" if kubectl is None else "kubectl's own version could not be read"
        summary = f"server {server_git}; {where}, so there is no client skew to judge"
        return SkewVerdict("pass", _with_notes(summary, notes), notes=tuple(notes), details=details)
    kubectl_git = str(kubectl.get("gitVersion"))
    if "dispatcher" in kubectl_git:
        # Google Cloud SDK's kubectl is a dispatcher: it runs the kubectl release nearest the server.
        details["dispatcher"] = True
        summary = (
            f"server {server_git}; the kubectl on PATH ({kubectl_git}) is a version dispatcher that runs a "
            "kubectl release matching each server, so no skew arises"
        )
        return SkewVerdict("pass", _with_notes(summary, notes), notes=tuple(notes), details=details)
    gap = (client_v[1] - server_v[1]) if client_v[0] == server_v[0] else 99 * (client_v[0] - server_v[0])
    details["minor_skew"] = gap
    if abs(gap) <= KUBECTL_SKEW:
        summary = (
            f"kubectl {kubectl_git} and server {server_git} are within kubectl's supported skew (±1 minor)"
        )
        return SkewVerdict("pass", _with_notes(summary, notes), notes=tuple(notes), details=details)
    direction = "newer" if gap > 0 else "older"
    url = kubectl_download_url(str(server_git), kubectl.get("platform"))
    details["download_url"] = url
    summary = (
        f"kubectl {kubectl_git} is {abs(gap)} minor versions {direction} than the server {server_git}: "
        "beyond kubectl's supported skew of ±1 minor (commands may fail or behave differently)"
    )
    if direction == "older":
        first = f"Upgrade kubectl to {_v(server_v)}: `curl -LO {url}`"
    else:
        first = f"Use a kubectl within one minor of the server ({_v(server_v)}): `curl -LO {url}`"
    hint = (
        f"{first}, `chmod +x kubectl` and put it ahead of {kubectl_path or 'the current one'} on PATH "
        "(or use your package manager's kubectl for that version)."
    )
    if direction == "newer":
        hint += f" Upgrading the cluster past {_v(server_v)} also closes the gap."
    return SkewVerdict("warn", _with_notes(summary, notes), hint, tuple(notes), details)


def _with_notes(summary: str, notes: list[str]) -> str:
    return summary + "".join(f"; note: {n}" for n in notes)
