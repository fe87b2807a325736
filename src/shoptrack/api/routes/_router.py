"""The router every JSON:API module declares its operations on: each handler is decorated with
its method and path, operation id and answer model; the error answers are those of what it reads,
and any more it declares."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

from fastapi import APIRouter, Response
from fastapi.dependencies.models import Dependant
from fastapi.dependencies.utils import get_dependant

from shoptrack.api.jsonapi import JSONAPIResponse, JSONAPIRoute
from shoptrack.api.schemas import error_responses

__all__ = ["JSONAPIRouter", "operation_errors"]

EndpointT = TypeVar("EndpointT", bound=Callable[..., Any])


class JSONAPIRouter(APIRouter):
    """The router of one OpenAPI tag's operations: answers in ``application/vnd.api+json``,
    bodies read by ``JSONAPIRoute``, every path answering with and without a trailing slash."""

    def __init__(self, tag: str) -> None:
        super().__init__(
            tags=[tag], route_class=JSONAPIRoute, default_response_class=JSONAPIResponse
        )

    def operation(
        self,
        route: str,
        operation_id: str,
        response_model: Any = None,
        *,
        more_errors: Iterable[int] = (),
        parameters: Sequence[Mapping[str, Any]] = (),
        **options: Any,
    ) -> Callable[[EndpointT], EndpointT]:
        """Registers the decorated handler as ``route`` (``"GET /api/flows"``) and as its path
        with a trailing slash (every API path answers both, without a redirect; only the first
        is described).

        An operation without a ``response_model`` answers with no document (a 202 or a 204).
        ``parameters`` describes the query parameters the handler reads itself; ``options`` are
        FastAPI's, such as ``status_code``. The error answers described, after any other
        ``responses``, are those of ``operation_errors`` and ``more_errors``."""
        method, path = route.split(" ")
        if response_model is None:
            options["response_class"] = Response
        else:
            options["response_model"] = response_model
        if parameters:
            options["openapi_extra"] = {"parameters": [dict(p) for p in parameters]}
        described_answers = options.pop("responses", {})

        def register(endpoint: EndpointT) -> EndpointT:
            errors = operation_errors(path, endpoint, parameters) | set(more_errors)
            responses = {**described_answers, **error_responses(*sorted(errors))}
            for described, route_path in ((True, path), (False, path + "/")):
                self.add_api_route(
                    route_path,
                    endpoint,
                    methods=[method],
                    operation_id=operation_id,
                    include_in_schema=described,
                    responses=responses,
                    **options,
                )
            return endpoint

        return register


def operation_errors(
    path: str, endpoint: Callable[..., Any], parameters: Sequence[Mapping[str, Any]]
) -> set[int]:
    """The error statuses an operation answers for what it reads: 401 and 503 always (every
    operation reads the key's account from the database), 404 where its path names a
    resource, 400 where it reads a body or query parameters (``parameters`` are those the
    handler reads itself), 413 where it reads a body."""
    reads_body, reads_query = False, bool(parameters)
    for dependant in _with_dependencies(get_dependant(path=path, call=endpoint)):
        reads_body = reads_body or bool(dependant.body_params)
        reads_query = reads_query or bool(dependant.query_params)
    errors = {401, 503}
    if "{" in path:
        errors.add(404)
    if reads_body or reads_query:
        errors.add(400)
    if reads_body:
        errors.add(413)
    return errors


def _with_dependencies(dependant: Dependant) -> Iterator[Dependant]:
    """The handler's parameters as FastAPI reads them, then those of each of its dependencies."""
    yield dependant
    for dependency in dependant.dependencies:
        yield from _with_dependencies(dependency)
