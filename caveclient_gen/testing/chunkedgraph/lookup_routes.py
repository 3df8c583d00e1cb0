"""Chunkedgraph routes that read the graph's structure: roots, children, leaves, graphs, contacts."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
from starlette.responses import Response

from ..server.pcg_wire import PcgRequest, bad_request, pcg_json, uint64_bytes
from ..world.fidelity import Fidelity
from . import queries
from .common import ChunkedGraphContext, body_ids, node_id

Handler = Callable[[PcgRequest], Response]


def lookup_handlers(context: ChunkedGraphContext) -> dict[str, Handler]:
    def int64_as_str(request: PcgRequest) -> bool:
        return request.boolean("int64_as_str", False)

    def root(request: PcgRequest) -> Response:
        graph = context.graph(request)
        timestamp = request.timestamp("timestamp", time.time())
        stop_layer = request.args.get("stop_layer")
        try:
            stop = None if stop_layer is None else int(stop_layer)
        except (TypeError, ValueError) as error:
            raise bad_request(f"stop_layer is not an integer {error}") from error
        node = node_id(request.path_params["node_id"])
        found = queries.get_root(graph, node, timestamp, stop)
        return pcg_json({"root_id": np.uint64(found)}, int64_as_str=int64_as_str(request))

    def resolve_roots(request: PcgRequest, *, binary: bool) -> np.ndarray:
        graph = context.graph(request)
        ids = body_ids(request, "node_ids", binary=binary)
        timestamp = request.timestamp("timestamp", time.time())
        stop_layer = int(request.args.get("stop_layer", graph.n_layers))
        return queries.get_roots(
            graph,
            ids,
            timestamp,
            stop_layer,
            # The server tests only whether these carry a non-empty value.
            assert_roots=bool(request.args.get("assert_roots", "")),
            fail_to_zero=bool(request.args.get("fail_to_zero", "true")),
        )

    def roots_binary(request: PcgRequest) -> Response:
        return uint64_bytes(resolve_roots(request, binary=True))

    def roots(request: PcgRequest) -> Response:
        found = resolve_roots(request, binary=False)
        if request.args.get("as_binary", "") == "root_ids":
            return uint64_bytes(found)
        return pcg_json({"root_ids": found}, int64_as_str=int64_as_str(request))

    def children(request: PcgRequest) -> Response:
        graph = context.graph(request)
        found = queries.children(graph, node_id(request.path_params["node_id"]))
        return pcg_json({"children_ids": found}, int64_as_str=int64_as_str(request))

    def leaves(request: PcgRequest) -> Response:
        graph = context.graph(request)
        stop_layer = int(request.args.get("stop_layer", 1))
        node = node_id(request.path_params["node_id"])
        found = queries.descendants(graph, node, stop_layer, request.bounds())
        return pcg_json({"leaf_ids": found}, int64_as_str=int64_as_str(request))

    def leaves_many(request: PcgRequest) -> Response:
        graph = context.graph(request)
        bounds = request.bounds()
        ids = body_ids(request, "node_ids")
        stop_layer = int(request.args.get("stop_layer", 1))
        found = {
            str(node): queries.descendants(graph, node, stop_layer, bounds) for node in ids.tolist()
        }
        return pcg_json(found, int64_as_str=int64_as_str(request))

    def minimal_covering_nodes(request: PcgRequest) -> Response:
        graph = context.graph(request)
        ids = body_ids(request, "node_ids", binary=request.boolean("is_binary", False))
        timestamp = request.timestamp("timestamp", time.time())
        found = queries.minimal_covering_nodes(graph, ids, timestamp)
        if request.boolean("as_array", False):
            return uint64_bytes(found)
        return pcg_json(found, int64_as_str=int64_as_str(request))

    def subgraph(request: PcgRequest) -> Response:
        graph = context.graph(request)
        only_internal = request.boolean("only_internal_edges", True)
        node = node_id(request.path_params["node_id"])
        pairs, affinities, areas = queries.subgraph(
            graph, node, request.bounds(), only_internal_edges=only_internal
        )
        body = {"nodes": pairs, "affinities": affinities, "areas": areas}
        return pcg_json(body, int64_as_str=int64_as_str(request))

    def contact_sites(request: PcgRequest) -> Response:
        graph = context.graph(request)
        partners = request.boolean("partners", True)
        timestamp = request.timestamp("timestamp", time.time())
        root_id = node_id(request.path_params["node_id"])
        if Fidelity.of(context.deployment).faithful("contact_sites"):
            # PyChunkedGraph 2.21.1 (graph/misc.py) passes an argument get_subgraph_edges lacks.
            raise TypeError(
                "ChunkedGraph.get_subgraph_edges() got an unexpected keyword argument 'connected_edges'"
            )
        by_partner = queries.contact_sites(
            graph, root_id, timestamp, request.bounds(), partners=partners
        )
        # The 2.21.1 route unpacks the partner mapping itself into the two answer fields.
        first, second = by_partner
        body = {"contact_sites": first, "contact_site_metadata": second}
        return pcg_json(body, int64_as_str=int64_as_str(request))

    def lvl2_graph(request: PcgRequest) -> Response:
        graph = context.graph(request)
        edges = queries.level2_edges(graph, node_id(request.path_params["node_id"]), request.bounds())
        used = "True" if "bounds" in request.args else "False"
        return pcg_json(
            {"edge_graph": edges}, int64_as_str=int64_as_str(request), headers={"Used-Bounds": used}
        )

    def find_path(request: PcgRequest) -> Response:
        graph = context.graph(request)
        precision_mode = request.boolean("precision_mode", True)
        result = queries.find_path(
            graph, request.json(), precision_mode=precision_mode, edge_margin=context.edge_margin()
        )
        return pcg_json(result, int64_as_str=int64_as_str(request))

    def is_latest_roots(request: PcgRequest) -> Response:
        graph = context.graph(request)
        ids = body_ids(request, "node_ids")
        timestamp = request.timestamp("timestamp", time.time())
        body = {"is_latest": queries.is_latest_roots(graph, ids, timestamp)}
        return pcg_json(body, int64_as_str=int64_as_str(request))

    def root_timestamps(request: PcgRequest) -> Response:
        graph = context.graph(request)
        latest = request.boolean("latest", False)
        ids = body_ids(request, "node_ids", binary=request.boolean("is_binary", False))
        timestamp = request.timestamp("timestamp", time.time())
        found = queries.root_timestamps(graph, ids, timestamp, latest=latest)
        return pcg_json({"timestamp": found}, int64_as_str=int64_as_str(request))

    def valid_nodes(request: PcgRequest) -> Response:
        graph = context.graph(request)
        ids = body_ids(request, "node_ids", binary=request.boolean("is_binary", False))
        end = request.optional_timestamp("end_timestamp")
        start = request.optional_timestamp("start_timestamp")
        found = queries.valid_nodes(graph, ids, start, end)
        return pcg_json({"valid_roots": found}, int64_as_str=int64_as_str(request))

    return {
        "root": root,
        "roots_binary": roots_binary,
        "roots": roots,
        "children": children,
        "leaves": leaves,
        "leaves_many": leaves_many,
        "minimal_covering_nodes": minimal_covering_nodes,
        "subgraph": subgraph,
        "contact_sites": contact_sites,
        "lvl2_graph": lvl2_graph,
        "find_path": find_path,
        "is_latest_roots": is_latest_roots,
        "root_timestamps": root_timestamps,
        "valid_nodes": valid_nodes,
    }
