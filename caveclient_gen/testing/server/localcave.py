"""LocalCAVE: a whole CAVE deployment served on 127.0.0.1 from a background thread."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from types import TracebackType
from typing import Self

import httpx
import uvicorn
from starlette.applications import Starlette

from ..auth.identity import LocalUser
from ..world.default import (
    DEFAULT_ALIGNED_VOLUME,
    DEFAULT_DATASTACK,
    SUPERADMIN,
    WorldSettings,
    build_deployment,
)
from ..world.deployment import Deployment
from ..world.fidelity import configure_fidelity, idealised_names
from .app import build_app

LOOPBACK_HOST = "127.0.0.1"
_POLL_INTERVAL = 0.01


def _free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK_HOST, 0))
        port: int = probe.getsockname()[1]
        return port


def _run_quietly(server: uvicorn.Server) -> None:
    # uvicorn exits its thread with SystemExit when it cannot bind; start() reports that itself.
    with contextlib.suppress(SystemExit):
        server.run()


class LocalCAVE:
    """Every CAVE service on one loopback port, backed by a seeded synthetic deployment.

    ::

        with LocalCAVE() as cave:
            httpx.get(f"{cave.url}/info/api/v2/datastacks",
                      headers={"Authorization": f"Bearer {cave.token}"})

    ``seed`` fixes all synthetic data (tokens, ids, positions). ``users`` are the users besides
    the superadmin ``admin``; by default ``viewer`` (may view the default datastack, not the
    restricted one) and ``newcomer`` (has not accepted the Terms of Service). ``latency`` seconds
    are added to every request. ``port=0`` picks a free port when the object is made, so
    :attr:`url` and every URL inside the data are final from the start. :attr:`app` serves the
    same deployment without a socket (for ``httpx.ASGITransport``).

    The services answer like the real servers, including their measured faults: materialization
    ignores exclusion filters, chunkedgraph ``contact_sites`` and L2 cache ``attributes`` answer
    500, points near the volume's edge fail edits and paths, ``user_operations`` without a user
    matches nothing, merges add every edge between the objects near the points, a split's cut
    weighs cross-chunk edges twice. ``idealised`` names the behaviours to answer the idealised way
    instead (``True``: all of them): ``"exclusion_filters"``, ``"contact_sites"``,
    ``"edge_points"``, ``"user_operations_all_users"``, ``"merge_requested_edge_only"``,
    ``"split_weights_once"``, ``"l2_attributes"`` (see
    :mod:`caveclient_gen.testing.world.fidelity`).
    """

    def __init__(
        self,
        *,
        seed: int = 0,
        datastack: str = DEFAULT_DATASTACK,
        aligned_volume: str = DEFAULT_ALIGNED_VOLUME,
        users: Sequence[LocalUser] | None = None,
        latency: float = 0.0,
        port: int = 0,
        idealised: bool | Iterable[str] = False,
    ) -> None:
        if latency < 0:
            raise ValueError(f"latency must be >= 0 seconds, got {latency}")
        names = idealised_names(idealised)
        self._port = port or _free_loopback_port()
        self._deployment = build_deployment(
            WorldSettings(
                seed=seed,
                base_url=f"http://{LOOPBACK_HOST}:{self._port}",
                datastack=datastack,
                aligned_volume=aligned_volume,
                users=users,
                latency=latency,
            )
        )
        configure_fidelity(self._deployment, names)
        self._app: Starlette | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"LocalCAVE<url={self.url}, datastack={self.datastack}, {state}>"

    # -- what a test needs to know ----------------------------------------------------------

    @property
    def url(self) -> str:
        """The server address, ``http://127.0.0.1:<port>``."""
        return self._deployment.base_url

    @property
    def port(self) -> int:
        return self._port

    @property
    def datastack(self) -> str:
        return self._deployment.default_datastack

    @property
    def restricted_datastack(self) -> str:
        """A second datastack on the same aligned volume that only the superadmin may view."""
        return self._deployment.restricted_datastack

    @property
    def aligned_volume(self) -> str:
        return self._deployment.datastacks[self.datastack].aligned_volume

    @property
    def seed(self) -> int:
        return self._deployment.seed

    @property
    def token(self) -> str:
        """A token of the superadmin: every permission granted, every Terms of Service accepted."""
        return self._deployment.token_of(SUPERADMIN)

    @property
    def tokens(self) -> Mapping[str, str]:
        """One API token per user name."""
        return dict(self._deployment.tokens_by_user())

    @property
    def users(self) -> tuple[str, ...]:
        return tuple(account.name for account in self._deployment.identity.accounts())

    def token_for(self, user_name: str) -> str:
        return self._deployment.token_of(user_name)

    def add_user(self, user: LocalUser) -> str:
        """Add a user (also while serving); returns its new API token."""
        return self._deployment.add_user(user)

    @property
    def latency(self) -> float:
        return self._deployment.latency

    @latency.setter
    def latency(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError(f"latency must be >= 0 seconds, got {seconds}")
        self._deployment.latency = seconds

    @property
    def requests(self) -> list[tuple[str, str]]:
        """Every request served so far, as (method, path), oldest first."""
        return list(self._deployment.request_log)

    @property
    def deployment(self) -> Deployment:
        """The in-memory world all services share."""
        return self._deployment

    @property
    def app(self) -> Starlette:
        """The ASGI application, usable without starting a server."""
        if self._app is None:
            self._app = build_app(self._deployment)
        return self._app

    # -- serving ----------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, timeout: float = 10.0) -> Self:
        """Serve in a background thread; returns once the server answers (or raises)."""
        if self.running:
            raise RuntimeError(f"{self!r} is already running")
        config = uvicorn.Config(
            self.app,
            host=LOOPBACK_HOST,
            port=self._port,
            log_config=None,
            log_level="warning",
            access_log=False,
            lifespan="off",
            http="h11",
            ws="none",
            timeout_graceful_shutdown=1,
            server_header=False,
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(
            target=_run_quietly, args=(server,), name=f"LocalCAVE:{self._port}", daemon=True
        )
        self._server, self._thread = server, thread
        thread.start()
        try:
            self._wait_until_answering(server, thread, time.monotonic() + timeout)
        except BaseException:
            self.stop()
            raise
        self._deployment.request_log.clear()  # the readiness probes are not the clients' requests
        return self

    def _wait_until_answering(
        self, server: uvicorn.Server, thread: threading.Thread, deadline: float
    ) -> None:
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError(f"LocalCAVE could not serve on {self.url} (port in use?)")
            if time.monotonic() > deadline:
                raise TimeoutError(f"LocalCAVE did not start on {self.url} in time")
            time.sleep(_POLL_INTERVAL)
        with httpx.Client(timeout=1.0, trust_env=False) as probe:
            while True:
                try:
                    probe.get(f"{self.url}/auth/version").raise_for_status()
                    return
                except httpx.HTTPError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(_POLL_INTERVAL)

    def stop(self, timeout: float = 5.0) -> None:
        """Shut the server down; returns once its thread has ended (idempotent)."""
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is None or thread is None:
            return
        server.should_exit = True
        thread.join(timeout)
        if thread.is_alive():
            server.force_exit = True
            thread.join(timeout)
        if thread.is_alive():
            raise TimeoutError(f"LocalCAVE on {self.url} did not stop within {2 * timeout} s")

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
