"""Where tokens come from, how they are stored, and where they are sent."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import httpx
import pytest

from caveclient_gen import CAVEclient, InvalidInputError, UnexpectedResponseError
from caveclient_gen._core.tokens import find_token, server_token_filename, write_token


def secrets(home: Path) -> Path:
    directory = home / ".cloudvolume" / "secrets"
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def store(path: Path, **content: str) -> None:
    path.write_text(json.dumps(content), encoding="utf-8")


SERVER = "https://cave.test:8443"


def test_server_token_filename_uses_host_and_port() -> None:
    assert server_token_filename(SERVER) == "cave.test:8443-cave-secret.json"
    assert server_token_filename("global.daf-apis.com") == "global.daf-apis.com-cave-secret.json"


def test_the_documented_order(isolated_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    directory = secrets(isolated_home)
    store(directory / "chunkedgraph-secret.json", token="legacy")
    with pytest.warns(DeprecationWarning, match="deprecated"):
        assert find_token(SERVER).token == "legacy"
    store(directory / "cave-secret.json", token="default-file")
    assert find_token(SERVER).token == "default-file"
    store(directory / "cave.test:8443-cave-secret.json", token="server-file")
    assert find_token(SERVER).token == "server-file"
    monkeypatch.setenv("CAVE_TOKEN", "environment")
    assert find_token(SERVER).token == "environment"
    own = isolated_home / "mine.json"
    store(own, other="from-file-key")
    assert find_token(SERVER, auth_token_file=own, auth_token_key="other").token == "from-file-key"
    assert find_token(SERVER, auth_token="argument", auth_token_file=own).token == "argument"


def test_sources_are_described_without_the_token(isolated_home: Path) -> None:
    store(secrets(isolated_home) / "cave-secret.json", token="s3cret-value")
    source = find_token(SERVER)
    assert "cave-secret.json" in source.description
    assert "s3cret-value" not in source.description


def test_a_token_file_without_the_key_is_an_error(isolated_home: Path) -> None:
    own = isolated_home / "mine.json"
    store(own, token="x")
    with pytest.raises(InvalidInputError, match="no token under key 'nope'"):
        find_token(SERVER, auth_token_file=own, auth_token_key="nope")


def test_no_token_anywhere() -> None:
    assert find_token(SERVER).token is None


def test_write_token_is_atomic_private_and_safe(tmp_path: Path) -> None:
    path = tmp_path / "secrets" / "cave-secret.json"
    assert write_token("aaaa", path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert not write_token("aaaa", path)  # the same token again is not an error
    with pytest.raises(InvalidInputError, match="overwrite=True"):
        write_token("bbbb", path)
    assert json.loads(path.read_text()) == {"token": "aaaa"}
    assert write_token("bbbb", path, overwrite=True)
    assert write_token("cccc", path, "other")
    assert json.loads(path.read_text()) == {"token": "bbbb", "other": "cccc"}
    assert [p.name for p in path.parent.iterdir()] == ["cave-secret.json"]


def test_write_token_leaves_a_foreign_file_alone(tmp_path: Path) -> None:
    path = tmp_path / "cave-secret.json"
    path.write_text("not json", encoding="utf-8")
    with pytest.raises(InvalidInputError, match="not touching it"):
        write_token("aaaa", path)
    assert path.read_text() == "not json"


def test_save_token_writes_the_server_file_and_the_default_file(isolated_home: Path) -> None:
    client = CAVEclient(server_address=SERVER, auth_token="first")
    written = client.auth.save_token("n3w-token")
    names = sorted(path.name for path in written)
    assert names == ["cave-secret.json", "cave.test:8443-cave-secret.json"]
    for path in written:
        assert json.loads(path.read_text()) == {"token": "n3w-token"}
        assert oct(path.stat().st_mode & 0o777) == oct(0o600)
    assert client.auth.token == "n3w-token"
    # Saving the identical token again is fine; a different one needs overwrite=True.
    client.auth.save_token("n3w-token")
    with pytest.raises(InvalidInputError, match="overwrite"):
        client.auth.save_token("other")


def test_the_token_goes_only_to_cave_servers() -> None:
    seen: dict[str, str | None] = {}

    def handler(request: httpx.Request) -> httpx.Response:
        seen[request.url.host] = request.headers.get("authorization")
        if request.url.path.endswith("version.json"):
            return httpx.Response(200, json={"version": "2"})
        return httpx.Response(200, json="https://cave.test/nglstate/api/v1/123")

    client = CAVEclient(
        server_address="https://cave.test",
        auth_token="canary-token-123",
        transport=httpx.MockTransport(handler),
    )
    url = client.state.build_neuroglancer_url(123, ngl_url="https://viewer.example.org")
    assert url == "https://viewer.example.org/#!middleauth+https://cave.test/nglstate/api/v1/123"
    assert seen == {"viewer.example.org": None}
    client.state.upload_state_json({"layers": []})
    assert seen["cave.test"] == "Bearer canary-token-123"


def test_state_urls_on_other_hosts_are_fetched_without_the_token() -> None:
    seen: list[tuple[str, str | None]] = []
    states = {
        "elsewhere.example.org": {"layers": [{"name": "theirs"}]},
        "cave.test": {"layers": [{"name": "ours"}]},
    }

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append((str(request.url), request.headers.get("authorization")))
        if request.url.path == "/not-a-state.json":
            return httpx.Response(200, json=[1, 2])
        return httpx.Response(200, json=states[request.url.host])

    client = CAVEclient(
        server_address="https://cave.test",
        auth_token="canary-token-123",
        transport=httpx.MockTransport(handler),
    )
    foreign = "https://elsewhere.example.org/nglstate/api/v1/5"
    assert client.state.get_state_json(foreign) == states["elsewhere.example.org"]
    assert client.state.get_state_json("https://cave.test/nglstate/api/v1/5") == states["cave.test"]
    assert seen == [
        (foreign, None),
        ("https://cave.test/nglstate/api/v1/5", "Bearer canary-token-123"),
    ]
    with pytest.raises(UnexpectedResponseError, match="not a JSON object"):
        client.state.get_state_json("https://elsewhere.example.org/not-a-state.json")
    assert seen[-1] == ("https://elsewhere.example.org/not-a-state.json", None)
    with pytest.raises(InvalidInputError, match="state_id"):
        client.state.get_state_json("ftp://elsewhere.example.org/5")
    assert len(seen) == 3


def test_token_files_are_not_read_at_construction(isolated_home: Path) -> None:
    directory = secrets(isolated_home)
    (directory / "cave-secret.json").write_text("{broken", encoding="utf-8")
    client = CAVEclient(server_address=SERVER)  # reading the broken file would raise
    with pytest.raises(InvalidInputError, match="not a readable JSON file"):
        _ = client.auth.token
    os.remove(directory / "cave-secret.json")
