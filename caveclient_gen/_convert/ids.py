"""Node-id arrays on the wire: chunks of a big list, exact JSON decoding, raw little-endian uint64.

Chunkedgraph ids are unsigned 64-bit integers that can exceed 2^63 - 1. The JSON decoder keeps them
as exact Python ints; here they become uint64 arrays without passing through floats or int64. Binary
bodies are read with numpy's explicit little-endian '<u8' dtype, whatever the machine's byte order.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..errors import UnexpectedResponseError

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    IdArray = npt.NDArray[np.uint64]

WIRE_DTYPE = "<u8"
"""Raw id arrays on the wire: little-endian uint64, 8 bytes per id, no header."""


def id_chunks(ids: IdArray, size: int) -> list[IdArray]:
    """Consecutive slices (views, no copies) of at most `size` ids, in order."""
    size = max(1, int(size))
    return [ids[start : start + size] for start in range(0, len(ids), size)]


INT64_MAX = 2**63 - 1


def unique_in_order(ids: IdArray) -> IdArray:
    """The distinct ids, in the order of their first occurrence."""
    import numpy as np

    if ids.size < 2:
        return ids
    _, first = np.unique(ids, return_index=True)
    return ids[np.sort(first)]


def ids_to_bytes(ids: IdArray) -> bytes:
    """The raw little-endian uint64 body of an id array."""
    return ids.astype(WIRE_DTYPE, copy=False).tobytes()


def ids_from_bytes(content: bytes, expected: int | None, what: str) -> IdArray:
    """A raw little-endian uint64 body as a native uint64 array, checked to hold `expected` ids."""
    import numpy as np

    if len(content) % 8:
        raise UnexpectedResponseError(
            f"{what}: a raw id array must be a multiple of 8 bytes, got {len(content)} bytes"
        )
    if expected is not None and len(content) != 8 * expected:
        raise UnexpectedResponseError(
            f"{what}: expected {expected} ids ({8 * expected} bytes), got {len(content)} bytes"
        )
    return np.frombuffer(content, dtype=WIRE_DTYPE).astype(np.uint64, copy=False)


def ids_from_json(values: Sequence[Any] | None, what: str) -> IdArray:
    """JSON ids (exact Python ints) as a uint64 array."""
    import numpy as np

    if not values:
        return np.zeros(0, dtype=np.uint64)
    try:
        array = np.array(values, dtype=np.uint64)
    except (OverflowError, TypeError, ValueError) as error:
        raise UnexpectedResponseError(f"{what}: not a list of uint64 ids ({error})") from None
    if array.ndim != 1:
        raise UnexpectedResponseError(f"{what}: expected a flat list of ids")
    return array


def id_list_from_json(values: Sequence[Any] | None, what: str) -> list[int]:
    """JSON ids checked as uint64 and returned as the list of int caveclient hands back."""
    return [int(node) for node in ids_from_json(values, what).tolist()]


def as_caveclient_ids(ids: IdArray, what: str) -> npt.NDArray[np.int64]:
    """uint64 ids as the int64 array caveclient returns for them; an id above 2**63 - 1 (which
    int64 cannot hold, and CAVE's node ids never reach) raises rather than wrapping."""
    import numpy as np

    if ids.size and int(ids.max()) > INT64_MAX:
        raise UnexpectedResponseError(
            f"{what}: id {int(ids.max())} does not fit in int64; get_roots returns exact uint64 ids"
        )
    return ids.astype(np.int64)


def id_pairs_from_json(values: Sequence[Any] | None, what: str) -> IdArray:
    """A JSON list of [id, id] pairs as an (n, 2) uint64 array."""
    import numpy as np

    if not values:
        return np.zeros((0, 2), dtype=np.uint64)
    try:
        array = np.array(values, dtype=np.uint64)
    except (OverflowError, TypeError, ValueError) as error:
        raise UnexpectedResponseError(f"{what}: not a list of id pairs ({error})") from None
    if array.ndim != 2 or array.shape[1] != 2:
        raise UnexpectedResponseError(f"{what}: expected [id, id] pairs, got shape {array.shape}")
    return array
