"""`client.materialize.tables` and `client.materialize.views`: one query builder per table or view.

    client.materialize.tables.synapses_pni_2(pre_pt_root_id=[1, 2], size={">": 100}).query()

A table's keyword arguments are its filterable columns. A scalar filters with equality, a list with
membership, a dict with inequalities (`{"<": x, ">=": y}`, numeric columns only) and
`<pt>_position_bbox=[[x0, y0, z0], [x1, y1, z1]]` spatially. Reference tables (those annotating the
rows of another table) offer the columns of both; a clash gets the suffix `_ref` on the reference
table's side, and queries join the two.

Table names are attributes of the manager and column names keyword parameters of each builder, both
listed by `dir()` and the call signature, so REPLs and IDEs complete them.
"""

from __future__ import annotations

import html
import inspect
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Generic, Literal, cast

from .._core import display
from .._http.plan import M, Plan, SubClient, api_method
from ..errors import InvalidInequalityException, InvalidInputError
from .query_filters import INEQUALITY_OPERATORS
from .schema_columns import NUMERIC_KINDS, TableColumns, schema_columns, view_columns

if TYPE_CHECKING:
    from datetime import datetime

    import pandas as pd

    from .._core.core import ClientCore
    from ..records.tables import TableMetadata, ViewColumnType, ViewMetadata
    from ..services.materialize import MaterializationClient

FILTERABLE_KINDS = frozenset({"integer", "float", "string", "boolean"})
REFERENCE_SUFFIX = "_ref"
BBOX_SUFFIX = "_bbox"

__all__ = ["InvalidInequalityException", "TableManager", "TableQuery", "ViewManager", "ViewQuery"]


@dataclass(frozen=True)
class QueryField:
    """One keyword of a table's query builder."""

    name: str
    table: str
    column: str
    """The column in `table` the keyword filters (spatial: the position column)."""
    spatial: bool = False
    numeric: bool = False


@dataclass(frozen=True)
class QueryDefinition:
    """What a table or view offers to queries."""

    name: str
    description: str
    fields: dict[str, QueryField]
    base_table: str
    reference_table: str | None = None
    """For reference tables: the table itself (joined on target_id to `base_table`)."""
    is_view: bool = False

    @property
    def tables(self) -> list[str]:
        return [self.base_table] + ([self.reference_table] if self.reference_table else [])


def _fields_of(
    table: str, columns: TableColumns, omit: frozenset[str] = frozenset()
) -> list[QueryField]:
    fields = [QueryField(f"{pt}_root_id", table, f"{pt}_root_id") for pt in columns.bound_points]
    for column in columns.value_columns:
        kind = columns.kinds.get(column, "other")
        if column in omit or kind not in FILTERABLE_KINDS:
            continue
        fields.append(QueryField(column, table, column, numeric=kind in NUMERIC_KINDS))
    for pt in columns.bound_points + columns.unbound_points:
        position = pt if pt.endswith("_position") else f"{pt}_position"
        fields.append(QueryField(f"{position}{BBOX_SUFFIX}", table, position, spatial=True))
    return fields


def table_definition(
    name: str,
    meta: Mapping[str, Any],
    metadata_by_table: Mapping[str, Mapping[str, Any]],
    columns_of_schema: Mapping[str, TableColumns],
) -> QueryDefinition:
    """The query builder definition of a table, from its metadata and its schema's columns."""
    description = str(meta.get("description") or "")
    own = columns_of_schema.get(str(meta.get("schema_type") or meta.get("schema")))
    target = meta.get("reference_table") or None
    target_meta = metadata_by_table.get(target) if target else None
    target_columns = (
        columns_of_schema.get(str(target_meta.get("schema_type") or target_meta.get("schema")))
        if target_meta
        else None
    )
    if own is None:
        return QueryDefinition(name, description, {}, name)
    if not target or target_columns is None:
        fields = _fields_of(name, own)
        return QueryDefinition(name, description, {f.name: f for f in fields}, name)
    base_fields = _fields_of(target, target_columns)
    taken = {f.name for f in base_fields}
    fields = list(base_fields)
    for own_field in _fields_of(name, own, omit=frozenset({"target_id"})):
        if own_field.name in taken:
            own_field = replace(own_field, name=_suffixed(own_field.name))  # noqa: PLW2901
        fields.append(own_field)
    return QueryDefinition(name, description, {f.name: f for f in fields}, target, name)


