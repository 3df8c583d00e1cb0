"""Attribute parity with caveclient 8.2.1: every public attribute (not method) of caveclient's client
and sub-clients, listed by caveclient itself in its own environment, exists here, and the ones every
sub-client shares have caveclient's values on the same LocalCAVE."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest

import caveclient_gen
from caveclient_gen import CAVEclient
from caveclient_gen.testing import LocalCAVE

from .conftest import CAVECLIENT

SCRIPT = Path(__file__).with_name("caveclient_attributes.py")
SUB_CLIENTS = (
    "auth",
    "info",
    "state",
    "schema",
    "chunkedgraph",
    "annotation",
    "materialize",
    "l2cache",
    "skeleton",
)


@cache
def caveclient_attributes(url: str, datastack: str, token: str, home: str) -> dict[str, Any]:
    environment = {**os.environ, "HOME": home}
    environment.pop("VIRTUAL_ENV", None)
    result = subprocess.run(
        [
            *("uv", "run", "--isolated", "--no-project", "--quiet", "--with", CAVECLIENT),
            *("python", str(SCRIPT), url, datastack, token),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env=environment,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    attributes: dict[str, Any] = json.loads(result.stdout)
    return attributes


@pytest.fixture(scope="module")
def theirs(cave: LocalCAVE, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    home = tmp_path_factory.mktemp("caveclient-home")
    return caveclient_attributes(cave.url, cave.datastack, cave.token, str(home))


@pytest.fixture
def ours(cave: LocalCAVE) -> Iterator[CAVEclient]:
    with CAVEclient(
        cave.datastack, server_address=cave.url, auth_token=cave.token, write_server_cache=False
    ) as client:
        yield client


def test_module_level_names_are_here(theirs: dict[str, Any]) -> None:
    assert "set_session_defaults" in theirs["module"]  # the listing is caveclient's
    missing = [name for name in theirs["module"] if not hasattr(caveclient_gen, name)]
    assert missing == []


@pytest.mark.parametrize("owner", ["client", *SUB_CLIENTS])
def test_every_caveclient_attribute_is_here(
    owner: str, theirs: dict[str, Any], ours: CAVEclient
) -> None:
    assert theirs[owner], f"caveclient listed no attribute of {owner}"
    instance = ours if owner == "client" else getattr(ours, owner)
    missing = []
    for name in theirs[owner]:
        try:
            getattr(instance, name)
        except AttributeError as error:
            missing.append(f"{name}: {error}")
    assert missing == []


def test_shared_attributes_have_caveclients_values(theirs: dict[str, Any], ours: CAVEclient) -> None:
    values = theirs["values"]
    assert len(values) > 40
    differences = {}
    for key, expected in values.items():
        owner, _, name = key.partition(".")
        instance = ours if owner == "client" else getattr(ours, owner)
        value = getattr(instance, name)
        if name == "info_cache":
            value = sorted(value)
        elif name == "cg_client":
            value = type(value).__name__
        elif not isinstance(value, dict | int):
            value = str(value)
        if value != expected:
            differences[key] = (expected, value)
    assert differences == {}


def test_caveclient_mock_has_caveclients_signature(theirs: dict[str, Any]) -> None:
    import inspect

    from caveclient_gen.mock import CAVEclientMock

    ours = [
        [parameter.name, parameter.default]
        for parameter in inspect.signature(CAVEclientMock).parameters.values()
    ]
    assert len(theirs["mock_signature"]) > 20
    assert ours == theirs["mock_signature"]


def test_session_defaults_take_caveclients_parameters(theirs: dict[str, Any]) -> None:
    """Same names and order; the defaults are ours (docs/errors.md, Retries), except pool_block's."""
    import inspect

    ours = inspect.signature(caveclient_gen.set_session_defaults).parameters
    assert [name for name, _ in theirs["set_session_defaults"]] == list(ours)
    assert dict(theirs["set_session_defaults"])["pool_block"] == ours["pool_block"].default
    assert sorted(caveclient_gen.get_session_defaults()) == theirs["session_defaults_keys"]
