"""The voxel geometry of the synthetic segmentation: its bounds, its chunks and the cells inside them.

The volume is minnie65-sized (so the chunkedgraph has 12 layers, as minnie65's does), but only a
block of chunks in its middle is populated. Each chunk of that block is cut into a regular grid of
*cells*; a cell owned by a neuron is one supervoxel, every other cell is background. Cells are
numbered over the whole block in x-fastest order.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]
Triple = tuple[int, int, int]


@dataclass(frozen=True)
class VolumeGeometry:
    resolution: tuple[float, float, float]
    """Nanometres per voxel of the base scale."""
    voxel_offset: Triple
    voxel_size: Triple
    chunk_size: Triple
    """Voxels per level-2 chunk."""
    block_origin: Triple
    """Chunk coordinates of the first populated chunk (relative to ``voxel_offset``)."""
    block_chunks: Triple
    """Number of populated chunks per axis."""
    cells_per_chunk: Triple

    @cached_property
    def cell_size(self) -> IntArray:
        return _ints(np.array(self.chunk_size) // np.array(self.cells_per_chunk))

    @cached_property
    def grid_shape(self) -> IntArray:
        """Cells per axis over the populated block."""
        return _ints(np.array(self.block_chunks) * np.array(self.cells_per_chunk))

    @property
    def n_cells(self) -> int:
        return int(np.prod(self.grid_shape))

    @property
    def cells_in_chunk(self) -> int:
        return int(np.prod(self.cells_per_chunk))

    @property
    def bounds_voxels(self) -> IntArray:
        """(3, 2) array: [[x_min, x_max], [y_min, y_max], [z_min, z_max]] in voxels."""
        offset = np.array(self.voxel_offset)
        return _ints(np.stack([offset, offset + np.array(self.voxel_size)], axis=1))

    @property
    def chunk_counts(self) -> IntArray:
        """Level-2 chunks per axis over the whole volume."""
        return _ints(-(-np.array(self.voxel_size) // np.array(self.chunk_size)))

    # -- cells ------------------------------------------------------------------------------

    def grid_coordinates(self, cells: IntArray) -> IntArray:
        """(N, 3) grid coordinates of cell indices."""
        cells = np.asarray(cells, dtype=np.int64)
        nx, ny, _ = self.grid_shape
        return _ints(np.stack([cells % nx, cells // nx % ny, cells // (nx * ny)], axis=1))

    def cell_index(self, grid: IntArray) -> IntArray:
        grid = np.asarray(grid, dtype=np.int64)
        nx, ny, _ = self.grid_shape
        return _ints(grid[..., 0] + nx * (grid[..., 1] + ny * grid[..., 2]))

    def cell_chunks(self, cells: IntArray) -> IntArray:
        """(N, 3) absolute level-2 chunk coordinates of cells."""
        return _ints(self.grid_coordinates(cells) // np.array(self.cells_per_chunk) + self.block_origin)

    def cell_slots(self, cells: IntArray) -> IntArray:
        """Index of each cell inside its chunk (0 ... cells_in_chunk - 1)."""
        local = self.grid_coordinates(cells) % np.array(self.cells_per_chunk)
        cx, cy, _ = self.cells_per_chunk
        return _ints(local[:, 0] + cx * (local[:, 1] + cy * local[:, 2]))

    def cell_corner_voxels(self, cells: IntArray) -> IntArray:
        """(N, 3) absolute voxel coordinates of the lowest corner of each cell."""
        chunk_origin = np.array(self.voxel_offset) + np.array(self.block_origin) * np.array(
            self.chunk_size
        )
        return _ints(chunk_origin + self.grid_coordinates(cells) * self.cell_size)

    def cells_at_voxels(self, voxels: npt.NDArray[np.float64]) -> IntArray:
        """Cell index containing each (absolute, fractional) voxel position; -1 outside the block."""
        chunk_origin = np.array(self.voxel_offset) + np.array(self.block_origin) * np.array(
            self.chunk_size
        )
        grid = np.floor((np.asarray(voxels, dtype=np.float64) - chunk_origin) / self.cell_size)
        inside = np.all((grid >= 0) & (grid < self.grid_shape), axis=1)
        safe = np.where(inside[:, None], grid, 0).astype(np.int64)
        return _ints(np.where(inside, self.cell_index(safe), -1))

    def chunk_origin_voxels(self, chunks: IntArray) -> IntArray:
        """Absolute voxel coordinates of the lowest corner of level-2 chunks."""
        return _ints(np.array(self.voxel_offset) + np.asarray(chunks) * np.array(self.chunk_size))

    def neighbour_pairs(self) -> tuple[IntArray, IntArray, IntArray]:
        """Every pair of face-adjacent cells: (first cells, second cells, axis of the shared face)."""
        firsts, seconds, axes = [], [], []
        all_cells = np.arange(self.n_cells)
        grid = self.grid_coordinates(all_cells)
        for axis in range(3):
            step = np.zeros(3, dtype=np.int64)
            step[axis] = 1
            has_next = grid[:, axis] + 1 < self.grid_shape[axis]
            firsts.append(all_cells[has_next])
            seconds.append(self.cell_index(grid[has_next] + step))
            axes.append(np.full(int(has_next.sum()), axis))
        return np.concatenate(firsts), np.concatenate(seconds), np.concatenate(axes)


def _ints(values: npt.ArrayLike) -> IntArray:
    return np.asarray(values, dtype=np.int64)


def minnie_like_geometry() -> VolumeGeometry:
    """minnie65's bounds, chunking and resolution; a 12 x 12 x 3 block of chunks is populated.

    752 chunks along x make PyChunkedGraph's layer count ceil(log2(752)) + 2 = 12.
    """
    return VolumeGeometry(
        resolution=(8.0, 8.0, 40.0),
        voxel_offset=(26_385, 30_308, 14_850),
        voxel_size=(192_424, 131_051, 13_008),
        chunk_size=(256, 256, 512),
        block_origin=(360, 240, 10),
        block_chunks=(12, 12, 3),
        cells_per_chunk=(4, 4, 16),
    )
