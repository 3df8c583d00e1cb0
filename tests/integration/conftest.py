"""Integration fixtures: a LocalCAVE deployment answered in process (no socket), and clients of it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from caveclient_gen import CAVEclient
from caveclient_gen.testing import InProcessTransport, LocalCAVE


@pytest.fixture(scope="module")
def cave() -> LocalCAVE:
    return LocalCAVE(seed=3)


@pytest.fixture
def client(cave: LocalCAVE) -> Iterator[CAVEclient]:
    with CAVEclient(
        cave.datastack,
        server_address=cave.url,
        auth_token=cave.token,
        transport=InProcessTransport(cave.app),
    ) as cave_client:
        yield cave_client


def client_of(cave: LocalCAVE, token: str | None, datastack: str | None = None) -> CAVEclient:
    return CAVEclient(
        datastack or cave.datastack,
        server_address=cave.url,
        auth_token=token,
        transport=InProcessTransport(cave.app),
        max_retries=0,
    )
