"""Client-side "time travel" of materialized query results (caveclient's live_query).

A live query at time T reads the newest materialization version frozen before T, then brings its root
ids forward to T with the chunkedgraph: root-id filters are first translated back to the version's time
(a root at T may be several roots then), and afterwards every root id that is no longer current at T
is looked up again from its supervoxel. The chunkedgraph calls are made here, directly from the
generated functions, in chunks fetched concurrently over the shared pool.
"""

from __future__ import annotations

from collections.abc import Sequence, Sized
from datetime import datetime
from typing import TYPE_CHECKING, Any, BinaryIO, TypeVar, cast

from caveclient_gen_api.chunkedgraph.api.history import get_past_id_mapping
from caveclient_gen_api.chunkedgraph.api.roots import (
    get_root_timestamps,
    get_roots_binary,
    is_latest_roots,
)
from caveclient_gen_api.chunkedgraph.client import Client as ChunkedGraphAPI
from caveclient_gen_api.chunkedgraph.models.is_latest_roots_response import IsLatestRootsResponse
from caveclient_gen_api.chunkedgraph.models.node_ids_request import NodeIdsRequest
from caveclient_gen_api.chunkedgraph.models.past_id_mapping import PastIdMapping
from caveclient_gen_api.chunkedgraph.models.root_ids_request import RootIdsRequest
from caveclient_gen_api.chunkedgraph.models.root_timestamps_response import RootTimestampsResponse
from caveclient_gen_api.chunkedgraph.types import File

from .. import _defaults
from .._convert.ids import ids_from_bytes
from .._http.parse import parsed
from .._http.plan import Plan, Request, fetch_all, read
from .._http.session import Session
from ..errors import InvalidInputError, UnexpectedResponseError

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    import pandas as pd

A = TypeVar("A", bound=Sized)
ROOT_ID_SUFFIX = "root_id"
SUPERVOXEL_ID_SUFFIX = "supervoxel_id"


def _chunks(ids: npt.NDArray[np.uint64], size: int) -> list[npt.NDArray[np.uint64]]:
    return [ids[start : start + size] for start in range(0, len(ids), size)]


class ChunkedGraphLookups:
    """The few chunkedgraph reads a live query needs, on the datastack's segmentation table."""

    def __init__(self, session: Session, server: str, table_id: str) -> None:
        self._session = session
        self._server = server
        self._table_id = table_id

    def _api(self) -> ChunkedGraphAPI:
        return self._session.api(ChunkedGraphAPI, self._server)

    @property
    def _concurrency(self) -> int:
        return self._session.settings.bulk_concurrency

    def is_latest_roots(
        self, root_ids: npt.NDArray[np.uint64], timestamp: datetime
    ) -> Plan[npt.NDArray[np.bool_]]:
        """Whether each root id is still a root at `timestamp`."""
        import numpy as np

        requests = [
            read(
                is_latest_roots.sync_detailed,
                is_latest_roots.asyncio_detailed,
                self._table_id,
                client=self._api(),
                body=NodeIdsRequest(node_ids=chunk.tolist()),
                timestamp=timestamp.timestamp(),
            )
            for chunk in _chunks(root_ids, _defaults.CHUNKEDGRAPH_ID_CHUNK_SIZE)
        ]
        responses = yield from fetch_all(requests, self._concurrency, "is_latest_roots")
        flags = [flag for r in responses for flag in parsed(r, IsLatestRootsResponse).is_latest]
        return _same_length(np.array(flags, dtype=bool), root_ids, "is_latest_roots")

    def root_creation_seconds(self, root_ids: npt.NDArray[np.uint64]) -> Plan[npt.NDArray[np.float64]]:
        """When each root id was created (POSIX seconds)."""
        import numpy as np

        requests = [
            read(
                get_root_timestamps.sync_detailed,
                get_root_timestamps.asyncio_detailed,
                self._table_id,
                client=self._api(),
                body=NodeIdsRequest(node_ids=chunk.tolist()),
                latest=False,
            )
            for chunk in _chunks(root_ids, _defaults.CHUNKEDGRAPH_ID_CHUNK_SIZE)
        ]
        responses = yield from fetch_all(requests, self._concurrency, "root_timestamps")
        seconds = [value for r in responses for value in parsed(r, RootTimestampsResponse).timestamp]
        return _same_length(np.array(seconds, dtype=float), root_ids, "root_timestamps")

    def past_id_maps(
        self, root_ids: npt.NDArray[np.uint64], timestamp_past: datetime, timestamp_future: datetime
    ) -> Plan[tuple[dict[int, list[int]], dict[int, int]]]:
        """(root at future -> its roots at past, past root -> the root it became at future)."""
        requests = [
            read(
                get_past_id_mapping.sync_detailed,
                get_past_id_mapping.asyncio_detailed,
                self._table_id,
                client=self._api(),
                body=RootIdsRequest(root_ids=chunk.tolist()),
                timestamp_past=timestamp_past.timestamp(),
                timestamp_future=timestamp_future.timestamp(),
            )
            for chunk in _chunks(root_ids, _defaults.CHUNKEDGRAPH_ID_CHUNK_SIZE)
        ]
        responses = yield from fetch_all(requests, self._concurrency, "past_id_mapping")
        past: dict[int, list[int]] = {}
        future: dict[int, int] = {}
        for response in responses:
            mapping = parsed(response, PastIdMapping)
            for key, values in mapping.past_id_map.additional_properties.items():
                past[int(key)] = [int(value) for value in values]
            for key, value in mapping.future_id_map.additional_properties.items():
                future[int(key)] = int(value)
        return past, future

    def roots(
        self, supervoxel_ids: npt.NDArray[np.uint64], timestamp: datetime
    ) -> Plan[npt.NDArray[np.uint64]]:
        """The root of each supervoxel at `timestamp` (binary uint64 both ways)."""
        import numpy as np

        chunks = _chunks(supervoxel_ids, _defaults.CHUNKEDGRAPH_ROOTS_CHUNK_SIZE)
        requests = [
            self._roots_request(chunk.astype("<u8").tobytes(), timestamp.timestamp()) for chunk in chunks
        ]
        responses = yield from fetch_all(requests, self._concurrency, "get_roots")
        if not responses:
            return np.zeros(0, dtype=np.uint64)
        return np.concatenate(
            [
                ids_from_bytes(response.content, len(chunk), "roots_binary")
                for chunk, response in zip(chunks, responses, strict=True)
            ]
        )

    def _roots_request(self, body: bytes, seconds: float) -> Request[Any]:
        # Immutable bytes as the payload (not the BytesIO `File` suggests): a body that async clients
        # can send too, and that a retried read sends again whole.
        return read(
            get_roots_binary.sync_detailed,
            get_roots_binary.asyncio_detailed,
            self._table_id,
            client=self._api(),
            body=File(payload=cast(BinaryIO, body)),
            timestamp=seconds,
        )


