"""What every Magento 2 REST answer looks like, for the Magento simulator's routes.

- JSON as ``Magento\\Framework\\Serialize\\Serializer\\Json`` writes it (``json_encode`` with PHP's
  default flags: no spaces, ``\\uXXXX`` for non-ASCII, ``/`` escaped).
- Errors as ``Magento\\Framework\\Webapi\\Rest\\Response::_renderMessages`` renders a masked
  exception: ``{"message": ..., "errors": [...], "parameters": ...}``, the message *raw*, its
  ``%1`` / ``%name`` placeholders filled by the client from ``parameters`` (production mode: no
  ``trace``).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping, Sequence
from typing import Any

from starlette.responses import Response

__all__ = [
    "MagentoError",
    "internal_error",
    "magento_json",
    "magento_response",
    "required",
]

_REQUIRED = '"%fieldName" is required. Enter and try again.'
# InputException's message once it holds more than one error.
_SEVERAL = "One or more input exceptions have occurred."


class MagentoError(ValueError):
    """An exception the REST front controller masks and renders (a ``ValueError`` to Python
    callers of the simulator: what they passed is what the API would refuse)."""

    def __init__(
        self,
        message: str,
        status: int,
        parameters: Mapping[str, Any] | Sequence[Any] | None = None,
        *,
        errors: Sequence[tuple[str, Mapping[str, Any]]] = (),
    ) -> None:
        super().__init__(_render(message, parameters))
        self.message = message
        self.status = status
        self.parameters = parameters
        self.errors = list(errors)

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"message": self.message}
        if self.errors:
            body["errors"] = [
                {"message": message, "parameters": parameters}
                for message, parameters in self.errors
            ]
        if self.parameters:
            body["parameters"] = self.parameters
        return body

    def response(self) -> Response:
        return magento_response(self.body(), self.status)


def required(*names: str) -> MagentoError:
    """The 400 for missing arguments, as an ``InputException`` aggregates them."""
    if len(names) == 1:
        return MagentoError(_REQUIRED, 400, {"fieldName": names[0]})
    return MagentoError(_SEVERAL, 400, errors=[(_REQUIRED, {"fieldName": n}) for n in names])


def _render(message: str, parameters: Mapping[str, Any] | Sequence[Any] | None) -> str:
    # What the storefront would show: Phrase renders %1 and %name placeholders.
    if isinstance(parameters, Mapping):
        for name, value in parameters.items():
            message = message.replace(f"%{name}", str(value))
    elif parameters:
        for index, value in enumerate(parameters, start=1):
            message = message.replace(f"%{index}", str(value))
    return message


def magento_json(value: Any) -> bytes:
    """``json_encode()`` with PHP's default flags."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=True).replace("/", "\\/").encode()


def magento_response(body: Any, status: int = 200) -> Response:
    return Response(magento_json(body), status, media_type="application/json; charset=utf-8")


def internal_error() -> Response:
    """An unexpected exception in production mode: masked, logged under a report id."""
    report = f"webapi-{secrets.token_hex(6)[:13]}"
    message = f"Internal Error. Details are available in Magento log file. Report ID: {report}"
    return magento_response({"message": message}, 500)
