"""The query routes of the materialization service: simple, join, view and live queries.

Each function checks what the real route checks, in the same order (version, tables, read
permission, body), then answers through the shared query engine. The results carry the
server's warnings word for word.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from ..annotation.tables import AnnotationTable
from ..auth.guard import Caller
from ..server.restx_errors import AbortError
from ..world.deployment import Deployment, utc_now
from ..world.fidelity import Fidelity
from .data import MaterializedData
from .requests import QueryArguments
from .scans import ScanStarts, key_range
from .table_queries import (
    Projection,
    QueryTable,
    Selection,
    check_filter_tables,
    count_frame,
    filter_table,
    join,
    result_frame,
    sample_rows,
)
from .versions import AnalysisVersion

SQL_STREAMING_WARNING = (
    "Query was executed using streaming via CSV, which can mangle types.\n"
    "Please upgrade to caveclient > 8.0.0 to avoid type mangling.\n"
    "Because you may have been affected by mangled types, this change is breaking, but it "
    "should provide an improved experience."
)
JOIN_STREAMING_WARNING = textwrap.dedent(
    """\
    Using non-pandas query execution is deprecated
    as it can mangle types,
    please upgrade caveclient to >=8.0.0 to use pandas
    for improved type handling."""
)
JOIN_SUFFIXES_WARNING = textwrap.dedent(
    """\
    Suffixes is deprecated for complex queries as it
    can be ambiguous what you desire,
    please pass suffix_map as a dictionary to explicitly
    set suffixes for individual tables.
    Upgrade caveclient to >=5.0.0 """
)
JOIN_SELECT_WARNING = textwrap.dedent(
    """\
    Select_columns is deprecated for join queries,
    please use select_column_map a dictionary which is more explicit
    about what columns to select from what tables.
    This query result will attempt to select the first column it finds
    of this name in any table, but if there are more than one such column
    it will not select both.
    Upgrade caveclient to >=5.0.0 ."""
)
_LIVE_LIMIT_WARNING = (
    "result has {count} entries, which is equal or more         than limit of {limit} there may "
    "be more results which are not shown"
)


class MissingDatabaseError(Exception):
    """The database of a version that is gone (expired) or never existed."""

    def __init__(self, database: str) -> None:
        super().__init__(
            "(psycopg2.OperationalError) connection to server failed: FATAL:  database "
            f'"{database}" does not exist'
        )


@dataclass
class QueryAnswer:
    frame: pd.DataFrame
    warnings: list[str]
    column_names: dict[str, dict[str, str]]
    desired_resolution: list[float] | None
    extra: dict[str, Any] = field(default_factory=dict)


def owner_notice(table_name: str, notice_text: str | None) -> list[str]:
    return [] if notice_text is None else [f"Table Owner Notice on {table_name}: {notice_text}"]


class MaterializeQueries:
    """Query handling of one deployment's materialization service."""

    def __init__(self, deployment: Deployment) -> None:
        self._deployment = deployment
        self.data = deployment.component(MaterializedData)
        self.scans = ScanStarts(deployment)

    # -- checks shared by the routes -------------------------------------------------------

    def validate_datastack(self, datastack: str, version: int) -> AnalysisVersion | None:
        """The server's datastack validator: versions 0 and -1 pass, others must exist."""
        timeline = self.data.timeline
        if version in (0, -1):
            return None
        found = timeline.version(datastack, version)
        if found is None:
            raise AbortError(404, f"version {version} not found in {datastack}")
        return found

    def validate_tables(self, datastack: str, version: int, tables: Sequence[str]) -> AnalysisVersion:
        found = self.data.timeline.version(datastack, version)
        for table_name in tables:
            if found is None:
                raise AbortError(404, f"Analysis version {version} not found for datastack {datastack}")
            if self.data.version_table(datastack, found, table_name) is None:
                raise AbortError(
                    404,
                    f"Analysis table '{table_name}' not found for version {version} in datastack "
                    f"{datastack}",
                )
        if found is None:
            raise AbortError(404, f"Analysis version {version} not found for datastack {datastack}")
        return found

    @staticmethod
    def version_database(datastack: str, version: AnalysisVersion | int) -> None:
        """Fail as the server does when it opens the database of an expired version."""
        number = version if isinstance(version, int) else version.version
        if isinstance(version, int) or not version.valid:
            raise MissingDatabaseError(f"{datastack}__mat{number}")

    def table_for_read(self, datastack: str, table_name: str, caller: Caller) -> AnnotationTable:
        """The live table after the server's read-permission check of the caller."""
        table = self.data.store.find(self.data.aligned_volume(datastack), table_name)
        if table is None:
            raise TypeError("'NoneType' object is not subscriptable")
        check_read_permission(self._deployment, table, caller)
        return table

    def limit(self, body: Mapping[str, Any]) -> int:
        ceiling = self.data.settings.query_limit_size
        return min(int(body.get("limit", ceiling)), ceiling)

    # -- frozen single-table queries -------------------------------------------------------

    def simple_query(
        self,
        datastack: str,
        version_number: int,
        table_name: str,
        args: QueryArguments,
        body: Mapping[str, Any],
        caller: Caller,
        *,
        convert_positions: bool,
    ) -> QueryAnswer:
        self.validate_datastack(datastack, version_number)
        version = self.validate_tables(datastack, version_number, [table_name])
        table = self.table_for_read(datastack, table_name, caller)
        metadata = table.metadata
        limit: int | None = self.limit(body)
        if args.count:
            limit = None
        desired = _desired(body, metadata.voxel_resolution, convert_positions)
        self.version_database(datastack, version)
        source = self.data.query_table(table, version.time_stamp, merged=version.is_merged)
        check_filter_tables(body, [table_name])
        rows = self._filtered(source, body, args.random_sample, f"{datastack}:{version.version}")
        selection = Selection([source], [rows])
        projection = Projection({table_name: _select(source, body.get("select_columns"))})
        offset = int(body.get("offset", 0))
        # A count needs the column map only, not the rows.
        page = selection.page(offset, 0 if args.count else limit)
        frame, column_names = result_frame(page, projection, desired, typed=args.direct_sql_pandas)
        if args.count:
            frame = count_frame(max(0, len(rows) - offset))
        frame = frame.drop(columns=["deleted", "superceded"], errors="ignore")
        warnings = []
        if len(frame) == limit:
            warnings.append(f'201 - "Limited query to {limit} rows')
        warnings += owner_notice(table_name, metadata.notice_text)
        if not args.direct_sql_pandas:
            warnings.append(SQL_STREAMING_WARNING)
        return QueryAnswer(frame, warnings, column_names, desired)

    # -- frozen joins ----------------------------------------------------------------------

    def join_query(
        self,
        datastack: str,
        version_number: int,
        args: QueryArguments,
        body: Mapping[str, Any],
        caller: Caller,
        *,
        convert_positions: bool,
    ) -> QueryAnswer:
        self.validate_datastack(datastack, version_number)
        pairs: list[list[str]] = body["tables"]
        self.validate_tables(datastack, version_number, [pair[0] for pair in pairs])
        warnings: list[str] = []
        tables: list[AnnotationTable] = []
        for pair in pairs:
            table = self.table_for_read(datastack, pair[0], caller)
            warnings += owner_notice(pair[0], table.metadata.notice_text)
            tables.append(table)
        version = self.data.timeline.version(datastack, version_number)
        if version is None:
            raise AbortError(
                404, f"Analysis version {version_number} not found for datastack {datastack}"
            )
        limit = self.limit(body)
        suffixes: Mapping[str, str | None]
        if "suffixes" in body:
            warnings.append(JOIN_SUFFIXES_WARNING)
            unique_tables = list(dict.fromkeys(pair[0] for pair in pairs))
            suffixes = dict(zip(unique_tables, body["suffixes"], strict=False))
        else:
            suffixes = body.get("suffix_map") or {}
        if not args.direct_sql_pandas:
            warnings.append(JOIN_STREAMING_WARNING)
        desired = _desired(body, tables[-1].metadata.voxel_resolution, convert_positions)
        if len(pairs) < 2:
            raise IndexError("list index out of range")
        self.version_database(datastack, version)
        (left_name, left_column), (right_name, right_column) = pairs[0], pairs[1]
        left = self.data.query_table(tables[0], version.time_stamp, merged=version.is_merged)
        right = self.data.query_table(tables[1], version.time_stamp, merged=version.is_merged)
        check_filter_tables(body, [left_name, right_name])
        left_rows = self._filtered(left, body, args.random_sample, f"{datastack}:{version.version}")
        right_rows = filter_table(
            right, np.arange(len(right), dtype=np.int64), body, apply_exclusions=self._exclusions
        )
        selection = join(
            Selection([left], [left_rows]), left_name, left_column, right, right_rows, right_column
        )
        projection = Projection(_join_columns(body, [left, right], warnings), suffixes)
        frame, column_names = result_frame(
            selection.page(int(body.get("offset", 0)), limit),
            projection,
            desired,
            typed=args.direct_sql_pandas,
        )
        crud = [
            names[column]
            for names in column_names.values()
            for column in ("deleted", "superceded_id")
            if column in names
        ]
        frame = frame.drop(columns=crud, errors="ignore")
        if len(frame) == limit:
            warnings.append(f'201 - "Limited query to {limit} rows')
        return QueryAnswer(frame, warnings, column_names, desired)

    # -- views -----------------------------------------------------------------------------

    def view_source(self, datastack: str, version_number: int, view_name: str) -> QueryTable:
        self.validate_datastack(datastack, version_number)
        if version_number == 0:
            moment = utc_now()
        else:
            version = self.data.timeline.version(datastack, version_number)
            self.version_database(datastack, version if version is not None else version_number)
            assert version is not None
            moment = version.time_stamp
        if self.data.view(datastack, view_name) is None:
            raise LookupError("No row was found when one was required")
        return self.data.view_table(datastack, view_name, moment)

    def view_query(
        self,
        datastack: str,
        version_number: int,
        view_name: str,
        args: QueryArguments,
        body: Mapping[str, Any],
    ) -> QueryAnswer:
        record = self.data.view(datastack, view_name)
        limit: int | None = self.limit(body)
        if args.count:
            limit = None
        if record is None:
            raise LookupError("No row was found when one was required")
        resolution = np.array(
            [record.voxel_resolution_x, record.voxel_resolution_y, record.voxel_resolution_z]
        )
        desired = _desired(body, resolution, True)
        source = self.view_source(datastack, version_number, view_name)
        check_filter_tables(body, [view_name])
        rows = self._filtered(source, body, None, "")
        offset = int(body.get("offset", 0))
        frame, column_names = result_frame(
            Selection([source], [rows]).page(offset, 0 if args.count else limit),
            Projection({view_name: _select(source, body.get("select_columns"))}),
            desired,
            typed=args.direct_sql_pandas,
        )
        if args.count:
            frame = count_frame(max(0, len(rows) - offset))
        warnings = [] if args.direct_sql_pandas else [SQL_STREAMING_WARNING]
        if len(frame) == limit:
            warnings.append(f'201 - "Limited query to {limit} rows')
        warnings += owner_notice(view_name, record.notice_text)
        return QueryAnswer(frame, warnings, column_names, desired)

    # -- live queries ----------------------------------------------------------------------

    def live_query(
        self, datastack: str, args: QueryArguments, body: dict[str, Any], caller: Caller
    ) -> QueryAnswer:
        """A query "as of" ``body["timestamp"]``: rows valid then, root ids of that moment."""
        self.validate_live_datastack(datastack)
        moment: datetime = body["timestamp"]
        limit = self.limit(body)
        chosen = self.data.timeline.closest_valid(datastack, moment)
        if chosen is None:
            raise AbortError(
                400,
                "there is no future or past version for this timestamp, is materialization broken?",
            )
        table_name = body["table"]
        table = self.table_for_read(datastack, table_name, caller)
        metadata = table.metadata
        desired = body.get("desired_resolution") or [float(v) for v in metadata.voxel_resolution]
        warnings = self._check_root_filters(body, moment, args.allow_invalid_root_ids)
        naive_moment = moment.replace(tzinfo=None)
        if naive_moment == chosen.time_stamp and metadata.last_modified > chosen.time_stamp:
            raise AbortError(400, "do not use live live query to query a materialized timestamp")
        source = self.data.query_table(table, moment)
        sources = [source]
        for joined in body.get("join_tables") or []:
            joined_table = self.table_for_read(datastack, joined[2], caller)
            sources.append(self.data.query_table(joined_table, moment))
        check_filter_tables(body, [s.name for s in sources])
        selection = Selection(
            [source], [self._filtered(source, body, args.random_sample, f"{datastack}:live")]
        )
        for joined, other_source in zip(body.get("join_tables") or [], sources[1:], strict=True):
            other_rows = filter_table(
                other_source,
                np.arange(len(other_source), dtype=np.int64),
                body,
                apply_exclusions=self._exclusions,
            )
            selection = join(selection, joined[0], joined[1], other_source, other_rows, joined[3])
        projection = Projection(
            _live_columns(sources, body.get("select_columns")), body.get("suffixes") or {}
        )
        selection = selection.page(int(body.get("offset", 0)), limit)
        frame, column_names = result_frame(selection, projection, desired, typed=args.direct_sql_pandas)
        if len(frame) >= limit:
            warnings.append(_LIVE_LIMIT_WARNING.format(count=len(frame), limit=limit))
        if not args.direct_sql_pandas:
            warnings.append(SQL_STREAMING_WARNING)
        return QueryAnswer(frame, warnings, column_names, [float(v) for v in desired])

    def validate_live_datastack(self, datastack: str) -> None:
        if self.data.timeline.latest_of_any_state(datastack) is None:
            raise AbortError(404, f"version 0 not found in {datastack}")

    def _check_root_filters(
        self, body: Mapping[str, Any], moment: datetime, allow_invalid: bool
    ) -> list[str]:
        """Root ids in filters must exist at the moment queried (else 400, or a warning)."""
        wanted: list[int] = []
        for key in (
            "filter_in_dict",
            "filter_notin_dict",
            "filter_equal_dict",
            "filter_greater_dict",
            "filter_less_dict",
            "filter_greater_equal_dict",
            "filter_less_equal_dict",
        ):
            for columns in (body.get(key) or {}).values():
                for column, value in (columns or {}).items():
                    if column.endswith("root_id"):
                        wanted.extend(value if isinstance(value, list) else [value])
        if not wanted:
            return []
        roots = np.unique(np.asarray(wanted, dtype=np.int64))
        alive = np.isin(roots, self.data.roots_alive_at(moment).astype(np.int64))
        if alive.all():
            return []
        message = f"Some root_ids passed are not valid at the query timestamp: {roots[~alive]}"
        if not allow_invalid:
            raise AbortError(400, message)
        if not alive.any():
            raise ValueError(
                f"ALL root id filters passed ({roots[~alive]}) were invalid at timestamp {moment}. "
                "At least one root id must be valid when using `allow_invalid_root_ids=True`"
            )
        return [message]

    # -- helpers ---------------------------------------------------------------------------

    @property
    def _exclusions(self) -> bool:
        applied = self.data.settings.exclusion_filter_applied
        if applied is None:
            return not Fidelity.of(self._deployment).faithful("exclusion_filters")
        return applied

    def _filtered(
        self, source: QueryTable, body: Mapping[str, Any], sample: int | None, purpose: str
    ) -> np.ndarray:
        """The rows of ``source`` a query keeps, in the order its scan meets them.

        Bounds on the primary key are answered from the key order (binary search), as the
        primary-key index answers them; a sampled query reads the sample first."""
        ranged = key_range(source, body) if sample is None else None
        if ranged is not None:
            rows, rest = ranged
            kept = filter_table(source, rows, rest, apply_exclusions=self._exclusions)
        else:
            rows = self._sampled(source, sample, purpose)
            kept = filter_table(source, rows, body, apply_exclusions=self._exclusions)
        return self.scans.rotate(kept)

    def _sampled(self, source: QueryTable, wanted: int | None, purpose: str) -> np.ndarray:
        everything = np.arange(len(source), dtype=np.int64)
        if wanted is None or wanted >= len(source):
            return everything
        seed = self._deployment.stream(f"tablesample:{purpose}:{source.name}:{wanted}").getrandbits(64)
        return sample_rows(source, wanted / len(source), np.random.default_rng(seed))


