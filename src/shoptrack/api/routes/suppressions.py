"""The suppression list over HTTP: ``GET /api/email-suppressions`` (the addresses no flow email
goes to) and ``POST`` (suppressing one). The public unsubscribe page adds to it too
(``unsubscribe``)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import Request, Response

from shoptrack.api.deps import AccountDep, ServicesDep
from shoptrack.api.jsonapi import JSONAPIBody, RequestDocument, RequestModel, iso, jsonapi_response
from shoptrack.api.routes._router import JSONAPIRouter
from shoptrack.api.schemas import SuppressionResponse, SuppressionResponseCollection
from shoptrack.domain.identity import InvalidIdentifierError, normalize_email
from shoptrack.errors import InputError
from shoptrack.store.flows import list_suppressions, suppress

__all__ = ["router"]

router = JSONAPIRouter("Flows")


class SuppressionAttributes(RequestModel):
    email: str
    reason: Literal["manual", "unsubscribed", "bounced", "complained"] = "manual"


class SuppressionData(RequestModel):
    type: Literal["email-suppression"]
    attributes: SuppressionAttributes


class SuppressionDocument(RequestDocument[SuppressionData]):
    """The body of ``POST /api/email-suppressions``."""


def _suppression_resource(row: Any) -> dict[str, Any]:
    return {
        "type": "email-suppression",
        "id": row.email,
        "attributes": {"email": row.email, "reason": row.reason, "created": iso(row.created_at)},
    }


@router.operation("GET /api/email-suppressions", "get_suppressions", SuppressionResponseCollection)
def get_suppressions(request: Request, account: AccountDep, services: ServicesDep) -> Response:
    """The addresses no flow email goes to."""
    with services.database.read() as connection:
        rows = list_suppressions(connection, account.id)
    return jsonapi_response(
        {"data": [_suppression_resource(row) for row in rows], "links": {"self": str(request.url)}}
    )


@router.operation(
    "POST /api/email-suppressions",
    "create_suppression",
    SuppressionResponse,
    status_code=201,
    responses={200: {"model": SuppressionResponse, "description": "suppressed already"}},
)
def post_suppression(
    account: AccountDep, services: ServicesDep, body: JSONAPIBody[SuppressionDocument]
) -> Response:
    """Suppresses an address (reason ``manual`` unless given): no flow emails it again."""
    try:
        email = normalize_email(body.data.attributes.email)
    except InvalidIdentifierError as error:
        raise InputError(str(error), pointer="/data/attributes/email") from error
    if email is None:
        raise InputError("email is required", pointer="/data/attributes/email")
    reason = body.data.attributes.reason
    now = services.clock.now()
    with services.database.write() as connection:
        created = suppress(connection, account.id, email, reason, now)
    return jsonapi_response(
        {
            "data": {
                "type": "email-suppression",
                "id": email,
                "attributes": {"email": email, "reason": reason, "created": iso(now)},
            }
        },
        201 if created else 200,
    )
