"""Checks and record shapes shared by the materialize sub-client's methods."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar, cast

from caveclient_gen_api.materialize.models.analysis_version import AnalysisVersion

from .._convert.values import as_utc
from .._http.plan import Plan, SubClient, api_property
from .._tables.frames import QueryHeaders
from .._tables.query_filters import scalar, value_list
from ..errors import InvalidInputError
from ..records.tables import TableMetadata, VersionMetadata

if TYPE_CHECKING:
    import pandas as pd


Records = list[dict[str, Any]]
T = TypeVar("T")


class settable_api_property(api_property[T]):  # noqa: N801 - used like `property`
    """An api_property that can also be assigned (setting needs no request)."""

    def __init__(self, plan: Callable[[Any], Plan[T]], setter: Callable[[Any, Any], None]) -> None:
        super().__init__(plan)
        self._setter = setter

    def __set__(self, instance: SubClient[Any], value: Any) -> None:
        self._setter(instance, value)


@dataclass
class _Answer:
    """A query answer before post-processing: rows (frame or records) and what the headers said."""

    frame: pd.DataFrame | None
    records: Records | None
    headers: QueryHeaders


def _positive_int(parameter: str, value: Any, *, minimum: int = 1) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or (not isinstance(value, int) and type(value).__module__ != "numpy"):
        raise InvalidInputError(parameter, f"must be an integer, not {type(value).__name__}")
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise InvalidInputError(parameter, f"must be an integer, not {value!r}") from None
    if number < minimum:
        raise InvalidInputError(parameter, f"must be at least {minimum}, not {number}")
    return number


def _version_number(parameter: str, value: Any) -> int | None:
    return _positive_int(parameter, value, minimum=-1) if value is not None else None


def _timestamp(parameter: str, value: Any) -> datetime:
    if isinstance(value, str) and value == "now":
        return datetime.now(UTC)
    moment = as_utc(parameter, value)
    if moment is None:
        raise InvalidInputError(parameter, "is required")
    return moment


def _name(parameter: str, value: Any) -> str:
    if not isinstance(value, str) or not value or "/" in value:
        raise InvalidInputError(parameter, f"{value!r} is not a table or view name")
    return value


def _parse_time(value: Any) -> datetime | None:
    """Server times are naive-UTC ISO strings, with or without fractional seconds."""
    if value is None:
        return None
    moment = datetime.fromisoformat(str(value))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _version_record(version: AnalysisVersion) -> VersionMetadata:
    record = version.to_dict()
    metadata = VersionMetadata(
        id=int(record["id"]),
        datastack=str(record["datastack"]),
        version=int(record["version"]),
        time_stamp=cast(datetime, _parse_time(record["time_stamp"])),
        valid=record.get("valid"),
        expires_on=_parse_time(record.get("expires_on")),
    )
    # Fields newer than some deployments: returned when the server sends them.
    if "status" in record:
        metadata["status"] = str(record["status"])
    if "is_merged" in record:
        metadata["is_merged"] = record["is_merged"]
    return metadata


def _table_record(raw: Mapping[str, Any]) -> TableMetadata:
    record = dict(raw)
    record["voxel_resolution"] = [
        record.pop(f"voxel_resolution_{axis}", None) for axis in ("x", "y", "z")
    ]
    return cast(TableMetadata, record)


def _select_columns(value: Any) -> list[str] | dict[str, list[str]] | None:
    if value is None:
        return None
    if isinstance(value, Mapping):
        return {
            str(table): _column_list(f"select_columns[{table!r}]", cols) for table, cols in value.items()
        }
    return _column_list("select_columns", value)


def _column_list(parameter: str, value: Any) -> list[str]:
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise InvalidInputError(parameter, "must be a list of column names")
    columns = list(value)
    if not all(isinstance(column, str) and column for column in columns):
        raise InvalidInputError(parameter, "must be a list of column names (strings)")
    return columns


def _table_pairs(tables: Any) -> list[list[str]]:
    pairs = []
    if isinstance(tables, str) or not isinstance(tables, Sequence):
        raise InvalidInputError("tables", "must be [[table, join_column], [table, join_column]]")
    for pair in tables:
        if isinstance(pair, str) or not isinstance(pair, Sequence) or len(pair) != 2:
            raise InvalidInputError("tables", f"each entry must be [table, join_column], not {pair!r}")
        pairs.append([_name("tables", pair[0]), _name("tables", pair[1])])
    if len(pairs) != 2:
        raise InvalidInputError(
            "tables", f"a join takes exactly two [table, column] pairs, not {len(pairs)}"
        )
    return pairs


def _metadata_attrs(meta: Mapping[str, Any]) -> dict[str, Any]:
    """Table metadata keys as caveclient records them in attrs (prefixed `table_` unless they are)."""
    return {(key if key.startswith("table") else f"table_{key}"): value for key, value in meta.items()}


def _view_resolution(meta: Mapping[str, Any]) -> list[float] | None:
    values = [meta.get(f"voxel_resolution_{axis}") for axis in ("x", "y", "z")]
    return [float(v) for v in values if v is not None] if None not in values else None


def _loose_filter(columns: Any) -> dict[str, Any]:
    """A filter dict of any kind: each value one value or a list of values, as plain JSON values."""
    if not isinstance(columns, Mapping):
        raise InvalidInputError("filters", f"each filter must be a dict, not {type(columns).__name__}")
    return {
        str(column): value_list(value, f"filters[{column!r}]")
        if not isinstance(value, str | bytes | Mapping) and hasattr(value, "__len__")
        else scalar(value, f"filters[{column!r}]")
        for column, value in columns.items()
    }


def string_format_timestamp(ts: datetime | None) -> str | None:
    """A timestamp as the string recorded in `df.attrs["timestamp"]`: its UTC time without an
    offset, as caveclient writes it (`2024-05-06T07:08:09.000000`)."""
    if ts is None:
        return None
    if ts.tzinfo is not None:
        ts = ts.astimezone(UTC)
    return ts.strftime("%Y-%m-%dT%H:%M:%S.%f")
