"""`client.chunkedgraph`: the proofreadable segmentation graph (PyChunkedGraph).

Conventions of every method:

* **Ids** go in as ints, lists of ints, numpy integer arrays or pandas Series (floats and negative
  numbers are refused) and come out typed as caveclient 8.2.1 types them: uint64 arrays from
  `get_roots`, `get_minimal_covering_nodes` and `find_path`'s failed ids; int64 (`np.int64`
  scalars, int64 arrays) from `get_root_id`, `get_leaves`, `get_leaves_many`, `get_children`,
  `get_latest_roots`, `get_original_roots`, `get_delta_roots`, `get_subgraph`, `find_path`'s
  path; Python ints in `get_past_ids`'
  lists and `level2_chunk_graph`'s edge lists. Ids never pass through floats; CAVE node ids stay
  below 2^63, and one that does not raises rather than wrapping (`get_roots` is exact uint64).
  Operation ids are Python ints (int64 in DataFrames).
* **Timestamps** go in as timezone-aware datetimes (or ISO 8601 text with an offset); naive datetimes
  are refused. They come out as UTC-aware datetimes. A timestamp left as None is this client's
  `timestamp` (the parent client's version time, when it has one), else "now" — fixed once per call,
  so every chunk of a bulk call sees the same moment.
* **Bulk calls** (`get_roots`, `get_leaves_many`, `is_latest_roots`, `get_root_timestamps`,
  `is_valid_nodes`) split big inputs into chunks (sizes in `_defaults`), fetch them concurrently over
  the client's shared pool, and put the answers back in input order: identical to one big request.
"""

from __future__ import annotations

import json
import logging
import warnings
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, BinaryIO, cast

from caveclient_gen_api.chunkedgraph.api.edits import do_merge as merge_route
from caveclient_gen_api.chunkedgraph.api.edits import execute_split as split_route
from caveclient_gen_api.chunkedgraph.api.edits import preview_split as split_preview_route
from caveclient_gen_api.chunkedgraph.api.edits import undo_operation as undo_route
from caveclient_gen_api.chunkedgraph.api.graph import find_path as find_path_route
from caveclient_gen_api.chunkedgraph.api.graph import get_contact_sites as contact_sites_route
from caveclient_gen_api.chunkedgraph.api.graph import get_lvl2_graph as lvl2_graph_route
from caveclient_gen_api.chunkedgraph.api.graph import get_subgraph as subgraph_route
from caveclient_gen_api.chunkedgraph.api.history import get_change_log as change_log_route
from caveclient_gen_api.chunkedgraph.api.history import get_delta_roots as delta_roots_route
from caveclient_gen_api.chunkedgraph.api.history import get_lineage_graph_multiple as lineage_route
from caveclient_gen_api.chunkedgraph.api.history import get_merge_log as merge_log_route
from caveclient_gen_api.chunkedgraph.api.history import get_oldest_timestamp as oldest_timestamp_route
from caveclient_gen_api.chunkedgraph.api.history import get_operation_details as operation_details_route
from caveclient_gen_api.chunkedgraph.api.history import get_past_id_mapping as past_ids_route
from caveclient_gen_api.chunkedgraph.api.history import (
    get_tabular_change_log_many as tabular_change_log_route,
)
from caveclient_gen_api.chunkedgraph.api.history import get_user_operations as user_operations_route
from caveclient_gen_api.chunkedgraph.api.info import get_table_info as table_info_route
from caveclient_gen_api.chunkedgraph.api.meshing import remesh_level2_chunks as remesh_route
from caveclient_gen_api.chunkedgraph.api.nodes import get_children as children_route
from caveclient_gen_api.chunkedgraph.api.nodes import get_leaves as leaves_route
from caveclient_gen_api.chunkedgraph.api.nodes import get_leaves_many as leaves_many_route
from caveclient_gen_api.chunkedgraph.api.nodes import get_minimal_covering_nodes as covering_route
from caveclient_gen_api.chunkedgraph.api.roots import get_root as root_route
from caveclient_gen_api.chunkedgraph.api.roots import get_root_timestamps as root_timestamps_route
from caveclient_gen_api.chunkedgraph.api.roots import get_roots_binary as roots_binary_route
from caveclient_gen_api.chunkedgraph.api.roots import get_valid_nodes as valid_nodes_route
from caveclient_gen_api.chunkedgraph.api.roots import is_latest_roots as is_latest_route
from caveclient_gen_api.chunkedgraph.client import Client as ChunkedGraphAPI
from caveclient_gen_api.chunkedgraph.models.change_log_summary import ChangeLogSummary
from caveclient_gen_api.chunkedgraph.models.children_response import ChildrenResponse
from caveclient_gen_api.chunkedgraph.models.chunked_graph_error import ChunkedGraphError
from caveclient_gen_api.chunkedgraph.models.contact_sites_response import ContactSitesResponse
from caveclient_gen_api.chunkedgraph.models.delta_roots import DeltaRoots
from caveclient_gen_api.chunkedgraph.models.edit_result import EditResult as EditResultModel
from caveclient_gen_api.chunkedgraph.models.find_path_result import FindPathResult
from caveclient_gen_api.chunkedgraph.models.id_list_map import IdListMap
from caveclient_gen_api.chunkedgraph.models.is_latest_roots_response import IsLatestRootsResponse
from caveclient_gen_api.chunkedgraph.models.leaves_response import LeavesResponse
from caveclient_gen_api.chunkedgraph.models.lineage_graph import LineageGraph as LineageGraphModel
from caveclient_gen_api.chunkedgraph.models.lvl_2_graph import Lvl2Graph
from caveclient_gen_api.chunkedgraph.models.merge_log import MergeLog as MergeLogModel
from caveclient_gen_api.chunkedgraph.models.middle_auth_error import MiddleAuthError
from caveclient_gen_api.chunkedgraph.models.node_ids_request import NodeIdsRequest
from caveclient_gen_api.chunkedgraph.models.oldest_timestamp import OldestTimestamp
from caveclient_gen_api.chunkedgraph.models.operation_details_map import OperationDetailsMap
from caveclient_gen_api.chunkedgraph.models.past_id_mapping import PastIdMapping as PastIdMappingModel
from caveclient_gen_api.chunkedgraph.models.remesh_request import RemeshRequest
from caveclient_gen_api.chunkedgraph.models.root_id_response import RootIdResponse
from caveclient_gen_api.chunkedgraph.models.root_ids_request import RootIdsRequest
from caveclient_gen_api.chunkedgraph.models.root_timestamps_response import RootTimestampsResponse
from caveclient_gen_api.chunkedgraph.models.split_preview import SplitPreview
from caveclient_gen_api.chunkedgraph.models.split_request import SplitRequest
from caveclient_gen_api.chunkedgraph.models.subgraph import Subgraph
from caveclient_gen_api.chunkedgraph.models.table_info import TableInfo
from caveclient_gen_api.chunkedgraph.models.tabular_change_log_map import TabularChangeLogMap
from caveclient_gen_api.chunkedgraph.models.undo_request import UndoRequest
from caveclient_gen_api.chunkedgraph.models.user_operations_frame import UserOperationsFrame
from caveclient_gen_api.chunkedgraph.models.valid_nodes_response import ValidNodesResponse
from caveclient_gen_api.chunkedgraph.types import File, Response

from .. import _defaults
from .._convert.ids import (
    as_caveclient_ids,
    id_chunks,
    id_list_from_json,
    id_pairs_from_json,
    ids_from_bytes,
    ids_from_json,
    ids_to_bytes,
    unique_in_order,
)
from .._convert.values import as_bounds, as_id, as_id_array, as_resolution, as_utc, from_epoch_seconds
from .._http.parse import optional, parsed
from .._http.plan import (
    M,
    Plan,
    RawResponse,
    Request,
    api_method,
    api_property,
    fetch,
    fetch_all,
    read,
    write,
)
from ..errors import InvalidInputError, ServerIncompatibilityError, UnexpectedResponseError
from ..records.chunkedgraph import (
    ChangeLog,
    ContactSites,
    EditResult,
    LineageGraph,
    MergeLog,
    OperationDetails,
    PastIdMapping,
    SegmentationInfo,
)
from . import _lineage
from ._base import ServiceClient
from ._chunkedgraph_frames import frame_from_columns, frame_from_json_text

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    import pandas as pd

    from .._core.core import ClientCore

    IdArray = npt.NDArray[np.uint64]
    Int64Array = npt.NDArray[np.int64]
    BoolArray = npt.NDArray[np.bool_]

logger = logging.getLogger("caveclient_gen")

VALID_NODES_DEFAULT_START = datetime(2000, 1, 1, tzinfo=UTC)
"""caveclient's default lower bound for `is_valid_nodes`."""
SUGGEST_LAYERS_BELOW_ROOT = 4
"""`suggest_latest_roots` compares chunks this many layers below the root layer by default."""

BinaryResponse = Response[ChunkedGraphError | MiddleAuthError | File]


def _binary_body(ids: bytes) -> File:
    # The generated code hands `payload` to httpx as `content`. Immutable bytes (not the BytesIO the
    # File type suggests) make a body that works on sync and async clients alike, has a
    # Content-Length, and can be sent again as is when a read is retried.
    return File(payload=cast(BinaryIO, ids))


def _roots_binary(
    table_id: str,
    *,
    client: ChunkedGraphAPI,
    ids: bytes,
    timestamp: float,
    stop_layer: int | None,
) -> BinaryResponse:
    return roots_binary_route.sync_detailed(
        table_id,
        client=client,
        body=_binary_body(ids),
        timestamp=timestamp,
        stop_layer=optional(stop_layer),
    )


