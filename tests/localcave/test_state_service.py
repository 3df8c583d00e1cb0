"""The JSON state service (NeuroglancerJsonServer 0.7.2)."""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterator

import httpx
import pytest

from caveclient_gen.testing import LocalCAVE

from .conftest import bearer

V1 = "/nglstate/api/v1"
STATE = {"layers": [{"type": "segmentation", "name": "seg"}], "position": [1, 2, 3]}


def raw_get(client: httpx.Client, path: str, accept_encoding: str) -> tuple[httpx.Headers, bytes]:
    """Status-checked GET returning the undecoded body bytes."""
    with client.stream("GET", path, headers={"Accept-Encoding": accept_encoding}) as response:
        assert response.status_code == 200
        return response.headers, b"".join(response.iter_raw())


@pytest.fixture(scope="module")
def wire(served_cave: LocalCAVE) -> Iterator[httpx.Client]:
    """A client of the real server, sending the superadmin's token."""
    with httpx.Client(base_url=served_cave.url, headers=bearer(served_cave.token), timeout=5) as client:
        yield client


@pytest.fixture(scope="module")
def stored_state_id(wire: httpx.Client) -> int:
    url = wire.post(f"{V1}/post", content=json.dumps(STATE).encode()).json()
    return int(url.rsplit("/", 1)[1])


def test_upload_answers_the_url_of_the_new_state(wire: httpx.Client, served_cave: LocalCAVE) -> None:
    response = wire.post(f"{V1}/post", content=b'{"a": 1}', headers={"Content-Type": "text/plain"})
    assert response.status_code == 200
    url = response.json()
    assert url.startswith(f"{served_cave.url}/nglstate/api/v1/")
    assert 10**15 <= int(url.rsplit("/", 1)[1]) < 10**16


@pytest.mark.parametrize(
    ("accept_encoding", "compressed", "declared"),
    [
        ("gzip, deflate", True, "deflate"),
        ("deflate", True, None),
        ("gzip", False, "deflate"),
        ("identity", False, None),
    ],
)
def test_download_follows_the_accept_encoding_handshake(
    wire: httpx.Client,
    stored_state_id: int,
    accept_encoding: str,
    compressed: bool,
    declared: str | None,
) -> None:
    headers, body = raw_get(wire, f"{V1}/{stored_state_id}", accept_encoding)
    expected = json.dumps(STATE).encode()
    assert (zlib.decompress(body) if compressed else body) == expected
    assert headers.get("content-encoding") == declared
    assert headers["content-type"] == "application/json"
    assert headers["vary"] == "Accept-Encoding"
    assert headers["content-length"] == str(len(body))


def test_default_client_gets_the_state_back(wire: httpx.Client, stored_state_id: int) -> None:
    assert wire.get(f"{V1}/{stored_state_id}").json() == STATE


def test_raw_download_is_the_stored_zlib_bytes(wire: httpx.Client, stored_state_id: int) -> None:
    headers, body = raw_get(wire, f"{V1}/raw/{stored_state_id}", "identity")
    assert json.loads(zlib.decompress(body)) == STATE
    assert headers["content-type"] == "text/html; charset=utf-8"


def test_version_and_index_need_a_token(client: httpx.Client, cave: LocalCAVE) -> None:
    assert client.get(f"{V1}/version", headers={"X-Requested-With": "x"}).status_code == 401
    assert client.get(f"{V1}/version", headers=bearer(cave.token)).json() == "0.7.2"
    assert client.get(f"{V1}/", headers=bearer(cave.token)).text == "NeuroglancerJsonServer - v0.7.2"


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", f"{V1}/1234", None),
        ("GET", f"{V1}/not-a-number", None),
        ("POST", f"{V1}/post", b"not json"),
        ("GET", f"{V1}/property/1234/info", None),
    ],
    ids=["unknown-id", "non-integer-id", "body-not-json", "unknown-property"],
)
def test_failures_are_the_servers_bare_500(
    admin: httpx.Client, method: str, path: str, body: bytes | None
) -> None:
    response = admin.request(method, path, content=body)
    assert response.status_code == 500
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert "<title>500 Internal Server Error</title>" in response.text


