"""The inventory of client-facing operations: each has a generated, typed function.

The table below is the contract between the specs and the handwritten layer. A spec edit that drops
or renames an operation, or loses the response schema of a JSON route (the generator then emits no
typed `sync`), fails here.
"""

from __future__ import annotations

import importlib
import types
import typing
from pathlib import Path
from typing import Any

import pytest

GENERATED = Path(__file__).resolve().parent.parent / "generated" / "caveclient_gen_api"

JSON = "json"  # a typed JSON body: a model, a list, or a scalar
TEXT = "text"  # a plain-text (or JSON string) body
BINARY = "binary"  # raw bytes (uint64 arrays, gzip payloads)
ARROW = "arrow"  # an Arrow IPC stream, or JSON records when Arrow is not asked for

INVENTORY: dict[str, dict[str, str]] = {
    "annotation": {
        "get_api_versions": JSON,
        "get_tables": JSON,
        "create_table": TEXT,
        "update_table_metadata": JSON,
        "get_table_metadata": JSON,
        "delete_table": JSON,
        "get_annotation_count": JSON,
        "get_annotations": JSON,
        "post_annotations": JSON,
        "update_annotations": JSON,
        "delete_annotations": JSON,
    },
    "auth": {
        "get_version": TEXT,
        "get_tokens": JSON,
        "create_user_token": JSON,
        "create_token": JSON,
        "refresh_token": JSON,
        "delete_token": JSON,
        "logout": JSON,
        "get_users": JSON,
        "get_me": JSON,
        "get_user_cache": JSON,
        "get_my_permissions": JSON,
        "get_usernames": JSON,
        "get_user": JSON,
        "get_user_permissions": JSON,
        "get_groups": JSON,
        "get_group_users": JSON,
        "get_datasets": JSON,
        "get_dataset_for_service_table": JSON,
        "table_has_public": JSON,
        "is_root_public": JSON,
    },
    "chunkedgraph": {
        "get_version": JSON,
        "get_api_versions": JSON,
        "get_table_info": JSON,
        "get_roots_binary": BINARY,
        "get_root": JSON,
        "get_leaves": JSON,
        "get_leaves_many": JSON,
        "get_children": JSON,
        "get_minimal_covering_nodes": BINARY,
        "do_merge": JSON,
        "execute_split": JSON,
        "preview_split": JSON,
        "undo_operation": JSON,
        "get_merge_log": JSON,
        "get_change_log": JSON,
        "get_tabular_change_log_many": JSON,
        "get_user_operations": JSON,
        "get_contact_sites": JSON,
        "find_path": JSON,
        "get_lvl2_graph": JSON,
        "get_subgraph": JSON,
        "get_lineage_graph_multiple": JSON,
        "get_past_id_mapping": JSON,
        "get_operation_details": JSON,
        "is_latest_roots": JSON,
        "get_root_timestamps": JSON,
        "get_delta_roots": JSON,
        "get_valid_nodes": JSON,
        "get_oldest_timestamp": JSON,
        "remesh_level2_chunks": TEXT,
    },
    "info": {
        "get_version": JSON,
        "get_api_versions": JSON,
        "get_datastacks": JSON,
        "get_datastack_info": JSON,
        "get_datastack": JSON,
        "get_image_sources": JSON,
        "get_aligned_volumes": JSON,
        "get_aligned_volume": JSON,
        "get_aligned_volume_by_id": JSON,
        "get_datastacks_by_aligned_volume": JSON,
        "get_ngl_info": JSON,
    },
    "l2cache": {
        "get_version": TEXT,
        "get_l2_attributes": JSON,
        "get_attribute_metadata": JSON,
        "get_table_mapping": JSON,
    },
    "materialize": {
        "get_version": JSON,
        "get_api_versions": JSON,
        "get_versions_v2": JSON,
        "get_versions_v3": JSON,
        "get_version_metadata_v2": JSON,
        "get_version_metadata_v3": JSON,
        "get_versions_metadata_v2": JSON,
        "get_versions_metadata_v3": JSON,
        "get_tables_v2": JSON,
        "get_table_count_v2": JSON,
        "get_table_metadata_v2": JSON,
        "get_table_metadata_v3": JSON,
        "get_tables_metadata": JSON,
        "get_unique_string_values": JSON,
        "query_table_v2": ARROW,
        "query_table_v3": ARROW,
        "join_query_v2": ARROW,
        "join_query_v3": ARROW,
        "live_live_query": ARROW,
        "get_views": JSON,
        "get_view_metadata": JSON,
        "query_view": ARROW,
        "get_view_schema": JSON,
        "get_view_schemas": JSON,
        "get_precomputed_annotation_info": JSON,
        "get_segment_properties_info": JSON,
        "get_segment_properties_info_live": JSON,
        "ingest_annotation_table": JSON,
        "lookup_supervoxel_ids": JSON,
    },
    "schema": {
        "get_api_versions": JSON,
        "get_version": JSON,
        "get_schema_types": JSON,
        "get_schema_definition": JSON,
        "get_schema_definition_multi": JSON,
        "get_schema_definition_all": JSON,
    },
    "skeleton": {
        "get_version": JSON,
        "get_skeleton_versions": JSON,
        "get_skeleton_info": JSON,
        "get_skeleton_info_versioned": JSON,
        "get_bulk_skeleton_info": JSON,
        "get_refusal_list": BINARY,
        "get_cache_contents": JSON,
        "skeletons_exist_get": JSON,
        "skeletons_exist": JSON,
        "get_skeleton": BINARY,
        "get_skeleton_async": BINARY,
        "get_bulk_skeletons": JSON,
        "generate_bulk_skeletons_get": JSON,
        "generate_bulk_skeletons": JSON,
        "get_cached_skeletons": JSON,
        "get_skeleton_token": JSON,
    },
    "state": {
        "get_version": JSON,
        "upload_state": JSON,
        "upload_state_with_id": JSON,
        "get_state": JSON,
        "get_state_raw": BINARY,
        "get_properties": JSON,
        "get_properties_raw": BINARY,
        "upload_properties": JSON,
        "upload_properties_with_id": JSON,
    },
}


