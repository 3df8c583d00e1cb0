"""Fixtures for LocalCAVE's own tests.

Most tests talk to ``cave.app`` in process (no socket, a fresh deployment per test); lifecycle and
wire-level tests use a real server on a free loopback port.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from caveclient_gen.testing import InProcessTransport, LocalCAVE

REFERENCE = Path(__file__).resolve().parents[2].parent / "shared" / "reference"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def reference_sample(name: str) -> dict[str, Any]:
    """A captured real-server response from shared/reference/samples, or skip the test."""
    path = REFERENCE / "samples" / name
    if not path.exists():
        pytest.skip(f"reference sample {path} is not available")
    responses: dict[str, Any] = json.loads(path.read_text())["responses"]
    return responses


@pytest.fixture
def cave() -> LocalCAVE:
    """A fresh deployment, not served."""
    return LocalCAVE()


@pytest.fixture
def client(cave: LocalCAVE) -> Iterator[httpx.Client]:
    """Requests to ``cave.app`` in process, at ``cave.url``; redirects are not followed."""
    with httpx.Client(transport=InProcessTransport(cave.app), base_url=cave.url) as in_process:
        yield in_process


@pytest.fixture
def admin(client: httpx.Client, cave: LocalCAVE) -> httpx.Client:
    """The same client, sending the superadmin's token in the Authorization header."""
    client.headers.update(bearer(cave.token))
    return client


@pytest.fixture(scope="module")
def served_cave() -> Iterator[LocalCAVE]:
    """A real server on 127.0.0.1, shared by the tests of one module."""
    with LocalCAVE(seed=7) as cave:
        yield cave
