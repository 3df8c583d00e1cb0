"""pytest fixtures for code that uses a CAVE client, registered as a pytest plugin on install.

- `local_cave`: a LocalCAVE (every CAVE service on 127.0.0.1), started once per test session and
  shared by its tests (tests that must not see each other's writes start their own
  `LocalCAVE()`).
- `local_cave_client`: a CAVEclient of the LocalCAVE's datastack with its superadmin token,
  closed after the test.
- `cave_client_mock`: `CAVEclientMock()` with caveclient's defaults, for suites ported from
  caveclient's mock (mock the calls under test with `responses` or `requests-mock`, as for
  caveclient, or respx).

Nothing is imported or started until a test asks for a fixture.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from caveclient_gen import CAVEclient
    from caveclient_gen.testing import LocalCAVE


@pytest.fixture(scope="session")
def local_cave() -> Iterator[LocalCAVE]:
    """A LocalCAVE serving on a free 127.0.0.1 port for the whole test session."""
    from caveclient_gen.testing import LocalCAVE

    with LocalCAVE() as cave:
        yield cave


@pytest.fixture
def local_cave_client(local_cave: LocalCAVE) -> Iterator[CAVEclient]:
    """A CAVEclient connected to `local_cave` (its datastack, its superadmin token)."""
    from caveclient_gen import CAVEclient

    with CAVEclient(
        local_cave.datastack,
        server_address=local_cave.url,
        auth_token=local_cave.token,
        write_server_cache=False,
    ) as client:
        yield client


@pytest.fixture
def cave_client_mock() -> Iterator[CAVEclient]:
    """`CAVEclientMock()` with caveclient's defaults: datastack "test_stack" on test.cave.com."""
    from caveclient_gen.mock import CAVEclientMock

    with CAVEclientMock() as client:
        yield client
