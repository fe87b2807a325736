"""What a GraphQL query costs, as Shopify counts it (shopify.dev, "API rate limits"): an object
1 point, a scalar or enum 0, a connection 2 plus ``first`` times its node's cost, a list of
objects ``first`` (or one) times the object's; a mutation 10. The requested cost is counted from
the document before it runs, the actual cost over what it returned."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLList,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    get_named_type,
    get_nullable_type,
    value_from_ast_untyped,
)

__all__ = ["MUTATION_COST", "costs"]

MUTATION_COST = 10  # every mutation, whatever it selects


def costs(
    schema: GraphQLSchema,
    document: DocumentNode,
    variables: Mapping[str, Any],
    data: Mapping[str, Any] | None = None,
) -> int:
    """The requested cost of the document's operation, or, given the ``data`` it returned, the
    actual cost."""
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    operation = next(d for d in document.definitions if isinstance(d, OperationDefinitionNode))
    if operation.operation == OperationType.MUTATION:
        return MUTATION_COST
    root = schema.query_type
    assert root is not None
    counter = _Cost(fragments, dict(variables), actual=data is not None)
    return counter.selection(operation.selection_set, root, data)


@dataclass(slots=True)
class _Cost:
    fragments: Mapping[str, FragmentDefinitionNode]
    variables: dict[str, Any]
    actual: bool

    def selection(
        self, selection_set: SelectionSetNode, parent: GraphQLObjectType, data: Any
    ) -> int:
        total = 0
        for node in selection_set.selections:
            if isinstance(node, FragmentSpreadNode):
                total += self.selection(self.fragments[node.name.value].selection_set, parent, data)
            elif isinstance(node, InlineFragmentNode):
                total += self.selection(node.selection_set, parent, data)
            elif isinstance(node, FieldNode) and node.selection_set is not None:
                total += self.field(node, parent, data)
        return total

    def field(self, node: FieldNode, parent: GraphQLObjectType, data: Any) -> int:
        definition = parent.fields[node.name.value]
        target = get_named_type(definition.type)
        assert isinstance(target, GraphQLObjectType)
        assert node.selection_set is not None
        value = data.get(node.alias.value if node.alias else node.name.value) if data else None
        if self.actual and value is None:
            return 0
        arguments = {
            argument.name.value: value_from_ast_untyped(argument.value, self.variables)
            for argument in node.arguments or ()
        }
        if target.name.endswith("Connection"):
            return 2 + self.connection(node.selection_set, target, arguments, value)
        if isinstance(get_nullable_type(definition.type), GraphQLList):
            if self.actual:
                items = value if isinstance(value, list) else []
                return sum(1 + self.selection(node.selection_set, target, item) for item in items)
            count: int = arguments.get("first") or 1
            return count * (1 + self.selection(node.selection_set, target, None))
        return 1 + self.selection(node.selection_set, target, value)

    def connection(
        self,
        selection_set: SelectionSetNode,
        connection: GraphQLObjectType,
        arguments: Mapping[str, Any],
        value: Any,
    ) -> int:
        node_type = get_named_type(connection.fields["nodes"].type)
        assert isinstance(node_type, GraphQLObjectType)
        total = 0
        for field in selection_set.selections:
            if not isinstance(field, FieldNode) or field.name.value != "nodes":
                continue  # pageInfo and cursors cost nothing
            assert field.selection_set is not None
            if self.actual:
                total += sum(
                    1 + self.selection(field.selection_set, node_type, item)
                    for item in value.get("nodes") or []
                )
            else:
                count = arguments.get("first") or arguments.get("last") or 0
                total += count * (1 + self.selection(field.selection_set, node_type, None))
        return total
