"""What both fault proxies share: an asyncio server on a thread of its own, a fault armed from the
test's thread for the next request whose path holds a given part, and the log of what was handled."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from dataclasses import dataclass, field
from typing import ClassVar, Self


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass(frozen=True)
class Handled:
    """One request a proxy read, the fault it applied, and whether the upstream received it."""

    method: str
    path: str
    fault: str | None
    forwarded: bool


@dataclass(kw_only=True)
class ProxyThread:
    """Subclasses serve in `_serve`, set `_loop` and `_stopping` there, then call `ready.set()`."""

    scheme: ClassVar[str] = "http"
    faults: ClassVar[frozenset[str]] = frozenset()

    port: int = 0
    handled: list[Handled] = field(default_factory=list)
    _armed: str | None = None
    _armed_path: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _loop: asyncio.AbstractEventLoop | None = None
    _stopping: asyncio.Event | None = None
    _thread: threading.Thread | None = None

    # ------------------------------------------------------------ control (from the test's thread)

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def start(self) -> Self:
        self.port = free_port()
        ready = threading.Event()
        name = type(self).__name__
        self._thread = threading.Thread(
            target=lambda: asyncio.run(self._serve(ready)), daemon=True, name=name
        )
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError(f"{name} did not start")
        return self

    def stop(self) -> None:
        loop, stopping = self._loop, self._stopping
        if loop is not None and stopping is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(stopping.set)
        if self._thread is not None:
            self._thread.join(10)

    def arm(self, fault: str | None, path_part: str = "") -> None:
        """Apply `fault` to the next request whose path holds `path_part`."""
        assert fault is None or fault in self.faults, fault
        with self._lock:
            self._armed, self._armed_path = fault, path_part

    def seen(self, method: str, path_part: str) -> int:
        """How many requests matching method and path part were forwarded to the upstream."""
        with self._lock:
            return sum(
                1
                for request in self.handled
                if request.forwarded and request.method == method and path_part in request.path
            )

    def mark(self) -> int:
        with self._lock:
            return len(self.handled)

    def since(self, mark: int) -> list[Handled]:
        with self._lock:
            return list(self.handled[mark:])

    # ------------------------------------------------------------ the proxy's own thread

    async def _serve(self, ready: threading.Event) -> None:
        raise NotImplementedError

    def _take_fault(self, method: str, path: str, not_forwarded: frozenset[str]) -> str | None:
        """The fault armed for this request (disarmed once taken), logged with the request."""
        with self._lock:
            fault = None
            if self._armed is not None and self._armed_path in path:
                fault, self._armed = self._armed, None
            self.handled.append(Handled(method, path, fault, fault not in not_forwarded))
            return fault
