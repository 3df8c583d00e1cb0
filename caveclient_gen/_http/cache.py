"""A small time-limited cache owned by one sub-client.

caveclient kept its metadata caches at module level, keyed on the client object (so clients were never
freed) and, for the table manager, on table names only (so two datastacks shared entries). Each
sub-client here owns its caches, and every key names the datastack and version it belongs to.
"""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar

V = TypeVar("V")


class TTLCache(Generic[V]):
    """Values kept for `ttl` seconds. Reads return deep copies, so callers may edit what they get."""

    def __init__(self, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl = ttl
        self._clock = clock
        self._entries: dict[Hashable, tuple[float, V]] = {}
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        del state["_lock"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> V | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            stored_at, value = entry
            if self._clock() - stored_at > self._ttl:
                del self._entries[key]
                return None
        return copy.deepcopy(value)

    def put(self, key: Hashable, value: V) -> V:
        """Store a value; returns a copy the caller may hand out."""
        with self._lock:
            self._entries[key] = (self._clock(), copy.deepcopy(value))
        return value

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