def _same_length(values: A, ids: Sized, route: str) -> A:
    if len(values) != len(ids):
        raise UnexpectedResponseError(f"{route} answered {len(values)} values for {len(ids)} ids")
    return values


# ---------------------------------------------------------------- filters back in time


def root_id_filter_values(filters: Sequence[dict[str, Any] | None]) -> npt.NDArray[np.uint64]:
    """The distinct root ids named by `*root_id` columns of filter dicts (0, "no root", aside)."""
    import numpy as np

    found: list[int] = []
    for columns in filters:
        for column, value in (columns or {}).items():
            if column.endswith(ROOT_ID_SUFFIX):
                found.extend(value if isinstance(value, list) else [value])
    ids = np.unique(np.array(found, dtype=np.uint64))
    nonzero: npt.NDArray[np.uint64] = ids[ids != 0]
    return nonzero


def check_root_filters(
    filters: Sequence[dict[str, Any] | None], timestamp: datetime, lookups: ChunkedGraphLookups
) -> Plan[npt.NDArray[np.uint64]]:
    """The root ids the filters name, checked to be roots at `timestamp`.

    Root ids that are not (already replaced, or created later) are refused with an
    InvalidInputError naming them, before the query is sent.
    """
    root_ids = root_id_filter_values(filters)
    if len(root_ids) == 0:
        return root_ids
    latest = yield from lookups.is_latest_roots(root_ids, timestamp)
    created = yield from lookups.root_creation_seconds(root_ids)
    existed = created < timestamp.timestamp()
    too_recent = root_ids[~existed]
    # is_latest_roots is also False for roots made after the timestamp: those are too recent.
    expired = root_ids[~latest & existed]
    if len(expired) or len(too_recent):
        problems = []
        if len(expired):
            problems.append(f"{expired.tolist()} are no longer roots then (expired)")
        if len(too_recent):
            problems.append(f"{too_recent.tolist()} did not exist yet (too recent)")
        raise InvalidInputError(
            "timestamp",
            f"root ids of the filters are not valid at {timestamp.isoformat()}: "
            + "; ".join(problems)
            + ". Use the chunkedgraph to find the roots valid at that time.",
        )
    return root_ids


