"""Edit history answers of the chunkedgraph: lineage graphs, change logs, id mappings, op records.

These follow PyChunkedGraph's own algorithms (``graph/lineage.py`` and ``graph/segmenthistory.py``)
step by step, including their quirks, because clients depend on the exact shapes: e.g. a lineage
node carries the id of the operation that *retired* it, and the tabular change log lists, as a
split's "after" roots, only those that are in the lineage being looked at.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt

from .segmentation.graph import SegmentationGraph
from .segmentation.state import NodeRecord, Operation

UInt64Array = npt.NDArray[np.uint64]
EARLIEST_TIMESTAMP_MARGIN = timedelta(milliseconds=500)
_UNIX_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def epoch_milliseconds(moment: datetime) -> int:
    """Exact milliseconds since 1970, as pandas writes datetimes in ``to_json``."""
    return (moment - _UNIX_EPOCH) // timedelta(milliseconds=1)


class DiGraph:
    """The little of networkx.DiGraph the lineage needs, with its iteration orders."""

    def __init__(self) -> None:
        self.nodes: dict[int, dict[str, Any]] = {}
        self.successors: dict[int, dict[int, None]] = {}
        self.predecessors: dict[int, dict[int, None]] = {}

    def add_node(self, node: int, **attributes: Any) -> None:
        self.nodes.setdefault(node, {}).update(attributes)
        self.successors.setdefault(node, {})
        self.predecessors.setdefault(node, {})

    def add_edge(self, source: int, target: int) -> None:
        self.add_node(source)
        self.add_node(target)
        self.successors[source][target] = None
        self.predecessors[target][source] = None

    def ancestors(self, node: int) -> set[int]:
        return self._reachable(node, self.predecessors)

    def descendants(self, node: int) -> set[int]:
        return self._reachable(node, self.successors)

    @staticmethod
    def _reachable(node: int, links: Mapping[int, Mapping[int, None]]) -> set[int]:
        seen: set[int] = set()
        pending = list(links[node])
        while pending:
            current = pending.pop()
            if current not in seen:
                seen.add(current)
                pending.extend(links[current])
        return seen

    def node_link_data(self) -> dict[str, Any]:
        """networkx's ``node_link_data``: nodes in insertion order, links by source then target."""
        return {
            "directed": True,
            "multigraph": False,
            "graph": {},
            "nodes": [{**attributes, "id": node} for node, attributes in self.nodes.items()],
            "links": [
                {"source": source, "target": target}
                for source, targets in self.successors.items()
                for target in targets
            ],
        }


def _record(graph: SegmentationGraph, node: int) -> NodeRecord:
    record = graph.node(node)
    if record is None:
        raise KeyError(np.uint64(node))
    return record


def _node_properties(graph: SegmentationGraph, record: NodeRecord) -> dict[str, Any]:
    properties: dict[str, Any] = {"timestamp": graph.epoch_time(record.created_epoch).timestamp()}
    if record.retired_by is not None:
        properties["operation_id"] = np.uint64(record.retired_by)
    return properties


def lineage_graph(
    graph: SegmentationGraph,
    node_ids: Sequence[int],
    timestamp_past: datetime | None,
    timestamp_future: datetime | None,
) -> DiGraph:
    """Roots connected by edits, back to ``timestamp_past`` and forward to ``timestamp_future``."""
    lineage = DiGraph()
    past_limit = 0.0 if timestamp_past is None else timestamp_past.timestamp()
    future_limit = (timestamp_future or datetime.now(UTC)).timestamp()
    past_ids = [int(node) for node in node_ids]
    future_ids = list(past_ids)
    while past_ids or future_ids:
        next_past: list[int] = []
        for node in past_ids:
            record = _record(graph, node)
            properties = _node_properties(graph, record)
            lineage.add_node(node, **properties)
            if properties["timestamp"] < past_limit or not record.former_roots:
                continue
            next_past.extend(former for former in record.former_roots if former not in lineage.nodes)
            for former in record.former_roots:
                lineage.add_edge(former, node)
        retired_by: dict[int, list[int]] = {}
        for node in future_ids:
            record = _record(graph, node)
            properties = _node_properties(graph, record)
            lineage.add_node(node, **properties)
            if properties["timestamp"] > future_limit or record.retired_by is None:
                continue
            retired_by.setdefault(record.retired_by, []).append(node)
        next_future: list[int] = []
        for operation_id, retired in retired_by.items():
            operation = graph.operation(operation_id)
            assert operation is not None
            next_future.extend(new for new in operation.new_root_ids if new not in lineage.nodes)
            for new in operation.new_root_ids:
                for node in retired:
                    lineage.add_edge(node, new)
        past_ids = sorted(set(next_past))
        future_ids = sorted(set(next_future))
    return lineage


