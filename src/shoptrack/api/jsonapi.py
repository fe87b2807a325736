"""JSON:API in Klaviyo's dialect: filters, sparse fieldsets, includes, keyset cursors, links.

Filters are Klaviyo's expressions — ``equals(metric_id,"X")``, ``greater-or-equal(datetime,
2026-01-01T00:00:00Z)``, several joined by ``and(…)`` or by commas — checked against the fields
and operators each endpoint allows, so a wrong filter is a 400 naming it, never a 500. A filter
nests at most ``MAX_FILTER_DEPTH`` levels of ``and(…)`` and lists, and holds at most
``MAX_FILTER_TERMS`` conditions and values per list: far more than a real query needs, and few
enough that neither the parser nor the SQL it becomes grows with what a client sends.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Coroutine, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Generic, TypeVar
from urllib.parse import urlencode

import orjson
from fastapi import Body, Request, Response
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.types import Scope

from shoptrack.api.asgi import MAX_BODY_BYTES, PayloadTooLargeError
from shoptrack.errors import InputError

__all__ = [
    "FILTER_PARAMETER",
    "JSONAPI_MEDIA_TYPE",
    "MAX_FILTER_DEPTH",
    "MAX_FILTER_TERMS",
    "PAGE_CURSOR_PARAMETER",
    "Condition",
    "JSONAPIBody",
    "JSONAPIResponse",
    "JSONAPIRoute",
    "Page",
    "PageSize",
    "RequestDocument",
    "RequestModel",
    "checked_later_as",
    "collection_links",
    "decode_cursor",
    "encode_cursor",
    "fields_parameter",
    "id_cursor",
    "include_parameter",
    "iso",
    "jsonapi_response",
    "parse_document",
    "parse_fields",
    "parse_filter",
    "parse_include",
    "query_parameter",
    "read_cursor",
    "refuse_unstorable",
    "sort_parameter",
    "sparse",
    "unstorable",
    "utc_time",
]


JSONAPI_MEDIA_TYPE = "application/vnd.api+json"
MAX_FILTER_DEPTH = 10
MAX_FILTER_TERMS = 100
ModelT = TypeVar("ModelT", bound=BaseModel)
ItemT = TypeVar("ItemT")
CursorT = TypeVar("CursorT")


class JSONAPIResponse(JSONResponse):
    """A JSON:API document in ``application/vnd.api+json``, serialised with orjson (a JSON
    answer, so the OpenAPI description gives it its route's response model)."""

    media_type = JSONAPI_MEDIA_TYPE

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def jsonapi_response(document: Any, status_code: int = 200) -> Response:
    """A JSON:API document serialised with orjson."""
    return JSONAPIResponse(document, status_code=status_code)


def iso(moment: datetime | None) -> str | None:
    """A time as Klaviyo writes it: ISO 8601 with its UTC offset."""
    return None if moment is None else moment.astimezone(UTC).isoformat()


class _ParsedBody(Request):
    """A request whose body was read and parsed already: FastAPI validates ``document``."""

    def __init__(self, scope: Scope, body: bytes, document: Any) -> None:
        super().__init__(scope)
        self._raw = body
        self._document = document

    async def body(self) -> bytes:
        return self._raw

    async def json(self) -> Any:
        return self._document


def _as_json(scope: Scope) -> Scope:
    headers = [(name, value) for name, value in scope["headers"] if name != b"content-type"]
    return {**scope, "headers": [*headers, (b"content-type", b"application/json")]}


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _json_document(body: bytes) -> Any:
    """A body parsed as strict JSON. The standard library's parser, not orjson: it reads an
    integer past 64 bits and a lone surrogate as they are, so that ``refuse_unstorable`` can
    name them, where orjson would round the one to a float and refuse the whole body for the
    other."""
    try:
        return json.loads(body, parse_constant=_refuse_constant)
    except RecursionError:
        raise InputError("the body nests too deeply to be read", pointer="/") from None
    except ValueError as error:  # not JSON, or not UTF-8
        raise InputError(f"the body is not JSON: {error}", pointer="/") from error


class JSONAPIRoute(APIRoute):
    """A route whose body, when it takes one, is read as Klaviyo reads bodies: JSON whatever the
    ``Content-Type`` says (``curl -d`` sends form-urlencoded), at most 5 MB (413), and refused
    with 400 naming the value when it holds what the database cannot. The endpoint's request
    model then validates the parsed document, and its first error is a 400 naming the field by
    its JSON pointer (``api.app``)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        if self.body_field is None:
            return handler

        async def read_json(request: Request) -> Response:
            chunks: list[bytes] = []
            size = 0
            async for chunk in request.stream():
                size += len(chunk)
                if size > MAX_BODY_BYTES:
                    raise PayloadTooLargeError(
                        f"request bodies are limited to {MAX_BODY_BYTES} bytes"
                    )
                chunks.append(chunk)
            body = b"".join(chunks)
            if not body:
                return await handler(_ParsedBody(request.scope, body, None))
            document = _json_document(body)
            refuse_unstorable(document)
            return await handler(_ParsedBody(_as_json(request.scope), body, document))

        return read_json


class RequestModel(BaseModel):
    """Base of the documents (and their members) that JSON:API request bodies are read into:
    members a model does not name are ignored, and what was read is not changed afterwards."""

    model_config = ConfigDict(extra="ignore", frozen=True)


DataT = TypeVar("DataT", bound=BaseModel)


class RequestDocument(RequestModel, Generic[DataT]):
    """A JSON:API request body, its primary ``data`` read with ``DataT``. An endpoint's body is
    a subclass named for it (``class FlowCreateDocument(RequestDocument[FlowCreateData])``), so
    that the OpenAPI description names it; ``extra="forbid"`` there refuses unknown members."""

    data: DataT


def checked_later_as(model: type[BaseModel], *, required: Sequence[str] = ()) -> Any:
    """A body member read as a plain object and checked afterwards by ``model`` (which names
    the member at fault better than a validation error), described in the OpenAPI document as
    ``model``'s properties, the ``required`` ones and no others."""
    schema: dict[str, Any] = {"properties": model.model_json_schema()["properties"]}
    if required:
        schema["required"] = list(required)
    schema["additionalProperties"] = False
    return Field(json_schema_extra=schema)


# An endpoint's body parameter, ``body: JSONAPIBody[FlowCreateDocument]``: the request body in
# JSON:API's media type, read by ``JSONAPIRoute`` and validated with the document model.
JSONAPIBody = Annotated[ModelT, Body(media_type=JSONAPI_MEDIA_TYPE)]


def query_parameter(
    name: str, description: str, schema: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """An optional query parameter as OpenAPI describes it, for the parameters a handler reads
    itself (JSON:API's bracketed names such as ``page[size]`` are no Python names)."""
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": dict(schema or {"type": "string"}),
    }


FILTER_PARAMETER = query_parameter(
    "filter",
    'Klaviyo\'s filter expression, e.g. equals(metric_id,"X"); conditions joined by and(…) '
    f"or commas, at most {MAX_FILTER_TERMS} conditions and {MAX_FILTER_DEPTH} levels deep",
)
PAGE_CURSOR_PARAMETER = query_parameter(
    "page[cursor]", "the cursor of the next page, from a previous answer's links.next"
)


def sort_parameter(values: Iterable[str]) -> dict[str, Any]:
    return query_parameter(
        "sort", "the order of the items", {"type": "string", "enum": list(values)}
    )


def fields_parameter(resource_type: str, names: Iterable[str]) -> dict[str, Any]:
    return query_parameter(
        f"fields[{resource_type}]",
        f"a sparse fieldset: the {resource_type} attributes to answer, comma-separated, of "
        + ", ".join(names),
    )


def include_parameter(names: Iterable[str]) -> dict[str, Any]:
    return query_parameter(
        "include", "related resources to include, comma-separated, of " + ", ".join(names)
    )


@dataclass(frozen=True, slots=True)
class Condition:
    """One filter condition, e.g. ``greater-than(datetime, <a datetime>)``."""

    operator: str
    field: str
    value: Any


_CALL = re.compile(r"\s*([a-z-]+)\(")
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}(T[\d:.]+)?(Z|[+-]\d{2}:?\d{2})?$")


