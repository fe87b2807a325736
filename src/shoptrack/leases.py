"""Waiting out a lease another process holds (a sync of the same integration, the watchdog)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

__all__ = ["BUSY_POLL_SECONDS", "when_free"]

BUSY_POLL_SECONDS = 0.5  # how often a waiting process looks at the lease again

T = TypeVar("T")


def when_free(
    attempt: Callable[[], T],
    busy: type[Exception],
    waiting: Callable[[], None] | None = None,
) -> T:
    """What ``attempt`` returns once it runs: while it raises ``busy`` (another process holds
    the lease), ``waiting`` is told and it is tried again ``BUSY_POLL_SECONDS`` later."""
    while True:
        try:
            return attempt()
        except busy:
            if waiting is not None:
                waiting()
            time.sleep(BUSY_POLL_SECONDS)
