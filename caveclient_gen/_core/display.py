"""What a client, a sub-client or a table manager shows in Jupyter and IPython.

A short summary: datastack, servers, materialization version and where the token comes from (never
the token). Building it makes no request and writes nothing; the token files may be read to say
which one would be used.
"""

from __future__ import annotations

import html
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..errors import CAVEError
from .tokens import find_token

if TYPE_CHECKING:
    from .core import ClientCore

Rows = Sequence[tuple[str, str]]


def summary(core: ClientCore, version: int | None = None) -> list[tuple[str, str]]:
    """The rows describing a client: datastack, servers, version, token source."""
    deployment = core.deployment
    server = deployment.peek_global_server()
    rows = [("datastack", deployment.datastack_name or "(none: global services only)")]
    rows.append(("server", server))
    record = deployment.stored_record()
    local = record.get("local_server") if record else None
    if isinstance(local, str) and local:
        rows.append(("local server", local))
    shown = version if version is not None else core.version
    rows.append(("version", str(shown) if shown is not None else "latest (the client is not pinned)"))
    rows.append(("token", token_description(core, server)))
    return rows


def token_description(core: ClientCore, server: str) -> str:
    """Where the token comes from; looked up now if no request has needed it yet."""
    known = core._token_source
    if known is None:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                known = find_token(server, **core._token_arguments)
        except CAVEError as unreadable:
            return f"unreadable ({unreadable})"
    if known.token is None:
        return "none found (caveclient-gen setup-token creates one)"
    return f"from {known.description}"


def as_html(title: str, rows: Rows, more: str = "") -> str:
    cells = "".join(
        f"<tr><th style='text-align:left'>{html.escape(key)}</th>"
        f"<td style='text-align:left'>{html.escape(value)}</td></tr>"
        for key, value in rows
    )
    return f"<div><strong>{html.escape(title)}</strong><table>{cells}</table>{more}</div>"


def as_text(title: str, rows: Rows) -> str:
    width = max((len(key) for key, _ in rows), default=0)
    lines = [title, *(f"  {key.ljust(width)}  {value}" for key, value in rows)]
    return "\n".join(lines)


def pretty(printer: Any, title: str, rows: Rows, cycle: bool) -> None:
    """IPython's pretty printer protocol (`_repr_pretty_`)."""
    printer.text(title if cycle else as_text(title, rows))
