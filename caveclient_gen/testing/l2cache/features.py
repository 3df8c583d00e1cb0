"""Features of level-2 nodes as the L2 cache stores them, computed from the node's cells.

Each supervoxel fills a fixed, id-derived fraction of its cell; from that come the volume, the
surface area, distance-transform statistics, a representative point, principal axes and the
voxel counts on the chunk faces, in PCGL2Cache's storage types (uint32, uint16, float16, ...).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ..chunkedgraph.segmentation.graph import SegmentationGraph

FloatArray = npt.NDArray[np.float64]
_UINT16_MAX = 65535
_MEAN_TO_MAX_DT = 0.55


@dataclass(frozen=True)
class L2Features:
    size_voxels: np.uint32
    area_nm2: np.uint32
    max_dt_nm: np.uint16
    mean_dt_nm: np.float16
    rep_coord_voxels: npt.NDArray[np.uint16]
    """Representative point in voxels, relative to the node's chunk (as the cache stores it)."""
    rep_coord_nm: FloatArray
    """The same point in absolute nanometres (as the cache's API answers it)."""
    chunk_intersect_count: npt.NDArray[np.uint16]
    pca: npt.NDArray[np.float16]
    pca_val: npt.NDArray[np.float32]


def fill_fractions(supervoxel_ids: npt.NDArray[np.uint64]) -> FloatArray:
    """How much of its cell each supervoxel fills (0.35 ... 0.95), fixed by its id."""
    mixed = (supervoxel_ids * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(40)
    return 0.35 + 0.6 * (mixed % np.uint64(10_000)).astype(np.float64) / 10_000


def level2_features(graph: SegmentationGraph, l2_id: int) -> L2Features | None:
    """Features of a level-2 node, or None for ids that are not level-2 nodes of the graph."""
    members = graph.l2_supervoxel_indices(l2_id)
    if len(members) == 0:
        return None
    geometry = graph.geometry
    resolution = np.asarray(geometry.resolution)
    cell_voxels = geometry.cell_size
    cell_nm = cell_voxels * resolution
    cells = graph.sv_cells[members]
    fractions = fill_fractions(graph.supervoxel_ids[members])
    voxel_counts = fractions * float(np.prod(cell_voxels))
    grid = geometry.grid_coordinates(cells)
    centres_nm = (geometry.cell_corner_voxels(cells) + cell_voxels / 2) * resolution

    occupied = {tuple(point) for point in grid.tolist()}
    face_nm2 = np.array([cell_nm[1] * cell_nm[2], cell_nm[0] * cell_nm[2], cell_nm[0] * cell_nm[1]])
    area = 0.0
    for point, fraction in zip(grid.tolist(), fractions.tolist(), strict=True):
        for axis in range(3):
            for step in (-1, 1):
                neighbour = list(point)
                neighbour[axis] += step
                if tuple(neighbour) not in occupied:
                    area += face_nm2[axis] * fraction ** (2 / 3)

    distance = float(cell_nm.min()) / 2 * fractions ** (1 / 3)
    centroid = np.average(centres_nm, axis=0, weights=voxel_counts)
    representative = int(np.argmin(np.linalg.norm(centres_nm - centroid, axis=1)))
    chunk = np.array(graph.layout.chunk_coordinates(l2_id))
    rep_voxels = (
        geometry.cell_corner_voxels(cells[representative : representative + 1])[0] + cell_voxels // 2
    )
    rep_in_chunk = rep_voxels - geometry.chunk_origin_voxels(chunk)

    within_cell = np.diag((cell_nm * fractions.mean() ** (1 / 3)) ** 2 / 12)
    offsets = centres_nm - centroid
    covariance = within_cell + (offsets * voxel_counts[:, None]).T @ offsets / voxel_counts.sum()
    eigenvalues, eigenvectors = np.linalg.eigh(covariance)
    order = np.argsort(eigenvalues)[::-1]
    singular_values = np.sqrt(np.maximum(eigenvalues[order], 0) * voxel_counts.sum())

    local = grid % np.array(geometry.cells_per_chunk)
    face_voxels = np.array(
        [
            cell_voxels[1] * cell_voxels[2],
            cell_voxels[0] * cell_voxels[2],
            cell_voxels[0] * cell_voxels[1],
        ]
    )
    last = np.array(geometry.cells_per_chunk) - 1
    on_faces = np.array(
        [
            [(fractions[local[:, axis] == 0] * face_voxels[axis]).sum() for axis in range(3)],
            [(fractions[local[:, axis] == last[axis]] * face_voxels[axis]).sum() for axis in range(3)],
        ]
    )
    return L2Features(
        size_voxels=np.uint32(round(voxel_counts.sum())),
        area_nm2=np.uint32(round(area)),
        max_dt_nm=np.uint16(round(float(distance.max()))),
        mean_dt_nm=np.float16(_MEAN_TO_MAX_DT * float(distance.mean())),
        rep_coord_voxels=rep_in_chunk.astype(np.uint16),
        rep_coord_nm=(rep_voxels * resolution).astype(np.float64),
        chunk_intersect_count=np.minimum(np.round(on_faces), _UINT16_MAX).astype(np.uint16),
        pca=eigenvectors[:, order].T.astype(np.float16),
        pca_val=singular_values.astype(np.float32),
    )
