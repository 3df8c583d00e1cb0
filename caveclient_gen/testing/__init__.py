"""LocalCAVE: every CAVE service on 127.0.0.1, faithful to the real servers, for offline work.

Public API:

- :class:`LocalCAVE` — start with ``with LocalCAVE() as cave:``; ``cave.url``, ``cave.datastack``,
  ``cave.token`` (superadmin), ``cave.tokens`` / ``cave.token_for(name)`` / ``cave.add_user(...)``,
  ``cave.app`` (the ASGI app) and ``cave.deployment`` (the shared in-memory world).
- :class:`LocalUser` — a configurable user (permissions per auth dataset, groups, Terms of Service).
- :func:`serve` — run one in the foreground until Ctrl-C.
- :class:`InProcessTransport` — an httpx transport that calls ``cave.app`` without a socket.

For service authors: :class:`Deployment` (the world), :class:`AuthGuard` and :class:`Caller` (the
middle_auth checks), and :mod:`caveclient_gen.testing.services` (one router per service).
"""

from ._deployment import AlignedVolume, Datastack, Deployment, ImageSource
from ._in_process import InProcessTransport
from ._localcave import LocalCAVE
from ._serve import serve
from .auth.guard import AuthGuard, Caller
from .auth.identity import LocalUser

__all__ = [
    "AlignedVolume",
    "AuthGuard",
    "Caller",
    "Datastack",
    "Deployment",
    "ImageSource",
    "InProcessTransport",
    "LocalCAVE",
    "LocalUser",
    "serve",
]