def test_upload_with_chosen_id_is_for_the_superadmin(admin: httpx.Client, cave: LocalCAVE) -> None:
    url = admin.post(f"{V1}/post/4242", params={"timestamp": 1700000000}, content=b"[1]").json()
    assert url == f"{cave.url}/nglstate/api/v1/post/4242"
    assert admin.get(f"{V1}/4242").json() == [1]
    taken = admin.post(f"{V1}/post/4242", content=b"[2]")
    assert taken.status_code == 500
    refused = admin.post(f"{V1}/post/4243", content=b"[2]", headers=bearer(cave.tokens["viewer"]))
    assert (refused.status_code, refused.text) == (403, "Requires superadmin privilege.")


def test_any_user_may_upload_and_read(client: httpx.Client, cave: LocalCAVE) -> None:
    viewer = bearer(cave.tokens["newcomer"])
    url = client.post(f"{V1}/post", content=b'{"x": 1}', headers=viewer).json()
    assert client.get(f"{V1}/{url.rsplit('/', 1)[1]}", headers=viewer).json() == {"x": 1}


def test_properties_have_their_own_routes_and_column(admin: httpx.Client, cave: LocalCAVE) -> None:
    properties = {"@type": "neuroglancer_segment_properties", "inline": {"ids": ["1"], "properties": []}}
    url = admin.post(f"{V1}/property/post", json=properties).json()
    assert url.startswith(f"{cave.url}/nglstate/api/v1/property/")
    property_id = url.rsplit("/", 1)[1]
    assert admin.get(f"{V1}/property/{property_id}/info").json() == properties
    raw = admin.get(f"{V1}/property/raw/{property_id}", headers={"Accept-Encoding": "identity"})
    assert json.loads(zlib.decompress(raw.content)) == properties
    # States and properties share one id space but not one column.
    assert admin.get(f"{V1}/{property_id}").status_code == 500
    with_id = admin.post(f"{V1}/property/post/77", json=properties).json()
    assert with_id == f"{cave.url}/nglstate/api/v1/property/post/77"


def test_legacy_routes_are_served(admin: httpx.Client, cave: LocalCAVE) -> None:
    url = admin.post("/nglstate/post", content=b'{"legacy": true}').json()
    assert url.startswith(f"{cave.url}/nglstate/")
    assert admin.get(f"/nglstate/{url.rsplit('/', 1)[1]}").json() == {"legacy": True}


def test_cors_headers_are_on_every_response(client: httpx.Client, cave: LocalCAVE) -> None:
    response = client.get(f"{V1}/version", headers=bearer(cave.token))
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.headers["access-control-expose-headers"] == "WWW-Authenticate"
    preflight = client.options(
        f"{V1}/post",
        headers={"Origin": "https://ngl.example", "Access-Control-Request-Method": "POST"},
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "*"


def incompressible_document(size: int) -> bytes:
    """A JSON document of about `size` bytes that zlib cannot shrink much."""
    import random

    rng = random.Random(5)
    text = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(size))
    return json.dumps({"noise": text}).encode()


def test_a_document_is_one_datastore_entity_of_about_a_mebibyte(
    admin: httpx.Client, cave: LocalCAVE
) -> None:
    small = admin.post(f"{V1}/post", content=incompressible_document(600_000))
    assert small.status_code == 200
    big = incompressible_document(2_000_000)  # about 1.3 MB compressed
    assert admin.post(f"{V1}/post", content=big).status_code == 500
    assert admin.post(f"{V1}/property/post", content=big).status_code == 500
    cave.deployment.states.state_bucket = True  # a deployment that backs states with a bucket
    try:
        assert admin.post(f"{V1}/post", content=big).status_code == 200
        assert admin.post(f"{V1}/property/post", content=big).status_code == 500  # never bucketed
    finally:
        cave.deployment.states.state_bucket = False


def test_states_are_stored_as_pythons_json_reads_them(admin: httpx.Client) -> None:
    document = b'{"position": [NaN, Infinity, -Infinity], "title": "lone \\ud800"}'
    url = admin.post(f"{V1}/post", content=document, headers={"Content-Type": "application/json"})
    assert url.status_code == 200
    stored = admin.get(f"{V1}/{url.json().rsplit('/', 1)[1]}")
    assert stored.content == document
    form = admin.post(
        f"{V1}/post", content=b"a=1", headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert form.status_code == 500
