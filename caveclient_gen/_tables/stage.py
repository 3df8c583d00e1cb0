"""StagedAnnotations: annotations collected and checked locally, uploaded later in batches.

Rows are checked when they are added, against the JSON schema of the table's schema type (as the
schema service publishes it): required fields, JSON types (including nullable ones), enumerations,
integer formats, and nested points (`{"position": [x, y, z]}` of a SpatialPoint or BoundSpatialPoint,
no unknown keys). A small validator covers the JSON-Schema features those documents use, so no
`jsonschema` dependency is needed.

Point fields are given as `<field>_position` ([x, y, z]). With both `annotation_resolution` and
`table_resolution`, positions are converted from the first to the second when they are sent.
"""

from __future__ import annotations

import inspect
import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from .._convert.values import check_json
from ..errors import AnnotationUploadError, InvalidInputError, StagedFieldError
from .schema_columns import main_definition, referenced_definition

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["AnnotationUploadError", "SchemaValidator", "StagedAnnotations"]

JSON_TYPES: dict[str, Callable[[Any], bool]] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: (
        (isinstance(v, int) and not isinstance(v, bool)) or (isinstance(v, float) and v.is_integer())
    ),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}


class SchemaValidator:
    """Checks JSON values against a JSON-Schema document (the features annotation schemas use)."""

    def __init__(self, schema: Mapping[str, Any]) -> None:
        self._schema = schema

    def errors(self, instance: Any) -> list[tuple[str, str]]:
        """(path, problem) for each violation; empty when the instance is valid."""
        found: list[tuple[str, str]] = []
        self._check(instance, self._schema, "", found)
        return found

    def _resolve(self, reference: str) -> Mapping[str, Any]:
        if not reference.startswith("#/definitions/"):
            raise ValueError(f"unsupported reference {reference!r}")
        definition = (self._schema.get("definitions") or {}).get(reference.rsplit("/", 1)[-1])
        if not isinstance(definition, Mapping):
            raise ValueError(f"the schema has no definition {reference!r}")
        return definition

    def _check(
        self, value: Any, schema: Mapping[str, Any], path: str, found: list[tuple[str, str]]
    ) -> None:
        reference = schema.get("$ref")
        if isinstance(reference, str):
            # draft-07: the siblings of a $ref are ignored
            self._check(value, self._resolve(reference), path, found)
            return
        types = schema.get("type")
        names = [types] if isinstance(types, str) else list(types or [])
        if names and not any(JSON_TYPES.get(name, lambda _: True)(value) for name in names):
            found.append((path, f"must be {' or '.join(names)}, not {_describe(value)}"))
            return
        if "enum" in schema and value not in schema["enum"]:
            found.append((path, f"must be one of {schema['enum']}, not {value!r}"))
        if schema.get("format") == "integer" and isinstance(value, float) and not value.is_integer():
            found.append((path, f"must be a whole number, not {value!r}"))
        if isinstance(value, dict):
            self._check_object(value, schema, path, found)
        elif isinstance(value, list) and isinstance(schema.get("items"), Mapping):
            for index, item in enumerate(value):
                self._check(item, schema["items"], f"{path}[{index}]", found)

    def _check_object(
        self, value: dict[str, Any], schema: Mapping[str, Any], path: str, found: list[tuple[str, str]]
    ) -> None:
        prefix = f"{path}." if path else ""
        for name in schema.get("required") or []:
            if name not in value:
                found.append((f"{prefix}{name}", "is required"))
        properties = schema.get("properties") or {}
        for name, item in value.items():
            if name in properties:
                self._check(item, properties[name], f"{prefix}{name}", found)
            elif schema.get("additionalProperties") is False:
                found.append((f"{prefix}{name}", "is not a field of this schema"))


def _describe(value: Any) -> str:
    return "null" if value is None else f"{type(value).__name__} {value!r}"


