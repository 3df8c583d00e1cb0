"""CAVEclient: one object holding a server address, a datastack and a token, handing out one
configured sub-client per service. Construction does no I/O; sub-clients are built on first access."""

from __future__ import annotations

import contextvars
import os
import threading
from collections.abc import Awaitable, Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from functools import cached_property
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, Self, TypeVar

import httpx

from ._core import display
from ._core.core import ClientCore, http_settings, version_argument
from ._core.datastack import DatastackRecord
from ._http.plan import Async, M, Plan, Sync
from ._http.progress import check_setting, progress_bar
from ._http.runtime import AsyncRuntime, SyncRuntime
from .errors import InvalidInputError

A = TypeVar("A")
S = TypeVar("S", bound="ServiceClient[Any]")
T = TypeVar("T")

if TYPE_CHECKING:
    from .services._base import ServiceClient
    from .services.annotation import AnnotationClient
    from .services.auth import AuthClient
    from .services.chunkedgraph import ChunkedGraphClient
    from .services.info import InfoServiceClient
    from .services.l2cache import L2CacheClient
    from .services.materialize import MaterializationClient
    from .services.schema import SchemaClient
    from .services.skeleton import SkeletonClient
    from .services.state import JSONService


def _version_timestamp(core: ClientCore, version: int) -> Plan[datetime]:
    """When a materialization version was made: what a pinned client's chunkedgraph calls use."""
    from .services.materialize import MaterializationClient

    materialize: MaterializationClient[Any] = MaterializationClient(core)
    return MaterializationClient.get_timestamp.plan(materialize, version)


_ATTACHING = threading.Lock()


def _concurrency(asked: int | None, pool_size: int) -> int:
    value = pool_size if asked is None else asked
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidInputError("concurrency", f"must be a positive integer, not {value!r}")
    return value