def earliest_timestamp(graph: SegmentationGraph) -> datetime | None:
    """PyChunkedGraph's ``get_earliest_timestamp``: the first logged operation, less 500 ms."""
    for operation_id in range(100):
        operation = graph.operation(operation_id)
        if operation is not None:
            return operation.timestamp - EARLIEST_TIMESTAMP_MARGIN
    return None


class SegmentHistory:
    """PyChunkedGraph's SegmentHistory over a set of root ids."""

    def __init__(
        self,
        graph: SegmentationGraph,
        root_ids: Iterable[int],
        timestamp_past: datetime | None = None,
    ) -> None:
        self.graph = graph
        self.root_ids = [int(root) for root in root_ids]
        for root in self.root_ids:
            if graph.layout.layer(root) != graph.n_layers:
                raise AssertionError(f"{root} is no root")
        self.timestamp_past = timestamp_past or earliest_timestamp(graph)
        self.lineage = lineage_graph(graph, self.root_ids, self.timestamp_past, None)
        self.operation_of_root = {
            node: int(attributes.get("operation_id", 0))
            for node, attributes in self.lineage.nodes.items()
        }
        self.roots_of_operation: dict[int, list[int]] = {}
        for root, operation_id in self.operation_of_root.items():
            self.roots_of_operation.setdefault(operation_id, []).append(root)

    def past_operation_ids(self, root: int) -> list[int]:
        ancestors = self.lineage.ancestors(root)
        return sorted({self.operation_of_root.get(node, 0) for node in ancestors} - {0})

    def _operation(self, operation_id: int) -> Operation:
        operation = self.graph.operation(operation_id)
        assert operation is not None
        return operation

    def tabular_changelog(self, root: int, *, filtered: bool) -> TabularChangelog:
        graph = self.graph
        operations = [self._operation(op) for op in self.past_operation_ids(root)]
        edited = sorted({sv for op in operations for sv in _edited_supervoxels(op)})
        edited_ids = np.array(edited, dtype=np.uint64)
        created_epoch = _record(graph, root).created_epoch
        earliest = earliest_timestamp(graph)
        original_epoch = 0 if earliest is None else max(graph.epoch_at(earliest), 0)
        current = dict(
            zip(edited, graph.roots_at_epoch(edited_ids, created_epoch).tolist(), strict=True)
        )
        original = dict(
            zip(edited, graph.roots_at_epoch(edited_ids, original_epoch).tolist(), strict=True)
        )
        rows = []
        for operation in operations:
            supervoxels = _edited_supervoxels(operation)
            now_roots = [current[sv] for sv in supervoxels]
            before = self.roots_of_operation[operation.id]
            after = list(self.lineage.successors[before[0]])
            if operation.is_merge:
                relevant = len({original[sv] for sv in supervoxels}) != 1
                in_neuron = all(r == root for r in now_roots)
            else:
                relevant = len(set(now_roots)) != 1
                in_neuron = any(r == root for r in now_roots)
            rows.append(
                {
                    "operation_id": operation.id,
                    "timestamp": epoch_milliseconds(operation.timestamp),
                    "user_id": operation.user_id,
                    "before_root_ids": before,
                    "after_root_ids": after,
                    "is_merge": operation.is_merge,
                    "in_neuron": in_neuron,
                    "is_relevant": relevant,
                }
            )
        changelog = TabularChangelog(
            columns=[
                "operation_id",
                "timestamp",
                "user_id",
                "before_root_ids",
                "after_root_ids",
                "is_merge",
                "in_neuron",
                "is_relevant",
            ],
            rows=list(enumerate(rows)),
        )
        if filtered:
            changelog = TabularChangelog(
                columns=changelog.columns[:-2],
                rows=[(i, row) for i, row in changelog.rows if row["in_neuron"] and row["is_relevant"]],
            )
        return changelog

    def change_log_summary(self, root: int, *, filtered: bool) -> dict[str, Any]:
        table = self.tabular_changelog(root, filtered=filtered)
        user_info: dict[str, dict[str, int]] = {}
        n_splits = n_mergers = 0
        for user in sorted({row["user_id"] for _, row in table.rows}):
            mine = [row for _, row in table.rows if row["user_id"] == user]
            merges = sum(1 for row in mine if row["is_merge"])
            user_info[user] = {"n_splits": len(mine) - merges, "n_mergers": merges}
            n_splits += len(mine) - merges
            n_mergers += merges
        past_ids = [root_id for _, row in table.rows for root_id in row["before_root_ids"]]
        return {
            "n_splits": n_splits,
            "n_mergers": n_mergers,
            "user_info": user_info,
            "operations_ids": np.array([row["operation_id"] for _, row in table.rows], dtype=np.uint64),
            "past_ids": np.array(past_ids, dtype=np.uint64),
        }

    def merge_log(self, root: int) -> dict[str, Any]:
        edges, coordinates = [], []
        for operation_id in self.past_operation_ids(root):
            operation = self._operation(operation_id)
            if not operation.is_merge:
                continue
            edges.append(np.array(operation.added_edges, dtype=np.uint64))
            if operation.source_coords is None or operation.sink_coords is None:
                # Undo and redo records carry no coordinates: the server fails on them.
                raise KeyError("source_coords")
            coordinates.append(
                np.array([operation.source_coords, operation.sink_coords], dtype=np.int64)
            )
        return {"merge_edges": edges, "merge_edge_coords": coordinates}

    def past_future_id_mapping(self) -> tuple[dict[int, list[int]], dict[int, int]]:
        lineage = self.lineage
        in_degree = {node: len(lineage.predecessors[node]) for node in lineage.nodes}
        out_degree = {node: len(lineage.successors[node]) for node in lineage.nodes}
        past: dict[int, list[int]] = {}
        for root in self.root_ids:
            ancestors = sorted(lineage.ancestors(root))
            past[root] = [root] if not ancestors else [a for a in ancestors if in_degree[a] == 0]
        future: dict[int, int] = {}
        for past_id in sorted({node for ids in past.values() for node in ids}):
            descendants = [*sorted(lineage.descendants(past_id)), past_id]
            degrees = [out_degree[node] for node in descendants]
            if 2 in degrees or degrees.count(0) > 1:
                continue
            sink = descendants[degrees.index(0)]
            single = [node for node, degree in zip(descendants, degrees, strict=True) if degree == 1]
            if not single:
                future[past_id] = sink
                continue
            partner_in_degrees = [in_degree[next(iter(lineage.successors[node]))] for node in single]
            if 1 in partner_in_degrees:
                continue
            future[past_id] = sink
        return past, future


