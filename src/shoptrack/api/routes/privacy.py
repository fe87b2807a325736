"""Klaviyo's profile deletion, ``POST /api/data-privacy-deletion-jobs`` (request_profile_deletion).

Klaviyo queues the job and answers 202; shoptrack does the whole erasure before answering, in one
transaction, so when the 202 arrives the person is gone and nothing is half-deleted.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Literal

from fastapi import Response

from shoptrack.api.deps import AccountDep, ServicesDep
from shoptrack.api.jsonapi import JSONAPIBody, RequestDocument, RequestModel
from shoptrack.api.routes._router import JSONAPIRouter
from shoptrack.domain.identity import InvalidIdentifierError, normalize_email, normalize_phone
from shoptrack.errors import InputError, NotFoundError
from shoptrack.store.privacy import erase_person

__all__ = ["router"]

logger = logging.getLogger(__name__)

_PROFILE_POINTER = "/data/attributes/profile/data"


class DeletionProfileAttributes(RequestModel):
    email: str | None = None
    phone_number: str | None = None


class DeletionProfile(RequestModel):
    type: Literal["profile"]
    id: str | None = None
    attributes: DeletionProfileAttributes = DeletionProfileAttributes()


class DeletionProfileRef(RequestModel):
    data: DeletionProfile


class DeletionJobAttributes(RequestModel):
    profile: DeletionProfileRef


class DeletionJobData(RequestModel):
    type: Literal["data-privacy-deletion-job"]
    attributes: DeletionJobAttributes


class DeletionJobDocument(RequestDocument[DeletionJobData]):
    """The body of request_profile_deletion."""


def _person(body: DeletionJobDocument) -> tuple[str, str]:
    """The one identifier the job names the person by, normalised as profiles store it."""
    profile = body.data.attributes.profile.data
    named = {
        "id": profile.id or None,
        "email": _normalized(normalize_email, profile.attributes.email, "email"),
        "phone_number": _normalized(
            normalize_phone, profile.attributes.phone_number, "phone_number"
        ),
    }
    given = [(name, value) for name, value in named.items() if value is not None]
    if len(given) != 1:
        raise InputError(
            "name the profile by exactly one of id, email or phone_number", pointer=_PROFILE_POINTER
        )
    return given[0]


def _normalized(
    normalize: Callable[[str | None], str | None], value: str | None, field: str
) -> str | None:
    try:
        return normalize(value)
    except InvalidIdentifierError as error:
        raise InputError(str(error), pointer=f"{_PROFILE_POINTER}/attributes/{field}") from error


router = JSONAPIRouter("Data Privacy")


@router.operation(
    "POST /api/data-privacy-deletion-jobs",
    "request_profile_deletion",
    more_errors=(404,),
    status_code=202,
)
def request_profile_deletion(
    account: AccountDep,
    services: ServicesDep,
    body: JSONAPIBody[DeletionJobDocument],
) -> Response:
    """Erases a profile, its events and the personal data of its orders; 202 once done.

    A person named by email or phone number whom no profile matches is not an error: the
    request may be a repeat, and the orders of the email are scrubbed all the same. A profile
    id is a resource, though: one that is not of this account is 404, like any other.
    """
    identifier, value = _person(body)
    with services.database.write() as connection:
        erasure = erase_person(connection, account.id, identifier, value)
        if identifier == "id" and erasure.profile_id is None:
            # Nothing was erased or scrubbed (no profile, no email): the rollback undoes nothing.
            raise NotFoundError(
                f"no profile {value} in this account", pointer=f"{_PROFILE_POINTER}/id"
            )
    # Ids and counts only: the log must not keep what was just erased.
    logger.info(
        "erased profile %s of account %s: %d events, %d order states scrubbed",
        erasure.profile_id or "(none matched)",
        account.id,
        erasure.events,
        erasure.order_states,
    )
    return Response(status_code=202)
