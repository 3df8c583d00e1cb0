"""The JSON state server's datastore: zlib-compressed JSON documents under large integer ids.

Neuroglancer states and segment-property documents share one id space (one datastore kind); each
kind of document lives in its own column, so asking for a state by a property's id finds no data.
A document is one datastore entity, limited to about 1 MiB compressed, unless the deployment backs
states with a bucket (`state_bucket`); segment properties never use it.
"""

from __future__ import annotations

import random
import threading
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

STATE_COLUMNS = ("v2", "v1")
PROPERTY_COLUMNS = ("segment_properties",)
MAX_ENTITY_SIZE = 1_048_572
"""Datastore's entity limit; the compressed document plus its other properties must fit in it."""
ENTITY_OVERHEAD = 1_024
"""Room left for the entity's other properties (user, date, access counter, key)."""
MAX_BUCKET_SIZE = 52_428_800
"""With a bucket for states, the server's own limit on a compressed state."""
# Datastore's automatically allocated ids are scattered 16-digit integers.
_LOWEST_ALLOCATED_ID = 2**52
_HIGHEST_ALLOCATED_ID = 3 * 2**51


class StateStoreError(Exception):
    """Any failure the real server turns into its bare 500."""


@dataclass
class _Entity:
    columns: dict[str, bytes]
    user_id: str
    date: datetime
    access_count: int = field(default=1)


class StateStore:
    def __init__(self, id_stream: random.Random, *, state_bucket: bool = False) -> None:
        self.state_bucket = state_bucket
        self._lock = threading.RLock()
        self._ids = id_stream
        self._entities: dict[int, _Entity] = {}

    def add(
        self,
        document: bytes,
        *,
        columns: Sequence[str],
        user_id: str,
        date: datetime,
        entity_id: int | None = None,
    ) -> int:
        """Store a document, compressed, in the first of ``columns``; returns its id."""
        compressed = zlib.compress(document)
        in_bucket = self.state_bucket and columns[0] in STATE_COLUMNS
        limit = MAX_BUCKET_SIZE if in_bucket else MAX_ENTITY_SIZE - ENTITY_OVERHEAD
        if len(compressed) > limit:
            raise StateStoreError("JSON data too large")
        with self._lock:
            if entity_id is None:
                entity_id = self._allocate_id()
            elif entity_id <= 0:
                raise StateStoreError("datastore ids must be positive")
            elif entity_id in self._entities:
                raise StateStoreError(f"ID {entity_id} already exists")
            self._entities[entity_id] = _Entity({columns[0]: compressed}, user_id, date)
        return entity_id

    def _allocate_id(self) -> int:
        while True:
            candidate = self._ids.randrange(_LOWEST_ALLOCATED_ID, _HIGHEST_ALLOCATED_ID)
            if candidate not in self._entities:
                return candidate

    def get(self, entity_id: int, *, columns: Sequence[str], decompress: bool) -> bytes:
        """The stored (compressed) bytes, or the JSON document itself when ``decompress``."""
        with self._lock:
            entity = self._entities.get(entity_id)
            if entity is None:
                raise StateStoreError(f"no entity {entity_id}")
            stored = next((entity.columns[c] for c in columns if c in entity.columns), None)
            if stored is None:
                raise StateStoreError(f"entity {entity_id} holds no data in {list(columns)}")
            entity.access_count += 1
        return zlib.decompress(stored) if decompress else stored

    def __len__(self) -> int:
        return len(self._entities)
