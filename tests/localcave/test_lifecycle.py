"""Starting, stopping and configuring a LocalCAVE server."""

from __future__ import annotations

import io
import re
import socket
import threading
import time

import httpx
import pytest

from caveclient_gen.testing import LocalCAVE, LocalUser, serve

from .conftest import bearer


def test_context_manager_serves_on_loopback_and_stops() -> None:
    with LocalCAVE() as cave:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", cave.url)
        assert cave.running
        response = httpx.get(f"{cave.url}/auth/version", timeout=5)
        assert response.text == "neuroglance_auth -- version 2.30.3"
    assert not cave.running
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{cave.url}/auth/version", timeout=2)


def test_start_and_stop_without_with_and_restart() -> None:
    cave = LocalCAVE()
    assert not cave.running
    assert cave.start() is cave
    try:
        with pytest.raises(RuntimeError, match="already running"):
            cave.start()
    finally:
        cave.stop()
    cave.stop()  # a second stop is harmless
    with cave:
        assert httpx.get(f"{cave.url}/info/version", timeout=5).json() == "4.3.3"


def test_stop_is_prompt_with_an_open_keep_alive_connection() -> None:
    cave = LocalCAVE().start()
    server = cave._server
    assert server is not None
    with httpx.Client(timeout=5) as keep_alive:
        keep_alive.get(f"{cave.url}/schema/versions")
        cave.stop()
        # Prompt: the server ended on its own, not forced out after waiting for the connection (a
        # measured duration would depend on the machine's speed).
        assert not server.force_exit
        assert not cave.running


def test_port_in_use_is_reported() -> None:
    with socket.socket() as occupier:
        occupier.bind(("127.0.0.1", 0))
        occupier.listen()
        cave = LocalCAVE(port=occupier.getsockname()[1])
        with pytest.raises(RuntimeError, match="could not serve"):
            cave.start(timeout=5)
        assert not cave.running


def test_explicit_port_is_used() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    cave = LocalCAVE(port=port)
    assert cave.url == f"http://127.0.0.1:{port}"
    assert cave.port == port


def test_latency_delays_every_request_and_can_be_changed() -> None:
    with LocalCAVE(latency=0.2) as cave, httpx.Client(timeout=5) as client:
        started = time.monotonic()
        client.get(f"{cave.url}/schema/versions")
        assert time.monotonic() - started >= 0.2
        cave.latency = 0.0
        assert cave.deployment.latency == 0.0
    with pytest.raises(ValueError, match="latency"):
        LocalCAVE(latency=-1)


def test_names_and_users_are_configurable() -> None:
    cave = LocalCAVE(
        datastack="fanc_local",
        aligned_volume="fanc_v4",
        users=[LocalUser("alice", permissions={"fanc_v4": ("view",)})],
    )
    assert cave.datastack == "fanc_local"
    assert cave.aligned_volume == "fanc_v4"
    assert cave.restricted_datastack == "fanc_local_restricted"
    assert cave.users == ("admin", "alice")
    assert set(cave.tokens) == {"admin", "alice"}
    assert cave.token_for("alice") == cave.tokens["alice"]
    with pytest.raises(KeyError):
        cave.token_for("viewer")


def test_users_with_unknown_datasets_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown auth datasets"):
        LocalCAVE(users=[LocalUser("bob", permissions={"no_such_dataset": ("view",)})])
    with pytest.raises(TypeError, match="collection"):
        LocalCAVE(users=[LocalUser("bob", groups="default")])


def test_users_added_while_serving_can_call_at_once() -> None:
    with LocalCAVE() as cave:
        token = cave.add_user(LocalUser("late", permissions={cave.aligned_volume: ("view",)}))
        response = httpx.get(f"{cave.url}/info/api/v2/datastacks", headers=bearer(token), timeout=5)
        assert response.json() == [cave.datastack]


def test_serve_prints_how_to_connect_and_stops_on_request() -> None:
    out = io.StringIO()
    stop = threading.Event()
    runner = threading.Thread(target=serve, kwargs={"out": out, "stop": stop, "seed": 3})
    runner.start()
    try:
        # Until the banner is printed or serve has ended; the bound is reached only on a hang.
        deadline = time.monotonic() + 120
        while "Press Ctrl-C" not in out.getvalue() and runner.is_alive():
            assert time.monotonic() < deadline, "serve neither printed its banner nor ended"
            time.sleep(0.01)
        printed = out.getvalue()
        url = re.search(r"serving at (http://127\.0\.0\.1:\d+)", printed)
        token = re.search(r"token:\s+([0-9a-f]{32})", printed)
        assert url is not None
        assert token is not None
        assert "datastack: minnie65_local" in printed
        answer = httpx.get(
            f"{url.group(1)}/auth/api/v1/user/cache", headers=bearer(token.group(1)), timeout=5
        )
        assert answer.json()["admin"] is True
    finally:
        stop.set()
        runner.join(10)
    assert not runner.is_alive()
    assert out.getvalue().endswith("LocalCAVE stopped.\n")
