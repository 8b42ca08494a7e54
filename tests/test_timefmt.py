"""One ISO-date helper: converted to UTC before the Z (one of the seven old helpers appended Z to a local time)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from kdoctor.timefmt import human_utc, iso_utc


def test_aware_times_are_converted_before_the_z() -> None:
    paris_winter = timezone(timedelta(hours=1))
    assert iso_utc(datetime(2026, 12, 6, 2, 30, 15, 999, tzinfo=paris_winter)) == "2026-12-06T01:30:15Z"


def test_naive_times_are_utc_and_utc_is_unchanged() -> None:
    assert iso_utc(datetime(2026, 1, 2, 3, 4, 5)) == "2026-01-02T03:04:05Z"
    assert iso_utc(datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)) == "2026-01-02T03:04:05Z"


def test_human_dates_are_utc_to_the_minute() -> None:
    paris_winter = timezone(timedelta(hours=1))
    assert human_utc(datetime(2026, 12, 6, 2, 30, 59, tzinfo=paris_winter)) == "2026-12-06 01:30 UTC"
    # A naive time is UTC here too (the old tls helper read it as local time).
    assert human_utc(datetime(2026, 1, 2, 3, 4, 5)) == "2026-01-02 03:04 UTC"


def test_junit_timestamps_are_utc_without_a_zone() -> None:
    from kdoctor.render.junit import _timestamp

    assert _timestamp("2026-12-06T02:30:15+01:00") == "2026-12-06T01:30:15"
    assert _timestamp("2026-12-06T01:30:15.123Z") == "2026-12-06T01:30:15"
    assert _timestamp("not a time") == ""
