"""Whole query answers past the server's row cap: partitions by ranges of the primary key.

The materialization server cuts every answer at its row cap (`QUERY_LIMIT_SIZE`; 500,000 rows on
the public deployments) and pages with `LIMIT/OFFSET` without ORDER BY, so offset pages can repeat
and miss rows. Ranges of the primary key (`id`; for joins, the first table's) are exact and cost
the same wherever they lie (the server answers them from the primary-key index):

1. the server counts the query's rows (`count=True`); if they fit under the cap, one range is
   enough. Otherwise it counts them per power-of-two range of the key, then per finer equal-width
   ranges where a range holds more than a partition may, until every range fits;
2. adjacent ranges are merged into partitions of at most `cap - 1` rows (an answer of exactly
   the cap carries the server's row-limit warning although nothing was cut);
3. partitions are fetched concurrently (a bounded number in flight over the shared pool; 429 and
   `Retry-After` are honoured by the runtime's retry policy), each answer decoded as it arrives.
   An answer that still hits the cap (the server's cap is lower than assumed, or a join's key
   fans out) is split again; an answer whose row count differs from the server's count for its
   range is refused, never returned.

Where the route cannot count (joins), the first table's counts estimate the sizes and the row-cap
check alone decides. The union of the partitions is the answer of one uncapped query.
"""

from __future__ import annotations

import itertools
import math
import numbers
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast

from .. import _defaults
from .._http.plan import Plan, RawResponse, Request, fetch, fetch_all
from ..errors import CAVEError, InvalidInputError, UnexpectedResponseError
from .frames import json_records, query_headers

if TYPE_CHECKING:
    import pyarrow as pa

KEY_LOWEST = -(2**63)
KEY_END = 2**63
"""Ranges are half-open [low, high) over int64 keys; these ends send no filter at all."""
FIRST_BUCKET_END = 2**10
PROBE_MINIMUM = 10_000
"""Queries of at most this many rows fetch without first learning the server's row cap."""
CAP_WARNING = re.compile(r"Limited query to (\d+) rows")
LIVE_CAP_WARNING = re.compile(r"equal or more\s+than limit of (\d+)")
_BOUND_KEYS = (
    "filter_equal_dict",
    "filter_greater_dict",
    "filter_less_dict",
    "filter_greater_equal_dict",
    "filter_less_equal_dict",
)
P = TypeVar("P")


