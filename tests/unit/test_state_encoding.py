"""States and properties are encoded as caveclient 8.2.1 encodes them (json.dumps with its defaults)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import httpx
import numpy as np
import pytest

from caveclient_gen import CAVEclient, InvalidInputError
from caveclient_gen.services.state import encode_state


def test_numpy_ids_become_strings_also_inside_arrays() -> None:
    state = {
        "segments": np.array([864691135088120211, 2**64 - 1], dtype=np.uint64),
        "one": np.int64(7),
        "plain": 7,
        "opacity": np.float32(0.5),
        "flags": np.array([True]),
        "hidden": {np.uint64(3)},
    }
    decoded = json.loads(encode_state("json_state", state))
    assert decoded["segments"] == ["864691135088120211", str(2**64 - 1)]
    assert decoded["one"] == "7"
    assert decoded["plain"] == 7  # Python ints are written as numbers, as json.dumps writes them
    assert decoded["opacity"] == 0.5
    assert decoded["flags"] == [True]
    assert decoded["hidden"] == ["3"]


def test_nan_infinity_and_lone_surrogates_are_written_as_json_dumps_writes_them() -> None:
    state = {"position": [float("nan"), float("inf")], "title": "a\ud800b"}
    encoded = encode_state("json_state", state)
    assert encoded == json.dumps(state).encode("ascii")
    assert b"NaN, Infinity" in encoded
    assert b"\\ud800" in encoded


def test_what_json_cannot_hold_is_refused_naming_the_parameter() -> None:
    with pytest.raises(InvalidInputError, match="json_state"):
        encode_state("json_state", {"when": datetime(2024, 1, 1)})
    with pytest.raises(InvalidInputError, match="property_json"):
        encode_state("property_json", [1, 2])


def test_uploads_send_those_bytes_as_application_json(tmp_path: Path) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json="https://cave.test/nglstate/api/v1/42")

    client = CAVEclient(
        server_address="https://cave.test",
        auth_token="t0ken",
        transport=httpx.MockTransport(handler),
        max_retries=0,
    )
    state = {"segments": np.array([5], dtype=np.uint64), "x": float("nan")}
    assert client.state.upload_state_json(state) == 42
    assert seen[-1].headers["content-type"] == "application/json"
    assert seen[-1].content == b'{"segments": ["5"], "x": NaN}'
    assert client.state.upload_state_json(state, state_id=42, timestamp=1.5) == 42
    assert seen[-1].url.path == "/nglstate/api/v1/post/42"
    assert seen[-1].url.params["timestamp"] == "1.5"
    assert seen[-1].content == b'{"segments": ["5"], "x": NaN}'
    path = tmp_path / "state.json"
    client.state.save_state_json_local(state, path)
    assert path.read_bytes() == b'{"segments": ["5"], "x": NaN}'
    static = client.state.build_neuroglancer_url(
        "https://files.test/s.json", ngl_url="https://ngl.test", target_site="spelunker", static_url=True
    )
    assert static == "https://ngl.test/#!https://files.test/s.json"
    client.close()


@pytest.mark.parametrize(
    ("version_document", "link"),
    [
        ({"version": "2.40"}, "https://ngl.test/#!middleauth+https://cave.test/nglstate/api/v1/7"),
        ("a-version-text", "https://ngl.test/#!middleauth+https://cave.test/nglstate/api/v1/7"),
        ({}, "https://ngl.test/?json_url=https://cave.test/nglstate/api/v1/7"),
        (None, "https://ngl.test/?json_url=https://cave.test/nglstate/api/v1/7"),  # no version.json
    ],
)
def test_a_viewer_with_any_non_empty_version_document_gets_a_spelunker_link(
    version_document: object, link: str
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert str(request.url) == "https://ngl.test/version.json"
        if version_document is None:
            return httpx.Response(404)
        return httpx.Response(200, json=version_document)

    with CAVEclient(
        server_address="https://cave.test",
        auth_token="t0ken",
        transport=httpx.MockTransport(handler),
        max_retries=0,
    ) as client:
        assert client.state.build_neuroglancer_url(7, ngl_url="https://ngl.test") == link
