"""A running LocalCAVE for the conformance tests, and a way to drive the official caveclient on it."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from caveclient_gen import CAVEclient
from caveclient_gen.testing import LocalCAVE

from .spec_validator import RecordingTransport, SpecValidator

DRIVER = Path(__file__).with_name("caveclient_driver.py")
CAVECLIENT = "caveclient==8.2.1"
CLOUD_VOLUME = "cloud-volume==12.15.2"
"""caveclient's optional dependency for its skeleton downloads (they open the segmentation with it)."""


@pytest.fixture(scope="package")
def cave() -> Iterator[LocalCAVE]:
    # Every data operation is compared with caveclient's answer, so the two routes the real servers
    # fail on every call (tests/localcave shows those failures) answer here.
    with LocalCAVE(seed=7, idealised=["contact_sites", "l2_attributes"]) as running:
        yield running


@pytest.fixture(scope="package")
def recorder() -> RecordingTransport:
    """Every exchange of the conformance tests passes through here, to be checked against specs/."""
    return RecordingTransport(httpx.HTTPTransport())


@pytest.fixture(scope="package")
def validator() -> SpecValidator:
    return SpecValidator()


@pytest.fixture
def client(cave: LocalCAVE, recorder: RecordingTransport) -> Iterator[CAVEclient]:
    with CAVEclient(
        cave.datastack, server_address=cave.url, auth_token=cave.token, transport=recorder
    ) as cave_client:
        yield cave_client


@pytest.fixture(scope="module")
def ours_client(cave: LocalCAVE, recorder: RecordingTransport) -> Iterator[CAVEclient]:
    """Our client of the conformance LocalCAVE, one per test module."""
    with CAVEclient(
        cave.datastack, server_address=cave.url, auth_token=cave.token, transport=recorder
    ) as cave_client:
        yield cave_client


def run_caveclient(
    section: str,
    cave: LocalCAVE,
    home: Path,
    inputs: dict[str, Any] | None = None,
    extras: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Run the official caveclient (in its own environment, with the packages `extras` beside it)
    against `cave`; its results by call.

    `inputs` (JSON-serialisable) reach the driver's section as its third argument, passed as one
    command-line argument: keep them well under Linux's 128 KiB limit per argument.
    """
    command = [
        "uv",
        "run",
        "--isolated",
        "--no-project",
        "--quiet",
        "--with",
        CAVECLIENT,
        *(argument for extra in extras for argument in ("--with", extra)),
        "python",
        str(DRIVER),
        section,
        cave.url,
        cave.datastack,
        cave.token,
    ]
    if inputs is not None:
        command.append(json.dumps(inputs))
    environment = {**os.environ, "HOME": str(home)}
    environment.pop("VIRTUAL_ENV", None)
    result = subprocess.run(
        command, capture_output=True, text=True, env=environment, timeout=600, check=False
    )
    if result.returncode != 0:
        pytest.fail(f"caveclient driver failed ({result.returncode}):\n{result.stderr[-3000:]}")
    results: dict[str, Any] = json.loads(result.stdout)
    return results
