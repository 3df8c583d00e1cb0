"""Typed shapes of the records `client.chunkedgraph` returns.

Plain dicts at run time (code written for caveclient indexes them the same way), TypedDicts for type
checkers and IDEs. Node ids inside JSON records are exact Python ints; where a record carries an id
list the client returns, it is a uint64 numpy array.
"""

from __future__ import annotations

from typing import Any, NotRequired, TypedDict

__all__ = [
    "ChangeLog",
    "ContactSites",
    "EditResult",
    "GraphSettings",
    "LineageGraph",
    "LineageLink",
    "LineageNode",
    "MergeLog",
    "OperationDetails",
    "PastIdMapping",
    "ScaleInfo",
    "SegmentationInfo",
    "UserEditCounts",
]


class ScaleInfo(TypedDict, total=False):
    """One resolution level of the segmentation volume (servers send what they know: no key is
    guaranteed)."""

    key: str
    resolution: list[float]
    size: list[int]
    voxel_offset: list[int]
    chunk_sizes: list[list[int]]
    encoding: str
    sharding: dict[str, Any]


class GraphSettings(TypedDict):
    """Layout of the chunkedgraph."""

    chunk_size: list[int]
    bounding_box: list[int]
    n_bits_for_layer_id: int
    cv_mip: int
    n_layers: int
    spatial_bit_masks: dict[str, int]


class SegmentationInfo(TypedDict):
    """The `info` document of the chunkedgraph table (what CloudVolume's graphene:// reads)."""

    type: str
    data_type: str
    num_channels: int
    scales: list[ScaleInfo]
    chunks_start_at_voxel_offset: bool
    data_dir: str
    graph: GraphSettings
    app: dict[str, Any]
    mesh: NotRequired[str]
    mesh_dir: NotRequired[str]
    mesh_metadata: NotRequired[dict[str, Any]]
    sharded_mesh: bool
    verify_mesh: bool


class UserEditCounts(TypedDict, total=False):
    """Edits of one user (a count the user has none of may be left out)."""

    n_splits: int
    n_mergers: int


class ChangeLog(TypedDict):
    """Summary of the edit history of a root (`get_change_log`)."""

    n_splits: int
    n_mergers: int
    user_info: dict[str, UserEditCounts]
    operations_ids: list[int]
    past_ids: list[int]


class MergeLog(TypedDict):
    """The merges in the history of a root (`get_merge_log`): one entry per merge in both lists."""

    merge_edges: list[list[list[int]]]
    merge_edge_coords: list[list[list[list[float]]]]


class OperationDetails(TypedDict):
    """The stored log record of one operation (`get_operation_details`)."""

    timestamp: str
    operation_ts: NotRequired[str]
    user: NotRequired[str]
    roots: NotRequired[list[int]]
    source_ids: NotRequired[list[int]]
    sink_ids: NotRequired[list[int]]
    source_coords: NotRequired[list[list[int]]]
    sink_coords: NotRequired[list[list[int]]]
    bb_offset: NotRequired[list[int]]
    added_edges: NotRequired[list[list[int]]]
    removed_edges: NotRequired[list[list[int]]]
    affinities: NotRequired[list[float]]
    undo_operation_id: NotRequired[int]
    redo_operation_id: NotRequired[int]
    operation_status: NotRequired[int]
    operation_exception: NotRequired[str]


class EditResult(TypedDict):
    """Outcome of a merge or an undo: the logged operation and the root ids it created."""

    operation_id: int | None
    """None when an undo had nothing left to change."""
    new_root_ids: list[int]


class LineageNode(TypedDict):
    """A root of the lineage graph; `timestamp` is its creation time in epoch seconds (UTC)."""

    id: int
    timestamp: float
    operation_id: NotRequired[int]


class LineageLink(TypedDict):
    """An edit linking an older root (`source`) to a newer one (`target`)."""

    source: int
    target: int


class LineageGraph(TypedDict):
    """A lineage graph in networkx node-link form (`networkx.node_link_graph(g, edges="links")`)."""

    directed: bool
    multigraph: bool
    graph: dict[str, Any]
    nodes: list[LineageNode]
    links: list[LineageLink]


class PastIdMapping(TypedDict):
    """`get_past_ids`: per requested root its ancestors, per ancestor its unambiguous successor."""

    past_id_map: dict[int, list[int]]
    future_id_map: dict[int, int]


class ContactSites(TypedDict):
    """What PyChunkedGraph 2.21.1 answers for contact sites (see `get_contact_sites`)."""

    contact_sites: int
    contact_site_metadata: int
