"""CAVEclient: one object holding a server address, a datastack and a token, handing out one
configured sub-client per service. Construction does no I/O; sub-clients are built on first access."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from functools import cached_property
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, Self, TypeVar

import httpx

from ._core.core import ClientCore, http_settings, version_argument
from ._core.datastack import DatastackRecord
from ._http.plan import Async, M, Plan, Sync
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
        return self._core.deployment.datastack_name

    @property
    def server_address(self) -> str:
        """The global server (auth, info, schema, state)."""
        return self._core.deployment.global_server

    @property
    def desired_resolution(self) -> Any:
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
        sub_client._fc = self
        return sub_client

    @cached_property
    def auth(self) -> AuthClient[M]:
        from .services.auth import AuthClient

        return self._attach(AuthClient(self._core))

    @cached_property
    def info(self) -> InfoServiceClient[M]:
        from .services.info import InfoServiceClient

        return self._attach(InfoServiceClient(self._core))

    @cached_property
    def state(self) -> JSONService[M]:
        from .services.state import JSONService

        return self._attach(JSONService(self._core))

    @cached_property
    def schema(self) -> SchemaClient[M]:
        from .services.schema import SchemaClient

        return self._attach(SchemaClient(self._core))

    @cached_property
    def chunkedgraph(self) -> ChunkedGraphClient[M]:
        from .services.chunkedgraph import ChunkedGraphClient

        return self._attach(ChunkedGraphClient(self._core))

    @cached_property
    def materialize(self) -> MaterializationClient[M]:
        from .services.materialize import MaterializationClient

        return self._attach(MaterializationClient(self._core))

    @cached_property
    def annotation(self) -> AnnotationClient[M]:
        from .services.annotation import AnnotationClient

        return self._attach(AnnotationClient(self._core))

    @cached_property
    def l2cache(self) -> L2CacheClient[M]:
        from .services.l2cache import L2CacheClient

        return self._attach(L2CacheClient(self._core))

    @cached_property
    def skeleton(self) -> SkeletonClient[M]:
        from .services.skeleton import SkeletonClient

        return self._attach(SkeletonClient(self._core))

    def __repr__(self) -> str:
        server = self._core.deployment._explicit_server or "(resolved on first use)"
        return f"{type(self).__name__}<datastack_name={self.datastack_name!r}, server_address={server}>"


class CAVEclient(_ClientBase[Sync]):
    """A client of a CAVE deployment: `client.info`, `client.materialize`, `client.chunkedgraph`, …

    Takes caveclient's parameters with caveclient's defaults, plus `timeout` (seconds, or an
    httpx.Timeout) and `transport` (an httpx transport to use instead of the network). Nothing is
    read or fetched at construction: the token is looked up and the datastack's record fetched when
    the first request needs them. Use it as a context manager, or call close(), to release the
    connection pool.

    The token is looked up in this order: `auth_token`; `auth_token_file` under `auth_token_key`;
    the CAVE_TOKEN environment variable; `~/.cloudvolume/secrets/<server>-cave-secret.json`;
    `~/.cloudvolume/secrets/cave-secret.json`; the deprecated `chunkedgraph-secret.json`.
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

        Materialize calls use it by default, and chunkedgraph calls default to its timestamp.
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
        self._core.version = value
        self._core.timestamp = None

    @property
    def timestamp(self) -> datetime | None:
        """The time of the pinned version (UTC), fetched on first use; None without a version."""
        runtime = self._core.runtime
        assert isinstance(runtime, SyncRuntime)
        return runtime.run(self._core.pinned_timestamp())

    def change_auth(
        self,
        auth_token_file: str | os.PathLike[str] | None = None,
        auth_token_key: str | None = None,
        auth_token: str | None = None,
    ) -> None:
        """Use another token from now on, found as at construction (unset arguments keep theirs)."""
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
        """Interactive first-time setup: get a token from the server's token page, check it, save it.

        Asks for the token without echoing it, checks it against the server, and stores it in the
        files caveclient and CloudVolume read. Returns where it was saved.
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
        """`[method(item) for item in items]`, with up to `concurrency` calls in flight at once.

        For many small independent calls, e.g. `client.map(client.chunkedgraph.get_root_id,
        supervoxel_ids)`: over a network each call mostly waits, so running them side by side over
        the shared pool cuts the total time by about the concurrency. Results keep the order of
        `items`; the first failure is raised and the calls not yet started are cancelled.
        Default concurrency: the pool size (`pool_maxsize`).
        """
        workers = _concurrency(concurrency, self._core.settings.pool_maxsize)
        arguments = list(items)
        if len(arguments) <= 1 or workers == 1:
            return [method(argument) for argument in arguments]
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="caveclient_gen") as pool:
            futures = [pool.submit(method, argument) for argument in arguments]
            try:
                return [future.result() for future in futures]
            except BaseException:
                for future in futures:
                    future.cancel()
                raise

    def close(self) -> None:
        """Close every connection of this client (and of all its sub-clients)."""
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
    """The asynchronous twin of CAVEclient: the same sub-clients and methods, awaitable."""

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
        """`[await method(item) for item in items]`, with up to `concurrency` calls in flight.

        Results keep the order of `items`; the first failure is raised and the other calls are
        cancelled. Default concurrency: the pool size (`pool_maxsize`).
        """
        import asyncio

        limit = asyncio.Semaphore(_concurrency(concurrency, self._core.settings.pool_maxsize))

        async def bounded(argument: A) -> T:
            async with limit:
                return await method(argument)

        tasks = [asyncio.ensure_future(bounded(argument)) for argument in items]
        try:
            return list(await asyncio.gather(*tasks))
        except BaseException:
            for task in tasks:
                task.cancel()
            raise

    async def aclose(self) -> None:
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
