"""Cuts the part of Shopify's Admin GraphQL schema that shoptrack's documents use.

Usage (maintenance, not run by the tests)::

    .venv/bin/python tests/reference/shopify/cut_admin_schema.py admin_2026-04.json.gz

reads a full introspection result (Shopify's own, see ``README.md``), keeps every field the
documents in ``shoptrack.connectors._shopify_graphql.DOCUMENTS`` select (with all their
arguments, the enums and input types those use, in full) and writes the subset, as SDL, to the
Shopify simulator's ``shopify_admin.graphql``, which ``admin_2026-10_subset.graphql`` beside
this file links to (the tests check shoptrack's queries against it; the simulator answers with
it). ``CHANGES`` applies what Shopify's release notes say changed since the version read.
"""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path

from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    TypeInfo,
    TypeInfoVisitor,
    Visitor,
    build_client_schema,
    get_named_type,
    parse,
    print_ast,
    visit,
)
from graphql.utilities import ast_from_value

from shoptrack.connectors._shopify_graphql import API_VERSION, DOCUMENTS

HERE = Path(__file__).resolve().parent
# admin_<version>_subset.graphql beside this file links to it: one schema, which the tests
# check shoptrack's queries against and the simulator answers with.
TARGETS = (HERE.parents[2] / "src/shoptrack/simulators/shopify_admin.graphql",)
# Enum values added after the version read (shopify.dev changelog, "OrderDisplayFulfillmentStatus
# now returns FULFILLMENT_NOT_REQUIRED", as of 2026-10).
CHANGES = {"OrderDisplayFulfillmentStatus": ["FULFILLMENT_NOT_REQUIRED"]}
_BUILT_IN = {"String", "Int", "Float", "Boolean", "ID"}


def selected_fields(schema: GraphQLSchema) -> dict[str, set[str]]:
    """Each object type's fields that some document selects."""
    chosen: dict[str, set[str]] = {}
    info = TypeInfo(schema)

    class Fields(Visitor):
        def enter_field(self, node, *_):  # type: ignore[no-untyped-def]
            parent = info.get_parent_type()
            if parent is not None and not node.name.value.startswith("__"):
                chosen.setdefault(parent.name, set()).add(node.name.value)

    for document in DOCUMENTS.values():
        visit(parse(document), TypeInfoVisitor(info, Fields()))
    return chosen


def cut(schema: GraphQLSchema, source: str) -> str:
    chosen = selected_fields(schema)
    extra: dict[str, GraphQLNamedType] = {}

    def need(type_: GraphQLNamedType) -> None:
        if type_.name in _BUILT_IN or type_.name in chosen or type_.name in extra:
            return
        extra[type_.name] = type_
        if isinstance(type_, GraphQLInputObjectType):
            for field in type_.fields.values():
                need(get_named_type(field.type))

    blocks: list[str] = []
    for name in sorted(chosen):
        type_ = schema.get_type(name)
        assert isinstance(type_, GraphQLObjectType), name
        lines = []
        for field_name in sorted(chosen[name]):
            field = type_.fields[field_name]
            args = []
            for arg_name, arg in field.args.items():
                if arg.deprecation_reason:
                    continue
                need(get_named_type(arg.type))
                default = ""
                if arg.default_value is not None:
                    value = ast_from_value(arg.default_value, arg.type)
                    default = f" = {print_ast(value)}" if value is not None else ""
                args.append(f"{arg_name}: {arg.type}{default}")
            need(get_named_type(field.type))
            signature = f"({', '.join(args)})" if args else ""
            lines.append(f"  {field_name}{signature}: {field.type}")
        blocks.append(f"type {name} {{\n" + "\n".join(lines) + "\n}")
    for name in sorted(extra):
        type_ = extra[name]
        if isinstance(type_, GraphQLScalarType):
            blocks.append(f"scalar {name}")
        elif isinstance(type_, GraphQLEnumType):
            values = [v for v, d in type_.values.items() if not d.deprecation_reason]
            values += [v for v in CHANGES.get(name, []) if v not in values]
            blocks.append(f"enum {name} {{\n" + "\n".join(f"  {v}" for v in values) + "\n}")
        elif isinstance(type_, GraphQLInputObjectType):
            fields = [f"  {n}: {f.type}" for n, f in type_.fields.items()]
            blocks.append(f"input {name} {{\n" + "\n".join(fields) + "\n}")
        else:
            # Interfaces and unions reached only as field types are not selected into: kept
            # as objects with no fields shoptrack reads would be invalid SDL.
            raise SystemExit(f"a document selects into {name}, which the cut cannot write")
    root = schema.query_type.name if schema.query_type else "QueryRoot"
    roots = f"  query: {root}\n"
    if schema.mutation_type is not None and schema.mutation_type.name in chosen:
        roots += f"  mutation: {schema.mutation_type.name}\n"
    header = (
        f"# Shopify Admin GraphQL API {API_VERSION}: the part shoptrack reads and writes.\n"
        f"# Cut by tests/reference/shopify/cut_admin_schema.py from {source};\n"
        "# see tests/reference/shopify/README.md for where it came from.\n\n"
        f"schema {{\n{roots}}}\n"
    )
    return header + "\n" + "\n\n".join(blocks) + "\n"


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        sys.stderr.write(__doc__ or "")
        return 2
    raw = Path(argv[1]).read_bytes()
    if argv[1].endswith(".gz"):
        raw = gzip.decompress(raw)
    introspection = json.loads(raw)
    schema = build_client_schema(introspection.get("data", introspection))
    text = cut(schema, Path(argv[1]).name)
    for target in TARGETS:
        target.write_text(text, encoding="utf-8")
        sys.stderr.write(f"wrote {target}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
