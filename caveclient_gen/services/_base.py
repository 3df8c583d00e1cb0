"""What every sub-client holds: the runtime, the session and the deployment of its client, and
the public attributes caveclient's sub-clients have (`server_address`, `server_version`, …).

Those attributes make no request at construction: the global server is known without one, a
datastack's local server is looked up (and cached) on first use, and `server_version` is fetched
on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import httpx

from .._convert.versions import ServerVersion, parse_version
from .._core import display
from .._http.parse import parsed
from .._http.plan import M, Plan, SubClient, fetch, read
from .._http.runtime import SyncRuntime
from .._http.single_flight import MISSING, Flights, Missing
from ..errors import (
    NeedsRequestError,
    NotFoundError,
    ServerIncompatibilityError,
    UnexpectedResponseError,
)

if TYPE_CHECKING:
    from .._core.core import ClientCore

T = TypeVar("T")


class ServiceClient(SubClient[M]):
    """A sub-client bound to one client's connections, token and datastack."""

    _SERVER_KEY: ClassVar[str] = "server_address"
    """caveclient's name of this service's address in `default_url_mapping`."""
    _API_VERSION: ClassVar[int] = 1
    """The version of the service's API that this client speaks (what caveclient's `api_version` is)."""
    _LOCAL: ClassVar[bool] = False
    """True: served by the datastack's local server; False: by the global server."""
    _TABLE_ID_IN_MAPPING: ClassVar[bool] = False
    """True: `default_url_mapping` holds the chunkedgraph table id (as caveclient's does)."""
    _VERSION_ROUTE: ClassVar[tuple[str, str] | None] = None
    """(generated package, module under its `api`) of the version route caveclient asks; None: caveclient
    asks none, and `server_version` is None, as there."""

    def __init__(self, core: ClientCore) -> None:
        super().__init__(core.runtime)
        self._core = core
        self._session = core.session
        self._deployment = core.deployment
        self._fc: Any = None
        self._server_version: ServerVersion | None = None
        self._server_version_known = False
        self._flights = Flights()
        """Lazily fetched values of this sub-client, fetched by one thread at a time."""

    def __repr__(self) -> str:
        datastack = self._deployment.datastack_name
        return f"{type(self).__name__}(datastack_name={datastack!r})"

    def _display_title(self) -> str:
        mode = "async " if type(self._runtime).__name__ == "AsyncRuntime" else ""
        return f"{type(self).__name__} ({mode}sub-client)"

    def _repr_html_(self) -> str:
        return display.as_html(self._display_title(), display.summary(self._core))

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        display.pretty(printer, self._display_title(), display.summary(self._core), cycle)

    # ------------------------------------------------------------ caveclient's public attributes

    @property
    def fc(self) -> Any:
        """The client (CAVEclient or AsyncCAVEclient) this sub-client belongs to; None if built alone."""
        return self._fc

    @property
    def verify(self) -> bool:
        """Whether TLS certificates are verified: always True."""
        return True

    @property
    def api_version(self) -> int:
        """The version of the service's API this sub-client speaks."""
        return self._API_VERSION

    @property
    def server_address(self) -> str:
        """The server of this service: the global server, or the datastack's local server.

        The local server comes from the datastack's info record, fetched (once) on first use.
        """
        return self._now(self._server_plan(), "server_address")

    @property
    def default_url_mapping(self) -> dict[str, str]:
        """caveclient's URL template values for this service (server address, table id, …); a copy."""
        mapping = {self._SERVER_KEY: self.server_address}
        if self._TABLE_ID_IN_MAPPING:
            mapping["table_id"] = self._now(self._deployment.segmentation_table(), "table_id")
        return mapping

    @property
    def server_version(self) -> ServerVersion | None:
        """The version of the software the service runs, fetched on first use (then kept).

        None when the service has no version route (or caveclient asks none). A ServerVersion
        compares with strings, tuples and `packaging.version.Version`.
        """
        return self._now(self._cached_server_version(), "server_version")

    @property
    def session(self) -> httpx.Client | httpx.AsyncClient:
        """The httpx client of this service's server, with the token: for requests of your own.

        caveclient's was a `requests.Session`; httpx's `get`/`post` take the same arguments.
        """
        server = self.server_address
        if self._session.mode == "sync":
            return self._session.http_client(server)
        return self._session.async_http_client(server)

    # ------------------------------------------------------------ helpers

    def _server_plan(self) -> Plan[str]:
        if self._LOCAL:
            return (yield from self._deployment.local_server())
        return self._deployment.global_server

    def _cached_server_version(self) -> Plan[ServerVersion | None]:
        """The server's version, asked once per sub-client (as `server_version`), then kept."""

        def stored() -> ServerVersion | Missing | None:
            return self._server_version if self._server_version_known else MISSING

        def fill() -> Plan[ServerVersion | None]:
            version = yield from self._server_version_plan()
            self._server_version = version
            self._server_version_known = True  # after the version: readers check this first
            return version

        return (yield from self._flights.once("server_version", stored, fill))

    def _require_server_version(
        self, feature: str, *spans: tuple[tuple[int, ...], tuple[int, ...] | None]
    ) -> Plan[None]:
        """Refuse `feature`, before its request, on a server whose version is in none of `spans`
        ([lowest, below) release ranges; None: no upper end).

        A server that reports no version is not refused: its answer (or the check after it) decides.
        """
        version = yield from self._cached_server_version()
        if version is None:
            return
        if any(version >= low and (high is None or version < high) for low, high in spans):
            return

        def span_text(low: tuple[int, ...], high: tuple[int, ...] | None) -> str:
            start = ".".join(map(str, low))
            return (
                f"{start} or later" if high is None else f"{start} to below {'.'.join(map(str, high))}"
            )

        needed = ", or ".join(span_text(low, high) for low, high in spans)
        raise ServerIncompatibilityError(
            f"{feature} needs a {type(self).__name__} server version {needed}; "
            f"this one runs {version.text}: ask the administrators to update it"
        )

    def _server_version_plan(self) -> Plan[ServerVersion | None]:
        if self._VERSION_ROUTE is None:
            return None
        package, module = self._VERSION_ROUTE
        server = yield from self._server_plan()
        client_class = importlib.import_module(f"caveclient_gen_api.{package}.client").Client
        route = importlib.import_module(f"caveclient_gen_api.{package}.api.{module}")
        api = self._session.api(client_class, server)
        try:
            response = yield from fetch(read(route.sync_detailed, route.asyncio_detailed, client=api))
        except NotFoundError:
            return None  # a server older than its version route
        text = parsed(response, str)
        version = parse_version(text)
        if version is None:
            raise UnexpectedResponseError(
                f"{type(self).__name__}: the server reported the version {text!r}"
            )
        return version

    def _now(self, plan: Plan[T], attribute: str) -> T:
        """The plan's result now: run by a sync client; an async client answers only from what is
        already known (an attribute cannot be awaited)."""
        runtime = self._core.runtime
        if isinstance(runtime, SyncRuntime):
            return runtime.run(plan)
        try:
            next(plan)
        except StopIteration as finished:
            return finished.value  # type: ignore[no-any-return]
        plan.close()
        raise NeedsRequestError(
            f"{attribute} of an async client is known only once the request it needs was made: "
            "await client.info.get_datastack_info() first for server addresses and table ids; "
            "server_version needs a sync CAVEclient"
        )