async def _roots_binary_async(
    table_id: str,
    *,
    client: ChunkedGraphAPI,
    ids: bytes,
    timestamp: float,
    stop_layer: int | None,
) -> BinaryResponse:
    return await roots_binary_route.asyncio_detailed(
        table_id,
        client=client,
        body=_binary_body(ids),
        timestamp=timestamp,
        stop_layer=optional(stop_layer),
    )


class ChunkedGraphClient(ServiceClient[M]):
    """The chunkedgraph of the datastack's segmentation: roots, leaves, edits and their history."""

    _SERVER_KEY = "cg_server_address"
    _API_VERSION = 1
    _LOCAL = True
    _TABLE_ID_IN_MAPPING = True
    _VERSION_ROUTE = ("chunkedgraph", "versions.get_version")

    def __init__(self, core: ClientCore) -> None:
        super().__init__(core)
        self._own_timestamp: datetime | None = None
        self._segmentation_info: SegmentationInfo | None = None

    # ------------------------------------------------------------ where and when

    def _target(self) -> Plan[tuple[ChunkedGraphAPI, str]]:
        server = yield from self._deployment.local_server()
        table = yield from self._deployment.segmentation_table()
        return self._session.api(ChunkedGraphAPI, server), table

    @property
    def timestamp(self) -> datetime | None:
        """Default time of queries (UTC), or None for "now" at each call.

        The parent client's version time when it is pinned to a version, else the value set here (a
        timezone-aware datetime). Makes no request.
        """
        parent = self._core.timestamp
        if parent is None:
            return self._own_timestamp
        # Set by the client itself (not user input): a naive value there means UTC.
        return parent.replace(tzinfo=UTC) if parent.tzinfo is None else parent.astimezone(UTC)

    @timestamp.setter
    def timestamp(self, value: datetime | None) -> None:
        if self._core.timestamp is not None:
            raise InvalidInputError(
                "timestamp",
                "cannot be set while the client is pinned to a materialization version; "
                "set the version on the client instead",
            )
        self._own_timestamp = as_utc("timestamp", value)

    def _moment(self, parameter: str, value: Any) -> Plan[datetime]:
        """`value` as an aware UTC datetime; by default the time of the client's materialization
        version when it has one, else the `timestamp` set here, else now."""
        moment = as_utc(parameter, value)
        if moment is not None:
            return moment
        pinned = yield from self._core.pinned_timestamp()
        if pinned is not None:
            return pinned.replace(tzinfo=UTC) if pinned.tzinfo is None else pinned.astimezone(UTC)
        return self._own_timestamp or datetime.now(UTC)

    def _seconds(self, parameter: str, value: Any) -> Plan[float]:
        moment = yield from self._moment(parameter, value)
        return moment.timestamp()

    def _bulk(
        self, ids: IdArray, size: int, request: Callable[[IdArray], Request[Any]], description: str
    ) -> Plan[tuple[list[IdArray], list[RawResponse[Any]]]]:
        """Send one request per chunk of `ids`, concurrently; answers in chunk order."""
        chunks = id_chunks(ids, size)
        responses = yield from fetch_all(
            [request(chunk) for chunk in chunks],
            self._session.settings.bulk_concurrency,
            description,
        )
        return chunks, responses

    # ------------------------------------------------------------ table properties

    @api_property
    def table_name(self) -> Plan[str]:
        """The chunkedgraph table id: the last element of the datastack's ``graphene://`` source.

        Calls ``GET /info/api/v2/datastack/full/{datastack}`` (once per datastack; the record is kept).
        """
        return (yield from self._deployment.segmentation_table())

    @property
    def _endpoints(self) -> dict[str, str]:
        """caveclient's private URL templates of the chunkedgraph routes (a copy), which some
        libraries format with `default_url_mapping` to send requests of their own."""
        from ._caveclient_routes import CHUNKEDGRAPH_ENDPOINTS

        return dict(CHUNKEDGRAPH_ENDPOINTS)

    @api_property
    def cloudvolume_path(self) -> Plan[str]:
        """The ``graphene://`` path of the segmentation, for CloudVolume.

        Calls ``GET /info/api/v2/datastack/full/{datastack}`` (once per datastack; the record is kept).
        """
        server = yield from self._deployment.local_server()
        table = yield from self._deployment.segmentation_table()
        return f"graphene://{server}/segmentation/api/v1/{table}"

    @api_property
    def segmentation_info(self) -> Plan[SegmentationInfo]:
        """The table's info document: layers, chunk size, resolution, data directory, graph settings.

        Calls ``GET /segmentation/table/{table_id}/info`` (once per sub-client). The values are as the
        table info gives them (ints stay ints, as caveclient returns them).
        """
        if self._segmentation_info is None:
            api, table = yield from self._target()
            response = yield from fetch(
                read(
                    table_info_route.sync_detailed, table_info_route.asyncio_detailed, table, client=api
                )
            )
            self._segmentation_info = cast(SegmentationInfo, parsed(response, TableInfo).to_dict())
        return self._segmentation_info

    @api_property
    def base_resolution(self) -> Plan[list[float]]:
        """Voxel size ``[x, y, z]`` in nm of the chunkedgraph's base (mip 0) resolution.

        Calls ``GET /segmentation/table/{table_id}/info`` (once per sub-client). The values are as the
        table info gives them (ints stay ints, as caveclient returns them).
        """
        info = yield from ChunkedGraphClient.segmentation_info.plan(self)
        scales = info.get("scales") or []
        if not scales or "resolution" not in scales[0]:
            raise UnexpectedResponseError("the table info has no scales[0].resolution")
        resolution = list(scales[0]["resolution"])
        if len(resolution) != 3 or not all(
            isinstance(value, int | float) and not isinstance(value, bool) for value in resolution
        ):
            raise UnexpectedResponseError(f"scales[0].resolution is not [x, y, z]: {resolution!r}")
        return resolution

    # ------------------------------------------------------------ roots

    @api_method
    def get_roots(
        self,
        supervoxel_ids: Any,
        timestamp: datetime | None = None,
        stop_layer: int | None = None,
    ) -> Plan[IdArray]:
        """Root ids (or ancestors at `stop_layer`) of supervoxel ids, one per input id, in order.

        Calls ``POST /segmentation/api/v1/table/{table_id}/roots_binary`` (raw little-endian uint64 both
        ways). Large inputs are split into chunks of ``CHUNKEDGRAPH_ROOTS_CHUNK_SIZE`` (500,000) ids
        fetched concurrently, all at the same timestamp, so the result equals one big request; a progress
        bar shows when it is switched on.

        Parameters
        ----------
        supervoxel_ids : array-like of int
            Ids as a list, NumPy array (any integer dtype) or pandas Series; a single int is accepted.
        timestamp : datetime.datetime, optional
            A timezone-aware moment (naive datetimes are refused). Default: the chunkedgraph's
            ``timestamp`` (the pinned version's time when the client has a version), else now.
        stop_layer : int, optional
            Return the ancestors at this layer (2 = level-2 nodes) instead of supervoxels / roots.

        Returns
        -------
        numpy.ndarray
            uint64 array of the input's length; 0 where an id has no root (e.g. supervoxel 0).

        Raises
        ------
        InvalidInputError
            An id is not an integer, a datetime is naive, or another argument is malformed (before any
            request).
        AuthenticationError
            The token is missing, invalid or expired.
        PermissionDeniedError
            The token lacks the permission this needs.
        CAVEConnectionError
            The server could not be reached (after the client's retries).
        """
        import numpy as np

        ids = as_id_array("supervoxel_ids", supervoxel_ids)
        seconds = yield from self._seconds("timestamp", timestamp)
        layer = _layer("stop_layer", stop_layer)
        if ids.size == 0:
            return np.zeros(0, dtype=np.uint64)
        api, table = yield from self._target()
        chunks, responses = yield from self._bulk(
            ids,
            _defaults.CHUNKEDGRAPH_ROOTS_CHUNK_SIZE,
            lambda chunk: read(
                _roots_binary,
                _roots_binary_async,
                table,
                client=api,
                ids=ids_to_bytes(chunk),
                timestamp=seconds,
                stop_layer=layer,
            ),
            "get_roots",
        )
        roots = np.empty(ids.size, dtype=np.uint64)
        start = 0
        for chunk, response in zip(chunks, responses, strict=True):
            roots[start : start + chunk.size] = ids_from_bytes(response.content, chunk.size, "get_roots")
            start += chunk.size
        return roots

    @api_method
    def get_root_id(
        self, supervoxel_id: int, timestamp: datetime | None = None, level2: bool = False
    ) -> Plan[np.int64]:
        """The root id of one supervoxel.

        Calls ``GET /segmentation/api/v1/table/{table_id}/node/{node_id}/root``.

        Parameters
        ----------
        supervoxel_id : int
            A supervoxel id (NumPy integers accepted).
        timestamp : datetime.datetime, optional
            A timezone-aware moment (naive datetimes are refused). Default: the chunkedgraph's
            ``timestamp`` (the pinned version's time when the client has a version), else now.
        level2 : bool, default False
            Return the supervoxel's level-2 id instead of its root.

        Returns
        -------
        numpy.int64
            The root (or level-2) id, as caveclient types it.

        Raises
        ------
        InvalidInputError
            An id is not an integer, a datetime is naive, or another argument is malformed (before any
            request).
        NotFoundError, BadRequestError
            The server does not know the id.
        AuthenticationError
            The token is missing, invalid or expired.
        PermissionDeniedError
            The token lacks the permission this needs.
        CAVEConnectionError
            The server could not be reached (after the client's retries).
        """
        import numpy as np

        node = as_id("supervoxel_id", supervoxel_id)
        seconds = yield from self._seconds("timestamp", timestamp)
        api, table = yield from self._target()
        response = yield from fetch(
            read(
                root_route.sync_detailed,
                root_route.asyncio_detailed,
                table,
                node,
                client=api,
                timestamp=seconds,
                stop_layer=optional(2 if level2 else None),
            )
        )
        root = np.array([parsed(response, RootIdResponse).root_id], dtype=np.uint64)
        value: np.int64 = as_caveclient_ids(root, "get_root_id")[0]
        return value

    @api_method
    def is_latest_roots(self, root_ids: Any, timestamp: datetime | None = None) -> Plan[BoolArray]:
        """Whether each id is a root that no edit had superseded at `timestamp`.

        Calls ``POST /segmentation/api/v1/table/{table_id}/is_latest_roots`` (in chunks for large
        inputs).

        Parameters
        ----------
        root_ids : array-like of int
            Ids as a list, NumPy array (any integer dtype) or pandas Series; a single int is accepted.
        timestamp : datetime.datetime, optional
            A timezone-aware moment (naive datetimes are refused). Default: the chunkedgraph's
            ``timestamp`` (the pinned version's time when the client has a version), else now.

        Returns
        -------
        numpy.ndarray
            bool array, one value per input id, in input order.

        Raises
        ------
        InvalidInputError
            An id is not an integer, a datetime is naive, or another argument is malformed (before any
            request).
        AuthenticationError
            The token is missing, invalid or expired.
        PermissionDeniedError
            The token lacks the permission this needs.
        CAVEConnectionError
            The server could not be reached (after the client's retries).
        """
        import numpy as np

        ids = as_id_array("root_ids", root_ids)
        seconds = yield from self._seconds("timestamp", timestamp)
        if ids.size == 0:
            return np.zeros(0, dtype=bool)
        api, table = yield from self._target()
        chunks, responses = yield from self._bulk(
            ids,
            _defaults.CHUNKEDGRAPH_ID_CHUNK_SIZE,
            lambda chunk: read(
                is_latest_route.sync_detailed,
                is_latest_route.asyncio_detailed,
                table,
                client=api,
                body=NodeIdsRequest(node_ids=chunk.tolist()),
                timestamp=seconds,
            ),
            "is_latest_roots",
        )
        answers = [
            _sized(parsed(response, IsLatestRootsResponse).is_latest, chunk.size, "is_latest_roots")
            for chunk, response in zip(chunks, responses, strict=True)
        ]
        return np.concatenate([np.array(answer, dtype=bool) for answer in answers])

    @api_method
    def get_root_timestamps(
        self, root_ids: Any, latest: bool = False, timestamp: datetime | None = None
    ) -> Plan[npt.NDArray[np.object_]]:
        """When each root was created, or the last moment it was current.

        Calls ``POST /segmentation/api/v1/table/{table_id}/root_timestamps``.

        Parameters
        ----------
        root_ids : array-like of int
            Ids as a list, NumPy array (any integer dtype) or pandas Series; a single int is accepted.
        latest : bool, default False
            Return the last moment each root was current instead: 1 ms before the edit that superseded
            it, or `timestamp` for roots still current then. Needs a chunkedgraph server 2.17.0 or later.
        timestamp : datetime.datetime, optional
            A timezone-aware moment (naive datetimes are refused). Default: the chunkedgraph's
            ``timestamp`` (the pinned version's time when the client has a version), else now.

        Returns
        -------
        numpy.ndarray
            object array of timezone-aware (UTC) datetimes, in input order.

        Raises
        ------
        ServerIncompatibilityError
            `latest` on a server whose reported version lacks it (before 2.17.0, or 3.0.0 to 3.0.3).
        InvalidInputError
            An id is not an integer, a datetime is naive, or another argument is malformed (before any
            request).
        AuthenticationError
            The token is missing, invalid or expired.
        CAVEConnectionError
            The server could not be reached (after the client's retries).
        """
        import numpy as np

        ids = as_id_array("root_ids", root_ids)
        seconds = yield from self._seconds("timestamp", timestamp)
        if ids.size == 0:
            return np.zeros(0, dtype=np.float64)  # as caveclient answers no ids
        if latest:
            yield from self._require_server_version(
                "get_root_timestamps with latest",
                ((1, 25, 0), (2,)),
                ((2, 17, 0), (3,)),
                ((3, 0, 4), None),
            )
        api, table = yield from self._target()
        chunks, responses = yield from self._bulk(
            ids,
            _defaults.CHUNKEDGRAPH_ID_CHUNK_SIZE,
            lambda chunk: read(
                root_timestamps_route.sync_detailed,
                root_timestamps_route.asyncio_detailed,
                table,
                client=api,
                body=NodeIdsRequest(node_ids=chunk.tolist()),
                latest=bool(latest),
                timestamp=seconds,
            ),
            "get_root_timestamps",
        )
        shift = timedelta(milliseconds=1) if latest else timedelta(0)
        moments = np.empty(ids.size, dtype=object)
        start = 0
        for chunk, response in zip(chunks, responses, strict=True):
            values = parsed(response, RootTimestampsResponse).timestamp
            for offset, value in enumerate(_sized(values, chunk.size, "get_root_timestamps")):
                moments[start + offset] = from_epoch_seconds(value) - shift
            start += chunk.size
        return moments

    @api_method
    def is_valid_nodes(
        self,
        node_ids: Any,
        start_timestamp: datetime | None = None,
        end_timestamp: datetime | None = None,
    ) -> Plan[BoolArray]:
        """Whether each id is a node of the graph (any layer).

        Calls ``GET /segmentation/api/v1/table/{table_id}/valid_nodes``. Ids of 0 or below are invalid
        without asking the server.

        Parameters
        ----------
        node_ids : array-like of int
            Ids as a list, NumPy array (any integer dtype) or pandas Series; a single int is accepted.
        start_timestamp : datetime.datetime, optional
            Count nodes written since this time (timezone-aware; default 2000-01-01 UTC).
        end_timestamp : datetime.datetime, optional
            Count nodes written until this time (default: the chunkedgraph's ``timestamp``, else no
            limit).

        Returns
        -------
        numpy.ndarray
            bool array, one value per input id, in input order.

        Raises
        ------
        InvalidInputError
            An id is not an integer, a datetime is naive, or another argument is malformed (before any
            request).
        AuthenticationError
            The token is missing, invalid or expired.
        PermissionDeniedError
            The token lacks the permission this needs.
        CAVEConnectionError
            The server could not be reached (after the client's retries).
        """
        import numpy as np

        ids, candidate = _node_ids_with_invalid("node_ids", node_ids)
        start = as_utc("start_timestamp", start_timestamp) or VALID_NODES_DEFAULT_START
        end = as_utc("end_timestamp", end_timestamp) or self.timestamp
        result = np.zeros(ids.size, dtype=bool)
        checked = ids[candidate]
        if checked.size == 0:
            return result
        api, table = yield from self._target()
        chunks, responses = yield from self._bulk(
            checked,
            _defaults.CHUNKEDGRAPH_ID_CHUNK_SIZE,
            lambda chunk: read(
                valid_nodes_route.sync_detailed,
                valid_nodes_route.asyncio_detailed,
                table,
                client=api,
                body=NodeIdsRequest(node_ids=chunk.tolist()),
                start_timestamp=start.timestamp(),
                end_timestamp=optional(None if end is None else end.timestamp()),
            ),
            "is_valid_nodes",
        )
        found = [
            np.isin(
                chunk, ids_from_json(parsed(response, ValidNodesResponse).valid_roots, "valid_nodes")
            )
            for chunk, response in zip(chunks, responses, strict=True)
        ]
        result[candidate] = np.concatenate(found)
        return result

    # ------------------------------------------------------------ descendants

    @api_method
    def get_leaves(
        self, root_id: int, bounds: Any = None, stop_layer: int | None = None
    ) -> Plan[Int64Array]:
        """Supervoxels of a node, or its descendants at `stop_layer`.

        Calls ``GET /segmentation/api/v1/table/{table_id}/node/{node_id}/leaves``.

        Parameters
        ----------
        root_id : int
            A root or any other node id.
        bounds : array-like, optional
            A box ``[[xmin, xmax], [ymin, ymax], [zmin, zmax]]`` in chunkedgraph (base resolution)
            voxels; default: no limit.
        stop_layer : int, optional
            Return the ancestors at this layer (2 = level-2 nodes) instead of supervoxels / roots.

        Returns
        -------
        numpy.ndarray
            int64 ids (as caveclient types them).

        Raises
        ------
        InvalidInputError
            An id is not an integer, a datetime is naive, or another argument is malformed (before any
            request).
        NotFoundError, BadRequestError
            The server does not know the id.
        AuthenticationError
            The token is missing, invalid or expired.
        PermissionDeniedError
            The token lacks the permission this needs.
        CAVEConnectionError
            The server could not be reached (after the client's retries).
        """
        node = as_id("root_id", root_id)
        box = as_bounds("bounds", bounds)
        layer = _layer("stop_layer", stop_layer)
        api, table = yield from self._target()
        response = yield from fetch(
            read(
                leaves_route.sync_detailed,
                leaves_route.asyncio_detailed,
                table,
                node,
                client=api,
                stop_layer=optional(layer),
                bounds=optional(box),
            )
        )
        leaves = ids_from_json(parsed(response, LeavesResponse).leaf_ids, "get_leaves")
        return as_caveclient_ids(leaves, "get_leaves")

    @api_method
    def get_leaves_many(
        self, root_ids: Any, bounds: Any = None, stop_layer: int | None = None
    ) -> Plan[dict[np.int64, Int64Array]]:
        """Leaves of many nodes at once.

        Calls ``POST /segmentation/api/v1/table/{table_id}/node/leaves_many``,
        ``CHUNKEDGRAPH_LEAVES_CHUNK_SIZE`` (20) nodes per request, concurrently (a progress bar shows for
        many chunks when switched on).

        Parameters
        ----------
        root_ids : array-like of int
            Ids as a list, NumPy array (any integer dtype) or pandas Series; a single int is accepted.
        bounds : array-like, optional
            A box ``[[xmin, xmax], [ymin, ymax], [zmin, zmax]]`` in chunkedgraph (base resolution)
            voxels; default: no limit.
        stop_layer : int, optional
            Return the ancestors at this layer (2 = level-2 nodes) instead of supervoxels / roots.

        Returns
        -------
        dict of numpy.int64 to numpy.ndarray
            Node id -> its int64 leaves, in input order (duplicates once).

        Raises
        ------
        InvalidInputError
            An id is not an integer, a datetime is naive, or another argument is malformed (before any
            request).
        NotFoundError, BadRequestError
            The server does not know the id.
        AuthenticationError
            The token is missing, invalid or expired.
        PermissionDeniedError
            The token lacks the permission this needs.
        CAVEConnectionError
            The server could not be reached (after the client's retries).
        """
        ids = unique_in_order(as_id_array("root_ids", root_ids))
        box = as_bounds("bounds", bounds)
        layer = _layer("stop_layer", stop_layer)
        if ids.size == 0:
            return {}
        api, table = yield from self._target()
        _, responses = yield from self._bulk(
            ids,
            _defaults.CHUNKEDGRAPH_LEAVES_CHUNK_SIZE,
            lambda chunk: read(
                leaves_many_route.sync_detailed,
                leaves_many_route.asyncio_detailed,
                table,
                client=api,
                body=NodeIdsRequest(node_ids=chunk.tolist()),
                stop_layer=optional(layer),
                bounds=optional(box),
            ),
            "get_leaves_many",
        )
        answered: dict[int, Int64Array] = {}
        for response in responses:
            for key, leaves in parsed(response, IdListMap).additional_properties.items():
                found = ids_from_json(leaves, "get_leaves_many")
                answered[_int_key(key, "get_leaves_many")] = as_caveclient_ids(found, "get_leaves_many")
        keys = as_caveclient_ids(ids, "get_leaves_many")
        return {
            key: answered[root] for key, root in zip(keys, ids.tolist(), strict=True) if root in answered
        }

    @api_method
    def get_children(self, node_id: int) -> Plan[Int64Array]:
        """Direct children of a node (empty for a supervoxel).

        Calls ``GET /segmentation/api/v1/table/{table_id}/node/{node_id}/children``.

        Parameters
        ----------
        node_id : int
            A node id.

        Returns
        -------
        numpy.ndarray
            int64 ids (as caveclient types them).

        Raises
        ------
        InvalidInputError
            An id is not an integer, a datetime is naive, or another argument is malformed (before any
            request).
        NotFoundError, BadRequestError
            The server does not know the id.
        AuthenticationError
            The token is missing, invalid or expired.
        PermissionDeniedError
            The token lacks the permission this needs.
        CAVEConnectionError
            The server could not be reached (after the client's retries).
        """
        node = as_id("node_id", node_id)
        api, table = yield from self._target()
        response = yield from fetch(
            read(children_route.sync_detailed, children_route.asyncio_detailed, table, node, client=api)
        )
        children = ids_from_json(parsed(response, ChildrenResponse).children_ids, "get_children")
        return as_caveclient_ids(children, "get_children")

    @api_method
    def get_minimal_covering_nodes(self, node_ids: Any) -> Plan[IdArray]:
        """The fewest, highest nodes whose leaves are exactly the leaves of `node_ids`.

        Calls ``POST /segmentation/api/v1/table/{table_id}/minimal_covering_nodes`` (chunkedgraph 2.18.0
        or later; 3.0.5 in the 3.x line).

        Parameters
        ----------
        node_ids : array-like of int
            Ids as a list, NumPy array (any integer dtype) or pandas Series; a single int is accepted.

        Returns
        -------
        numpy.ndarray
            uint64 ids.

        Raises
        ------
        ServerIncompatibilityError
            The server reports a version without this route (before 2.18.0, or 3.0.0 to 3.0.4).
        InvalidInputError
            An id is not an integer, a datetime is naive, or another argument is malformed (before any
            request).
        AuthenticationError
            The token is missing, invalid or expired.
        CAVEConnectionError
            The server could not be reached (after the client's retries).
        """
        ids = as_id_array("node_ids", node_ids, allow_empty=False)
        yield from self._require_server_version(
            "get_minimal_covering_nodes", ((2, 18, 0), (3,)), ((3, 0, 5), None)
        )
        api, table = yield from self._target()
        response = yield from fetch(
            read(
                covering_route.sync_detailed,
                covering_route.asyncio_detailed,
                table,
                client=api,
                body=NodeIdsRequest(node_ids=ids.tolist()),
                as_array=True,
            )
        )
        return ids_from_bytes(response.content, None, "get_minimal_covering_nodes")

    # ------------------------------------------------------------ edits

    @api_method
    def do_merge(
        self, supervoxels: Any, coords: Any, resolution: Sequence[float] = (4, 4, 40)
    ) -> Plan[EditResult]:
        """Merge the segments of two supervoxels (an edit: needs the ``edit`` permission).

        Calls ``POST /segmentation/api/v1/table/{table_id}/merge``. Never retried once the request may
        have reached the server.

        Parameters
        ----------
        supervoxels : array-like of int
            The two supervoxel ids to join.
        coords : array-like
            Their positions, a 2x3 array, in voxels of `resolution`.
        resolution : sequence of float, default (4, 4, 40)
            nm per unit of `coords`.

        Returns
        -------
        EditResult
            A dict: ``operation_id`` and ``new_root_ids`` (the merged root).

        Raises
        ------
        InvalidInputError
            An id is not an integer, a datetime is naive, or another argument is malformed (before any
            request).
        BadRequestError
            The server refused the edit (e.g. the supervoxels are already in one segment).
        PermissionDeniedError
            The token lacks the permission this needs.
        AuthenticationError
            The token is missing, invalid or expired.
        CAVEConnectionError
            The server could not be reached (after the client's retries).
        """
        ids = as_id_array("supervoxels", supervoxels)
        if ids.size != 2:
            raise InvalidInputError(
                "supervoxels", f"a merge joins exactly 2 supervoxels, not {ids.size}"
            )
        points = _points("coords", coords, count=2)
        scale = as_resolution("resolution", resolution)
        assert scale is not None
        body = [
            _edit_point(int(node), [x * s for x, s in zip(point, scale, strict=True)])
            for node, point in zip(ids.tolist(), points, strict=True)
        ]
        api, table = yield from self._target()
        response = yield from fetch(
            write(
                merge_route.sync_detailed,
                merge_route.asyncio_detailed,
                table,
                client=api,
                body=body,
                priority=False,
            )
        )
        return _edit_result(parsed(response, EditResultModel))

    @api_method
    def undo_operation(self, operation_id: int) -> Plan[EditResult]:
        """Undo an edit (needs the ``edit`` permission).

        Calls ``POST /segmentation/api/v1/table/{table_id}/undo``. Never retried once the request may
        have reached the server.

        Parameters
        ----------
        operation_id : int
            The edit to undo.

        Returns
        -------
        EditResult
            A dict: the undo's ``operation_id`` and the ``new_root_ids`` it created.

        Raises
        ------
        InvalidInputError
            An id is not an integer, a datetime is naive, or another argument is malformed (before any
            request).
        BadRequestError, NotFoundError
            The operation cannot be undone or does not exist.
        PermissionDeniedError
            The token lacks the permission this needs.
        AuthenticationError
            The token is missing, invalid or expired.
        CAVEConnectionError
            The server could not be reached (after the client's retries).
        """
        operation = as_id("operation_id", operation_id)
        api, table = yield from self._target()
        response = yield from fetch(
            write(
                undo_route.sync_detailed,
                undo_route.asyncio_detailed,
                table,
                client=api,
                body=UndoRequest(operation_id=operation),
                priority=False,
            )
        )
        return _edit_result(parsed(response, EditResultModel))

    @api_method
    def execute_split(
        self,
        source_points: Any,
        sink_points: Any,
        root_id: int,
        source_supervoxels: Any = None,
        sink_supervoxels: Any = None,
    ) -> Plan[tuple[int, list[int]]]:
        """Split a segment between source and sink points (needs the ``edit`` permission).

        Calls ``POST /segmentation/api/v1/table/{table_id}/split``. Never retried once the request may
        have reached the server.

        Parameters
        ----------
        source_points : array-like
            (n, 3) positions in nm on the side to keep together.
        sink_points : array-like
            (m, 3) positions in nm on the other side.
        root_id : int
            The segment to split.
        source_supervoxels : array-like of int, optional
            The supervoxel under each source point; looked up by the server near the point within
            `root_id` when not given.
        sink_supervoxels : array-like of int, optional
            The supervoxel under each sink point (same rule).

        Returns
        -------
        tuple of (int, list of int)
            The operation id and the new root ids.

        Raises
        ------
        InvalidInputError
            An id is not an integer, a datetime is naive, or another argument is malformed (before any
            request).
        BadRequestError
            The server refused the split (e.g. the points cannot be separated).
        PermissionDeniedError
            The token lacks the permission this needs.
        AuthenticationError
            The token is missing, invalid or expired.
        CAVEConnectionError
            The server could not be reached (after the client's retries).
        """
        body = _split_request(root_id, source_points, sink_points, source_supervoxels, sink_supervoxels)
        api, table = yield from self._target()
        response = yield from fetch(
            write(
                split_route.sync_detailed,
                split_route.asyncio_detailed,
                table,
                client=api,
                body=body,
                priority=False,
            )
        )
        result = _edit_result(parsed(response, EditResultModel))
        operation_id = result["operation_id"]
        if operation_id is None:
            raise UnexpectedResponseError("the split was answered without an operation id")
        return operation_id, result["new_root_ids"]

    @api_method
    def preview_split(
        self,
        source_points: Any,
        sink_points: Any,
        root_id: int,
        source_supervoxels: Any = None,
        sink_supervoxels: Any = None,
        return_additional_ccs: bool = False,
    ) -> Plan[tuple[list[int], list[int], bool] | tuple[list[int], list[int], bool, list[list[int]]]]:
        """What ``execute_split()`` would do, without doing it.

        Calls ``POST /segmentation/api/v1/table/{table_id}/graph/split_preview``.

        Parameters
        ----------
        source_points : array-like
            (n, 3) positions in nm on one side.
        sink_points : array-like
            (m, 3) positions in nm on the other side.
        root_id : int
            The segment to split.
        source_supervoxels : array-like of int, optional
            The supervoxel under each source point (looked up by the server when not given).
        sink_supervoxels : array-like of int, optional
            The supervoxel under each sink point.
        return_additional_ccs : bool, default False
            Also return the other connected components the cut would leave.

        Returns
        -------
        tuple
            ``(source supervoxels, sink supervoxels, legal)``: two lists of int and whether the split is
            legal; with `return_additional_ccs`, a fourth element: a list of lists of int.

        Raises
        ------
        InvalidInputError
            An id is not an integer, a datetime is naive, or another argument is malformed (before any
            request).
        AuthenticationError
            The token is missing, invalid or expired.
        PermissionDeniedError
            The token lacks the permission this needs.
        CAVEConnectionError
            The server could not be reached (after the client's retries).
        """
        body = _split_request(root_id, source_points, sink_points, source_supervoxels, sink_supervoxels)
        api, table = yield from self._target()
        response = yield from fetch(
            read(
                split_preview_route.sync_detailed,
                split_preview_route.asyncio_detailed,
                table,
                client=api,
                body=body,
            )
        )
        preview = parsed(response, SplitPreview)
        components = [
            id_list_from_json(component, "preview_split")
            for component in preview.supervoxel_connected_components
        ]
        if len(components) < 2:
            raise UnexpectedResponseError("preview_split: expected at least two components")
        success = not preview.illegal_split
        if return_additional_ccs:
            return components[0], components[1], success, components[2:]
        return components[0], components[1], success

    @api_method
    def remesh_level2_chunks(self, chunk_ids: Any) -> Plan[None]:
        """Ask the meshing backend to rebuild the meshes of level-2 ids (it answers at once).

        Calls ``POST /meshing/api/v1/table/{table_id}/remeshing``.

        Parameters
        ----------
        chunk_ids : array-like of int
            Ids as a list, NumPy array (any integer dtype) or pandas Series; a single int is accepted.

        Returns
        -------
        None

        Raises
        ------
        InvalidInputError
            An id is not an integer, a datetime is naive, or another argument is malformed (before any
            request).
        AuthenticationError
            The token is missing, invalid or expired.
        PermissionDeniedError
            The token lacks the permission this needs.
        CAVEConnectionError
            The server could not be reached (after the client's retries).
        """
        ids = as_id_array("chunk_ids", chunk_ids, allow_empty=False)
        api, table = yield from self._target()
        yield from fetch(
            write(
                remesh_route.sync_detailed,
                remesh_route.asyncio_detailed,
                table,
                client=api,
                body=RemeshRequest(new_lvl2_ids=ids.tolist()),
                priority=optional(None),
                use_redis=optional(None),
            )
        )

    # ------------------------------------------------------------ history

    @api_method
    def get_merge_log(self, root_id: int) -> Plan[MergeLog]:
        """The supervoxel edges and points of every merge in the history of a root.

        Calls ``GET /segmentation/api/v1/table/{table_id}/root/{root_id}/merge_log``.

        Parameters
        ----------
        root_id : int
            A root id.

        Returns
        -------
        MergeLog
            A dict: ``merge_edges`` (pairs of supervoxel ids), ``merge_edge_coords`` (their points).

        Raises
        ------
        InvalidInputError
            An id is not an integer, a datetime is naive, or another argument is malformed (before any
            request).
        NotFoundError, BadRequestError
            The server does not know the id.
        AuthenticationError
            The token is missing, invalid or expired.
        PermissionDeniedError
            The token lacks the permission this needs.
        CAVEConnectionError
            The server could not be reached (after the client's retries).
        """
        node = as_id("root_id", root_id)
        api, table = yield from self._target()
        response = yield from fetch(
            read(
                merge_log_route.sync_detailed, merge_log_route.asyncio_detailed, table, node, client=api
            )
        )
        return cast(MergeLog, parsed(response, MergeLogModel).to_dict())

    @api_method
    def get_change_log(self, root_id: int, filtered: bool = True) -> Plan[ChangeLog]:
        """Summary of the edits in a root's history.

        Calls ``GET /segmentation/api/v1/table/{table_id}/root/{root_id}/change_log``.

        Parameters
        ----------
        root_id : int
            A root id.
        filtered : bool, default True
            Keep only the edits that still shape the root.

        Returns
        -------
        ChangeLog
            A dict: ``n_mergers``, ``n_splits``, ``operations_ids``, ``past_ids``, ``user_info`` (counts
            per user).

        Raises
        ------
        InvalidInputError
            An id is not an integer, a datetime is naive, or another argument is malformed (before any
            request).
        NotFoundError, BadRequestError
            The server does not know the id.
        AuthenticationError
            The token is missing, invalid or expired.
        PermissionDeniedError
            The token lacks the permission this needs.
        CAVEConnectionError
            The server could not be reached (after the client's retries).
        """
        node = as_id("root_id", root_id)
        api, table = yield from self._target()
        response = yield from fetch(
            read(
                change_log_route.sync_detailed,
                change_log_route.asyncio_detailed,
                table,
                node,
                client=api,
                filtered=bool(filtered),
                timestamp=optional(None),
            )
        )
        return cast(ChangeLog, parsed(response, ChangeLogSummary).to_dict())

    @api_method
    def get_tabular_change_log(
        self, root_ids: Any, filtered: bool = True
    ) -> Plan[dict[int, pd.DataFrame]]:
        """One DataFrame of edits per root.

        Calls ``GET /segmentation/api/v1/table/{table_id}/tabular_change_log_many``.

        Parameters
        ----------
        root_ids : array-like of int
            Ids as a list, NumPy array (any integer dtype) or pandas Series; a single int is accepted.
        filtered : bool, default True
            Keep only the edits that still shape each root; False adds the columns ``in_neuron`` and
            ``is_relevant`` and lists every edit.

        Returns
        -------
        dict of int to pandas.DataFrame
            Root id -> a frame as caveclient 8.2.1 gives it: columns ``operation_id``, ``timestamp``
            (epoch milliseconds, int64), ``user_id``, ``before_root_ids`` / ``after_root_ids`` (lists of
            ints), ``is_merge``, ``user_name``, ``user_affiliation`` (and ``in_neuron``, ``is_relevant``
            unless `filtered`), indexed by the server's row labels (``"0"``, ``"1"``, ...). No root ids
            give ``{}``.

        Raises
        ------
        InvalidInputError
            An id is not an integer, a datetime is naive, or another argument is malformed (before any
            request).
        NotFoundError, BadRequestError
            The server does not know the id.
        AuthenticationError
            The token is missing, invalid or expired.
        PermissionDeniedError
            The token lacks the permission this needs.
        CAVEConnectionError
            The server could not be reached (after the client's retries).
        """
        ids = unique_in_order(as_id_array("root_ids", root_ids))
        if ids.size == 0:
            return {}
        api, table = yield from self._target()
        response = yield from fetch(
            read(
                tabular_change_log_route.sync_detailed,
                tabular_change_log_route.asyncio_detailed,
                table,
                client=api,
                body=RootIdsRequest(root_ids=ids.tolist()),
                filtered=bool(filtered),
            )
        )
        frames = parsed(response, TabularChangeLogMap).additional_properties
        return {
            _int_key(key, "get_tabular_change_log"): frame_from_json_text(
                text, f"change log of {key}", as_sent=True
            )
            for key, text in frames.items()
        }

    @api_method
    def get_user_operations(
        self,
        user_id: int,
        timestamp_start: datetime | None,
        include_undo: bool = True,
        timestamp_end: datetime | None = None,
    ) -> Plan[pd.DataFrame]:
        """Edits made by one user between two times (admins only).

        Calls ``GET /segmentation/api/v1/table/{table_id}/user_operations``.

        Parameters
        ----------
        user_id : int
            The user (a positive id: 0 is refused, since PyChunkedGraph matches no operation without a
            user and the empty answer would read as "no operations").
        timestamp_start : datetime.datetime or None
            Earliest time (timezone-aware); None: from the beginning.
        include_undo : bool, default True
            Also list undone edits and the undos themselves (caveclient sent it under a name the server
            ignores).
        timestamp_end : datetime.datetime, optional
            Latest time (default: the chunkedgraph's ``timestamp``, else now).

        Returns
        -------
        pandas.DataFrame
            One row per operation: ``operation_id``, ``timestamp`` (UTC), and the other columns the
            server sends.

        Raises
        ------
        InvalidInputError
            `user_id` is 0 or not an integer, a datetime is naive, or another argument is malformed
            (before any request).
        AuthenticationError
            The token is missing, invalid or expired.
        PermissionDeniedError
            The token lacks the permission this needs.
        CAVEConnectionError
            The server could not be reached (after the client's retries).
        """
        user = _non_negative_int("user_id", user_id)
        if user == 0:
            raise InvalidInputError(
                "user_id",
                "must name a user: without one the chunkedgraph matches no operation "
                "(0 is not 'all users'); ask for each user's operations",
            )
        start = as_utc("timestamp_start", timestamp_start)
        end = yield from self._moment("timestamp_end", timestamp_end)
        api, table = yield from self._target()
        response = yield from fetch(
            read(
                user_operations_route.sync_detailed,
                user_operations_route.asyncio_detailed,
                table,
                client=api,
                user_id=optional(user if user > 0 else None),
                start_time=optional(None if start is None else start.timestamp()),
                end_time=end.timestamp(),
                include_undone=bool(include_undo),
            )
        )
        frame = parsed(response, UserOperationsFrame).to_dict()
        return frame_from_columns(frame, "get_user_operations")

    @api_method
    def get_operation_details(self, operation_ids: Any) -> Plan[dict[str, OperationDetails]]:
        """The log record of each operation.

        Calls ``GET /segmentation/api/v1/table/{table_id}/operation_details``.

        Parameters
        ----------
        operation_ids : array-like of int
            Ids as a list, NumPy array (any integer dtype) or pandas Series; a single int is accepted.

        Returns
        -------
        dict of str to OperationDetails
            Operation id (as a decimal string) -> its record (``user``, ``timestamp``, ``roots``,
            ``added_edges`` / ``removed_edges``, ``source_coords`` / ``sink_coords``, ...). Unknown ids
            are left out.

        Raises
        ------
        InvalidInputError
            An id is not an integer, a datetime is naive, or another argument is malformed (before any
            request).
        AuthenticationError
            The token is missing, invalid or expired.
        PermissionDeniedError
            The token lacks the permission this needs.
        CAVEConnectionError
            The server could not be reached (after the client's retries).
        """
        ids = as_id_array("operation_ids", operation_ids)
        api, table = yield from self._target()
        response = yield from fetch(
            read(
                operation_details_route.sync_detailed,
                operation_details_route.asyncio_detailed,
                table,
                client=api,
                operation_ids=json.dumps(ids.tolist()),
            )
        )
        records = parsed(response, OperationDetailsMap).additional_properties
        return {key: cast(OperationDetails, record.to_dict()) for key, record in records.items()}

    @api_method
    def get_lineage_graph(
        self,
        root_id: Any,
        timestamp_past: datetime | None = None,
        timestamp_future: datetime | None = None,
        as_nx_graph: bool = False,
        exclude_links_to_future: bool = False,
        exclude_links_to_past: bool = False,
    ) -> Plan[LineageGraph | Any]:
        """The graph of roots linked by edits around one or several roots.

        Calls ``POST /segmentation/api/v1/table/{table_id}/lineage_graph_multiple``.

        Parameters
        ----------
        root_id : int or array-like of int
            One root id or several.
        timestamp_past : datetime.datetime, optional
            How far back to go (timezone-aware; default: the beginning).
        timestamp_future : datetime.datetime, optional
            How far forward (default: the chunkedgraph's ``timestamp``, else now).
        as_nx_graph : bool, default False
            Return a ``networkx.DiGraph`` (needs the optional package networkx).
        exclude_links_to_future : bool, default False
            Drop the roots beyond `timestamp_future` that the server keeps linked.
        exclude_links_to_past : bool, default False
            Drop the roots before `timestamp_past` that the server keeps linked.

        Returns
        -------
        LineageGraph or networkx.DiGraph
            The networkx node-link dict (``nodes`` with ``id``, ``timestamp`` in epoch seconds,
            ``operation_id``; ``links`` with ``source``, ``target``), or the graph itself. No root ids
            give an empty graph.

        Raises
        ------
        ImportError
            `as_nx_graph` without networkx installed.
        InvalidInputError
            An id is not an integer, a datetime is naive, or another argument is malformed (before any
            request).
        AuthenticationError
            The token is missing, invalid or expired.
        CAVEConnectionError
            The server could not be reached (after the client's retries).
        """
        if as_id_array("root_id", root_id).size == 0:
            empty = LineageGraph(directed=True, multigraph=False, graph={}, nodes=[], links=[])
            return _lineage.to_networkx(empty) if as_nx_graph else empty
        graph = yield from self._lineage_graph(
            root_id,
            timestamp_past,
            timestamp_future,
            exclude_links_to_future=exclude_links_to_future,
            exclude_links_to_past=exclude_links_to_past,
        )
        return _lineage.to_networkx(graph) if as_nx_graph else graph

    def _lineage_graph(
        self,
        root_id: Any,
        timestamp_past: Any,
        timestamp_future: Any,
        *,
        exclude_links_to_future: bool = False,
        exclude_links_to_past: bool = False,
    ) -> Plan[LineageGraph]:
        ids = unique_in_order(as_id_array("root_id", root_id, allow_empty=False))
        past = as_utc("timestamp_past", timestamp_past)
        future = yield from self._moment("timestamp_future", timestamp_future)
        api, table = yield from self._target()
        response = yield from fetch(
            read(
                lineage_route.sync_detailed,
                lineage_route.asyncio_detailed,
                table,
                client=api,
                body=RootIdsRequest(root_ids=ids.tolist()),
                timestamp_past=optional(None if past is None else past.timestamp()),
                timestamp_future=future.timestamp(),
            )
        )
        graph = cast(LineageGraph, parsed(response, LineageGraphModel).to_dict())
        return _lineage.prune(
            graph,
            before=past.timestamp() if exclude_links_to_past and past is not None else None,
            after=future.timestamp() if exclude_links_to_future else None,
        )

    @api_method
    def get_latest_roots(
        self,
        root_id: Any,
        timestamp: datetime | None = None,
        timestamp_future: datetime | None = None,
    ) -> Plan[Int64Array]:
        """The roots current at `timestamp` that share supervoxels with `root_id`.

        Calls ``POST /segmentation/api/v1/table/{table_id}/lineage_graph_multiple`` and
        ``POST /segmentation/api/v1/table/{table_id}/is_latest_roots`` (and
        ``POST /segmentation/api/v1/table/{table_id}/roots_binary`` when a candidate is not current):
        every id returned is current.

        Parameters
        ----------
        root_id : int or array-like of int
            A root id.
        timestamp : datetime.datetime, optional
            A timezone-aware moment (naive datetimes are refused). Default: the chunkedgraph's
            ``timestamp`` (the pinned version's time when the client has a version), else now.
        timestamp_future : datetime.datetime, optional
            caveclient's deprecated name for `timestamp`.

        Returns
        -------
        numpy.ndarray
            int64 root ids.

        Raises
        ------
        InvalidInputError
            An id is not an integer, a datetime is naive, or another argument is malformed (before any
            request).
        AuthenticationError
            The token is missing, invalid or expired.
        PermissionDeniedError
            The token lacks the permission this needs.
        CAVEConnectionError
            The server could not be reached (after the client's retries).
        """
        ids = unique_in_order(as_id_array("root_id", root_id, allow_empty=False))
        if timestamp_future is not None:
            if timestamp is not None:
                raise InvalidInputError("timestamp_future", "give either timestamp or timestamp_future")
            warnings.warn(
                "timestamp_future is deprecated; use timestamp", DeprecationWarning, stacklevel=2
            )
            timestamp = timestamp_future
        moment = yield from self._moment(
            "timestamp" if timestamp_future is None else "timestamp_future", timestamp
        )
        created = yield from ChunkedGraphClient.get_root_timestamps.plan(self, ids)
        oldest: datetime = min(created.tolist())
        if oldest < moment:
            graph = yield from self._lineage_graph(ids, oldest, moment, exclude_links_to_future=True)
            candidates = _lineage.leaves(graph)
        else:
            graph = yield from self._lineage_graph(ids, moment, oldest)
            candidates = _lineage.sources(graph)
        current = yield from self._current_roots(candidates, moment)
        return as_caveclient_ids(current, "get_latest_roots")

    def _current_roots(self, candidates: IdArray, moment: datetime) -> Plan[IdArray]:
        """The candidates current at `moment`; stale ones replaced by their supervoxels' roots."""
        import numpy as np

        current = yield from ChunkedGraphClient.is_latest_roots.plan(self, candidates, moment)
        found = [candidates[current]]
        for stale in candidates[~current].tolist():
            logger.info("lineage leaf %d is not current; resolving it through its supervoxels", stale)
            leaves = yield from ChunkedGraphClient.get_leaves.plan(self, stale)
            roots = yield from ChunkedGraphClient.get_roots.plan(self, leaves, moment)
            found.append(roots[roots != 0])
        return unique_in_order(np.concatenate(found))

    @api_method
    def get_original_roots(
        self, root_id: Any, timestamp_past: datetime | None = None
    ) -> Plan[Int64Array]:
        """The oldest ancestors of a root.

        Calls ``POST /segmentation/api/v1/table/{table_id}/lineage_graph_multiple``.

        Parameters
        ----------
        root_id : int or array-like of int
            A root id.
        timestamp_past : datetime.datetime, optional
            How far back to go (timezone-aware; default: the beginning).

        Returns
        -------
        numpy.ndarray
            int64 root ids.

        Raises
        ------
        InvalidInputError
            An id is not an integer, a datetime is naive, or another argument is malformed (before any
            request).
        AuthenticationError
            The token is missing, invalid or expired.
        PermissionDeniedError
            The token lacks the permission this needs.
        CAVEConnectionError
            The server could not be reached (after the client's retries).
        """
        ids = unique_in_order(as_id_array("root_id", root_id, allow_empty=False))
        past = as_utc("timestamp_past", timestamp_past)
        created = yield from ChunkedGraphClient.get_root_timestamps.plan(self, ids)
        newest: datetime = max(created.tolist())
        graph = yield from self._lineage_graph(ids, past, newest)
        return as_caveclient_ids(_lineage.sources(graph), "get_original_roots")

    @api_method
    def suggest_latest_roots(
        self,
        root_id: int,
        timestamp: datetime | None = None,
        stop_layer: int | None = None,
        return_all: bool = False,
        return_fraction_overlap: bool = False,
    ) -> Plan[int | IdArray | tuple[int, float] | tuple[IdArray, npt.NDArray[np.float64]]]:
        """Current roots ranked by how much of a root they hold.

        Calls ``GET /segmentation/api/v1/table/{table_id}/node/{node_id}/leaves`` (the root's nodes at
        `stop_layer`) and ``POST /segmentation/api/v1/table/{table_id}/roots_binary`` (their roots at
        `timestamp`).

        Parameters
        ----------
        root_id : int
            A root id, possibly outdated.
        timestamp : datetime.datetime, optional
            A timezone-aware moment (naive datetimes are refused). Default: the chunkedgraph's
            ``timestamp`` (the pinned version's time when the client has a version), else now.
        stop_layer : int, optional
            The layer whose chunks are counted (default: 4 layers below the root layer).
        return_all : bool, default False
            Return every candidate, most overlap first, instead of the best.
        return_fraction_overlap : bool, default False
            Also return the fraction of the root's chunks each candidate holds.

        Returns
        -------
        int, numpy.ndarray, or tuple
            The best root; with `return_all` a uint64 array; with `return_fraction_overlap` a tuple of
            those and the float fraction(s).

        Raises
        ------
        InvalidInputError
            An id is not an integer, a datetime is naive, or another argument is malformed (before any
            request).
        NotFoundError, BadRequestError
            The server does not know the id.
        AuthenticationError
            The token is missing, invalid or expired.
        PermissionDeniedError
            The token lacks the permission this needs.
        CAVEConnectionError
            The server could not be reached (after the client's retries).
        """
        import numpy as np

        node = as_id("root_id", root_id)
        moment = yield from self._moment("timestamp", timestamp)
        layer = _layer("stop_layer", stop_layer)
        if layer is None:
            info = yield from ChunkedGraphClient.segmentation_info.plan(self)
            layer = int(info.get("graph", {}).get("n_layers", 6)) - SUGGEST_LAYERS_BELOW_ROOT
        layer = max(1, layer)
        chunks = yield from ChunkedGraphClient.get_leaves.plan(self, node, stop_layer=layer)
        if chunks.size == 0:
            raise UnexpectedResponseError(f"root {node} has no nodes at layer {layer}")
        roots = yield from ChunkedGraphClient.get_roots.plan(self, chunks, timestamp=moment)
        unique_roots, counts = np.unique(roots, return_counts=True)
        # caveclient's very sort: roots with as many chunks come in the order it gives them.
        order = np.argsort(counts)[::-1]
        candidates: IdArray = unique_roots[order]
        fractions: npt.NDArray[np.float64] = counts[order] / chunks.size
        if return_fraction_overlap:
            if return_all:
                return candidates, fractions
            return int(candidates[0]), float(fractions[0])
        if return_all:
            return candidates
        return int(candidates[0])

    @api_method
    def get_past_ids(
        self,
        root_ids: Any,
        timestamp_past: datetime | None = None,
        timestamp_future: datetime | None = None,
    ) -> Plan[PastIdMapping]:
        """Ancestors of roots at a past time, and what each ancestor became.

        Calls ``GET /segmentation/api/v1/table/{table_id}/past_id_mapping``.

        Parameters
        ----------
        root_ids : array-like of int
            Ids as a list, NumPy array (any integer dtype) or pandas Series; a single int is accepted.
        timestamp_past : datetime.datetime, optional
            The past moment (timezone-aware; default: the beginning).
        timestamp_future : datetime.datetime, optional
            The later moment (default: the chunkedgraph's ``timestamp``, else now).

        Returns
        -------
        PastIdMapping
            A dict: ``past_id_map`` (root id -> list of ints: its ancestors at `timestamp_past`) and
            ``future_id_map`` (ancestor -> the one root it unambiguously became by `timestamp_future`).
            Keys are ints. No root ids give two empty maps.

        Raises
        ------
        InvalidInputError
            An id is not an integer, a datetime is naive, or another argument is malformed (before any
            request).
        AuthenticationError
            The token is missing, invalid or expired.
        PermissionDeniedError
            The token lacks the permission this needs.
        CAVEConnectionError
            The server could not be reached (after the client's retries).
        """
        ids = unique_in_order(as_id_array("root_ids", root_ids))
        past = as_utc("timestamp_past", timestamp_past)
        future = as_utc("timestamp_future", timestamp_future)
        if ids.size == 0:
            return {"past_id_map": {}, "future_id_map": {}}
        api, table = yield from self._target()
        response = yield from fetch(
            read(
                past_ids_route.sync_detailed,
                past_ids_route.asyncio_detailed,
                table,
                client=api,
                body=RootIdsRequest(root_ids=ids.tolist()),
                timestamp_past=optional(None if past is None else past.timestamp()),
                timestamp_future=optional(None if future is None else future.timestamp()),
            )
        )
        mapping = parsed(response, PastIdMappingModel)
        return {
            "past_id_map": {
                _int_key(key, "past_id_map"): ids_from_json(values, "past_id_map").tolist()
                for key, values in mapping.past_id_map.additional_properties.items()
            },
            "future_id_map": {
                _int_key(key, "future_id_map"): int(value)
                for key, value in mapping.future_id_map.additional_properties.items()
            },
        }

    @api_method
    def get_delta_roots(
        self, timestamp_past: datetime, timestamp_future: datetime | None = None
    ) -> Plan[tuple[Int64Array, Int64Array]]:
        """Roots retired and roots created by edits between two times.

        Calls ``GET /segmentation/api/v1/table/{table_id}/delta_roots``.

        Parameters
        ----------
        timestamp_past : datetime.datetime
            The start (timezone-aware).
        timestamp_future : datetime.datetime, optional
            The end (default: the chunkedgraph's ``timestamp``, else now).

        Returns
        -------
        tuple of (numpy.ndarray, numpy.ndarray)
            (old roots, new roots) as int64 arrays.

        Raises
        ------
        InvalidInputError
            An id is not an integer, a datetime is naive, or another argument is malformed (before any
            request).
        AuthenticationError
            The token is missing, invalid or expired.
        PermissionDeniedError
            The token lacks the permission this needs.
        CAVEConnectionError
            The server could not be reached (after the client's retries).
        """
        past = as_utc("timestamp_past", timestamp_past)
        if past is None:
            raise InvalidInputError("timestamp_past", "is required")
        future = yield from self._moment("timestamp_future", timestamp_future)
        api, table = yield from self._target()
        response = yield from fetch(
            read(
                delta_roots_route.sync_detailed,
                delta_roots_route.asyncio_detailed,
                table,
                client=api,
                timestamp_past=past.timestamp(),
                timestamp_future=future.timestamp(),
            )
        )
        delta = parsed(response, DeltaRoots)
        return (
            as_caveclient_ids(ids_from_json(delta.old_roots, "old_roots"), "get_delta_roots"),
            as_caveclient_ids(ids_from_json(delta.new_roots, "new_roots"), "get_delta_roots"),
        )

    @api_method
    def get_oldest_timestamp(self) -> Plan[datetime]:
        """The earliest time the table has data for.

        Calls ``GET /segmentation/api/v1/table/{table_id}/oldest_timestamp``.

        Returns
        -------
        datetime.datetime
            Timezone-aware (UTC).

        Raises
        ------
        AuthenticationError
            The token is missing, invalid or expired.
        CAVEConnectionError
            The server could not be reached (after the client's retries).
        """
        api, table = yield from self._target()
        response = yield from fetch(
            read(
                oldest_timestamp_route.sync_detailed,
                oldest_timestamp_route.asyncio_detailed,
                table,
                client=api,
            )
        )
        text = parsed(response, OldestTimestamp).iso
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise UnexpectedResponseError(f"oldest_timestamp: {text!r} is not ISO 8601") from None
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)

    # ------------------------------------------------------------ graph structure

    @api_method
    def get_contact_sites(
        self, root_id: int, bounds: Any, calc_partners: bool = False
    ) -> Plan[ContactSites]:
        """Contact sites of a root within a box, as PyChunkedGraph answers them.

        Calls ``GET /segmentation/api/v1/table/{table_id}/node/{node_id}/contact_sites``. PyChunkedGraph
        2.21.1 fails every call of this route (a ServerError, status 500: the graph code passes an
        argument its subgraph lookup lacks). Without that bug, the route only succeeds when there are
        exactly two partners.

        Parameters
        ----------
        root_id : int
            A root id.
        bounds : array-like
            A box ``[[xmin, xmax], [ymin, ymax], [zmin, zmax]]`` in chunkedgraph voxels (required).
        calc_partners : bool, default False
            Key the answer by the partners' root ids (else 0 and 1).

        Returns
        -------
        ContactSites
            A dict with ``contact_sites`` and ``contact_site_metadata``, keyed by partner.

        Raises
        ------
        ServerError
            The server failed (PyChunkedGraph 2.21.1 always does), or found other than two partners.
        InvalidInputError
            An id is not an integer, a datetime is naive, or another argument is malformed (before any
            request).
        AuthenticationError
            The token is missing, invalid or expired.
        CAVEConnectionError
            The server could not be reached (after the client's retries).
        """
        node = as_id("root_id", root_id)
        box = as_bounds("bounds", bounds)
        api, table = yield from self._target()
        response = yield from fetch(
            read(
                contact_sites_route.sync_detailed,
                contact_sites_route.asyncio_detailed,
                table,
                node,
                client=api,
                partners=bool(calc_partners),
                bounds=optional(box),
            )
        )
        answer = parsed(response, ContactSitesResponse)
        return {
            "contact_sites": int(answer.contact_sites),
            "contact_site_metadata": int(answer.contact_site_metadata),
        }

    @api_method
    def find_path(
        self, root_id: int, src_pt: Any, dst_pt: Any, precision_mode: bool = False
    ) -> Plan[tuple[npt.NDArray[np.float64], Int64Array, IdArray]]:
        """Shortest level-2 path between two points of a root.

        Calls ``POST /segmentation/api/v1/table/{table_id}/graph/find_path``.

        Parameters
        ----------
        root_id : int
            A root id.
        src_pt : array-like
            Start point ``[x, y, z]`` in nm.
        dst_pt : array-like
            End point ``[x, y, z]`` in nm.
        precision_mode : bool, default False
            Ask the server for the precise (slower) path search.

        Returns
        -------
        tuple
            ``(centroids, l2_path, failed_l2_ids)``: float64 (n, 3) centroids in nm, the int64 level-2
            ids along the path, and the uint64 level-2 ids whose mesh centroid could not be computed
            (typed as caveclient 8.2.1 types them).

        Raises
        ------
        InvalidInputError
            An id is not an integer, a datetime is naive, or another argument is malformed (before any
            request).
        NotFoundError, BadRequestError
            The server does not know the id.
        AuthenticationError
            The token is missing, invalid or expired.
        PermissionDeniedError
            The token lacks the permission this needs.
        CAVEConnectionError
            The server could not be reached (after the client's retries).
        """
        import numpy as np

        node = as_id("root_id", root_id)
        source, target = _points("src_pt", [src_pt], count=1)[0], _points("dst_pt", [dst_pt], count=1)[0]
        body = [_edit_point(node, source), _edit_point(node, target)]
        api, table = yield from self._target()
        response = yield from fetch(
            read(
                find_path_route.sync_detailed,
                find_path_route.asyncio_detailed,
                table,
                client=api,
                body=body,
                precision_mode=bool(precision_mode),
            )
        )
        path = parsed(response, FindPathResult)
        centroids = np.array(path.centroids_list, dtype=np.float64).reshape(-1, 3)
        return (
            centroids,
            as_caveclient_ids(ids_from_json(path.l2_path, "l2_path"), "find_path"),
            ids_from_json(path.failed_l2_ids, "failed_l2_ids"),
        )

    @api_method
    def get_subgraph(
        self, root_id: int, bounds: Any
    ) -> Plan[tuple[Int64Array, npt.NDArray[np.float64], npt.NDArray[np.int32]]]:
        """Supervoxel edges of a node within a box.

        Calls ``GET /segmentation/api/v1/table/{table_id}/node/{node_id}/subgraph``.

        Parameters
        ----------
        root_id : int
            A node id.
        bounds : array-like
            A box ``[[xmin, xmax], [ymin, ymax], [zmin, zmax]]`` in chunkedgraph voxels.

        Returns
        -------
        tuple
            ``(edges, affinities, areas)``: (n, 2) int64 supervoxel pairs, float64 affinities and int32
            areas, typed as caveclient 8.2.1 types them (an area int32 cannot hold raises).

        Raises
        ------
        InvalidInputError
            An id is not an integer, a datetime is naive, or another argument is malformed (before any
            request).
        NotFoundError, BadRequestError
            The server does not know the id.
        AuthenticationError
            The token is missing, invalid or expired.
        PermissionDeniedError
            The token lacks the permission this needs.
        CAVEConnectionError
            The server could not be reached (after the client's retries).
        """
        import numpy as np

        node = as_id("root_id", root_id)
        box = as_bounds("bounds", bounds)
        api, table = yield from self._target()
        response = yield from fetch(
            read(
                subgraph_route.sync_detailed,
                subgraph_route.asyncio_detailed,
                table,
                node,
                client=api,
                bounds=optional(box),
            )
        )
        graph = parsed(response, Subgraph)
        edges = id_pairs_from_json(graph.nodes, "get_subgraph")
        areas = np.array(graph.areas, dtype=np.int64)
        if areas.size and (areas.max() > np.iinfo(np.int32).max or areas.min() < 0):
            raise UnexpectedResponseError("get_subgraph: an area does not fit in int32")
        return (
            as_caveclient_ids(edges.reshape(-1), "get_subgraph").reshape(edges.shape),
            np.array(graph.affinities, dtype=np.float64),
            areas.astype(np.int32),
        )

    @api_method
    def level2_chunk_graph(self, root_id: int, bounds: Any = None) -> Plan[list[list[int]]]:
        """Edges between the level-2 nodes of a root.

        Calls ``GET /segmentation/api/v1/table/{table_id}/node/{node_id}/lvl2_graph``.

        Parameters
        ----------
        root_id : int
            A root id.
        bounds : array-like, optional
            A box ``[[xmin, xmax], [ymin, ymax], [zmin, zmax]]`` in chunkedgraph (base resolution)
            voxels; default: no limit.

        Returns
        -------
        list of list of int
            ``[id, id]`` pairs of level-2 ids.

        Raises
        ------
        ServerIncompatibilityError
            `bounds` given to a server before 2.15.0: refused before any request when the server
            reports its version, else when its answer shows the bounds were not applied.
        InvalidInputError
            An id is not an integer, a datetime is naive, or another argument is malformed (before any
            request).
        AuthenticationError
            The token is missing, invalid or expired.
        CAVEConnectionError
            The server could not be reached (after the client's retries).
        """
        node = as_id("root_id", root_id)
        box = as_bounds("bounds", bounds)
        if box is not None:
            yield from self._require_server_version("level2_chunk_graph with bounds", ((2, 15, 0), None))
        api, table = yield from self._target()
        response = yield from fetch(
            read(
                lvl2_graph_route.sync_detailed,
                lvl2_graph_route.asyncio_detailed,
                table,
                node,
                client=api,
                bounds=optional(box),
            )
        )
        if box is not None and str(response.headers.get("Used-Bounds", "")).lower() != "true":
            raise ServerIncompatibilityError(
                "the chunkedgraph server ignored `bounds` (it needs version 2.15.0 or later); "
                "ask the administrators to update it, or call without bounds"
            )
        edges = id_pairs_from_json(parsed(response, Lvl2Graph).edge_graph, "level2_chunk_graph")
        pairs: list[list[int]] = edges.tolist()
        return pairs


