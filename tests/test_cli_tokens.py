"""`caveclient-gen setup-token` and `caveclient-gen token --check` against a running LocalCAVE."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from caveclient_gen.cli import main
from caveclient_gen.testing import LocalCAVE


@pytest.fixture(scope="module")
def cave() -> Iterator[LocalCAVE]:
    with LocalCAVE(seed=2) as running:
        yield running


@pytest.fixture(autouse=True)
def no_browser(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    opened: list[str] = []
    monkeypatch.setattr("webbrowser.open", lambda url, *a, **k: opened.append(url) or True)
    return opened


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    status = main(argv)
    captured = capsys.readouterr()
    return status, captured.out + captured.err


def check(cave: LocalCAVE, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, str]:
    return run(["token", "--check", "--server", cave.url, *extra], capsys)


def test_check_says_where_the_token_came_from_and_what_it_may_access(
    cave: LocalCAVE, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    token = cave.token_for("viewer")
    monkeypatch.setenv("CAVE_TOKEN", token)
    status, text = check(cave, capsys)
    assert status == 0, text
    assert "from the CAVE_TOKEN variable (not shown)" in text
    assert "accepted:   yes" in text
    assert "user:       viewer" in text
    assert cave.datastack in text
    assert cave.restricted_datastack not in text  # the viewer may not see it
    assert token not in text


def test_check_names_the_token_file(
    cave: LocalCAVE, isolated_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    secrets = isolated_home / ".cloudvolume" / "secrets"
    secrets.mkdir(parents=True)
    (secrets / "cave-secret.json").write_text(json.dumps({"token": cave.token}))
    status, text = check(cave, capsys, "--datastack", cave.restricted_datastack)
    assert status == 0, text
    assert "cave-secret.json" in text
    assert "superadmin" in text
    assert cave.restricted_datastack in text
    assert cave.token not in text


def test_check_of_a_datastack_the_token_cannot_view_fails(
    cave: LocalCAVE, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CAVE_TOKEN", cave.token_for("viewer"))
    status, text = check(cave, capsys, "--datastack", cave.restricted_datastack)
    assert status == 1
    assert f"cannot view the datastack {cave.restricted_datastack!r}" in text


def test_check_of_a_rejected_token_names_setup_token(
    cave: LocalCAVE, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CAVE_TOKEN", "f" * 32)
    status, text = check(cave, capsys)
    assert status == 1
    assert "refused" in text
    assert f"caveclient-gen setup-token {cave.url}" in text
    assert "f" * 32 not in text


def test_check_without_any_token(cave: LocalCAVE, capsys: pytest.CaptureFixture[str]) -> None:
    status, text = check(cave, capsys)
    assert status == 1
    assert "none found" in text
    assert "caveclient-gen setup-token" in text


def test_setup_token_saves_a_checked_token(
    cave: LocalCAVE,
    isolated_home: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    no_browser: list[str],
) -> None:
    viewer = cave.token_for("viewer")
    monkeypatch.setattr("getpass.getpass", lambda prompt="": viewer)
    status, text = run(["setup-token", cave.url, "--no-open"], capsys)
    assert status == 0, text
    assert no_browser == []
    assert f"{cave.url}/sticky_auth/settings/tokens" in text
    assert viewer not in text
    saved = json.loads((isolated_home / ".cloudvolume/secrets/cave-secret.json").read_text())
    assert saved["token"] == viewer
    status, text = check(cave, capsys)
    assert status == 0
    assert "user:       viewer" in text

    # The same token again: nothing to replace.
    status, text = run(["setup-token", cave.url, "--no-open"], capsys)
    assert status == 0, text
    assert "already saved" in text

    # A different token replaces the saved one only with --overwrite.
    monkeypatch.setattr("getpass.getpass", lambda prompt="": cave.token)
    status, text = run(["setup-token", cave.url, "--no-open"], capsys)
    assert status == 1
    assert "--overwrite" in text
    status, text = run(["setup-token", cave.url, "--no-open", "--overwrite"], capsys)
    assert status == 0, text
    server_file = f"{cave.url.removeprefix('http://')}-cave-secret.json"
    saved = json.loads((isolated_home / ".cloudvolume/secrets" / server_file).read_text())
    assert saved["token"] == cave.token  # the server's own file, read first
    status, text = check(cave, capsys)
    assert "superadmin" in text


def test_setup_token_opens_the_token_page_and_refuses_a_rejected_token(
    cave: LocalCAVE,
    isolated_home: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    no_browser: list[str],
) -> None:
    monkeypatch.setattr("getpass.getpass", lambda prompt="": "0" * 32)
    status, text = run(["setup-token", cave.url], capsys)
    assert status == 1
    assert no_browser == [f"{cave.url}/sticky_auth/settings/tokens"]
    assert "does not accept this token" in text
    assert not (isolated_home / ".cloudvolume/secrets/cave-secret.json").exists()