def _suffixed(name: str) -> str:
    if name.endswith(BBOX_SUFFIX):
        return name[: -len(BBOX_SUFFIX)] + REFERENCE_SUFFIX + BBOX_SUFFIX
    return name + REFERENCE_SUFFIX


def view_definition(name: str, meta: Mapping[str, Any], schema: Mapping[str, Any]) -> QueryDefinition:
    fields = _fields_of(name, view_columns(schema))
    return QueryDefinition(
        name, str(meta.get("description") or ""), {f.name: f for f in fields}, name, is_view=True
    )


# ---------------------------------------------------------------- filters from keywords

FilterSet = dict[str, dict[str, dict[str, Any]]]
"""filter parameter -> table -> column -> value"""


def build_filters(definition: QueryDefinition, values: Mapping[str, Any]) -> FilterSet:
    """Keyword filters by caveclient's rules: scalar = equal, list = in, {op: x} = inequality, bbox."""
    filters: FilterSet = {}

    def add(parameter: str, field: QueryField, value: Any) -> None:
        filters.setdefault(parameter, {}).setdefault(field.table, {})[field.column] = value

    for keyword, value in values.items():
        field = definition.fields.get(keyword)
        if field is None:
            raise InvalidInputError(
                keyword,
                f"is not a column of {definition.name!r}; its filters are {sorted(definition.fields)}",
            )
        if value is None:
            continue
        if field.spatial:
            add("filter_spatial_dict", field, value)
        elif isinstance(value, Mapping):
            unknown = [op for op in value if op not in INEQUALITY_OPERATORS]
            if unknown:
                raise InvalidInputError(
                    keyword,
                    f"unknown filter kind {unknown}: use one of {sorted(INEQUALITY_OPERATORS)}",
                )
            if not field.numeric:
                raise InvalidInequalityException(
                    keyword, "cannot use an inequality: the column is not numeric"
                )
            for operator, bound in value.items():
                add(INEQUALITY_OPERATORS[operator], field, bound)
        elif not isinstance(value, str | bytes) and hasattr(value, "__len__"):
            if len(value) == 0:
                raise InvalidInputError(keyword, "is an empty list, which matches no row")
            add("filter_in_dict", field, value)
        else:
            add("filter_equal_dict", field, value)
    return filters


def _flat(filters: FilterSet, table: str) -> dict[str, dict[str, Any]]:
    return {parameter: by_table[table] for parameter, by_table in filters.items() if table in by_table}


# ---------------------------------------------------------------- queries


class _Query(SubClient[M]):
    def __init__(
        self, client: MaterializationClient[M], definition: QueryDefinition, values: dict[str, Any]
    ) -> None:
        super().__init__(client._runtime)
        self._client = client
        self._definition = definition
        self._values = {key: value for key, value in values.items() if value is not None}
        self._filters = build_filters(definition, values)

    @property
    def filter_kwargs_live(self) -> dict[str, Any]:
        """The filters keyed by table (for live_live_query and joins)."""
        return dict(self._filters)

    @property
    def filter_kwargs_mat(self) -> dict[str, Any]:
        """The filters as query_table (one table) or join_query (a reference table) take them."""
        if self._definition.reference_table:
            return dict(self._filters)
        return _flat(self._filters, self._definition.base_table)

    def __getattr__(self, name: str) -> Any:
        definition = self.__dict__.get("_definition")
        if definition is not None and name in definition.fields:
            return self.__dict__["_values"].get(name)
        raise AttributeError(name)

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | set(self._definition.fields))

    def __repr__(self) -> str:
        given = ", ".join(f"{key}={value!r}" for key, value in self._values.items())
        return f"{self._definition.name}({given})"


