"""LocalCAVE: every CAVE service on 127.0.0.1, faithful to the real servers, for offline work.

Public API:

- :class:`LocalCAVE` — start with ``with LocalCAVE() as cave:``; ``cave.url``, ``cave.datastack``,
  ``cave.token`` (superadmin), ``cave.tokens`` / ``cave.token_for(name)`` / ``cave.add_user(...)``,
  ``cave.app`` (the ASGI app) and ``cave.deployment`` (the shared in-memory world).
- :class:`LocalUser` — a configurable user (permissions per auth dataset, groups, Terms of Service).
- :func:`serve` — run one in the foreground until Ctrl-C.
- :class:`InProcessTransport` — an httpx transport that calls ``cave.app`` without a socket.
- :func:`CAVEclientMock` — caveclient's test helper, same signature, returning this package's
  client (defined in :mod:`caveclient_gen.mock`, imported on first use: LocalCAVE itself shares no
  code with the client).

For service authors: :class:`Deployment` (the world), :class:`AuthGuard` and :class:`Caller` (the
middle_auth checks), and one subpackage per service (``auth``, ``info``, ``schema``, ``state``,
``chunkedgraph``, ``materialize``, ``annotation``, ``l2cache``, ``skeleton``), each holding the
service's data model and its ``routes`` module. The shared pieces sit beside them: ``server`` (the
ASGI app and its mount table :mod:`caveclient_gen.testing.server.mounts`, middleware, wire
encodings, the in-process transport, :class:`LocalCAVE` and :func:`serve`) and ``world`` (the
deployment, seeded random streams and the default world).
"""

from typing import Any

from .auth.guard import AuthGuard, Caller
from .auth.identity import LocalUser
from .server.in_process import InProcessTransport
from .server.localcave import LocalCAVE
from .server.serve import serve
from .world.deployment import AlignedVolume, Datastack, Deployment, ImageSource

__all__ = [
    "AlignedVolume",
    "AuthGuard",
    "CAVEclientMock",
    "Caller",
    "Datastack",
    "Deployment",
    "ImageSource",
    "InProcessTransport",
    "LocalCAVE",
    "LocalUser",
    "serve",
]


def __getattr__(name: str) -> Any:
    """`CAVEclientMock` is the client layer's: loaded on first use, so LocalCAVE never loads it."""
    if name == "CAVEclientMock":
        from ..mock import CAVEclientMock

        return CAVEclientMock
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