class TabularChangelog:
    """A change-log frame: ordered columns, rows keyed by their original row index."""

    def __init__(self, columns: list[str], rows: list[tuple[int, dict[str, Any]]]) -> None:
        self.columns = columns
        self.rows = rows

    def user_ids(self) -> list[str]:
        return [row["user_id"] for _, row in self.rows]

    def add_column(self, name: str, values: Sequence[Any]) -> None:
        self.columns.append(name)
        for (_, row), value in zip(self.rows, values, strict=True):
            row[name] = value

    def to_json(self) -> str:
        """pandas' ``DataFrame.to_json()``: column-oriented, compact."""
        frame = {
            column: {str(index): _plain(row[column]) for index, row in self.rows}
            for column in self.columns
        }
        return json.dumps(frame, separators=(",", ":"))


def _plain(value: Any) -> Any:
    if isinstance(value, list):
        return [int(v) for v in value]
    return value


def _edited_supervoxels(operation: Operation) -> list[int]:
    """PyChunkedGraph's ``edges_failsafe``: sinks and sources, else the edges' supervoxels."""
    if operation.sink_ids and operation.source_ids:
        return [*operation.sink_ids, *operation.source_ids]
    edges = operation.added_edges if operation.is_merge else operation.removed_edges
    return [sv for edge in edges for sv in edge]


