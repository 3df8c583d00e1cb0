"""Lineage graphs (networkx node-link dicts): pruning by time, leaves and sources, networkx export.

networkx is not a dependency of caveclient_gen: it is imported only when a graph object is asked for.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ..records.chunkedgraph import LineageGraph, LineageLink, LineageNode

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt


def prune(
    graph: LineageGraph,
    *,
    before: float | None,
    after: float | None,
) -> LineageGraph:
    """The graph without the roots created before `before` or after `after` (epoch seconds)."""
    removed = {
        node["id"]
        for node in graph["nodes"]
        if (before is not None and node["timestamp"] < before)
        or (after is not None and node["timestamp"] > after)
    }
    if not removed:
        return graph
    nodes: list[LineageNode] = [node for node in graph["nodes"] if node["id"] not in removed]
    links: list[LineageLink] = [
        link
        for link in graph["links"]
        if link["source"] not in removed and link["target"] not in removed
    ]
    return {**graph, "nodes": nodes, "links": links}


def _node_ids(graph: LineageGraph) -> list[int]:
    ids = dict.fromkeys(node["id"] for node in graph["nodes"])
    for link in graph["links"]:
        ids.update(dict.fromkeys((link["source"], link["target"])))
    return list(ids)


def leaves(graph: LineageGraph) -> npt.NDArray[np.uint64]:
    """Roots no edit led away from (out-degree 0): the newest ids of the graph."""
    import numpy as np

    has_successor = {link["source"] for link in graph["links"]}
    return np.array([i for i in _node_ids(graph) if i not in has_successor], dtype=np.uint64)


def sources(graph: LineageGraph) -> npt.NDArray[np.uint64]:
    """Roots no edit led to (in-degree 0): the oldest ids of the graph."""
    import numpy as np

    has_predecessor = {link["target"] for link in graph["links"]}
    return np.array([i for i in _node_ids(graph) if i not in has_predecessor], dtype=np.uint64)


def to_networkx(graph: LineageGraph) -> Any:
    """A networkx.DiGraph of the lineage graph (needs the optional package networkx)."""
    try:
        networkx = importlib.import_module("networkx")
    except ImportError:
        raise ImportError(
            "get_lineage_graph(as_nx_graph=True) needs the optional package networkx, which "
            "caveclient_gen does not install: pip install networkx "
            "(or call it with as_nx_graph=False to get the node-link dict)"
        ) from None
    try:
        return networkx.node_link_graph(graph, edges="links")
    except TypeError:  # networkx before 3.4 has no `edges` argument and reads "links" already
        return networkx.node_link_graph(graph)
