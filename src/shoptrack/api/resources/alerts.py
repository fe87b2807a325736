"""The watchdog's ``alert`` and ``alert-subscription`` resources."""

from __future__ import annotations

from typing import Any

from shoptrack.store.alerts import AlertRecord, SubscriptionRecord

__all__ = ["ALERT_TYPE", "SUBSCRIPTION_TYPE", "alert_resource", "subscription_resource"]

ALERT_TYPE = "alert"
SUBSCRIPTION_TYPE = "alert-subscription"


def alert_resource(alert: AlertRecord, base: str) -> dict[str, Any]:
    """One alert, with the finding as last seen."""
    return {
        "type": ALERT_TYPE,
        "id": alert.id,
        "attributes": alert.attributes(),
        "links": {"self": f"{base}/api/alerts/{alert.id}"},
    }


def subscription_resource(
    subscription: SubscriptionRecord, base: str, *, secret: str | None = None
) -> dict[str, Any]:
    """One subscription; a webhook's ``secret`` only in the answer that makes it."""
    resource: dict[str, Any] = {
        "type": SUBSCRIPTION_TYPE,
        "id": subscription.id,
        "attributes": subscription.attributes(),
        "links": {"self": f"{base}/api/alert-subscriptions/{subscription.id}"},
    }
    if secret is not None:
        resource["attributes"]["secret"] = secret
    return resource
