"""The members every answer shares: the error document (and each operation's error answers,
for FastAPI's ``responses``), links, and relationships."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["ErrorDocument", "error_responses"]


class OpenModel(BaseModel):
    """Base of the answers' models: open (extra members allowed) where a resource may grow."""

    model_config = ConfigDict(extra="allow")


class ErrorSource(OpenModel):
    """The member of the request at fault: a body's JSON ``pointer`` or a ``parameter``."""

    pointer: str | None = None
    parameter: str | None = None


class Error(OpenModel):
    id: str
    status: int
    code: str = Field(description="stable; listed in the README's error codes")
    title: str
    detail: str
    source: ErrorSource
    meta: dict[str, Any] | None = None


class ErrorDocument(OpenModel):
    """Every error answer: ``{"errors": [{id, status, code, title, detail, source}]}``."""

    errors: list[Error] = Field(min_length=1)


_ERRORS = {
    400: "invalid input: `source` names the field or parameter at fault",
    401: "the key is missing, unknown or revoked",
    404: "no such resource in this account",
    409: "a conflict with what exists",
    413: "the body is over 5 MB",
    422: "the store refused, or the address may not be reached (`address_not_allowed`)",
    429: "too many requests for this key: `Retry-After` says when to try again",
    502: "the store answered something shoptrack cannot use",
    503: "the database cannot be reached now: `Retry-After` says when to try again",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The error answers of an operation, for FastAPI's ``responses``."""
    return {status: {"model": ErrorDocument, "description": _ERRORS[status]} for status in statuses}


class Links(OpenModel):
    self: str


class CollectionLinks(OpenModel):
    self: str
    next: str | None = None


class Reference(OpenModel):
    type: str
    id: str


class Relationship(OpenModel):
    data: Reference
    links: dict[str, str]


class ManyReferences(OpenModel):
    data: list[Reference]


class ManyRelationship(OpenModel):
    data: list[Reference]
    links: dict[str, str]
