"""Neurons as random-walk blobs of cells: a compact soma, then persistent walks with branches."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]
Position = tuple[int, int, int]

_DIRECTIONS: tuple[Position, ...] = ((1, 0, 0), (-1, 0, 0), (0, 1, 0), (0, -1, 0), (0, 0, 1), (0, 0, -1))
_KEEP_DIRECTION = 0.75
_BRANCH = 0.03


@dataclass(frozen=True)
class GrownNeurons:
    owner: IntArray
    """Per cell of the grid: the index of the neuron owning it, or -1 (background)."""
    cells: list[IntArray]
    """Per neuron: its cells in the order they were grown; the first is the soma centre."""


def grow_neurons(rng: np.random.Generator, grid_shape: IntArray, sizes: Sequence[int]) -> GrownNeurons:
    """Grow one neuron per entry of ``sizes`` (cells wanted), each avoiding the cells of others."""
    shape = (int(grid_shape[0]), int(grid_shape[1]), int(grid_shape[2]))
    owner = [-1] * (shape[0] * shape[1] * shape[2])
    grown: list[IntArray] = []
    for neuron, size in enumerate(sizes):
        walk = _Walk(rng, shape, owner, neuron)
        walk.grow(_free_start(rng, shape, owner), size)
        grown.append(np.array(walk.cells, dtype=np.int64))
    return GrownNeurons(owner=np.array(owner, dtype=np.int64), cells=grown)


def _free_start(rng: np.random.Generator, shape: Position, owner: list[int]) -> Position:
    margins = [min(4, extent // 4) for extent in shape]
    for _ in range(1000):
        x, y, z = (int(rng.integers(m, extent - m)) for m, extent in zip(margins, shape, strict=True))
        if owner[x + shape[0] * (y + shape[1] * z)] < 0:
            return x, y, z
    raise RuntimeError("the cell grid is too crowded to start another neuron")


class _Walk:
    def __init__(self, rng: np.random.Generator, shape: Position, owner: list[int], neuron: int) -> None:
        self.rng = rng
        self.shape = shape
        self.owner = owner
        self.neuron = neuron
        self.cells: list[int] = []
        self.positions: list[Position] = []

    def claim(self, position: Position) -> bool:
        """Take a free cell, or step onto one of our own; False for others' cells and outside."""
        x, y, z = position
        nx, ny, nz = self.shape
        if not (0 <= x < nx and 0 <= y < ny and 0 <= z < nz):
            return False
        cell = x + nx * (y + ny * z)
        if self.owner[cell] >= 0:
            return self.owner[cell] == self.neuron
        self.owner[cell] = self.neuron
        self.cells.append(cell)
        self.positions.append(position)
        return True

    def grow(self, start: Position, size: int) -> None:
        self.claim(start)
        # A compact soma: the free cells sharing a face with the start. Every cell of a neuron
        # shares a face with another of its cells, so a neuron is always connected.
        for step in _DIRECTIONS:
            if len(self.cells) < max(1, size // 4):
                self.claim(_moved(start, step))
        random = self.rng.random(size=80 * size)
        choices = self.rng.integers(0, 1 << 30, size=80 * size)
        position, direction, draw = start, int(choices[0]) % 6, 0
        while len(self.cells) < size and draw + 3 < len(random):
            if random[draw] < _BRANCH:
                position = self.positions[int(choices[draw]) % len(self.positions)]
            if random[draw + 1] > _KEEP_DIRECTION:
                direction = int(choices[draw + 1]) % 6
            for attempt in range(6):
                candidate = _moved(position, _DIRECTIONS[(direction + attempt) % 6])
                if self.claim(candidate):
                    position, direction = candidate, (direction + attempt) % 6
                    break
            else:
                position = self.positions[int(choices[draw + 2]) % len(self.positions)]
            draw += 3


def _moved(position: Position, step: Position) -> Position:
    return position[0] + step[0], position[1] + step[1], position[2] + step[2]
