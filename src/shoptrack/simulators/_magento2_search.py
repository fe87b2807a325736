"""``searchCriteria``, as ``GET /rest/V1/orders`` reads and applies it to ``sales_order``.

- Keys in snake_case (``filter_groups``, ``condition_type``, ``page_size``: the REST docs) or
  camelCase (``filterGroups``, ``pageSize``: the swagger schema); the webapi deserializer maps
  both onto the same setters. Another key is refused, as the deserializer refuses a property the
  interface has no accessor for.
- Filters in one group are OR'd, groups are AND'd; ``condition_type`` defaults to ``eq`` and an
  unknown one acts as ``eq`` (``Pdo\\Mysql::prepareSqlCondition`` falls back on the value
  itself). Comparisons are MySQL's: case-insensitive text (``utf8_general_ci``), numbers as
  numbers, ``created_at``/``updated_at`` as UTC datetimes; ``in``/``nin`` take comma lists;
  ``like`` takes ``%`` and ``_``. A field that is not a ``sales_order`` column is an SQL error,
  which production mode masks as a 500.
- Sorting follows ``sortOrders`` in order. Rows that tie on every sort field come back as MySQL
  returns them with ``ORDER BY … LIMIT``: in no particular order, and in a different one for each
  LIMIT/OFFSET (MySQL reference manual, "LIMIT Query Optimization"). Only a unique last sort
  field (``entity_id``, ``increment_id``) makes pages stable. Without ``sortOrders`` rows come in
  the primary key's order.
"""

from __future__ import annotations

import hashlib
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from shoptrack.simulators._magento2_web import MagentoError, required

__all__ = ["COLUMNS", "Criteria", "Filter", "SqlError", "matching", "ordered", "parse_criteria"]

# sales_order's columns that a filter or sort may name (the rest of the table's 130-odd
# columns are not written by this simulator, so naming one finds nothing to compare).
_DATETIMES = frozenset({"created_at", "updated_at"})
_NUMBERS = frozenset(
    {
        "entity_id",
        "store_id",
        "customer_id",
        "customer_group_id",
        "customer_is_guest",
        "quote_id",
        "grand_total",
        "base_grand_total",
        "subtotal",
        "base_subtotal",
        "discount_amount",
        "shipping_amount",
        "tax_amount",
        "total_paid",
        "total_refunded",
        "total_due",
        "total_item_count",
        "total_qty_ordered",
        "is_virtual",
        "email_sent",
    }
)
_TEXTS = frozenset(
    {
        "increment_id",
        "state",
        "status",
        "customer_email",
        "customer_firstname",
        "customer_lastname",
        "coupon_code",
        "order_currency_code",
        "base_currency_code",
        "store_name",
        "shipping_description",
        "remote_ip",
        "protect_code",
    }
)
COLUMNS = _DATETIMES | _NUMBERS | _TEXTS
_UNIQUE = frozenset({"entity_id", "increment_id"})
_PROPERTY = (
    'Property "%propertyName" does not have accessor method "%accessorMethod" in class'
    ' "%className".'
)
_TYPE = (
    'The "%value" value\'s type is invalid. The "%type" type was expected. Verify and try again.'
)
_SORT_DIRECTION = 'The sort order "%1" is not supported. Verify the order and try again.'
_CRITERIA_CLASS = "Magento\\Framework\\Api\\SearchCriteriaInterface"


@dataclass(frozen=True, slots=True)
class Filter:
    """One filter: ``field``, ``value`` and ``condition_type`` as Magento echoes them."""

    field: str
    value: str | None
    condition: str = "eq"


@dataclass(frozen=True, slots=True)
class Criteria:
    """A deserialized ``SearchCriteria``; ``page_size`` and ``current_page`` None when not sent."""

    groups: tuple[tuple[Filter, ...], ...] = ()
    sorts: tuple[tuple[str, str], ...] = ()
    page_size: int | None = None
    current_page: int | None = None

    def echo(self) -> dict[str, Any]:
        """``search_criteria`` in the answer: what was understood (unset parts left out)."""
        echo: dict[str, Any] = {
            "filter_groups": [
                {
                    "filters": [
                        {"field": f.field, "value": f.value, "condition_type": f.condition}
                        for f in group
                    ]
                }
                for group in self.groups
            ]
        }
        if self.sorts:
            echo["sort_orders"] = [{"field": f, "direction": d} for f, d in self.sorts]
        if self.page_size is not None:
            echo["page_size"] = self.page_size
        if self.current_page is not None:
            echo["current_page"] = self.current_page
        return echo


