"""Alerts: the watchdog runs the doctor by itself and tells the merchant first.

``Watchdog`` runs it (every ``SHOPTRACK_WATCH_INTERVAL_MINUTES`` in the workers, or now with
``shoptrack watch --once``), opening an alert for each error finding or drop and resolving it
once its check passed on two runs in a row; ``AlertNotifier`` emails the account's subscribers
and posts signed webhooks; ``subscribe``/``unsubscribe`` manage who hears of it.
"""

from shoptrack.alerts.notifications import AlertNotifier, NoticeOutcome, alert_document
from shoptrack.alerts.subscriptions import NewSubscription, subscribe, subscriptions, unsubscribe
from shoptrack.alerts.watchdog import (
    RESOLVING_RUNS,
    AccountWatch,
    WatchBusyError,
    Watchdog,
    WatchReport,
    is_alarming,
)

__all__ = [
    "RESOLVING_RUNS",
    "AccountWatch",
    "AlertNotifier",
    "NewSubscription",
    "NoticeOutcome",
    "WatchBusyError",
    "WatchReport",
    "Watchdog",
    "alert_document",
    "is_alarming",
    "subscribe",
    "subscriptions",
    "unsubscribe",
]
