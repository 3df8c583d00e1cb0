"""The skeleton service's payloads, decoded: gzip JSON ("flatdict"), SWC text, the gzip CSV refusal
list and the H5 files of its storage bucket.

The service gzips these bodies itself and sends them without `Content-Encoding`, so HTTP clients do
not undo the compression; everything here accepts gzip or plain bytes alike (gzip is recognised by
its magic number), which also covers the bulk routes, whose SWC values are not compressed.
"""

from __future__ import annotations

import gzip
import importlib
import io
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NotRequired, TypedDict, cast

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    import pandas as pd

GZIP_MAGIC = b"\x1f\x8b"
HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
INT64_MAX = 2**63 - 1

SWC_COLUMNS = ("id", "type", "x", "y", "z", "radius", "parent")
SWC_DTYPES = {
    "id": "int64",
    "type": "int64",
    "x": "float64",
    "y": "float64",
    "z": "float64",
    "radius": "float64",
    "parent": "int64",
}
REFUSAL_COLUMNS = ("DATASTACK_NAME", "ROOT_ID")


class SkeletonDict(TypedDict):
    """A skeleton as returned for `output_format="dict"`: numpy arrays plus its metadata.

    Which keys are present depends on the skeleton version (1 has no radius or compartment, only
    4 has lvl2_ids). Further keys the service may add are passed through unchanged.
    """

    meta: dict[str, Any]
    """Generation parameters, including `skeleton_version`."""
    vertices: npt.NDArray[np.float64]
    """(N, 3) vertex positions in nanometres."""
    edges: npt.NDArray[np.int64]
    """(M, 2) pairs of vertex indices."""
    radius: NotRequired[npt.NDArray[np.float64]]
    """Radius at each vertex (nm)."""
    compartment: NotRequired[npt.NDArray[Any]]
    """Compartment label of each vertex (axon, dendrite, soma, ...)."""
    lvl2_ids: NotRequired[npt.NDArray[Any]]
    """Level-2 chunkedgraph id of each vertex: int64 (uint64 only for ids beyond int64)."""
    mesh_to_skel_map: npt.NDArray[np.int64]
    """For each level-2 node, the index of its skeleton vertex."""
    root: int
    """Index of the root vertex."""


class SkeletonJSON(TypedDict):
    """A skeleton as the bulk routes return it for `output_format="dict"`: the service's JSON
    document, with lists where a SkeletonDict has NumPy arrays (as caveclient 8.2.1 returns it).

    Which keys are present depends on the skeleton version, as for SkeletonDict.
    """

    meta: dict[str, Any]
    """Generation parameters, including `skeleton_version`."""
    vertices: list[list[float]]
    """N vertex positions [x, y, z] in nanometres."""
    edges: list[list[int]]
    """M pairs of vertex indices."""
    radius: NotRequired[list[float]]
    """Radius at each vertex (nm)."""
    compartment: NotRequired[list[Any]]
    """Compartment label of each vertex (axon, dendrite, soma, ...)."""
    lvl2_ids: NotRequired[list[int]]
    """Level-2 chunkedgraph id of each vertex."""
    mesh_to_skel_map: list[int]
    """For each level-2 node, the index of its skeleton vertex."""
    root: int
    """Index of the root vertex."""


class CacheContents(TypedDict):
    """Answer of get_cache_contents."""

    num_found: int
    """Number of cached skeleton files matching the prefixes (before `limit`)."""
    files: list[str]
    """Object names of the matching files, cut to `limit`."""


class VertexAttribute(TypedDict):
    id: str
    data_type: str
    num_components: int


PrecomputedSkeletonInfo = TypedDict(
    "PrecomputedSkeletonInfo",
    {"@type": str, "transform": list[float], "vertex_attributes": list[VertexAttribute]},
)
"""The Neuroglancer precomputed-skeleton `info` document of one skeleton version."""


# ---------------------------------------------------------------- gzip and JSON


def gunzipped(data: bytes) -> bytes:
    """The bytes, decompressed if they are a gzip stream (else unchanged)."""
    return gzip.decompress(data) if data[:2] == GZIP_MAGIC else data


def compress_text(text: str) -> bytes:
    return gzip.compress(text.encode("utf-8"))


def compress_json(document: Any, compact: bool = True) -> bytes:
    """gzip of the JSON text; `compact` leaves out the spaces after separators (never inside strings)."""
    separators = (",", ":") if compact else None
    return compress_text(json.dumps(document, separators=separators))


def decompress_text(data: bytes) -> str:
    return gzip.decompress(data).decode("utf-8")


def decompress_json(data: bytes) -> Any:
    return json.loads(decompress_text(data))


# ---------------------------------------------------------------- dict skeletons


def skeleton_json(data: bytes) -> SkeletonJSON:
    """A "flatdict" payload (gzip JSON) as the JSON document it is (lists, not arrays)."""
    document = json.loads(gunzipped(data))
    if not isinstance(document, dict):
        raise ValueError(f"a skeleton is a JSON object, not {type(document).__name__}")
    return cast(SkeletonJSON, document)


def skeleton_from_flatdict(data: bytes) -> SkeletonDict:
    """A "flatdict" payload (gzip JSON) as a SkeletonDict."""
    document = json.loads(gunzipped(data))
    if not isinstance(document, dict):
        raise ValueError(f"a skeleton is a JSON object, not {type(document).__name__}")
    return skeleton_from_mapping(document)


