"""The skeleton service's output formats: flat dict, meshparty JSON, arrays, SWC, precomputed.

Skeleton versions change what a skeleton carries: 1 has no vertex properties; 2 has radius and a
float compartment (Neuroglancer-compatible); 3 has a uint8 compartment; 4 adds level-2 ids.
Compressed payloads are gzip streams made by the application (mtime 0 here, so they repeat).
"""

from __future__ import annotations

import gzip
import io
import json
import struct
from typing import Any

import numpy as np

from .build import Skeleton

LATEST_VERSION = 4
NEUROGLANCER_VERSION = 2
VERSION_ALIASES = {-1: LATEST_VERSION, 0: NEUROGLANCER_VERSION}
VERSIONS = (1, 2, 3, 4)
_TRANSFORM = [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0]


def resolve_version(skeleton_version: int) -> int:
    """-1 and 0 to the versions they stand for; unknown versions raise ValueError."""
    version = VERSION_ALIASES.get(skeleton_version, skeleton_version)
    if version not in VERSIONS:
        valid = [*VERSION_ALIASES, *VERSIONS]
        raise ValueError(f"Invalid skeleton version: v{skeleton_version}. Valid versions: {valid}")
    return version


def vertex_attributes(version: int) -> list[dict[str, Any]]:
    if version == 1:
        return []
    compartment_type = "float32" if version == NEUROGLANCER_VERSION else "uint8"
    return [
        {"id": "radius", "data_type": "float32", "num_components": 1},
        {"id": "compartment", "data_type": compartment_type, "num_components": 1},
    ]


def precomputed_info(version: int) -> dict[str, Any]:
    return {
        "@type": "neuroglancer_skeletons",
        "transform": list(_TRANSFORM),
        "vertex_attributes": vertex_attributes(version),
    }


def gzip_bytes(data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=9, mtime=0)


def compress_dict(document: dict[str, Any]) -> bytes:
    """The service's ``compressDictToBytes``: JSON with every space removed, gzipped."""
    return gzip_bytes(json.dumps(document).replace(" ", "").encode())


def _vertex_properties(skeleton: Skeleton, version: int) -> dict[str, list[Any]]:
    if version == 1:
        return {}
    compartment = skeleton.compartment.tolist()
    if version == NEUROGLANCER_VERSION:
        compartment = [float(value) for value in compartment]
    return {"radius": skeleton.radius.tolist(), "compartment": compartment}


def metadata(skeleton: Skeleton, datastack: str) -> dict[str, Any]:
    soma = skeleton.vertices[0]
    return {
        "root_id": skeleton.root_id,
        "soma_pt_x": float(soma[0]),
        "soma_pt_y": float(soma[1]),
        "soma_pt_z": float(soma[2]),
        "soma_radius": 7500,
        "collapse_soma": True,
        "collapse_function": "sphere",
        "invalidation_d": 3,
        "smooth_vertices": False,
        "compute_radius": True,
        "shape_function": "single",
        "smooth_iterations": 12,
        "smooth_neighborhood": 2,
        "smooth_r": 0.1,
        "cc_vertex_thresh": 0,
        "remove_zero_length_edges": True,
        "collapse_params": {},
        "timestamp": skeleton.created,
        "skeleton_type": "pcg_skel",
        "meta": {"datastack": datastack, "space": "l2cache"},
    }


def flat_dict(skeleton: Skeleton, version: int, datastack: str) -> dict[str, Any]:
    """The ``flatdict`` document: arrays flattened next to each other, metadata under ``meta``."""
    document: dict[str, Any] = {"meta": {**metadata(skeleton, datastack), "skeleton_version": version}}
    document["edges"] = skeleton.edges.tolist()
    document["mesh_to_skel_map"] = skeleton.mesh_to_skel_map.tolist()
    document["root"] = 0
    document["vertices"] = skeleton.vertices.tolist()
    document.update(_vertex_properties(skeleton, version))
    if version >= LATEST_VERSION:
        document["lvl2_ids"] = skeleton.lvl2_ids.tolist()
    return document


def meshparty_json(skeleton: Skeleton, version: int, datastack: str) -> dict[str, Any]:
    """The ``json`` document: the meshparty skeleton's fields, derived ones included."""
    parents = skeleton.parents
    n = len(parents)
    child_counts = np.bincount(parents[parents >= 0], minlength=n)
    degree = child_counts + (parents >= 0)
    branch_points = np.flatnonzero(child_counts > 1)
    end_points = np.flatnonzero(child_counts == 0)
    hops = np.zeros(n, dtype=np.int64)
    distance = np.zeros(n)
    segment = np.zeros(n, dtype=np.int64)
    next_segment = 1
    for vertex in range(1, n):
        parent = parents[vertex]
        hops[vertex] = hops[parent] + 1
        distance[vertex] = distance[parent] + np.linalg.norm(
            skeleton.vertices[vertex] - skeleton.vertices[parent]
        )
        if parent == 0 or child_counts[parent] > 1:
            segment[vertex], next_segment = next_segment, next_segment + 1
        else:
            segment[vertex] = segment[parent]
    return {
        "jsonification_version": "1.0",
        "branch_points": branch_points.tolist(),
        "branch_points_undirected": np.flatnonzero(degree > 2).tolist(),
        "distance_to_root": distance.tolist(),
        "edges": skeleton.edges.tolist(),
        "end_points": end_points.tolist(),
        "end_points_undirected": np.flatnonzero(degree == 1).tolist(),
        "hops_to_root": hops.tolist(),
        "indices_unmasked": list(range(n)),
        "mesh_to_skel_map": skeleton.mesh_to_skel_map.tolist(),
        "meta": metadata(skeleton, datastack),
        "node_mask": [True] * n,
        "radius": skeleton.radius.tolist(),
        "root": 0,
        "root_position": skeleton.vertices[0].tolist(),
        "segment_map": segment.tolist(),
        "topo_points": np.union1d(branch_points, end_points).tolist(),
        "unmasked_size": n,
        "vertex_properties": _vertex_properties(skeleton, version),
        "vertices": skeleton.vertices.tolist(),
    }


def arrays(skeleton: Skeleton, version: int) -> dict[str, Any]:
    return {
        "vertices": skeleton.vertices.tolist(),
        "vertex_properties": _vertex_properties(skeleton, version),
        "edges": skeleton.edges.tolist(),
    }


def swc_text(skeleton: Skeleton) -> str:
    """SWC as the service writes it: ``id type x y z radius parent``, micrometres, root first."""
    lines = io.StringIO()
    for vertex, (point, radius, label, parent) in enumerate(
        zip(
            skeleton.vertices / 1000,
            skeleton.radius / 1000,
            skeleton.compartment.astype(int),
            skeleton.parents,
            strict=True,
        )
    ):
        x, y, z = point
        lines.write(f"{vertex} {label} {x:.3f} {y:.3f} {z:.3f} {radius:.3f} {parent}\n")
    return lines.getvalue()


def precomputed(skeleton: Skeleton, version: int) -> bytes:
    """Neuroglancer's precomputed skeleton: counts, float32 vertices, uint32 edges, attributes."""
    edges = skeleton.edges
    parts = [
        struct.pack("<II", len(skeleton.vertices), len(edges)),
        skeleton.vertices.astype("<f4").tobytes(),
        edges.astype("<u4").tobytes(),
    ]
    for attribute in vertex_attributes(version):
        values = skeleton.radius if attribute["id"] == "radius" else skeleton.compartment
        parts.append(
            np.asarray(values).astype(np.dtype(attribute["data_type"]).newbyteorder("<")).tobytes()
        )
    return b"".join(parts)