def _key(name: str) -> str:
    # snakeCaseToUpperCamelCase, compared without case: filter_groups == filterGroups.
    return name.replace("_", "").lower()


def _members(raw: Any, allowed: Mapping[str, str], interface: str) -> dict[str, Any]:
    """An object's members under their canonical names; a member the interface has no getter
    for is refused as the deserializer refuses it."""
    if not isinstance(raw, dict):
        return {}
    members: dict[str, Any] = {}
    for name, value in raw.items():
        canonical = allowed.get(_key(name))
        if canonical is None:
            camel = "".join(part[:1].upper() + part[1:] for part in name.split("_"))
            raise MagentoError(
                _PROPERTY,
                400,
                {
                    "propertyName": camel,
                    "accessorMethod": f"get{camel}",
                    "className": f"Magento\\Framework\\Api\\{interface}",
                },
            )
        members[canonical] = value
    return members


def _listed(raw: Any) -> list[Any]:
    # PHP arrays keyed 0, 1, … (or sent with `[]`), in their index order.
    if not isinstance(raw, dict):
        return []
    return [
        raw[k]
        for k in sorted(raw, key=lambda k: (not k.isdigit(), int(k) if k.isdigit() else 0, k))
    ]


def _integer(value: Any) -> int:
    text = value.strip() if isinstance(value, str) else ""
    if not re.fullmatch(r"-?\d+", text):
        raise MagentoError(
            _TYPE, 400, {"value": value if isinstance(value, str) else "", "type": "int"}
        )
    return int(text)


def parse_criteria(query: Mapping[str, Any]) -> Criteria:
    """The ``searchCriteria`` argument of a request's ``$_GET``; ``MagentoError`` if refused."""
    if "searchCriteria" not in query:
        raise required("searchCriteria")
    members = _members(
        query["searchCriteria"],
        {
            "filtergroups": "filter_groups",
            "sortorders": "sort_orders",
            "pagesize": "page_size",
            "currentpage": "current_page",
        },
        "SearchCriteriaInterface",
    )
    groups = []
    for raw_group in _listed(members.get("filter_groups")):
        group = _members(raw_group, {"filters": "filters"}, "Search\\FilterGroup")
        filters = []
        for raw_filter in _listed(group.get("filters")):
            spec = _members(
                raw_filter,
                {"field": "field", "value": "value", "conditiontype": "condition_type"},
                "Filter",
            )
            if not isinstance(spec.get("field"), str) or not spec["field"]:
                raise required("field")
            condition = spec.get("condition_type")
            filters.append(
                Filter(
                    spec["field"],
                    spec["value"] if isinstance(spec.get("value"), str) else None,
                    condition if isinstance(condition, str) and condition else "eq",
                )
            )
        groups.append(tuple(filters))
    sorts = []
    for raw_sort in _listed(members.get("sort_orders")):
        sort = _members(raw_sort, {"field": "field", "direction": "direction"}, "SortOrder")
        direction = sort.get("direction")
        if direction is not None and (
            not isinstance(direction, str) or direction.upper() not in ("ASC", "DESC")
        ):
            raise MagentoError(_SORT_DIRECTION, 400, [direction])
        if isinstance(sort.get("field"), str) and sort["field"]:
            sorts.append((sort["field"], (direction or "ASC").upper()))
    page_size = members.get("page_size")
    current_page = members.get("current_page")
    return Criteria(
        tuple(groups),
        tuple(sorts),
        None if page_size is None else _integer(page_size),
        None if current_page is None else _integer(current_page),
    )


class SqlError(Exception):
    """A query MySQL refuses (an unknown column): production mode answers a masked 500."""