def skeleton_from_mapping(document: Mapping[str, Any]) -> SkeletonDict:
    """The known array fields as numpy arrays of fixed dtypes and shapes; other fields unchanged."""
    import numpy as np

    skeleton: dict[str, Any] = dict(document)
    if "vertices" in skeleton:
        skeleton["vertices"] = np.asarray(skeleton["vertices"], dtype=np.float64).reshape(-1, 3)
    if "edges" in skeleton:
        skeleton["edges"] = np.asarray(skeleton["edges"], dtype=np.int64).reshape(-1, 2)
    if "radius" in skeleton:
        skeleton["radius"] = np.asarray(skeleton["radius"], dtype=np.float64).reshape(-1)
    if "compartment" in skeleton:
        skeleton["compartment"] = np.asarray(skeleton["compartment"]).reshape(-1)
    if "mesh_to_skel_map" in skeleton:
        skeleton["mesh_to_skel_map"] = np.asarray(skeleton["mesh_to_skel_map"], dtype=np.int64).reshape(
            -1
        )
    if "lvl2_ids" in skeleton:
        skeleton["lvl2_ids"] = id_array(skeleton["lvl2_ids"])
    return cast(SkeletonDict, skeleton)


def id_array(values: Any) -> npt.NDArray[Any]:
    """Chunkedgraph ids as int64, or uint64 when one is beyond int64 (never through float)."""
    import numpy as np

    array = np.asarray(values)
    if array.dtype in (np.uint64, np.int64):
        return array.reshape(-1)
    items = [int(value) for value in np.asarray(values, dtype=object).reshape(-1)]
    if any(value > INT64_MAX for value in items):
        return np.asarray(items, dtype=np.uint64)
    return np.asarray(items, dtype=np.int64)


# ---------------------------------------------------------------- SWC


def swc_frame(data: bytes) -> pd.DataFrame:
    """SWC text (gzip or plain) as a DataFrame [id, type, x, y, z, radius, parent]."""
    import pandas as pd

    text = gunzipped(data).decode("utf-8")
    if not text.strip():
        return pd.DataFrame({name: pd.Series(dtype=kind) for name, kind in SWC_DTYPES.items()})
    frame = pd.read_csv(io.StringIO(text), sep=r"\s+", header=None, names=list(SWC_COLUMNS), comment="#")
    return frame.astype(SWC_DTYPES)


# ---------------------------------------------------------------- refusal list


def refusal_frame(data: bytes) -> pd.DataFrame:
    """The refusal list (gzip CSV) as a DataFrame [DATASTACK_NAME, ROOT_ID].

    The service sends a header row; a list without one is read as those two columns in that order
    (a header names at least one of them, which no data row can: a root id is a number)."""
    import pandas as pd

    text = gunzipped(data).decode("utf-8")
    if not text.strip():
        return pd.DataFrame(
            {"DATASTACK_NAME": pd.Series(dtype=str), "ROOT_ID": pd.Series(dtype="int64")}
        )
    dtypes = {"DATASTACK_NAME": "str", "ROOT_ID": "int64"}
    first_row = {field.strip() for field in text.lstrip().splitlines()[0].split(",")}
    if not first_row & set(REFUSAL_COLUMNS):
        frame = pd.read_csv(io.StringIO(text), header=None, dtype=str)
        if frame.shape[1] != len(REFUSAL_COLUMNS):
            raise ValueError(f"the refusal list has {frame.shape[1]} columns, not 2, and no header")
        frame.columns = list(REFUSAL_COLUMNS)
        return frame.astype(dtypes)
    frame = pd.read_csv(io.StringIO(text), dtype=dtypes)
    missing = [column for column in REFUSAL_COLUMNS if column not in frame.columns]
    if missing:
        raise ValueError(f"the refusal list has no column {', '.join(missing)}")
    return frame[list(REFUSAL_COLUMNS)].reset_index(drop=True)


# ---------------------------------------------------------------- H5 (storage bucket)


def require_h5py() -> Any:
    """The optional h5py module, or a clear ImportError naming it."""
    try:
        return importlib.import_module("h5py")
    except ImportError:
        raise ImportError(
            "fetch_skeletons(method='gcs') reads H5 files and needs the optional package h5py: "
            "pip install h5py (or use method='server', the default)"
        ) from None


def skeleton_from_h5(data: bytes) -> SkeletonDict:
    """An H5 skeleton file of the service's cache (gzip or plain) as a SkeletonDict."""
    h5py = require_h5py()
    content = gunzipped(data)
    if content[:8] != HDF5_MAGIC:
        raise ValueError(f"not an HDF5 file (it starts with {content[:8]!r})")
    document: dict[str, Any] = {}
    with h5py.File(io.BytesIO(content), "r") as file:
        for name in ("vertices", "edges", "mesh_to_skel_map", "lvl2_ids"):
            if name in file:
                document[name] = file[name][()]
        if "root" in file:
            document["root"] = int(file["root"][()])
        if "vertex_properties" in file:
            properties = file["vertex_properties"]
            for name in properties:
                document[name] = json.loads(_as_bytes(properties[name][()]))
        if "meta" in file:
            document["meta"] = json.loads(_as_bytes(file["meta"][()]))
    return skeleton_from_mapping(document)


def _as_bytes(value: Any) -> bytes | str:
    """An H5 scalar holding JSON text: bytes, str, or a numpy scalar/void of bytes."""
    if isinstance(value, bytes | str):
        return value
    return bytes(value.tobytes())
