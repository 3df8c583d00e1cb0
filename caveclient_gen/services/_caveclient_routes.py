"""The chunkedgraph's routes as URL templates under caveclient's names, for libraries that read
caveclient's private `client.chunkedgraph._endpoints` (fafbseg formats `is_latest_roots` with
`default_url_mapping` and sends the request itself).

Placeholders are caveclient's: `{cg_server_address}` and `{table_id}` come from
`default_url_mapping`; the others (`{supervoxel_id}`, `{root_id}`, …) from the caller. Every
path here is a route of specs/chunkedgraph.yaml (a test keeps it so).
"""

from __future__ import annotations

_V1 = "{cg_server_address}/segmentation/api/v1/table/{table_id}"

CHUNKEDGRAPH_ENDPOINTS: dict[str, str] = {
    "get_api_versions": "{cg_server_address}/segmentation/api/versions",
    "get_version": "{cg_server_address}/segmentation/api/version",
    "info": "{cg_server_address}/segmentation/table/{table_id}/info",
    "handle_root": _V1 + "/node/{supervoxel_id}/root",
    "handle_children": _V1 + "/node/{root_id}/children",
    "leaves_from_root": _V1 + "/node/{root_id}/leaves",
    "leaves_many": _V1 + "/node/leaves_many",
    "get_roots": _V1 + "/roots_binary",
    "minimal_covering_nodes": _V1 + "/minimal_covering_nodes",
    "do_merge": _V1 + "/merge",
    "execute_split": _V1 + "/split",
    "preview_split": _V1 + "/graph/split_preview",
    "undo": _V1 + "/undo",
    "merge_log": _V1 + "/root/{root_id}/merge_log",
    "change_log": _V1 + "/root/{root_id}/change_log",
    "tabular_change_log": _V1 + "/tabular_change_log_many",
    "user_operations": _V1 + "/user_operations",
    "contact_sites": _V1 + "/node/{root_id}/contact_sites",
    "find_path": _V1 + "/graph/find_path",
    "lvl2_graph": _V1 + "/node/{root_id}/lvl2_graph",
    "get_subgraph": _V1 + "/node/{root_id}/subgraph",
    "handle_lineage_graph": _V1 + "/lineage_graph_multiple",
    "past_id_mapping": _V1 + "/past_id_mapping",
    "operation_details": _V1 + "/operation_details",
    "is_latest_roots": _V1 + "/is_latest_roots",
    "root_timestamps": _V1 + "/root_timestamps",
    "delta_roots": _V1 + "/delta_roots",
    "valid_nodes": _V1 + "/valid_nodes",
    "oldest_timestamp": _V1 + "/oldest_timestamp",
    "remesh_level2_chunks": "{cg_server_address}/meshing/api/v1/table/{table_id}/remeshing",
    "cloudvolume_path": "graphene://{cg_server_address}/segmentation/api/v1/{table_id}",
}