def map_root_filters(
    filters: Sequence[dict[str, Any] | None],
    timestamp: datetime,
    timestamp_past: datetime,
    lookups: ChunkedGraphLookups,
) -> Plan[tuple[list[dict[str, Any] | None], dict[int, int]]]:
    """Filters on root ids at `timestamp` translated to the roots they were at `timestamp_past`.

    Returns the translated filters and the map from past roots to the root each became at
    `timestamp`. Root ids that are not valid at `timestamp` are refused (see check_root_filters).
    """
    root_ids = yield from check_root_filters(filters, timestamp, lookups)
    if len(root_ids) == 0:
        return list(filters), {}
    past, future = yield from lookups.past_id_maps(root_ids, timestamp_past, timestamp)
    translated: list[dict[str, Any] | None] = []
    for columns in filters:
        if columns is None:
            translated.append(None)
            continue
        new_columns: dict[str, Any] = {}
        for column, value in columns.items():
            if column.endswith(ROOT_ID_SUFFIX):
                values = value if isinstance(value, list) else [value]
                new_columns[column] = [p for v in values for p in past.get(int(v), [int(v)])]
                if not isinstance(value, list) and int(value) == 0:
                    new_columns[column] = 0
            else:
                new_columns[column] = value
        translated.append(new_columns)
    return translated, future


# ---------------------------------------------------------------- results forward in time


def remap(values: npt.NDArray[np.uint64], mapping: dict[int, int]) -> npt.NDArray[np.uint64]:
    """`values` with every key of `mapping` replaced by its value (vectorized)."""
    import numpy as np

    if not mapping or len(values) == 0:
        return values
    keys = np.fromiter(mapping.keys(), dtype=np.uint64, count=len(mapping))
    targets = np.fromiter(mapping.values(), dtype=np.uint64, count=len(mapping))
    order = np.argsort(keys)
    keys, targets = keys[order], targets[order]
    position = np.clip(np.searchsorted(keys, values), 0, len(keys) - 1)
    found = keys[position] == values
    result = values.copy()
    result[found] = targets[position[found]]
    return result


def update_root_ids(
    frame: pd.DataFrame,
    timestamp: datetime,
    future_map: dict[int, int],
    lookups: ChunkedGraphLookups,
) -> Plan[pd.DataFrame]:
    """Every `<pt>_root_id` column brought to its value at `timestamp`, from `<pt>_supervoxel_id`."""
    import numpy as np

    pairs = [
        (column, column[: -len(SUPERVOXEL_ID_SUFFIX)] + ROOT_ID_SUFFIX)
        for column in frame.columns
        if str(column).endswith(SUPERVOXEL_ID_SUFFIX)
    ]
    pairs = [(sv, root) for sv, root in pairs if root in frame.columns]
    if not pairs or len(frame) == 0:
        return frame
    roots = {root: remap(_as_uint64(frame[root]), future_map) for _, root in pairs}
    candidates = np.unique(np.concatenate(list(roots.values())))
    candidates = candidates[candidates != 0]
    current = candidates
    if len(candidates):
        flags = yield from lookups.is_latest_roots(candidates, timestamp)
        current = candidates[flags]
    current = np.concatenate([np.zeros(1, dtype=np.uint64), current])
    stale = {root: ~np.isin(values, current) for root, values in roots.items()}
    supervoxels = np.concatenate([_as_uint64(frame[sv])[stale[root]] for sv, root in pairs])
    new_roots = (yield from lookups.roots(supervoxels, timestamp)) if len(supervoxels) else supervoxels
    result = frame.copy(deep=False)
    offset = 0
    for _, root in pairs:
        values = roots[root].copy()
        count = int(stale[root].sum())
        values[stale[root]] = new_roots[offset : offset + count]
        offset += count
        result[root] = _like(frame[root], values)
    return result


def _as_uint64(series: Any) -> npt.NDArray[np.uint64]:
    import numpy as np

    array: npt.NDArray[np.uint64] = series.to_numpy(dtype=np.uint64, na_value=0)
    return array


def _like(original: Any, values: npt.NDArray[np.uint64]) -> Any:
    """New id values in the dtype of the column they replace (uint64 if int64 cannot hold them)."""
    import numpy as np
    import pandas as pd

    dtype = original.dtype
    if isinstance(dtype, pd.api.extensions.ExtensionDtype):
        array = pd.array(values, dtype="UInt64").astype(dtype, copy=False)
        array[original.isna().to_numpy()] = pd.NA
        return array
    if dtype == np.int64 and len(values) and values.max() > np.iinfo(np.int64).max:
        return values
    return values.astype(dtype, copy=False)
