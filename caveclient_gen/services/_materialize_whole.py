"""`all_rows=True`: a query's every row, past the server's row cap, through primary-key partitions.

The partitions (`_tables/partitions.py`) are fetched with the query's own route, format and
parameters; their answers are decoded like a single answer (one Arrow table, then the same
DataFrame conversion) and the same client-side steps follow, so the result is the one an
uncapped query would give.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .. import _defaults
from .._http.plan import Plan, Request
from .._tables.frames import (
    QueryHeaders,
    arrow_table_to_frame,
    parse_column_names,
    query_headers,
    raise_server_warnings,
)
from .._tables.partitions import (
    Partition,
    PartitionAnswer,
    PartitionedQuery,
    capped_at,
    concat_tables,
    fetch_partitions,
    is_cap_warning,
    plan_partitions,
)
from .._tables.query_request import QueryRoute, query_request
from ..errors import InvalidInputError, OffsetPagingWarning
from ._materialize_values import _Answer

if TYPE_CHECKING:
    from caveclient_gen_api.materialize.client import Client as MaterializeAPI

ALL_ROWS_HINT = (
    " (the server cut the answer at its row limit: pass all_rows=True to get every row, or "
    "write the table to Parquet with client.materialize.export_table)"
)


def check_all_rows(all_rows: Any, *, offset: Any, limit: Any, random_sample: Any) -> bool:
    """`all_rows` as a bool, refused together with paging or sampling."""
    if not isinstance(all_rows, bool):
        raise InvalidInputError("all_rows", f"must be True or False, not {all_rows!r}")
    if all_rows:
        for parameter, value in (("offset", offset), ("limit", limit), ("random_sample", random_sample)):
            if value is not None:
                raise InvalidInputError(parameter, "cannot be combined with all_rows=True")
    return all_rows


def key_table_of(route: QueryRoute, name: str, body: dict[str, Any]) -> str:
    """The table whose primary key partitions a query: the table, the view, a join's first."""
    if route == "join":
        return str(body["tables"][0][0])
    if route == "live":
        return str(body["table"])
    return name


def partitioned_query(
    api: MaterializeAPI,
    route: QueryRoute,
    *,
    datastack: str,
    version: int | None,
    name: str,
    body: dict[str, Any],
    params: dict[str, Any],
    arrow: bool,
    cap: int | None,
    description: str,
) -> PartitionedQuery:
    """How to fetch and count ranges of one query."""
    if route == "live":
        raise InvalidInputError("all_rows", "is not available for queries answered live by the server")
    key_table = key_table_of(route, name, body)
    data_params = {k: v for k, v in params.items() if k != "count"}
    at_version = functools.partial(query_request, api, datastack=datastack, version=version)

    def request(part: dict[str, Any]) -> Request[Any]:
        return at_version(route, name=name, body=part, params=data_params, arrow=arrow)

    def count(part: dict[str, Any]) -> Request[Any]:
        if route == "join":
            # The join's first table alone: its rows bound (estimate) the joined rows per range.
            own = {
                key: {key_table: value[key_table]}
                for key, value in part.items()
                if key.startswith("filter_") and isinstance(value, dict) and key_table in value
            }
            return at_version("table", name=key_table, body=own, params={"count": True}, arrow=True)
        count_params = {**data_params, "count": True}
        return at_version(route, name=name, body=part, params=count_params, arrow=True)

    def probe() -> Request[Any]:
        return at_version(
            "view" if route == "view" else "table",
            name=key_table,
            body={"select_columns": ["id"]},
            params={},
            arrow=True,
        )

    return PartitionedQuery(
        probe=probe,
        key_table=key_table,
        body=body,
        request=request,
        count=count,
        counts_exact=route != "join",
        cap=cap or _defaults.PARTITION_ROWS,
        learned_cap=cap,
        description=description,
        arrow=arrow,
    )


@dataclass(frozen=True)
class PlanOnly:
    """Partition mode of exports: plan the partitions, then stop (raise PlannedPartitions)."""

    rows: int | None = None
    """Most rows per partition (default: under the known or assumed row cap)."""


