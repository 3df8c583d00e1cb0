"""Typing for users: a realistic script type-checks strictly with zero errors and runs against
LocalCAVE; records mark keys NotRequired only where a server may leave them out."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
import typing
import warnings
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from caveclient_gen import AsyncCAVEclient, CAVEclient
from caveclient_gen.errors import CAVEServerWarning
from caveclient_gen.records import chunkedgraph, global_services, tables
from caveclient_gen.services import _skeleton_formats
from caveclient_gen.testing import InProcessTransport, LocalCAVE

from . import user_script

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(user_script.__file__)


def test_the_user_script_type_checks_strictly(tmp_path: Path) -> None:
    checker = shutil.which("basedpyright", path=str(Path(sys.executable).parent))
    assert checker is not None, "basedpyright is in the development environment"
    config = tmp_path / "pyrightconfig.json"
    config.write_text(
        json.dumps(
            {"typeCheckingMode": "strict", "pythonVersion": "3.11", "reportMissingTypeStubs": False}
        )
    )
    checked = subprocess.run(
        [checker, "--pythonpath", sys.executable, "-p", str(config), str(SCRIPT)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        cwd=ROOT,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "0 errors" in checked.stdout


def test_the_user_script_runs_against_localcave(capsys: pytest.CaptureFixture[str]) -> None:
    cave = LocalCAVE(seed=0, idealised=["l2_attributes"])  # PCGL2Cache 1.3.1 fails attributes
    with (
        CAVEclient(
            cave.datastack,
            server_address=cave.url,
            auth_token=cave.token,
            transport=InProcessTransport(cave.app),
        ) as client,
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("ignore", CAVEServerWarning)
        root_id = user_script.run(client)
        soma_table = client.info.get_datastack_info()["soma_table"]
    assert root_id > 0
    assert soma_table is not None

    async def run_async() -> list[int]:
        async with AsyncCAVEclient(
            cave.datastack,
            server_address=cave.url,
            auth_token=cave.token,
            transport=httpx.ASGITransport(app=cave.app),
        ) as aclient:
            return await user_script.run_async(aclient, soma_table)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CAVEServerWarning)
        roots = asyncio.run(run_async())
    assert all(root > 0 for root in roots)
    capsys.readouterr()


def spec_schema(service: str, name: str) -> dict[str, Any]:
    document = yaml.safe_load((ROOT / "specs" / f"{service}.yaml").read_text())
    schema: dict[str, Any] = document["components"]["schemas"][name]
    return schema


# (record, spec, schema, keys the client itself adds or renames)
RECORDS: list[tuple[Any, str, str, set[str]]] = [
    (global_services.DatastackInfo, "info", "DatastackInfo", set()),
    (global_services.AlignedVolumeInfo, "info", "AlignedVolume", set()),
    (global_services.ImageMirror, "info", "ImageSource", set()),
    (global_services.TokenRecord, "auth", "ApiToken", set()),
    (global_services.GroupMember, "auth", "GroupMember", set()),
    (tables.TableMetadata, "materialize", "TableMetadata", {"voxel_resolution"}),
    (tables.ViewMetadata, "materialize", "ViewMetadata", set()),
    (tables.ViewColumnType, "materialize", "ViewColumnType", set()),
    (tables.AnnotationTableMetadata, "annotation", "AnnotationTableMetadata", {"voxel_resolution"}),
    (chunkedgraph.SegmentationInfo, "chunkedgraph", "TableInfo", set()),
    (chunkedgraph.GraphSettings, "chunkedgraph", "GraphSettings", set()),
    (chunkedgraph.OperationDetails, "chunkedgraph", "OperationDetails", set()),
    (chunkedgraph.LineageNode, "chunkedgraph", "LineageGraphNode", set()),
]


def required_keys(record: Any) -> set[str]:
    """Keys a type checker treats as required (the runtime's own sets miss NotRequired[...] written
    under postponed annotations)."""
    import numpy as np
    import numpy.typing as npt

    hints = typing.get_type_hints(record, include_extras=True, localns={"np": np, "npt": npt})
    required = set()
    for key, hint in hints.items():
        origin = typing.get_origin(hint)
        if origin is typing.Required or (origin is not typing.NotRequired and record.__total__):
            required.add(key)
    return required


@pytest.mark.parametrize(
    ("record", "service", "schema", "added"), RECORDS, ids=lambda v: getattr(v, "__name__", "")
)
def test_keys_are_not_required_only_where_the_spec_lets_a_server_omit_them(
    record: Any, service: str, schema: str, added: set[str]
) -> None:
    required_by_spec = set(spec_schema(service, schema).get("required") or [])
    keys = set(record.__annotations__)
    required = required_keys(record)
    moved = {"voxel_resolution_x", "voxel_resolution_y", "voxel_resolution_z"} if added else set()
    assert required - added == (required_by_spec & keys) - moved
    assert not (required_by_spec - keys - moved), "every key a server always sends is declared"


def test_skeleton_dicts_require_what_every_skeleton_version_carries() -> None:
    required = required_keys(_skeleton_formats.SkeletonDict)
    assert required == {"meta", "vertices", "edges", "mesh_to_skel_map", "root"}
    assert {"radius", "compartment", "lvl2_ids"} <= set(_skeleton_formats.SkeletonDict.__annotations__)


def test_the_overloaded_signatures_match_the_methods() -> None:
    """query_table & co. are typed through protocols generated from their signatures: a parameter
    added to a method must be regenerated into them (scripts/method_overloads.py)."""
    checked = subprocess.run(
        [sys.executable, "scripts/method_overloads.py", "--check"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=ROOT,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