def _outside_quotes(text: str) -> Iterator[tuple[int, str, int]]:
    """The characters of ``text`` that stand outside quotes, each with its index and how deep
    parentheses and brackets nest there (an opening one counts itself, a closing one not)."""
    depth, quote = 0, ""
    for index, char in enumerate(text):
        if quote:
            if char == quote:
                quote = ""
        elif char in "\"'":
            quote = char
        else:
            if char in "([":
                depth += 1
            elif char in ")]":
                depth -= 1
            yield index, char, depth


def _split_arguments(text: str) -> list[str]:
    """Splits on top-level commas, respecting quotes, brackets and parentheses."""
    parts: list[str] = []
    start = 0
    for index, char, depth in _outside_quotes(text):
        if char == "," and depth == 0:
            parts.append(text[start:index].strip())
            start = index + 1
    parts.append(text[start:].strip())
    return [part for part in parts if part]


def utc_time(text: str) -> datetime:
    """An ISO 8601 time in UTC; one without an offset is read as UTC. ``ValueError`` for text
    that is no time, or a time with no UTC equivalent (year 1 east of UTC, 9999 west of it)."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    try:
        return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)
    except OverflowError as error:
        raise ValueError(f"{text} has no UTC equivalent") from error


def _nesting(text: str) -> int:
    """How deep parentheses and brackets nest in ``text`` (quoted text aside), in one pass: the
    parser recurses per level, so the depth is checked before it runs."""
    return max([0, *(depth for _, _, depth in _outside_quotes(text))])


def _value(text: str) -> Any:
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return text[1:-1]
    if text.startswith("[") and text.endswith("]"):
        values = _split_arguments(text[1:-1])
        if len(values) > MAX_FILTER_TERMS:
            raise InputError(
                f"a filter list holds at most {MAX_FILTER_TERMS} values (got {len(values)})",
                parameter="filter",
            )
        return [_value(part) for part in values]
    if text in ("true", "false"):
        return text == "true"
    if text == "null":
        return None
    if _DATETIME.match(text):
        try:
            return utc_time(text)
        except ValueError:
            raise InputError(
                f"{text!r} is not a time such as 2026-01-01T00:00:00Z", parameter="filter"
            ) from None
    try:
        return float(text) if "." in text else int(text)
    except ValueError:
        raise InputError(
            f'{text!r} is not a filter value; quote strings, e.g. "{text}"', parameter="filter"
        ) from None


def parse_filter(text: str | None, allowed: Mapping[str, Iterable[str]]) -> list[Condition]:
    """The conditions of a ``filter`` parameter, all of which must hold."""
    if not text:
        return []
    # A condition is a call, a level of nesting itself: equals(…) is depth 1.
    if _nesting(text) > MAX_FILTER_DEPTH + 1:
        raise InputError(
            f"a filter nests at most {MAX_FILTER_DEPTH} levels of and(…) and lists",
            parameter="filter",
        )
    conditions = _conditions(text, allowed)
    if len(conditions) > MAX_FILTER_TERMS:
        raise InputError(
            f"a filter holds at most {MAX_FILTER_TERMS} conditions (got {len(conditions)})",
            parameter="filter",
        )
    return conditions


def _conditions(text: str, allowed: Mapping[str, Iterable[str]]) -> list[Condition]:
    conditions: list[Condition] = []
    for part in _split_arguments(text):
        match = _CALL.match(part)
        if match is None or not part.endswith(")"):
            raise InputError(f"cannot read the filter {part!r}", parameter="filter")
        operator, inner = match.group(1), part[match.end() : -1]
        if operator == "and":
            conditions.extend(_conditions(inner, allowed))
            continue
        arguments = _split_arguments(inner)
        if len(arguments) != 2:
            raise InputError(f"{operator}() takes a field and a value", parameter="filter")
        field, raw_value = arguments
        if field not in allowed:
            raise InputError(
                f"cannot filter on {field!r}; allowed: {', '.join(sorted(allowed))}",
                parameter="filter",
            )
        if operator not in allowed[field]:
            raise InputError(
                f"{field} allows {', '.join(sorted(allowed[field]))}, not {operator}",
                parameter="filter",
            )
        conditions.append(Condition(operator, field, _value(raw_value)))
    return conditions


def parse_fields(request: Request, resource_type: str, allowed: Iterable[str]) -> set[str] | None:
    """The sparse fieldset asked for ``resource_type`` (``fields[event]=…``), or None for all."""
    value = request.query_params.get(f"fields[{resource_type}]")
    if value is None:
        return None
    fields = {field.strip() for field in value.split(",") if field.strip()}
    unknown = fields - set(allowed)
    if unknown:
        raise InputError(
            f"unknown fields {', '.join(sorted(unknown))} for {resource_type}",
            parameter=f"fields[{resource_type}]",
        )
    return fields


def sparse(attributes: dict[str, Any], fields: set[str] | None) -> dict[str, Any]:
    if fields is None:
        return attributes
    return {name: value for name, value in attributes.items() if name in fields}


def parse_include(request: Request, allowed: Iterable[str]) -> set[str]:
    value = request.query_params.get("include")
    if not value:
        return set()
    names = {name.strip() for name in value.split(",") if name.strip()}
    unknown = names - set(allowed)
    if unknown:
        raise InputError(
            f"cannot include {', '.join(sorted(unknown))}; allowed: {', '.join(sorted(allowed))}",
            parameter="include",
        )
    return names


# ASCII digits only ("²".isdigit() is true, yet int() refuses it), few enough for int().
_PAGE_SIZE_DIGITS = re.compile(r"[0-9]{1,9}")


@dataclass(frozen=True, slots=True)
class PageSize:
    """An endpoint's ``page[size]``: how many items a page holds unless asked, and at most."""

    default: int
    maximum: int

    def read(self, request: Request) -> int:
        """The size the request asks for; a 400 names ``page[size]`` when it is out of range."""
        value = request.query_params.get("page[size]")
        if value is None:
            return self.default
        if _PAGE_SIZE_DIGITS.fullmatch(value) is None or not 1 <= int(value) <= self.maximum:
            raise InputError(f"page[size] must be 1 to {self.maximum}", parameter="page[size]")
        return int(value)

    @property
    def parameter(self) -> dict[str, Any]:
        """The ``page[size]`` query parameter as OpenAPI describes it."""
        return query_parameter(
            "page[size]",
            f"items per page (default {self.default})",
            {"type": "integer", "minimum": 1, "maximum": self.maximum},
        )


