"""Klaviyo's profiles API: ``GET|POST /api/profiles``, ``GET|PATCH /api/profiles/{id}`` and the
upsert ``POST /api/profile-import``.

Bodies are read with ``ProfileAttributes``, so an email or phone number is normalised the same
way here as on events (``" A@x.com"`` and ``"a@x.com"`` are one profile). Which attributes a body
*gave* matters: Klaviyo clears a field sent as ``null`` and leaves an omitted one unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Literal

from fastapi import Request, Response

from shoptrack.api.deps import AccountDep, ServicesDep, base_url
from shoptrack.api.jsonapi import (
    FILTER_PARAMETER,
    PAGE_CURSOR_PARAMETER,
    Condition,
    JSONAPIBody,
    Page,
    PageSize,
    RequestDocument,
    RequestModel,
    fields_parameter,
    jsonapi_response,
    parse_fields,
    parse_filter,
    read_cursor,
    sort_parameter,
    utc_time,
)
from shoptrack.api.resources import PROFILE_FIELDS, profile_resource
from shoptrack.api.routes._router import JSONAPIRouter
from shoptrack.api.schemas import ProfileResponse, ProfileResponseCollection
from shoptrack.domain.api_events import ProfileAttributes
from shoptrack.domain.identity import InvalidIdentifierError, normalize_email, normalize_phone
from shoptrack.domain.properties import Properties
from shoptrack.errors import ConflictError, InputError, NotFoundError
from shoptrack.store.accounts import Account
from shoptrack.store.profiles import (
    ProfileChange,
    ProfileQuery,
    create_profile,
    get_profile,
    import_profile,
    list_profiles,
    update_profile,
)

__all__ = ["router"]

_MATCHED = ("equals", "any")
_FILTERS = {
    "id": _MATCHED,
    "email": _MATCHED,
    "phone_number": _MATCHED,
    "external_id": _MATCHED,
    "created": ("greater-than", "less-than"),
    "updated": ("greater-than", "less-than"),
}
# Klaviyo's names for the time columns.
_TIME_COLUMNS = {"created": "created_at", "updated": "updated_at"}
_SORTS = {"id": "id", "created": "created_at", "updated": "updated_at", "email": "email"}
_PAGE_SIZE = PageSize(20, maximum=100)
_NORMALIZE: dict[str, Callable[[str | None], str | None]] = {
    "email": normalize_email,
    "phone_number": normalize_phone,
}


class PatchProperties(RequestModel):
    append: Properties | None = None
    unappend: Properties | None = None
    unset: str | list[str] | None = None


class ProfileMeta(RequestModel):
    patch_properties: PatchProperties | None = None


class ProfileData(RequestModel):
    type: Literal["profile"]
    id: str | None = None
    attributes: ProfileAttributes
    meta: ProfileMeta | None = None


class ProfileDocument(RequestDocument[ProfileData]):
    """The body of create_profile, update_profile and create_or_update_profile."""


def _matched_values(condition: Condition) -> tuple[str, ...]:
    values = condition.value if condition.operator == "any" else [condition.value]
    if not isinstance(values, list) or not all(isinstance(v, str | int) for v in values):
        raise InputError(
            f"{condition.operator}({condition.field}, …) takes a quoted string"
            f"{', or a list of them' if condition.operator == 'any' else ''}",
            parameter="filter",
        )
    normalize = _NORMALIZE.get(condition.field)
    if normalize is None:
        return tuple(str(value) for value in values)
    try:
        normalized = [normalize(str(value)) for value in values]
    except InvalidIdentifierError as error:
        raise InputError(str(error), parameter="filter") from error
    return tuple(value for value in normalized if value is not None)


def _query(request: Request, account: Account) -> ProfileQuery:
    matches: list[tuple[str, tuple[str, ...]]] = []
    after: list[tuple[str, datetime]] = []
    before: list[tuple[str, datetime]] = []
    for condition in parse_filter(request.query_params.get("filter"), _FILTERS):
        if condition.operator in _MATCHED:
            matches.append((condition.field, _matched_values(condition)))
            continue
        if not isinstance(condition.value, datetime):
            raise InputError(
                f"{condition.field} compares with an ISO 8601 time such as 2026-01-01T00:00:00Z",
                parameter="filter",
            )
        bound = (_TIME_COLUMNS[condition.field], condition.value)
        (after if condition.operator == "greater-than" else before).append(bound)
    sort = request.query_params.get("sort", "id")
    column = _SORTS.get(sort.removeprefix("-"))
    if column is None:
        allowed = ", ".join(f"{name}, -{name}" for name in _SORTS)
        raise InputError(f"sort must be one of {allowed}", parameter="sort")
    return ProfileQuery(
        account_id=account.id,
        matches=tuple(matches),
        after=tuple(after),
        before=tuple(before),
        sort=column,
        descending=sort.startswith("-"),
        after_key=_after_key(request, column),
        limit=_PAGE_SIZE.read(request),
    )


def _after_key(request: Request, column: str) -> tuple[Any, str] | None:
    def key(cursor: list[Any]) -> tuple[Any, str]:
        value, profile_id = cursor
        if column in _TIME_COLUMNS.values():
            return utc_time(str(value)), str(profile_id)
        return str(value), str(profile_id)

    return read_cursor(request, key, "page[cursor] is not a cursor this server gave for this sort")


def _change(data: ProfileData) -> ProfileChange:
    """The change a body asks for: only the attributes it gave, as the store expects them."""
    attributes = data.attributes
    given: dict[str, Any] = {}
    for name in attributes.model_fields_set:
        value = getattr(attributes, name)
        if name == "location" and value is not None:
            value = value.model_dump(include=value.model_fields_set)
        elif isinstance(value, str):
            value = value or None  # an empty string is no value
        given[name] = value
    patch = data.meta.patch_properties if data.meta else None
    if patch is None:
        return ProfileChange(attributes=given)
    unset = [patch.unset] if isinstance(patch.unset, str) else patch.unset or []
    return ProfileChange(
        attributes=given,
        append=patch.append or {},
        unappend=patch.unappend or {},
        unset=tuple(unset),
    )


def _fields(request: Request) -> set[str] | None:
    return parse_fields(request, "profile", PROFILE_FIELDS)


def _document(
    request: Request, row: Any, fields: set[str] | None, status_code: int = 200
) -> Response:
    return jsonapi_response(
        {"data": profile_resource(row, base_url(request), fields)}, status_code=status_code
    )


router = JSONAPIRouter("Profiles")
_PROFILE_FIELDS = fields_parameter("profile", PROFILE_FIELDS)
# A profile document, read as JSON:API: a wrong body is a 400 whose pointer names the field.


@router.operation(
    "GET /api/profiles",
    "get_profiles",
    ProfileResponseCollection,
    parameters=(
        FILTER_PARAMETER,
        sort_parameter([key for name in _SORTS for key in (name, f"-{name}")]),
        _PAGE_SIZE.parameter,
        PAGE_CURSOR_PARAMETER,
        _PROFILE_FIELDS,
    ),
)
def get_profiles(request: Request, account: AccountDep, services: ServicesDep) -> Response:
    """Profiles of the account, a page at a time (by id unless ``sort`` says otherwise)."""
    query = _query(request, account)
    fields = _fields(request)
    with services.database.read() as connection:
        rows = list_profiles(connection, query)

    def sort_key(row: Any) -> list[Any]:
        sort_value = (row.email or "") if query.sort == "email" else getattr(row, query.sort)
        return [sort_value, row.id]

    page = Page.of(rows, query.limit, sort_key)
    base = base_url(request)
    return jsonapi_response(page.document(request, lambda row: profile_resource(row, base, fields)))


@router.operation(
    "POST /api/profiles",
    "create_profile",
    ProfileResponse,
    more_errors=(409,),
    status_code=201,
    parameters=(_PROFILE_FIELDS,),
)
def post_profile(
    request: Request, account: AccountDep, services: ServicesDep, body: JSONAPIBody[ProfileDocument]
) -> Response:
    """Creates a profile; 409 ``duplicate_profile`` names the one holding an identifier given."""
    change = _change(body.data)
    fields = _fields(request)  # before the write: a bad parameter changes nothing
    with services.database.write() as connection:
        row = create_profile(connection, account.id, change, services.clock.now())
    return _document(request, row, fields, status_code=201)


@router.operation(
    "GET /api/profiles/{profile_id}", "get_profile", ProfileResponse, parameters=(_PROFILE_FIELDS,)
)
def get_one_profile(
    profile_id: str, request: Request, account: AccountDep, services: ServicesDep
) -> Response:
    """One profile of the account."""
    fields = _fields(request)
    with services.database.read() as connection:
        row = get_profile(connection, account.id, profile_id)
    if row is None:
        raise NotFoundError(f"no profile {profile_id} in this account", parameter="id")
    return _document(request, row, fields)


@router.operation(
    "PATCH /api/profiles/{profile_id}",
    "update_profile",
    ProfileResponse,
    more_errors=(409,),
    parameters=(_PROFILE_FIELDS,),
)
def patch_profile(
    profile_id: str,
    request: Request,
    account: AccountDep,
    services: ServicesDep,
    body: JSONAPIBody[ProfileDocument],
) -> Response:
    """Updates a profile: attributes given replace (``null`` clears), properties merge."""
    data = body.data
    if data.id is None:
        raise InputError("data.id is required and must be the profile's id", pointer="/data/id")
    if data.id != profile_id:
        raise ConflictError(
            f"data.id {data.id} is not the profile {profile_id} of the path", pointer="/data/id"
        )
    change = _change(data)
    fields = _fields(request)
    with services.database.write() as connection:
        row = update_profile(connection, account.id, profile_id, change, services.clock.now())
    return _document(request, row, fields)


@router.operation(
    "POST /api/profile-import",
    "create_or_update_profile",
    ProfileResponse,
    more_errors=(404, 409),
    responses={201: {"model": ProfileResponse, "description": "created"}},
    parameters=(_PROFILE_FIELDS,),
)
def post_profile_import(
    request: Request, account: AccountDep, services: ServicesDep, body: JSONAPIBody[ProfileDocument]
) -> Response:
    """Creates or updates a profile: 201 when it was created, 200 when it was updated."""
    data = body.data
    change = _change(data)
    fields = _fields(request)
    with services.database.write() as connection:
        row, created = import_profile(connection, account.id, data.id, change, services.clock.now())
    return _document(request, row, fields, status_code=201 if created else 200)
