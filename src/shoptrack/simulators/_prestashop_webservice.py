"""The simulated shop's Webservice: ``/api/…`` (and ``/webservice/dispatcher.php?url=…``),
answered as ``WebserviceRequest::fetch()`` does, check after check:

1. the output format: ``Io-Format`` or ``Output-Format`` header, else ``output_format`` or
   ``io_format`` (``JSON``; XML otherwise);
2. the webservice switched on (``PS_WEBSERVICE``: 503, code 22);
3. a key at all, as the Basic user or ``ws_key`` (else a bare ``401 Unauthorized``, as the
   dispatcher dies); then the key, trimmed: empty (17), not 32 characters (18), unknown (20),
   all 401 with ``WWW-Authenticate``;
4. the resource: unknown (400, 27, "Did you mean"), not allowed for the key (401, 26);
5. the method (405: 23 unknown, 25 not allowed for the key; the simulated key reads only);
6. for a list, ``manageFilters()``: filters (32 unknown, 33 empty, 34 computed; date filters
   exist only with ``date=1``), ``display`` (35, 36), ``sort`` (37, 38), ``limit`` (39).

The query's grammar (filters, ``display``) is ``_prestashop_query``'s.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from shoptrack.simulators._kit import behind_edge
from shoptrack.simulators._prestashop_query import (
    Display,
    Query,
    WebserviceError,
    comparable,
    condition,
    did_you_mean,
    mysql_number,
    parse_display,
)
from shoptrack.simulators._prestashop_resources import (
    ALL_RESOURCES,
    RESOURCES,
    Field,
    Resource,
    as_text,
    json_value,
    xml_entity,
    xml_minimum,
)

if TYPE_CHECKING:
    from shoptrack.simulators.prestashop import PrestaShopSimulator

__all__ = ["Webservice", "render_order"]

_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
_REALM = (
    'Basic realm="Welcome to PrestaShop Webservice, please enter the authentication key as the'
    ' login. No password required."'
)
_XML_HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n<prestashop xmlns:xlink="http://www.w3.org/1999/xlink">\n'


# -- rendering ----------------------------------------------------------------------------


def _json_entity(
    resource: Resource, row: Mapping[str, Any], display: Display, major: int
) -> dict[str, Any]:
    entity = {field.name: json_value(field, row.get(field.name), major) for field in display.fields}
    associations = {}
    for association in resource.associations:
        items = row.get("associations", {}).get(association.name, [])
        wanted = display.associations.get(association.name)
        if wanted is not None and items:
            associations[association.name] = [
                {name: as_text(item.get(name)) for name in wanted} for item in items
            ]
    if associations:
        entity["associations"] = associations
    return entity


def _php_json(value: Any) -> str:
    # json_encode($content, JSON_UNESCAPED_UNICODE): slashes stay escaped.
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).replace("/", "\\/")


def render_order(sim: PrestaShopSimulator, row: Mapping[str, Any]) -> dict[str, Any]:
    """An order as ``GET /api/orders/{id}?output_format=JSON`` writes it (the ``order``)."""
    resource = RESOURCES["orders"]
    fields = resource.fields_of(sim.major)
    display = Display(fields, {a.name: a.fields for a in resource.associations})
    rendered: dict[str, Any] = json.loads(
        _php_json(_json_entity(resource, row, display, sim.major))
    )
    return rendered


class Webservice:
    """The ``/api/`` routes of one simulator."""

    def __init__(self, sim: PrestaShopSimulator) -> None:
        self.sim = sim

    def routes(self) -> list[BaseRoute]:
        api = behind_edge(self.sim, self._api, _internal_error)
        return [
            Route("/api", api, methods=_METHODS),
            Route("/api/{url:path}", api, methods=_METHODS),
            # The entry point without URL rewriting: the resource path in `url`.
            Route(
                "/webservice/dispatcher.php",
                behind_edge(self.sim, self._dispatcher, _internal_error),
                methods=_METHODS,
            ),
        ]

    async def _api(self, request: Request) -> Response:
        url = request.path_params.get("url", "")
        return await self._serve(request, url, Query.parse(request.url.query))

    async def _dispatcher(self, request: Request) -> Response:
        query = Query.parse(request.url.query, drop=("url",))
        return await self._serve(request, request.query_params.get("url", ""), query)

    async def _serve(self, request: Request, url: str, query: Query) -> Response:
        ws_url = f"{request.url.scheme}://{request.url.netloc}/api/"
        with self.sim._lock:
            return _Call(self.sim, request, url, query, ws_url).answer()


def _internal_error() -> Response:
    # A PHP fatal error in production mode: Apache's bare 500.
    return Response(
        '<!DOCTYPE HTML PUBLIC "-//IETF//DTD HTML 2.0//EN">\n<html><head>\n'
        "<title>500 Internal Server Error</title>\n</head><body>\n<h1>Internal Server Error</h1>\n"
        "<p>The server encountered an internal error or misconfiguration and was unable to"
        " complete your request.</p>\n</body></html>\n",
        500,
        media_type="text/html",
    )


class _Call:
    """One request to the Webservice, from its checks to its answer."""

    def __init__(
        self, sim: PrestaShopSimulator, request: Request, url: str, query: Query, ws_url: str
    ) -> None:
        self.sim = sim
        self.request = request
        self.query = query
        self.ws_url = ws_url
        self.segments = url.strip("/").split("/") if url.strip("/") else [""]
        headers = {name.lower(): value for name, value in request.headers.items()}
        wanted = headers.get("io-format") or headers.get("output-format")
        wanted = wanted or query.text("output_format") or query.text("io_format")
        self.json = wanted == "JSON"
        self.authenticated = False

    def answer(self) -> Response:
        try:
            return self._answer()
        except WebserviceError as error:
            return self._errors(error)

    def _answer(self) -> Response:
        if self.sim.webservice_disabled:
            raise WebserviceError(
                503,
                22,
                "The PrestaShop webservice is disabled. Please activate it in the PrestaShop"
                " Back Office",
            )
        key = self._key()
        if key is None:
            # webservice/dispatcher.php dies before any output format applies.
            return Response(
                "401 Unauthorized", 401, {"www-authenticate": _REALM}, media_type="text/html"
            )
        self._authenticate(key.strip())
        name = self.segments[0]
        if name and name not in ALL_RESOURCES:
            raise did_you_mean(
                400, f'Resource of type "{name}" does not exists', name, sorted(ALL_RESOURCES), 27
            )
        if name and name not in self.sim.key_resources:
            raise WebserviceError(
                401, 26, f'Resource of type "{name}" is not allowed with this authentication key'
            )
        method = self.request.method
        if method not in ("GET", "PUT", "POST", "PATCH", "DELETE", "HEAD"):
            raise WebserviceError(405, 23, f"Method {method} is not valid")
        if name and method not in ("GET", "HEAD"):
            raise WebserviceError(
                405,
                25,
                f"Method {method} is not allowed for the resource {name} with this"
                " authentication key",
            )
        if not name:
            return self._success(self._resource_list())
        resource = RESOURCES[name]
        if len(self.segments) > 1 and self.segments[1]:
            return self._details(resource, self.segments[1])
        return self._success(self._list(resource))

    def _key(self) -> str | None:
        authorization = self.request.headers.get("authorization", "")
        scheme, _, encoded = authorization.partition(" ")
        if scheme.lower() == "basic" and encoded.strip():
            try:
                return (
                    base64.b64decode(encoded.strip(), validate=True)
                    .decode("latin-1")
                    .partition(":")[0]
                )
            except (binascii.Error, ValueError):
                return None
        return self.query.text("ws_key")

    def _authenticate(self, key: str) -> None:
        if not key:
            raise WebserviceError(401, 17, "Authentication key is empty", challenge=True)
        if len(key) != 32:
            raise WebserviceError(401, 18, "Invalid authentication key format", challenge=True)
        if key != self.sim.webservice_key:
            raise WebserviceError(401, 20, "Authentification key is not active", challenge=True)
        self.authenticated = True

    # -- lists and objects ---------------------------------------------------------------

    def _list(self, resource: Resource) -> str:
        fields = resource.fields_of(self.sim.major)
        rows = self.sim.shop.rows(resource.name)
        query = self.query
        if "schema" in query.values:
            if query.text("schema") not in ("blank", "synopsis"):
                raise WebserviceError(
                    400,
                    28,
                    "Please select a schema of type 'synopsis' to get the whole schema informations"
                    " (which fields are required, which kind of content...) or 'blank' to get an"
                    " empty schema to fill before using POST request",
                )
            return self._blank(resource, fields)
        dated = query.values.get("date") not in (None, "", "0")
        available = [
            field.name
            for field in fields
            if not field.i18n and (dated or field.name not in ("date_add", "date_upd"))
        ]
        translated = [field.name for field in fields if field.i18n]
        by_name = {field.name: field for field in fields}
        filters = query.values.get("filter")
        for name, value in filters.items() if isinstance(filters, dict) else ():
            if name in ("sort", "limit"):
                continue
            if name not in available:
                if isinstance(value, dict):
                    raise WebserviceError(
                        400, 31, "There is no existing linked table for this resource"
                    )
                if not (value != "" and name in translated):
                    raise did_you_mean(400, "This filter does not exist", name, available, 32)
            elif value == "":
                raise WebserviceError(400, 33, f'The filter "{name}" is malformed.')
            elif by_name[name].getter:
                raise WebserviceError(
                    400,
                    34,
                    f'The field "{name}" is dynamic. It is not possible to filter GET query with'
                    " this field.",
                )
            test = condition(by_name[name], str(value))
            rows = [row for row in rows if test(row.get(name))]
        display = parse_display(resource, fields, query.text("display"), details=False)
        rows = self._sorted(rows, by_name, available, translated)
        limit = query.text("limit")
        if limit is not None:
            parts = limit.split(",")
            if len(parts) > 2:
                raise WebserviceError(
                    400, 39, 'The "limit" value has to be formed as this example: "5,25" or "10"'
                )
            numbers = [int(mysql_number(part)) for part in parts]
            start, count = (0, numbers[0]) if len(numbers) == 1 else numbers
            rows = rows[max(start, 0) : max(start, 0) + max(count, 0)]
        return self._render_list(resource, rows, display)

    def _sorted(
        self,
        rows: list[dict[str, Any]],
        by_name: Mapping[str, Field],
        available: Sequence[str],
        translated: Sequence[str],
    ) -> list[dict[str, Any]]:
        sort = self.query.text("sort")
        if sort is None:
            return rows
        match = re.fullmatch(r"\[(.*)\]", sort)
        keys = match.group(1).split(",") if match else [sort]
        order: list[tuple[Field, bool]] = []
        for key in keys:
            name, _, direction = key.rpartition("_")
            if not name or direction.upper() not in ("ASC", "DESC"):
                raise WebserviceError(
                    400,
                    37,
                    'The "sort" value has to be formed as this example: "field_ASC" or'
                    " '[field_1_DESC,field_2_ASC,field_3_ASC,...]' (\"field\" has to be an"
                    " available field)",
                )
            if name not in available and name not in translated:
                raise WebserviceError(
                    400,
                    38,
                    "Unable to filter by this field. However, these are available: "
                    + ", ".join(available)
                    + ", for i18n fields:"
                    + ", ".join(translated),
                )
            order.append((by_name[name], direction.upper() == "DESC"))
        for field, descending in reversed(order):
            rows = sorted(
                rows, key=lambda row: comparable(field, row.get(field.name)), reverse=descending
            )
        return rows

    def _details(self, resource: Resource, given_id: str) -> Response:
        fields = resource.fields_of(self.sim.major)
        display = parse_display(resource, fields, self.query.text("display"), details=True)
        wanted = int(mysql_number(given_id))
        row = next((row for row in self.sim.shop.rows(resource.name) if row["id"] == wanted), None)
        display = display or parse_display(resource, fields, "full", details=True)
        if row is None or display is None:
            # getFilteredObjectDetails(): a 404 whose output is switched off.
            return self._response(404, b"", None)
        if self.json:
            key = resource.name if "display" in self.query.values else resource.node
            entity = _json_entity(resource, row, display, self.sim.major)
            return self._success(_php_json({key: [entity] if key == resource.name else entity}))
        return self._success(
            _XML_HEAD
            + xml_entity(resource, row, display.fields, display.associations, self.ws_url)
            + "</prestashop>\n"
        )

    def _render_list(
        self, resource: Resource, rows: Sequence[Mapping[str, Any]], display: Display | None
    ) -> str:
        if self.json:
            if not rows:
                # The empty PHP array, or the list node the later versions always write.
                return "[]" if self.sim.empty_list == "array" else _php_json({resource.name: []})
            if display is None:
                return _php_json({resource.name: [{"id": int(row["id"])} for row in rows]})
            return _php_json(
                {
                    resource.name: [
                        _json_entity(resource, row, display, self.sim.major) for row in rows
                    ]
                }
            )
        if display is None:
            body = "".join(xml_minimum(resource, int(row["id"]), self.ws_url) for row in rows)
        else:
            body = "".join(
                xml_entity(resource, row, display.fields, display.associations, self.ws_url)
                for row in rows
            )
        return f"{_XML_HEAD}<{resource.name}>\n{body}</{resource.name}>\n</prestashop>\n"

    def _blank(self, resource: Resource, fields: Sequence[Field]) -> str:
        row = {field.name: "" for field in fields}
        associations = {a.name: () for a in resource.associations}
        if self.json:
            return _php_json({resource.node: {field.name: "" for field in fields}})
        return (
            _XML_HEAD
            + xml_entity(resource, row, fields, associations, self.ws_url)
            + "</prestashop>\n"
        )

    def _resource_list(self) -> str:
        names = sorted(self.sim.key_resources)
        if self.json:
            return _php_json(names)
        shop = self.sim.shop.configuration["PS_SHOP_NAME"][0]
        parts = [f'{_XML_HEAD}<api shopName="{_escape(shop)}">\n']
        for name in names:
            rights = ' get="true" put="false" post="false" patch="false" delete="false" head="true"'
            link = f' xlink:href="{self.ws_url}{name}"'
            parts.append(
                f"<{name}{link}{rights}>\n<description{link}{rights}>{ALL_RESOURCES[name]}</description>\n"
            )
            for schema in ("blank", "synopsis"):
                parts.append(
                    f'<schema xlink:href="{self.ws_url}{name}?schema={schema}" type="{schema}"/>\n'
                )
            parts.append(f"</{name}>\n")
        parts.append("</api>\n</prestashop>\n")
        return "".join(parts)

    # -- answers ---------------------------------------------------------------------------

    def _success(self, content: str) -> Response:
        body = content.encode()
        return self._response(200, body, hashlib.sha1(body, usedforsecurity=False).hexdigest())

    def _errors(self, error: WebserviceError) -> Response:
        if self.json:
            content = _php_json({"errors": [{"code": error.code, "message": error.message}]})
        else:
            content = (
                f"{_XML_HEAD}<errors>\n<error>\n<code><![CDATA[{error.code}]]></code>\n"
                f"<message><![CDATA[{error.message}]]></message>\n</error>\n</errors>\n</prestashop>\n"
            )
        response = self._response(error.status, content.encode(), None)
        if error.challenge:
            response.headers["www-authenticate"] = _REALM
        return response

    def _response(self, status: int, body: bytes, sha1: str | None) -> Response:
        headers = {
            "access-time": str(int(self.sim._now().timestamp())),
            "x-powered-by": "PrestaShop Webservice",
            "execution-time": "0.005",
        }
        if self.authenticated:
            # Written only once the key is accepted ("avoid hackers happiness").
            headers["psws-version"] = self.sim.version
        if sha1 is not None:
            headers["content-sha1"] = sha1
        media_type = None
        if body:
            media_type = "application/json" if self.json else "text/xml;charset=utf-8"
        if self.request.method == "HEAD":
            body = b""
        return Response(body, status, headers, media_type=media_type)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;")