def encode_cursor(values: Sequence[Any]) -> str:
    """An opaque keyset cursor: the sort key of the last item of a page."""
    raw = orjson.dumps([iso(v) if isinstance(v, datetime) else v for v in values])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(request: Request) -> list[Any] | None:
    value = request.query_params.get("page[cursor]")
    if not value:
        return None
    try:
        decoded = orjson.loads(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))
        if not isinstance(decoded, list) or unstorable(decoded) is not None:
            raise TypeError("a cursor is a list of values the database can hold")
    except (ValueError, TypeError) as error:
        raise InputError(
            "page[cursor] is not a cursor this server gave", parameter="page[cursor]"
        ) from error
    return decoded


def read_cursor(
    request: Request,
    read: Callable[[list[Any]], CursorT],
    refusal: str = "page[cursor] is not a cursor this server gave",
) -> CursorT | None:
    """The request's ``page[cursor]`` as ``read`` makes it out (None without one); one it cannot
    make out (``read`` raises a ``ValueError``, ``TypeError`` or ``IndexError``) is a 400."""
    cursor = decode_cursor(request)
    if cursor is None:
        return None
    try:
        return read(cursor)
    except (ValueError, TypeError, IndexError) as error:
        raise InputError(refusal, parameter="page[cursor]") from error