def find_module(service: str, operation_id: str) -> types.ModuleType:
    matches = list((GENERATED / service / "api").glob(f"*/{operation_id}.py"))
    assert len(matches) == 1, f"{service}.{operation_id}: {len(matches)} generated modules"
    tag = matches[0].parent.name
    return importlib.import_module(f"caveclient_gen_api.{service}.api.{tag}.{operation_id}")


def success_types(function: Any) -> set[Any]:
    """Non-error members of a generated function's return type."""
    returned = typing.get_type_hints(function)["return"]
    members = (
        set(typing.get_args(returned))
        if typing.get_origin(returned) in {typing.Union, types.UnionType}
        else {returned}
    )
    return {
        member
        for member in members
        if member is not type(None) and not getattr(member, "__name__", "").endswith(("Error", "Errors"))
    }


CASES = [
    (service, operation_id, kind)
    for service, operations in INVENTORY.items()
    for operation_id, kind in operations.items()
]


@pytest.mark.parametrize(
    ("service", "operation_id", "kind"), CASES, ids=[f"{s}.{o}" for s, o, _ in CASES]
)
def test_operation_is_generated_with_a_typed_response(
    service: str, operation_id: str, kind: str
) -> None:
    module = find_module(service, operation_id)
    for name in ("sync", "sync_detailed", "asyncio", "asyncio_detailed"):
        assert callable(getattr(module, name, None)), f"no {name}"
    members = success_types(module.sync)
    assert members, "the response is untyped"
    assert Any not in members
    names = {getattr(member, "__name__", str(member)) for member in members}
    if kind in {BINARY, ARROW}:
        assert "File" in names
    elif kind == TEXT:
        assert "str" in names
    else:
        assert "File" not in names


def test_inventory_matches_the_specs_exactly() -> None:
    """Every spec operation is in the inventory, and the inventory holds nothing else."""
    import yaml

    for service, operations in INVENTORY.items():
        spec = yaml.safe_load((GENERATED.parent.parent / "specs" / f"{service}.yaml").read_text())
        ids = {
            operation["operationId"]
            for item in spec["paths"].values()
            for method, operation in item.items()
            if method in {"get", "post", "put", "delete", "patch"}
        }
        assert ids == set(operations), service


def test_model_packages_load_lazily() -> None:
    """Importing one endpoint module must not import every model of its service."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "import caveclient_gen_api.materialize.api.versions.get_versions_v3\n"
        "loaded = [m for m in sys.modules if m.startswith('caveclient_gen_api.materialize.models.')]\n"
        "print(len(loaded))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    total = len(list((GENERATED / "materialize" / "models").glob("*.py"))) - 1
    assert int(result.stdout) < total / 4