class _ClientBase(Generic[M]):
    """Sub-client access shared by CAVEclient and AsyncCAVEclient."""

    _core: ClientCore

    @property
    def datastack_name(self) -> str | None:
        """The datastack this client was created for (None for global services only).

        Makes no request.
        """
        return self._core.deployment.datastack_name

    @property
    def server_address(self) -> str:
        """The global server (auth, info, schema, state).

        The ``server_address`` argument, else the datastack's entry in the datastack map shared with
        caveclient, else the public default. Makes no request.
        """
        return self._core.deployment.global_server

    @property
    def progress(self) -> bool | None:
        """Whether long operations show progress bars: True, False, or None (automatic).

        Automatic means the ``CAVECLIENT_GEN_PROGRESS`` environment variable (``1``/``0``) if set, else
        bars only in Jupyter or on a terminal. Settable at any time.
        """
        return self._core.settings.progress.setting

    @progress.setter
    def progress(self, value: bool | None) -> None:
        self._core.settings.progress.setting = check_setting(value)

    @property
    def desired_resolution(self) -> Any:
        """The ``desired_resolution`` argument: ``[x, y, z]`` nm per unit for returned positions.

        None: each table's own resolution. Makes no request.
        """
        return self._core.desired_resolution

    @property
    def local_server(self) -> str:
        """The datastack's local server (materialize, chunkedgraph, …), from its info record.

        Fetched on first use and kept. On an AsyncCAVEclient, known once the record was fetched
        (`await client.info.get_datastack_info()`).
        """
        from .services.info import InfoServiceClient

        info: InfoServiceClient[Any] = self.info
        return info._now(InfoServiceClient.local_server.plan(info), "local_server")

    def _attach(self, sub_client: S) -> S:
        """The client's one sub-client of this kind: `sub_client`, unless another thread asking at
        the same moment attached its own first (functools.cached_property stopped locking in
        Python 3.12, and what one thread set on a second sub-client would be lost)."""
        with _ATTACHING:
            attached: dict[type[Any], Any] = self.__dict__.setdefault("_attached_sub_clients", {})
            kept: S = attached.setdefault(type(sub_client), sub_client)
            kept._fc = self
        return kept

    @cached_property
    def auth(self) -> AuthClient[M]:
        """The ``AuthClient`` of this client: tokens and the auth service (users, groups, your tokens).

        Built on first access; makes no request. Sync methods on CAVEclient, awaitable on
        AsyncCAVEclient.
        """
        from .services.auth import AuthClient

        return self._attach(AuthClient(self._core))

    @cached_property
    def info(self) -> InfoServiceClient[M]:
        """The ``InfoServiceClient`` of this client: the info service: datastacks, aligned volumes,
        servers and data sources.

        Built on first access; makes no request. Sync methods on CAVEclient, awaitable on
        AsyncCAVEclient.
        """
        from .services.info import InfoServiceClient

        return self._attach(InfoServiceClient(self._core))

    @cached_property
    def state(self) -> JSONService[M]:
        """The ``JSONService`` of this client: the JSON state service: Neuroglancer states and links.

        Built on first access; makes no request. Sync methods on CAVEclient, awaitable on
        AsyncCAVEclient.
        """
        from .services.state import JSONService

        return self._attach(JSONService(self._core))

    @cached_property
    def schema(self) -> SchemaClient[M]:
        """The ``SchemaClient`` of this client: the schema service: annotation schemas.

        Built on first access; makes no request. Sync methods on CAVEclient, awaitable on
        AsyncCAVEclient.
        """
        from .services.schema import SchemaClient

        return self._attach(SchemaClient(self._core))

    @cached_property
    def chunkedgraph(self) -> ChunkedGraphClient[M]:
        """The ``ChunkedGraphClient`` of this client: the chunkedgraph: root ids, leaves, edits and their
        history.

        Built on first access; makes no request. Sync methods on CAVEclient, awaitable on
        AsyncCAVEclient.
        """
        from .services.chunkedgraph import ChunkedGraphClient

        return self._attach(ChunkedGraphClient(self._core))

    @cached_property
    def materialize(self) -> MaterializationClient[M]:
        """The ``MaterializationClient`` of this client: materialization: versions, table and view
        queries, live queries.

        Built on first access; makes no request. Sync methods on CAVEclient, awaitable on
        AsyncCAVEclient.
        """
        from .services.materialize import MaterializationClient

        return self._attach(MaterializationClient(self._core))

    @cached_property
    def annotation(self) -> AnnotationClient[M]:
        """The ``AnnotationClient`` of this client: the annotation engine: create tables, write and read
        rows.

        Built on first access; makes no request. Sync methods on CAVEclient, awaitable on
        AsyncCAVEclient.
        """
        from .services.annotation import AnnotationClient

        return self._attach(AnnotationClient(self._core))

    @cached_property
    def l2cache(self) -> L2CacheClient[M]:
        """The ``L2CacheClient`` of this client: the level-2 cache: features of level-2 nodes.

        Built on first access; makes no request. Sync methods on CAVEclient, awaitable on
        AsyncCAVEclient.
        """
        from .services.l2cache import L2CacheClient

        return self._attach(L2CacheClient(self._core))

    @cached_property
    def skeleton(self) -> SkeletonClient[M]:
        """The ``SkeletonClient`` of this client: the skeleton service.

        Built on first access; makes no request. Sync methods on CAVEclient, awaitable on
        AsyncCAVEclient.
        """
        from .services.skeleton import SkeletonClient

        return self._attach(SkeletonClient(self._core))

    def _repr_html_(self) -> str:
        return display.as_html(type(self).__name__, display.summary(self._core))

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        display.pretty(printer, type(self).__name__, display.summary(self._core), cycle)

    def __repr__(self) -> str:
        server = self._core.deployment._explicit_server or "(resolved on first use)"
        return f"{type(self).__name__}<datastack_name={self.datastack_name!r}, server_address={server}>"


