"""Time buckets in a time zone's local calendar, across daylight-saving changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shoptrack.domain.buckets import INTERVALS, Buckets, Interval, Run, make_buckets

NEW_YORK = ZoneInfo("America/New_York")
ZONES = [
    "UTC",
    "America/New_York",
    "Europe/Berlin",
    "Asia/Kolkata",  # +05:30
    "Asia/Kathmandu",  # +05:45
    "Australia/Lord_Howe",  # daylight saving moves the clock by 30 minutes
    "America/Santiago",  # clocks jump at midnight: some days start at 01:00
    "Pacific/Chatham",  # +12:45 / +13:45
]


def _iso(buckets: Buckets) -> list[str]:
    return [boundary.isoformat() for boundary in buckets.boundaries]


def test_a_new_york_day_is_23_hours_in_spring_and_25_in_autumn() -> None:
    spring = make_buckets(
        datetime(2026, 3, 7, tzinfo=NEW_YORK),
        datetime(2026, 3, 10, tzinfo=NEW_YORK),
        "day",
        NEW_YORK,
    )
    assert _iso(spring) == [
        "2026-03-07T00:00:00-05:00",
        "2026-03-08T00:00:00-05:00",
        "2026-03-09T00:00:00-04:00",
        "2026-03-10T00:00:00-04:00",
    ]
    assert [run.width for run in spring.runs()] == [86_400, 82_800, 86_400]
    autumn = make_buckets(
        datetime(2026, 11, 1, tzinfo=NEW_YORK),
        datetime(2026, 11, 2, tzinfo=NEW_YORK),
        "day",
        NEW_YORK,
    )
    assert [run.width for run in autumn.runs()] == [90_000]


def test_hours_skip_the_missing_hour_and_repeat_the_doubled_one() -> None:
    spring = make_buckets(
        datetime(2026, 3, 8, 0, tzinfo=NEW_YORK),
        datetime(2026, 3, 8, 5, tzinfo=NEW_YORK),
        "hour",
        NEW_YORK,
    )
    assert _iso(spring) == [
        "2026-03-08T00:00:00-05:00",
        "2026-03-08T01:00:00-05:00",
        "2026-03-08T03:00:00-04:00",
        "2026-03-08T04:00:00-04:00",
        "2026-03-08T05:00:00-04:00",
    ]
    autumn = make_buckets(
        datetime(2026, 11, 1, 4, tzinfo=UTC), datetime(2026, 11, 1, 8, tzinfo=UTC), "hour", NEW_YORK
    )
    assert _iso(autumn)[:3] == [
        "2026-11-01T00:00:00-04:00",
        "2026-11-01T01:00:00-04:00",
        "2026-11-01T01:00:00-05:00",
    ]
    assert autumn.runs() == [Run(0, 1_793_505_600, 1_793_520_000, 3600)]


def test_a_day_whose_midnight_does_not_exist_starts_at_the_first_instant_that_does() -> None:
    santiago = ZoneInfo("America/Santiago")
    buckets = make_buckets(
        datetime(2026, 9, 5, 12, tzinfo=UTC), datetime(2026, 9, 7, 12, tzinfo=UTC), "day", santiago
    )
    assert _iso(buckets) == [
        "2026-09-05T00:00:00-04:00",
        "2026-09-06T01:00:00-03:00",
        "2026-09-07T00:00:00-03:00",
        "2026-09-08T00:00:00-03:00",
    ]


def test_weeks_start_on_monday_and_months_on_the_first() -> None:
    start = datetime(2026, 2, 26, 15, tzinfo=UTC)  # a Thursday
    weeks = make_buckets(start, start + timedelta(days=8), "week", ZoneInfo("UTC"))
    assert _iso(weeks) == [
        "2026-02-23T00:00:00+00:00",
        "2026-03-02T00:00:00+00:00",
        "2026-03-09T00:00:00+00:00",
    ]
    months = make_buckets(
        datetime(2026, 11, 15, tzinfo=UTC), datetime(2027, 1, 2, tzinfo=UTC), "month", NEW_YORK
    )
    assert _iso(months) == [
        "2026-11-01T00:00:00-04:00",
        "2026-12-01T00:00:00-05:00",
        "2027-01-01T00:00:00-05:00",
        "2027-02-01T00:00:00-05:00",
    ]


def test_only_whole_hour_offsets_put_every_boundary_on_a_utc_hour() -> None:
    start, end = datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)
    assert make_buckets(start, end, "day", NEW_YORK).on_whole_hours
    assert not make_buckets(start, end, "day", ZoneInfo("Asia/Kolkata")).on_whole_hours


def test_a_year_of_hours_is_one_run() -> None:
    buckets = make_buckets(
        datetime(2026, 1, 1, tzinfo=NEW_YORK),
        datetime(2027, 1, 1, tzinfo=NEW_YORK),
        "hour",
        NEW_YORK,
    )
    assert len(buckets) == 8760
    assert len(buckets.runs()) == 1


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (datetime(2026, 1, 2, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC)),
        (datetime(2026, 1, 1), datetime(2026, 1, 2)),  # noqa: DTZ001 - naive on purpose
    ],
)
def test_a_range_must_be_aware_and_forward(start: datetime, end: datetime) -> None:
    with pytest.raises(ValueError, match=r"range|aware"):
        make_buckets(start, end, "day", NEW_YORK)


@settings(max_examples=300, deadline=None)
@given(
    start=st.datetimes(
        min_value=datetime(2024, 1, 1),  # noqa: DTZ001 - hypothesis bounds are naive
        max_value=datetime(2027, 12, 31),  # noqa: DTZ001
        timezones=st.just(UTC),
    ),
    length=st.timedeltas(min_value=timedelta(seconds=1), max_value=timedelta(days=60)),
    interval=st.sampled_from(INTERVALS),
    zone_name=st.sampled_from(ZONES),
)
def test_buckets_cover_the_range_and_runs_place_every_instant(
    start: datetime, length: timedelta, interval: Interval, zone_name: str
) -> None:
    zone = ZoneInfo(zone_name)
    end = start + length
    buckets = make_buckets(start, end, interval, zone)
    epochs = [int(boundary.timestamp()) for boundary in buckets.boundaries]
    assert epochs == sorted(set(epochs))
    assert buckets.boundaries[0] <= start < buckets.boundaries[1]
    assert buckets.boundaries[-2] < end <= buckets.boundaries[-1]
    runs = buckets.runs()
    assert runs[0].start == epochs[0]
    assert runs[-1].end == epochs[-1]
    for index, epoch in enumerate(epochs[:-1]):
        for moment in (epoch, epochs[index + 1] - 1):
            run = next(run for run in runs if run.start <= moment < run.end)
            assert run.first + (moment - run.start) // run.width == index
    if interval == "hour":
        return
    for boundary in buckets.boundaries:
        local = boundary.astimezone(zone)
        # Local midnight, or the first instant of a day whose midnight was skipped.
        earlier = (boundary.astimezone(UTC) - timedelta(minutes=1)).astimezone(zone)
        assert earlier.date() < local.date()
        assert interval != "week" or local.weekday() == 0
        assert interval != "month" or local.day == 1