def plain(value: Any) -> Any:
    """A user value as plain JSON: numpy scalars/arrays converted, NaN and NA as missing (None)."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return None if math.isnan(value) else value
    if isinstance(value, datetime | date):
        return value.isoformat()
    module = type(value).__module__
    if module.startswith("pandas") and type(value).__name__ in ("NAType", "NaTType"):
        return None
    if module == "numpy" or module.startswith("numpy."):
        return plain(value.tolist())
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple) or module.startswith("pandas"):
        return [plain(v) for v in value]
    return value


@dataclass
class _Staged:
    values: dict[str, Any]
    """Field -> value as added (points as [x, y, z] in the annotation resolution)."""
    uploaded: bool = False
    new_id: int | None = None


class StagedAnnotations:
    """Annotations for one table (or schema), checked as they are added, uploaded in batches."""

    IS_UPLOADED_COLUMN = "is_uploaded"
    NEW_ID_COLUMN = "new_id"

    def __init__(
        self,
        schema: Mapping[str, Any],
        name: str | None = None,
        update: bool = False,
        id_field: bool = False,
        table_resolution: Sequence[float] | None = None,
        annotation_resolution: Sequence[float] | None = None,
        table_name: str | None = None,
    ) -> None:
        self._schema = dict(schema)
        self._validator = SchemaValidator(self._schema)
        row = main_definition(self._schema)
        self._row_type = str(self._schema["$ref"]).rsplit("/", 1)[-1]
        self._update = bool(update)
        self._id_field = bool(id_field) or self._update
        self._table_name = table_name
        self.name = name or self._row_type
        self._points: dict[str, str] = {}
        """`<field>_position` -> point field"""
        self._prop_names: list[str] = []
        for prop, description in (row.get("properties") or {}).items():
            _, definition = referenced_definition(self._schema, description)
            point_fields = definition.get("properties") if isinstance(definition, Mapping) else None
            if isinstance(point_fields, Mapping) and "position" in point_fields:
                self._points[f"{prop}_position"] = prop
                self._prop_names.append(f"{prop}_position")
            else:
                self._prop_names.append(prop)
        required = set(row.get("required") or [])
        self._required = [
            field for field in self._prop_names if self._points.get(field, field) in required
        ]
        self._table_resolution = _resolution("table_resolution", table_resolution)
        self._annotation_resolution = _resolution("annotation_resolution", annotation_resolution)
        self._scaling: list[float] | None = None
        if self._table_resolution and self._annotation_resolution:
            self._scaling = [
                a / t for t, a in zip(self._table_resolution, self._annotation_resolution, strict=True)
            ]
        elif self._annotation_resolution:
            warnings.warn(
                "annotation_resolution without table_resolution: positions are sent as given",
                UserWarning,
                stacklevel=2,
            )
        self._staged: list[_Staged] = []
        self.add = self._adder()

    # ------------------------------------------------------------ description

    def __repr__(self) -> str:
        target = f"table '{self._table_name}'" if self._table_name else f"schema '{self._row_type}'"
        kind = "updated" if self._update else "new"
        uploaded = sum(1 for s in self._staged if s.uploaded)
        return f"Staged annotations for {target} ({len(self)} {kind} annotations, {uploaded} uploaded)"

    def __len__(self) -> int:
        return len(self._staged)

    @property
    def table_name(self) -> str | None:
        """The table the annotations are for (uploads need one)."""
        return self._table_name

    @table_name.setter
    def table_name(self, value: str | None) -> None:
        self._table_name = value

    @property
    def is_update(self) -> bool:
        """Whether the annotations replace existing rows (each has an `id`)."""
        return self._update

    @property
    def fields(self) -> list[str]:
        """Every field `add` takes (points as `<field>_position`)."""
        return (["id"] if self._id_field else []) + list(self._prop_names)

    @property
    def fields_required(self) -> list[str]:
        """The fields `add` requires."""
        return (["id"] if self._id_field else []) + list(self._required)

    @property
    def annotation_list(self) -> list[dict[str, Any]]:
        """Every annotation as it will be sent (nested points, table resolution)."""
        return [self._payload(staged.values) for staged in self._staged]

    @property
    def annotation_list_nonuploaded(self) -> list[dict[str, Any]]:
        """The annotations not uploaded yet, as they will be sent."""
        return [self._payload(staged.values) for staged in self._staged if not staged.uploaded]

    # ------------------------------------------------------------ adding

    def _adder(self) -> Callable[..., None]:
        def add(**fields: Any) -> None:
            """Stage one annotation (checked against the schema now; nothing is uploaded)."""
            self._staged.append(_Staged(self._checked(fields, "")))

        add.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
            [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY) for name in self.fields_required]
            + [
                inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=None)
                for name in self.fields
                if name not in self.fields_required
            ]
        )
        return add

    def _checked(self, fields: Mapping[str, Any], where: str) -> dict[str, Any]:
        allowed = set(self.fields)
        unknown = [name for name in fields if name not in allowed]
        if unknown:
            raise StagedFieldError(
                f"{where}{unknown[0]}", f"is not a field of {self.name!r}; its fields are {self.fields}"
            )
        values = {name: plain(value) for name, value in fields.items()}
        values = {name: value for name, value in values.items() if value is not None}
        missing = [name for name in self.fields_required if name not in values]
        if missing:
            raise StagedFieldError(f"{where}{missing[0]}", f"is required (missing: {missing})")
        if self._id_field and not JSON_TYPES["integer"](values["id"]):
            raise InvalidInputError(f"{where}id", f"must be an integer id, not {values['id']!r}")
        for field in self._points:
            if field in values:
                values[field] = _position(f"{where}{field}", values[field])
        for name, value in values.items():
            check_json(f"{where}{name}", value)
        payload = self._payload(values)
        problems = self._validator.errors({k: v for k, v in payload.items() if k != "id"})
        if problems:
            path, problem = problems[0]
            field = path.split(".")[0]
            field = next((f for f, p in self._points.items() if p == field), field)
            raise InvalidInputError(f"{where}{field}", f"{path}: {problem}")
        return values

    def add_dataframe(self, df: pd.DataFrame) -> None:
        """Stage one annotation per row; the columns must be the schema's fields (see `fields`).

        Every row is checked before any is staged, so a bad row stages nothing.
        """
        columns = [str(c) for c in df.columns]
        missing = [field for field in self.fields_required if field not in columns]
        extra = [column for column in columns if column not in self.fields]
        if missing or extra:
            problems = []
            if missing:
                problems.append(f"the schema needs columns {missing}")
            if extra:
                problems.append(f"columns {extra} are not fields of the schema")
            raise InvalidInputError("df", " and ".join(problems))
        checked = [
            self._checked({str(k): v for k, v in record.items()}, f"df row {index}: ")
            for index, record in zip(df.index, df.to_dict(orient="records"), strict=True)
        ]
        self._staged.extend(_Staged(values) for values in checked)

    def annotation_dataframe(
        self, only_nonuploaded: bool = False, include_tracking: bool = False
    ) -> pd.DataFrame:
        """The staged annotations as a DataFrame (points as `<field>_position`, table resolution).

        With `include_tracking`, the columns `is_uploaded` and `new_id` (the id the server gave the
        row; for updates `id` keeps the old one) are added.
        """
        import pandas as pd

        rows = []
        for staged in self._staged:
            if only_nonuploaded and staged.uploaded:
                continue
            row = self._flat(staged.values)
            if include_tracking:
                row[self.IS_UPLOADED_COLUMN] = staged.uploaded
                row[self.NEW_ID_COLUMN] = staged.new_id
            rows.append(row)
        frame = pd.DataFrame.from_records(rows)
        if include_tracking and self.NEW_ID_COLUMN in frame.columns:
            frame[self.NEW_ID_COLUMN] = frame[self.NEW_ID_COLUMN].astype("Int64")
        return frame

    def clear_annotations(self) -> None:
        """Remove every staged annotation (uploaded or not)."""
        self._staged = []

    def purge_uploaded_annotations(self) -> None:
        """Remove the annotations already uploaded."""
        self._staged = [staged for staged in self._staged if not staged.uploaded]

    # ------------------------------------------------------------ shapes

    def _scaled(self, position: list[Any]) -> list[Any]:
        if self._scaling is None:
            return position
        return [value * factor for value, factor in zip(position, self._scaling, strict=True)]

    def _flat(self, values: Mapping[str, Any]) -> dict[str, Any]:
        return {k: self._scaled(v) if k in self._points else v for k, v in values.items()}

    def _payload(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """An annotation as the annotation engine takes it: nested points, table resolution."""
        return {
            self._points.get(k, k): {"position": self._scaled(v)} if k in self._points else v
            for k, v in values.items()
        }

    # ------------------------------------------------------------ upload bookkeeping

    def _pending_rows(self) -> list[int]:
        return [index for index, staged in enumerate(self._staged) if not staged.uploaded]

    def _batch_payload(self, rows: Sequence[int]) -> list[dict[str, Any]]:
        return [self._payload(self._staged[row].values) for row in rows]

    def _old_id(self, row: int) -> int:
        return int(self._staged[row].values["id"])

    def _mark_uploaded(self, rows: Sequence[int], new_ids: Sequence[int]) -> None:
        for row, new_id in zip(rows, new_ids, strict=True):
            self._staged[row].uploaded = True
            self._staged[row].new_id = int(new_id)


def _resolution(parameter: str, value: Sequence[float] | None) -> list[float] | None:
    if value is None:
        return None
    try:
        numbers = [float(v) for v in value]
    except (TypeError, ValueError):
        raise InvalidInputError(parameter, "must be three numbers [x, y, z] (nm)") from None
    if len(numbers) != 3 or not all(n > 0 for n in numbers):
        raise InvalidInputError(parameter, "must be three positive numbers [x, y, z] (nm)")
    return numbers


def _position(parameter: str, value: Any) -> list[Any]:
    if not isinstance(value, list) or len(value) != 3:
        raise InvalidInputError(parameter, f"must be a position [x, y, z], not {value!r}")
    if not all(JSON_TYPES["number"](v) and math.isfinite(v) for v in value):
        raise InvalidInputError(parameter, f"must hold three finite numbers, not {value!r}")
    return value