@dataclass(frozen=True)
class Planned:
    """Partition mode of exports: fetch exactly these partitions (one file's worth)."""

    partitions: Sequence[Partition]


PARTITION_MODE: ContextVar[PlanOnly | Planned | None] = ContextVar(
    "caveclient_gen_partition_mode", default=None
)
"""Set by an export around the query method it runs, so the method's own steps (checks,
decoding, client-side filters, live updates) shape every partition exactly as one query."""


class PlannedPartitions(Exception):  # noqa: N818 - a signal to the export, not an error
    """The partitions of a query, raised out of the query method in PlanOnly mode."""

    def __init__(self, partitions: list[Partition], total: int, exact: bool, key_table: str) -> None:
        super().__init__("partitions planned")
        self.partitions = partitions
        self.total = total
        self.exact = exact
        self.key_table = key_table


def fetch_all_rows(
    query: PartitionedQuery,
    *,
    finish: Callable[[Any, dict[str, dict[str, str]]], Any],
    log_warning: bool,
    learned: Callable[[int], None],
) -> Plan[_Answer]:
    """Every row of the query, as one answer (rows in key-range order); `finish(rows,
    column_names)` applies what single answers get after decoding (the exclusions)."""
    mode = PARTITION_MODE.get()
    if isinstance(mode, Planned):
        partitions = list(mode.partitions)
    else:
        if isinstance(mode, PlanOnly):
            query.max_rows = mode.rows
        partitions, total = yield from plan_partitions(query)
        if query.learned_cap is not None:
            learned(query.learned_cap)
        if isinstance(mode, PlanOnly):
            raise PlannedPartitions(partitions, total, query.counts_exact, query.key_table)
    answers: list[PartitionAnswer[Any]] = yield from fetch_partitions(
        query, partitions, lambda partition, rows: rows
    )
    if query.learned_cap is not None:
        learned(query.learned_cap)
    headers = merged_headers(answers)
    raise_server_warnings(headers.warnings, log_warning)
    column_names = parse_column_names(headers.column_names)
    if not query.arrow:
        records = [row for answer in answers for row in (answer.payload or [])]
        return _Answer(None, finish(records, column_names), headers)
    frame = arrow_table_to_frame(concat_tables([answer.payload for answer in answers]))
    return _Answer(finish(frame, column_names), None, headers)


def merged_headers(answers: list[PartitionAnswer[Any]]) -> QueryHeaders:
    """The headers of the whole answer: each warning once (no row-limit warning: nothing was cut)."""
    messages: dict[str, None] = {}
    for answer in answers:
        for message in answer.warnings:
            if not is_cap_warning(message):
                messages[message] = None
    first: QueryHeaders = answers[0].headers if answers else query_headers({})
    return QueryHeaders(tuple(messages), first.dataframe_resolution, first.column_names)


def paging_checked(
    headers: QueryHeaders, offset: int | None, limit: int | None, log_warning: bool
) -> QueryHeaders:
    """Warn about offset paging, and name all_rows in the server's row-limit warning (unless the
    rows were cut at the caller's own `limit`)."""
    cut = capped_at(headers.warnings)
    capped = cut is not None and (limit is None or cut < limit)
    if offset is not None and (cut is not None or offset > 0) and log_warning:
        warnings.warn(
            "the materialization server does not order rows, so pages fetched with offset can "
            "repeat some rows and miss others; use all_rows=True (or client.materialize."
            "export_table) to fetch every row exactly",
            OffsetPagingWarning,
            stacklevel=_stacklevel(),
        )
    if not capped:
        return headers
    messages = tuple(m + ALL_ROWS_HINT if is_cap_warning(m) else m for m in headers.warnings)
    return QueryHeaders(messages, headers.dataframe_resolution, headers.column_names)


def _stacklevel() -> int:
    import os
    import sys

    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    frame = sys._getframe(1)
    level = 1
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(package):
        frame = frame.f_back  # type: ignore[assignment]
        level += 1
    return level
