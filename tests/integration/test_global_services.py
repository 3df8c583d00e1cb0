"""The auth, info, state and schema sub-clients against LocalCAVE: results, and clear typed errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from caveclient_gen import (
    AuthenticationError,
    BadRequestError,
    CAVEclient,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
    ServerError,
    TermsOfServiceError,
)
from caveclient_gen.testing import LocalCAVE

from .conftest import client_of


def test_info_records_and_fields(client: CAVEclient, cave: LocalCAVE) -> None:
    info = client.info
    record = info.get_datastack_info()
    assert record["local_server"] == cave.url
    assert info.get_aligned_volume_info()["name"] == cave.aligned_volume
    assert info.aligned_volume_name == cave.aligned_volume
    assert info.get_aligned_volume_info_by_id(info.aligned_volume_id)["name"] == cave.aligned_volume
    assert cave.datastack in info.get_datastacks_by_aligned_volume()
    assert info.annotation_endpoint() == f"{cave.url}/annotation"
    assert info.segmentation_source().endswith("/segmentation/table/minnie3_v1")
    assert info.segmentation_source(format_for="neuroglancer").startswith("graphene://middleauth+http")
    assert isinstance(info.viewer_resolution(), np.ndarray)
    assert info.viewer_site().startswith("https://")


def test_image_mirrors(client: CAVEclient) -> None:
    names = client.info.get_image_mirror_names()
    assert len(names) >= 2
    google = client.info.image_source(image_mirror="google")
    assert google.startswith("precomputed://gs://")
    bossdb = client.info.image_source(image_mirror="bossdb")
    assert bossdb.startswith("precomputed://https://")
    assert client.info.image_source(image_mirror="bossdb", format_for="cloudvolume") == bossdb
    assert client.info.image_source(image_mirror="google", format_for="neuroglancer") == google
    # The mirror's record is kept apart from the default one.
    assert client.info.image_source() != google


def test_info_is_fetched_once(client: CAVEclient, cave: LocalCAVE) -> None:
    client.info.get_datastack_info()
    record = client._core.deployment.stored_record()
    assert record is not None
    client.info.refresh_stored_data()
    assert client._core.deployment.stored_record() == record


def test_unknown_datastack_is_named(cave: LocalCAVE) -> None:
    client = client_of(cave, cave.token, datastack="no_such_stack")
    with pytest.raises(BadRequestError, match="no_such_stack"):
        client.info.get_datastack_info()


def test_missing_and_invalid_tokens(cave: LocalCAVE) -> None:
    with pytest.raises(AuthenticationError, match="No Token"):
        client_of(cave, None).info.get_datastacks()
    with pytest.raises(AuthenticationError, match="Invalid or Expired"):
        client_of(cave, "0" * 32).info.get_datastacks()


def test_missing_permission_and_terms_of_service(cave: LocalCAVE) -> None:
    viewer = client_of(cave, cave.token_for("viewer"), datastack=cave.restricted_datastack)
    with pytest.raises(PermissionDeniedError, match="Missing permission") as denied:
        viewer.info.get_datastack_info()
    assert denied.value.error_code == "missing_permission"
    newcomer = client_of(cave, cave.token_for("newcomer"))
    with pytest.raises(TermsOfServiceError) as tos:
        newcomer.info.get_datastack_info()
    assert tos.value.tos_url is not None
    assert tos.value.tos_url.startswith(cave.url)


def test_states_round_trip(client: CAVEclient) -> None:
    state = {
        "layers": [{"type": "segmentation", "segments": [np.uint64(864691135000000001)]}],
        "position": np.array([1.5, 2.0, 3.0]),
    }
    state_id = client.state.upload_state_json(state)
    stored = client.state.get_state_json(state_id)
    assert stored == {
        "layers": [{"type": "segmentation", "segments": ["864691135000000001"]}],
        "position": [1.5, 2.0, 3.0],
    }
    url = f"{client.server_address}/nglstate/api/v1/{state_id}"
    assert client.state.get_state_json(url) == stored


def test_state_with_an_id_and_timestamp(client: CAVEclient) -> None:
    assert client.state.upload_state_json({"a": 1}, state_id=987654321, timestamp=1.7e9) == 987654321
    assert client.state.get_state_json(987654321) == {"a": 1}
    with pytest.raises(InvalidInputError, match="timestamp"):
        client.state.upload_state_json({"a": 1}, timestamp=1.7e9)


def test_only_superadmins_choose_state_ids(cave: LocalCAVE) -> None:
    viewer = client_of(cave, cave.token_for("viewer"))
    with pytest.raises(PermissionDeniedError, match="superadmin"):
        viewer.state.upload_state_json({"a": 1}, state_id=5)


def test_unknown_state_is_a_server_error(client: CAVEclient) -> None:
    with pytest.raises(ServerError, match="Internal Server Error"):
        client.state.get_state_json(12345)


def test_properties_round_trip_and_size_limit(client: CAVEclient) -> None:
    document = {
        "@type": "neuroglancer_segment_properties",
        "inline": {"ids": ["1"], "properties": [{"id": "n", "type": "label", "values": ["x"]}]},
    }
    property_id = client.state.upload_property_json(document)
    assert client.state.get_property_json(property_id) == document
    with pytest.raises(InvalidInputError, match="max_size"):
        client.state.upload_property_json(document, max_size=10)
    url = client.state.build_neuroglancer_url(property_id, format_properties=True)
    assert (
        url == f"precomputed://middleauth+{client.server_address}/nglstate/api/v1/property/{property_id}"
    )


def test_neuroglancer_links(client: CAVEclient) -> None:
    seunglab = client.state.build_neuroglancer_url(
        7, ngl_url="https://ngl.test/", target_site="seunglab"
    )
    assert seunglab == f"https://ngl.test/?json_url={client.server_address}/nglstate/api/v1/7"
    main = client.state.build_neuroglancer_url(7, ngl_url="https://ngl.test", target_site="mainline")
    assert main == f"https://ngl.test/#!middleauth+{client.server_address}/nglstate/api/v1/7"
    static = client.state.build_neuroglancer_url(
        "https://files.test/s.json", ngl_url="https://ngl.test", target_site="seunglab", static_url=True
    )
    assert static == "https://ngl.test/?json_url=https://files.test/s.json"
    with pytest.raises(InvalidInputError, match="target_site"):
        client.state.build_neuroglancer_url(7, target_site="other")


def test_save_state_json_local(client: CAVEclient, tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    client.state.save_state_json_local({"n": np.int64(3)}, path)
    assert json.loads(path.read_text()) == {"n": "3"}
    with pytest.raises(InvalidInputError, match="overwrite"):
        client.state.save_state_json_local({"n": 1}, path)
    client.state.save_state_json_local({"n": 1}, path, overwrite=True)
    assert json.loads(path.read_text()) == {"n": 1}


def test_a_state_that_is_not_json_is_refused_before_sending(client: CAVEclient) -> None:
    with pytest.raises(InvalidInputError, match="json_state"):
        client.state.upload_state_json({"when": object()})
    with pytest.raises(InvalidInputError, match="json_state"):
        client.state.upload_state_json(["not", "a", "dict"])  # type: ignore[arg-type]


def test_schemas(client: CAVEclient) -> None:
    names = client.schema.get_schemas()
    assert "synapse" in names
    assert len(names) == 57
    synapse = client.schema.schema_definition("synapse")
    assert synapse["$ref"] == "#/definitions/SynapseSchema"
    several = client.schema.schema_definition_multi(["synapse", "cell_type_local"])
    assert set(several) == {"synapse", "cell_type_local"}
    assert several["synapse"] == synapse
    assert set(client.schema.schema_definition_all()) == set(names)
    with pytest.raises(NotFoundError):
        client.schema.schema_definition("no_such_schema")
    with pytest.raises(InvalidInputError, match="schema_types"):
        client.schema.schema_definition_multi("synapse")  # type: ignore[arg-type]


def test_auth_records(client: CAVEclient, cave: LocalCAVE) -> None:
    tokens = client.auth.get_tokens()
    assert tokens
    assert all("token" in record for record in tokens)
    users = client.auth.get_user_information([1, 2])
    assert [user["id"] for user in users] == [1, 2]
    assert {member["name"] for member in client.auth.get_group_users(1)} >= {"admin"}
    viewer = client_of(cave, cave.token_for("viewer"))
    with pytest.raises(PermissionDeniedError, match="admin"):
        viewer.auth.get_user_information([1])
    with pytest.raises(InvalidInputError, match="user_ids"):
        client.auth.get_user_information(["one"])  # type: ignore[list-item]


def test_token_pages(client: CAVEclient, capsys: pytest.CaptureFixture[str]) -> None:
    page = client.auth.get_token_page(open=False)
    assert page == f"{client.server_address}/sticky_auth/settings/tokens"
    created = client.auth.get_new_token(open=False)
    assert created == f"{client.server_address}/auth/api/v1/create_token"
    assert "invalidates" in capsys.readouterr().out
    assert client.auth.request_header == {"Authorization": f"Bearer {client.auth.token}"}


def test_changing_the_token_rebuilds_connections(client: CAVEclient, cave: LocalCAVE) -> None:
    assert client.info.get_datastacks()
    client.auth.token = "f" * 32
    with pytest.raises(AuthenticationError):
        client.info.get_datastacks()
    client.auth.token = cave.token
    assert client.info.get_datastacks()
    assert client.auth.token_source == "set on client.auth.token"


def test_change_auth_keeps_the_other_settings(cave: LocalCAVE, isolated_home: Path) -> None:
    token_file = isolated_home / "mine.json"
    token_file.write_text(json.dumps({"mine": cave.token_for("viewer")}), encoding="utf-8")
    client = client_of(cave, "f" * 32)
    with pytest.raises(AuthenticationError):
        client.info.get_datastacks()
    client.change_auth(auth_token_file=token_file, auth_token_key="mine")
    assert client.info.get_datastacks() == [cave.datastack]
    assert client.auth.token_source == f"{token_file} (key 'mine')"
    client.change_auth(auth_token=cave.token)
    assert cave.restricted_datastack in client.info.get_datastacks()


def test_setup_token_checks_and_saves(
    cave: LocalCAVE,
    isolated_home: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from caveclient_gen.testing import InProcessTransport

    real_init = CAVEclient.__init__

    def in_process(self: CAVEclient, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("transport", InProcessTransport(cave.app))
        real_init(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(CAVEclient, "__init__", in_process)
    monkeypatch.setattr("getpass.getpass", lambda prompt: cave.token.upper())
    saved = CAVEclient.setup_token(cave.url, open=False)
    assert saved.endswith("-cave-secret.json")
    assert json.loads(Path(saved).read_text())["token"] == cave.token
    assert "Token saved" in capsys.readouterr().out
    monkeypatch.setattr("getpass.getpass", lambda prompt: "0" * 32)
    with pytest.raises(InvalidInputError, match="does not accept this token"):
        CAVEclient.setup_token(cave.url, open=False)
    monkeypatch.setattr("getpass.getpass", lambda prompt: "short")
    with pytest.raises(InvalidInputError, match="32 hexadecimal"):
        CAVEclient.setup_token(cave.url, open=False)


def test_the_datastack_map_is_written_on_first_use_not_at_construction(
    cave: LocalCAVE, isolated_home: Path
) -> None:
    map_file = isolated_home / ".cloudvolume" / "secrets" / "cave_datastack_to_server_map.json"
    client = client_of(cave, cave.token)
    assert not map_file.exists()
    client.info.get_datastacks()
    assert json.loads(map_file.read_text()) == {cave.datastack: cave.url}
    # A later client without server_address finds the server through the map.
    later = CAVEclient(cave.datastack, auth_token=cave.token)
    assert later.server_address == cave.url


def test_construction_and_sub_clients_send_nothing_to_a_real_server() -> None:
    with LocalCAVE(seed=4) as running:
        client = CAVEclient(running.datastack, server_address=running.url, auth_token=running.token)
        for name in ("auth", "info", "state", "schema", "chunkedgraph", "l2cache", "skeleton"):
            getattr(client, name)
        assert running.requests == []
        client.info.get_datastacks()
        assert running.requests == [("GET", "/info/api/v2/datastacks")]
        client.close()