def _datetime(value: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def _typed(column: str, value: Any) -> Any:
    """A value as MySQL compares it with ``column``: None for NULL."""
    if value is None:
        return None
    if column in _DATETIMES:
        return _datetime(str(value))
    if column in _NUMBERS:
        try:
            return Decimal(str(value).strip())
        except InvalidOperation:
            return Decimal(0)  # MySQL reads a non-numeric string as 0
    return str(value).casefold()


def _like(pattern: str) -> re.Pattern[str]:
    parts = ("." if c == "_" else ".*" if c == "%" else re.escape(c) for c in pattern.casefold())
    return re.compile("".join(parts), re.DOTALL)


# Comparison conditions, the unknown ones acting as `eq`; the negated ones by their positive.
_COMPARISONS: dict[str, Callable[[Any, Any], Any]] = {
    "eq": operator.eq,
    "neq": operator.ne,
    "gt": operator.gt,
    "gteq": operator.ge,
    "moreq": operator.ge,
    "from": operator.ge,
    "lt": operator.lt,
    "lteq": operator.le,
    "to": operator.le,
}
_NEGATED = {"nin": "in", "nlike": "like", "nfinset": "finset"}


def _matches(column: str, actual: Any, condition: str, value: str | None) -> bool:
    if condition in ("null", "notnull"):
        return (actual is None) == (condition == "null")
    if actual is None or value is None:
        return False  # SQL: a comparison with NULL is never true, negated or not
    found = _holds(column, actual, _NEGATED.get(condition, condition), value)
    return not found if condition in _NEGATED else found


def _holds(column: str, actual: Any, condition: str, value: str) -> bool:
    if condition == "in":
        return any(_typed(column, actual) == _typed(column, v) for v in value.split(","))
    if condition == "like":
        return _like(value).fullmatch(str(actual).casefold()) is not None
    if condition == "finset":
        return value.casefold() in str(actual).casefold().split(",")
    mine, theirs = _typed(column, actual), _typed(column, value)
    if mine is None or theirs is None:
        return False
    compare = _COMPARISONS.get(condition, _COMPARISONS["eq"])
    return bool(compare(mine, theirs))


def matching(rows: list[Any], column: Callable[[Any, str], Any], criteria: Criteria) -> list[Any]:
    """The rows the filters select, in the primary key's order; ``column(row, name)`` reads a
    column. ``SqlError`` for a column ``sales_order`` does not have (in a filter or a sort)."""
    named = [f.field for group in criteria.groups for f in group]
    for field in named + [field for field, _ in criteria.sorts]:
        if field not in COLUMNS:
            raise SqlError(f"Column not found: 1054 Unknown column '{field}'")
    chosen = [
        row
        for row in rows
        if all(
            any(_matches(f.field, column(row, f.field), f.condition, f.value) for f in group)
            for group in criteria.groups
            if group
        )
    ]
    chosen.sort(key=lambda row: column(row, "entity_id"))
    return chosen


def ordered(
    rows: list[Any],
    column: Callable[[Any, str], Any],
    criteria: Criteria,
    *,
    plan: str,
    salt: bytes,
) -> list[Any]:
    """``rows`` in the order of ``sortOrders``; ``plan`` names the query's LIMIT and OFFSET,
    which decide the order of ties when the last sort field is not unique."""
    rows = list(rows)
    if not criteria.sorts:
        return rows
    if criteria.sorts[-1][0] not in _UNIQUE:
        seed = salt + plan.encode()
        rows.sort(
            key=lambda row: hashlib.sha256(seed + str(column(row, "entity_id")).encode()).digest()
        )
    for field, direction in reversed(criteria.sorts):
        rows.sort(key=_by(column, field), reverse=direction == "DESC")
    return rows


def _by(column: Callable[[Any, str], Any], field: str) -> Callable[[Any], tuple[bool, Any]]:
    def key(row: Any) -> tuple[bool, Any]:
        # NULLs first in ascending order, as in MySQL.
        typed = _typed(field, column(row, field))
        return (typed is not None, typed if typed is not None else 0)

    return key