def collection_links(request: Request, next_cursor: str | None) -> dict[str, str]:
    """Absolute ``self`` and ``next`` links that keep the request's other parameters."""
    base = str(request.url.replace(query=""))
    params = {k: v for k, v in request.query_params.items() if k != "page[cursor]"}
    links = {"self": str(request.url)}
    if next_cursor is not None:
        links["next"] = f"{base}?{urlencode({**params, 'page[cursor]': next_cursor})}"
    return links


def id_cursor(request: Request) -> str | None:
    """The id a page of a collection in id order starts after (``page[cursor]`` of one id), or
    None for the first page."""
    cursor = decode_cursor(request)
    if cursor is not None and (len(cursor) != 1 or not isinstance(cursor[0], str)):
        raise InputError("page[cursor] is not a cursor this server gave", parameter="page[cursor]")
    return cursor[0] if cursor else None


@dataclass(frozen=True, slots=True)
class Page(Generic[ItemT]):
    """One page of a collection: the items shown, and the cursor of the next page when there is
    more (``Page.of`` what a query read one item past the page)."""

    items: Sequence[ItemT]
    next_cursor: str | None

    @classmethod
    def of(
        cls, found: Sequence[ItemT], size: int, sort_key: Callable[[ItemT], Sequence[Any]]
    ) -> Page[ItemT]:
        """The first ``size`` of ``found``; the next page starts after the last of them, by
        its ``sort_key``, when ``found`` holds more."""
        shown = found[:size]
        more = len(found) > size
        return cls(shown, encode_cursor(sort_key(shown[-1])) if more else None)

    def document(
        self, request: Request, resource: Callable[[ItemT], dict[str, Any]]
    ) -> dict[str, Any]:
        """The collection document: each item as its ``resource``, and the page's links."""
        return {
            "data": [resource(item) for item in self.items],
            "links": collection_links(request, self.next_cursor),
        }