@dataclass(frozen=True, order=True)
class KeyRange:
    """The keys low <= key < high (int64; the extreme ends mean "unbounded")."""

    low: int
    high: int

    @property
    def width(self) -> int:
        return self.high - self.low

    def split(self, pieces: int) -> list[KeyRange]:
        """Equal-width pieces (at most `width` of them) covering the range."""
        pieces = max(1, min(pieces, self.width))
        edges = [self.low + (self.width * i) // pieces for i in range(pieces + 1)]
        return [KeyRange(a, b) for a, b in itertools.pairwise(edges) if b > a]

    def as_record(self) -> dict[str, int | None]:
        return {
            "low": None if self.low == KEY_LOWEST else self.low,
            "high": None if self.high == KEY_END else self.high,
        }


@dataclass(frozen=True)
class Partition:
    """One range of the key and the rows the server counted in it (None: not counted)."""

    keys: KeyRange
    expected: int | None


@dataclass
class PartitionedQuery:
    """What partitioning needs to know about one query."""

    key_table: str
    """The table whose primary key partitions the query (a join's first table)."""
    body: dict[str, Any]
    """The request body of the whole query (filters keyed by table, then column)."""
    request: Callable[[dict[str, Any]], Request[Any]]
    """The data request of a body (the query's route, format and parameters)."""
    count: Callable[[dict[str, Any]], Request[Any]]
    """A count request of a body (for joins: the key table's own rows, an estimate)."""
    counts_exact: bool
    """Whether `count` counts exactly the rows `request` returns (not for joins)."""
    cap: int
    """The row cap assumed until the server tells its own."""
    concurrency: int = _defaults.PARTITION_CONCURRENCY
    description: str = ""
    key_column: str = "id"
    arrow: bool = True
    learned_cap: int | None = field(default=None)
    """The server's cap, once an answer told it."""
    max_rows: int | None = None
    """Most rows per partition asked by the caller (an export's `partition_rows`)."""
    probe: Callable[[], Request[Any]] | None = None
    """A request that draws the row-limit warning of any big table (its keys only, no limit),
    sent once when the cap is not known yet and the query is not small."""

    @property
    def target(self) -> int:
        """Most rows one partition may hold: under the cap (by one: an answer of exactly the cap
        draws the row-limit warning), with room to spare when the counts only estimate."""
        cap = self.learned_cap or self.cap
        target = max(1, cap - 1 if self.counts_exact else (cap * 3) // 4)
        return min(target, self.max_rows) if self.max_rows else target


@dataclass
class PartitionAnswer(Generic[P]):
    """A partition's answer: its rows (decoded, or what a sink made of them) or the cap it hit."""

    partition: Partition
    rows: int
    payload: P | None
    warnings: tuple[str, ...]
    headers: Any
    capped_at: int | None = None


# ---------------------------------------------------------------- bodies


def key_bounds(body: Mapping[str, Any], table: str, column: str) -> KeyRange:
    """The range of keys the query's own filters allow (its integer bounds on the key column)."""
    low, high = KEY_LOWEST, KEY_END
    for filter_key in _BOUND_KEYS:
        value = ((body.get(filter_key) or {}).get(table) or {}).get(column)
        if value is None or isinstance(value, bool) or not _is_integer(value):
            continue
        value = int(value)
        if filter_key == "filter_equal_dict":
            low, high = max(low, value), min(high, value + 1)
        elif filter_key == "filter_greater_dict":
            low = max(low, value + 1)
        elif filter_key == "filter_greater_equal_dict":
            low = max(low, value)
        elif filter_key == "filter_less_dict":
            high = min(high, value)
        else:
            high = min(high, value + 1)
    return KeyRange(low, max(low, high))


def with_range(body: Mapping[str, Any], table: str, column: str, keys: KeyRange) -> dict[str, Any]:
    """The body restricted to a key range (the query's other filters kept as they are)."""
    restricted = dict(body)
    for filter_key, bound, unbounded, tighter in (
        ("filter_greater_equal_dict", keys.low, KEY_LOWEST, max),
        ("filter_less_dict", keys.high, KEY_END, min),
    ):
        tables = {name: dict(columns) for name, columns in (body.get(filter_key) or {}).items()}
        if bound == unbounded:
            continue
        columns = tables.setdefault(table, {})
        given = columns.get(column)
        if given is None or _is_integer(given):
            # The query's own integer bound, if any, is folded into the range already.
            columns[column] = bound
        elif isinstance(given, numbers.Real) and not isinstance(given, bool):
            # A fractional bound of the query's own is kept wherever it is the tighter one.
            columns[column] = tighter(given, bound)
        else:
            raise InvalidInputError(
                filter_key, f"{table}.{column} bounds must be numbers, not {given!r}"
            )
        restricted[filter_key] = tables
    restricted.pop("offset", None)
    restricted.pop("limit", None)
    return restricted


def _is_integer(value: Any) -> bool:
    import numpy as np

    return not isinstance(value, bool) and isinstance(value, int | np.integer)


def buckets(bounds: KeyRange) -> list[KeyRange]:
    """Ranges of the key growing eightfold, covering `bounds` (ids are mostly small positive
    integers: the first ranges are narrow, the last one reaches the largest int64)."""
    edges = [KEY_LOWEST, 0, FIRST_BUCKET_END]
    while edges[-1] < 2**60:
        edges.append(edges[-1] * 8)
    edges.append(KEY_END)
    found = []
    for a, b in itertools.pairwise(edges):
        low, high = max(a, bounds.low), min(b, bounds.high)
        if high > low:
            found.append(KeyRange(low, high))
    return found


def merge(counted: Sequence[tuple[KeyRange, int]], target: int) -> list[Partition]:
    """Adjacent counted ranges joined into partitions of at most `target` rows (a range holding
    more stays alone; the caller refines those first)."""
    partitions: list[Partition] = []
    start: int | None = None
    end = 0
    rows = 0
    for keys, count in counted:
        if start is not None and (rows + count > target or keys.low != end):
            partitions.append(Partition(KeyRange(start, end), rows))
            start = None
        if start is None:
            start, rows = keys.low, 0
        end = keys.high
        rows += count
    if start is not None:
        partitions.append(Partition(KeyRange(start, end), rows))
    return partitions


# ---------------------------------------------------------------- planning


def plan_partitions(query: PartitionedQuery) -> Plan[tuple[list[Partition], int]]:
    """Partitions covering the query, each under the cap by the server's counts; and the total."""
    bounds = key_bounds(query.body, query.key_table, query.key_column)
    table, column = query.key_table, query.key_column
    total = yield from _count(query, [bounds])
    if query.learned_cap is None and query.probe is not None and total[0] > PROBE_MINIMUM:
        probed = yield from fetch(query.probe())
        query.learned_cap = capped_at(query_headers(probed.headers).warnings)
    if total[0] <= query.target:
        return [Partition(bounds, total[0] if query.counts_exact else None)], total[0]
    pending = buckets(bounds)
    counted = dict(zip(pending, (yield from _count(query, pending)), strict=True))
    for _ in range(_defaults.PARTITION_MAX_ROUNDS):
        heavy = [keys for keys, rows in counted.items() if rows > query.target and keys.width > 1]
        if not heavy:
            break
        finer: list[KeyRange] = []
        for keys in heavy:
            pieces = min(256, math.ceil(4 * counted.pop(keys) / query.target))
            finer += keys.split(max(2, pieces))
        counted.update(zip(finer, (yield from _count(query, finer)), strict=True))
    else:
        raise CAVEError(f"could not split {table}.{column} into ranges under {query.target} rows")
    for keys, rows in counted.items():
        if rows > query.target and query.counts_exact:
            raise CAVEError(
                f"{rows} rows share the key {table}.{column} = {keys.low}, more than one answer of "
                f"the server may hold ({query.target + 1}); they cannot be fetched exactly"
            )
    partitions = merge(sorted(counted.items()), query.target)
    if not query.counts_exact:
        partitions = [Partition(p.keys, None) for p in partitions]
    return partitions, sum(counted.values())


def _count(query: PartitionedQuery, ranges: Sequence[KeyRange]) -> Plan[list[int]]:
    requests = [
        query.count(with_range(query.body, query.key_table, query.key_column, keys)) for keys in ranges
    ]
    responses = yield from fetch_all(requests, query.concurrency)
    return [count_of(response) for response in responses]


def count_of(response: RawResponse[Any]) -> int:
    """The row count of a `count=True` answer (a one-row table with a `count` column)."""
    import pyarrow as pa

    content = response.content
    try:
        if content[:1] in (b"[", b"{"):
            records = json_records(content)
            return int(records[0]["count"])
        with pa.ipc.open_stream(pa.py_buffer(content)) as reader:
            table = reader.read_all()
        return int(table.column("count")[0].as_py())
    except (KeyError, IndexError, TypeError, ValueError, pa.ArrowInvalid, OSError) as error:
        raise UnexpectedResponseError(
            f"a count query did not answer with a row count ({type(error).__name__}: {error})"
        ) from None


# ---------------------------------------------------------------- fetching


def fetch_partitions(
    query: PartitionedQuery,
    partitions: Sequence[Partition],
    sink: Callable[[Partition, Any], P],
) -> Plan[list[PartitionAnswer[P]]]:
    """Fetch every partition (splitting again those that hit the cap), in key order.

    `sink` receives each partition's decoded rows (an Arrow table, or JSON records) in the thread
    that fetched it, as it arrives, and returns what to keep of them."""
    done: list[PartitionAnswer[P]] = []
    pending = list(partitions)
    for _ in range(_defaults.PARTITION_MAX_ROUNDS):
        if not pending:
            return sorted(done, key=lambda answer: answer.partition.keys)
        requests = [_partition_request(query, partition, sink) for partition in pending]
        answers = cast(
            list[PartitionAnswer[P]],
            (yield from fetch_all(requests, query.concurrency, query.description)),
        )
        pending = []
        for answer in answers:
            if answer.capped_at is None:
                done.append(answer)
                continue
            query.learned_cap = min(answer.capped_at, query.learned_cap or answer.capped_at)
            keys = answer.partition.keys
            if keys.width <= 1:
                raise CAVEError(
                    f"more rows share the key {query.key_table}.{query.key_column} = {keys.low} "
                    f"than one answer of the server may hold ({answer.capped_at}); they cannot be "
                    "fetched exactly"
                )
            if query.counts_exact:
                again, _ = yield from plan_partitions(_restricted(query, keys))
            else:
                again = [Partition(part, None) for part in keys.split(2)]
            pending += again
    raise CAVEError(f"partitions of {query.key_table} still hit the row cap after many splits")


def _restricted(query: PartitionedQuery, keys: KeyRange) -> PartitionedQuery:
    body = with_range(query.body, query.key_table, query.key_column, keys)
    return PartitionedQuery(
        key_table=query.key_table,
        body=body,
        request=query.request,
        count=query.count,
        counts_exact=query.counts_exact,
        cap=query.cap,
        concurrency=query.concurrency,
        description=query.description,
        key_column=query.key_column,
        arrow=query.arrow,
        learned_cap=query.learned_cap,
        max_rows=query.max_rows,
        probe=query.probe,
    )


def _partition_request(
    query: PartitionedQuery, partition: Partition, sink: Callable[[Partition, Any], P]
) -> Request[Any]:
    """The request of one partition, whose answer is checked and sunk where it arrives."""
    inner = query.request(with_range(query.body, query.key_table, query.key_column, partition.keys))
    cap = query.learned_cap

    def receive(response: RawResponse[Any]) -> PartitionAnswer[P]:
        headers = query_headers(response.headers)
        capped = capped_at(headers.warnings)
        if capped is not None:
            return PartitionAnswer(partition, 0, None, headers.warnings, headers, capped)
        rows, decoded = decode_rows(response.content, query.arrow)
        if cap is not None and rows >= cap:
            return PartitionAnswer(partition, rows, None, headers.warnings, headers, cap)
        if partition.expected is not None and rows != partition.expected:
            raise UnexpectedResponseError(
                f"the server counted {partition.expected} rows with {query.key_table}."
                f"{query.key_column} in [{partition.keys.low}, {partition.keys.high}) but "
                f"answered {rows}; refusing a result that would not be exact"
            )
        return PartitionAnswer(partition, rows, sink(partition, decoded), headers.warnings, headers)

    def send() -> Any:
        return receive(inner.send())

    async def send_async() -> Any:
        import asyncio

        response = await inner.send_async()
        return await asyncio.to_thread(receive, response)

    return Request(send, send_async, inner.idempotent)


def capped_at(warnings: Sequence[str]) -> int | None:
    """The row cap a server warning says the answer was cut at, if one does."""
    for message in warnings:
        found = CAP_WARNING.search(message) or LIVE_CAP_WARNING.search(message)
        if found:
            return int(found.group(1))
    return None


def is_cap_warning(message: str) -> bool:
    return bool(CAP_WARNING.search(message) or LIVE_CAP_WARNING.search(message))


def decode_rows(content: bytes, arrow: bool) -> tuple[int, Any]:
    """A partition's rows: an Arrow table (positions still split) or JSON records."""
    if not arrow:
        records = json_records(content)
        return len(records), records
    table = arrow_table(content)
    return table.num_rows, table


def arrow_table(content: bytes) -> pa.Table:
    """The Arrow table of an IPC stream answer."""
    import pyarrow as pa

    try:
        with pa.ipc.open_stream(pa.py_buffer(content)) as reader:
            return reader.read_all()
    except (pa.ArrowInvalid, OSError) as error:
        raise UnexpectedResponseError(
            f"the query answer is not a readable Arrow stream: {error}"
        ) from None


def concat_tables(tables: Sequence[pa.Table]) -> pa.Table:
    """Partitions' tables as one (schemas unified; empty partitions only add nothing)."""
    import pyarrow as pa

    kept = [t for t in tables if t.num_rows] or list(tables[:1])
    if len(kept) == 1:
        return kept[0]
    return pa.concat_tables(kept, promote_options="permissive")
