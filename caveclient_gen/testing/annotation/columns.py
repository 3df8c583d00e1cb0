"""The columns of an annotation table, derived from its EMAnnotationSchemas schema type.

The schema service's JSON-Schema documents (``schema.definitions``) say which fields a type has
and of what kind; the databases store them flattened: a nested point ``pre_pt`` becomes the
geometry column ``pre_pt_position`` plus, for points bound to the segmentation, the segmentation
columns ``pre_pt_supervoxel_id`` and ``pre_pt_root_id``. Column kinds follow the SQL types the
server models use (segmentation, reference and plain ``integer`` fields are BIGINT, marshmallow
``Int`` fields INTEGER, ``Float`` fields FLOAT, ...).

Column order is the schema classes' declaration order (inherited ``valid`` first), which the JSON
documents do not keep; it is listed here for the common types and otherwise approximated.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

from ..schema.definitions import schema_document

SEGMENTATION_SUFFIXES = ("supervoxel_id", "root_id")

# Declaration order of the schema classes' fields (flattening keeps it).
_DECLARED_ORDER: Mapping[str, tuple[str, ...]] = {
    "synapse": ("valid", "pre_pt", "post_pt", "ctr_pt", "size"),
    "nocenter_synapse": ("valid", "pre_pt", "post_pt", "size"),
    "nocleft_synapse": ("valid", "pre_pt", "post_pt", "score"),
    "nucleus_detection": ("valid", "volume", "pt", "bb_start", "bb_end"),
    "cell_type_local": ("valid", "classification_system", "cell_type", "pt"),
    "cell_type_reference": ("valid", "target_id", "classification_system", "cell_type"),
    "simple_reference": ("valid", "target_id"),
    "bound_tag": ("valid", "pt", "tag"),
    "bound_double_tag": ("valid", "pt", "tag", "tag2"),
    "bound_2tag": ("valid", "pt", "tag", "pt2", "tag2"),
}


class ColumnKind(Enum):
    """SQL type family of a stored column."""

    POSITION = "position"  # PostGIS POINTZ, returned as three integer columns
    BIGINT = "bigint"
    INTEGER = "integer"
    FLOAT = "float"
    STRING = "string"
    BOOLEAN = "boolean"
    DATETIME = "datetime"
    DOUBLE = "double"  # double precision columns of views (the annotation models use FLOAT)


@dataclass(frozen=True)
class Column:
    name: str
    kind: ColumnKind
    segmentation: bool = False


@dataclass(frozen=True)
class PointField:
    """A nested point of the schema: its geometry column and, if bound, its lookups."""

    name: str
    bound: bool
    required: bool

    @property
    def position_column(self) -> str:
        return f"{self.name}_position"

    @property
    def supervoxel_column(self) -> str:
        return f"{self.name}_supervoxel_id"

    @property
    def root_column(self) -> str:
        return f"{self.name}_root_id"


class AnnotationValidationError(ValueError):
    """Data that the schema rejects; ``messages`` is shaped like marshmallow's."""

    def __init__(self, messages: dict[str, Any]) -> None:
        super().__init__(messages)
        self.messages = messages


class InvalidPositionError(TypeError):
    """A point whose ``position`` is not three numbers (the server fails formatting it)."""


@dataclass(frozen=True)
class _Scalar:
    name: str
    kind: ColumnKind
    required: bool
    nullable: bool
    choices: tuple[Any, ...] | None


@dataclass(frozen=True)
class _Nested:
    name: str
    required: bool
    subfields: tuple[tuple[str, ColumnKind], ...]  # besides position, e.g. root_id
    bound: bool


