"""Auth, info, schema and state: LocalCAVE answers as specs/ documents, and the official caveclient
gets from LocalCAVE what our client gets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import numpy as np

from caveclient_gen import CAVEclient
from caveclient_gen.testing import LocalCAVE, LocalUser

from .caveclient_driver import TYPES, state_document, type_of
from .conftest import run_caveclient
from .spec_validator import RecordingTransport, SpecValidator
from .test_data_services import plain

GLOBAL_SPECS = ("auth", "info", "schema", "state")


def exercise(cave: LocalCAVE, recorder: RecordingTransport) -> None:
    """Call every operation of the four global specs, successfully and with typical errors."""
    spare = cave.add_user(LocalUser("conformance", permissions={"minnie65_phase3": ("view",)}))
    admin = {"Authorization": f"Bearer {cave.token}"}
    viewer = {"Authorization": f"Bearer {cave.token_for('viewer')}"}
    newcomer = {"Authorization": f"Bearer {cave.token_for('newcomer')}"}
    own = {"Authorization": f"Bearer {spare}"}
    ds, restricted, volume = cave.datastack, cave.restricted_datastack, cave.aligned_volume
    pcg_table = "minnie3_v1"
    with httpx.Client(base_url=cave.url, transport=recorder, timeout=30) as http:
        auth = "/auth/api/v1"
        http.get("/auth/version")
        for path in (
            "/user/token",
            "/create_token",
            "/user?id=1,2",
            "/user",
            "/user/me",
            "/user/cache",
            "/my_permissions",
            "/username?id=1,2",
            "/user/1",
            "/user/1/permissions",
            "/group",
            "/group/1/user",
            "/group/999/user",
            "/dataset",
            f"/service/datastack/table/{ds}/dataset",
            f"/table/{pcg_table}/has_public",
            f"/table/{pcg_table}/root/1234/is_public",
        ):
            http.get(auth + path, headers=admin)
        http.post(auth + "/user/token", headers=own, json={"description": "conformance"})
        tokens = http.get(auth + "/user/token", headers=own).json()
        http.get(auth + "/user?id=1", headers=viewer)  # not an admin: 403 text
        http.get(auth + "/user/cache")  # no token, not programmatic: login redirect
        http.get(auth + "/user/cache", headers={"Authorization": "Token abc"})  # bad header
        http.get(auth + "/user/cache", headers={"Authorization": "Bearer not-a-token"})
        http.get(auth + "/user/cache", headers={"X-Requested-With": "test"})  # no token: 401
        added = next(t["id"] for t in tokens if t["description"] == "conformance")
        http.delete(f"{auth}/user/token/{added}", headers=own)
        refreshed = http.get(auth + "/refresh_token", headers=own).json()
        http.get(auth + "/logout", headers={"Authorization": f"Bearer {refreshed}"})

        info = "/info/api/v2"
        http.get("/info/version")
        http.get("/info/api/versions")
        for path in (
            "/datastacks",
            f"/datastack/full/{ds}",
            f"/datastack/full/{ds}?image_source_name=google",
            f"/datastack/{ds}",
            f"/datastack/{ds}/image_sources",
            "/aligned_volume",
            f"/aligned_volume/{volume}",
            f"/aligned_volume/{volume}/datastacks",
            "/ngl_info",
            f"/datastack/full/{restricted}",
        ):
            http.get(info + path, headers=admin)
        http.get(info + "/aligned_volume/id/1")
        http.get(info + "/aligned_volume/id/999")
        http.get(info + f"/datastack/full/{restricted}", headers=viewer)  # 403
        http.get(info + f"/datastack/full/{ds}", headers=newcomer)  # terms of service
        http.get(info + "/datastack/full/nowhere", headers=admin)
        http.get(info + "/datastacks", headers=viewer)

        schema = "/schema/api/v2"
        http.get("/schema/versions")
        http.get("/schema/views/version")
        http.get(schema + "/type")
        http.get(schema + "/type/synapse")
        http.get(schema + "/type/no_such_schema")
        http.post(schema + "/types?schema_names=synapse,cell_type_local")
        http.get(schema + "/types_all")

        state = "/nglstate/api/v1"
        http.get(state + "/version", headers=admin)
        created = http.post(state + "/post", headers=admin, content=b'{"layers": []}').json()
        state_id = int(created.rsplit("/", 1)[-1])
        http.get(f"{state}/{state_id}", headers=admin)
        http.get(f"{state}/{state_id}", headers={**admin, "Accept-Encoding": "gzip, deflate"})
        http.get(f"{state}/raw/{state_id}", headers=admin)
        http.post(
            f"{state}/post/{state_id + 1}?timestamp=1700000000",
            headers=admin,
            content=b'{"layers": [1]}',
        )
        http.post(f"{state}/post/{state_id + 2}", headers=viewer, content=b"{}")  # not admin
        properties = (
            b'{"@type": "neuroglancer_segment_properties", "inline": {"ids": [], "properties": []}}'
        )
        created = http.post(state + "/property/post", headers=admin, content=properties).json()
        property_id = int(created.rsplit("/", 1)[-1])
        http.get(f"{state}/property/{property_id}/info", headers=admin)
        http.get(f"{state}/property/raw/{property_id}", headers=admin)
        http.post(f"{state}/property/post/{property_id + 1}", headers=admin, content=properties)
        http.get(f"{state}/1", headers=admin)  # unknown state
        http.delete(f"{auth}/user/token/424242", headers=admin)  # not a token of the caller
        http.get(f"{auth}/service/datastack/table/nowhere/dataset", headers=admin)


def test_every_global_operation_answers_as_documented(
    cave: LocalCAVE, recorder: RecordingTransport, validator: SpecValidator
) -> None:
    start = len(recorder.exchanges)
    exercise(cave, recorder)
    exchanges = recorder.exchanges[start:]
    problems = [p for request, response in exchanges for p in validator.problems(request, response)]
    assert problems == []

    answered = set()
    for request, response in exchanges:
        route = validator.route_of(request.method, request.url.path)
        if route is not None and response.is_success:
            answered.add((route.service, route.operation["operationId"]))
    expected = {
        (route.service, route.operation["operationId"])
        for route in validator.routes
        if route.service in GLOBAL_SPECS
    }
    # LocalCAVE issues API tokens only, and those cannot be logged out (the real server's 422).
    expected.discard(("auth", "logout"))
    assert expected - answered == set(), "operations never answered successfully"


def test_our_client_conforms_too(
    client: CAVEclient, recorder: RecordingTransport, validator: SpecValidator
) -> None:
    start = len(recorder.exchanges)
    ours = our_results(client)
    assert ours["info.get_datastacks"]
    exchanges = recorder.exchanges[start:]
    assert len(exchanges) >= 15
    problems = [p for request, response in exchanges for p in validator.problems(request, response)]
    assert problems == []


def our_results(client: CAVEclient) -> dict[str, Any]:
    info, schema, state, auth = client.info, client.schema, client.state, client.auth
    document = {
        "layers": [{"type": "segmentation", "name": "seg", "segments": ["42"]}],
        "position": [1, 2, 3],
    }
    properties = {
        "@type": "neuroglancer_segment_properties",
        "inline": {
            "ids": ["1", "2"],
            "properties": [{"id": "label", "type": "label", "values": ["a", "b"]}],
        },
    }
    state_id = state.upload_state_json(document)
    property_id = state.upload_property_json(properties)
    return {
        "info.get_datastacks": info.get_datastacks(),
        "info.get_datastack_info": info.get_datastack_info(),
        "info.get_aligned_volumes": info.get_aligned_volumes(),
        "info.get_aligned_volume_info": info.get_aligned_volume_info(),
        "info.get_datastacks_by_aligned_volume": info.get_datastacks_by_aligned_volume(),
        "info.get_aligned_volume_info_by_id": info.get_aligned_volume_info_by_id(),
        "info.local_server": info.local_server(),
        "info.annotation_endpoint": info.annotation_endpoint(),
        "info.image_source": info.image_source(),
        "info.get_image_mirrors": info.get_image_mirrors(),
        "info.get_image_mirror_names": info.get_image_mirror_names(),
        "info.segmentation_source": info.segmentation_source(),
        "info.viewer_site": info.viewer_site(),
        "info.viewer_resolution": info.viewer_resolution(),
        "schema.get_schemas": schema.get_schemas(),
        "schema.schema_definition": schema.schema_definition("synapse"),
        "schema.schema_definition_multi": schema.schema_definition_multi(["synapse", "cell_type_local"]),
        "schema.schema_definition_all": sorted(schema.schema_definition_all()),
        "state.get_state_json": state.get_state_json(state_id),
        "state.get_property_json": state.get_property_json(property_id),
        "state.build_neuroglancer_url": state.build_neuroglancer_url(
            state_id, ngl_url="https://ngl.example.org", target_site="seunglab"
        ),
        "auth.get_tokens": sorted(t["id"] for t in auth.get_tokens()),
        "auth.get_user_information": auth.get_user_information([1]),
        "auth.get_group_users": auth.get_group_users(1),
    }


def our_state_results(client: CAVEclient, tmp_path: Path) -> dict[str, Any]:
    """state_cases of the driver, run by our client."""
    state = client.state
    results: dict[str, Any] = {}
    state_id = state.upload_state_json(state_document())
    results["state.upload_state_json:numpy"] = state_id
    results["state.get_state_json:numpy"] = repr(state.get_state_json(state_id))
    properties = {
        "@type": "neuroglancer_segment_properties",
        "inline": {
            "ids": np.array([864691135088120211, 2], dtype=np.uint64),
            "properties": [{"id": "size", "type": "number", "values": [1.5, float("nan")]}],
        },
    }
    property_id = state.upload_property_json(properties)
    results["state.upload_property_json:numpy"] = property_id
    results["state.get_property_json:numpy"] = repr(state.get_property_json(property_id))
    path = tmp_path / "state.json"
    state.save_state_json_local(state_document(), path)
    results["state.save_state_json_local"] = path.read_text(encoding="ascii")
    for site in ("seunglab", "spelunker", "mainline"):
        results[f"state.build_neuroglancer_url:static:{site}"] = state.build_neuroglancer_url(
            "https://files.example.org/s.json",
            ngl_url="https://ngl.example.org",
            target_site=site,
            static_url=True,
        )
        results[f"state.build_neuroglancer_url:{site}"] = state.build_neuroglancer_url(
            7, ngl_url="https://ngl.example.org/", target_site=site
        )
    return results


def test_the_official_caveclient_gets_what_we_get(
    cave: LocalCAVE, client: CAVEclient, tmp_path: Path
) -> None:
    theirs = run_caveclient("global", cave, tmp_path)
    ours = {**our_results(client), **our_state_results(client, tmp_path)}
    # Stored documents read back the same (ids differ: each client stored its own).
    for name in ("state.upload_state_json:numpy", "state.upload_property_json:numpy"):
        assert isinstance(theirs.pop(name), int)
        assert isinstance(ours.pop(name), int)
    assert "'segments': ['864691135088120211', '5']" in ours["state.get_state_json:numpy"]
    assert "nan, inf, -inf" in ours["state.get_state_json:numpy"]
    theirs["state.build_neuroglancer_url"] = theirs["state.build_neuroglancer_url"].replace(
        str(theirs["state.upload_state_json"]), "<id>"
    )
    ours["state.build_neuroglancer_url"] = (
        ours["state.build_neuroglancer_url"].rsplit("/", 1)[0] + "/<id>"
    )
    differences = []
    for name, value in ours.items():
        if plain(value) != theirs[name]:
            differences.append(f"{name}: value {plain(value)!r} != {theirs[name]!r}")
        elif type_of(value) != theirs[TYPES][name]:
            differences.append(f"{name}: type {type_of(value)} != {theirs[TYPES][name]}")
    assert differences == []