# ---------------------------------------------------------------- input checks


def _layer(parameter: str, value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not _is_int(value) or int(value) < 1:
        raise InvalidInputError(parameter, f"must be a layer number (1 or more), not {value!r}")
    return int(value)


def _non_negative_int(parameter: str, value: Any) -> int:
    if isinstance(value, bool) or not _is_int(value) or int(value) < 0:
        raise InvalidInputError(parameter, f"must be a non-negative integer, not {value!r}")
    return int(value)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) or (type(value).__module__ == "numpy" and hasattr(value, "__index__"))


def _points(parameter: str, value: Any, *, count: int | None = None) -> list[list[float]]:
    """An (n, 3) list of finite coordinates."""
    import numpy as np

    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidInputError(parameter, "must be points [x, y, z]") from None
    if array.ndim != 2 or array.shape[1] != 3 or array.shape[0] == 0:
        raise InvalidInputError(
            parameter, f"must be a list of [x, y, z] points, not shape {array.shape}"
        )
    if count is not None and array.shape[0] != count:
        raise InvalidInputError(parameter, f"must hold {count} point(s), not {array.shape[0]}")
    if not np.isfinite(array).all():
        raise InvalidInputError(parameter, "holds a coordinate that is not a finite number")
    return cast(list[list[float]], array.tolist())


