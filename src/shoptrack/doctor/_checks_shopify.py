"""Checks of what only a Shopify app meets: orders whose customer Shopify redacted (the app has
no access to protected customer data), and customers' requests for their data."""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import timedelta

from shoptrack.doctor._checks_access import iso
from shoptrack.doctor._examination import Examination
from shoptrack.doctor._findings import Finding, Fix, Severity
from shoptrack.store.diagnostics import recent_order_emails
from shoptrack.store.shopify_apps import data_requests

__all__ = [
    "DATA_REQUEST_DAYS",
    "REDACTED_SAMPLE",
    "check_customer_data_redacted",
    "check_customer_data_requested",
]

# The most recent orders read: when none of them has an email, Shopify is redacting them.
REDACTED_SAMPLE = 20
# Fewer recent orders than this say nothing (a shop's first guest orders may have no email).
_REDACTED_MINIMUM = 3
_RECENT = timedelta(days=30)
# Shopify gives the merchant 30 days to answer a customer's data request.
DATA_REQUEST_DAYS = 30


_ShopifyJudge = Callable[[Examination, str], Finding]


def _shopify_only(
    code: str, elsewhere: str
) -> Callable[[_ShopifyJudge], Callable[[Examination], Finding]]:
    """Makes the check ``code`` of a judge of what only a Shopify store meets; for a store on
    another platform the check is fine and says ``elsewhere``."""

    def decorate(judge: _ShopifyJudge) -> Callable[[Examination], Finding]:
        @functools.wraps(judge)
        def check(exam: Examination) -> Finding:
            if exam.integration.platform != "shopify":
                return Finding(code, Severity.OK, f"Not a Shopify store: {elsewhere}.")
            return judge(exam, code)

        return check

    return decorate


@_shopify_only("customer_data_redacted", "nothing is redacted")
def check_customer_data_redacted(exam: Examination, code: str) -> Finding:
    with exam.read() as connection:
        emails = recent_order_emails(
            connection, exam.integration.id, exam.now - _RECENT, REDACTED_SAMPLE
        )
    with_email = sum(1 for email in emails if email)
    evidence = {"recent_orders": len(emails), "with_email": with_email}
    if len(emails) < _REDACTED_MINIMUM or with_email:
        return Finding(
            code, Severity.OK, "Recent orders arrive with their customers' emails.", evidence
        )
    return Finding(
        code,
        Severity.ERROR,
        f"None of the last {len(emails)} orders arrived with an email: Shopify redacts the"
        " customer's email and name for an app without access to protected customer data, so"
        " no profile is made and no Placed Order recorded for them.",
        evidence,
        Fix(
            "In the Dev Dashboard, open the app > API access > Protected customer data, request"
            " access to customer data with the Email and Name fields, release the version"
            " (installed shops accept it), then sync again with a backfill to record the"
            " orders that came without them.",
            f"shoptrack sync {exam.integration.id} --backfill 30",
        ),
    )


@_shopify_only("customer_data_requested", "no data requests arrive")
def check_customer_data_requested(exam: Examination, code: str) -> Finding:
    with exam.read() as connection:
        requests = data_requests(
            connection, exam.integration.id, exam.now - timedelta(days=DATA_REQUEST_DAYS)
        )
    if not requests:
        return Finding(
            code, Severity.OK, f"No customer asked for their data in {DATA_REQUEST_DAYS} days."
        )
    return Finding(
        code,
        Severity.WARNING,
        f"{len(requests)} customer(s) of the shop asked for their data through Shopify in the"
        f" last {DATA_REQUEST_DAYS} days: the store owner must send it to them.",
        {
            "requests": [
                {
                    "customer_email": request.customer_email,
                    "customer_id": request.customer_id,
                    "orders_requested": list(request.orders_requested),
                    "received": iso(request.received_at),
                }
                for request in requests
            ]
        },
        Fix(
            "Send each customer what shoptrack holds about them: their profile (Profiles, or"
            ' GET /api/profiles?filter=equals(email,"…")) with its events, within 30 days of'
            " the request."
        ),
    )
