"""Klaviyo's limits on custom properties — of events, of profiles, of Segment messages — checked
before anything is acknowledged: what passes them is what processing can store and read back.

At most 400 properties, text of at most 100 KB, arrays of at most 4,000 items, and values nested
at most 10 levels deep (an object or array in a property is one level). The checks walk with a
stack rather than recursing, so no nesting a JSON parser allowed can exhaust Python's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import AfterValidator

__all__ = [
    "MAX_ARRAY_ITEMS",
    "MAX_NESTING",
    "MAX_PROPERTIES",
    "MAX_STRING_BYTES",
    "Properties",
    "check_properties",
    "escape_pointer",
    "property_problem",
    "too_deep",
]

MAX_PROPERTIES = 400
MAX_STRING_BYTES = 100 * 1024
MAX_ARRAY_ITEMS = 4000
MAX_NESTING = 10


def escape_pointer(name: str) -> str:
    """A name as a JSON pointer segment (RFC 6901)."""
    return name.replace("~", "~0").replace("/", "~1")


def _too_long(text: str) -> bool:
    # Four bytes a character at most: only long text needs encoding to be measured.
    if len(text) * 4 <= MAX_STRING_BYTES:
        return False
    return len(text.encode(errors="replace")) > MAX_STRING_BYTES


def _problem_of(value: Any, depth: int) -> str | None:
    """Why ``value`` itself (not what it holds) breaks a limit, at ``depth`` levels within its
    property."""
    if isinstance(value, str):
        return "text is longer than 100 KB" if _too_long(value) else None
    if not isinstance(value, dict | list):
        return None
    if depth == MAX_NESTING:
        return f"values nest at most {MAX_NESTING} levels of objects and arrays"
    if isinstance(value, list) and len(value) > MAX_ARRAY_ITEMS:
        return f"arrays hold at most {MAX_ARRAY_ITEMS} items (got {len(value)})"
    if isinstance(value, dict) and any(_too_long(str(key)) for key in value):
        return "a key is longer than 100 KB"
    return None


def property_problem(properties: Mapping[str, Any]) -> tuple[str, str] | None:
    """Where (a JSON pointer within ``properties``) and why the first value breaks a limit, or
    None when all hold."""
    if len(properties) > MAX_PROPERTIES:
        return "", f"at most {MAX_PROPERTIES} properties (got {len(properties)})"
    if any(_too_long(str(name)) for name in properties):
        return "", "a property name is longer than 100 KB"
    # (pointer, value, levels of objects and arrays around it within its property)
    stack: list[tuple[str, Any, int]] = [
        (f"/{escape_pointer(str(name))}", value, 0) for name, value in properties.items()
    ]
    while stack:
        pointer, value, depth = stack.pop()
        reason = _problem_of(value, depth)
        if reason is not None:
            return pointer, reason
        if isinstance(value, list):
            stack.extend((f"{pointer}/{n}", item, depth + 1) for n, item in enumerate(value))
        elif isinstance(value, dict):
            stack.extend(
                (f"{pointer}/{escape_pointer(str(key))}", item, depth + 1)
                for key, item in value.items()
            )
    return None


def too_deep(document: Any, levels: int) -> str | None:
    """The JSON pointer of the first object or array of ``document`` nested deeper than
    ``levels`` (``document`` itself is level 1), or None."""
    stack: list[tuple[str, Any, int]] = [("", document, 1)]
    while stack:
        pointer, value, depth = stack.pop()
        if not isinstance(value, dict | list):
            continue
        if depth > levels:
            return pointer or "/"
        if isinstance(value, list):
            stack.extend((f"{pointer}/{n}", item, depth + 1) for n, item in enumerate(value))
        else:
            stack.extend(
                (f"{pointer}/{escape_pointer(str(key))}", item, depth + 1)
                for key, item in value.items()
            )
    return None


def check_properties(properties: dict[str, Any]) -> dict[str, Any]:
    """``properties`` unchanged, or a ``ValueError`` saying where and which limit it breaks
    (for pydantic, which reports it at the field)."""
    problem = property_problem(properties)
    if problem is not None:
        where, reason = problem
        raise ValueError(f"{reason} (at {where})" if where else reason)
    return properties


# A properties object within Klaviyo's limits, for request models.
Properties = Annotated[dict[str, Any], AfterValidator(check_properties)]
