"""The machinery under `client.materialize`: version resolution, per-client metadata caches, and
the steps every query shares (sending, decoding, rescaling, df.attrs)."""

from __future__ import annotations

import dataclasses
import functools
import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from caveclient_gen_api.annotation.api.tables import get_table_metadata as get_annotation_table_metadata
from caveclient_gen_api.annotation.client import Client as AnnotationAPI
from caveclient_gen_api.annotation.models.annotation_table_metadata import AnnotationTableMetadata
from caveclient_gen_api.materialize.api.tables import get_table_metadata_v3, get_tables_metadata
from caveclient_gen_api.materialize.api.versions import get_version_metadata_v3, get_versions_v3
from caveclient_gen_api.materialize.api.views import get_view_metadata, get_view_schema
from caveclient_gen_api.materialize.client import Client as MaterializeAPI
from caveclient_gen_api.materialize.models.analysis_version import AnalysisVersion
from caveclient_gen_api.materialize.models.table_metadata import TableMetadata as TableMetadataModel
from caveclient_gen_api.materialize.models.view_metadata import ViewMetadata as ViewMetadataModel
from caveclient_gen_api.materialize.models.view_schema import ViewSchema
from caveclient_gen_api.schema.api.schemas import get_schema_definition, get_schema_definition_all
from caveclient_gen_api.schema.client import Client as SchemaAPI
from caveclient_gen_api.schema.models.json_schema_document import JsonSchemaDocument
from caveclient_gen_api.schema.models.schema_definition_map import SchemaDefinitionMap

from .. import _defaults
from .._convert.values import as_resolution
from .._http.cache import TTLCache
from .._http.parse import parsed, parsed_list
from .._http.plan import M, Plan, fetch, fetch_all, read
from .._http.single_flight import MISSING
from .._tables.answer_shape import ExpectedColumns, check_answer_columns
from .._tables.exclusions import (
    RANDOM_SAMPLE_NO_WINDOWS,
    Batch,
    KeyWindows,
    apply_exclusions,
    count_bodies,
    count_of,
    exclusions,
    fetch_until_limit,
    key_window_body,
    limit_warning_value,
    widen_select,
    with_count,
)
from .._tables.frames import (
    QueryHeaders,
    decode_query_body,
    json_records,
    parse_column_names,
    query_headers,
    raise_server_warnings,
    rescale_positions,
)
from .._tables.live_query import ChunkedGraphLookups
from .._tables.partitions import key_bounds
from .._tables.query_filters import QueryFilters
from .._tables.query_request import QueryRoute, query_request
from .._tables.schema_columns import TableColumns, schema_columns
from ..errors import CAVEError, InvalidInputError, NotFoundError
from ..records.tables import TableMetadata, VersionMetadata, ViewColumnType, ViewMetadata
from ._base import ServiceClient
from ._materialize_values import (
    _Answer,
    _metadata_attrs,
    _name,
    _positive_int,
    _select_columns,
    _table_record,
    _version_number,
    _version_record,
    _view_resolution,
    string_format_timestamp,
)

if TYPE_CHECKING:
    import pandas as pd

    from .._core.core import ClientCore
    from .._tables.table_manager import TableManager, ViewManager

logger = logging.getLogger("caveclient_gen")


