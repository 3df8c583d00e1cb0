"""How the materialization database reads rows under load: primary-key ranges, scans, rate limits.

* **Key ranges.** PostgreSQL answers ``id >= a AND id < b`` from the primary-key index, at the same
  cost wherever the range lies. :func:`key_range` does the same for a table whose rows are stored in
  primary-key order: two binary searches over the ids in scope instead of a comparison per row.
* **Unordered scans.** The server issues ``LIMIT n OFFSET k`` without ORDER BY; with synchronized
  sequential scans PostgreSQL starts each scan where another one is, so consecutive pages repeat
  some rows and miss others. :class:`ScanStarts` gives each query a different starting row when
  the deployment asks for it (``unordered_scans``).
* **Rate limits.** flask-limiter keeps per-user buckets; a caller over its budget gets 429 with
  ``Retry-After`` (:class:`QueryRateLimiter`, when ``query_rate_limit`` is set).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import numpy as np
import numpy.typing as npt
from starlette.requests import Request
from starlette.responses import Response

from ..auth.guard import Caller
from ..server.wire import flask_error_page
from ..world.deployment import Deployment
from .settings import MaterializationSettings
from .table_queries import QueryTable

Index = npt.NDArray[np.int64]
KEY_COLUMN = "id"
_RANGE_KEYS = (
    "filter_equal_dict",
    "filter_greater_dict",
    "filter_less_dict",
    "filter_greater_equal_dict",
    "filter_less_equal_dict",
)


def key_range(table: QueryTable, filters: Mapping[str, Any]) -> tuple[Index, dict[str, Any]] | None:
    """The rows (positions in scope) inside the filters' bounds on the primary key, and the
    filters left to apply; None when the table is not stored in key order or has no key bounds."""
    bounds = {key: (filters.get(key) or {}).get(table.name, {}).get(KEY_COLUMN) for key in _RANGE_KEYS}
    if all(value is None for value in bounds.values()) or not table.has_column(KEY_COLUMN):
        return None
    if any(
        value is not None and (isinstance(value, bool) or not isinstance(value, int | np.integer))
        for value in bounds.values()
    ):
        return None
    ids = sorted_scope_ids(table)
    if ids is None:
        return None
    low, high = 0, len(ids)
    equal, greater, less, at_least, at_most = (bounds[key] for key in _RANGE_KEYS)
    if equal is not None:
        low = max(low, int(np.searchsorted(ids, int(equal), "left")))
        high = min(high, int(np.searchsorted(ids, int(equal), "right")))
    if greater is not None:
        low = max(low, int(np.searchsorted(ids, int(greater), "right")))
    if at_least is not None:
        low = max(low, int(np.searchsorted(ids, int(at_least), "left")))
    if less is not None:
        high = min(high, int(np.searchsorted(ids, int(less), "left")))
    if at_most is not None:
        high = min(high, int(np.searchsorted(ids, int(at_most), "right")))
    remaining: dict[str, Any] = {}
    for key, by_table in filters.items():
        if key in _RANGE_KEYS and isinstance(by_table, Mapping) and table.name in by_table:
            columns = {c: v for c, v in by_table[table.name].items() if c != KEY_COLUMN}
            remaining[key] = {**by_table, table.name: columns}
        else:
            remaining[key] = by_table
    return np.arange(low, max(low, high), dtype=np.int64), remaining


_SORTED_IDS: dict[tuple[int, int, int], tuple[object, npt.NDArray[np.int64] | None]] = {}
"""Keyed by the rows' identity; each entry holds the rows, so that identity cannot be reused."""
_SORTED_LOCK = threading.Lock()
_SORTED_CACHE_SIZE = 16


def sorted_scope_ids(table: QueryTable) -> npt.NDArray[np.int64] | None:
    """The primary keys of the rows in scope, if they are in increasing order (else None).

    Computed once per table state and scope (the index PostgreSQL keeps), then reused."""
    key = (id(table.rows), len(table.scope), int(table.scope[-1]) if len(table.scope) else -1)
    with _SORTED_LOCK:
        if key in _SORTED_IDS:
            return _SORTED_IDS[key][1]
    column = table.rows[KEY_COLUMN]
    if column.hasnans:
        ids = None
    else:
        values = column.to_numpy(dtype=np.int64)[table.scope]
        ids = values if bool(np.all(values[1:] > values[:-1])) else None
    with _SORTED_LOCK:
        _SORTED_IDS[key] = (table.rows, ids)
        while len(_SORTED_IDS) > _SORTED_CACHE_SIZE:
            _SORTED_IDS.pop(next(iter(_SORTED_IDS)))
    return ids


class ScanStarts:
    """Where each query's scan starts: at the first row, or (unordered scans) somewhere else."""

    def __init__(self, deployment: Deployment) -> None:
        self._settings = MaterializationSettings.of(deployment)
        self._random = deployment.stream("materialize:scan-starts")
        self._lock = threading.Lock()

    def rotate(self, rows: Index) -> Index:
        """The selected rows in the order this query's scan meets them."""
        if not self._settings.unordered_scans or len(rows) < 2:
            return rows
        with self._lock:
            start = self._random.randrange(len(rows))
        return np.concatenate([rows[start:], rows[:start]])


class RateLimitedError(Exception):
    """A caller over its query budget; ``retry_after`` is in whole seconds."""

    def __init__(self, retry_after: int, limit: tuple[int, float]) -> None:
        super().__init__(f"{limit[0]} per {limit[1]:g} second")
        self.retry_after = retry_after


class QueryRateLimiter:
    """Fixed-window per-user query budgets, as flask-limiter's default strategy keeps them."""

    def __init__(self, deployment: Deployment, clock: Callable[[], float] = time.monotonic) -> None:
        self._settings = MaterializationSettings.of(deployment)
        self._clock = clock
        self._windows: dict[int, tuple[float, int]] = {}
        self._lock = threading.Lock()
        self.refused = 0
        """How many queries were answered 429."""

    def check(self, user_id: int) -> None:
        """Count one query of ``user_id``; raise RateLimitedError when it is over the budget."""
        limit = self._settings.query_rate_limit
        if limit is None:
            return
        count, window = limit
        now = self._clock()
        with self._lock:
            started, used = self._windows.get(user_id, (now, 0))
            if now - started >= window:
                started, used = now, 0
            if used >= count:
                self.refused += 1
                raise RateLimitedError(max(1, math.ceil(started + window - now)), limit)
            self._windows[user_id] = (started, used + 1)


Handler = Callable[[Request, Caller], Awaitable[Response]]


def rate_limited(limiter: Callable[[], QueryRateLimiter]) -> Callable[[Handler], Handler]:
    """A query route behind the per-user budget: 429 with ``Retry-After`` when it is spent."""

    def decorate(handler: Handler) -> Handler:
        async def limited(request: Request, caller: Caller) -> Response:
            try:
                limiter().check(caller.user_id)
            except RateLimitedError as refused:
                return flask_error_page(429, {"Retry-After": str(refused.retry_after)})
            return await handler(request, caller)

        limited.__name__ = getattr(handler, "__name__", "limited")
        return limited

    return decorate
