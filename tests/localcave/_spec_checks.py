"""An httpx client for LocalCAVE's app that checks every exchange against specs/ as it happens."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
from conformance.spec_validator import SpecValidator

from caveclient_gen.testing import InProcessTransport, LocalCAVE

_VALIDATOR = SpecValidator()


class SpecCheckedClient(httpx.Client):
    """Requests to ``cave.app`` in process; ``problems`` lists exchanges that break specs/."""

    def __init__(self, cave: LocalCAVE, token: str | None) -> None:
        self.problems: list[str] = []
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        super().__init__(
            transport=InProcessTransport(cave.app),
            base_url=cave.url,
            headers=headers,
            event_hooks={"response": [self._check]},
        )

    def _check(self, response: httpx.Response) -> None:
        response.read()
        self.problems.extend(_VALIDATOR.problems(response.request, response))


@contextmanager
def spec_checked(cave: LocalCAVE, token: str | None) -> Iterator[SpecCheckedClient]:
    """A checked client; fails the test at the end if any exchange broke specs/."""
    with SpecCheckedClient(cave, token) as client:
        yield client
    if client.problems:
        pytest.fail("exchanges that break specs/:\n" + "\n".join(client.problems))


@contextmanager
def unchecked(cave: LocalCAVE, token: str | None) -> Iterator[httpx.Client]:
    """A plain in-process client, for requests the spec deliberately leaves out (int64_as_str, ...)."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    with httpx.Client(
        transport=InProcessTransport(cave.app), base_url=cave.url, headers=headers
    ) as client:
        yield client
