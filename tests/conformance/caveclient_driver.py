"""Runs the official caveclient against a CAVE server and prints what each call returned, as JSON.

It runs in an environment of its own (caveclient pins pandas below 3), started by the tests as:

    uv run --isolated --no-project --with caveclient==8.2.1 python caveclient_driver.py \
        SECTION SERVER DATASTACK TOKEN

and imports nothing of caveclient_gen. Each result is recorded under the name of the call; a call
that raises is recorded as {"error": "<exception class>: <message>"}.
"""

from __future__ import annotations

import json
import sys
import traceback
from collections.abc import Callable
from typing import Any


def jsonable(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, dict):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(item) for item in value]
    return value


def record(results: dict[str, Any], name: str, call: Callable[[], Any]) -> Any:
    try:
        value = call()
    except Exception as error:  # recorded, compared by the test
        results[name] = {"error": f"{type(error).__name__}: {error}"}
        traceback.print_exc(file=sys.stderr)
        return None
    results[name] = jsonable(value)
    return value


def global_services(client: Any, results: dict[str, Any]) -> None:
    info = client.info
    record(results, "info.get_datastacks", info.get_datastacks)
    record(results, "info.get_datastack_info", info.get_datastack_info)
    record(results, "info.get_aligned_volumes", info.get_aligned_volumes)
    record(results, "info.get_aligned_volume_info", info.get_aligned_volume_info)
    record(results, "info.get_datastacks_by_aligned_volume", info.get_datastacks_by_aligned_volume)
    record(results, "info.get_aligned_volume_info_by_id", info.get_aligned_volume_info_by_id)
    record(results, "info.local_server", info.local_server)
    record(results, "info.annotation_endpoint", info.annotation_endpoint)
    record(results, "info.image_source", info.image_source)
    record(results, "info.get_image_mirrors", info.get_image_mirrors)
    record(results, "info.get_image_mirror_names", info.get_image_mirror_names)
    record(results, "info.segmentation_source", info.segmentation_source)
    record(results, "info.viewer_site", info.viewer_site)
    record(results, "info.viewer_resolution", info.viewer_resolution)

    schema = client.schema
    record(results, "schema.get_schemas", schema.get_schemas)
    record(results, "schema.schema_definition", lambda: schema.schema_definition("synapse"))
    record(
        results,
        "schema.schema_definition_multi",
        lambda: schema.schema_definition_multi(["synapse", "cell_type_local"]),
    )
    record(results, "schema.schema_definition_all", lambda: sorted(schema.schema_definition_all()))

    state = client.state
    document = {
        "layers": [{"type": "segmentation", "name": "seg", "segments": ["42"]}],
        "position": [1, 2, 3],
    }
    state_id = record(results, "state.upload_state_json", lambda: state.upload_state_json(document))
    record(results, "state.get_state_json", lambda: state.get_state_json(state_id))
    properties = {
        "@type": "neuroglancer_segment_properties",
        "inline": {
            "ids": ["1", "2"],
            "properties": [{"id": "label", "type": "label", "values": ["a", "b"]}],
        },
    }
    property_id = record(
        results, "state.upload_property_json", lambda: state.upload_property_json(properties)
    )
    record(results, "state.get_property_json", lambda: state.get_property_json(property_id))
    record(
        results,
        "state.build_neuroglancer_url",
        lambda: state.build_neuroglancer_url(
            state_id, ngl_url="https://ngl.example.org", target_site="seunglab"
        ),
    )

    auth = client.auth
    record(results, "auth.get_tokens", lambda: sorted(t["id"] for t in auth.get_tokens()))
    record(results, "auth.get_user_information", lambda: auth.get_user_information([1]))
    record(results, "auth.get_group_users", lambda: auth.get_group_users(1))


SECTIONS: dict[str, Callable[[Any, dict[str, Any]], None]] = {"global": global_services}


def main() -> int:
    section, server, datastack, token = sys.argv[1:5]
    from caveclient import CAVEclient

    client = CAVEclient(datastack, server_address=server, auth_token=token, write_server_cache=False)
    results: dict[str, Any] = {}
    SECTIONS[section](client, results)
    print(json.dumps(results, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
