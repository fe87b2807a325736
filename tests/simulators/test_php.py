"""``$_GET`` as PHP fills it, for the Magento 2, PrestaShop and WooCommerce simulators: PHP's
own rules for malformed names, and each simulator reading the arguments its clients send as it
always has."""

from __future__ import annotations

import pytest

from shoptrack.simulators._magento2_search import Criteria, Filter, parse_criteria
from shoptrack.simulators._php import PhpArray, flatten, parse_str
from shoptrack.simulators._prestashop_query import Query
from shoptrack.simulators._wordpress import QueryArgs


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("a=1&b=&c", {"a": "1", "b": "", "c": ""}),
        ("a=1&&a=2", {"a": "2"}),  # empty pairs skipped, the last value kept
        ("q=a+b%20c&x%5By%5D=1", {"q": "a b c", "x": {"y": "1"}}),
        ("a[]=1&a[]=2", {"a": {"0": "1", "1": "2"}}),
        ("a[5]=x&a[]=y", {"a": {"5": "x", "6": "y"}}),  # one past the greatest integer key
        ("a[05]=x&a[]=y", {"a": {"05": "x", "0": "y"}}),  # "05" is a string key
        ("a[-5]=x&a[]=y", {"a": {"-5": "x", "-4": "y"}}),
        ("a[ ]=1&a[ b]=2", {"a": {"0": "1", " b": "2"}}),
        ("a[b][c]=1&a[b][d]=2", {"a": {"b": {"c": "1", "d": "2"}}}),
        ("a[][x]=1&a[][x]=2", {"a": {"0": {"x": "1"}, "1": {"x": "2"}}}),
        ("a=1&a[b]=2", {"a": {"b": "2"}}),
        ("a[b]=1&a[b][c]=2", {"a": {"b": {"c": "2"}}}),
        ("a[b]=1&a=2", {"a": "2"}),
        (" a.b c=1", {"a_b_c": "1"}),
        ("a[b.c[d=1", {"a_b_c_d": "1"}),  # a first "[" never closed belongs to the name
        ("a[b][c=1", {"a": {"b": "1"}}),  # a later one ends it
        ("a[b]c=1&d[e[f]]=2", {"a": {"b": "1"}, "d": {"e[f": "2"}}),
        ("=1&[a]=2& [b]=3", {}),
    ],
)
def test_parse_str_follows_php(query: str, expected: PhpArray) -> None:
    assert parse_str(query) == expected


def test_flatten_writes_nested_keys_back() -> None:
    query = "a[b][c]=1&a[b][d]=2&e=3&f[]=x&f[]=y"
    pairs = [("a[b][c]", "1"), ("a[b][d]", "2"), ("e", "3"), ("f[0]", "x"), ("f[1]", "y")]
    assert flatten(parse_str(query)) == pairs
    assert parse_str("&".join(f"{key}={value}" for key, value in pairs)) == parse_str(query)


def test_magento_reads_search_criteria() -> None:
    prefix = "searchCriteria[filter_groups][0][filters]"
    criteria = parse_criteria(
        parse_str(
            f"{prefix}[0][field]=updated_at&{prefix}[0][value]=2026-06-15+12:00:00"
            f"&{prefix}[0][condition_type]=gt&{prefix}[1][field]=state&{prefix}[1][value]=new"
            "&searchCriteria[sortOrders][0][field]=entity_id&searchCriteria[pageSize]=10"
            "&searchCriteria[currentPage]=2"
        )
    )
    assert criteria == Criteria(
        groups=((Filter("updated_at", "2026-06-15 12:00:00", "gt"), Filter("state", "new")),),
        sorts=(("entity_id", "ASC"),),
        page_size=10,
        current_page=2,
    )


def test_prestashop_reads_filters_and_drops_the_dispatcher_url() -> None:
    query = Query.parse(
        "url=orders&output_format=JSON&display=[id,reference]&filter[id]=[1|3]"
        "&filter[customer][email]=a@b.c&sort=[id_DESC]&limit=0,2",
        drop=("url",),
    )
    assert query.values == {
        "output_format": "JSON",
        "display": "[id,reference]",
        "filter": {"id": "[1|3]", "customer": {"email": "a@b.c"}},
        "sort": "[id_DESC]",
        "limit": "0,2",
    }
    assert query.text("display") == "[id,reference]"
    assert query.text("filter") is None


def test_woocommerce_reads_lists_as_arrays_or_commas() -> None:
    args = QueryArgs(
        parse_str(
            "status[]=processing&status[]=completed&include=3,1,3&exclude[]=2&exclude[]=x"
            "&per_page=20&dates_are_gmt=true&after=2026-06-15T12:00:00"
        )
    )
    statuses = args.choices("status", "any", ("any", "processing", "completed"))
    assert statuses == ["processing", "completed"]
    assert args.ids("include") == [3, 1]
    assert args.ids("exclude") == [2, 0]
    assert args.integer("per_page", 10, minimum=1, maximum=100) == 20
    assert args.boolean("dates_are_gmt", False) is True
    assert args.date("after") is not None
    args.check()