class TableQuery(_Query[M]):
    """A table with filters set; `.query()` runs it on a version, `.live_query()` at a timestamp."""

    @api_method
    def query(
        self,
        select_columns: list[str] | dict[str, list[str]] | None = None,
        offset: int | None = None,
        limit: int | None = None,
        split_positions: bool = False,
        materialization_version: int | None = None,
        timestamp: datetime | None = None,
        metadata: bool = True,
        desired_resolution: list[float] | None = None,
        get_counts: bool = False,
        log_warning: bool = True,
        random_sample: int | None = None,
    ) -> Plan[pd.DataFrame | list[dict[str, Any]]]:
        """Run the query on a materialization version (or, with `timestamp`, as of that moment).

        Calls
        ``POST /materialize/api/v3/datastack/{datastack}/version/{version}/table/{table_name}/query``
        (``POST /materialize/api/v3/datastack/{datastack}/version/{version}/query`` for a reference table
        joined to its target), as ``MaterializationClient.query_table()`` does.

        Parameters
        ----------
        select_columns : list of str or dict of str to list of str, optional
            Columns to return (default: all); a dict keys them by table name.
        offset : int, optional
            Rows to skip first (in the server's order). Paging with `offset` is not reliable: the server
            orders no rows, so pages can repeat some rows and miss others; for every row past the
            server's row limit use ``client.materialize.query_table(..., all_rows=True)`` or
            ``export_table()``.
        limit : int, optional
            At most this many rows. The server also caps each answer (a ``CAVEServerWarning`` says so
            when a result was cut short).
        split_positions : bool, default False
            Positions as three columns ``<name>_x``, ``<name>_y``, ``<name>_z`` instead of one column of
            ``[x, y, z]`` arrays.
        materialization_version : int, optional
            Materialization version (default: the sub-client's ``version``).
        timestamp : datetime.datetime, optional
            Answer as of this moment (timezone-aware): runs ``live_query()`` instead.
        metadata : bool, default True
            Put the query's description (tables, version, timestamp, resolution, filters) in
            ``df.attrs``.
        desired_resolution : sequence of float, optional
            ``[x, y, z]`` nm per unit for returned positions (and spatial filters); default: the client's
            ``desired_resolution``, else each table's own voxel resolution.
        get_counts : bool, default False
            Ask the server to count the matching rows (its ``count`` option).
        log_warning : bool, default True
            Raise the messages the server sends with its answer (a table's notice, a row limit) as
            ``CAVEServerWarning``.
        random_sample : int, optional
            Ask the server for about this many rows sampled at random instead of all matches.

        Returns
        -------
        pandas.DataFrame
            One row per annotation: ``id``, ``created``, ``valid``, the schema's columns; ids are exact
            int64/uint64, timestamps UTC-aware, positions one column of ``[x, y, z]`` arrays (or split);
            the query's metadata in ``df.attrs``.

        Raises
        ------
        InvalidInputError
            An unknown table, column or filter kind, a naive datetime, ids that are not integers (refused
            before any request).
        InvalidInequalityException
            An inequality filter on a column that is not numeric.
        NotFoundError
            The version or table does not exist on the server.
        PermissionDeniedError
            The token lacks the permission this needs.
        AuthenticationError
            The token is missing, invalid or expired.
        CAVEConnectionError
            The server could not be reached (after the client's retries).
        """
        client = self._client
        definition = self._definition
        if definition.reference_table is None:
            return (
                yield from type(client).query_table.plan(
                    client,
                    definition.base_table,
                    select_columns=select_columns,
                    offset=offset,
                    limit=limit,
                    split_positions=split_positions,
                    materialization_version=materialization_version,
                    timestamp=timestamp,
                    metadata=metadata,
                    desired_resolution=desired_resolution,
                    get_counts=get_counts,
                    random_sample=random_sample,
                    log_warning=log_warning,
                    **self.filter_kwargs_mat,
                )
            )
        if timestamp is not None:
            return (
                yield from TableQuery.live_query.plan(
                    self,
                    timestamp,
                    offset=offset,
                    limit=limit,
                    split_positions=split_positions,
                    metadata=metadata,
                    desired_resolution=desired_resolution,
                    log_warning=log_warning,
                    random_sample=random_sample,
                )
            )
        reference = definition.reference_table
        return (
            yield from type(client).join_query.plan(
                client,
                [[reference, "target_id"], [definition.base_table, "id"]],
                select_columns=select_columns,
                offset=offset,
                limit=limit,
                suffixes={reference: REFERENCE_SUFFIX, definition.base_table: ""},
                split_positions=split_positions,
                materialization_version=materialization_version,
                metadata=metadata,
                desired_resolution=desired_resolution,
                random_sample=random_sample,
                log_warning=log_warning,
                **self.filter_kwargs_mat,
            )
        )

    @api_method
    def live_query(
        self,
        timestamp: datetime,
        offset: int | None = None,
        limit: int | None = None,
        split_positions: bool = False,
        metadata: bool = True,
        desired_resolution: list[float] | None = None,
        allow_missing_lookups: bool = False,
        log_warning: bool = True,
        random_sample: int | None = None,
    ) -> Plan[pd.DataFrame]:
        """Run the query as of a moment, computed by the server (as ``live_live_query``).

        Calls ``POST /materialize/api/v3/datastack/{datastack}/query``.

        Parameters
        ----------
        timestamp : datetime.datetime
            The moment (timezone-aware).
        offset : int, optional
            Rows to skip first (in the server's order). Paging with `offset` is not reliable: the server
            orders no rows, so pages can repeat some rows and miss others; for every row past the
            server's row limit use ``client.materialize.query_table(..., all_rows=True)`` or
            ``export_table()``.
        limit : int, optional
            At most this many rows. The server also caps each answer (a ``CAVEServerWarning`` says so
            when a result was cut short).
        split_positions : bool, default False
            Positions as three columns ``<name>_x``, ``<name>_y``, ``<name>_z`` instead of one column of
            ``[x, y, z]`` arrays.
        metadata : bool, default True
            Put the query's description (tables, version, timestamp, resolution, filters) in
            ``df.attrs``.
        desired_resolution : sequence of float, optional
            ``[x, y, z]`` nm per unit for returned positions (and spatial filters); default: the client's
            ``desired_resolution``, else each table's own voxel resolution.
        allow_missing_lookups : bool, default False
            Accept rows whose supervoxel lookup the server has not finished.
        log_warning : bool, default True
            Raise the messages the server sends with its answer (a table's notice, a row limit) as
            ``CAVEServerWarning``.
        random_sample : int, optional
            Ask the server for about this many rows sampled at random instead of all matches.

        Returns
        -------
        pandas.DataFrame
            One row per annotation: ``id``, ``created``, ``valid``, the schema's columns; ids are exact
            int64/uint64, timestamps UTC-aware, positions one column of ``[x, y, z]`` arrays (or split);
            the query's metadata in ``df.attrs``.

        Raises
        ------
        InvalidInputError
            An unknown table, column or filter kind, a naive datetime, ids that are not integers (refused
            before any request).
        InvalidInequalityException
            An inequality filter on a column that is not numeric.
        NotFoundError
            The version or table does not exist on the server.
        PermissionDeniedError
            The token lacks the permission this needs.
        AuthenticationError
            The token is missing, invalid or expired.
        CAVEConnectionError
            The server could not be reached (after the client's retries).
        """
        client = self._client
        definition = self._definition
        reference = definition.reference_table
        return (
            yield from type(client).live_live_query.plan(
                client,
                reference or definition.base_table,
                timestamp,
                joins=[[reference, "target_id", definition.base_table, "id"]] if reference else None,
                offset=offset,
                limit=limit,
                split_positions=split_positions,
                metadata=metadata,
                suffixes={reference: REFERENCE_SUFFIX, definition.base_table: ""} if reference else None,
                desired_resolution=desired_resolution,
                allow_missing_lookups=allow_missing_lookups,
                random_sample=random_sample,
                log_warning=log_warning,
                **self.filter_kwargs_live,
            )
        )


