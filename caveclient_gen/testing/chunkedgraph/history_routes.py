"""Chunkedgraph routes about the edit history: logs, lineage, id mappings, operations."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import numpy as np
from starlette.responses import Response

from ..server.pcg_wire import PcgRequest, bad_request, pcg_json, raw_bytes
from ..world.fidelity import Fidelity
from . import history
from .common import ChunkedGraphContext, body_ids, node_id

Handler = Callable[[PcgRequest], Response]


def history_handlers(context: ChunkedGraphContext) -> dict[str, Handler]:
    identity = context.deployment.identity

    def int64_as_str(request: PcgRequest) -> bool:
        return request.boolean("int64_as_str", False)

    def user_info(user_ids: list[str]) -> tuple[dict[str, str], dict[str, str]]:
        """Names and PIs from the auth service; users it does not know are left out."""
        names, pis = {}, {}
        for user in set(user_ids):
            account = identity.account(int(user))
            if account is not None:
                names[user], pis[user] = account.name, account.spec.pi
        return names, pis

    def change_log(request: PcgRequest) -> Response:
        graph = context.graph(request)
        filtered = request.boolean("filtered", False)
        past = request.timestamp("timestamp", 0)
        root = node_id(request.path_params["root_id"])
        segment = history.SegmentHistory(graph, [root], past)
        body = segment.change_log_summary(root, filtered=filtered)
        return pcg_json(body, int64_as_str=int64_as_str(request))

    def tabular_frames(request: PcgRequest, roots: list[int], filtered: bool) -> dict[int, str]:
        graph = context.graph(request)
        segment = history.SegmentHistory(graph, roots)
        tables = {root: segment.tabular_changelog(root, filtered=filtered) for root in roots}
        users = [user for table in tables.values() for user in table.user_ids()]
        if users:
            names, pis = user_info(users)
            for table in tables.values():
                table.add_column("user_name", [names.get(u, "unknown") for u in table.user_ids()])
                table.add_column("user_affiliation", [pis.get(u, "unknown") for u in table.user_ids()])
        return {root: table.to_json() for root, table in tables.items()}

    def tabular_change_log_many(request: PcgRequest) -> Response:
        filtered = request.boolean("filtered", True)
        roots = body_ids(request, "root_ids").tolist()
        frames = tabular_frames(request, roots, filtered)
        return pcg_json({str(root): frame for root, frame in frames.items()})

    def tabular_change_log(request: PcgRequest) -> Response:
        filtered = request.boolean("filtered", True)
        root = node_id(request.path_params["root_id"])
        return raw_bytes(tabular_frames(request, [root], filtered)[root].encode())

    def merge_log(request: PcgRequest) -> Response:
        graph = context.graph(request)
        root = node_id(request.path_params["root_id"])
        body = history.SegmentHistory(graph, [root]).merge_log(root)
        return pcg_json(body, int64_as_str=int64_as_str(request))

    def lineage_graph_multiple(request: PcgRequest) -> Response:
        graph = context.graph(request)
        past = request.timestamp("timestamp_past", 0)
        future = request.timestamp("timestamp_future", time.time())
        roots = body_ids(request, "root_ids").tolist()
        lineage = history.lineage_graph(graph, roots, past, future)
        return pcg_json(lineage.node_link_data(), int64_as_str=int64_as_str(request))

    def lineage_graph(request: PcgRequest) -> Response:
        graph = context.graph(request)
        past = request.timestamp("timestamp_past", 0)
        request.timestamp("timestamp_future", time.time())
        root = node_id(request.path_params["root_id"])
        # SegmentHistory ignores a given future time and looks up to now.
        segment = history.SegmentHistory(graph, [root], past)
        return pcg_json(segment.lineage.node_link_data(), int64_as_str=int64_as_str(request))

    def past_id_mapping(request: PcgRequest) -> Response:
        graph = context.graph(request)
        roots = body_ids(request, "root_ids").tolist()
        past = request.timestamp("timestamp_past", 0)
        request.timestamp("timestamp_future", time.time())
        past_ids, future_ids = history.SegmentHistory(graph, roots, past).past_future_id_mapping()
        body = {
            "past_id_map": {str(root): np.array(ids, dtype=np.uint64) for root, ids in past_ids.items()},
            "future_id_map": {str(past): np.uint64(future) for past, future in future_ids.items()},
        }
        return pcg_json(body, int64_as_str=int64_as_str(request))

    def oldest_timestamp(request: PcgRequest) -> Response:
        graph = context.graph(request)
        delimiter = request.args.get("delimiter", " ")
        earliest = history.earliest_timestamp(graph)
        if earliest is None:
            raise AttributeError("'NoneType' object has no attribute 'isoformat'")
        return pcg_json({"iso": earliest.isoformat(delimiter)}, int64_as_str=int64_as_str(request))

    def operation_details(request: PcgRequest) -> Response:
        graph = context.graph(request)
        wanted = json.loads(request.args.get("operation_ids", "[]"))
        body = {}
        for operation_id in wanted:
            operation = graph.operation(int(operation_id))
            if operation is not None:
                body[operation.id] = history.operation_details(operation)
        return pcg_json(body, int64_as_str=int64_as_str(request))

    def delta_roots(request: PcgRequest) -> Response:
        graph = context.graph(request)
        past = request.timestamp("timestamp_past", None)
        future = request.timestamp("timestamp_future", time.time())
        body = history.delta_roots(graph, past, future)
        return pcg_json(body, int64_as_str=int64_as_str(request))

    def user_operations(request: PcgRequest) -> Response:
        graph = context.graph(request)
        include_undone = request.boolean("include_undone", False)
        user = request.args.get("user_id")
        start = request.timestamp("start_time", 0)
        if "end_time" not in request.args:
            # The server's default for end_time is a datetime its parser rejects.
            raise bad_request("Timestamp parameter end_time is not a valid unix timestamp")
        end = request.timestamp("end_time", None)
        all_users = not Fidelity.of(context.deployment).faithful("user_operations_all_users")
        columns = history.user_operations(
            graph, user, start, end, include_undone=include_undone, all_users=all_users
        )
        return raw_bytes(history.frame_json(columns).encode())

    return {
        "change_log": change_log,
        "tabular_change_log_many": tabular_change_log_many,
        "tabular_change_log": tabular_change_log,
        "merge_log": merge_log,
        "lineage_graph_multiple": lineage_graph_multiple,
        "lineage_graph": lineage_graph,
        "past_id_mapping": past_id_mapping,
        "oldest_timestamp": oldest_timestamp,
        "operation_details": operation_details,
        "delta_roots": delta_roots,
        "user_operations": user_operations,
    }
