"""Where LocalCAVE's services are mounted: each service's router at the service's real URL prefix.

Each service subpackage of ``caveclient_gen.testing`` has a ``routes`` module exposing ``PREFIX``
and ``create_router(deployment, guard) -> starlette.routing.Router`` whose routes are relative to
its prefix, and is listed in :data:`SERVICE_MOUNTS`. Endpoints read and
change the shared :class:`~caveclient_gen.testing.Deployment` and protect themselves with the
:class:`~caveclient_gen.testing.AuthGuard` decorators.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from starlette.routing import Router

from ..annotation import routes as annotation
from ..auth import routes as auth
from ..auth.guard import AuthGuard
from ..chunkedgraph import routes as chunkedgraph
from ..info import routes as info
from ..l2cache import routes as l2cache
from ..materialize import routes as materialize
from ..schema import routes as schema
from ..skeleton import routes as skeleton
from ..state import routes as state
from ..world.deployment import Deployment

RouterFactory = Callable[[Deployment, AuthGuard], Router]


@dataclass(frozen=True)
class ServiceMount:
    prefix: str
    create_router: RouterFactory


SERVICE_MOUNTS: tuple[ServiceMount, ...] = (
    ServiceMount(auth.PREFIX, auth.create_router),
    ServiceMount(auth.STICKY_PREFIX, auth.create_router),
    ServiceMount(info.PREFIX, info.create_router),
    ServiceMount(schema.PREFIX, schema.create_router),
    ServiceMount(state.PREFIX, state.create_router),
    ServiceMount(materialize.PREFIX, materialize.create_router),
    ServiceMount(annotation.PREFIX, annotation.create_router),
    ServiceMount(chunkedgraph.PREFIX, chunkedgraph.create_router),
    ServiceMount(chunkedgraph.MESHING_PREFIX, chunkedgraph.create_meshing_router),
    ServiceMount(l2cache.PREFIX, l2cache.create_router),
    ServiceMount(skeleton.PREFIX, skeleton.create_router),
)