def _edit_point(node: int, point: Sequence[float]) -> list[float]:
    # The id stays a Python int so that the JSON carries it exactly (never as a float).
    return [node, *(float(value) for value in point)]


def _supervoxels_for(parameter: str, values: Any, count: int, root_id: int) -> list[int]:
    if values is None:
        return [root_id] * count
    if isinstance(values, str | bytes) or not hasattr(values, "__len__"):
        raise InvalidInputError(parameter, "must be a list of supervoxel ids (or None entries)")
    entries = list(values)
    if len(entries) != count:
        raise InvalidInputError(
            parameter, f"must have one entry per point ({count}), not {len(entries)}"
        )
    return [root_id if entry is None else as_id(parameter, entry) for entry in entries]


def _split_request(
    root_id: Any, source_points: Any, sink_points: Any, source_supervoxels: Any, sink_supervoxels: Any
) -> SplitRequest:
    root = as_id("root_id", root_id)
    sources = _points("source_points", source_points)
    sinks = _points("sink_points", sink_points)
    source_ids = _supervoxels_for("source_supervoxels", source_supervoxels, len(sources), root)
    sink_ids = _supervoxels_for("sink_supervoxels", sink_supervoxels, len(sinks), root)
    return SplitRequest(
        sources=[_edit_point(node, point) for node, point in zip(source_ids, sources, strict=True)],
        sinks=[_edit_point(node, point) for node, point in zip(sink_ids, sinks, strict=True)],
    )


