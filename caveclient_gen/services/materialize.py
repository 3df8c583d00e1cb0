"""`client.materialize`: versions, tables, views and queries (the materialization service).

The service lives on the datastack's local server. Queries use the v3 routes (the v2 query routes of
5.26.4 fail after running the query) and come back as DataFrames decoded from Arrow: exact int64/uint64
ids, UTC-aware timestamps, positions as [x, y, z] arrays unless `split_positions=True`, the query's
metadata in `df.attrs`, and the server's `Warning` headers as `CAVEServerWarning`s.

Every filter is checked before anything is sent: its kind and values, timestamps (timezone-aware), and,
when the table's metadata is at hand (it is fetched anyway for `df.attrs` and reference tables), its
columns against the table's schema.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from caveclient_gen_api.materialize.api.neuroglancer import (
    get_precomputed_annotation_info,
    get_segment_properties_info,
)
from caveclient_gen_api.materialize.api.tables import (
    get_table_count_v2,
    get_tables_metadata,
    get_tables_v2,
    get_unique_string_values,
)
from caveclient_gen_api.materialize.api.versions import get_versions_metadata_v3
from caveclient_gen_api.materialize.api.views import get_view_schemas, get_views
from caveclient_gen_api.materialize.api.workflows import ingest_annotation_table, lookup_supervoxel_ids
from caveclient_gen_api.materialize.models.analysis_version import AnalysisVersion
from caveclient_gen_api.materialize.models.annotation_id_list import AnnotationIDList
from caveclient_gen_api.materialize.models.precomputed_annotation_info import PrecomputedAnnotationInfo
from caveclient_gen_api.materialize.models.segment_properties import SegmentProperties
from caveclient_gen_api.materialize.models.table_metadata import TableMetadata as TableMetadataModel
from caveclient_gen_api.materialize.models.unique_string_values import UniqueStringValues
from caveclient_gen_api.materialize.models.view_schemas import ViewSchemas
from caveclient_gen_api.materialize.models.views_by_name import ViewsByName

from .. import _defaults
from .._convert.values import as_id_array
from .._http.overloaded import overloaded
from .._http.parse import parsed, parsed_list
from .._http.plan import M, Plan, api_method, api_property, fetch, fetch_all, read, write
from .._http.single_flight import MISSING
from .._tables.exclusions import (
    RANDOM_SAMPLE_NO_WINDOWS,
    Batch,
    KeyWindows,
    apply_exclusions,
    check_exclusion_options,
    fetch_until_limit,
    key_window_body,
    limit_warning_value,
    widen_select,
)
from .._tables.export import TableExport
from .._tables.frames import (
    QueryHeaders,
    merge_position_columns,
    query_headers,
    raise_server_warnings,
    rescale_positions,
)
from .._tables.live_query import check_root_filters, map_root_filters, update_root_ids
from .._tables.partitions import key_bounds
from .._tables.query_filters import (
    FILTER_KINDS,
    QueryFilters,
    check_known_columns,
    filter_arguments,
    keep_matching,
    single_table_filters,
    table_keyed_filters,
)
from .._tables.query_filters import (
    bounding_box as check_bounding_box,
)
from .._tables.query_request import QueryRoute
from .._tables.schema_columns import TableColumns, view_columns
from ..errors import CAVEError, InvalidInputError, NotFoundError
from ..records.tables import TableMetadata, VersionMetadata, ViewColumnType, ViewMetadata
from ._materialize_base import MaterializeBase
from ._materialize_export import export_plan
from ._materialize_values import (
    _Answer,
    _loose_filter,
    _name,
    _table_pairs,
    _timestamp,
    _version_number,
    _version_record,
    settable_api_property,
    string_format_timestamp,
)
from ._materialize_whole import check_all_rows
from ._method_signatures import JOIN_QUERY, QUERY_TABLE, QUERY_VIEW

if TYPE_CHECKING:
    import pandas as pd

    from .._tables.table_manager import TableManager, ViewManager
    from .chunkedgraph import ChunkedGraphClient

__all__ = [
    "MaterializationClient",
    "concatenate_position_columns",
    "convert_position_columns",
    "convert_timestamp",
    "string_format_timestamp",
]

logger = logging.getLogger("caveclient_gen")

FLAT_FILTER_PARAMETERS = tuple(kind.parameter for kind in FILTER_KINDS)
ROOT_FILTER_PARAMETERS = FLAT_FILTER_PARAMETERS[:7]
"""The filters a live query translates to the past and re-applies (all but spatial and regex)."""


# ---------------------------------------------------------------- caveclient's helpers


def convert_timestamp(ts: datetime | float | str | None) -> datetime:
    """A UTC-aware datetime from a datetime (naive taken as UTC), POSIX seconds, an ISO string
    (with or without fractional seconds) or "now". None gives the latest representable time."""
    if ts is None:
        return datetime.max.replace(tzinfo=UTC)
    if isinstance(ts, str) and ts == "now":
        return datetime.now(UTC)
    if isinstance(ts, bool):
        raise InvalidInputError("ts", "a bool is not a timestamp")
    if isinstance(ts, int | float):
        return datetime.fromtimestamp(float(ts), tz=UTC)
    if isinstance(ts, str):
        try:
            ts = datetime.fromisoformat(ts.replace("Z", "+00:00"))
        except ValueError:
            raise InvalidInputError("ts", f"{ts!r} is not an ISO 8601 timestamp") from None
    if not isinstance(ts, datetime):
        raise InvalidInputError("ts", f"cannot read a timestamp from {type(ts).__name__}")
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


def concatenate_position_columns(df: pd.DataFrame, inplace: bool = False) -> pd.DataFrame:
    """Each `<pt>_x/_y/_z` column triple merged into one column of [x, y, z] arrays."""
    del inplace  # a new frame sharing the unchanged columns is returned either way
    return merge_position_columns(df)


def convert_position_columns(
    df: pd.DataFrame, given_resolution: Sequence[float], desired_resolution: Sequence[float]
) -> pd.DataFrame:
    """Split position columns converted from `given_resolution` to `desired_resolution` (nm)."""
    return rescale_positions(df, given_resolution, desired_resolution)


class MaterializationClient(MaterializeBase[M]):
    """The materialization service: frozen versions of a datastack's tables, and queries of them."""

    _SERVER_KEY = "me_server_address"
    _API_VERSION = 3
    _LOCAL = True
    _VERSION_ROUTE = ("materialize", "service.get_version")

    # ------------------------------------------------------------ properties

    @property
    def datastack_name(self) -> str | None:
        """The datastack of this client (None on a global-only client). Makes no request."""
        return self._deployment.datastack_name

    @property
    def cg_client(self) -> ChunkedGraphClient[M]:
        """The chunkedgraph sub-client that live queries use: the client's own `chunkedgraph`."""
        if self._fc is not None:
            return cast("ChunkedGraphClient[M]", self._fc.chunkedgraph)
        if self._cg_client is None:
            from .chunkedgraph import ChunkedGraphClient as Graph

            self._cg_client = Graph(self._core)
        return cast("ChunkedGraphClient[M]", self._cg_client)

    def _version_plan(self) -> Plan[int]:
        """The version queries use by default.

        The client's pinned version (``CAVEclient(version=...)``), else the one assigned here (checked
        against ``get_versions(expired=True)`` on first use), else the latest, resolved once (assign None
        to resolve it again). As caveclient 8.2.1 gives it: a version given is returned as given (an
        int), the latest as the ``numpy.int64`` ``most_recent_version()`` gives. Calls
        ``GET /materialize/api/v3/datastack/{datastack}/versions`` when it resolves the latest.
        """
        import numpy as np

        datastack = self._datastack(None)
        resolved = yield from self._resolved_version(datastack, None)
        if self._core.version is None and self._version is None:
            return np.int64(resolved)  # type: ignore[return-value]
        return resolved

    def _set_version(self, value: Any) -> None:
        if self._core.version is not None:
            raise InvalidInputError(
                "version",
                "this client was created with a version; set it on the client "
                "(CAVEclient(version=...)), not on client.materialize",
            )
        if value is None:
            self._version = None
            self._latest.pop(self._deployment.datastack_name or "", None)
            return
        number = _version_number("version", value)
        self._version = number

    version = settable_api_property(_version_plan, _set_version)

    def _synapse_table_plan(self) -> Plan[str | None]:
        """The synapse table ``synapse_query()`` uses: the datastack's, unless assigned.

        Calls ``GET /info/api/v2/datastack/full/{datastack}`` (once per datastack; the record is kept).
        """
        if self._synapse_table is not None:
            return self._synapse_table
        record = yield from self._deployment.datastack_info()
        table = record.get("synapse_table")
        return str(table) if table else None

    def _set_synapse_table(self, value: Any) -> None:
        self._synapse_table = None if value is None else _name("synapse_table", value)

    synapse_table = settable_api_property(_synapse_table_plan, _set_synapse_table)

    @api_property
    def homepage(self) -> Plan[str]:
        """URL of the materialization service's web pages for this datastack.

        Calls ``GET /info/api/v2/datastack/full/{datastack}`` (once per datastack; the record is kept).
        """
        datastack = self._datastack(None)
        server = yield from self._deployment.local_server()
        return f"{server}/materialize/views/datastack/{datastack}"

    @api_property
    def tables(self) -> Plan[TableManager[M]]:
        """The tables of the sub-client's version, each a query builder.

        ``client.materialize.tables.<table>(column=value, ...).query()``. Calls
        ``GET /materialize/api/v3/datastack/{datastack}/version/{version}/tables/metadata`` and
        ``GET /schema/api/v2/types_all`` once per version.
        """
        from .._tables.table_manager import TableManager

        datastack = self._datastack(None)
        version = yield from self._resolved_version(datastack, None)
        key = (datastack, version)

        def fill() -> Plan[TableManager[M]]:
            metadata, schemas = yield from self._tables_and_schemas(datastack, version)
            manager = self._table_managers[key] = TableManager(self, metadata, schemas, version)
            return manager

        return (
            yield from self._flights.once(
                ("tables", key), lambda: self._table_managers.get(key, MISSING), fill
            )
        )

    @api_property
    def views(self) -> Plan[ViewManager[M]]:
        """The views of the sub-client's version, each a query builder.

        ``client.materialize.views.<view>(column=value, ...).query()``. Calls
        ``GET /materialize/api/v3/datastack/{datastack}/version/{version}/views`` and
        ``GET /materialize/api/v3/datastack/{datastack}/version/{version}/views/schemas`` once per
        version.
        """
        from .._tables.table_manager import ViewManager

        datastack = self._datastack(None)
        version = yield from self._resolved_version(datastack, None)
        key = (datastack, version)

        def fill() -> Plan[ViewManager[M]]:
            api = yield from self._api(datastack)
            views_response, schemas_response = yield from fetch_all(
                [
                    read(
                        get_views.sync_detailed,
                        get_views.asyncio_detailed,
                        datastack,
                        version,
                        client=api,
                    ),
                    read(
                        get_view_schemas.sync_detailed,
                        get_view_schemas.asyncio_detailed,
                        datastack,
                        version,
                        client=api,
                    ),
                ],
                2,
            )
            views = {
                name: cast(ViewMetadata, view.to_dict())
                for name, view in parsed(views_response, ViewsByName).additional_properties.items()
            }
            schemas = cast(
                dict[str, dict[str, ViewColumnType]], parsed(schemas_response, ViewSchemas).to_dict()
            )
            manager = self._view_managers[key] = ViewManager(self, views, schemas, version)
            return manager

        return (
            yield from self._flights.once(
                ("views", key), lambda: self._view_managers.get(key, MISSING), fill
            )
        )

    # ------------------------------------------------------------ versions

    @api_method
    def most_recent_version(self, datastack_name: str | None = None) -> Plan[int]:
        """The newest valid materialization version of a datastack.

        Calls ``GET /materialize/api/v3/datastack/{datastack}/versions``.

        Parameters
        ----------
        datastack_name : str, optional
            The datastack (default: the client's).

        Returns
        -------
        numpy.int64
            The version number, as caveclient 8.2.1 gives it (it compares and hashes as the int).

        Raises
        ------
        InvalidInputError
            A malformed argument (refused before any request).
        NotFoundError
            The datastack, version or table does not exist.
        AuthenticationError
            The token is missing, invalid or expired.
        CAVEConnectionError
            The server could not be reached (after the client's retries).
        """
        import numpy as np

        latest = yield from self._latest_version(self._datastack(datastack_name))
        return np.int64(latest)  # type: ignore[return-value]

    @api_method
    def get_versions(self, datastack_name: str | None = None, expired: bool = False) -> Plan[list[int]]:
        """Version numbers of a datastack.

        Calls ``GET /materialize/api/v3/datastack/{datastack}/versions``.

        Parameters
        ----------
        datastack_name : str, optional
            The datastack (default: the client's).
        expired : bool, default False
            Include expired versions.

        Returns
        -------
        list of int
            Version numbers, ascending.

        Raises
        ------
        InvalidInputError
            A malformed argument (refused before any request).
        NotFoundError
            The datastack, version or table does not exist.
        AuthenticationError
            The token is missing, invalid or expired.
        CAVEConnectionError
            The server could not be reached (after the client's retries).
        """
        return (yield from self._versions(self._datastack(datastack_name), bool(expired)))

    @api_method
    def get_tables(
        self, datastack_name: str | None = None, version: int | None = None
    ) -> Plan[list[str]]:
        """Names of the tables of a version.

        Calls ``GET /materialize/api/v2/datastack/{datastack}/version/{version}/tables``.

        Parameters
        ----------
        datastack_name : str, optional
            The datastack (default: the client's).
        version : int, optional
            Materialization version (default: the sub-client's ``version``: the client's pinned version,
            else the latest).

        Returns
        -------
        list of str
            Table names ([] when the version has none).

        Raises
        ------
        InvalidInputError
            A malformed argument (refused before any request).
        NotFoundError
            The datastack, version or table does not exist.
        AuthenticationError
            The token is missing, invalid or expired.
        CAVEConnectionError
            The server could not be reached (after the client's retries).
        """
        datastack = self._datastack(datastack_name)
        chosen = yield from self._resolved_version(datastack, version)
        api = yield from self._api(datastack)
        try:
            response = yield from fetch(
                read(
                    get_tables_v2.sync_detailed,
                    get_tables_v2.asyncio_detailed,
                    datastack,
                    chosen,
                    client=api,
                )
            )
        except NotFoundError as error:
            if error.wire_status != 404:  # an unknown version (sent as a 500), not "no tables"
                raise
            return []
        return parsed_list(response, str)

    @api_method
    def get_annotation_count(
        self, table_name: str, datastack_name: str | None = None, version: int | None = None
    ) -> Plan[int | None]:
        """Number of rows a table had in a version.

        Calls
        ``GET /materialize/api/v2/datastack/{datastack}/version/{version}/table/{table_name}/count``.

        Parameters
        ----------
        table_name : str
            The table.
        datastack_name : str, optional
            The datastack (default: the client's).
        version : int, optional
            Materialization version (default: the sub-client's ``version``: the client's pinned version,
            else the latest).

        Returns
        -------
        int or None
            The row count; None when the version recorded none.

        Raises
        ------
        InvalidInputError
            A malformed argument (refused before any request).
        NotFoundError
            The datastack, version or table does not exist.
        AuthenticationError
            The token is missing, invalid or expired.
        CAVEConnectionError
            The server could not be reached (after the client's retries).
        """
        table = _name("table_name", table_name)
        datastack = self._datastack(datastack_name)
        chosen = yield from self._resolved_version(datastack, version)
        api = yield from self._api(datastack)
        response = yield from fetch(
            read(
                get_table_count_v2.sync_detailed,
                get_table_count_v2.asyncio_detailed,
                datastack,
                chosen,
                table,
                client=api,
            )
        )
        count = response.parsed
        return int(count) if isinstance(count, int) else None

    @api_method
    def get_version_metadata(
        self, version: int | None = None, datastack_name: str | None = None
    ) -> Plan[VersionMetadata]:
        """The record of one version.

        Calls ``GET /materialize/api/v3/datastack/{datastack}/version/{version}``.

        Parameters
        ----------
        version : int, optional
            Materialization version (default: the sub-client's ``version``: the client's pinned version,
            else the latest).
        datastack_name : str, optional
            The datastack (default: the client's).

        Returns
        -------
        VersionMetadata
            A dict: ``version``, ``time_stamp`` and ``expires_on`` (UTC-aware datetimes), ``valid``,
            ``status``, ``datastack``, ...

        Raises
        ------
        InvalidInputError
            A malformed argument (refused before any request).
        NotFoundError
            The datastack, version or table does not exist.
        AuthenticationError
            The token is missing, invalid or expired.
        CAVEConnectionError
            The server could not be reached (after the client's retries).
        """
        datastack = self._datastack(datastack_name)
        chosen = yield from self._resolved_version(datastack, version)
        return (yield from self._version_record(datastack, chosen))

    @api_method
    def get_timestamp(
        self, version: int | None = None, datastack_name: str | None = None
    ) -> Plan[datetime]:
        """When a version was frozen.

        Calls ``GET /materialize/api/v3/datastack/{datastack}/version/{version}``.

        Parameters
        ----------
        version : int, optional
            Materialization version (default: the sub-client's ``version``: the client's pinned version,
            else the latest).
        datastack_name : str, optional
            The datastack (default: the client's).

        Returns
        -------
        datetime.datetime
            UTC-aware.

        Raises
        ------
        InvalidInputError
            A malformed argument (refused before any request).
        NotFoundError
            The datastack, version or table does not exist.
        AuthenticationError
            The token is missing, invalid or expired.
        CAVEConnectionError
            The server could not be reached (after the client's retries).
        """
        record = yield from MaterializationClient.get_version_metadata.plan(
            self, version, datastack_name
        )
        return record["time_stamp"]

    @api_method
    def get_versions_metadata(
        self, datastack_name: str | None = None, expired: bool = False
    ) -> Plan[list[VersionMetadata]]:
        """The records of every version (kept 12 hours by this client).

        Calls ``GET /materialize/api/v3/datastack/{datastack}/metadata``.

        Parameters
        ----------
        datastack_name : str, optional
            The datastack (default: the client's).
        expired : bool, default False
            Include expired versions.

        Returns
        -------
        list of VersionMetadata
            One dict per version (see ``get_version_metadata()``).

        Raises
        ------
        InvalidInputError
            A malformed argument (refused before any request).
        NotFoundError
            The datastack, version or table does not exist.
        AuthenticationError
            The token is missing, invalid or expired.
        CAVEConnectionError
            The server could not be reached (after the client's retries).
        """
        datastack = self._datastack(datastack_name)
        key = ("versions", datastack, bool(expired))
        cached = self._cached(key)
        if cached is not None:
            return cast(list[VersionMetadata], cached)
        api = yield from self._api(datastack)
        response = yield from fetch(
            read(
                get_versions_metadata_v3.sync_detailed,
                get_versions_metadata_v3.asyncio_detailed,
                datastack,
                client=api,
                expired=bool(expired),
            )
        )
        records = [_version_record(v) for v in parsed_list(response, AnalysisVersion)]
        return cast(list[VersionMetadata], self._metadata.put(key, records))

    @api_method
    def get_table_metadata(
        self,
        table_name: str,
        datastack_name: str | None = None,
        version: int | None = None,
        log_warning: bool = True,
    ) -> Plan[TableMetadata]:
        """Metadata of a table in a version (kept 12 hours by this client).

        Calls
        ``GET /materialize/api/v3/datastack/{datastack}/version/{version}/table/{table_name}/metadata``.

        Parameters
        ----------
        table_name : str
            The table.
        datastack_name : str, optional
            The datastack (default: the client's).
        version : int, optional
            Materialization version (default: the sub-client's ``version``: the client's pinned version,
            else the latest).
        log_warning : bool, default True
            Raise the messages the server sends with its answer (a table's notice, a row limit) as
            ``CAVEServerWarning``.

        Returns
        -------
        TableMetadata
            A dict: ``table_name``, ``schema_type``, ``description``, ``reference_table``,
            ``voxel_resolution`` (``[x, y, z]`` nm), ``notice_text``, ``created``, ...

        Raises
        ------
        InvalidInputError
            A malformed argument (refused before any request).
        NotFoundError
            The datastack, version or table does not exist.
        AuthenticationError
            The token is missing, invalid or expired.
        CAVEConnectionError
            The server could not be reached (after the client's retries).
        """
        table = _name("table_name", table_name)
        datastack = self._datastack(datastack_name)
        chosen = yield from self._resolved_version(datastack, version)
        return (yield from self._table_metadata(datastack, chosen, table, log_warning))

    @api_method
    def get_tables_metadata(
        self,
        datastack_name: str | None = None,
        version: int | None = None,
        log_warning: bool = True,
    ) -> Plan[list[TableMetadata]]:
        """Metadata of every table of a version (kept 12 hours by this client).

        Calls ``GET /materialize/api/v3/datastack/{datastack}/version/{version}/tables/metadata``.

        Parameters
        ----------
        datastack_name : str, optional
            The datastack (default: the client's).
        version : int, optional
            Materialization version (default: the sub-client's ``version``: the client's pinned version,
            else the latest).
        log_warning : bool, default True
            Raise the messages the server sends with its answer (a table's notice, a row limit) as
            ``CAVEServerWarning``.

        Returns
        -------
        list of TableMetadata
            One dict per table ([] when the version has none).

        Raises
        ------
        InvalidInputError
            A malformed argument (refused before any request).
        NotFoundError
            The datastack, version or table does not exist.
        AuthenticationError
            The token is missing, invalid or expired.
        CAVEConnectionError
            The server could not be reached (after the client's retries).
        """
        datastack = self._datastack(datastack_name)
        chosen = yield from self._resolved_version(datastack, version)
        cached = self._cached(("tables", datastack, chosen))
        if cached is not None:
            return cast(list[TableMetadata], cached)
        api = yield from self._api(datastack)
        try:
            response = yield from fetch(
                read(
                    get_tables_metadata.sync_detailed,
                    get_tables_metadata.asyncio_detailed,
                    datastack,
                    chosen,
                    client=api,
                )
            )
        except NotFoundError as error:
            if error.wire_status != 404:  # an unknown version (sent as a 500), not "no tables"
                raise
            return []
        raise_server_warnings(query_headers(response.headers).warnings, log_warning)
        raw = [t.to_dict() for t in parsed_list(response, TableMetadataModel)]
        return self._store_tables_metadata(datastack, chosen, raw)

    # ------------------------------------------------------------ queries

    @overloaded(QUERY_TABLE)
    def query_table(
        self,
        table: str,
        filter_in_dict: dict[str, Any] | None = None,
        filter_out_dict: dict[str, Any] | None = None,
        filter_equal_dict: dict[str, Any] | None = None,
        filter_greater_dict: dict[str, Any] | None = None,
        filter_less_dict: dict[str, Any] | None = None,
        filter_greater_equal_dict: dict[str, Any] | None = None,
        filter_less_equal_dict: dict[str, Any] | None = None,
        filter_spatial_dict: dict[str, Any] | None = None,
        filter_regex_dict: dict[str, Any] | None = None,
        select_columns: list[str] | dict[str, list[str]] | None = None,
        offset: int | None = None,
        limit: int | None = None,
        datastack_name: str | None = None,
        return_df: bool = True,
        split_positions: bool = False,
        materialization_version: int | None = None,
        timestamp: datetime | None = None,
        metadata: bool = True,
        merge_reference: bool = True,
        desired_resolution: Sequence[float] | None = None,
        get_counts: bool = False,
        random_sample: int | None = None,
        log_warning: bool = True,
        all_rows: bool = False,
    ) -> Plan[pd.DataFrame | list[dict[str, Any]]]:
        """Rows of a table in a materialization version, filtered.

        Calls
        ``POST /materialize/api/v3/datastack/{datastack}/version/{version}/table/{table_name}/query``
        (or, for a reference table joined to its target,
        ``POST /materialize/api/v3/datastack/{datastack}/version/{version}/query``), asking for Arrow;
        also
        ``GET /materialize/api/v3/datastack/{datastack}/version/{version}/table/{table_name}/metadata``
        once per table and version. With `timestamp`, see ``live_query()``.

        Parameters
        ----------
        table : str
            The table.
        filter_in_dict : dict, optional
            Column -> list of accepted values (rows whose value is in the list).
        filter_out_dict : dict, optional
            Column -> list of excluded values. The 5.26.4 server ignores exclusions; they are made exact
            here: excluded rows are removed from the rows received, a `limit` is met by asking for more,
            counts leave out the excluded rows, and when the server's row cap leaves too few rows they
            are collected by ranges of ``id`` (a reference table's own ``id`` when it is merged). Not
            combinable with `offset`.
        filter_equal_dict : dict, optional
            Column -> the one accepted value.
        filter_greater_dict : dict, optional
            Numeric column -> exclusive lower bound.
        filter_less_dict : dict, optional
            Numeric column -> exclusive upper bound.
        filter_greater_equal_dict : dict, optional
            Numeric column -> inclusive lower bound.
        filter_less_equal_dict : dict, optional
            Numeric column -> inclusive upper bound.
        filter_spatial_dict : dict, optional
            Position column -> box ``[[min_x, min_y, min_z], [max_x, max_y, max_z]]`` in the table's
            voxels (or `desired_resolution` when given).
        filter_regex_dict : dict, optional
            String column -> regular expression the value must match.
        select_columns : list of str or dict of str to list of str, optional
            Columns to return (default: all); a dict keys them by table name.
        offset : int, optional
            Rows to skip first (in the server's order); refused together with `filter_out_dict`.
        limit : int, optional
            At most this many rows. The server also caps each answer (a ``CAVEServerWarning`` says so
            when a result was cut short).
        datastack_name : str, optional
            The datastack (default: the client's).
        return_df : bool, default True
            True: a DataFrame. False: the server's JSON records (a list of dicts).
        split_positions : bool, default False
            Positions as three columns ``<name>_x``, ``<name>_y``, ``<name>_z`` instead of one column of
            ``[x, y, z]`` arrays.
        materialization_version : int, optional
            Materialization version (default: the sub-client's ``version``).
        timestamp : datetime.datetime, optional
            Answer as of this moment (timezone-aware) instead of a version: the query runs as
            ``live_query()``.
        metadata : bool, default True
            Put the query's description (tables, version, timestamp, resolution, filters) in
            ``df.attrs``.
        merge_reference : bool, default True
            For a reference table, join the table it annotates (its columns get the suffix ``_ref``).
        desired_resolution : sequence of float, optional
            ``[x, y, z]`` nm per unit for returned positions (and spatial filters); default: the client's
            ``desired_resolution``, else each table's own voxel resolution.
        get_counts : bool, default False
            Ask the server to count the matching rows (its ``count`` option); refused together with
            `random_sample`.
        random_sample : int, optional
            Ask the server for about this many rows sampled at random instead of all matches.
        log_warning : bool, default True
            Raise the messages the server sends with its answer (a table's notice, a row limit) as
            ``CAVEServerWarning``.
        all_rows : bool, default False
            Return every matching row past the server's row limit, exactly: fetched by ranges of the
            primary key under that limit, concurrently (a progress bar when switched on). Not
            combinable with `offset`, `limit` or `random_sample`.

        Returns
        -------
        pandas.DataFrame
            One row per annotation: ``id``, ``created``, ``valid``, the schema's columns; ids are exact
            int64/uint64, timestamps UTC-aware, positions one column of ``[x, y, z]`` arrays (or split);
            the query's metadata in ``df.attrs``. With ``return_df=False``, a list of dicts instead.

        Raises
        ------
        InvalidInputError
            An unknown table, column or filter kind, a naive datetime, ids that are not integers,
            `offset` with `filter_out_dict`, `get_counts` with `random_sample` (refused before any
            request).
        InvalidInequalityException
            An inequality filter on a column that is not numeric.
        NotFoundError
            The version or table does not exist on the server.
        PermissionDeniedError
            The token lacks the permission this needs.
        AuthenticationError
            The token is missing, invalid or expired.
        ServerIncompatibilityError
            Exclusions past the server's row cap together with `random_sample` (they cannot be made
            exact: each request draws its own sample).
        UnexpectedResponseError
            The answer's columns cannot be the table's.
        CAVEConnectionError
            The server could not be reached (after the client's retries).
        """
        flat = filter_arguments(locals())
        name = _name("table", table)
        whole = check_all_rows(all_rows, offset=offset, limit=limit, random_sample=random_sample)
        if timestamp is not None:
            if materialization_version is not None:
                raise InvalidInputError(
                    "timestamp", "give either a timestamp or a materialization_version, not both"
                )
            return (
                yield from MaterializationClient.live_query.plan(
                    self,
                    name,
                    timestamp,
                    **flat,
                    select_columns=select_columns,
                    offset=offset,
                    limit=limit,
                    datastack_name=datastack_name,
                    split_positions=split_positions,
                    post_filter=True,
                    metadata=metadata,
                    merge_reference=merge_reference,
                    desired_resolution=desired_resolution,
                    random_sample=random_sample,
                    log_warning=log_warning,
                    all_rows=whole,
                )
            )
        filters = single_table_filters(name, flat)
        offset_, limit_, sample, desired, select = self._common_options(
            offset=offset,
            limit=limit,
            random_sample=random_sample,
            desired_resolution=desired_resolution,
            select_columns=select_columns,
        )
        check_exclusion_options(filters, offset=offset_, get_counts=get_counts, random_sample=sample)
        datastack = self._datastack(datastack_name)
        version = yield from self._resolved_version(
            datastack, materialization_version, "materialization_version"
        )
        return (
            yield from self._frozen_table_query(
                datastack,
                version,
                name,
                filters,
                select=select,
                offset=offset_,
                limit=limit_,
                sample=sample,
                desired=desired,
                return_df=return_df,
                split_positions=split_positions,
                metadata=metadata,
                merge_reference=merge_reference,
                get_counts=get_counts,
                log_warning=log_warning,
                live_timestamp=None,
                all_rows=whole and not get_counts,
            )
        )

    def _frozen_table_query(
        self,
        datastack: str,
        version: int,
        table: str,
        filters: QueryFilters,
        *,
        select: Any,
        offset: int | None,
        limit: int | None,
        sample: int | None,
        desired: list[float] | None,
        return_df: bool,
        split_positions: bool,
        metadata: bool,
        merge_reference: bool,
        get_counts: bool,
        log_warning: bool,
        live_timestamp: datetime | None,
        after_decode: Callable[[pd.DataFrame], Plan[pd.DataFrame]] | None = None,
        attrs_filters: QueryFilters | None = None,
        all_rows: bool = False,
        answers: list[_Answer] | None = None,
    ) -> Plan[pd.DataFrame | list[dict[str, Any]]]:
        """A query of one table at a version (joined to its target when it is a reference table).

        With `answers`, the server's answer is appended to it and its row-limit warnings are left
        to the caller (which re-sends the query with other limits).
        """
        meta: TableMetadata | None = None
        if merge_reference or metadata:
            meta = yield from self._table_metadata(datastack, version, table)
        columns = yield from self._known_columns(table, meta)
        if columns is not None:
            check_known_columns(filters, {table: columns})
        reference = meta.get("reference_table") if merge_reference and meta is not None else None
        tables: list[tuple[str, str | None, str | None]] = [(table, None, None)]
        if isinstance(select, dict):
            if reference is None and set(select) - {table}:
                raise InvalidInputError("select_columns", f"may only name table {table!r} here")
            if reference is None:
                select = select.get(table, [])
        body = self._body(filters, select, offset, limit, desired)
        route: QueryRoute = "table"
        if reference:
            route = "join"
            body["tables"] = [[table, "target_id"], [reference, "id"]]
            body["suffix_map"] = {table: "", reference: "_ref"}
            tables = [(table, "target_id", ""), (reference, "id", "_ref")]
        elif columns is not None and isinstance(select, list):
            unknown = [c for c in select if c not in columns.kinds]
            if unknown:
                raise InvalidInputError(
                    "select_columns",
                    f"table {table!r} has no columns {unknown}; its columns are {sorted(columns.names)}",
                )
        answer = yield from self._fetch_answer(
            route,
            datastack=datastack,
            version=version,
            name=table,
            body=body,
            params=self._params(sample, get_counts),
            return_df=return_df,
            filters=filters,
            log_warning=log_warning,
            all_rows=all_rows,
            limit_warnings=answers is None,
            expected=self._expected_tables(datastack, version, table, columns, reference),
        )
        if answers is not None:
            answers.append(answer)
        if answer.frame is None:
            return answer.records or []
        frame = yield from self._rescaled(
            answer.frame, answer.headers, desired, self._table_resolution(datastack, version, table)
        )
        if after_decode is not None:
            frame = yield from after_decode(frame)
        if not split_positions:
            frame = merge_position_columns(frame)
        if metadata:
            described = []
            # caveclient describes a live query by its table alone, a merged reference included.
            for name, column, suffix in tables if live_timestamp is None else tables[:1]:
                meta_of = yield from self._attrs_metadata(datastack, version, name)
                described.append((name, meta_of, column, suffix))
            frame.attrs.update(
                self._frame_attrs(
                    datastack,
                    tables=described,
                    headers=answer.headers,
                    desired=desired,
                    filters=attrs_filters or filters,
                    select_columns=select,
                    offset=offset,
                    limit=limit,
                    live_query=live_timestamp is not None,
                    timestamp=live_timestamp,
                    version=None if live_timestamp is not None else version,
                    record_column_names=live_timestamp is None,
                )
            )
        return frame

    def _expected_tables(
        self,
        datastack: str,
        version: int,
        table: str,
        columns: TableColumns | None,
        reference: str | None,
    ) -> dict[str, TableColumns | None]:
        """The known columns of a table query's tables (a reference table's, when cached)."""
        if not reference:
            return {table: columns}
        meta = self._cached(("table", datastack, version, reference)) or {}
        schema = meta.get("schema_type") or meta.get("schema")
        known = self._columns_by_schema.get(schema) if schema else None
        return {table: columns, reference: known}

    @overloaded(JOIN_QUERY)
    def join_query(
        self,
        tables: list[list[str]],
        filter_in_dict: dict[str, dict[str, Any]] | None = None,
        filter_out_dict: dict[str, dict[str, Any]] | None = None,
        filter_equal_dict: dict[str, dict[str, Any]] | None = None,
        filter_greater_dict: dict[str, dict[str, Any]] | None = None,
        filter_less_dict: dict[str, dict[str, Any]] | None = None,
        filter_greater_equal_dict: dict[str, dict[str, Any]] | None = None,
        filter_less_equal_dict: dict[str, dict[str, Any]] | None = None,
        filter_spatial_dict: dict[str, dict[str, Any]] | None = None,
        filter_regex_dict: dict[str, dict[str, Any]] | None = None,
        select_columns: dict[str, list[str]] | list[str] | None = None,
        offset: int | None = None,
        limit: int | None = None,
        suffixes: dict[str, str] | list[str] | None = None,
        datastack_name: str | None = None,
        return_df: bool = True,
        split_positions: bool = False,
        materialization_version: int | None = None,
        metadata: bool = True,
        desired_resolution: Sequence[float] | None = None,
        random_sample: int | None = None,
        log_warning: bool = True,
        all_rows: bool = False,
    ) -> Plan[pd.DataFrame | list[dict[str, Any]]]:
        """Two tables of a version joined on a column each.

        Calls ``POST /materialize/api/v3/datastack/{datastack}/version/{version}/query``.

        Parameters
        ----------
        tables : list of list of str
            ``[[table_a, column_a], [table_b, column_b]]``: rows join where ``column_a`` equals
            ``column_b``.
        filter_in_dict : dict, optional
            Each maps table name -> a dict as below. Column -> list of accepted values (rows whose value
            is in the list).
        filter_out_dict : dict, optional
            Column -> list of excluded values. The 5.26.4 server ignores exclusions; this client makes
            them exact (excluded rows removed, a `limit` met by asking for more; past the server's row
            cap, rows collected by ranges of the first table's ``id``, then of the second's where one
            row of the first joins more rows than the cap). Not combinable with `offset`.
        filter_equal_dict : dict, optional
            Column -> the one accepted value.
        filter_greater_dict : dict, optional
            Numeric column -> exclusive lower bound.
        filter_less_dict : dict, optional
            Numeric column -> exclusive upper bound.
        filter_greater_equal_dict : dict, optional
            Numeric column -> inclusive lower bound.
        filter_less_equal_dict : dict, optional
            Numeric column -> inclusive upper bound.
        filter_spatial_dict : dict, optional
            Position column -> box ``[[min_x, min_y, min_z], [max_x, max_y, max_z]]`` in the table's
            voxels (or `desired_resolution` when given).
        filter_regex_dict : dict, optional
            String column -> regular expression the value must match.
        select_columns : dict of str to list of str, or list of str, optional
            Columns to return, keyed by table name (default: all).
        offset : int, optional
            Rows to skip first (in the server's order).
        limit : int, optional
            At most this many rows. The server also caps each answer (a ``CAVEServerWarning`` says so
            when a result was cut short).
        suffixes : dict of str to str, or list of str, optional
            Suffix per table for column names both tables have (default: none for the first, ``_2`` ...
            as the server names them).
        datastack_name : str, optional
            The datastack (default: the client's).
        return_df : bool, default True
            True: a DataFrame. False: the server's JSON records (a list of dicts).
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
        random_sample : int, optional
            Ask the server for about this many rows sampled at random instead of all matches.
        log_warning : bool, default True
            Raise the messages the server sends with its answer (a table's notice, a row limit) as
            ``CAVEServerWarning``.
        all_rows : bool, default False
            Return every matching row past the server's row limit, exactly: fetched by ranges of the
            primary key under that limit, concurrently (a progress bar when switched on). Not
            combinable with `offset`, `limit` or `random_sample`.

        Returns
        -------
        pandas.DataFrame
            The joined rows (see ``query_table()`` for the column types); with ``return_df=False``, a
            list of dicts.

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
        ServerIncompatibilityError
            Exclusions past the server's row cap together with `random_sample` (they cannot be made
            exact: each request draws its own sample).
        CAVEConnectionError
            The server could not be reached (after the client's retries).
        """
        pairs = _table_pairs(tables)
        whole = check_all_rows(all_rows, offset=offset, limit=limit, random_sample=random_sample)
        names = [pair[0] for pair in pairs]
        filters = table_keyed_filters(
            names,
            filter_arguments(locals()),
        )
        offset_, limit_, sample, desired, select = self._common_options(
            offset=offset,
            limit=limit,
            random_sample=random_sample,
            desired_resolution=desired_resolution,
            select_columns=select_columns,
        )
        suffix_of = self._suffixes(suffixes, names)
        check_exclusion_options(filters, offset=offset_)
        datastack = self._datastack(datastack_name)
        version = yield from self._resolved_version(
            datastack, materialization_version, "materialization_version"
        )
        metas: dict[str, dict[str, Any]] = {}
        if metadata:
            known: dict[str, TableColumns] = {}
            for name in names:
                metas[name] = dict((yield from self._table_metadata(datastack, version, name)))
                columns = yield from self._known_columns(name, metas[name])
                if columns is not None:
                    known[name] = columns
            check_known_columns(filters, known)
        body = self._body(filters, select, offset_, limit_, desired)
        body["tables"] = pairs
        if isinstance(suffixes, Mapping):
            body["suffix_map"] = dict(suffix_of)
        elif suffixes is not None:
            body["suffixes"] = [suffix_of[name] for name in names]
        answer = yield from self._fetch_answer(
            "join",
            datastack=datastack,
            version=version,
            name="",
            body=body,
            params=self._params(sample),
            return_df=return_df,
            filters=filters,
            log_warning=log_warning,
            all_rows=whole,
            expected={name: known.get(name) for name in names} if metadata else None,
        )
        if answer.frame is None:
            return answer.records or []
        frame = answer.frame
        if not split_positions:
            frame = merge_position_columns(frame)
        if metadata:
            frame.attrs.update(
                self._frame_attrs(
                    datastack,
                    tables=[(name, metas[name], column, suffix_of.get(name)) for name, column in pairs],
                    headers=answer.headers,
                    desired=desired,
                    filters=filters,
                    select_columns=select,
                    offset=offset_,
                    limit=limit_,
                    live_query=False,
                    timestamp=None,
                    version=version,
                )
            )
        return frame

    @api_method
    def map_filters(
        self,
        filters: list[dict[str, Any] | None],
        timestamp: datetime,
        timestamp_past: datetime,
    ) -> Plan[tuple[list[dict[str, Any] | None], dict[int, int]]]:
        """Root-id filters valid at `timestamp`, translated to the roots they were at `timestamp_past`.

        Calls the chunkedgraph: ``POST /segmentation/api/v1/table/{table_id}/is_latest_roots``,
        ``POST .../root_timestamps`` and ``GET .../past_id_mapping``.

        Parameters
        ----------
        filters : list of dict or None
            Filter dicts (e.g. ``[filter_in_dict, filter_equal_dict]``); columns ending in ``root_id``
            are translated, others kept.
        timestamp : datetime.datetime
            When the given root ids are valid (timezone-aware).
        timestamp_past : datetime.datetime
            The earlier moment to translate them to.

        Returns
        -------
        tuple of (list of dict or None, dict of int to int)
            The translated filters, and each past root id -> the root it became at `timestamp`.

        Raises
        ------
        InvalidInputError
            A root id is not valid at `timestamp`, or a datetime is naive.
        AuthenticationError
            The token is missing, invalid or expired.
        CAVEConnectionError
            The server could not be reached (after the client's retries).
        """
        moment = _timestamp("timestamp", timestamp)
        past = _timestamp("timestamp_past", timestamp_past)
        checked = [None if columns is None else _loose_filter(columns) for columns in filters]
        lookups = yield from self._lookups(self._datastack(None))
        return (yield from map_root_filters(checked, moment, past, lookups))

    @api_method
    def live_query(
        self,
        table: str,
        timestamp: datetime,
        filter_in_dict: dict[str, Any] | None = None,
        filter_out_dict: dict[str, Any] | None = None,
        filter_equal_dict: dict[str, Any] | None = None,
        filter_greater_dict: dict[str, Any] | None = None,
        filter_less_dict: dict[str, Any] | None = None,
        filter_greater_equal_dict: dict[str, Any] | None = None,
        filter_less_equal_dict: dict[str, Any] | None = None,
        filter_spatial_dict: dict[str, Any] | None = None,
        filter_regex_dict: dict[str, Any] | None = None,
        select_columns: list[str] | dict[str, list[str]] | None = None,
        offset: int | None = None,
        limit: int | None = None,
        datastack_name: str | None = None,
        split_positions: bool = False,
        post_filter: bool = True,
        metadata: bool = True,
        merge_reference: bool = True,
        desired_resolution: Sequence[float] | None = None,
        random_sample: int | None = None,
        log_warning: bool = True,
        all_rows: bool = False,
    ) -> Plan[pd.DataFrame]:
        """A table as it was at `timestamp`, computed by this client.

        Queries the newest version frozen at or before `timestamp`
        (``POST /materialize/api/v3/datastack/{datastack}/version/{version}/table/{table_name}/query``)
        with root-id filters translated back to that version's time, then updates every root id to its
        value at `timestamp` with the chunkedgraph
        (``POST /segmentation/api/v1/table/{table_id}/roots_binary`` and related routes).

        Parameters
        ----------
        table : str
            The table.
        timestamp : datetime.datetime
            The moment (timezone-aware; naive datetimes are refused).
        filter_in_dict : dict, optional
            Column -> list of accepted values (rows whose value is in the list).
        filter_out_dict : dict, optional
            Column -> list of excluded values, as of `timestamp`. The 5.26.4 server ignores
            exclusions; this client makes them exact (excluded rows removed, a `limit` met by asking
            for more; past the server's row cap, rows collected by ranges of ``id``). Not combinable
            with `offset`.
        filter_equal_dict : dict, optional
            Column -> the one accepted value.
        filter_greater_dict : dict, optional
            Numeric column -> exclusive lower bound.
        filter_less_dict : dict, optional
            Numeric column -> exclusive upper bound.
        filter_greater_equal_dict : dict, optional
            Numeric column -> inclusive lower bound.
        filter_less_equal_dict : dict, optional
            Numeric column -> inclusive upper bound.
        filter_spatial_dict : dict, optional
            Position column -> box ``[[min_x, min_y, min_z], [max_x, max_y, max_z]]`` in the table's
            voxels (or `desired_resolution` when given).
        filter_regex_dict : dict, optional
            String column -> regular expression the value must match.
        select_columns : list of str or dict of str to list of str, optional
            Columns to return (default: all); a dict keys them by table name.
        offset : int, optional
            Rows to skip first (in the server's order).
        limit : int, optional
            At most this many rows. The server also caps each answer (a ``CAVEServerWarning`` says so
            when a result was cut short).
        datastack_name : str, optional
            The datastack (default: the client's).
        split_positions : bool, default False
            Positions as three columns ``<name>_x``, ``<name>_y``, ``<name>_z`` instead of one column of
            ``[x, y, z]`` arrays.
        post_filter : bool, default True
            Apply the filters again to the updated rows (a root that split since the version may bring
            rows that no longer match).
        metadata : bool, default True
            Put the query's description (tables, version, timestamp, resolution, filters) in
            ``df.attrs``.
        merge_reference : bool, default True
            For a reference table, join the table it annotates (its columns get the suffix ``_ref``).
        desired_resolution : sequence of float, optional
            ``[x, y, z]`` nm per unit for returned positions (and spatial filters); default: the client's
            ``desired_resolution``, else each table's own voxel resolution.
        random_sample : int, optional
            Ask the server for about this many rows sampled at random instead of all matches.
        log_warning : bool, default True
            Raise the messages the server sends with its answer (a table's notice, a row limit) as
            ``CAVEServerWarning``.
        all_rows : bool, default False
            Return every matching row past the server's row limit, exactly: fetched by ranges of the
            primary key under that limit, concurrently (a progress bar when switched on). Not
            combinable with `offset`, `limit` or `random_sample`.

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
        ServerIncompatibilityError
            Exclusions (or root ids brought forward) past the server's row cap together with
            `random_sample` (they cannot be made exact: each request draws its own sample).
        CAVEConnectionError
            The server could not be reached (after the client's retries).
        """
        name = _name("table", table)
        moment = _timestamp("timestamp", timestamp)
        whole = check_all_rows(all_rows, offset=offset, limit=limit, random_sample=random_sample)
        flat = filter_arguments(locals())
        filters = single_table_filters(name, flat)
        offset_, limit_, sample, desired, select = self._common_options(
            offset=offset,
            limit=limit,
            random_sample=random_sample,
            desired_resolution=desired_resolution,
            select_columns=select_columns,
        )
        check_exclusion_options(filters, offset=offset_)
        datastack = self._datastack(datastack_name)
        versions = yield from MaterializationClient.get_versions_metadata.plan(self, datastack)
        chosen: VersionMetadata | None = None
        for record in sorted(versions, key=lambda r: r["id"]):
            if record["time_stamp"] <= moment:
                chosen = record
        if chosen is None:
            oldest = min((r["time_stamp"] for r in versions), default=None)
            raise InvalidInputError(
                "timestamp",
                f"{moment.isoformat()} is before every available materialization version"
                + (f" (the oldest is from {oldest.isoformat()})" if oldest else ""),
            )
        common: dict[str, Any] = {
            "select": select,
            "offset": offset_,
            "limit": limit_,
            "sample": sample,
            "desired": desired,
            "return_df": True,
            "split_positions": split_positions,
            "metadata": metadata,
            "merge_reference": merge_reference,
            "get_counts": False,
            "log_warning": log_warning,
            "all_rows": whole,
        }
        if chosen["time_stamp"] == moment:
            return cast(
                "pd.DataFrame",
                (
                    yield from self._frozen_table_query(
                        datastack, chosen["version"], name, filters, live_timestamp=None, **common
                    )
                ),
            )
        lookups = yield from self._lookups(datastack)
        originals = [filters.flat(parameter) for parameter in ROOT_FILTER_PARAMETERS]
        translated, future_map = yield from map_root_filters(
            originals, moment, chosen["time_stamp"], lookups
        )
        past = dict(zip(ROOT_FILTER_PARAMETERS, translated, strict=True))
        equal = dict(past.get("filter_equal_dict") or {})
        for column in [c for c in equal if c.endswith("root_id")]:
            # One root now may be several roots then: an equality becomes membership.
            value = equal.pop(column)
            members = value if isinstance(value, list) else [value]
            past["filter_in_dict"] = {**(past.get("filter_in_dict") or {}), column: members}
        past["filter_equal_dict"] = equal or None
        # Exclusions are applied to the rows brought forward, on the values of `timestamp`: a past
        # root of an excluded root may hold supervoxels that belong to another root now.
        past["filter_out_dict"] = None
        past_filters = single_table_filters(
            name,
            {
                **past,
                "filter_spatial_dict": flat["filter_spatial_dict"],
                "filter_regex_dict": flat["filter_regex_dict"],
            },
        )
        common["select"], added = widen_select(select, filters)

        def bring_forward(frame: pd.DataFrame) -> Plan[pd.DataFrame]:
            updated = yield from update_root_ids(frame, moment, future_map, lookups)
            if post_filter:
                updated = keep_matching(updated, {p: filters.flat(p) for p in ROOT_FILTER_PARAMETERS})
            return cast("pd.DataFrame", apply_exclusions(updated, filters, {}, added))

        def query(
            rows: int | None, seen: list[_Answer], sent: QueryFilters = past_filters
        ) -> Plan[pd.DataFrame]:
            return cast(
                "pd.DataFrame",
                (
                    yield from self._frozen_table_query(
                        datastack,
                        chosen["version"],
                        name,
                        sent,
                        live_timestamp=moment,
                        after_decode=bring_forward,
                        attrs_filters=filters,
                        answers=seen,
                        **{**common, "limit": rows},
                    )
                ),
            )

        if limit_ is None:
            return (yield from query(None, []))

        def limited(rows: int, sent: QueryFilters = past_filters) -> Plan[Batch]:
            # Rows dropped after bringing roots forward leave a short answer: ask for more.
            seen: list[_Answer] = []
            frame = yield from query(rows, seen, sent)
            received = len(seen[-1].frame) if seen and seen[-1].frame is not None else len(frame)
            return Batch(frame, received, seen[-1].headers if seen else QueryHeaders((), None, None))

        def window(ranges: Sequence[tuple[int, int]], rows: int) -> Plan[Batch]:
            # The past version's rows of a range of ids, brought forward and filtered like any.
            ((low, high),) = ranges
            bounded = key_window_body(past_filters.by_parameter, name, low, high)
            return (yield from limited(rows, QueryFilters(bounded, past_filters.single_table)))

        if sample is None:
            # One key: a reference table's row joins one row of its target at most.
            bounds = key_bounds(past_filters.body(), name, "id")
            windows = KeyWindows(window, [f"{name}.id"], [(bounds.low, bounds.high)])
            batch = yield from fetch_until_limit(limited, limit_, parameter="limit", windows=windows)
        else:
            batch = yield from fetch_until_limit(
                limited, limit_, parameter="limit", no_windows=RANDOM_SAMPLE_NO_WINDOWS
            )
        raise_server_warnings(
            [m for m in batch.headers.warnings if limit_warning_value(m) is not None], log_warning
        )
        frame = cast("pd.DataFrame", batch.rows)
        if metadata:
            frame.attrs["limit"] = limit_
        return frame

    @api_method
    def live_live_query(
        self,
        table: str,
        timestamp: datetime,
        joins: list[list[str]] | None = None,
        filter_in_dict: dict[str, dict[str, Any]] | None = None,
        filter_out_dict: dict[str, dict[str, Any]] | None = None,
        filter_equal_dict: dict[str, dict[str, Any]] | None = None,
        filter_greater_dict: dict[str, dict[str, Any]] | None = None,
        filter_less_dict: dict[str, dict[str, Any]] | None = None,
        filter_greater_equal_dict: dict[str, dict[str, Any]] | None = None,
        filter_less_equal_dict: dict[str, dict[str, Any]] | None = None,
        filter_spatial_dict: dict[str, dict[str, Any]] | None = None,
        filter_regex_dict: dict[str, dict[str, Any]] | None = None,
        select_columns: dict[str, list[str]] | None = None,
        offset: int | None = None,
        limit: int | None = None,
        datastack_name: str | None = None,
        split_positions: bool = False,
        metadata: bool = True,
        suffixes: dict[str, str] | None = None,
        desired_resolution: Sequence[float] | None = None,
        allow_missing_lookups: bool = False,
        allow_invalid_root_ids: bool = False,
        random_sample: int | None = None,
        log_warning: bool = True,
    ) -> Plan[pd.DataFrame]:
        """A table (optionally joined to others) as of `timestamp`, computed by the server.

        Calls ``POST /materialize/api/v3/datastack/{datastack}/query``. Also sees rows added since the
        last version.

        Parameters
        ----------
        table : str
            The main table.
        timestamp : datetime.datetime
            The moment (timezone-aware).
        joins : list of list of str, optional
            ``[[table, column, other_table, other_column], ...]``.
        filter_in_dict : dict, optional
            Each maps table name -> a dict as below. Column -> list of accepted values (rows whose value
            is in the list).
        filter_out_dict : dict, optional
            Column -> list of excluded values. The 5.26.4 server ignores exclusions; this client makes
            them exact (excluded rows removed, a `limit` met by asking for more; past the server's row
            cap, rows collected by ranges of the main table's ``id``, then of each joined table's).
            Not combinable with `offset`.
        filter_equal_dict : dict, optional
            Column -> the one accepted value.
        filter_greater_dict : dict, optional
            Numeric column -> exclusive lower bound.
        filter_less_dict : dict, optional
            Numeric column -> exclusive upper bound.
        filter_greater_equal_dict : dict, optional
            Numeric column -> inclusive lower bound.
        filter_less_equal_dict : dict, optional
            Numeric column -> inclusive upper bound.
        filter_spatial_dict : dict, optional
            Position column -> box ``[[min_x, min_y, min_z], [max_x, max_y, max_z]]`` in the table's
            voxels (or `desired_resolution` when given).
        filter_regex_dict : dict, optional
            String column -> regular expression the value must match.
        select_columns : dict of str to list of str, optional
            Columns to return, keyed by table name (default: all).
        offset : int, optional
            Rows to skip first (in the server's order).
        limit : int, optional
            At most this many rows. The server also caps each answer (a ``CAVEServerWarning`` says so
            when a result was cut short).
        datastack_name : str, optional
            The datastack (default: the client's).
        split_positions : bool, default False
            Positions as three columns ``<name>_x``, ``<name>_y``, ``<name>_z`` instead of one column of
            ``[x, y, z]`` arrays.
        metadata : bool, default True
            Put the query's description (tables, version, timestamp, resolution, filters) in
            ``df.attrs``.
        suffixes : dict of str to str, optional
            Suffix per table for column names several tables have.
        desired_resolution : sequence of float, optional
            ``[x, y, z]`` nm per unit for returned positions (and spatial filters); default: the client's
            ``desired_resolution``, else each table's own voxel resolution.
        allow_missing_lookups : bool, default False
            Accept rows whose supervoxel lookup the server has not finished (their root ids are 0);
            otherwise the server refuses.
        allow_invalid_root_ids : bool, default False
            Accept root-id filters with ids not valid at `timestamp` (otherwise refused before sending).
        random_sample : int, optional
            Ask the server for about this many rows sampled at random instead of all matches.
        log_warning : bool, default True
            Raise the messages the server sends with its answer (a table's notice, a row limit) as
            ``CAVEServerWarning``.

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
        ServerIncompatibilityError
            Exclusions past the server's row cap that cannot be made exact: with `random_sample`, or
            when more joined rows than the cap share one ``id`` of every table.
        CAVEConnectionError
            The server could not be reached (after the client's retries).
        """
        name = _name("table", table)
        moment = _timestamp("timestamp", timestamp)
        join_list = self._joins(joins)
        names = [name] + [t for join in join_list for t in (join[0], join[2])]
        filters = table_keyed_filters(
            names,
            filter_arguments(locals()),
        )
        offset_, limit_, sample, desired, select = self._common_options(
            offset=offset,
            limit=limit,
            random_sample=random_sample,
            desired_resolution=desired_resolution,
            select_columns=select_columns,
        )
        if select is not None and not isinstance(select, dict):
            raise InvalidInputError("select_columns", "must map table names to lists of columns here")
        suffix_of = self._suffixes(suffixes, list(dict.fromkeys(names))) if suffixes else None
        check_exclusion_options(filters, offset=offset_)
        datastack = self._datastack(datastack_name)
        meta: dict[str, Any] | None = None
        columns: TableColumns | None = None
        if metadata:
            version = yield from self._resolved_version(datastack, None)
            meta = yield from self._attrs_metadata(datastack, version, name)
            columns = yield from self._known_columns(name, meta)
            if columns is not None:
                check_known_columns(filters, {name: columns})
        if not allow_invalid_root_ids:
            lookups = yield from self._lookups(datastack)
            column_filters = [
                columns for tables in filters.by_parameter.values() for columns in tables.values()
            ]
            yield from check_root_filters(column_filters, moment, lookups)
        body: dict[str, Any] = {"table": name, "timestamp": moment}
        if join_list:
            body["join_tables"] = join_list
        body.update(self._body(filters, None, offset_, limit_, desired))
        if select is not None:
            body["select_columns"] = select
        if suffix_of is not None:
            body["suffixes"] = suffix_of
        answer = yield from self._fetch_answer(
            "live",
            datastack=datastack,
            version=None,
            name=name,
            body=body,
            params=self._params(
                sample,
                allow_missing_lookups=bool(allow_missing_lookups),
                allow_invalid_root_ids=bool(allow_invalid_root_ids),
            ),
            return_df=True,
            filters=filters,
            log_warning=log_warning,
            expected={table_name: columns if table_name == name else None for table_name in names},
        )
        assert answer.frame is not None

        def resolution() -> Plan[list[float] | None]:
            described = meta
            if described is None:
                version = yield from self._resolved_version(datastack, None)
                described = yield from self._attrs_metadata(datastack, version, name)
            return list(described.get("voxel_resolution") or []) or None

        frame = yield from self._rescaled(answer.frame, answer.headers, desired, resolution)
        if not split_positions:
            frame = merge_position_columns(frame)
        if metadata and meta is not None:
            frame.attrs.update(
                self._frame_attrs(
                    datastack,
                    tables=[(name, meta, None, None)],
                    headers=answer.headers,
                    desired=desired,
                    filters=filters,
                    select_columns=select,
                    offset=offset_,
                    limit=limit_,
                    live_query=True,
                    timestamp=moment,
                    version=None,
                    record_column_names=False,
                )
            )
        return frame

    @api_method
    def synapse_query(
        self,
        pre_ids: int | Iterable[int] | None = None,
        post_ids: int | Iterable[int] | None = None,
        bounding_box: Sequence[Sequence[float]] | None = None,
        bounding_box_column: str = "post_pt_position",
        timestamp: datetime | None = None,
        remove_autapses: bool = True,
        include_zeros: bool = True,
        limit: int | None = None,
        offset: int | None = None,
        split_positions: bool = False,
        desired_resolution: Sequence[float] | None = None,
        materialization_version: int | None = None,
        synapse_table: str | None = None,
        datastack_name: str | None = None,
        metadata: bool = True,
    ) -> Plan[pd.DataFrame]:
        """Synapses of the datastack's synapse table by pre- and/or postsynaptic root ids.

        Calls
        ``POST /materialize/api/v3/datastack/{datastack}/version/{version}/table/{table_name}/query``
        (see ``query_table()``).

        Parameters
        ----------
        pre_ids : int or iterable of int, optional
            Presynaptic root ids (one id filters with equality, several with membership).
        post_ids : int or iterable of int, optional
            Postsynaptic root ids.
        bounding_box : sequence of sequence of float, optional
            ``[[min_x, min_y, min_z], [max_x, max_y, max_z]]`` on `bounding_box_column`.
        bounding_box_column : str, default "post_pt_position"
            The position column the box applies to.
        timestamp : datetime.datetime, optional
            Answer as of this moment (timezone-aware), as ``live_query()``.
        remove_autapses : bool, default True
            Drop synapses whose pre and post root ids are equal.
        include_zeros : bool, default True
            Keep synapses whose partner is outside the segmentation (root id 0).
        limit : int, optional
            At most this many rows. The server also caps each answer (a ``CAVEServerWarning`` says so
            when a result was cut short).
        offset : int, optional
            Rows to skip first (in the server's order).
        split_positions : bool, default False
            Positions as three columns ``<name>_x``, ``<name>_y``, ``<name>_z`` instead of one column of
            ``[x, y, z]`` arrays.
        desired_resolution : sequence of float, optional
            ``[x, y, z]`` nm per unit for returned positions (and spatial filters); default: the client's
            ``desired_resolution``, else each table's own voxel resolution.
        materialization_version : int, optional
            Materialization version (default: the sub-client's ``version``).
        synapse_table : str, optional
            The table (default: ``synapse_table``).
        datastack_name : str, optional
            The datastack (default: the client's).
        metadata : bool, default True
            Put the query's description (tables, version, timestamp, resolution, filters) in
            ``df.attrs``.

        Returns
        -------
        pandas.DataFrame
            One row per synapse (see ``query_table()``).

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
        if bounding_box is not None:
            bounding_box = check_bounding_box(bounding_box, "bounding_box")
        if not isinstance(bounding_box_column, str):
            raise InvalidInputError("bounding_box_column", "must be a column name")
        filter_in: dict[str, Any] = {}
        filter_equal: dict[str, Any] = {}
        for column, ids in (("pre_pt_root_id", pre_ids), ("post_pt_root_id", post_ids)):
            if ids is None:
                continue
            parameter = "pre_ids" if column.startswith("pre") else "post_ids"
            if isinstance(ids, int) or (hasattr(ids, "ndim") and getattr(ids, "ndim", 1) == 0):
                filter_equal[column] = int(as_id_array(parameter, ids)[0])
            else:
                filter_in[column] = as_id_array(parameter, ids)
        table = synapse_table
        if table is None:
            table = yield from self._synapse_table_plan()
        if table is None:
            raise InvalidInputError(
                "synapse_table", "the datastack names no synapse table; pass synapse_table="
            )
        frame = yield from MaterializationClient.query_table.plan(
            self,
            table,
            # Empty dicts, not None, as caveclient passes them: df.attrs["filters"] records {}.
            filter_in_dict=filter_in,
            filter_out_dict=None if include_zeros else {"pre_pt_root_id": [0], "post_pt_root_id": [0]},
            filter_equal_dict=filter_equal,
            filter_spatial_dict=None if bounding_box is None else {bounding_box_column: bounding_box},
            offset=offset,
            limit=limit,
            split_positions=split_positions,
            desired_resolution=desired_resolution,
            materialization_version=materialization_version,
            timestamp=timestamp,
            datastack_name=datastack_name,
            metadata=metadata,
            merge_reference=False,
        )
        assert not isinstance(frame, list)
        if metadata:
            frame.attrs["remove_autapses"] = remove_autapses
        if remove_autapses and {"pre_pt_root_id", "post_pt_root_id"} <= set(frame.columns):
            keep = (frame["pre_pt_root_id"] != frame["post_pt_root_id"]).to_numpy(
                dtype=bool, na_value=True
            )
            if not keep.all():
                attrs = dict(frame.attrs)
                frame = frame.loc[keep]
                frame.attrs.update(attrs)
        return frame

    # ------------------------------------------------------------ whole tables to Parquet

    @api_method
    def export_table(
        self,
        table: str,
        path: str | Path,
        filter_in_dict: dict[str, Any] | None = None,
        filter_out_dict: dict[str, Any] | None = None,
        filter_equal_dict: dict[str, Any] | None = None,
        filter_greater_dict: dict[str, Any] | None = None,
        filter_less_dict: dict[str, Any] | None = None,
        filter_greater_equal_dict: dict[str, Any] | None = None,
        filter_less_equal_dict: dict[str, Any] | None = None,
        filter_spatial_dict: dict[str, Any] | None = None,
        filter_regex_dict: dict[str, Any] | None = None,
        select_columns: list[str] | dict[str, list[str]] | None = None,
        materialization_version: int | None = None,
        timestamp: datetime | None = None,
        merge_reference: bool = True,
        desired_resolution: Sequence[float] | None = None,
        datastack_name: str | None = None,
        filesystem: Any = None,
        storage_options: dict[str, Any] | None = None,
        partition_rows: int | None = None,
        progress: bool = True,
    ) -> Plan[TableExport]:
        """Write every row of a (filtered) table to a Parquet dataset, resumably.

        Calls
        ``POST /materialize/api/v3/datastack/{datastack}/version/{version}/table/{table_name}/query``
        once per partition of the primary key.

        One Parquet file per partition of the primary key, written as its rows arrive, and a
        manifest (`_manifest.json`) describing the request, the partitions and the server's
        counts. Running the same export again resumes it: written files are kept, only the
        missing ones are fetched. Each file holds what `query_table` returns for its key ranges
        (positions split into `_x/_y/_z` columns).

        Parameters
        ----------
        table : str
            The table to export.
        path : str or Path
            A local folder, or an object-store URL (`s3://bucket/prefix`, `gs://…`).
        filter_in_dict, filter_out_dict, filter_equal_dict : dict, optional
            Filters, as for `query_table`.
        filter_greater_dict, filter_less_dict : dict, optional
            Filters, as for `query_table`.
        filter_greater_equal_dict, filter_less_equal_dict : dict, optional
            Filters, as for `query_table`.
        filter_spatial_dict, filter_regex_dict : dict, optional
            Filters, as for `query_table`.
        select_columns : list of str or dict, optional
            Columns to export, as for `query_table` (default: all).
        materialization_version : int, optional
            The version to export (default: the latest; a resumed export keeps its own).
        timestamp : datetime, optional
            Export the table as of this moment instead (timezone-aware; see `live_query`).
        merge_reference : bool, default True
            Join a reference table to the table it annotates, as `query_table` does.
        desired_resolution : sequence of 3 floats, optional
            Resolution (nm) of the positions.
        datastack_name : str, optional
            The datastack (default: the client's).
        filesystem : pyarrow.fs.FileSystem or fsspec filesystem, optional
            The filesystem to write through (default: from `path`).
        storage_options : dict, optional
            Options of the fsspec filesystem of an object-store URL (credentials, endpoint).
        partition_rows : int, optional
            Most rows per request (default 125,000, and under the server's row cap); a file
            holds four requests' rows.
        progress : bool, default True
            Show a progress bar over the files, when the client's progress switch allows bars (its
            ``progress`` argument, else ``CAVECLIENT_GEN_PROGRESS``, else in Jupyter or on a terminal).

        Returns
        -------
        TableExport
            The export: `complete`, `missing`, and readers (`to_pandas`, `to_arrow`, `to_polars`,
            `to_duckdb`, `to_dask`).

        Raises
        ------
        InvalidInputError
            A filter, version, timestamp or option is not valid (before any request).
        ExportMismatchError
            `path` holds an export of another request (it is left untouched).
        UnexpectedResponseError
            The server answered a partition with another number of rows than it counted.
        CAVEError
            Any failure of a request (after the retries); written files are kept for a rerun.
        """
        name = _name("table", table)
        datastack = self._datastack(datastack_name)
        version = (
            None
            if materialization_version is None
            else _version_number("materialization_version", materialization_version)
        )
        moment = None if timestamp is None else _timestamp("timestamp", timestamp)
        if moment is not None and version is not None:
            raise InvalidInputError(
                "timestamp", "give either a timestamp or a materialization_version, not both"
            )
        arguments = {
            **filter_arguments(locals()),
            "table": name,
            "select_columns": select_columns,
            "merge_reference": merge_reference,
            "desired_resolution": desired_resolution,
            "datastack_name": datastack,
        }
        return (
            yield from export_plan(
                lambda **kw: MaterializationClient.query_table.plan(self, **kw),
                kind="table",
                name=name,
                datastack=datastack,
                version=version,
                latest_version=lambda: self._resolved_version(datastack, None),
                timestamp=moment,
                path=path,
                arguments=arguments,
                filesystem=filesystem,
                storage_options=storage_options,
                partition_rows=partition_rows,
                files_concurrency=_defaults.PARTITION_CONCURRENCY,
                progress=progress and self._session.settings.progress.enabled(),
            )
        )

    @api_method
    def export_view(
        self,
        view_name: str,
        path: str | Path,
        filter_in_dict: dict[str, Any] | None = None,
        filter_out_dict: dict[str, Any] | None = None,
        filter_equal_dict: dict[str, Any] | None = None,
        filter_greater_dict: dict[str, Any] | None = None,
        filter_less_dict: dict[str, Any] | None = None,
        filter_greater_equal_dict: dict[str, Any] | None = None,
        filter_less_equal_dict: dict[str, Any] | None = None,
        filter_spatial_dict: dict[str, Any] | None = None,
        filter_regex_dict: dict[str, Any] | None = None,
        select_columns: list[str] | None = None,
        materialization_version: int | None = None,
        desired_resolution: Sequence[float] | None = None,
        datastack_name: str | None = None,
        filesystem: Any = None,
        storage_options: dict[str, Any] | None = None,
        partition_rows: int | None = None,
        progress: bool = True,
    ) -> Plan[TableExport]:
        """Write every row of a (filtered) view to a Parquet dataset, resumably (see export_table).

        Calls
        ``POST /materialize/api/v3/datastack/{datastack}/version/{version}/views/{view_name}/query``
        once per partition.

        Parameters
        ----------
        view_name : str
            The view to export.
        path : str or Path
            A local folder, or an object-store URL (`s3://bucket/prefix`, `gs://…`).
        filter_in_dict, filter_out_dict, filter_equal_dict : dict, optional
            Filters, as for `query_table`.
        filter_greater_dict, filter_less_dict : dict, optional
            Filters, as for `query_table`.
        filter_greater_equal_dict, filter_less_equal_dict : dict, optional
            Filters, as for `query_table`.
        filter_spatial_dict, filter_regex_dict : dict, optional
            Filters, as for `query_view`.
        select_columns : list of str, optional
            Columns to export (default: all).
        materialization_version : int, optional
            The version to export (default: the latest; a resumed export keeps its own).
        desired_resolution : sequence of 3 floats, optional
            Resolution (nm) of the positions.
        datastack_name : str, optional
            The datastack (default: the client's).
        filesystem : pyarrow.fs.FileSystem or fsspec filesystem, optional
            The filesystem to write through (default: from `path`).
        storage_options : dict, optional
            Options of the fsspec filesystem of an object-store URL.
        partition_rows : int, optional
            Most rows per request (default 125,000, and under the server's row cap); a file
            holds four requests' rows.
        progress : bool, default True
            Show a progress bar over the files, when the client's progress switch allows bars.

        Returns
        -------
        TableExport

        Raises
        ------
        InvalidInputError
            A filter, version or option is not valid (before any request).
        ExportMismatchError
            `path` holds an export of another request (it is left untouched).
        UnexpectedResponseError
            The server answered a partition with another number of rows than it counted.
        CAVEError
            Any failure of a request (after the retries); written files are kept for a rerun.
        """
        view = _name("view_name", view_name)
        datastack = self._datastack(datastack_name)
        version = (
            None
            if materialization_version is None
            else _version_number("materialization_version", materialization_version)
        )
        arguments = {
            **filter_arguments(locals()),
            "view_name": view,
            "select_columns": select_columns,
            "desired_resolution": desired_resolution,
            "datastack_name": datastack,
        }
        return (
            yield from export_plan(
                lambda **kw: MaterializationClient.query_view.plan(self, **kw),
                kind="view",
                name=view,
                datastack=datastack,
                version=version,
                latest_version=lambda: self._resolved_version(datastack, None),
                timestamp=None,
                path=path,
                arguments=arguments,
                filesystem=filesystem,
                storage_options=storage_options,
                partition_rows=partition_rows,
                files_concurrency=_defaults.PARTITION_CONCURRENCY,
                progress=progress and self._session.settings.progress.enabled(),
            )
        )

    def open_export(
        self,
        path: str | Path,
        filesystem: Any = None,
        storage_options: dict[str, Any] | None = None,
    ) -> TableExport:
        """An export written by export_table or export_view (no request is sent).

        Parameters
        ----------
        path : str or Path
            The export's folder or object-store URL.
        filesystem : pyarrow.fs.FileSystem or fsspec filesystem, optional
            The filesystem to read it through (default: from `path`).
        storage_options : dict, optional
            Options of the fsspec filesystem of an object-store URL.

        Returns
        -------
        TableExport

        Raises
        ------
        FileNotFoundError
            There is no export at `path`.
        ExportMismatchError
            The manifest there is not an export manifest.
        """
        return TableExport.open(path, filesystem, storage_options)

    # ------------------------------------------------------------ views

    @api_method
    def get_views(
        self, version: int | None = None, datastack_name: str | None = None
    ) -> Plan[dict[str, ViewMetadata]]:
        """The views of a version.

        Calls ``GET /materialize/api/v3/datastack/{datastack}/version/{version}/views``.

        Parameters
        ----------
        version : int, optional
            Materialization version (default: the sub-client's ``version``: the client's pinned version,
            else the latest).
        datastack_name : str, optional
            The datastack (default: the client's).

        Returns
        -------
        dict of str to ViewMetadata
            View name -> its metadata (``description``, ``notice_text``, ``voxel_resolution``, ...).

        Raises
        ------
        InvalidInputError
            A malformed argument (refused before any request).
        NotFoundError
            The datastack, version or table does not exist.
        AuthenticationError
            The token is missing, invalid or expired.
        CAVEConnectionError
            The server could not be reached (after the client's retries).
        """
        datastack = self._datastack(datastack_name)
        chosen = yield from self._resolved_version(datastack, version)
        api = yield from self._api(datastack)
        response = yield from fetch(
            read(get_views.sync_detailed, get_views.asyncio_detailed, datastack, chosen, client=api)
        )
        return {
            name: cast(ViewMetadata, view.to_dict())
            for name, view in parsed(response, ViewsByName).additional_properties.items()
        }

    @api_method
    def get_view_metadata(
        self,
        view_name: str,
        materialization_version: int | None = None,
        datastack_name: str | None = None,
        log_warning: bool = True,
    ) -> Plan[ViewMetadata]:
        """Metadata of a view (kept 12 hours by this client).

        Calls
        ``GET /materialize/api/v3/datastack/{datastack}/version/{version}/views/{view_name}/metadata``.

        Parameters
        ----------
        view_name : str
            The view.
        materialization_version : int, optional
            Materialization version (default: the sub-client's ``version``).
        datastack_name : str, optional
            The datastack (default: the client's).
        log_warning : bool, default True
            Raise the messages the server sends with its answer (a table's notice, a row limit) as
            ``CAVEServerWarning``.

        Returns
        -------
        ViewMetadata
            A dict: ``table_name``, ``description``, ``notice_text``, ``voxel_resolution``, ...

        Raises
        ------
        InvalidInputError
            A malformed argument (refused before any request).
        NotFoundError
            The datastack, version or table does not exist.
        AuthenticationError
            The token is missing, invalid or expired.
        CAVEConnectionError
            The server could not be reached (after the client's retries).
        """
        view = _name("view_name", view_name)
        datastack = self._datastack(datastack_name)
        version = yield from self._resolved_version(
            datastack, materialization_version, "materialization_version"
        )
        return (yield from self._view_metadata(datastack, version, view, log_warning))

    @api_method
    def get_view_schema(
        self,
        view_name: str,
        materialization_version: int | None = None,
        datastack_name: str | None = None,
        log_warning: bool = True,
    ) -> Plan[dict[str, ViewColumnType]]:
        """The columns of a view and their types.

        Calls
        ``GET /materialize/api/v3/datastack/{datastack}/version/{version}/views/{view_name}/schema``.

        Parameters
        ----------
        view_name : str
            The view.
        materialization_version : int, optional
            Materialization version (default: the sub-client's ``version``).
        datastack_name : str, optional
            The datastack (default: the client's).
        log_warning : bool, default True
            Raise the messages the server sends with its answer (a table's notice, a row limit) as
            ``CAVEServerWarning``.

        Returns
        -------
        dict of str to ViewColumnType
            Column name -> ``{"type": ...}`` as the server describes it.

        Raises
        ------
        InvalidInputError
            A malformed argument (refused before any request).
        NotFoundError
            The datastack, version or table does not exist.
        AuthenticationError
            The token is missing, invalid or expired.
        CAVEConnectionError
            The server could not be reached (after the client's retries).
        """
        view = _name("view_name", view_name)
        datastack = self._datastack(datastack_name)
        version = yield from self._resolved_version(
            datastack, materialization_version, "materialization_version"
        )
        return (yield from self._view_schema(datastack, version, view, log_warning))

    @api_method
    def get_view_schemas(
        self,
        materialization_version: int | None = None,
        datastack_name: str | None = None,
        log_warning: bool = True,
    ) -> Plan[dict[str, dict[str, ViewColumnType]]]:
        """The columns of every view.

        Calls ``GET /materialize/api/v3/datastack/{datastack}/version/{version}/views/schemas``.

        Parameters
        ----------
        materialization_version : int, optional
            Materialization version (default: the sub-client's ``version``).
        datastack_name : str, optional
            The datastack (default: the client's).
        log_warning : bool, default True
            Raise the messages the server sends with its answer (a table's notice, a row limit) as
            ``CAVEServerWarning``.

        Returns
        -------
        dict of str to dict
            View name -> column name -> type ({} when there are no views).

        Raises
        ------
        InvalidInputError
            A malformed argument (refused before any request).
        NotFoundError
            The datastack, version or table does not exist.
        AuthenticationError
            The token is missing, invalid or expired.
        CAVEConnectionError
            The server could not be reached (after the client's retries).
        """
        datastack = self._datastack(datastack_name)
        version = yield from self._resolved_version(
            datastack, materialization_version, "materialization_version"
        )
        api = yield from self._api(datastack)
        try:
            response = yield from fetch(
                read(
                    get_view_schemas.sync_detailed,
                    get_view_schemas.asyncio_detailed,
                    datastack,
                    version,
                    client=api,
                )
            )
        except NotFoundError as error:
            if error.wire_status != 404:  # an unknown version (sent as a 500), not "no views"
                raise
            return {}
        raise_server_warnings(query_headers(response.headers).warnings, log_warning)
        return cast(dict[str, dict[str, ViewColumnType]], parsed(response, ViewSchemas).to_dict())

    @overloaded(QUERY_VIEW)
    def query_view(
        self,
        view_name: str,
        filter_in_dict: dict[str, Any] | None = None,
        filter_out_dict: dict[str, Any] | None = None,
        filter_equal_dict: dict[str, Any] | None = None,
        filter_greater_dict: dict[str, Any] | None = None,
        filter_less_dict: dict[str, Any] | None = None,
        filter_greater_equal_dict: dict[str, Any] | None = None,
        filter_less_equal_dict: dict[str, Any] | None = None,
        filter_spatial_dict: dict[str, Any] | None = None,
        filter_regex_dict: dict[str, Any] | None = None,
        select_columns: list[str] | None = None,
        offset: int | None = None,
        limit: int | None = None,
        datastack_name: str | None = None,
        return_df: bool = True,
        split_positions: bool = False,
        materialization_version: int | None = None,
        metadata: bool = True,
        desired_resolution: Sequence[float] | None = None,
        get_counts: bool = False,
        random_sample: int | None = None,
        all_rows: bool = False,
    ) -> Plan[pd.DataFrame | list[dict[str, Any]]]:
        """Rows of a view, filtered like ``query_table()``.

        Calls
        ``POST /materialize/api/v3/datastack/{datastack}/version/{version}/views/{view_name}/query``.
        Version 0 is the live database.

        Parameters
        ----------
        view_name : str
            The view.
        filter_in_dict : dict, optional
            Column -> list of accepted values (rows whose value is in the list).
        filter_out_dict : dict, optional
            Column -> list of excluded values. The 5.26.4 server ignores exclusions; this client makes
            them exact (excluded rows removed, a `limit` met by asking for more; past the server's row
            cap, rows collected by ranges of the view's ``id`` when its schema says it is an integer,
            checked against the server's count of the view). Not combinable with `offset`.
        filter_equal_dict : dict, optional
            Column -> the one accepted value.
        filter_greater_dict : dict, optional
            Numeric column -> exclusive lower bound.
        filter_less_dict : dict, optional
            Numeric column -> exclusive upper bound.
        filter_greater_equal_dict : dict, optional
            Numeric column -> inclusive lower bound.
        filter_less_equal_dict : dict, optional
            Numeric column -> inclusive upper bound.
        filter_spatial_dict : dict, optional
            Position column -> box ``[[min_x, min_y, min_z], [max_x, max_y, max_z]]`` in the table's
            voxels (or `desired_resolution` when given).
        filter_regex_dict : dict, optional
            String column -> regular expression the value must match.
        select_columns : list of str, optional
            Columns to return (default: all).
        offset : int, optional
            Rows to skip first (in the server's order).
        limit : int, optional
            At most this many rows. The server also caps each answer (a ``CAVEServerWarning`` says so
            when a result was cut short).
        datastack_name : str, optional
            The datastack (default: the client's).
        return_df : bool, default True
            True: a DataFrame. False: the server's JSON records (a list of dicts).
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
        random_sample : int, optional
            Ask the server for about this many rows sampled at random instead of all matches.
        all_rows : bool, default False
            Return every matching row past the server's row limit, exactly: fetched by ranges of the
            primary key under that limit, concurrently (a progress bar when switched on). Not
            combinable with `offset`, `limit` or `random_sample`.

        Returns
        -------
        pandas.DataFrame
            The view's rows (see ``query_table()`` for types); a list of dicts with ``return_df=False``.

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
        ServerIncompatibilityError
            Exclusions past the server's row cap that cannot be made exact: the view has no integer
            ``id`` column (or some rows have none, so its ranges miss them), `random_sample` is
            given, or more rows than the cap share one ``id``.
        CAVEConnectionError
            The server could not be reached (after the client's retries).
        """
        view = _name("view_name", view_name)
        whole = check_all_rows(all_rows, offset=offset, limit=limit, random_sample=random_sample)
        filters = single_table_filters(
            view,
            filter_arguments(locals()),
        )
        offset_, limit_, sample, desired, select = self._common_options(
            offset=offset,
            limit=limit,
            random_sample=random_sample,
            desired_resolution=desired_resolution,
            select_columns=select_columns,
        )
        if isinstance(select, dict):
            raise InvalidInputError("select_columns", "must be a list of column names for a view")
        check_exclusion_options(filters, offset=offset_, get_counts=get_counts, random_sample=sample)
        datastack = self._datastack(datastack_name)
        version = yield from self._resolved_version(
            datastack, materialization_version, "materialization_version"
        )
        known: TableColumns | None = None
        if filters.tables():
            try:
                schema = yield from self._view_schema(datastack, version, view)
            except NotFoundError:
                schema = None
            except CAVEError as error:
                logger.debug("columns of view %r unknown: %s", view, error)
                schema = None
            if schema is not None:
                known = view_columns(schema)
                check_known_columns(filters, {view: known})
        answer = yield from self._fetch_answer(
            "view",
            datastack=datastack,
            version=version,
            name=view,
            body=self._body(filters, select, offset_, limit_, desired),
            params=self._params(sample, get_counts),
            return_df=return_df,
            filters=filters,
            log_warning=True,
            all_rows=whole and not get_counts,
            expected={view: known},
            # Past the server's row cap, exclusions are made exact by ranges of the view's `id`:
            # only where its schema says it is an integer column.
            window_key="id" if known is not None and known.kinds.get("id") == "integer" else None,
        )
        if answer.frame is None:
            return answer.records or []
        frame = answer.frame
        if not split_positions:
            frame = merge_position_columns(frame)
        if metadata:
            meta = yield from self._view_metadata(datastack, version, view)
            frame.attrs.update(
                self._frame_attrs(
                    datastack,
                    tables=[(view, dict(meta), None, None)],
                    headers=answer.headers,
                    desired=desired,
                    filters=filters,
                    select_columns=select,
                    offset=offset_,
                    limit=limit_,
                    live_query=False,
                    timestamp=None,
                    version=version,
                )
            )
        return frame

    @api_method
    def get_unique_string_values(
        self, table: str, datastack_name: str | None = None
    ) -> Plan[dict[str, list[str | None]]]:
        """Distinct values of each string column of a live table.

        Calls ``GET /materialize/api/v3/datastack/{datastack}/table/{table_name}/unique_string_values``.

        Parameters
        ----------
        table : str
            The table.
        datastack_name : str, optional
            The datastack (default: the client's).

        Returns
        -------
        dict of str to list of str or None
            Column name -> its distinct values.

        Raises
        ------
        InvalidInputError
            A malformed argument (refused before any request).
        NotFoundError
            The datastack, version or table does not exist.
        AuthenticationError
            The token is missing, invalid or expired.
        CAVEConnectionError
            The server could not be reached (after the client's retries).
        """
        name = _name("table", table)
        datastack = self._datastack(datastack_name)
        api = yield from self._api(datastack)
        response = yield from fetch(
            read(
                get_unique_string_values.sync_detailed,
                get_unique_string_values.asyncio_detailed,
                datastack,
                name,
                client=api,
            )
        )
        return cast(dict[str, list[str | None]], parsed(response, UniqueStringValues).to_dict())

    # ------------------------------------------------------------ workflows

    @api_method
    def ingest_annotation_table(self, table_name: str, datastack_name: str | None = None) -> Plan[int]:
        """Start the lookup of supervoxels and root ids for new rows of a table (needs edit rights).

        Calls
        ``POST /materialize/api/v2/materialize/run/ingest_annotations/datastack/{datastack}/{table}``.

        Parameters
        ----------
        table_name : str
            The table.
        datastack_name : str, optional
            The datastack (default: the client's).

        Returns
        -------
        int
            The server's answer (the number it reports for the started workflow).

        Raises
        ------
        InvalidInputError
            A malformed argument (refused before any request).
        NotFoundError
            The datastack, version or table does not exist.
        AuthenticationError
            The token is missing, invalid or expired.
        CAVEConnectionError
            The server could not be reached (after the client's retries).
        """
        table = _name("table_name", table_name)
        datastack = self._datastack(datastack_name)
        api = yield from self._api(datastack)
        response = yield from fetch(
            write(
                ingest_annotation_table.sync_detailed,
                ingest_annotation_table.asyncio_detailed,
                datastack,
                table,
                client=api,
            )
        )
        return parsed(response, int)

    @api_method
    def lookup_supervoxel_ids(
        self,
        table_name: str,
        annotation_ids: Iterable[int] | None = None,
        datastack_name: str | None = None,
    ) -> Plan[int]:
        """Start supervoxel lookups for some annotations of a table (all of it without ids).

        Calls ``POST /materialize/api/v2/materialize/run/lookup_svid/datastack/{datastack}/{table}``.

        Parameters
        ----------
        table_name : str
            The table.
        annotation_ids : iterable of int, optional
            The rows to look up (default: every row).
        datastack_name : str, optional
            The datastack (default: the client's).

        Returns
        -------
        int
            The server's answer (its status code number, 200 when started).

        Raises
        ------
        InvalidInputError
            A malformed argument (refused before any request).
        NotFoundError
            The datastack, version or table does not exist.
        AuthenticationError
            The token is missing, invalid or expired.
        CAVEConnectionError
            The server could not be reached (after the client's retries).
        """
        table = _name("table_name", table_name)
        datastack = self._datastack(datastack_name)
        body = AnnotationIDList()
        if annotation_ids is not None:
            body.annotation_ids = [
                int(i) for i in as_id_array("annotation_ids", annotation_ids).tolist()
            ]
        api = yield from self._api(datastack)
        response = yield from fetch(
            write(
                lookup_supervoxel_ids.sync_detailed,
                lookup_supervoxel_ids.asyncio_detailed,
                datastack,
                table,
                client=api,
                body=body,
            )
        )
        return parsed(response, int)

    # ------------------------------------------------------------ neuroglancer

    @api_method
    def neuroglancer_annotation_path(
        self, table_name: str, datastack_name: str | None = None, for_neuroglancer: bool = True
    ) -> Plan[str]:
        """Where Neuroglancer reads a live table as a precomputed annotation source.

        Calls ``GET /info/api/v2/datastack/full/{datastack}`` (once per datastack; the record is kept)
        (for the local server).

        Parameters
        ----------
        table_name : str
            The table.
        datastack_name : str, optional
            The datastack (default: the client's).
        for_neuroglancer : bool, default True
            Prefix the path with ``precomputed://middleauth+`` as Neuroglancer expects.

        Returns
        -------
        str
            The source path.

        Raises
        ------
        InvalidInputError
            A malformed argument (refused before any request).
        NotFoundError
            The datastack, version or table does not exist.
        AuthenticationError
            The token is missing, invalid or expired.
        CAVEConnectionError
            The server could not be reached (after the client's retries).
        """
        table = _name("table_name", table_name)
        datastack = self._datastack(datastack_name)
        server = yield from self._deployment.local_server(datastack)
        path = f"{server}/materialize/api/v3/datastack/{datastack}/table/{table}/precomputed"
        return f"precomputed://middleauth+{path}" if for_neuroglancer else path

    @api_method
    def neuroglancer_annotation_info(
        self, table_name: str, datastack_name: str | None = None
    ) -> Plan[dict[str, Any]]:
        """The precomputed-annotation ``info`` document of a live table.

        Calls ``GET /materialize/api/v3/datastack/{datastack}/table/{table_name}/precomputed/info``.

        Parameters
        ----------
        table_name : str
            The table.
        datastack_name : str, optional
            The datastack (default: the client's).

        Returns
        -------
        dict
            The ``info`` document.

        Raises
        ------
        InvalidInputError
            A malformed argument (refused before any request).
        NotFoundError
            The datastack, version or table does not exist.
        AuthenticationError
            The token is missing, invalid or expired.
        CAVEConnectionError
            The server could not be reached (after the client's retries).
        """
        table = _name("table_name", table_name)
        datastack = self._datastack(datastack_name)
        api = yield from self._api(datastack)
        response = yield from fetch(
            read(
                get_precomputed_annotation_info.sync_detailed,
                get_precomputed_annotation_info.asyncio_detailed,
                datastack,
                table,
                client=api,
            )
        )
        return parsed(response, PrecomputedAnnotationInfo).to_dict()

    @api_method
    def neuroglancer_segprop_path(
        self,
        table_name: str,
        datastack_name: str | None = None,
        materialization_version: int | None = None,
        for_neuroglancer: bool = True,
    ) -> Plan[str]:
        """Where Neuroglancer reads a table's segment properties at a version.

        Calls ``GET /info/api/v2/datastack/full/{datastack}`` (once per datastack; the record is kept)
        (for the local server).

        Parameters
        ----------
        table_name : str
            The table.
        datastack_name : str, optional
            The datastack (default: the client's).
        materialization_version : int, optional
            Materialization version (default: the sub-client's ``version``).
        for_neuroglancer : bool, default True
            Prefix the path with ``precomputed://middleauth+`` as Neuroglancer expects.

        Returns
        -------
        str
            The source path.

        Raises
        ------
        InvalidInputError
            A malformed argument (refused before any request).
        NotFoundError
            The datastack, version or table does not exist.
        AuthenticationError
            The token is missing, invalid or expired.
        CAVEConnectionError
            The server could not be reached (after the client's retries).
        """
        table = _name("table_name", table_name)
        datastack = self._datastack(datastack_name)
        version = yield from self._resolved_version(
            datastack, materialization_version, "materialization_version"
        )
        server = yield from self._deployment.local_server(datastack)
        path = f"{server}/materialize/api/v3/datastack/{datastack}/version/{version}/table/{table}"
        return f"precomputed://middleauth+{path}" if for_neuroglancer else path

    @api_method
    def neuroglancer_segprop_info(
        self,
        table_name: str,
        datastack_name: str | None = None,
        materialization_version: int | None = None,
    ) -> Plan[dict[str, Any]]:
        """The segment-properties ``info`` document of a table at a version.

        Calls
        ``GET /materialize/api/v3/datastack/{datastack}/version/{version}/table/{table_name}/info``.

        Parameters
        ----------
        table_name : str
            The table.
        datastack_name : str, optional
            The datastack (default: the client's).
        materialization_version : int, optional
            Materialization version (default: the sub-client's ``version``).

        Returns
        -------
        dict
            The segment-properties document.

        Raises
        ------
        InvalidInputError
            A malformed argument (refused before any request).
        NotFoundError
            The datastack, version or table does not exist.
        AuthenticationError
            The token is missing, invalid or expired.
        CAVEConnectionError
            The server could not be reached (after the client's retries).
        """
        table = _name("table_name", table_name)
        datastack = self._datastack(datastack_name)
        version = yield from self._resolved_version(
            datastack, materialization_version, "materialization_version"
        )
        api = yield from self._api(datastack)
        response = yield from fetch(
            read(
                get_segment_properties_info.sync_detailed,
                get_segment_properties_info.asyncio_detailed,
                datastack,
                version,
                table,
                client=api,
            )
        )
        return parsed(response, SegmentProperties).to_dict()
