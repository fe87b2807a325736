"""How many refused webhook deliveries of one integration are stored.

Integration ids are public (they are in the tracker snippet), so anyone can post forged
deliveries to a webhook URL. Each refused one is stored for the doctor, small — but not without
limit: a token bucket per integration lets ``BURST`` through at once and ``PER_HOUR`` an hour
after that. Past it a refusal is still answered 401 and counted, and stores nothing.

Limits hold per process; N processes store up to N times as many.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from shoptrack.clock import Clock

__all__ = ["BURST", "PER_HOUR", "RejectionLimit"]

# A sample large enough to diagnose any misconfiguration, small enough that a flood of
# forgeries adds a few megabytes a day per integration at most.
BURST = 20
PER_HOUR = 20


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float  # seconds since the epoch, by the clock


class RejectionLimit:
    """A token bucket per integration id, on the injected clock."""

    def __init__(self, clock: Clock, *, burst: int = BURST, per_hour: int = PER_HOUR) -> None:
        self._clock = clock
        self._burst = float(burst)
        self._rate = per_hour / 3600.0
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def allow(self, integration_id: str) -> bool:
        """Whether one more refused delivery of ``integration_id`` may be stored now."""
        now = self._clock.now().timestamp()
        with self._lock:
            bucket = self._buckets.setdefault(integration_id, _Bucket(self._burst, now))
            elapsed = max(0.0, now - bucket.updated)
            bucket.tokens = min(self._burst, bucket.tokens + elapsed * self._rate)
            bucket.updated = now
            if bucket.tokens < 1:
                return False
            bucket.tokens -= 1
            return True
