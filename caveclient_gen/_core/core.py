"""ClientCore: what the sub-clients of one client share (session, runtime, deployment, token).

It sits below the sub-clients: they receive it, and only ``caveclient_gen._client`` builds it.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from .. import _defaults
from .._convert.values import as_timeout
from .._http.plan import Plan
from .._http.progress import ProgressSwitch
from .._http.redact import install_log_filters, register_secret
from .._http.retry import RetryPolicy
from .._http.runtime import AsyncRuntime, SyncRuntime
from .._http.session import HTTPSettings, Session, default_timeout
from .._http.session_defaults import get_session_defaults
from .._http.single_flight import MISSING, Flights, Missing
from ..errors import InvalidInputError
from .datastack import DatastackRecord, Deployment
from .tokens import TokenSource, clean_token, find_token

VersionTimestamp = Callable[["ClientCore", int], Plan[datetime]]
"""Looks up when a materialization version was made (given by the client, which knows the
materialization sub-client)."""


class ClientCore:
    """What the sub-clients of one client share: session, runtime, deployment and token."""

    def __init__(
        self,
        *,
        mode: str,
        datastack_name: str | None,
        server_address: str | None,
        auth_token_file: str | os.PathLike[str] | None,
        auth_token_key: str | None,
        auth_token: str | None,
        settings: HTTPSettings,
        write_server_cache: bool,
        info_cache: dict[str, DatastackRecord] | None,
        desired_resolution: Any,
        version: int | None,
        version_timestamp: VersionTimestamp,
    ) -> None:
        install_log_filters()
        auth_token = clean_token(auth_token, "auth_token")  # refused here, before any request
        register_secret(auth_token)
        self.settings = settings
        self._version_timestamp = version_timestamp
        self._token_arguments: dict[str, Any] = {
            "auth_token": auth_token,
            "auth_token_file": auth_token_file,
            "auth_token_key": auth_token_key,
        }
        self._token_source: TokenSource | None = None
        self._token_set_in_memory = False
        self._token_lock = threading.Lock()
        self.session = Session(settings, self.token, "sync" if mode == "sync" else "async")
        self.runtime: SyncRuntime | AsyncRuntime = (
            SyncRuntime(settings.retry, progress=settings.progress)
            if mode == "sync"
            else AsyncRuntime(
                settings.retry,
                pool_size=settings.pool_maxsize,
                progress=settings.progress,
                on_new_loop=self.session.forget_closed_loop_connections,
            )
        )
        self.deployment = Deployment(
            self.session,
            datastack_name=datastack_name,
            server_address=server_address,
            write_server_cache=write_server_cache,
            info_cache=info_cache,
        )
        self.desired_resolution = desired_resolution
        self.version = None if version is None else version_argument(version)
        self.timestamp: datetime | None = None
        self._pin_lock = threading.Lock()
        self._flights = Flights()

    # ------------------------------------------------------------ token

    def token_source(self) -> TokenSource:
        if self._token_source is None:
            with self._token_lock:
                if self._token_source is None:
                    found = find_token(self.deployment.global_server, **self._token_arguments)
                    register_secret(found.token)
                    self._token_source = found
        return self._token_source

    def token(self) -> str | None:
        return self.token_source().token

    def explicit_token_file(self) -> Path | None:
        path = self._token_arguments["auth_token_file"]
        return Path(path).expanduser() if path is not None else None

    def pinned_timestamp(self) -> Plan[datetime | None]:
        """The time of the client's materialization version (fetched once), or None without one.

        Chunkedgraph calls default to it, so roots agree with the tables of that version.
        """
        version = self.version
        if version is None:
            return self.timestamp  # None, unless set on the core directly
        return (yield from self.timestamp_of(version, lambda: self._version_timestamp(self, version)))

    def timestamp_of(self, version: int, fetch: Callable[[], Plan[datetime]]) -> Plan[datetime]:
        """The time of the pinned `version`: kept, else fetched (by one thread at a time) and kept
        unless the client was pinned to another version meanwhile."""

        def stored() -> datetime | Missing:
            with self._pin_lock:
                if self.version == version and self.timestamp is not None:
                    return self.timestamp
            return MISSING

        def fill() -> Plan[datetime]:
            moment = yield from fetch()
            with self._pin_lock:
                if self.version == version:
                    self.timestamp = moment
            return moment

        return (yield from self._flights.once(("timestamp", version), stored, fill))

    def pin(self, version: int | None) -> None:
        """Pin another materialization version (None: none); its time is fetched on next need."""
        with self._pin_lock:
            self.version = version
            self.timestamp = None

    def forget_token(self) -> None:
        """Look the token up again on next use, and rebuild every connection with it."""
        with self._token_lock:
            self._token_source = None
            self._token_set_in_memory = False
        self.session.reset_connections()

    def set_token(self, token: str | None, description: str) -> None:
        """Use another token from now on: every connection is rebuilt with it."""
        token = clean_token(token, "token")
        register_secret(token)
        with self._token_lock:
            self._token_source = TokenSource(token, description)
            self._token_set_in_memory = True
        self.session.reset_connections()

    # ------------------------------------------------------------ copies and pickles

    def __getstate__(self) -> dict[str, Any]:
        """A copy (deepcopy, pickle) keeps the settings, caches and the token given in code
        (`auth_token=` or set on the client); a token found in the environment or a file is not
        written into it: the copy looks it up again where it runs."""
        state = self.__dict__.copy()
        del state["_token_lock"], state["_pin_lock"], state["_flights"]
        if not self._token_set_in_memory:
            state["_token_source"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._token_lock = threading.Lock()
        self._pin_lock = threading.Lock()
        self._flights = Flights()


def version_argument(value: object) -> int:
    """A materialization version number; numpy integers are welcome (caveclient refused them)."""
    if isinstance(value, bool) or not hasattr(value, "__index__"):
        raise InvalidInputError("version", f"must be an integer, not {type(value).__name__}")
    return int(value.__index__())


def http_settings(
    *,
    max_retries: int | None,
    pool_maxsize: int | None,
    timeout: float | httpx.Timeout | None,
    transport: httpx.BaseTransport | httpx.AsyncBaseTransport | None,
    progress: bool | None = None,
) -> HTTPSettings:
    if timeout is None:
        chosen = default_timeout()
    elif isinstance(timeout, httpx.Timeout):
        chosen = timeout
    else:
        seconds = as_timeout("timeout", timeout)
        chosen = httpx.Timeout(seconds, connect=min(seconds, _defaults.CONNECT_TIMEOUT))
    for name, value in (("max_retries", max_retries), ("pool_maxsize", pool_maxsize)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise InvalidInputError(name, f"must be an integer, not {type(value).__name__}")
    session = get_session_defaults()  # set_session_defaults(); arguments given here win
    retries = session["max_retries"] if max_retries is None else max_retries
    return HTTPSettings(
        timeout=chosen,
        pool_maxsize=session["pool_maxsize"] if pool_maxsize is None else pool_maxsize,
        retry=RetryPolicy(
            max_retries=retries,
            backoff_initial=session["backoff_factor"],
            backoff_max=session["backoff_max"],
            read_statuses=frozenset(session["status_forcelist"]),
        ),
        transport=transport if isinstance(transport, httpx.BaseTransport) else None,
        async_transport=transport if isinstance(transport, httpx.AsyncBaseTransport) else None,
        progress=ProgressSwitch(progress),
    )
