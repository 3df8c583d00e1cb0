"""The fake CAVE server and sample data for the materialize and annotation unit tests.

`FakeCAVE` is the shared `FakeCAVEServer` with the datastack's info record already served; it builds
clients whose transport it answers.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pyarrow as pa

from caveclient_gen import AsyncCAVEclient, CAVEclient
from caveclient_gen.services.annotation import AnnotationClient
from caveclient_gen.services.materialize import MaterializationClient

from .fake_cave import FakeCAVEServer

GLOBAL = "https://global.test"
LOCAL = "https://local.test"
DATASTACK = "ds"
VOLUME = "vol"
PCG_TABLE = "pcg_v1"
V3 = f"/materialize/api/v3/datastack/{DATASTACK}"
V2 = f"/materialize/api/v2/datastack/{DATASTACK}"
ANNOTATION = f"/annotation/api/v2/aligned_volume/{VOLUME}"
SEGMENTATION = f"/segmentation/api/v1/table/{PCG_TABLE}"
SAMPLES = Path("/work/shared/reference/samples")
SCHEMA_SAMPLES = SAMPLES / "schema-5.26.3.responses.json"

RECORD: dict[str, Any] = {
    "aligned_volume": {
        "id": 1,
        "name": VOLUME,
        "display_name": "Volume",
        "description": "test volume",
        "image_source": "precomputed://gs://bucket/em",
    },
    "segmentation_source": f"graphene://{LOCAL}/segmentation/table/{PCG_TABLE}",
    "skeleton_source": None,
    "analysis_database": None,
    "viewer_site": "https://ngl.test",
    "synapse_table": "synapses",
    "soma_table": "nuclei",
    "local_server": LOCAL,
    "description": "test datastack",
    "viewer_resolution_x": 4.0,
    "viewer_resolution_y": 4.0,
    "viewer_resolution_z": 40.0,
    "proofreading_status_table": None,
    "cell_identification_table": None,
    "proofreading_review_table": None,
}


def table_metadata(name: str, schema: str = "synapse", **changes: Any) -> dict[str, Any]:
    """A materialization table metadata record as the v3 route sends it."""
    record: dict[str, Any] = {
        "id": 7,
        "aligned_volume": VOLUME,
        "schema": schema,
        "table_name": name,
        "valid": True,
        "created": "2024-01-01T00:00:00",
        "schema_type": schema,
        "user_id": "12",
        "description": f"the {name} table",
        "notice_text": None,
        "reference_table": None,
        "flat_segmentation_source": None,
        "voxel_resolution_x": 4.0,
        "voxel_resolution_y": 4.0,
        "voxel_resolution_z": 40.0,
        "write_permission": "PRIVATE",
        "read_permission": "PUBLIC",
        "last_modified": "2024-01-02T03:04:05",
    }
    record.update(changes)
    return record


def schema_documents() -> dict[str, Any]:
    """The 57 schema documents of the schema service (a synapse-only subset when samples lack)."""
    if SCHEMA_SAMPLES.exists():
        documents: dict[str, Any] = json.loads(SCHEMA_SAMPLES.read_text())["responses"]["types_all"][
            "body"
        ]
        return documents
    return {"synapse": SYNAPSE_SCHEMA, "cell_type_reference": CELL_TYPE_REFERENCE_SCHEMA}


POINT = {
    "type": "object",
    "required": ["position"],
    "properties": {"position": {"type": "array"}},
    "additionalProperties": False,
}
BOUND_POINT = {
    "type": "object",
    "required": ["position"],
    "properties": {
        "position": {"type": "array"},
        "root_id": {"type": "integer"},
        "supervoxel_id": {"type": "integer"},
    },
    "additionalProperties": False,
}
SYNAPSE_SCHEMA: dict[str, Any] = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "definitions": {
        "SpatialPoint": POINT,
        "BoundSpatialPoint": BOUND_POINT,
        "SynapseSchema": {
            "type": "object",
            "required": ["ctr_pt", "post_pt", "pre_pt"],
            "properties": {
                "ctr_pt": {"type": "object", "$ref": "#/definitions/SpatialPoint"},
                "post_pt": {"type": "object", "$ref": "#/definitions/BoundSpatialPoint"},
                "pre_pt": {"type": "object", "$ref": "#/definitions/BoundSpatialPoint"},
                "size": {"title": "size", "type": ["number", "null"], "format": "float"},
                "valid": {"title": "valid", "type": ["boolean", "null"], "default": False},
            },
            "additionalProperties": True,
        },
    },
    "$ref": "#/definitions/SynapseSchema",
}
CELL_TYPE_REFERENCE_SCHEMA: dict[str, Any] = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "definitions": {
        "CellTypeReference": {
            "type": "object",
            "required": ["cell_type", "classification_system", "target_id"],
            "properties": {
                "cell_type": {"title": "cell_type", "type": "string"},
                "classification_system": {"title": "classification_system", "type": "string"},
                "target_id": {"type": "integer"},
                "valid": {"title": "valid", "type": ["boolean", "null"], "default": False},
            },
            "additionalProperties": True,
        }
    },
    "$ref": "#/definitions/CellTypeReference",
}
NUCLEUS_SCHEMA: dict[str, Any] = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "definitions": {
        "BoundSpatialPoint": BOUND_POINT,
        "NucleusDetection": {
            "type": "object",
            "required": ["pt"],
            "properties": {
                "pt": {"type": "object", "$ref": "#/definitions/BoundSpatialPoint"},
                "volume": {"title": "volume", "type": ["number", "null"], "format": "float"},
                "valid": {"title": "valid", "type": ["boolean", "null"], "default": False},
            },
            "additionalProperties": True,
        },
    },
    "$ref": "#/definitions/NucleusDetection",
}


def arrow_stream(frame: pd.DataFrame, compression: str | None = "zstd") -> bytes:
    """An Arrow IPC stream as the server writes it (one record batch, buffers compressed inside)."""
    batch = pa.RecordBatch.from_pandas(frame)
    sink = pa.BufferOutputStream()
    options = pa.ipc.IpcWriteOptions(compression=compression)
    with pa.ipc.new_stream(sink, batch.schema, options=options) as writer:
        writer.write_batch(batch)
    return bytes(sink.getvalue().to_pybytes())


def arrow_response(
    frame: pd.DataFrame,
    *,
    compression: str | None = "zstd",
    warnings: list[str] | tuple[str, ...] = (),
    resolution: Sequence[float] | None = (4.0, 4.0, 40.0),
    column_names: str | None = None,
) -> httpx.Response:
    headers: list[tuple[str, str]] = [("content-type", "data.arrow")]
    headers += [("warning", text) for text in warnings]
    if resolution is not None:
        headers += [("dataframe_resolution", str(float(r))) for r in resolution]
    if column_names is not None:
        headers.append(("column_names", column_names))
    return httpx.Response(200, content=arrow_stream(frame, compression), headers=headers)


def synapse_frame() -> pd.DataFrame:
    """Three synapse rows as the server sends them: positions split, int64 ids, naive timestamps."""
    return pd.DataFrame(
        {
            "id": pd.array([1, 2, 3], dtype="int64"),
            "created": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-03"]).astype("M8[ns]"),
            "valid": [True, True, True],
            "pre_pt_position_x": [10, 20, 30],
            "pre_pt_position_y": [11, 21, 31],
            "pre_pt_position_z": [12, 22, 32],
            "pre_pt_supervoxel_id": pd.array([101, 102, 103], dtype="int64"),
            "pre_pt_root_id": pd.array([864691135000000001, 864691135000000002, 5], dtype="int64"),
            "post_pt_position_x": [13, 23, 33],
            "post_pt_position_y": [14, 24, 34],
            "post_pt_position_z": [15, 25, 35],
            "post_pt_supervoxel_id": pd.array([201, 202, 203], dtype="int64"),
            "post_pt_root_id": pd.array([7, 864691135000000002, 8], dtype="int64"),
            "size": [1.5, 2.5, 3.5],
        }
    )


class FakeCAVE(FakeCAVEServer):
    """The fake server with the datastack's info record served, and clients pointed at it."""

    def __init__(self) -> None:
        super().__init__()
        self.serve_datastack_info(DATASTACK, RECORD)

    def materialize(self, **options: Any) -> MaterializationClient[Any]:
        return MaterializationClient(self.client(**options)._core)

    def annotation(self, **options: Any) -> AnnotationClient[Any]:
        return AnnotationClient(self.client(**options)._core)

    def client(self, **options: Any) -> CAVEclient:
        return CAVEclient(
            DATASTACK,
            server_address=GLOBAL,
            auth_token="t0ken",
            transport=httpx.MockTransport(self),
            max_retries=options.pop("max_retries", 0),
            write_server_cache=False,
            **options,
        )

    def async_client(self, **options: Any) -> AsyncCAVEclient:
        return AsyncCAVEclient(
            DATASTACK,
            server_address=GLOBAL,
            auth_token="t0ken",
            transport=httpx.MockTransport(self),
            max_retries=0,
            write_server_cache=False,
            **options,
        )


