"""Sending a generated operation's JSON body as bytes encoded here, not by httpx.

httpx encodes `json=` bodies strictly (no NaN or Infinity, no lone surrogates), while the JSON state
service stores whatever Python's `json` module reads, and caveclient sends states encoded by
`json.dumps` with its defaults. For those operations the generated function still builds the
request (method, path, query, headers) and parses the answer; only its body is replaced by the
bytes given.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any, Protocol


class _GeneratedClient(Protocol):
    def get_httpx_client(self) -> Any: ...

    def get_async_httpx_client(self) -> Any: ...


def _request(
    operation: ModuleType, content: bytes, placeholder: Any, *path: Any, **arguments: Any
) -> dict[str, Any]:
    kwargs: dict[str, Any] = operation._get_kwargs(*path, body=placeholder, **arguments)
    kwargs.pop("json", None)
    kwargs["content"] = content
    return kwargs


def send_encoded(
    operation: ModuleType,
    content: bytes,
    placeholder: Any,
    *path: Any,
    client: _GeneratedClient,
    **arguments: Any,
) -> Any:
    """Run a generated operation (a module with `_get_kwargs`/`_build_response`) with `content`
    as its body; `placeholder` is any body model, used only to build the request's other parts."""
    request = _request(operation, content, placeholder, *path, **arguments)
    response = client.get_httpx_client().request(**request)
    return operation._build_response(client=client, response=response)


async def send_encoded_async(
    operation: ModuleType,
    content: bytes,
    placeholder: Any,
    *path: Any,
    client: _GeneratedClient,
    **arguments: Any,
) -> Any:
    """The async twin of `send_encoded`."""
    request = _request(operation, content, placeholder, *path, **arguments)
    response = await client.get_async_httpx_client().request(**request)
    return operation._build_response(client=client, response=response)
