"""What every sub-client holds: the runtime, the session and the deployment of its client."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._core import display
from .._http.plan import M, SubClient

if TYPE_CHECKING:
    from .._core.core import ClientCore


class ServiceClient(SubClient[M]):
    """A sub-client bound to one client's connections, token and datastack."""

    def __init__(self, core: ClientCore) -> None:
        super().__init__(core.runtime)
        self._core = core
        self._session = core.session
        self._deployment = core.deployment

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