class CAVEclient(_ClientBase[Sync]):
    """A client of a CAVE deployment: ``client.info``, ``client.materialize``, ``client.skeleton``, ...

    Takes caveclient's parameters with caveclient's defaults, plus `timeout`, `transport` and `progress`.
    Nothing is read or fetched at construction: the token is looked up and the datastack's record fetched
    when the first request needs them. Use it as a context manager, or call ``close()``, to release the
    connection pool.

    Parameters
    ----------
    datastack_name : str, optional
        The datastack (e.g. ``"minnie65_public"``). Without one, only the global services (auth, info,
        schema, state) work.
    server_address : str, optional
        The global server (with ``https://``). Default: the datastack's entry in the datastack map shared
        with caveclient (``~/.cloudvolume/secrets/cave_datastack_to_server_map.json``), else the public
        server.
    auth_token_file : str or os.PathLike, optional
        A JSON file holding the token.
    auth_token_key : str, optional
        The token's key in that file (default ``"token"``).
    auth_token : str, optional
        The token itself. The token is looked up in this order: `auth_token`; `auth_token_file` under
        `auth_token_key`; the ``CAVE_TOKEN`` environment variable;
        ``~/.cloudvolume/secrets/<server>-cave-secret.json``;
        ``~/.cloudvolume/secrets/cave-secret.json``; the deprecated ``chunkedgraph-secret.json``.
    global_only : bool, default False
        Ignore `datastack_name`: a client of the global services only.
    max_retries : int, optional
        Retries after the first attempt of a request that may be retried (default 3).
    pool_maxsize : int, optional
        Connections kept open, shared by every sub-client (default 16).
    pool_block : bool, optional
        Accepted for caveclient compatibility and ignored: requests wait for a free connection up to the
        pool timeout.
    desired_resolution : sequence of float, optional
        ``[x, y, z]`` nm per unit for positions returned by materialization queries (default: each
        table's own).
    info_cache : dict, optional
        Datastack records already known (name -> record), so they are not fetched again.
    write_server_cache : bool, default True
        Record `server_address` as the datastack's server in the shared datastack map.
    version : int, optional
        Pin a materialization version: materialize calls use it and chunkedgraph calls default to its
        timestamp.
    timeout : float or httpx.Timeout, optional
        One limit in seconds for every phase (connect stays at most 5 s), or an ``httpx.Timeout`` per
        phase. Default: connect 5 s, read 300 s, write 60 s, pool 60 s.
    transport : httpx.BaseTransport, optional
        A transport to use instead of the network (tests: ``httpx.MockTransport``, LocalCAVE's
        ``InProcessTransport``).
    progress : bool, optional
        Show progress bars for long operations: True, False, or None to decide automatically (the
        ``CAVECLIENT_GEN_PROGRESS`` variable, else only in Jupyter or on a terminal).

    Raises
    ------
    InvalidInputError
        A malformed argument: a datastack name that is not a string, a server address without a scheme, a
        version that is not an integer, an unknown `progress` value.
    """

    def __init__(
        self,
        datastack_name: str | None = None,
        server_address: str | None = None,
        auth_token_file: str | os.PathLike[str] | None = None,
        auth_token_key: str | None = None,
        auth_token: str | None = None,
        global_only: bool = False,
        max_retries: int | None = None,
        pool_maxsize: int | None = None,
        pool_block: bool | None = None,
        desired_resolution: Any = None,
        info_cache: dict[str, DatastackRecord] | None = None,
        write_server_cache: bool = True,
        version: int | None = None,
        *,
        timeout: float | httpx.Timeout | None = None,
        transport: httpx.BaseTransport | None = None,
        progress: bool | None = None,
    ) -> None:
        del pool_block  # httpx waits for a free connection (up to the pool timeout) instead
        self._core = ClientCore(
            mode="sync",
            datastack_name=None if global_only else datastack_name,
            server_address=server_address,
            auth_token_file=auth_token_file,
            auth_token_key=auth_token_key,
            auth_token=auth_token,
            settings=http_settings(
                max_retries=max_retries,
                pool_maxsize=pool_maxsize,
                timeout=timeout,
                transport=transport,
                progress=progress,
            ),
            write_server_cache=write_server_cache,
            info_cache=info_cache,
            desired_resolution=desired_resolution,
            version=version,
            version_timestamp=_version_timestamp,
        )

    @property
    def version(self) -> int | None:
        """The materialization version this client is pinned to (None: the latest, at each call).

        Materialize calls use it by default, and chunkedgraph calls default to its timestamp. Setting it
        calls ``GET /materialize/api/v3/datastack/{datastack}/versions`` to check the number.
        """
        return self._core.version

    @version.setter
    def version(self, value: int | None) -> None:
        if value is not None:
            value = version_argument(value)
            if value not in self.materialize.get_versions(expired=True):
                raise InvalidInputError(
                    "version", f"{value} is not a materialization version of {self.datastack_name!r}"
                )
        self._core.pin(value)

    @property
    def timestamp(self) -> datetime | None:
        """The time of the pinned version (UTC), fetched on first use; None without a version.

        Calls ``GET /materialize/api/v3/datastack/{datastack}/version/{version}`` once.
        """
        runtime = self._core.runtime
        assert isinstance(runtime, SyncRuntime)
        return runtime.run(self._core.pinned_timestamp())

    def change_auth(
        self,
        auth_token_file: str | os.PathLike[str] | None = None,
        auth_token_key: str | None = None,
        auth_token: str | None = None,
    ) -> None:
        """Use another token from now on, looked up as at construction.

        Makes no request. Arguments left None keep their earlier value; a newly named file wins over an
        earlier token.

        Parameters
        ----------
        auth_token_file : str or os.PathLike, optional
            A JSON file holding the token.
        auth_token_key : str, optional
            The key of the token in that file (default ``"token"``).
        auth_token : str, optional
            The token itself.

        Returns
        -------
        None
        """
        arguments = self._core._token_arguments
        for name, value in (
            ("auth_token_file", auth_token_file),
            ("auth_token_key", auth_token_key),
            ("auth_token", auth_token),
        ):
            if value is not None:
                arguments[name] = value
        if auth_token_file is not None and auth_token is None:
            arguments["auth_token"] = None  # a newly named file wins over an earlier token
        self._core.forget_token()

    @staticmethod
    def setup_token(server_address: str, overwrite: bool = True, open: bool = True) -> str:
        """Interactive first-time setup: get a token from the server's page, check it, save it.

        Opens ``<server>/sticky_auth/settings/tokens``, asks for the token without echoing it, checks it
        with ``GET /info/api/v2/datastacks``, and saves it where caveclient and CloudVolume look. The
        shell command ``caveclient-gen setup-token`` does the same.

        Parameters
        ----------
        server_address : str
            The global server, e.g. ``https://global.daf-apis.com``.
        overwrite : bool, default True
            Replace a different token already saved.
        open : bool, default True
            Open the token page in a web browser.

        Returns
        -------
        str
            The file the token was saved in.

        Raises
        ------
        InvalidInputError
            The pasted text is not a token, or the server does not accept it.
        """
        from ._core.onboarding import setup_token

        return setup_token(
            server_address,
            connect=lambda token: CAVEclient(server_address=server_address, auth_token=token),
            overwrite=overwrite,
            open_browser=open,
        )

    def map(
        self,
        method: Callable[[A], T],
        items: Iterable[A],
        concurrency: int | None = None,
    ) -> list[T]:
        """``[method(item) for item in items]``, with up to `concurrency` calls in flight at once.

        Makes the requests `method` makes. For many small independent calls, e.g.
        ``client.map(client.chunkedgraph.get_root_id, supervoxel_ids)``: over a network each call mostly
        waits, so running them side by side over the shared pool cuts the total time by about the
        concurrency. Each call runs in a copy of the caller's context (``contextvars``), as on
        AsyncCAVEclient. A progress bar counts the calls when switched on.

        Parameters
        ----------
        method : callable
            A function of one argument, usually a bound client method.
        items : iterable
            The arguments, one call each.
        concurrency : int, optional
            Calls in flight at once (default: the pool size, ``pool_maxsize``).

        Returns
        -------
        list
            The results, in the order of `items`.

        Raises
        ------
        Exception
            The first failure of a call is raised; the calls not yet started are cancelled.
        InvalidInputError
            `concurrency` is not a positive integer.
        """
        workers = _concurrency(concurrency, self._core.settings.pool_maxsize)
        arguments = list(items)
        if len(arguments) <= 1 or workers == 1:
            return [method(argument) for argument in arguments]
        with (
            progress_bar(
                self._core.settings.progress, len(arguments), _name(method), unit="call"
            ) as advance,
            ThreadPoolExecutor(max_workers=workers, thread_name_prefix="caveclient_gen") as pool,
        ):
            # Each call sees the caller's context variables, as each call of AsyncCAVEclient.map
            # (a task) does: a fresh worker thread would start from an empty context.
            futures = [
                pool.submit(contextvars.copy_context().run, method, argument) for argument in arguments
            ]
            try:
                results = []
                for future in futures:
                    results.append(future.result())
                    advance(1)
                return results
            except BaseException:
                for future in futures:
                    future.cancel()
                raise

    def close(self) -> None:
        """Close every connection of this client (and of all its sub-clients). Makes no request."""
        self._core.session.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class AsyncCAVEclient(_ClientBase[Async]):
    """The asynchronous twin of CAVEclient: the same sub-clients and methods, awaitable.

    Takes the parameters of ``CAVEclient`` (without `pool_block`); `transport` is an
    ``httpx.AsyncBaseTransport``. Use ``async with AsyncCAVEclient(...) as client:`` or await
    ``aclose()``. Both clients run the same method bodies.
    """

    def __init__(
        self,
        datastack_name: str | None = None,
        server_address: str | None = None,
        auth_token_file: str | os.PathLike[str] | None = None,
        auth_token_key: str | None = None,
        auth_token: str | None = None,
        global_only: bool = False,
        max_retries: int | None = None,
        pool_maxsize: int | None = None,
        desired_resolution: Any = None,
        info_cache: dict[str, DatastackRecord] | None = None,
        write_server_cache: bool = True,
        version: int | None = None,
        *,
        timeout: float | httpx.Timeout | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        progress: bool | None = None,
    ) -> None:
        self._core = ClientCore(
            mode="async",
            datastack_name=None if global_only else datastack_name,
            server_address=server_address,
            auth_token_file=auth_token_file,
            auth_token_key=auth_token_key,
            auth_token=auth_token,
            settings=http_settings(
                max_retries=max_retries,
                pool_maxsize=pool_maxsize,
                timeout=timeout,
                transport=transport,
                progress=progress,
            ),
            write_server_cache=write_server_cache,
            info_cache=info_cache,
            desired_resolution=desired_resolution,
            version=version,
            version_timestamp=_version_timestamp,
        )

    async def map(
        self,
        method: Callable[[A], Awaitable[T]],
        items: Iterable[A],
        concurrency: int | None = None,
    ) -> list[T]:
        """``[await method(item) for item in items]``, with up to `concurrency` calls in flight.

        Makes the requests `method` makes. A progress bar counts the calls when switched on.

        Parameters
        ----------
        method : callable
            An async function of one argument, usually a bound method of an AsyncCAVEclient sub-client.
        items : iterable
            The arguments, one call each.
        concurrency : int, optional
            Calls in flight at once (default: the pool size, ``pool_maxsize``).

        Returns
        -------
        list
            The results, in the order of `items`.

        Raises
        ------
        Exception
            The first failure of a call is raised; the other calls are cancelled.
        InvalidInputError
            `concurrency` is not a positive integer.
        """
        import asyncio

        limit = asyncio.Semaphore(_concurrency(concurrency, self._core.settings.pool_maxsize))

        arguments = list(items)
        with progress_bar(
            self._core.settings.progress, len(arguments), _name(method), unit="call"
        ) as advance:

            async def bounded(argument: A) -> T:
                async with limit:
                    result = await method(argument)
                advance(1)
                return result

            tasks = [asyncio.ensure_future(bounded(argument)) for argument in arguments]
            try:
                return list(await asyncio.gather(*tasks))
            except BaseException:
                for task in tasks:
                    task.cancel()
                raise

    async def aclose(self) -> None:
        """Close every connection of this client (await it, or use ``async with``). Makes no request."""
        runtime = self._core.runtime
        if isinstance(runtime, AsyncRuntime):
            await runtime.abandon()
        await self._core.session.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()


def _name(method: Callable[..., Any]) -> str:
    """How a progress bar of client.map names the calls it counts."""
    return str(getattr(method, "__name__", "calls"))
