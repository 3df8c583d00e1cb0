"""Notebook display: clients, sub-clients and table/view managers show datastack, server, version and
where the token comes from, never the token, and building the display makes no request."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from caveclient_gen import AsyncCAVEclient, CAVEclient
from caveclient_gen.testing import InProcessTransport, LocalCAVE

SUB_CLIENTS = (
    "auth",
    "info",
    "state",
    "schema",
    "chunkedgraph",
    "materialize",
    "annotation",
    "l2cache",
    "skeleton",
)
CANARY = "0123456789abcdef0123456789abcdef"


class Printer:
    """The part of IPython's pretty printer that `_repr_pretty_` uses."""

    def __init__(self) -> None:
        self.parts: list[str] = []

    def text(self, value: str) -> None:
        self.parts.append(value)


def shown(thing: Any) -> tuple[str, str]:
    printer = Printer()
    thing._repr_pretty_(printer, False)
    return thing._repr_html_(), "".join(printer.parts)


def refuse(request: httpx.Request) -> httpx.Response:
    raise AssertionError(f"displaying made a request: {request.url}")


def test_a_client_and_its_sub_clients_show_where_they_point_without_a_request() -> None:
    client = CAVEclient(
        "minnie65_public",
        server_address="https://cave.example.org",
        auth_token=CANARY,
        version=943,
        transport=httpx.MockTransport(refuse),
    )
    for thing in (client, *(getattr(client, name) for name in SUB_CLIENTS)):
        page, text = shown(thing)
        for output in (page, text):
            assert "minnie65_public" in output
            assert "https://cave.example.org" in output
            assert "943" in output
            assert "the auth_token argument" in output
            assert CANARY not in output
    assert "MaterializationClient" in shown(client.materialize)[1]


def test_an_async_client_says_so_and_hides_its_token() -> None:
    client = AsyncCAVEclient(
        "ds", server_address="https://cave.example.org", auth_token=CANARY, transport=None
    )
    page, text = shown(client)
    assert "AsyncCAVEclient" in text
    assert "async sub-client" in shown(client.chunkedgraph)[1]
    assert CANARY not in page + text


def test_the_token_source_is_the_file_it_would_be_read_from(isolated_home: Path) -> None:
    secrets = isolated_home / ".cloudvolume" / "secrets"
    secrets.mkdir(parents=True)
    (secrets / "cave-secret.json").write_text(json.dumps({"token": CANARY}))
    client = CAVEclient(server_address="https://cave.example.org")
    page, text = shown(client)
    assert "cave-secret.json" in text
    assert "global services only" in text
    assert "latest" in text
    assert CANARY not in page + text
    assert not (secrets / "cave_datastack_to_server_map.json").exists()  # nothing written


def test_without_a_token_the_display_says_how_to_get_one() -> None:
    _, text = shown(CAVEclient("ds", server_address="https://cave.example.org"))
    assert "none found" in text
    assert "setup-token" in text


def test_table_and_view_managers_show_their_version_and_tables() -> None:
    cave = LocalCAVE(seed=3)
    client = CAVEclient(
        cave.datastack,
        server_address=cave.url,
        auth_token=cave.token,
        transport=InProcessTransport(cave.app),
    )
    version = client.materialize.most_recent_version()
    tables = client.materialize.tables
    page, text = shown(tables)
    for output in (page, text):
        assert cave.datastack in output
        assert str(version) in output
        assert "nucleus_detection_v0" in output
        assert cave.token not in output
    assert re.search(rf"^  tables +{len(tables)}$", text, re.MULTILINE)
    views_page, views_text = shown(client.materialize.views)
    assert "views" in views_text
    assert cave.token not in views_page + views_text
    assert cave.url in text  # the local server is known once a request fetched the datastack


@pytest.mark.parametrize("name", SUB_CLIENTS)
def test_html_is_escaped(name: str) -> None:
    client = CAVEclient("<b>ds</b>", server_address="https://cave.example.org", auth_token=CANARY)
    page, _ = shown(getattr(client, name))
    assert "<b>ds</b>" not in page
    assert "&lt;b&gt;ds&lt;/b&gt;" in page
