"""PyChunkedGraph node ids: layer, chunk coordinates and segment id packed into one uint64.

The layout is PyChunkedGraph's: the layer in the top 8 bits, then the x, y and z chunk
coordinates with a per-layer number of bits (10 at layers 1 and 2, one bit less per layer above,
at least 1), then the segment id in the remaining low bits. With 12 layers a root id is
``12 << 56 | segment``, which is why minnie65 roots read 864691135xxxxxxxxx.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import numpy.typing as npt

LAYER_ID_BITS = 8
ATOMIC_SPATIAL_BITS = 10
_LAYER_SHIFT = 64 - LAYER_ID_BITS

UInt64Array = npt.NDArray[np.uint64]


@dataclass(frozen=True)
class NodeIdLayout:
    """How node ids of a chunkedgraph with ``n_layers`` layers are built and taken apart."""

    n_layers: int

    @cached_property
    def spatial_bits(self) -> dict[int, int]:
        """Bits per chunk coordinate at each layer (PyChunkedGraph's ``spatial_bit_masks``)."""
        bits = {layer: max(1, self.n_layers - layer) for layer in range(2, self.n_layers + 1)}
        bits[2] = max(ATOMIC_SPATIAL_BITS, bits[2])
        bits[1] = bits[2]
        return bits

    def segment_bits(self, layer: int) -> int:
        return _LAYER_SHIFT - 3 * self.spatial_bits[layer]

    def max_segment_id(self, layer: int) -> int:
        return (1 << self.segment_bits(layer)) - 1

    def chunk_id(self, layer: int, x: int, y: int, z: int) -> int:
        bits = self.spatial_bits[layer]
        if max(x, y, z) >= 1 << bits or min(x, y, z) < 0:
            raise ValueError(f"chunk coordinate ({x}, {y}, {z}) out of range for layer {layer}")
        x_shift = _LAYER_SHIFT - bits
        return layer << _LAYER_SHIFT | x << x_shift | y << (x_shift - bits) | z << (x_shift - 2 * bits)

    def node_id(self, layer: int, chunk: tuple[int, int, int], segment: int) -> int:
        if not 0 < segment <= self.max_segment_id(layer):
            raise ValueError(f"segment id {segment} out of range for layer {layer}")
        return self.chunk_id(layer, *chunk) | segment

    # -- decoding -------------------------------------------------------------------------

    @staticmethod
    def layer(node_id: int) -> int:
        return int(node_id) >> _LAYER_SHIFT

    @staticmethod
    def layers(node_ids: UInt64Array) -> npt.NDArray[np.int64]:
        return (np.asarray(node_ids, dtype=np.uint64) >> np.uint64(_LAYER_SHIFT)).astype(np.int64)

    def chunk_coordinates(self, node_id: int) -> tuple[int, int, int]:
        node_id = int(node_id)
        bits = self.spatial_bits.get(self.layer(node_id))
        if bits is None:
            raise ValueError(f"{node_id} has no valid layer")
        mask = (1 << bits) - 1
        x_shift = _LAYER_SHIFT - bits
        return (
            node_id >> x_shift & mask,
            node_id >> (x_shift - bits) & mask,
            node_id >> (x_shift - 2 * bits) & mask,
        )

    def parent_chunk(self, chunk: tuple[int, ...], from_layer: int, to_layer: int) -> tuple[int, ...]:
        """The chunk of layer ``to_layer`` that contains a chunk of ``from_layer`` (fan-out 2)."""
        shift = max(0, to_layer - max(from_layer, 2))
        if to_layer == self.n_layers:
            return (0, 0, 0)
        return tuple(c >> shift for c in chunk)
