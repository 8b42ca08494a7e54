"""Moments as text, defined once: RFC 3339 in UTC, the form the Kubernetes API writes, and a short
form for people.

A naive datetime is taken as UTC (every clock kdoctor reads is UTC: `Environment.now`, certificates,
JWT claims); an aware one is converted first, so "Z" is never appended to a local time.
"""

from __future__ import annotations

from datetime import datetime, timezone


def iso_utc(moment: datetime) -> str:
    """2026-12-06T01:02:03Z (seconds precision, like metav1.Time)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def human_utc(moment: datetime) -> str:
    """2026-12-06 01:02 UTC: a summary's date, to the minute (certificate lifetimes, not timings)."""
    return iso_utc(moment)[:16].replace("T", " ") + " UTC"