def body_of(request: httpx.Request) -> Any:
    return json.loads(request.content)


def standard_materialize(fake: FakeCAVE, versions: list[int] | None = None) -> None:
    """Versions [1, 2, 3], the synapse table's metadata at each, and the synapse schema."""
    fake.route("GET", f"{V3}/versions", versions or [1, 2, 3])
    for version in versions or [1, 2, 3]:
        fake.route("GET", f"{V3}/version/{version}/table/synapses/metadata", table_metadata("synapses"))
    fake.route("GET", "/schema/api/v2/type/synapse", SYNAPSE_SCHEMA)


def roots_valid_since(fake: FakeCAVE, created: datetime, current: set[int] | None = None) -> None:
    """Chunkedgraph answers for root-id checks: every root made at `created`; those in `current`
    (default: all) still roots at any later time."""

    def is_latest(request: httpx.Request) -> httpx.Response:
        ids = body_of(request)["node_ids"]
        return httpx.Response(200, json={"is_latest": [current is None or i in current for i in ids]})

    def root_timestamps(request: httpx.Request) -> httpx.Response:
        ids = body_of(request)["node_ids"]
        return httpx.Response(200, json={"timestamp": [created.timestamp() for _ in ids]})

    fake.route("POST", f"{SEGMENTATION}/is_latest_roots", is_latest)
    fake.route("POST", f"{SEGMENTATION}/root_timestamps", root_timestamps)