class ViewQuery(_Query[M]):
    """A view with filters set; `.query()` runs it."""

    @api_method
    def query(
        self,
        select_columns: list[str] | None = None,
        offset: int | None = None,
        limit: int | None = None,
        split_positions: bool = False,
        materialization_version: int | None = None,
        metadata: bool = True,
        desired_resolution: list[float] | None = None,
        get_counts: bool = False,
        log_warning: bool = True,
        random_sample: int | None = None,
    ) -> Plan[pd.DataFrame | list[dict[str, Any]]]:
        """Run the query on the view.

        Calls
        ``POST /materialize/api/v3/datastack/{datastack}/version/{version}/views/{view_name}/query``.

        Parameters
        ----------
        select_columns : list of str, optional
            Columns to return (default: all).
        offset : int, optional
            Rows to skip first (in the server's order). Paging with `offset` is not reliable: the server
            orders no rows, so pages can repeat some rows and miss others; for every row past the
            server's row limit use ``client.materialize.query_table(..., all_rows=True)`` or
            ``export_table()``.
        limit : int, optional
            At most this many rows. The server also caps each answer (a ``CAVEServerWarning`` says so
            when a result was cut short).
        split_positions : bool, default False
            Positions as three columns ``<name>_x``, ``<name>_y``, ``<name>_z`` instead of one column of
            ``[x, y, z]`` arrays.
        materialization_version : int, optional
            Materialization version (default: the sub-client's ``version``).
        metadata : bool, default True
            Put the query's description (tables, version, timestamp, resolution, filters) in
            ``df.attrs``.
        desired_resolution : sequence of float, optional
            ``[x, y, z]`` nm per unit for returned positions (and spatial filters); default: the client's
            ``desired_resolution``, else each table's own voxel resolution.
        get_counts : bool, default False
            Ask the server to count the matching rows (its ``count`` option).
        log_warning : bool, default True
            Accepted as caveclient does; the server's messages are raised as warnings either way.
        random_sample : int, optional
            Ask the server for about this many rows sampled at random instead of all matches.

        Returns
        -------
        pandas.DataFrame
            The view's rows (a list of dicts when the server is asked for JSON).

        Raises
        ------
        InvalidInputError
            An unknown table, column or filter kind, a naive datetime, ids that are not integers (refused
            before any request).
        InvalidInequalityException
            An inequality filter on a column that is not numeric.
        NotFoundError
            The version or table does not exist on the server.
        PermissionDeniedError
            The token lacks the permission this needs.
        AuthenticationError
            The token is missing, invalid or expired.
        CAVEConnectionError
            The server could not be reached (after the client's retries).
        """
        del log_warning
        client = self._client
        return (
            yield from type(client).query_view.plan(
                client,
                self._definition.base_table,
                select_columns=select_columns,
                offset=offset,
                limit=limit,
                split_positions=split_positions,
                materialization_version=materialization_version,
                metadata=metadata,
                desired_resolution=desired_resolution,
                get_counts=get_counts,
                random_sample=random_sample,
                **cast(dict[str, Any], _flat(self._filters, self._definition.base_table)),
            )
        )


