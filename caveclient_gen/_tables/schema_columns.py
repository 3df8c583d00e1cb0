"""The columns a query of a table can filter on, read from the table's annotation schema.

An annotation schema (a JSON-Schema document of the schema service) describes one row. A point field
`pt` referring to `BoundSpatialPoint` becomes the columns `pt_position`, `pt_supervoxel_id` and
`pt_root_id` of the materialized table; one referring to `SpatialPoint` only `pt_position`. Every table
also has `id`, `created`, `deleted`, `superceded_id` and `valid`. Views describe their columns
directly (column -> {type, format}).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

ColumnKind = Literal["integer", "float", "string", "boolean", "datetime", "position", "other"]
NUMERIC_KINDS = frozenset({"integer", "float"})

UNBOUND_POINT = "SpatialPoint"
TABLE_COLUMNS: dict[str, ColumnKind] = {
    "id": "integer",
    "created": "datetime",
    "deleted": "datetime",
    "superceded_id": "integer",
    "valid": "boolean",
}


@dataclass(frozen=True)
class TableColumns:
    """What a table (or view) offers to filters."""

    kinds: dict[str, ColumnKind]
    """Every filterable column and its kind, in schema order."""
    bound_points: list[str] = field(default_factory=list)
    """Point fields with segmentation columns (`<pt>_root_id`, `<pt>_supervoxel_id`)."""
    unbound_points: list[str] = field(default_factory=list)
    """Point fields with a position only."""
    value_columns: list[str] = field(default_factory=list)
    """Columns of the schema that are neither points nor segmentation ids (`id` first)."""

    @property
    def names(self) -> set[str]:
        return set(self.kinds)

    @property
    def position_columns(self) -> set[str]:
        return {name for name, kind in self.kinds.items() if kind == "position"}

    def is_numeric(self, column: str) -> bool:
        return self.kinds.get(column) in NUMERIC_KINDS


def main_definition(schema: Mapping[str, Any]) -> Mapping[str, Any]:
    """The definition of the row type of a schema document (its top-level `$ref`)."""
    reference = str(schema.get("$ref", ""))
    definitions = schema.get("definitions") or {}
    definition = definitions.get(reference.rsplit("/", 1)[-1]) if reference else None
    if not isinstance(definition, Mapping):
        raise ValueError(f"the schema document has no row definition ({reference!r})")
    return definition


def referenced_definition(schema: Mapping[str, Any], prop: Mapping[str, Any]) -> tuple[str, Any]:
    """(definition name, definition) a property refers to, or ("", None)."""
    reference = prop.get("$ref")
    if not isinstance(reference, str):
        return "", None
    name = reference.rsplit("/", 1)[-1]
    return name, (schema.get("definitions") or {}).get(name)


def property_kind(prop: Mapping[str, Any]) -> ColumnKind:
    """The kind of a scalar schema property (its `format` wins over its `type`, as in caveclient)."""
    types = prop.get("type")
    names = [types] if isinstance(types, str) else list(types or [])
    names = [name for name in names if name != "null"]
    declared = prop.get("format") or (names[0] if names else "")
    if declared == "date-time":
        return "datetime"
    if declared in ("integer",):
        return "integer"
    if declared in ("float", "number", "double"):
        return "float"
    if declared in ("string", "boolean"):
        return "string" if declared == "string" else "boolean"
    return "other"


def schema_columns(schema: Mapping[str, Any]) -> TableColumns:
    """The columns of a table made from an annotation schema document."""
    kinds: dict[str, ColumnKind] = dict(TABLE_COLUMNS)
    bound: list[str] = []
    unbound: list[str] = []
    values: list[str] = ["id"]
    properties = main_definition(schema).get("properties") or {}
    for name, prop in properties.items():
        if not isinstance(prop, Mapping):
            continue
        definition_name, definition = referenced_definition(schema, prop)
        point_fields = (definition or {}).get("properties") if isinstance(definition, Mapping) else None
        if isinstance(point_fields, Mapping) and "position" in point_fields:
            kinds[f"{name}_position"] = "position"
            if definition_name == UNBOUND_POINT:
                unbound.append(name)
                continue
            bound.append(name)
            for extra, extra_prop in point_fields.items():
                if extra != "position" and isinstance(extra_prop, Mapping):
                    kinds[f"{name}_{extra}"] = property_kind(extra_prop)
            continue
        kinds[name] = property_kind(prop)
        if name not in values:
            values.append(name)
    return TableColumns(kinds, bound, unbound, values)


def view_columns(view_schema: Mapping[str, Any]) -> TableColumns:
    """The columns of a view, from its schema (column -> {type, format})."""
    kinds: dict[str, ColumnKind] = {}
    points: list[str] = []
    values: list[str] = []
    for column, description in view_schema.items():
        if not isinstance(description, Mapping):
            continue
        if description.get("type") == UNBOUND_POINT:
            kinds[column] = "position"
            points.append(column)
            continue
        kinds[column] = property_kind(description)
        values.append(column)
    return TableColumns(kinds, [], points, values)