class SchemaModel:
    """What a schema type means for storage: columns, points and validation of new rows."""

    def __init__(self, schema_type: str, document: Mapping[str, Any]) -> None:
        self.schema_type = schema_type
        definitions: Mapping[str, Any] = document["definitions"]
        main = definitions[document["$ref"].rsplit("/", 1)[1]]
        required = set(main.get("required", ()))
        properties: Mapping[str, Any] = main["properties"]
        self._fields: list[_Scalar | _Nested] = []
        for name in _declared_order(schema_type, properties):
            spec = properties[name]
            reference = spec.get("$ref")
            if reference is not None:
                definition = definitions[reference.rsplit("/", 1)[1]]
                self._fields.append(_nested_field(name, name in required, definition))
            else:
                self._fields.append(_scalar_field(name, name in required, spec))

    # -- columns ---------------------------------------------------------------------------

    @functools.cached_property
    def points(self) -> tuple[PointField, ...]:
        return tuple(
            PointField(field.name, field.bound, field.required)
            for field in self._fields
            if isinstance(field, _Nested)
        )

    @property
    def bound_points(self) -> tuple[PointField, ...]:
        return tuple(point for point in self.points if point.bound)

    @property
    def is_reference(self) -> bool:
        return any(isinstance(field, _Scalar) and field.name == "target_id" for field in self._fields)

    @functools.cached_property
    def flat_columns(self) -> tuple[Column, ...]:
        """Schema columns in declaration order, segmentation columns inline (merged tables)."""
        columns: list[Column] = []
        for field in self._fields:
            if isinstance(field, _Scalar):
                columns.append(Column(field.name, field.kind, field.name in SEGMENTATION_SUFFIXES))
                continue
            for sub_name, kind in (("position", ColumnKind.POSITION), *field.subfields):
                columns.append(
                    Column(f"{field.name}_{sub_name}", kind, sub_name in SEGMENTATION_SUFFIXES)
                )
        return tuple(columns)

    @property
    def annotation_columns(self) -> tuple[Column, ...]:
        return tuple(column for column in self.flat_columns if not column.segmentation)

    @property
    def segmentation_columns(self) -> tuple[Column, ...]:
        return tuple(column for column in self.flat_columns if column.segmentation)

    # -- validation ------------------------------------------------------------------------

    def parse(self, annotation: Mapping[str, Any]) -> dict[str, Any]:
        """The stored (flat, annotation-side) values of a posted annotation.

        Fields unknown to the schema are dropped; supervoxel and root ids in bound points are
        ignored, as the server looks them up itself. Raises :class:`AnnotationValidationError`
        with marshmallow's messages, or :class:`InvalidPositionError`.
        """
        if not isinstance(annotation, Mapping):
            raise AnnotationValidationError({"_schema": ["Invalid input type."]})
        errors: dict[str, Any] = {}
        values: dict[str, Any] = {}
        for field in self._fields:
            present = field.name in annotation
            raw = annotation.get(field.name)
            if not present:
                if field.required:
                    errors[field.name] = ["Missing data for required field."]
                continue
            if isinstance(field, _Scalar):
                try:
                    values[field.name] = _convert_scalar(field, raw)
                except AnnotationValidationError as invalid:
                    errors[field.name] = invalid.messages["_field"]
                continue
            if raw is None:
                if field.required:
                    errors[field.name] = ["Field may not be null."]
                continue
            if not isinstance(raw, Mapping):
                errors[field.name] = {"_schema": ["Invalid input type."]}
                continue
            point_errors = _point_errors(field, raw)
            if point_errors:
                errors[field.name] = point_errors
                continue
            values[f"{field.name}_position"] = _position(raw["position"])
            for sub_name, kind in field.subfields:
                if sub_name not in SEGMENTATION_SUFFIXES and raw.get(sub_name) is not None:
                    values[f"{field.name}_{sub_name}"] = _convert_scalar(
                        _Scalar(sub_name, kind, False, True, None), raw[sub_name]
                    )
        if errors:
            raise AnnotationValidationError(errors)
        return values


@functools.cache
def schema_model(schema_type: str) -> SchemaModel | None:
    """The model of a schema type known to the schema service, or None."""
    document = schema_document(schema_type)
    return None if document is None else SchemaModel(schema_type, document)


def _declared_order(schema_type: str, properties: Mapping[str, Any]) -> list[str]:
    known = _DECLARED_ORDER.get(schema_type)
    if known is not None and set(known) == set(properties):
        return list(known)
    # Inherited fields come first in marshmallow; the rest keep the document's (sorted) order.
    leading = [name for name in ("valid", "target_id") if name in properties]
    return leading + [name for name in properties if name not in leading]


def _scalar_kind(spec: Mapping[str, Any]) -> ColumnKind:
    json_type = spec.get("type")
    types = set(json_type) if isinstance(json_type, list) else {json_type}
    if "array" in types:
        return ColumnKind.POSITION
    if "string" in types:
        return ColumnKind.STRING
    if "boolean" in types:
        return ColumnKind.BOOLEAN
    if "integer" in types:
        return ColumnKind.BIGINT
    if spec.get("format") == "integer":
        return ColumnKind.INTEGER
    return ColumnKind.FLOAT


