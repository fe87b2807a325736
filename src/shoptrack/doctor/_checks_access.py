"""Checks of whether shoptrack may reach the store at all: the integration enabled, its settings
complete, its keys accepted (asked live), no firewall in the way."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from shoptrack.connectors.errors import (
    StoreAnswerNotJSONError,
    StoreError,
    StoreTransientError,
    store_failure,
)
from shoptrack.connectors.http import USER_AGENT
from shoptrack.doctor._examination import Examination
from shoptrack.doctor._findings import Finding, Fix, Severity
from shoptrack.store.diagnostics import delivery_summary
from shoptrack.store.sync_runs import list_runs

__all__ = [
    "check_credentials_rejected",
    "check_credentials_whitespace",
    "check_firewall_blocked",
    "check_integration_disabled",
    "check_scope_missing",
    "check_settings_incomplete",
    "error_evidence",
    "fix_command",
    "iso",
]

# Codes of stored store errors that the live checks below explain better than the record.
_LIVE_CODES = frozenset(
    {
        "credentials_rejected",
        "scope_missing",
        "firewall_blocked",
        "store_not_found",
        "store_unavailable",
        "address_not_allowed",
    }
)


def iso(moment: Any) -> str | None:
    return None if moment is None else moment.isoformat()


def fix_command(exam: Examination, code: str) -> str:
    return f"shoptrack doctor {exam.integration.id} --fix {code}"


def error_evidence(error: StoreError) -> dict[str, Any]:
    """A store's failure as evidence: its class, and the store's own status and answer (None
    rather than empty)."""
    return {**store_failure(error), "store_answer": error.store_answer or None}


def _credentials_command(exam: Examination) -> str:
    fields = [
        name
        for name, info in exam.connector.credentials_model.model_fields.items()
        if info.is_required()
    ]
    options = " ".join(f"-c {name}=…" for name in fields)
    return f"shoptrack integrations update {exam.integration.id} {options}"


def check_integration_disabled(exam: Examination) -> Finding:
    integration = exam.integration
    if integration.enabled:
        return Finding("integration_disabled", Severity.OK, "The integration is enabled.")
    with exam.read() as connection:
        ignored = delivery_summary(connection, integration.id, "ignored")
    detail = exam.row.health_detail or {}
    if detail.get("code") == "app_uninstalled":
        return _uninstalled(exam, detail, ignored.count)
    return Finding(
        "integration_disabled",
        Severity.ERROR,
        f"The integration is disabled: nothing is synced, and {ignored.count} webhook "
        "deliveries were kept unprocessed.",
        {
            "enabled": False,
            "integration_updated": iso(exam.row.updated_at),
            "ignored_deliveries": ignored.count,
            "first_ignored": iso(ignored.oldest),
            "last_ignored": iso(ignored.newest),
        },
        Fix(
            "Enable the integration and process the deliveries kept while it was disabled.",
            fix_command(exam, "integration_disabled"),
            applicable=True,
        ),
    )


def _uninstalled(exam: Examination, detail: dict[str, Any], ignored: int) -> Finding:
    shop = exam.stored_credentials.get("shop_domain")
    return Finding(
        "integration_disabled",
        Severity.ERROR,
        f"The app was uninstalled from {shop}: its access token no longer works, so the"
        f" integration was disabled; {ignored} webhook deliveries were kept unprocessed.",
        {
            "enabled": False,
            "uninstalled_at": detail.get("uninstalled_at"),
            "store_said": detail.get("detail"),
            "ignored_deliveries": ignored,
        },
        Fix(
            "Install the app on the shop again (Integrations > Add a Shopify store, or"
            f" /integrations/shopify/install?shop={shop}); the integration is enabled with"
            " its new token. For a Dev Dashboard app of your own store, install it again in"
            " the Dev Dashboard, then enable the integration."
        ),
    )


def check_settings_incomplete(exam: Examination) -> Finding:
    credentials = exam.stored_credentials
    missing = sorted(
        name
        for name, info in exam.connector.credentials_model.model_fields.items()
        if info.is_required() and not credentials.get(name)
    )
    invalid = [
        {"field": field, "message": message}
        for field, message in exam.credential_errors
        if field not in missing
    ]
    if (
        exam.has_webhooks
        and "webhook_secret" in exam.connector.credentials_model.model_fields
        and not exam.connector.webhook_secrets(credentials)
    ):
        missing.append("webhook_secret")
    detail = exam.row.health_detail or {}
    # Without live checks, the recorded store error is all there is to show of it.
    explained_live = exam.live and detail.get("code") in _LIVE_CODES
    recorded = detail if not explained_live and exam.row.health != "ok" else {}
    evidence = {
        "missing_fields": missing,
        "invalid_fields": invalid,
        "health": exam.row.health,
        "recorded_error": recorded or None,
    }
    if not missing and not invalid and not recorded:
        return Finding(
            "settings_incomplete", Severity.OK, "Credentials and settings are complete.", evidence
        )
    problems = [f"{name} is empty" for name in missing]
    problems += [f"{item['field']}: {item['message']}" for item in invalid]
    if recorded:
        problems.append(f"the integration recorded an error: {recorded.get('detail')}")
    return Finding(
        "settings_incomplete",
        Severity.ERROR if missing or invalid else Severity.WARNING,
        "The integration's setup is incomplete: " + "; ".join(problems) + ".",
        evidence,
        Fix(
            "Enter the missing or wrong credentials (webhook deliveries cannot be verified "
            "without a webhook secret).",
            _credentials_command(exam),
        ),
    )


def check_credentials_whitespace(exam: Examination) -> Finding:
    trimmed = list(exam.integration.settings.get("trimmed_credentials") or [])
    padded = exam.rejected.whitespace
    if padded:
        newest = padded[0][0]
        descriptions = sorted({item[2] for item in padded})
        return Finding(
            "credentials_whitespace",
            Severity.ERROR,
            f"{len(padded)} webhook deliveries were refused that verify once the webhook secret "
            f"has {' or '.join(descriptions)}: the store's copy of the secret differs from "
            "shoptrack's by white space.",
            {
                "refused_deliveries": len(padded),
                "secret_change": descriptions,
                "newest_refused": iso(newest.received_at),
                "delivery_ids": [item[0].id for item in padded[:10]],
                "trimmed_fields": trimmed,
            },
            Fix(
                "Accept the store's secret as it is (kept beside shoptrack's as a valid webhook "
                "secret) and process the refused deliveries.",
                fix_command(exam, "credentials_whitespace"),
                applicable=True,
            ),
        )
    if not trimmed:
        return Finding(
            "credentials_whitespace",
            Severity.OK,
            "No white space was trimmed from the credentials, and no refused webhook verifies "
            "with white space added or removed.",
            {"trimmed_fields": []},
        )
    check = exam.store_check
    refused = check.error is not None and check.error.code == "credentials_rejected"
    evidence = {"trimmed_fields": trimmed, "store_accepts_trimmed": check.ok}
    if refused:
        return Finding(
            "credentials_whitespace",
            Severity.WARNING,
            f"White space was trimmed from {', '.join(trimmed)} on entry, and the store refuses "
            "the keys: the space may be part of the keys on the store's side.",
            evidence,
            Fix(
                "Copy the keys again from the store; if they really contain the space, "
                "generate new keys there and enter them.",
                _credentials_command(exam),
            ),
        )
    return Finding(
        "credentials_whitespace",
        Severity.INFO,
        f"White space was trimmed from {', '.join(trimmed)} on entry"
        + ("; the store accepts the trimmed keys." if check.ok else "."),
        evidence,
        Fix(
            "Nothing is lost. If the store's copy has the space too, remove it there. Applying "
            "this fix forgets the mark once the store accepts the trimmed keys.",
            fix_command(exam, "credentials_whitespace"),
            applicable=check.ok,
        ),
    )


_StoreAnswerJudge = Callable[[Examination, str, StoreError | None], Finding]


def _judges_store_answer(
    code: str,
) -> Callable[[_StoreAnswerJudge], Callable[[Examination], Finding]]:
    """Makes the check ``code`` of a judge of the store's answer to shoptrack's request just
    now (its error, None when it accepted the keys); when the stored credentials cannot be
    read the store was not asked, and the check says so."""

    def decorate(judge: _StoreAnswerJudge) -> Callable[[Examination], Finding]:
        @functools.wraps(judge)
        def check(exam: Examination) -> Finding:
            if not exam.store_check.asked:
                return Finding.not_checked(
                    code,
                    "the stored credentials cannot be read (see settings_incomplete)",
                    Severity.INFO,
                )
            return judge(exam, code, exam.store_check.error)

        return check

    return decorate


@_judges_store_answer("credentials_rejected")
def check_credentials_rejected(exam: Examination, code: str, error: StoreError | None) -> Finding:
    if error is None:
        return Finding(code, Severity.OK, "The store accepts the keys (asked just now).", {})
    refused = _refusal(exam, code, error)
    if refused is not None:
        return refused
    if isinstance(error, StoreTransientError):
        return Finding(
            code,
            Severity.WARNING,
            f"The keys could not be checked: {error.detail}.",
            error_evidence(error),
            Fix("Run the doctor again once the store answers; see firewall_blocked."),
        )
    return Finding(
        code,
        Severity.INFO,
        f"The keys could not be checked: the store answered {error.code} (see that finding).",
        {"checked": False, "code": error.code},
    )


def _refusal(exam: Examination, code: str, error: StoreError) -> Finding | None:
    """The finding of a check the merchant's entries fail: keys refused, no store API at the
    address (an error status, or a web page answering instead), an address not allowed."""
    if isinstance(error, StoreAnswerNotJSONError):
        return Finding(
            code,
            Severity.ERROR,
            f"The store has no API at its address: it answers, but {error.detail} (asked just "
            f"now: HTTP {error.store_status}), as a web page would.",
            error_evidence(error),
            Fix(
                "Enter the store's own address (the one its admin and API live at); a "
                "maintenance page answers the same way until the store is back.",
                _credentials_command(exam),
            ),
        )
    if error.code in ("credentials_rejected", "store_not_found"):
        what = "refuses the keys" if error.code == "credentials_rejected" else "has no API there"
        return Finding(
            code,
            Severity.ERROR,
            f"The store {what} (asked just now: HTTP {error.store_status}).",
            error_evidence(error),
            Fix(
                "Enter the store's current keys (and address); only the store can issue them.",
                _credentials_command(exam),
            ),
        )
    if error.code == "address_not_allowed":
        return Finding(
            code,
            Severity.ERROR,
            "shoptrack may not reach the store's address: it is loopback, private or reserved.",
            error_evidence(error),
            Fix(
                "Enter the store's public address; for a store on a private network, allow its "
                "network with SHOPTRACK_PRIVATE_STORE_NETWORKS (e.g. 10.0.0.0/8) where shoptrack "
                "runs.",
                _credentials_command(exam),
            ),
        )
    return None


@_judges_store_answer("scope_missing")
def check_scope_missing(exam: Examination, code: str, error: StoreError | None) -> Finding:
    if error is not None and error.code == code:
        return Finding(
            code,
            Severity.ERROR,
            f"The keys lack a permission shoptrack needs: {error.detail}.",
            error_evidence(error),
            Fix(
                "Give the keys read access to orders (and webhooks) in the store, or create "
                "keys that have it, then enter them.",
                _credentials_command(exam),
            ),
        )
    recorded = exam.row.health_detail or {}
    if recorded.get("code") == code:
        # Refused while registering webhooks on connecting, or on the last sync.
        return Finding(
            code,
            Severity.ERROR,
            "The keys lacked a permission when shoptrack last needed it: "
            f"{recorded.get('detail')}.",
            dict(recorded),
            Fix(
                "Give the keys the permission the store's answer names (read and write for "
                "webhooks), or create keys that have it, then enter them.",
                _credentials_command(exam),
            ),
        )
    # A cut made during a sync (Shopify's history beyond 60 days) shows only on the run.
    with exam.read() as connection:
        last = list_runs(connection, exam.integration.account_id, exam.integration.id, limit=1)
    if last and last[0].error_code == code:
        run = last[0]
        return Finding(
            code,
            Severity.ERROR,
            f"The last sync could not read everything: {run.error_detail}.",
            {
                "code": code,
                "detail": run.error_detail,
                "store_answer": run.error_answer,
                "sync_run_id": run.id,
                "at": iso(run.finished_at),
            },
            Fix(
                "Give the keys the permission the detail names, then sync again.",
                _credentials_command(exam),
            ),
        )
    return Finding(code, Severity.OK, "The keys have the permissions shoptrack asked for.", {})


@_judges_store_answer("firewall_blocked")
def check_firewall_blocked(exam: Examination, code: str, error: StoreError | None) -> Finding:
    fix = Fix(
        f"Allow the User-Agent {USER_AGENT!r} in the firewall or CDN in front of the store "
        "(Cloudflare, Sucuri, Wordfence, the host's ModSecurity): shoptrack has no fixed IP "
        "addresses to allow.",
    )
    if error is not None and error.code == code:
        return Finding(
            code,
            Severity.ERROR,
            f"A firewall in front of the store blocks shoptrack (HTTP {error.store_status}, "
            "a block or challenge page instead of the store's API).",
            {**error_evidence(error), "user_agent": USER_AGENT},
            fix,
        )
    if isinstance(error, StoreTransientError) and "in time" in error.detail:
        with exam.read() as connection:
            received = delivery_summary(
                connection, exam.integration.id, "processed", source="webhook"
            )
        if received.newest is not None:
            return Finding(
                code,
                Severity.WARNING,
                "The store times out when shoptrack asks, while it reaches shoptrack otherwise "
                "(its webhooks arrive): a firewall may be holding shoptrack's requests.",
                {
                    **error_evidence(error),
                    "user_agent": USER_AGENT,
                    "last_webhook_received": iso(received.newest),
                },
                fix,
            )
    return Finding(code, Severity.OK, "No firewall stands between shoptrack and the store.", {})
