"""Libraries written for caveclient take our client, on a LocalCAVE: nglui, pcg_skel, cortical-tools
(with ossify), fafbseg and navis' CAVE interface.

The libraries run in an environment of their own (the versions below, which work with
caveclient 8.2.1), built once per session from uv's cache, with this project on PYTHONPATH; one
subprocess per library, driven by downstream_driver.py. Where a library checks `isinstance`
against caveclient's classes or builds its own caveclient, the driver applies the one-line
workaround of docs/moving-from-caveclient.md and records that the call without it is refused, so
the test notices when a library starts to accept our client as it is.
The driver refuses every connection outside the machine; the test checks none was tried.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from caveclient_gen.testing import LocalCAVE

ROOT = Path(__file__).resolve().parents[2]
DRIVER = Path(__file__).with_name("downstream_driver.py")
LIBRARIES = (
    "caveclient==8.2.1",
    "nglui==4.9.0",
    "pcg-skel==1.3.1",
    "cortical-tools==1.1.0",
    "ossify==0.3.0",
    "fafbseg==3.2.3",
    "navis==1.12.0",
)
"""One environment for every library (installed once, then reused from uv's cache)."""
UNREACHABLE = re.compile(
    r"(dns error|failed to lookup address|Could not connect|error sending request|"
    r"Connection refused|Network is unreachable|Failed to fetch|tcp connect error)",
    re.IGNORECASE,
)


@cache
def uv_cache_dir() -> str:
    """uv's cache as this process sees it (the driver runs with another HOME)."""
    if os.environ.get("UV_CACHE_DIR"):
        return os.environ["UV_CACHE_DIR"]
    found = subprocess.run(
        ["uv", "cache", "dir"], capture_output=True, text=True, timeout=60, check=True
    )
    return found.stdout.strip()


def our_requirements() -> list[str]:
    """This project's runtime dependencies (the project itself is put on PYTHONPATH, not built)."""
    with (ROOT / "pyproject.toml").open("rb") as handle:
        return list(tomllib.load(handle)["project"]["dependencies"])


def uv(*arguments: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "UV_CACHE_DIR": uv_cache_dir()}
    environment.pop("VIRTUAL_ENV", None)
    return subprocess.run(
        ["uv", *arguments], capture_output=True, text=True, env=environment, timeout=1500, check=False
    )


@pytest.fixture(scope="session")
def library_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Python of one environment holding every library, built once per session from uv's
    cache (offline when the cache has everything, so nothing is resolved again)."""
    environment = tmp_path_factory.mktemp("downstream-env") / "venv"
    created = uv("venv", "--quiet", "--python", sys.executable, str(environment))
    assert created.returncode == 0, created.stderr
    python = environment / "bin" / "python"
    install = ["pip", "install", "--quiet", "--python", str(python), *LIBRARIES, *our_requirements()]
    installed = uv(*install, "--offline")
    if installed.returncode != 0:  # something is not cached yet: ask the registry
        installed = uv(*install)
    if installed.returncode != 0 and UNREACHABLE.search(installed.stderr):
        pytest.skip(f"the package registry is unreachable: {installed.stderr.strip()[-300:]}")
    assert installed.returncode == 0, installed.stderr[-4000:]
    return python


@pytest.fixture(scope="module")
def cave() -> Iterator[LocalCAVE]:
    """The libraries read level-2 features (skeletons, synapse anchoring): the L2 cache answers
    them, as deployments serving these libraries do (PCGL2Cache 1.3.1's route fails; LocalCAVE
    reproduces that by default)."""
    with LocalCAVE(seed=7, idealised=["l2_attributes"]) as running:
        yield running


def run_library(library: str, python: Path, cave: LocalCAVE, home: Path) -> dict[str, Any]:
    work = home / "work"
    work.mkdir(parents=True)
    command = [str(python), str(DRIVER), library, cave.url, cave.datastack, cave.token, str(work)]
    environment = {
        **os.environ,
        "HOME": str(home),
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "generated")]),
    }
    environment.pop("VIRTUAL_ENV", None)
    result = subprocess.run(
        command, capture_output=True, text=True, env=environment, timeout=600, check=False
    )
    assert result.returncode == 0, result.stderr[-4000:]
    results: dict[str, Any] = json.loads(result.stdout)
    assert results.pop("blocked_hosts") == {"value": []}, "a call tried to leave the machine"
    return results


def value(results: dict[str, Any], call: str) -> Any:
    outcome = results[call]
    assert "error" not in outcome, f"{call}: {outcome['error']}"
    return outcome["value"]


def refused(results: dict[str, Any], call: str, error: str) -> None:
    """The call without the workaround still fails as documented (else drop the workaround)."""
    assert error in results[call].get("error", ""), results[call]


def test_nglui(library_python: Path, cave: LocalCAVE, tmp_path: Path) -> None:
    results = run_library("nglui", library_python, cave, tmp_path)
    value(results, "ViewerState(client).add_layers_from_client().add_segments")
    assert value(results, "segments") == value(results, "expected:segments")
    segmentation = value(results, "layer sources")["segmentation"]
    source = value(results, "expected:segmentation source")
    assert source.replace("graphene://", "graphene://middleauth+") in segmentation
    link = value(results, "ViewerState.to_link_shortener")
    assert link.startswith(f"{cave.url}/viewer/?json_url={cave.url}/nglstate/api/v1/")
    assert value(results, "stored state") == value(results, "expected:stored state")
    refused(results, "SkeletonManager(client) [refused: isinstance check]", "has no len()")
    value(results, "SkeletonManager(client.info.segmentation_source())")
    assert value(results, "skeleton info written") is True


def test_pcg_skel(library_python: Path, cave: LocalCAVE, tmp_path: Path) -> None:
    results = run_library("pcg_skel", library_python, cave, tmp_path)
    value(results, "pcg_skeleton")
    assert 0 < value(results, "pcg_skeleton vertices") <= value(results, "level-2 ids")
    refused(
        results,
        "pcg_meshwork(synapses=True) [refused: isinstance check]",
        "has no attribute 'get_roots'",
    )
    value(results, "pcg_meshwork(synapses=True)")
    assert value(results, "meshwork mesh vertices") == value(results, "level-2 ids")
    assert value(results, "meshwork pre_syn") == value(results, "expected:pre_syn") > 0
    assert value(results, "meshwork post_syn") == value(results, "expected:post_syn") > 0


def test_cortical_tools_and_ossify(library_python: Path, cave: LocalCAVE, tmp_path: Path) -> None:
    results = run_library("cortical_tools", library_python, cave, tmp_path)
    value(results, "DatasetClient(caveclient=client)")
    assert value(results, "DatasetClient.version_timestamp") == value(
        results, "expected:version_timestamp"
    )
    value(results, "DatasetClient.get_skeleton")
    assert value(results, "cell layers") == ["graph", "skeleton"]
    assert value(results, "cell pre_syn") == value(results, "expected:pre_syn") > 0
    assert value(results, "cell post_syn") == value(results, "expected:post_syn") > 0


def test_fafbseg(library_python: Path, cave: LocalCAVE, tmp_path: Path) -> None:
    results = run_library("fafbseg", library_python, cave, tmp_path)
    assert value(results, "is_latest_root") == value(results, "expected:is_latest_root")
    assert value(results, "expected:is_latest_root") == [True, False]
    value(results, "find_common_time")
    assert value(results, "common time: both roots exist") == [True, True]
    current, updated = value(results, "update_ids new ids")
    assert current == value(results, "expected:root")
    assert updated in value(results, "expected:latest roots of the outdated id")


def test_navis_cave_interface(library_python: Path, cave: LocalCAVE, tmp_path: Path) -> None:
    results = run_library("navis", library_python, cave, tmp_path)
    assert value(results, "roots_to_mat") == value(results, "expected:roots_to_mat") is not None