def check_read_permission(deployment: Deployment, table: AnnotationTable, caller: Caller) -> None:
    """The table-level read check: GROUP tables need a shared group, PRIVATE ones the owner."""
    metadata = table.metadata
    if metadata.read_permission == "GROUP":
        if not shares_group_with(deployment, caller, metadata.user_id):
            raise AbortError(
                401,
                "Unauthorized: You cannot read this table because you do not share a common "
                "group with the creator of this table.",
            )
    elif metadata.read_permission == "PRIVATE" and metadata.user_id != str(caller.user_id):
        raise AbortError(401, "Unauthorized: The table can only be read by its owner")


def shares_group_with(deployment: Deployment, caller: Caller, owner_id: str) -> bool:
    try:
        owner = deployment.identity.account(int(owner_id))
    except ValueError:
        return False
    if owner is None:
        return False
    owner_groups = set(owner.spec.groups) | set(owner.spec.groups_admin)
    return bool(owner_groups & set(caller.payload.get("groups", [])))


def _desired(body: Mapping[str, Any], voxel_resolution: np.ndarray, convert: bool) -> list[float] | None:
    if not convert:
        return None
    given = body.get("desired_resolution")
    return list(given) if given else [float(value) for value in voxel_resolution]


def _select(source: QueryTable, wanted: Sequence[str] | None) -> list[str]:
    """Columns of a single-table query: all, or the ones asked for (root ids bring supervoxels)."""
    if not wanted:
        return [column.name for column in source.columns]
    selected: list[str] = []
    for name in wanted:
        _add_selected(source, name, selected)
    return selected


