"""What every chunkedgraph handler shares: the table lookup, id parsing and the edit clock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import numpy.typing as npt

from ..server.pcg_wire import PcgRequest
from ..world.deployment import Deployment
from ..world.fidelity import EDGE_MARGIN_VOXELS, Fidelity
from .segmentation.graph import SegmentationGraph

SERVER_VERSION = "2.21.1"
API_VERSIONS = [0, 1]
_MILLISECOND = timedelta(milliseconds=1)


@dataclass(frozen=True)
class ChunkedGraphContext:
    deployment: Deployment

    def graph(self, request: PcgRequest) -> SegmentationGraph:
        """The table named in the path (the server's ``get_cg``)."""
        graph = self.deployment.component(SegmentationGraph)
        table_id = request.path_params.get("table_id")
        if table_id != graph.table_id:
            raise ValueError(f"Graph {table_id} not supported.")
        return graph

    def edge_margin(self) -> int | None:
        """How close to the volume's edge a looked-up point fails (None: never, idealised)."""
        if Fidelity.of(self.deployment).faithful("edge_points"):
            return EDGE_MARGIN_VOXELS
        return None


def node_id(text: str) -> int:
    """``np.uint64(text)``: a decimal uint64, else the ValueError/OverflowError numpy raises."""
    value = int(text)
    if not 0 <= value < 2**64:
        raise OverflowError(f"Python integer {value} out of bounds for uint64")
    return value


def node_ids(values: object) -> npt.NDArray[np.uint64]:
    """``np.array(values, dtype=np.uint64)`` for a JSON list of ids."""
    return np.array(values, dtype=np.uint64).reshape(-1)


def body_ids(request: PcgRequest, key: str, *, binary: bool = False) -> npt.NDArray[np.uint64]:
    if binary:
        return np.frombuffer(request.body, dtype="<u8").astype(np.uint64)
    return node_ids(request.json()[key])


def edit_time(graph: SegmentationGraph) -> datetime:
    """Now, to the millisecond, and after every edit so far (edits need distinct times)."""
    now = datetime.now(UTC)
    now = now.replace(microsecond=now.microsecond // 1000 * 1000)
    last = graph.edit_times()[-1] if graph.edit_times() else graph.created
    return max(now, last + _MILLISECOND)
