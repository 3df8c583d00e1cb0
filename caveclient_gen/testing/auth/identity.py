"""Who may do what: users, groups, auth datasets, Terms of Service and resource-to-dataset mapping.

This is the data the middle_auth server keeps in its database, reduced to what its API shows.
Permissions are granted per auth dataset (a name such as ``minnie65_phase3``); services name a
resource (a datastack, an aligned volume, a chunkedgraph table) and the auth service maps it to
the dataset whose permissions apply.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# middle_auth's ranking of permission names for the legacy "permissions" levels.
_PERMISSION_LEVELS = {"none": 0, "view": 1, "edit": 2}


@dataclass(frozen=True)
class LocalUser:
    """A user of a LocalCAVE deployment, as configured by a test or a developer.

    ``permissions`` maps an auth dataset name to the permission names granted on it (as a group
    membership would grant them); ``tos_accepted`` says whether the user accepted the Terms of
    Service of every dataset that has one. ``service_account_of`` names the owning user and makes
    this a service account (it then inherits the owner's Terms of Service acceptance).
    """

    name: str
    permissions: Mapping[str, Sequence[str]] = field(default_factory=dict)
    groups: Sequence[str] = ("default",)
    superadmin: bool = False
    tos_accepted: bool = True
    datasets_admin: Sequence[str] = ()
    groups_admin: Sequence[str] = ()
    email: str | None = None
    pi: str = ""
    affiliations: Sequence[str] = ()
    service_account_of: str | None = None


@dataclass(frozen=True)
class UserAccount:
    """A user as stored by the auth service."""

    id: int
    spec: LocalUser
    email: str
    created: datetime
    parent_id: int | None

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def is_service_account(self) -> bool:
        return self.parent_id is not None


@dataclass(frozen=True)
class AuthDataset:
    id: int
    name: str
    tos_id: int | None


@dataclass(frozen=True)
class TermsOfService:
    id: int
    name: str


@dataclass(frozen=True)
class Group:
    id: int
    name: str


class IdentityStore:
    """Users, groups, datasets and resource mappings of one deployment; safe across threads."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._accounts: dict[int, UserAccount] = {}
        self._datasets: dict[str, AuthDataset] = {}
        self._terms: dict[int, TermsOfService] = {}
        self._groups: dict[str, Group] = {}
        self._affiliation_ids: dict[str, int] = {}
        self._resource_datasets: dict[tuple[str, str], str] = {}
        self._public_roots: set[tuple[str, int]] = set()

    # -- datasets and resources ---------------------------------------------------------------

    def add_dataset(self, name: str, terms_of_service: str | None = None) -> AuthDataset:
        with self._lock:
            if name in self._datasets:
                raise ValueError(f"auth dataset {name!r} already exists")
            tos_id = None
            if terms_of_service is not None:
                tos_id = len(self._terms) + 1
                self._terms[tos_id] = TermsOfService(tos_id, terms_of_service)
            dataset = AuthDataset(len(self._datasets) + 1, name, tos_id)
            self._datasets[name] = dataset
            return dataset

    def datasets(self) -> list[AuthDataset]:
        with self._lock:
            return sorted(self._datasets.values(), key=lambda dataset: dataset.id)

    def terms_of_service(self, tos_id: int) -> TermsOfService:
        return self._terms[tos_id]

    def map_resource(self, namespace: str, resource: str, dataset_name: str) -> None:
        """Say which dataset governs a resource, e.g. ``("datastack", "minnie65_local")``."""
        with self._lock:
            if dataset_name not in self._datasets:
                raise ValueError(f"unknown auth dataset {dataset_name!r}")
            self._resource_datasets[(namespace, resource)] = dataset_name

    def dataset_of_resource(self, namespace: str, resource: str) -> str | None:
        return self._resource_datasets.get((namespace, resource))

    # -- public segmentation roots --------------------------------------------------------------

    def mark_root_public(self, table_id: str, root_id: int) -> None:
        with self._lock:
            self._public_roots.add((table_id, root_id))

    def is_root_public(self, table_id: str, root_id: int) -> bool:
        return (table_id, root_id) in self._public_roots

    def table_has_public(self, table_id: str) -> bool:
        with self._lock:
            return any(table == table_id for table, _ in self._public_roots)

    # -- users and groups -----------------------------------------------------------------------

    def add_user(self, spec: LocalUser, created: datetime) -> UserAccount:
        with self._lock:
            self._check_new_user(spec)
            parent_id = None
            if spec.service_account_of is not None:
                parent_id = self.account_named(spec.service_account_of).id
            for group_name in [*spec.groups, *spec.groups_admin]:
                if group_name not in self._groups:
                    self._groups[group_name] = Group(len(self._groups) + 1, group_name)
            for affiliation in spec.affiliations:
                self._affiliation_ids.setdefault(affiliation, len(self._affiliation_ids) + 1)
            email = spec.email or f"{spec.name}@localcave.example"
            account = UserAccount(len(self._accounts) + 1, spec, email, created, parent_id)
            self._accounts[account.id] = account
            return account

    def _check_new_user(self, spec: LocalUser) -> None:
        for collection_field in ("groups", "groups_admin", "datasets_admin", "affiliations"):
            if isinstance(getattr(spec, collection_field), str):
                raise TypeError(f"LocalUser.{collection_field} must be a collection, not a string")
        if any(isinstance(perms, str) for perms in spec.permissions.values()):
            raise TypeError("LocalUser.permissions values must be collections of permission names")
        if any(account.name == spec.name for account in self._accounts.values()):
            raise ValueError(f"a user named {spec.name!r} already exists")
        unknown = [
            name for name in [*spec.permissions, *spec.datasets_admin] if name not in self._datasets
        ]
        if unknown:
            known = ", ".join(self._datasets)
            raise ValueError(f"unknown auth datasets {unknown} for user {spec.name!r}: {known}")

    def account(self, user_id: int) -> UserAccount | None:
        return self._accounts.get(user_id)

    def account_named(self, name: str) -> UserAccount:
        for account in self._accounts.values():
            if account.name == name:
                return account
        raise KeyError(f"no LocalCAVE user named {name!r}")

    def accounts(self) -> list[UserAccount]:
        with self._lock:
            return sorted(self._accounts.values(), key=lambda account: account.id)

    def groups(self) -> list[Group]:
        with self._lock:
            return sorted(self._groups.values(), key=lambda group: group.id)

    def group_members(self, group_id: int) -> list[tuple[UserAccount, bool]]:
        """Normal accounts in the group, each with its group-admin flag."""
        group = next((g for g in self._groups.values() if g.id == group_id), None)
        if group is None:
            return []
        return [
            (account, group.name in account.spec.groups_admin)
            for account in self.accounts()
            if not account.is_service_account and _belongs_to(account, group.name)
        ]

    def is_some_admin(self, account: UserAccount) -> bool:
        """Superadmin, dataset admin, group admin or service account: may use admin lookups."""
        spec = account.spec
        return (
            spec.superadmin
            or bool(spec.datasets_admin)
            or bool(spec.groups_admin)
            or account.is_service_account
        )

    def datasets_administered(self, account: UserAccount) -> list[AuthDataset]:
        return [self._datasets[name] for name in account.spec.datasets_admin]

    # -- what the auth service sends ------------------------------------------------------------

    def permission_payload(self, account: UserAccount) -> dict[str, Any]:
        """The permission payload every service receives for a token (middle_auth's user cache)."""
        with self._lock:
            granted = {name: list(perms) for name, perms in account.spec.permissions.items()}
            accepted = {
                name: perms for name, perms in granted.items() if self._tos_accepted(account, name)
            }
            missing_tos = [self._missing_tos_entry(name) for name in granted if name not in accepted]
            return {
                "id": account.id,
                "parent_id": account.parent_id,
                "service_account": account.is_service_account,
                "name": account.name,
                "email": account.email,
                "admin": account.spec.superadmin,
                "pi": account.spec.pi,
                "affiliations": self.affiliations(account),
                "groups": [group.name for group in self.groups() if _belongs_to(account, group.name)],
                "permissions": {
                    name: max((_PERMISSION_LEVELS.get(p, 0) for p in perms), default=0)
                    for name, perms in accepted.items()
                },
                "permissions_v2": accepted,
                "permissions_v2_ignore_tos": granted,
                "missing_tos": missing_tos,
                "datasets_admin": list(account.spec.datasets_admin),
                "groups_admin": list(account.spec.groups_admin),
            }

    def affiliations(self, account: UserAccount) -> list[list[dict[str, Any]]]:
        # middle_auth 2.30.3 wraps the affiliation list in a one-element tuple: keep that shape.
        start = account.created.replace(tzinfo=None).isoformat()
        return [
            [
                {"id": self._affiliation_ids[name], "name": name, "start": start}
                for name in account.spec.affiliations
            ]
        ]

    def _tos_accepted(self, account: UserAccount, dataset_name: str) -> bool:
        if self._datasets[dataset_name].tos_id is None:
            return True
        tos_holder = account
        if account.parent_id is not None:
            tos_holder = self._accounts[account.parent_id]
        return tos_holder.spec.tos_accepted

    def _missing_tos_entry(self, dataset_name: str) -> dict[str, Any]:
        dataset = self._datasets[dataset_name]
        assert dataset.tos_id is not None
        return {
            "dataset_id": dataset.id,
            "dataset_name": dataset.name,
            "tos_id": dataset.tos_id,
            "tos_name": self._terms[dataset.tos_id].name,
        }


def _belongs_to(account: UserAccount, group_name: str) -> bool:
    return group_name in account.spec.groups or group_name in account.spec.groups_admin