def _add_selected(source: QueryTable, name: str, selected: list[str]) -> None:
    if name in selected:
        return
    if not source.has_column(name):
        raise ValueError(f"{name} not in model or models for {source.name}")
    if name.endswith("root_id"):
        supervoxel = name[: -len("root_id")] + "supervoxel_id"
        if source.has_column(supervoxel) and supervoxel not in selected:
            selected.append(supervoxel)
    selected.append(name)


def _join_columns(
    body: Mapping[str, Any], sources: Sequence[QueryTable], warnings: list[str]
) -> dict[str, list[str]]:
    columns: dict[str, list[str]] = {}
    if body.get("select_columns"):
        warnings.append(JOIN_SELECT_WARNING)
        for name in body["select_columns"]:
            owner = next((s for s in sources if s.has_column(name)), None)
            if owner is None:
                raise AbortError(400, f"column {name} not found in any table referenced")
            _add_selected(owner, name, columns.setdefault(owner.name, []))
        return columns
    if body.get("select_column_map"):
        for table_name, names in body["select_column_map"].items():
            owner = next((s for s in sources if s.name == table_name), None)
            if owner is None:
                raise TypeError("'NoneType' object is not subscriptable")
            for name in names:
                if not owner.has_column(name):
                    raise AbortError(400, f"column {name} not found in {table_name}")
                _add_selected(owner, name, columns.setdefault(table_name, []))
        return columns
    return {source.name: [column.name for column in source.columns] for source in sources}


def _live_columns(
    sources: Sequence[QueryTable], wanted: Mapping[str, Sequence[str]] | None
) -> dict[str, list[str]]:
    """Live results leave out the CRUD bookkeeping, or keep exactly the columns asked for."""
    columns: dict[str, list[str]] = {}
    for source in sources:
        if wanted:
            if source.name not in wanted:
                raise KeyError(source.name)
            for name in wanted[source.name]:
                if not source.has_column(name):
                    raise ValueError(f"{name} not in model or models for {source.name}")
            columns[source.name] = list(dict.fromkeys(wanted[source.name]))
        else:
            columns[source.name] = [
                column.name
                for column in source.columns
                if column.name not in ("deleted", "superceded_id")
            ]
    return columns