# ---------------------------------------------------------------- builders and managers


class _Builder(Generic[M]):
    """Calling it with column filters gives a query; `fields` lists the filters it takes."""

    def __init__(self, client: MaterializationClient[M], definition: QueryDefinition) -> None:
        self._client = client
        self.definition = definition
        self.__doc__ = definition.description or f"Query builder of {definition.name!r}."
        self.__signature__ = inspect.Signature(
            [
                inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=None)
                for name in definition.fields
            ]
        )

    @property
    def fields(self) -> list[str]:
        """Every filter keyword."""
        return list(self.definition.fields)

    @property
    def numeric_fields(self) -> list[str]:
        """Filter keywords that accept inequalities."""
        return [f.name for f in self.definition.fields.values() if f.numeric]

    @property
    def spatial_fields(self) -> list[str]:
        """Filter keywords taking a bounding box."""
        return [f.name for f in self.definition.fields.values() if f.spatial]

    def __repr__(self) -> str:
        return f"<query builder {self.definition.name}({', '.join(self.fields)})>"


class TableQueryBuilder(_Builder[M]):
    def __call__(self, **filters: Any) -> TableQuery[M]:
        return TableQuery(self._client, self.definition, filters)

    @property
    def get_all(self) -> Any:
        """`query` without filters: `tables.<table>.get_all(limit=10)`."""
        return cast(Any, self()).query

    @property
    def get_all_live(self) -> Any:
        """`live_query` without filters."""
        return cast(Any, self()).live_query


class ViewQueryBuilder(_Builder[M]):
    def __call__(self, **filters: Any) -> ViewQuery[M]:
        return ViewQuery(self._client, self.definition, filters)

    @property
    def get_all(self) -> Any:
        """`query` without filters."""
        return cast(Any, self()).query