def operation_details(operation: Operation) -> dict[str, Any]:
    """The operation log row as the ``operation_details`` route renders it."""
    details: dict[str, Any] = {
        "timestamp": operation.timestamp,
        "operation_ts": operation.timestamp,
        "user": operation.user_id,
        "roots": np.array(operation.new_root_ids, dtype=np.uint64),
        "operation_status": 0,
        "operation_exception": "",
    }
    if operation.added_edges:
        details["added_edges"] = [list(edge) for edge in operation.added_edges]
    if operation.removed_edges:
        details["removed_edges"] = [list(edge) for edge in operation.removed_edges]
    if operation.source_coords is not None:
        details["source_coords"] = [list(point) for point in operation.source_coords]
    if operation.sink_coords is not None:
        details["sink_coords"] = [list(point) for point in operation.sink_coords]
    if operation.source_ids:
        details["source_ids"] = list(operation.source_ids)
        details["sink_ids"] = list(operation.sink_ids)
    if operation.bb_offset is not None:
        details["bb_offset"] = list(operation.bb_offset)
    if operation.target_operation_id is not None:
        details[f"{operation.kind}_operation_id"] = np.uint64(operation.target_operation_id)
    return details


def user_operations(
    graph: SegmentationGraph,
    user_id: str | None,
    start: datetime,
    end: datetime,
    *,
    include_undone: bool,
    all_users: bool = False,
) -> dict[str, list[Any]]:
    """The ``user_operations`` frame (column lists) for one user in a time window.

    Without a user the server matches nothing (its filter compares with None); `all_users` lists
    every user's operations then (the idealised behaviour).
    """
    entries = [
        op
        for op in graph.operations()
        if start <= op.timestamp < end and (user_id is None or op.user_id == user_id)
    ]
    valid = entries if all_users and user_id is None else [op for op in entries if op.user_id == user_id]
    undone: list[int] = []
    for op in entries:
        if op.kind == "undo" and op.target_operation_id is not None:
            undone.append(op.target_operation_id)
        if op.kind == "redo" and op.target_operation_id in undone:
            undone = [target for target in undone if target != op.target_operation_id]
    if not include_undone:
        valid = [op for op in valid if op.kind not in ("undo", "redo") and op.id not in undone]
    return {
        "operation_id": [op.id for op in valid],
        "timestamp": [epoch_milliseconds(op.timestamp) for op in valid],
    }


def frame_json(columns: Mapping[str, Sequence[Any]]) -> str:
    """A column-oriented pandas frame built from column lists, as ``DataFrame.to_json()``."""
    return json.dumps(
        {name: {str(i): value for i, value in enumerate(values)} for name, values in columns.items()},
        separators=(",", ":"),
    )


def delta_roots(
    graph: SegmentationGraph, past: datetime, future: datetime
) -> dict[str, npt.NDArray[Any]]:
    new_roots = [
        root for op in graph.operations() if past <= op.timestamp <= future for root in op.new_root_ids
    ]
    if not new_roots:
        return {"old_roots": np.array([], dtype=np.uint64), "new_roots": np.array([], dtype=np.int64)}
    old_roots = [former for root in new_roots for former in _record(graph, root).former_roots]
    return {
        "old_roots": np.array(old_roots, dtype=np.uint64),
        "new_roots": np.array(new_roots, dtype=np.uint64),
    }
