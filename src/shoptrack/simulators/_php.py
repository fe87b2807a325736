"""Query strings and form bodies as PHP reads them into ``$_GET`` and ``$_POST``: the arguments
of every PHP platform simulated here (Magento 2, PrestaShop, WooCommerce).

``parse_str()`` follows ``php_register_variable_ex()`` (``main/php_variables.c``):

- ``&`` separates pairs, empty ones are skipped; ``+`` and ``%20`` are spaces; a pair without
  ``=`` has the value ``""``.
- A name's base (before its first ``[``) loses its leading spaces and has ``.`` and spaces turned
  into ``_``; a pair whose base is empty (``=1``, ``[a]=1``) is dropped.
- ``a[b][c]=1`` nests arrays; ``a[]`` (also ``a[ ]``) appends at one past the greatest integer
  key, 0 in an array without one (PHP 8.3's rule).
- A first ``[`` never closed is part of the name, with ``.``, spaces and ``[`` after it turned into
  ``_`` (``a[b.c=1`` sets ``a_b_c``); a later one ends the name there (``a[b][c=1`` sets
  ``a[b]``), and so does any text after a ``]`` that opens no other ``[``.
- A repeated name keeps its last value; an array wanted where a string is replaces the string,
  and the other way round.

Arrays are dicts keyed as PHP keys them, written as strings (``"0"``, ``"b"``), in PHP's order.
Left out: the ``max_input_vars`` and ``max_input_nesting_level`` limits (1,000 pairs, 64 levels)
and the refusal of names that mangling turns into ``__Host-`` or ``__Secure-``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TypeAlias
from urllib.parse import parse_qsl

__all__ = ["PhpArray", "PhpValue", "flatten", "parse_str"]

# A value of $_GET / $_POST: a string, or an array kept as key -> value.
PhpValue: TypeAlias = "str | dict[str, PhpValue]"
PhpArray: TypeAlias = "dict[str, PhpValue]"

# Keys PHP stores as integers: decimal, no leading zero, no "+".
_INTEGER_KEY = re.compile(r"0|-?[1-9][0-9]*")
# Characters PHP replaces with "_" in a name's base, and after a first "[" never closed.
_IN_BASE = str.maketrans(" .", "__")
_AFTER_OPEN_BRACKET = str.maketrans(" .[", "___")
# C's isspace(): one of these may stand before the "]" of an append.
_WHITESPACE = frozenset(" \t\n\v\f\r")


def parse_str(query: str) -> PhpArray:
    """A query string (or form body) as PHP's ``parse_str()`` reads it."""
    array: PhpArray = {}
    for name, value in parse_qsl(query, keep_blank_values=True):
        keys = _keys(name)
        if keys:
            _store(array, keys, value)
    return array


def flatten(array: PhpArray) -> list[tuple[str, str]]:
    """Pairs as ``http_build_query()`` writes them back: nested keys as ``key[index][index]``."""
    return [pair for key, value in array.items() for pair in _pairs(key, value)]


def _pairs(name: str, value: PhpValue) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield name, value
        return
    for key, item in value.items():
        yield from _pairs(f"{name}[{key}]", item)


def _keys(name: str) -> list[str | None]:
    """The keys a pair's name sets, outermost first (None: append); empty for no variable."""
    base, bracket, rest = name.lstrip(" ").partition("[")
    base = base.translate(_IN_BASE)
    if not base:
        return []
    keys: list[str | None] = [base]
    opened = bool(bracket)
    while opened:  # `rest` follows a "["
        start = 1 if rest[:1] in _WHITESPACE else 0
        if rest[start : start + 1] == "]":
            keys.append(None)
            end = start
        else:
            end = rest.find("]")
            if end < 0:
                if len(keys) == 1:
                    keys[0] = f"{base}_{rest.translate(_AFTER_OPEN_BRACKET)}"
                return keys
            keys.append(rest[:end])
        opened = rest.startswith("[", end + 1)
        rest = rest[end + 2 :]
    return keys


def _store(array: PhpArray, keys: list[str | None], value: str) -> None:
    *parents, last = keys
    node = array
    for key in parents:
        existing = None if key is None else node.get(key)
        if isinstance(existing, dict):
            node = existing
        else:  # missing, appended, or a string PHP replaces with an array
            child: PhpArray = {}
            node[_next_index(node) if key is None else key] = child
            node = child
    node[_next_index(node) if last is None else last] = value


def _next_index(array: PhpArray) -> str:
    integers = (int(key) for key in array if _INTEGER_KEY.fullmatch(key))
    return str(max(integers, default=-1) + 1)