class _Manager(Generic[M]):
    _kind: Literal["table", "view"] = "table"

    def __init__(
        self,
        builders: dict[str, Any],
        descriptions: dict[str, str],
        core: ClientCore | None = None,
        version: int | None = None,
    ) -> None:
        self._builders = dict(sorted(builders.items()))
        self._descriptions = descriptions
        self._core = core
        self._version = version

    def _display_rows(self) -> list[tuple[str, str]]:
        rows = display.summary(self._core, self._version) if self._core is not None else []
        return [*rows, (f"{self._kind}s", str(len(self._builders)))]

    def _display_title(self) -> str:
        return f"{type(self).__name__}: the {self._kind}s of a materialization version"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        if cycle:
            printer.text(self._display_title())
            return
        names = "\n".join(f"  {name}" for name in self._builders)
        printer.text(f"{display.as_text(self._display_title(), self._display_rows())}\n{names}")

    @property
    def table_names(self) -> list[str]:
        """Names of every table (or view)."""
        return list(self._builders)

    def find(self, search_str: str) -> list[str]:
        """Names of the tables (or views) containing a text, case ignored. Makes no request.

        Parameters
        ----------
        search_str : str
            The text to look for.

        Returns
        -------
        list of str
            Matching names, sorted.
        """
        needle = search_str.lower()
        return [name for name in self._builders if needle in name.lower()]

    def __contains__(self, name: object) -> bool:
        return name in self._builders

    def __len__(self) -> int:
        return len(self._builders)

    def __iter__(self) -> Iterator[str]:
        return iter(self._builders)

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | set(self._builders))

    def __repr__(self) -> str:
        return repr(self.table_names)

    def _repr_html_(self) -> str:
        items = "".join(
            f"<details><summary>{html.escape(name)}</summary>"
            f"<p>{html.escape(self._descriptions.get(name, ''))}</p></details>"
            for name in self._builders
        )
        return display.as_html(self._display_title(), self._display_rows(), f"<div>{items}</div>")

    def _missing(self, name: str) -> AttributeError:
        close = self.find(name)[:5]
        hint = f"; did you mean {close}?" if close else ""
        return AttributeError(f"no {self._kind} named {name!r}{hint}")


class TableManager(_Manager[M]):
    """The tables of a materialization version, each a query builder (`tables.<name>(...)`)."""

    def __init__(
        self,
        client: MaterializationClient[M],
        metadata: list[TableMetadata],
        schemas: Mapping[str, Mapping[str, Any]],
        version: int | None = None,
    ) -> None:
        by_table = {str(m.get("annotation_table") or m.get("table_name")): dict(m) for m in metadata}
        columns_of_schema: dict[str, TableColumns] = {}
        for name, document in schemas.items():
            try:
                columns_of_schema[name] = schema_columns(document)
            except ValueError:
                continue
        builders = {
            name: TableQueryBuilder(client, table_definition(name, meta, by_table, columns_of_schema))
            for name, meta in by_table.items()
        }
        super().__init__(
            builders,
            {n: str(m.get("description") or "") for n, m in by_table.items()},
            client._core,
            version,
        )

    def __getattr__(self, name: str) -> TableQueryBuilder[M]:
        if name.startswith("_"):
            raise AttributeError(name)
        builders = self.__dict__.get("_builders", {})
        if name in builders:
            return builders[name]  # type: ignore[no-any-return]
        raise self._missing(name)

    def __getitem__(self, name: str) -> TableQueryBuilder[M]:
        if name not in self._builders:
            raise KeyError(name)
        return self._builders[name]  # type: ignore[no-any-return]


class ViewManager(_Manager[M]):
    """The views of a materialization version, each a query builder (`views.<name>(...)`)."""

    _kind = "view"

    def __init__(
        self,
        client: MaterializationClient[M],
        views: Mapping[str, ViewMetadata],
        schemas: Mapping[str, Mapping[str, ViewColumnType]],
        version: int | None = None,
    ) -> None:
        builders = {
            name: ViewQueryBuilder(client, view_definition(name, meta, schemas.get(name, {})))
            for name, meta in views.items()
        }
        super().__init__(
            builders,
            {n: str(m.get("description") or "") for n, m in views.items()},
            client._core,
            version,
        )

    def __getattr__(self, name: str) -> ViewQueryBuilder[M]:
        if name.startswith("_"):
            raise AttributeError(name)
        builders = self.__dict__.get("_builders", {})
        if name in builders:
            return builders[name]  # type: ignore[no-any-return]
        raise self._missing(name)

    def __getitem__(self, name: str) -> ViewQueryBuilder[M]:
        if name not in self._builders:
            raise KeyError(name)
        return self._builders[name]  # type: ignore[no-any-return]
