"""One ISO-date helper: converted to UTC before the Z (one of the seven old helpers appended Z to a local time)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from kdoctor.timefmt import iso_utc


def test_aware_times_are_converted_before_the_z() -> None:
    paris_winter = timezone(timedelta(hours=1))
    assert iso_utc(datetime(2026, 12, 6, 2, 30, 15, 999, tzinfo=paris_winter)) == "2026-12-06T01:30:15Z"


def test_naive_times_are_utc_and_utc_is_unchanged() -> None:
    assert iso_utc(datetime(2026, 1, 2, 3, 4, 5)) == "2026-01-02T03:04:05Z"
    assert iso_utc(datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)) == "2026-01-02T03:04:05Z"