def _node_ids_with_invalid(parameter: str, values: Any) -> tuple[IdArray, BoolArray]:
    """Ids as uint64 plus a mask of those worth asking about: ids <= 0 are simply invalid."""
    import numpy as np

    if isinstance(values, int | np.integer) and not isinstance(values, bool):
        values = [values]
    try:
        array: Any = np.asarray(values)
    except (TypeError, ValueError):
        array = None
    if array is not None and array.ndim == 1 and np.issubdtype(array.dtype, np.signedinteger):
        positive = array > 0
        ids = np.where(positive, array, 0).astype(np.uint64)
        return ids, positive
    ids = as_id_array(parameter, values)
    return ids, ids > 0


# ---------------------------------------------------------------- answers


def _sized(values: list[Any], expected: int, what: str) -> list[Any]:
    if len(values) != expected:
        raise UnexpectedResponseError(f"{what}: expected {expected} answers, got {len(values)}")
    return values


def _int_key(key: str, what: str) -> int:
    try:
        return int(key)
    except ValueError:
        raise UnexpectedResponseError(f"{what}: {key!r} is not an id") from None


def _edit_result(result: EditResultModel) -> EditResult:
    return {
        "operation_id": None if result.operation_id is None else int(result.operation_id),
        "new_root_ids": id_list_from_json(result.new_root_ids, "new_root_ids"),
    }
