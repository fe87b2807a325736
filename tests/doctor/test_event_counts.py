"""The doctor's counts of recent events: read from the hourly rollups and, for the part of an
hour before them, from the events — the same as counting the events themselves."""

from __future__ import annotations

from datetime import datetime, timedelta

from shoptrack.domain.events import EventDraft, Metric, Person
from shoptrack.services import Services
from shoptrack.store.diagnostics import event_counts
from shoptrack.store.recording import Recording, record_events
from tests.conftest import START
from tests.helpers import Shop

SINCE = START.replace(minute=30, second=0, microsecond=0) - timedelta(days=30)


def _record(
    services: Services, shop: Shop, metric: str, times: list[datetime], test: bool = False
) -> None:
    recordings = [
        Recording(
            account_id=shop.account_id,
            draft=EventDraft(
                metric=metric,
                person=Person(email=f"buyer{n}@example.com"),
                time=moment,
                unique_id=f"{metric}-{moment.isoformat()}-{n}",
                properties={},
                test=test,
            ),
            integration_id=shop.integration.id,
        )
        for n, moment in enumerate(times)
    ]
    with services.database.write() as connection:
        record_events(connection, recordings, START)


def test_counts_from_the_first_moment_asked_not_its_hour(services: Services, shop: Shop) -> None:
    before = [
        SINCE - timedelta(days=1),
        SINCE - timedelta(minutes=30),
        SINCE - timedelta(seconds=1),
    ]
    # The half hour before the first whole hour, that hour, later hours and a future one.
    counted = [SINCE, SINCE + timedelta(minutes=29, seconds=59), SINCE + timedelta(minutes=30)]
    counted += [SINCE + timedelta(days=10), START, START + timedelta(days=2)]
    _record(services, shop, Metric.PLACED_ORDER, before + counted)
    _record(services, shop, Metric.PLACED_ORDER, [SINCE + timedelta(hours=3)], test=True)
    with services.database.read() as connection:
        counts = event_counts(
            connection,
            shop.account_id,
            [Metric.PLACED_ORDER, Metric.VIEWED_PRODUCT],
            SINCE,
            integration_id=shop.integration.id,
        )
        on_the_hour = event_counts(
            connection,
            shop.account_id,
            [Metric.PLACED_ORDER],
            SINCE + timedelta(minutes=30),
            integration_id=shop.integration.id,
        )
        api = event_counts(
            connection, shop.account_id, [Metric.PLACED_ORDER], SINCE, integration_id=None
        )
    # A store's test order counts too: the doctor asks whether events arrive at all.
    assert counts == {Metric.PLACED_ORDER: len(counted) + 1, Metric.VIEWED_PRODUCT: 0}
    assert on_the_hour == {Metric.PLACED_ORDER: len(counted) - 2 + 1}
    assert api == {Metric.PLACED_ORDER: 0}
