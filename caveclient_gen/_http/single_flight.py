"""One fill at a time of a lazily fetched value, when one client is shared by threads.

A sync client used from several threads at once (a thread pool over root ids) would otherwise send
the same lookup (the datastack's record, the latest version, a server's version) once per thread
that asked before the first answer arrived. `Flights.once` lets the first caller of a key make its
request while callers on other threads wait for it, then read what it stored.

Waiting blocks the waiting thread, which is right for the sync runtime. Callers on the filling
thread itself never wait (an async client's tasks share one thread, and one task waiting for
another would stop the event loop): they fill as if there were no flight. A fill that fails or
is abandoned wakes its waiters, which then try themselves, so an error is never handed to a caller
that did not cause it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from .plan import Plan

T = TypeVar("T")


class Missing:
    """What `stored` returns for a value not stored yet (None may be a stored value)."""


MISSING = Missing()


class _Flight:
    __slots__ = ("done", "thread")

    def __init__(self) -> None:
        self.thread = threading.get_ident()
        self.done = threading.Event()


class Flights:
    """The fills in progress of one owner's lazily fetched values, by key."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._flights: dict[Hashable, _Flight] = {}

    def __getstate__(self) -> dict[str, Any]:
        return {}  # a copy starts with no fill in progress

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._lock = threading.Lock()
        self._flights = {}

    def __deepcopy__(self, memo: dict[int, Any]) -> Flights:
        return Flights()

    def once(
        self, key: Hashable, stored: Callable[[], T | Missing], fill: Callable[[], Plan[T]]
    ) -> Plan[T]:
        """The value `stored()` returns, else the one `fill()` fetches (and stores), filled by one
        thread at a time per key (a plan: use with `yield from`).

        A fill may wait for fills of other keys only if those never wait for it (here: everything
        may wait for the datastack's record, which waits for nothing).
        """
        while True:
            value = stored()
            if not isinstance(value, Missing):
                return value
            with self._lock:
                flight = self._flights.get(key)
                leading = flight is None
                if flight is None:
                    flight = self._flights[key] = _Flight()
            if leading:
                break
            if flight.thread == threading.get_ident():
                return (yield from fill())
            flight.done.wait()
        try:
            return (yield from fill())
        finally:
            with self._lock:
                self._flights.pop(key, None)
            flight.done.set()
