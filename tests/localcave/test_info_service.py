"""The info service (AnnotationFrameworkInfoService 4.3.3), checked against captured responses."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from caveclient_gen.testing import LocalCAVE
from caveclient_gen.testing.info.routes import FLASK_RULES
from caveclient_gen.testing.server.wire import restx_not_found_message

from .conftest import bearer, reference_sample

API = "/info/api/v2"


def shape(value: Any) -> Any:
    """Key names in order, recursively; scalars reduced to their JSON kind."""
    if isinstance(value, dict):
        return [(key, shape(item)) for key, item in value.items()]
    if isinstance(value, list):
        return [shape(item) for item in value[:1]]
    if value is None:
        return None
    return type(value).__name__


def sample_path_for(cave: LocalCAVE, sample_request: str) -> str:
    """A captured request line rewritten to this deployment's names."""
    path = sample_request.split(" ", 1)[1]
    return (
        path.replace("example_datastack", cave.datastack)
        .replace("example_aligned_volume", cave.aligned_volume)
        .replace("image_source_name=mirror1", "image_source_name=google")
    )


@pytest.mark.parametrize(
    "sample_name",
    [
        "versions",
        "version",
        "datastack_full",
        "datastack_full_with_image_source_name",
        "datastack",
        "aligned_volumes",
        "aligned_volume",
        "aligned_volume_by_id",
        "datastacks_in_aligned_volume",
        "image_sources",
    ],
)
def test_responses_have_the_real_shapes(admin: httpx.Client, cave: LocalCAVE, sample_name: str) -> None:
    sample = reference_sample("info-4.3.3.responses.json")[sample_name]
    response = admin.get(sample_path_for(cave, sample["request"]))
    assert response.status_code == sample["status"]
    assert response.headers["content-type"] == sample["content_type"]
    assert shape(response.json()) == shape(sample["body"])


def test_datastack_listings_follow_view_permission(admin: httpx.Client, cave: LocalCAVE) -> None:
    assert admin.get(f"{API}/datastacks").json() == [cave.datastack, cave.restricted_datastack]
    viewer = bearer(cave.tokens["viewer"])
    assert admin.get(f"{API}/datastacks", headers=viewer).json() == [cave.datastack]
    in_volume = admin.get(f"{API}/aligned_volume/{cave.aligned_volume}/datastacks", headers=viewer)
    assert in_volume.json() == [cave.datastack]
    assert admin.get(f"{API}/aligned_volume", headers=viewer).json() == [cave.aligned_volume]


def test_full_datastack_record(admin: httpx.Client, cave: LocalCAVE) -> None:
    record = admin.get(f"{API}/datastack/full/{cave.datastack}").json()
    assert record["local_server"] == cave.url
    assert record["segmentation_source"] == f"graphene://{cave.url}/segmentation/table/minnie3_v1"
    assert record["skeleton_source"] == (
        f"precomputed://{cave.url}/skeletoncache/api/v1/{cave.datastack}/precomputed/skeleton"
    )
    assert record["synapse_table"] == "synapses_pni_2"
    assert record["soma_table"] == "nucleus_detection_v0"
    assert record["viewer_site"].startswith("https://")
    resolution = [record[f"viewer_resolution_{axis}"] for axis in "xyz"]
    assert resolution == [4.0, 4.0, 40.0]
    assert record["aligned_volume"]["name"] == cave.aligned_volume
    assert record["aligned_volume"]["image_source"].startswith("precomputed://")
    assert not {"name", "id", "display_name", "viewer_layer_name", "base_link_id"} & set(record)


def test_image_mirrors(admin: httpx.Client, cave: LocalCAVE) -> None:
    mirrors = admin.get(f"{API}/datastack/{cave.datastack}/image_sources").json()
    assert [mirror["name"] for mirror in mirrors] == ["bossdb", "google"]
    mirrored = admin.get(
        f"{API}/datastack/full/{cave.datastack}", params={"image_source_name": "google"}
    )
    assert mirrored.json()["aligned_volume"]["image_source"] == mirrors[1]["image_source"]
    unknown = admin.get(f"{API}/datastack/full/{cave.datastack}", params={"image_source_name": "nope"})
    assert unknown.status_code == 404
    assert unknown.json()["message"].startswith("The requested URL was not found on the server.")


def test_short_record_links_its_aligned_volume(admin: httpx.Client, cave: LocalCAVE) -> None:
    record = admin.get(f"{API}/datastack/{cave.datastack}").json()
    assert record["aligned_volume"] == "/info/api/v2/aligned_volume/id/1"
    state = admin.get(f"/nglstate/api/v1/{record['base_link_id']}").json()
    assert {layer["name"] for layer in state["layers"]} == {"img", "seg"}


def test_aligned_volume_by_id_needs_no_token(client: httpx.Client, cave: LocalCAVE) -> None:
    assert client.get(f"{API}/aligned_volume/id/1").json()["name"] == cave.aligned_volume
    assert client.get("/info/api/versions").json() == [2]
    assert client.get("/info/version").text == '"4.3.3"\n'


def test_unknown_names_get_flask_restx_404_with_hint(client: httpx.Client) -> None:
    response = client.get(f"{API}/aligned_volume/id/99")
    assert response.status_code == 404
    message = response.json()["message"]
    assert message.startswith(
        "The requested URL was not found on the server. If you entered the URL manually please check "
        "your spelling and try again. You have requested this URI [/info/api/v2/aligned_volume/id/99] "
        "but did you mean /info/api/v2/aligned_volume/id/<int:id> or "
    )
    assert message.endswith(" ?")
    assert set(response.json()) == {"message"}


def test_hint_reproduces_the_captured_404() -> None:
    sample = reference_sample("info-4.3.3.responses.json")["not_found_404"]
    path = sample["request"].split(" ", 1)[1]
    assert restx_not_found_message(path, FLASK_RULES) == sample["body"]["message"]


def test_ngl_info(admin: httpx.Client, client: httpx.Client, cave: LocalCAVE) -> None:
    sample = reference_sample("info-4.3.3.responses.json")["ngl_info"]["body"]
    answer = admin.get(f"{API}/ngl_info").json()
    (volume,) = answer.values()
    (sample_volume,) = sample.values()
    assert list(volume) == list(sample_volume)
    assert [layer["name"] for layer in volume["segmentation_layers"]] == [
        cave.datastack,
        cave.restricted_datastack,
    ]
    assert list(volume["segmentation_layers"][0]) == list(sample_volume["segmentation_layers"][0])
    assert list(volume["image_layers"][0]) == list(sample_volume["image_layers"][0])
    as_viewer = client.get(f"{API}/ngl_info", headers=bearer(cave.tokens["viewer"])).json()
    (viewer_volume,) = as_viewer.values()
    assert [layer["name"] for layer in viewer_volume["segmentation_layers"]] == [cave.datastack]
