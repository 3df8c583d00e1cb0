"""The deployment: one in-memory world that every LocalCAVE service reads and writes.

Services never keep data of their own; they are views over this object. A service that needs
state the core does not model adds it as a *component* (``deployment.component(Factory)``): one
instance per deployment, created on first use, seeded from ``deployment.stream(...)``.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

from ..auth.identity import IdentityStore, LocalUser, UserAccount
from ..auth.tokens import TokenStore
from ..state.store import StateStore
from .seeding import seeded_stream

ComponentT = TypeVar("ComponentT")


@dataclass(frozen=True)
class AlignedVolume:
    id: int
    name: str
    display_name: str | None
    description: str | None
    image_source: str


@dataclass(frozen=True)
class ImageSource:
    """An image mirror of an aligned volume."""

    id: int
    name: str
    viewer_layer_name: str | None
    image_source: str
    description: str | None
    aligned_volume: str


@dataclass(frozen=True)
class Datastack:
    id: int
    name: str
    display_name: str | None
    viewer_layer_name: str | None
    aligned_volume: str
    pcg_table: str
    segmentation_source: str | None
    skeleton_source: str | None
    analysis_database: str | None
    viewer_site: str | None
    synapse_table: str | None
    soma_table: str | None
    proofreading_status_table: str | None
    cell_identification_table: str | None
    proofreading_review_table: str | None
    local_server: str
    description: str | None
    viewer_resolution: tuple[float, float, float] | None
    base_link_id: int | None


def utc_now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


class Deployment:
    """Everything a LocalCAVE knows; built by ``world.default.build_deployment``."""

    def __init__(
        self,
        *,
        seed: int,
        base_url: str,
        default_datastack: str,
        restricted_datastack: str,
        latency: float = 0.0,
    ) -> None:
        self.seed = seed
        self.base_url = base_url
        self.default_datastack = default_datastack
        self.restricted_datastack = restricted_datastack
        # Read on every request, so it can be changed while the server runs.
        self.latency = latency
        self.aligned_volumes: dict[str, AlignedVolume] = {}
        self.image_sources: list[ImageSource] = []
        self.datastacks: dict[str, Datastack] = {}
        self.identity = IdentityStore()
        self.tokens = TokenStore(self.stream("auth-tokens"), utc_now)
        self.states = StateStore(self.stream("nglstate-ids"))
        self._components: dict[Callable[[Deployment], Any], Any] = {}
        self._lock = threading.RLock()
        # What clients asked for, in order: tests and benchmarks count requests with it.
        self.request_log: list[tuple[str, str]] = []

    # -- addresses --------------------------------------------------------------------------

    @property
    def sticky_auth_url(self) -> str:
        """Base of the login pages; real deployments serve them from a separate "sticky" host."""
        return f"{self.base_url}/sticky_auth"

    @property
    def authorize_url(self) -> str:
        return f"{self.sticky_auth_url}/api/v1/authorize"

    def tos_accept_url(self, tos_id: int) -> str:
        return f"{self.sticky_auth_url}/api/v1/tos/{tos_id}/accept"

    # -- seeded randomness and extension state ----------------------------------------------

    def stream(self, purpose: str) -> random.Random:
        """A random stream for one purpose, fixed by the deployment seed."""
        return seeded_stream(self.seed, purpose)

    def component(self, factory: Callable[[Deployment], ComponentT]) -> ComponentT:
        """The deployment's one instance made by ``factory`` (a class or function), made once."""
        with self._lock:
            if factory not in self._components:
                self._components[factory] = factory(self)
            return cast(ComponentT, self._components[factory])

    # -- users and tokens -------------------------------------------------------------------

    def add_user(self, spec: LocalUser, created: datetime | None = None) -> str:
        """Create a user with one API key; returns that token."""
        moment = created or utc_now()
        with self._lock:
            account = self.identity.add_user(spec, moment)
            return self.tokens.issue(account.id, description="LocalCAVE", created=moment).token

    def token_of(self, user_name: str) -> str:
        """The oldest API key of the named user."""
        account = self.identity.account_named(user_name)
        record = self.tokens.first_api_key_of(account.id)
        if record is None:
            raise KeyError(f"user {user_name!r} has no API key left")
        return record.token

    def tokens_by_user(self) -> Mapping[str, str]:
        tokens = {}
        for account in self.identity.accounts():
            record = self.tokens.first_api_key_of(account.id)
            if record is not None:
                tokens[account.name] = record.token
        return tokens

    def account_of_token(self, token: str) -> UserAccount | None:
        record = self.tokens.use(token)
        return None if record is None else self.identity.account(record.user_id)

    def permission_payload_of_token(self, token: str) -> dict[str, Any] | None:
        """What the auth service's user cache holds for a token, or None for an invalid token."""
        account = self.account_of_token(token)
        return None if account is None else self.identity.permission_payload(account)