class MaterializeBase(ServiceClient[M]):
    """State and shared steps of the materialize sub-client; its methods are MaterializationClient's."""

    def __init__(self, core: ClientCore) -> None:
        super().__init__(core)
        self._version: int | None = None
        self._latest: dict[str, int] = {}
        self._checked_versions: set[tuple[str, int]] = set()
        self._synapse_table: str | None = None
        self._desired_resolution: list[float] | None = None
        self._desired_resolution_set = False
        self._metadata: TTLCache[Any] = TTLCache(_defaults.MATERIALIZE_METADATA_TTL)
        self._columns_by_schema: dict[str, TableColumns] = {}
        self._table_managers: dict[tuple[str, int], TableManager[M]] = {}
        self._view_managers: dict[tuple[str, int], ViewManager[M]] = {}
        self._row_caps: dict[str, int] = {}
        """Each datastack's server row cap, once a capped answer told it (for all_rows)."""
        self._cg_client: Any = None

    @property
    def desired_resolution(self) -> list[float] | None:
        """Resolution (``[x, y, z]`` nm) positions are returned in by default; None: each table's own.

        Settable. Makes no request.
        """
        if self._desired_resolution_set:
            return self._desired_resolution
        return as_resolution("desired_resolution", self._core.desired_resolution)

    @desired_resolution.setter
    def desired_resolution(self, value: Any) -> None:
        self._desired_resolution = as_resolution("desired_resolution", value)
        self._desired_resolution_set = True

    # ------------------------------------------------------------ plumbing

    def _api(self, datastack_name: str | None = None) -> Plan[MaterializeAPI]:
        server = yield from self._deployment.local_server(datastack_name)
        return self._session.api(MaterializeAPI, server)

    def _schema_api(self) -> SchemaAPI:
        return self._session.api(SchemaAPI, self._deployment.global_server)

    def _datastack(self, datastack_name: str | None) -> str:
        return self._deployment.require_datastack(datastack_name)

    def _resolved_version(self, datastack: str, version: Any, parameter: str = "version") -> Plan[int]:
        """The version to query: the argument, else the client's (checked once), else the latest."""
        explicit = _version_number(parameter, version)
        if explicit is not None:
            return explicit
        own = datastack == self._deployment.datastack_name
        pinned, assigned = self._core.version, self._version  # each read once: setters may run
        if own and pinned is not None:
            chosen = int(pinned)
            yield from self._check_version(datastack, chosen)
            yield from self._core.timestamp_of(chosen, lambda: self._version_time(datastack, chosen))
            return chosen
        if own and assigned is not None:
            yield from self._check_version(datastack, assigned)
            return assigned

        def fill_latest() -> Plan[int]:
            latest = yield from self._latest_version(datastack)
            self._checked_versions.add((datastack, latest))
            self._latest[datastack] = latest
            return latest

        return (
            yield from self._flights.once(
                ("latest", datastack), lambda: self._latest.get(datastack, MISSING), fill_latest
            )
        )

    def _check_version(self, datastack: str, version: int) -> Plan[None]:
        if (datastack, version) in self._checked_versions:
            return
        versions = yield from self._versions(datastack, expired=True)
        if version not in versions:
            raise InvalidInputError(
                "version",
                f"{version} is not a materialization version of datastack {datastack!r} "
                f"(versions: {sorted(versions)})",
            )
        self._checked_versions.add((datastack, version))

    def _cached(self, key: tuple[Any, ...]) -> Any:
        return self._metadata.get(key)

    def _tables_and_schemas(
        self, datastack: str, version: int
    ) -> Plan[tuple[list[TableMetadata], dict[str, Any]]]:
        """Every table's metadata and every schema document, fetched together."""
        api = yield from self._api(datastack)
        metadata = self._cached(("tables", datastack, version))
        schemas = self._cached(("schemas",))
        requests = []
        if metadata is None:
            requests.append(
                read(
                    get_tables_metadata.sync_detailed,
                    get_tables_metadata.asyncio_detailed,
                    datastack,
                    version,
                    client=api,
                )
            )
        if schemas is None:
            requests.append(
                read(
                    get_schema_definition_all.sync_detailed,
                    get_schema_definition_all.asyncio_detailed,
                    client=self._schema_api(),
                )
            )
        responses = list((yield from fetch_all(requests, 2)))
        if metadata is None:
            raw = parsed_list(responses.pop(0), TableMetadataModel)
            metadata = self._store_tables_metadata(datastack, version, [t.to_dict() for t in raw])
        if schemas is None:
            schemas = parsed(responses.pop(0), SchemaDefinitionMap).to_dict()
            self._metadata.put(("schemas",), schemas)
            for name, document in schemas.items():
                self._remember_schema(name, document)
        return metadata, schemas

    def _store_tables_metadata(
        self, datastack: str, version: int, raw: list[dict[str, Any]]
    ) -> list[TableMetadata]:
        records = [_table_record(item) for item in raw]
        self._metadata.put(("tables", datastack, version), records)
        for record in records:
            name = record.get("annotation_table") or record.get("table_name")
            self._metadata.put(("table", datastack, version, name), record)
        return records

    def _remember_schema(self, name: str, document: Mapping[str, Any]) -> TableColumns | None:
        try:
            columns = schema_columns(document)
        except ValueError:
            return None
        self._columns_by_schema[name] = columns
        return columns

    def _schema_columns(self, schema_name: str | None) -> Plan[TableColumns | None]:
        """The columns of a schema (fetched once per client); None if they cannot be known."""
        if not schema_name:
            return None
        if schema_name in self._columns_by_schema:
            return self._columns_by_schema[schema_name]
        try:
            response = yield from fetch(
                read(
                    get_schema_definition.sync_detailed,
                    get_schema_definition.asyncio_detailed,
                    schema_name,
                    client=self._schema_api(),
                )
            )
        except CAVEError as error:  # the check is a help, never a reason to fail a query
            logger.debug("columns of schema %r unknown: %s", schema_name, error)
            return None
        return self._remember_schema(schema_name, parsed(response, JsonSchemaDocument).to_dict())

    def _table_metadata(
        self, datastack: str, version: int, table: str, log_warning: bool = False
    ) -> Plan[TableMetadata]:
        key = ("table", datastack, version, table)
        cached = self._cached(key)
        if cached is not None:
            return cast(TableMetadata, cached)
        listed = self._cached(("tables", datastack, version))
        if listed is not None and not any(
            table in (m.get("annotation_table"), m.get("table_name")) for m in listed
        ):
            server = yield from self._deployment.local_server(datastack)
            raise NotFoundError(
                f"table {table!r} does not exist in datastack {datastack!r} at version {version}",
                method="GET",
                url=f"{server}/materialize/api/v3/datastack/{datastack}/version/{version}"
                f"/table/{table}/metadata",
                status_code=404,
            )
        api = yield from self._api(datastack)
        try:
            response = yield from fetch(
                read(
                    get_table_metadata_v3.sync_detailed,
                    get_table_metadata_v3.asyncio_detailed,
                    datastack,
                    version,
                    table,
                    client=api,
                )
            )
        except NotFoundError as error:
            raise NotFoundError(
                f"table {table!r} does not exist in datastack {datastack!r} at version {version} "
                f"({error.server_message})",
                method=error.method,
                url=error.url,
                status_code=404,
                wire_status=error.wire_status,
                headers=error.headers,
            ) from error
        raise_server_warnings(query_headers(response.headers).warnings, log_warning)
        record = _table_record(parsed(response, TableMetadataModel).to_dict())
        return cast(TableMetadata, self._metadata.put(key, record))

    def _known_columns(self, table: str, meta: Mapping[str, Any] | None) -> Plan[TableColumns | None]:
        if meta is None:
            return None
        return (yield from self._schema_columns(meta.get("schema_type") or meta.get("schema")))

    def _fetch_answer(
        self,
        route: QueryRoute,
        *,
        datastack: str,
        version: int | None,
        name: str,
        body: dict[str, Any],
        params: dict[str, Any],
        return_df: bool,
        filters: QueryFilters,
        log_warning: bool,
        limit_warnings: bool = True,
        expected: Mapping[str, TableColumns | None] | None = None,
        all_rows: bool = False,
        window_key: str | None = "id",
    ) -> Plan[_Answer]:
        """Send a query and decode its answer, exact under exclusions (`_tables/exclusions.py`).

        With `limit_warnings=False`, the server's row-limit warnings are not raised (they stay in
        the answer's headers). With `expected` (the columns of each table queried, None where
        unknown), a DataFrame answer whose columns cannot be theirs raises UnexpectedResponseError.
        With `all_rows`, every row past the server's row cap, by primary-key partitions
        (`services/_materialize_whole.py`). `window_key` is the integer column (of the table, the
        view, a join's first table) whose ranges collect a limited answer with exclusions past the
        server's row cap; None where the query has none (such answers are refused).
        """
        from ._materialize_whole import fetch_all_rows, paging_checked, partitioned_query

        if all_rows:
            widened, added = self._widened(body, filters) if exclusions(filters) else (body, {})
            api = yield from self._api(datastack)
            whole = partitioned_query(
                api,
                route,
                datastack=datastack,
                version=version,
                name=name,
                body=widened,
                params=params,
                arrow=return_df,
                cap=self._row_caps.get(datastack),
                description=f"{name or 'join'}: partitions",
            )
            return (
                yield from fetch_all_rows(
                    whole,
                    finish=lambda rows, columns: apply_exclusions(rows, filters, columns, added),
                    log_warning=log_warning,
                    learned=lambda cap: self._row_caps.__setitem__(datastack, cap),
                )
            )
        fetch_batch = functools.partial(
            self._fetch_batch,
            route,
            datastack=datastack,
            version=version,
            name=name,
            params=params,
            return_df=return_df,
            expected=expected,
        )
        if not exclusions(filters):
            batch = yield from fetch_batch(body=body, filters=filters, added={})
        elif params.get("count"):
            batch = yield from self._exact_count(fetch_batch, body, filters)
        else:
            body, added = self._widened(body, filters)
            limit = body.get("limit")
            if limit is None:
                batch = yield from fetch_batch(body=body, filters=filters, added=added)
            else:

                def limited(rows: int) -> Plan[Batch]:
                    return (
                        yield from fetch_batch(
                            body={**body, "limit": rows}, filters=filters, added=added
                        )
                    )

                batch = yield from fetch_until_limit(
                    limited,
                    int(limit),
                    **self._key_windows(
                        route,
                        fetch_batch,
                        datastack=datastack,
                        version=version,
                        name=name,
                        body=body,
                        params=params,
                        filters=filters,
                        added=added,
                        window_key=window_key,
                    ),
                )
        headers = paging_checked(batch.headers, body.get("offset"), body.get("limit"), log_warning)
        raise_server_warnings(
            [
                message
                for message in headers.warnings
                if limit_warnings or limit_warning_value(message) is None
            ],
            log_warning,
        )
        if return_df:
            return _Answer(batch.rows, None, headers)
        return _Answer(None, batch.rows, headers)

    def _key_windows(
        self,
        route: QueryRoute,
        fetch_batch: Callable[..., Plan[Batch]],
        *,
        datastack: str,
        version: int | None,
        name: str,
        body: dict[str, Any],
        params: dict[str, Any],
        filters: QueryFilters,
        added: dict[str, list[str]],
        window_key: str | None,
    ) -> dict[str, Any]:
        """`fetch_until_limit`'s windows of the query's key, or why there are none."""
        if params.get("random_sample") is not None:
            return {"no_windows": RANDOM_SAMPLE_NO_WINDOWS}
        if window_key is None:
            return {
                "no_windows": f"{name!r} has no 'id' column that its schema shows to be an integer, "
                "to collect its rows by"
            }
        from ._materialize_whole import key_table_of

        key_table = key_table_of(route, name, body)
        tables = [key_table]
        if route == "join":
            tables += [str(pair[0]) for pair in body["tables"]]
        elif route == "live":
            tables += [str(t) for join in body.get("join_tables") or [] for t in (join[0], join[2])]
        # Rows sharing one value of a table's id differ in the next table's (a join matches one
        # row of each table).
        tables = list(dict.fromkeys(tables))
        bounds = [key_bounds(body, table, window_key) for table in tables]

        def window(ranges: Sequence[tuple[int, int]], rows: int) -> Plan[Batch]:
            bounded = {**body, "limit": rows}
            for table, (low, high) in zip(tables, ranges, strict=False):
                bounded = key_window_body(bounded, table, low, high, window_key)
            return (yield from fetch_batch(body=bounded, filters=filters, added=added))

        total: Callable[[], Plan[int]] | None = None
        if route == "view":

            def total() -> Plan[int]:
                # The same filters as the windows (exclusions too: whether the server applies
                # them, it does so alike for both), without a limit.
                counted = {k: v for k, v in body.items() if k not in ("offset", "limit")}
                batch = yield from self._fetch_batch(
                    route,
                    datastack=datastack,
                    version=version,
                    name=name,
                    body=counted,
                    params={**params, "count": True},
                    return_df=True,
                    filters=QueryFilters({}, filters.single_table),
                    added={},
                )
                return count_of(batch.rows)

        return {
            "windows": KeyWindows(
                window,
                [f"{table}.{window_key}" for table in tables],
                [(keys.low, keys.high) for keys in bounds],
                total,
            )
        }

    @staticmethod
    def _widened(
        body: dict[str, Any], filters: QueryFilters
    ) -> tuple[dict[str, Any], dict[str, list[str]]]:
        """The body with the exclusion columns its column selection lacks, and those columns."""
        for key in ("select_columns", "select_column_map"):
            if body.get(key) is not None:
                widened, added = widen_select(body[key], filters)
                return {**body, key: widened}, added
        return body, {}

    def _exact_count(
        self,
        fetch_batch: Callable[..., Plan[Batch]],
        body: dict[str, Any],
        filters: QueryFilters,
    ) -> Plan[Batch]:
        """A count answer counting only rows no exclusion matches (inclusion-exclusion)."""
        no_exclusions = QueryFilters({}, filters.single_table)
        first: Batch | None = None
        total = 0
        for sign, counted in count_bodies(body, filters):
            batch = yield from fetch_batch(body=counted, filters=no_exclusions, added={})
            first = first or batch
            total += sign * count_of(batch.rows)
        assert first is not None
        return Batch(with_count(first.rows, max(0, total)), first.received, first.headers)

    def _fetch_batch(
        self,
        route: QueryRoute,
        *,
        datastack: str,
        version: int | None,
        name: str,
        body: dict[str, Any],
        params: dict[str, Any],
        return_df: bool,
        filters: QueryFilters,
        added: dict[str, list[str]],
        expected: Mapping[str, TableColumns | None] | None = None,
    ) -> Plan[Batch]:
        """One query sent and decoded (its shape checked), the rows its exclusions match removed."""
        api = yield from self._api(datastack)
        response = yield from fetch(
            query_request(
                api,
                route,
                datastack=datastack,
                version=version,
                name=name,
                body=body,
                params=params,
                arrow=return_df,
            )
        )
        headers = query_headers(response.headers)
        column_names = parse_column_names(headers.column_names)
        rows: pd.DataFrame | list[dict[str, Any]]
        if return_df:
            rows = decode_query_body(response.content, response.headers.get("content-type"))
            if expected is not None and not params.get("count"):
                select = body.get("select_columns")
                if isinstance(select, Mapping):
                    select = select.get(name)
                shape = ExpectedColumns(
                    expected, select if isinstance(select, list) else None, column_names
                )
                check_answer_columns(rows, shape, f"the {route} query of {name or 'tables'!r}")
        else:
            rows = json_records(response.content)
        received = len(rows)
        if any(added.values()):
            headers = without_added_columns(headers, column_names, added)
        return Batch(apply_exclusions(rows, filters, column_names, added), received, headers)

    def _rescaled(
        self,
        frame: pd.DataFrame,
        headers: QueryHeaders,
        desired: list[float] | None,
        table_resolution: Callable[[], Plan[list[float] | None]],
    ) -> Plan[pd.DataFrame]:
        """Positions in the desired resolution, converted here if the server did not."""
        if desired is None or headers.dataframe_resolution is not None:
            return frame
        given = yield from table_resolution()
        if given is None or None in given:
            return frame
        return rescale_positions(frame, given, desired)

    def _table_resolution(
        self, datastack: str, version: int | None, table: str
    ) -> Callable[[], Plan[list[float] | None]]:
        def plan() -> Plan[list[float] | None]:
            meta = yield from self._attrs_metadata(datastack, version, table)
            return list(meta.get("voxel_resolution") or []) or None

        return plan

    def _attrs_metadata(self, datastack: str, version: int | None, table: str) -> Plan[dict[str, Any]]:
        """A table's metadata for df.attrs: the version's, else the live annotation table's."""
        if version is not None:
            try:
                meta = yield from self._table_metadata(datastack, version, table)
                return dict(meta)
            except NotFoundError:
                pass
        aligned_volume = yield from self._deployment.aligned_volume_name(datastack)
        server = yield from self._deployment.local_server(datastack)
        response = yield from fetch(
            read(
                get_annotation_table_metadata.sync_detailed,
                get_annotation_table_metadata.asyncio_detailed,
                aligned_volume,
                table,
                client=self._session.api(AnnotationAPI, server),
            )
        )
        return dict(_table_record(parsed(response, AnnotationTableMetadata).to_dict()))

    def _frame_attrs(
        self,
        datastack: str,
        *,
        tables: list[tuple[str, dict[str, Any], str | None, str | None]],
        headers: QueryHeaders | None,
        desired: list[float] | None,
        filters: QueryFilters,
        select_columns: Any,
        offset: int | None,
        limit: int | None,
        live_query: bool,
        timestamp: datetime | None,
        version: int | None,
        record_column_names: bool = True,
    ) -> dict[str, Any]:
        """The query metadata caveclient puts in df.attrs (JSON-compatible values only)."""
        resolution: Any = (headers.dataframe_resolution if headers else None) or desired
        attrs: dict[str, Any] = {"datastack_name": datastack}
        if len(tables) == 1:
            _, meta, _, _ = tables[0]
            attrs["join_query"] = False
            attrs.update(_metadata_attrs(meta))
            if resolution is None:
                resolution = meta.get("voxel_resolution") or _view_resolution(meta)
        else:
            attrs["join_query"] = True
            attrs["tables"] = {
                name: {**_metadata_attrs(meta), "join_column": column, "suffix": suffix}
                for name, meta, column, suffix in tables
            }
            if resolution is None:
                distinct = {tuple(meta.get("voxel_resolution") or ()) for _, meta, _, _ in tables}
                resolution = list(distinct.pop()) if len(distinct) == 1 else "mixed_resolutions"
        attrs["dataframe_resolution"] = resolution
        attrs["filters"] = filters.attrs()
        attrs["select_columns"] = select_columns
        attrs["offset"] = offset
        attrs["limit"] = limit
        attrs["live_query"] = live_query
        attrs["timestamp"] = string_format_timestamp(timestamp)
        attrs["materialization_version"] = version
        if record_column_names:
            attrs["column_names"] = headers.column_names if headers else None
        return attrs

    def _common_options(
        self,
        *,
        offset: Any,
        limit: Any,
        random_sample: Any,
        desired_resolution: Any,
        select_columns: Any,
    ) -> tuple[int | None, int | None, int | None, list[float] | None, Any]:
        return (
            _positive_int("offset", offset, minimum=0),
            _positive_int("limit", limit),
            _positive_int("random_sample", random_sample),
            as_resolution("desired_resolution", desired_resolution)
            if desired_resolution is not None
            else self.desired_resolution,
            _select_columns(select_columns),
        )

    @staticmethod
    def _body(
        filters: QueryFilters,
        select: Any,
        offset: int | None,
        limit: int | None,
        desired: list[float] | None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = dict(filters.body())
        if isinstance(select, list):
            body["select_columns"] = select
        elif isinstance(select, dict):
            body["select_column_map"] = select
        if offset is not None:
            body["offset"] = offset
        if limit is not None:
            body["limit"] = limit
        if desired is not None:
            body["desired_resolution"] = desired
        return body

    @staticmethod
    def _params(random_sample: int | None, get_counts: bool = False, **extra: Any) -> dict[str, Any]:
        params: dict[str, Any] = {"split_positions": True, **extra}
        if get_counts:
            params["count"] = True
        if random_sample is not None:
            params["random_sample"] = random_sample
        return params

    @staticmethod
    def _suffixes(suffixes: Any, names: list[str]) -> dict[str, str]:
        if suffixes is None:
            return {}
        if isinstance(suffixes, Mapping):
            unknown = set(suffixes) - set(names)
            if unknown:
                raise InvalidInputError("suffixes", f"names tables {sorted(unknown)} not in the query")
            return {str(k): str(v) for k, v in suffixes.items()}
        if (
            isinstance(suffixes, str)
            or not isinstance(suffixes, Sequence)
            or len(suffixes) != len(names)
        ):
            raise InvalidInputError("suffixes", "must map each table name to a suffix")
        return {name: str(suffix) for name, suffix in zip(names, suffixes, strict=True)}

    # ------------------------------------------------------------ live queries

    def _lookups(self, datastack: str) -> Plan[ChunkedGraphLookups]:
        server = yield from self._deployment.local_server(datastack)
        table_id = yield from self._deployment.segmentation_table(datastack)
        return ChunkedGraphLookups(self._session, server, table_id)

    @staticmethod
    def _joins(joins: Any) -> list[list[str]]:
        if joins is None:
            return []
        if isinstance(joins, str) or not isinstance(joins, Sequence):
            raise InvalidInputError(
                "joins", "must be a list of [table, column, other_table, other_column]"
            )
        checked = []
        for join in joins:
            if isinstance(join, str) or not isinstance(join, Sequence) or len(join) != 4:
                raise InvalidInputError(
                    "joins",
                    f"each join must be [table, column, other_table, other_column], not {join!r}",
                )
            checked.append([_name("joins", part) for part in join])
        return checked

    def _view_metadata(
        self, datastack: str, version: int, view: str, log_warning: bool = False
    ) -> Plan[ViewMetadata]:
        key = ("view", datastack, version, view)
        cached = self._cached(key)
        if cached is not None:
            return cast(ViewMetadata, cached)
        api = yield from self._api(datastack)
        response = yield from fetch(
            read(
                get_view_metadata.sync_detailed,
                get_view_metadata.asyncio_detailed,
                datastack,
                version,
                view,
                client=api,
            )
        )
        raise_server_warnings(query_headers(response.headers).warnings, log_warning)
        record = cast(ViewMetadata, parsed(response, ViewMetadataModel).to_dict())
        return cast(ViewMetadata, self._metadata.put(key, record))

    def _view_schema(
        self, datastack: str, version: int, view: str, log_warning: bool = False
    ) -> Plan[dict[str, ViewColumnType]]:
        key = ("view_schema", datastack, version, view)
        cached = self._cached(key)
        if cached is not None:
            return cast(dict[str, ViewColumnType], cached)
        api = yield from self._api(datastack)
        response = yield from fetch(
            read(
                get_view_schema.sync_detailed,
                get_view_schema.asyncio_detailed,
                datastack,
                version,
                view,
                client=api,
            )
        )
        raise_server_warnings(query_headers(response.headers).warnings, log_warning)
        schema = cast(dict[str, ViewColumnType], parsed(response, ViewSchema).to_dict())
        return cast(dict[str, ViewColumnType], self._metadata.put(key, schema))

    # ------------------------------------------------------------ versions

    def _versions(self, datastack: str, expired: bool = False) -> Plan[list[int]]:
        api = yield from self._api(datastack)
        response = yield from fetch(
            read(
                get_versions_v3.sync_detailed,
                get_versions_v3.asyncio_detailed,
                datastack,
                client=api,
                expired=bool(expired),
            )
        )
        return parsed_list(response, int)

    def _latest_version(self, datastack: str) -> Plan[int]:
        versions = yield from self._versions(datastack)
        if not versions:
            server = yield from self._deployment.local_server(datastack)
            raise NotFoundError(
                f"datastack {datastack!r} has no valid materialization version",
                method="GET",
                url=f"{server}/materialize/api/v3/datastack/{datastack}/versions",
                status_code=404,
            )
        return max(versions)

    def _version_record(self, datastack: str, version: int) -> Plan[VersionMetadata]:
        api = yield from self._api(datastack)
        response = yield from fetch(
            read(
                get_version_metadata_v3.sync_detailed,
                get_version_metadata_v3.asyncio_detailed,
                datastack,
                version,
                client=api,
            )
        )
        return _version_record(parsed(response, AnalysisVersion))

    def _version_time(self, datastack: str, version: int) -> Plan[datetime]:
        record = yield from self._version_record(datastack, version)
        return record["time_stamp"]


def without_added_columns(
    headers: QueryHeaders, column_names: dict[str, dict[str, str]], added: dict[str, list[str]]
) -> QueryHeaders:
    """The headers with the columns added only to apply exclusions left out of `column_names`, so
    that `df.attrs["column_names"]` names the columns returned (in the server's repr form)."""
    kept = {
        table: {column: name for column, name in columns.items() if column not in added.get(table, ())}
        for table, columns in column_names.items()
    }
    return dataclasses.replace(headers, column_names=repr(kept))