# What the JSON serializer of the store writes: integers of at most 64 bits.
_SMALLEST_INTEGER = -(2**63)
_LARGEST_INTEGER = 2**64 - 1


def _unstorable_text(text: str) -> str | None:
    if "\x00" in text:
        return "text may not contain the NUL character (\\u0000)"
    if not text.isascii():
        try:
            text.encode()
        except UnicodeEncodeError:
            return "text may not contain a lone UTF-16 surrogate"
    return None


def unstorable(document: Any) -> tuple[str, str] | None:
    """Where and why a parsed JSON document holds a value the database cannot, or None: text
    with NUL (PostgreSQL refuses it) or a lone surrogate (not UTF-8), or an integer beyond 64
    bits (``json.loads`` reads one, the store's orjson cannot write it). The walk keeps a stack
    rather than recursing, so no nesting that a JSON parser allowed can exhaust Python's."""
    stack: list[tuple[str, Any]] = [("", document)]
    while stack:
        pointer, value = stack.pop()
        reason = None
        if isinstance(value, str):
            reason = _unstorable_text(value)
        elif isinstance(value, int) and not isinstance(value, bool):
            if not _SMALLEST_INTEGER <= value <= _LARGEST_INTEGER:
                reason = "integers are limited to 64 bits"
        elif isinstance(value, dict):
            for key, item in value.items():
                here = f"{pointer}/{str(key).replace('~', '~0').replace('/', '~1')}"
                key_reason = _unstorable_text(str(key))
                if key_reason is not None:
                    return here, key_reason
                stack.append((here, item))
        elif isinstance(value, list):
            stack.extend((f"{pointer}/{index}", item) for index, item in enumerate(value))
        if reason is not None:
            return pointer or "/", reason
    return None


def refuse_unstorable(document: Any) -> None:
    """A 400 naming the first value of a request body that the database cannot hold."""
    found = unstorable(document)
    if found is not None:
        pointer, reason = found
        raise InputError(f"{pointer}: {reason}", pointer=pointer)


def parse_document(model: type[ModelT], document: Any) -> ModelT:
    """A request body read with its model; a 400 names the first field at fault by its JSON
    pointer (and, before the model is asked, any value the database cannot hold)."""
    refuse_unstorable(document)
    try:
        return model.model_validate(document)
    except ValidationError as error:
        first = error.errors(include_url=False)[0]
        pointer = "/" + "/".join(str(part) for part in first["loc"])
        message = first["msg"].removeprefix("Value error, ")
        raise InputError(f"{pointer}: {message}", pointer=pointer) from error
