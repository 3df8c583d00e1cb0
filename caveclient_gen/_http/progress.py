"""Progress bars for long operations, with one switch.

Bars come from ``tqdm.auto``: a widget in Jupyter, text on a terminal. Whether they show is decided,
in order, by the client's ``progress`` argument (True or False), the ``CAVECLIENT_GEN_PROGRESS``
environment variable (``1``/``true``/``on`` or ``0``/``false``/``off``), and otherwise by whether the
session is interactive: a Jupyter kernel, or standard error on a terminal. Scripts, pipelines and
test runs therefore stay quiet unless asked. Work shorter than a few steps never gets a bar.
"""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from .. import _defaults

TRUE = frozenset({"1", "true", "yes", "on"})
FALSE = frozenset({"0", "false", "no", "off"})


def check_setting(value: object) -> bool | None:
    """The client's ``progress`` argument: True, False or None (decide automatically)."""
    if value is None or isinstance(value, bool):
        return value
    from ..errors import InvalidInputError

    raise InvalidInputError("progress", f"must be True, False or None, not {value!r}")


def in_notebook() -> bool:
    """Whether this runs in a Jupyter kernel (where tqdm.auto draws a widget)."""
    shell_module = sys.modules.get("IPython")
    if shell_module is None or "ipykernel" not in sys.modules:
        return False
    try:
        shell = shell_module.get_ipython()
    except AttributeError:
        return False
    return shell is not None and hasattr(shell, "kernel")


def interactive() -> bool:
    """A person is watching: a Jupyter kernel, or standard error on a terminal."""
    if in_notebook():
        return True
    stream = sys.stderr
    try:
        return stream is not None and stream.isatty()
    except (AttributeError, ValueError):
        return False


class ProgressSwitch:
    """The one switch of a client's progress bars (``client.progress``)."""

    def __init__(self, setting: bool | None = None) -> None:
        self.setting = check_setting(setting)

    def enabled(self) -> bool:
        """Whether bars show now: the argument, else the environment variable, else interactivity."""
        if self.setting is not None:
            return self.setting
        chosen = os.environ.get(_defaults.PROGRESS_ENVIRONMENT_VARIABLE, "").strip().lower()
        if chosen in TRUE:
            return True
        if chosen in FALSE:
            return False
        return interactive()

    def __repr__(self) -> str:
        return f"ProgressSwitch({self.setting!r})"


@contextmanager
def progress_bar(
    switch: ProgressSwitch | None,
    total: int | None,
    description: str,
    *,
    unit: str = "chunk",
    minimum: int = _defaults.PROGRESS_MINIMUM,
    unit_scale: bool = False,
) -> Iterator[Callable[[int], Any]]:
    """A bar advanced by calling what this yields (with the number of units done); a no-op when
    the switch is off, there is no description, or ``total`` is below ``minimum``."""
    bar: Any = None
    long_enough = total is None or total >= minimum
    if switch is not None and description and long_enough and switch.enabled():
        from tqdm.auto import tqdm

        bar = tqdm(total=total, desc=description, unit=unit, unit_scale=unit_scale, leave=False)
    try:
        yield (bar.update if bar is not None else _nothing)
    finally:
        if bar is not None:
            bar.close()


def _nothing(*_: Any) -> None:
    return None


class _Download:
    """Counts the bytes of one response body; a bar appears once the body proves large."""

    def __init__(self, switch: ProgressSwitch, total: int | None, description: str) -> None:
        self._switch = switch
        self._total = total
        self._description = description
        self._received = 0
        self._bar: Any = None
        self._decided = False

    def advance(self, count: int) -> None:
        self._received += count
        if self._bar is not None:
            self._bar.update(count)
            return
        if self._decided or self._received < _defaults.PROGRESS_DOWNLOAD_MINIMUM:
            return
        self._decided = True
        if not self._switch.enabled():
            return
        from tqdm.auto import tqdm

        self._bar = tqdm(
            total=self._total,
            initial=self._received,
            desc=self._description,
            unit="B",
            unit_scale=True,
            unit_divisor=1024,
            leave=False,
        )

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


class _SyncCounting(httpx.SyncByteStream):
    def __init__(self, stream: Any, download: _Download) -> None:
        self._stream = stream
        self._download = download

    def __iter__(self) -> Iterator[bytes]:
        try:
            for chunk in self._stream:
                self._download.advance(len(chunk))
                yield chunk
        finally:
            self._download.close()

    def close(self) -> None:
        self._download.close()
        self._stream.close()


class _AsyncCounting(httpx.AsyncByteStream):
    def __init__(self, stream: Any, download: _Download) -> None:
        self._stream = stream
        self._download = download

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._stream:
                self._download.advance(len(chunk))
                yield chunk
        finally:
            self._download.close()

    async def aclose(self) -> None:
        self._download.close()
        await self._stream.aclose()


def watch_download(response: httpx.Response, switch: ProgressSwitch, *, asynchronous: bool) -> None:
    """Let a successful response's body drive a bar if it turns out large (big query answers)."""
    if switch.setting is False:
        return
    length = response.headers.get("content-length")
    total = int(length) if length and length.isdigit() else None
    if total is not None and total < _defaults.PROGRESS_DOWNLOAD_MINIMUM:
        return
    path = response.request.url.path.rstrip("/")
    description = (
        f"receiving {path.rsplit('/', 2)[-2] if path.endswith('/query') else path.rsplit('/', 1)[-1]}"
    )
    download = _Download(switch, total, description)
    stream = response.stream
    if asynchronous and isinstance(stream, httpx.AsyncByteStream):
        response.stream = _AsyncCounting(stream, download)
    elif not asynchronous and isinstance(stream, httpx.SyncByteStream):
        response.stream = _SyncCounting(stream, download)
