"""The PrestaShop Webservice's query: ``$_GET`` as PHP nests it (``Query``), the filter
grammar (``condition``), what ``display`` asks for (``parse_display``), and the errors the
Webservice answers with (``WebserviceError``).

The filter grammar is ``SQLUtils::getSQLRetrieveFilter``'s: ``[a|b]`` any of, ``[x,y]``
an inclusive ``BETWEEN`` (digits, ``.:-`` and spaces only; the ends sorted), ``>[x]``, ``<[x]``,
``![a|b]`` none of, ``%[x]%`` ``LIKE``, else equality. Comparisons are MySQL's: numbers as
numbers, text without regard to case.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from shoptrack.simulators._php import parse_str
from shoptrack.simulators._prestashop_resources import Field, Resource, as_text

__all__ = [
    "Display",
    "Query",
    "WebserviceError",
    "comparable",
    "condition",
    "did_you_mean",
    "mysql_number",
    "parse_display",
]

_RANGE = re.compile(r"^([\d.:\-\s]+),([\d.:\-\s]+)$")
_FILTER = re.compile(r"^(.*)\[(.*)\](.*)$")
_NUMERIC_KINDS = frozenset({"id", "int", "bool", "price", "decimal"})


class WebserviceError(Exception):
    """An error the Webservice answers with: its HTTP status, code and message."""

    def __init__(self, status: int, code: int, message: str, *, challenge: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.challenge = challenge  # sends WWW-Authenticate (authentication errors)


@dataclass(frozen=True, slots=True)
class Query:
    """A request's parameters as PHP's ``$_GET`` has them (``filter[x]`` nested)."""

    values: dict[str, Any]

    @classmethod
    def parse(cls, query: str, *, drop: Sequence[str] = ()) -> Query:
        """The query string's ``$_GET``, without the arguments named in ``drop``."""
        return cls({name: value for name, value in parse_str(query).items() if name not in drop})

    def text(self, name: str) -> str | None:
        value = self.values.get(name)
        return value if isinstance(value, str) else None


def _closest(word: str, words: Sequence[str]) -> str:
    def distance(a: str, b: str) -> int:
        previous = list(range(len(b) + 1))
        for i, ca in enumerate(a, 1):
            current = [i]
            for j, cb in enumerate(b, 1):
                current.append(
                    min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb))
                )
            previous = current
        return previous[-1]

    return min(words, key=lambda candidate: distance(word, candidate)) if words else ""


def did_you_mean(
    status: int, label: str, wrong: str, available: Sequence[str], code: int
) -> WebserviceError:
    message = f'{label}. Did you mean: "{_closest(wrong, available)}"?'
    if len(available) > 1:
        message += ' The full list is: "' + '", "'.join(available) + '"'
    return WebserviceError(status, code, message)


def mysql_number(text: str) -> Decimal:
    # MySQL reads the leading number of a string, and 0 when there is none.
    match = re.match(r"\s*[-+]?(\d+(\.\d*)?|\.\d+)", text)
    try:
        return Decimal(match.group(0)) if match else Decimal(0)
    except InvalidOperation:
        return Decimal(0)


def comparable(field: Field, value: Any) -> Any:
    text = as_text(value, field.kind)
    if field.kind in _NUMERIC_KINDS:
        return mysql_number(text)
    if field.kind == "date" and len(text) == 10:
        return text + " 00:00:00"
    return text.casefold()


def condition(  # noqa: PLR0911  # one return per form of the filter grammar
    field: Field, filter_value: str
) -> Callable[[Any], bool]:
    """``SQLUtils::getSQLRetrieveFilter`` as a test of one row's value."""

    def given(text: str) -> Any:
        return comparable(field, text)

    match = _FILTER.match(filter_value)
    if match is None:
        wanted = given(filter_value)
        return lambda value: comparable(field, value) == wanted
    before, inner, after = match.groups()
    if before == "%" or after == "%":
        pattern = "".join(
            ".*" if c == "%" else "." if c == "_" else re.escape(c) for c in before + inner + after
        )
        like = re.compile(pattern, re.IGNORECASE | re.DOTALL)
        return lambda value: like.fullmatch(as_text(value, field.kind)) is not None
    if before == "" and after == "":
        if inner.find("|") > 0:
            choices = {given(choice) for choice in inner.split("|")}
            return lambda value: comparable(field, value) in choices
        ends = _RANGE.match(inner)
        if ends is not None:
            # PHP's sort(): numbers as numbers, other strings as strings.
            numeric = all(re.fullmatch(r"\s*\d+(\.\d+)?\s*", end) for end in ends.groups())
            low, high = sorted(
                ends.groups(), key=(lambda e: Decimal(e.strip())) if numeric else None
            )
            return lambda value: given(low) <= comparable(field, value) <= given(high)
        wanted = given(inner)
        return lambda value: comparable(field, value) == wanted
    if before == ">":
        return lambda value: comparable(field, value) > given(inner)
    if before == "<":
        return lambda value: comparable(field, value) < given(inner)
    if before == "!":
        excluded = {given(choice) for choice in inner.split("|")}
        return lambda value: comparable(field, value) not in excluded
    return lambda value: True  # any other prefix adds no condition


@dataclass(frozen=True, slots=True)
class Display:
    """What ``display`` asks for: None for ids only, else the fields and associations."""

    fields: tuple[Field, ...]
    associations: dict[str, tuple[str, ...]]


def parse_display(
    resource: Resource, fields: Sequence[Field], asked: str | None, *, details: bool
) -> Display | None:
    """``setFieldsToDisplay()``: ``full``, ``minimum`` or ``[a,b,assoc[c]]``."""
    everything = Display(tuple(fields), {a.name: a.fields for a in resource.associations})
    if asked is None:
        return everything if details else None
    if asked == "full":
        return everything
    if asked == "minimum":
        return None
    available = ", ".join(field.name for field in fields)
    match = re.fullmatch(r"\[(.*)\]", asked, re.DOTALL)
    if match is None:
        raise WebserviceError(
            400,
            36,
            "The 'display' syntax is wrong. You can set 'full' or '[field_1,field_2,field_3,...]'."
            f" These are available: {available}",
        )
    names: dict[str, list[str] | None] = {}
    depth, current = 0, ""
    for character in match.group(1) + ",":
        if character == "," and depth == 0:
            field_name, _, subfields = current.partition("[")
            field_name = field_name.strip()
            if subfields:
                names[field_name] = (names.get(field_name) or []) + [
                    s.strip() for s in subfields.rstrip("]").split(",")
                ]
            else:
                names.setdefault(field_name, None)
            current = ""
            continue
        depth += (character == "[") - (character == "]")
        current += character
    by_name = {field.name: field for field in fields}
    associations = {a.name: a for a in resource.associations}
    shown: list[Field] = []
    chosen: dict[str, tuple[str, ...]] = {}
    for name, sub in names.items():
        if sub is None and name in by_name:
            shown.append(by_name[name])
        elif (
            sub is not None
            and name in associations
            and all(s == "id" or s in associations[name].fields for s in sub)
        ):
            chosen[name] = tuple(s for s in associations[name].fields if s in sub)
        else:
            details_text = f" (details : {sub!r})" if sub is not None else ""
            raise WebserviceError(
                400,
                35,
                f'Unable to display this field "{name}{details_text}". However, these are'
                f" available: {available}",
            )
    order = {field.name: index for index, field in enumerate(fields)}
    return Display(tuple(sorted(shown, key=lambda f: order[f.name])), chosen)