def _scalar_field(name: str, required: bool, spec: Mapping[str, Any]) -> _Scalar:
    json_type = spec.get("type")
    nullable = not required or (isinstance(json_type, list) and "null" in json_type)
    choices = tuple(spec["enum"]) if "enum" in spec else None
    return _Scalar(name, _scalar_kind(spec), required, nullable, choices)


def _nested_field(name: str, required: bool, definition: Mapping[str, Any]) -> _Nested:
    properties: Mapping[str, Any] = definition["properties"]
    # Flattened order: position, the point's own extra fields, then its segmentation fields.
    own = [
        (sub_name, _scalar_kind(spec))
        for sub_name, spec in properties.items()
        if sub_name != "position" and sub_name not in SEGMENTATION_SUFFIXES
    ]
    lookups = [
        (sub_name, ColumnKind.BIGINT) for sub_name in SEGMENTATION_SUFFIXES if sub_name in properties
    ]
    subfields = own + lookups
    bound = "root_id" in properties
    return _Nested(name, required, tuple(subfields), bound)


def _point_errors(field: _Nested, raw: Mapping[str, Any]) -> dict[str, list[str]]:
    allowed = {"position", *(sub_name for sub_name, _ in field.subfields)}
    errors = {key: ["Unknown field."] for key in raw if key not in allowed}
    if "position" not in raw:
        errors["position"] = ["Missing data for required field."]
    for sub_name, kind in field.subfields:
        value = raw.get(sub_name)
        if value is None:
            continue
        try:
            _convert_scalar(_Scalar(sub_name, kind, False, True, None), value)
        except AnnotationValidationError as invalid:
            errors[sub_name] = invalid.messages["_field"]
    return errors


def _position(raw: Any) -> tuple[float, float, float]:
    if isinstance(raw, (str, bytes)) or not isinstance(raw, Sequence) or len(raw) < 3:
        raise InvalidPositionError(f"position {raw!r} is not a sequence of three numbers")
    try:
        x, y, z = (float(value) for value in raw[:3])
    except (TypeError, ValueError) as error:
        raise InvalidPositionError(f"position {raw!r} is not numeric") from error
    return x, y, z


def _convert_scalar(field: _Scalar, raw: Any) -> Any:
    if raw is None:
        if field.nullable:
            return None
        raise AnnotationValidationError({"_field": ["Field may not be null."]})
    value = _typed_value(field.kind, raw)
    if field.choices is not None and value not in field.choices:
        listed = ", ".join(str(choice) for choice in field.choices)
        raise AnnotationValidationError({"_field": [f"Must be one of: {listed}."]})
    return value


def _typed_value(kind: ColumnKind, raw: Any) -> Any:
    if kind is ColumnKind.STRING:
        if not isinstance(raw, str):
            raise AnnotationValidationError({"_field": ["Not a valid string."]})
        return raw
    if kind is ColumnKind.BOOLEAN:
        truthy = {True, "true", "True", "TRUE", "1", "t", "y", "yes", "on"}
        falsy = {False, "false", "False", "FALSE", "0", "f", "n", "no", "off"}
        if isinstance(raw, (bool, int, str)) and raw in truthy:
            return True
        if isinstance(raw, (bool, int, str)) and raw in falsy:
            return False
        raise AnnotationValidationError({"_field": ["Not a valid boolean."]})
    if kind in (ColumnKind.BIGINT, ColumnKind.INTEGER):
        if isinstance(raw, bool):
            return int(raw)
        try:
            number = float(raw) if isinstance(raw, str) else raw
            if isinstance(number, float) and not number.is_integer():
                raise ValueError(number)
            return int(number)
        except (TypeError, ValueError, OverflowError):
            raise AnnotationValidationError({"_field": ["Not a valid integer."]}) from None
    try:
        number = float(raw)
    except (TypeError, ValueError):
        raise AnnotationValidationError({"_field": ["Not a valid number."]}) from None
    if math.isnan(number) or math.isinf(number):
        raise AnnotationValidationError(
            {"_field": ["Special numeric values (nan or infinity) are not permitted."]}
        )
    return number
