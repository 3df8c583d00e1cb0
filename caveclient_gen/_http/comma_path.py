"""Sending a generated operation whose last path segment is a comma-separated id list, with the
commas as they are.

The generated functions percent-encode every path parameter, so ``1,2`` goes out as ``1%2C2``.
Servers decode both the same way, but caveclient sends the commas unencoded, and tests that mock
HTTP by exact URL (`responses`) are written against that. For those operations the generated
function still builds the request and parses the answer; only the last segment is put back
unencoded. It must hold nothing but digits and commas.
"""

from __future__ import annotations

import re
from types import ModuleType
from typing import Any, Protocol

_ID_LIST = re.compile(r"[0-9]+(,[0-9]+)*")


class _GeneratedClient(Protocol):
    def get_httpx_client(self) -> Any: ...

    def get_async_httpx_client(self) -> Any: ...


def _request(operation: ModuleType, path: tuple[Any, ...], arguments: dict[str, Any]) -> dict[str, Any]:
    ids = str(path[-1])
    if not _ID_LIST.fullmatch(ids):
        raise ValueError(f"expected a comma-separated list of ids, got {ids!r}")
    kwargs: dict[str, Any] = operation._get_kwargs(*path, **arguments)
    head, _, _ = kwargs["url"].rpartition("/")
    kwargs["url"] = f"{head}/{ids}"
    return kwargs


def send_id_list(operation: ModuleType, *path: Any, client: _GeneratedClient, **arguments: Any) -> Any:
    """Run a generated operation (a module with `_get_kwargs`/`_build_response`) whose last path
    parameter is a comma-separated id list, sending the commas unencoded."""
    request = _request(operation, path, arguments)
    response = client.get_httpx_client().request(**request)
    return operation._build_response(client=client, response=response)


async def send_id_list_async(
    operation: ModuleType, *path: Any, client: _GeneratedClient, **arguments: Any
) -> Any:
    """The async twin of `send_id_list`."""
    request = _request(operation, path, arguments)
    response = await client.get_async_httpx_client().request(**request)
    return operation._build_response(client=client, response=response)
