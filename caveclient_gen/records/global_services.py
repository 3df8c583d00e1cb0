"""Typed shapes of the records the auth and info sub-clients return.

Records are plain dicts at run time — code written for caveclient indexes them the same way — and
TypedDicts for type checkers and IDEs, which complete and check their keys.
"""

from __future__ import annotations

from typing import Any, NotRequired, TypedDict

__all__ = [
    "AlignedVolumeInfo",
    "DatastackInfo",
    "GroupMember",
    "ImageMirror",
    "TokenRecord",
    "UserInfo",
]


class AlignedVolumeInfo(TypedDict):
    """An aligned volume: a coordinate space the datastacks built on it share.

    Keys marked NotRequired are left out by some info servers; the others are always sent.
    """

    id: int
    name: str
    display_name: NotRequired[str | None]
    description: NotRequired[str | None]
    image_source: str


class DatastackInfo(TypedDict):
    """The full info-service record of a datastack (keys marked NotRequired are left out by some
    info server versions; values may be None)."""

    aligned_volume: AlignedVolumeInfo | None
    segmentation_source: str | None
    skeleton_source: NotRequired[str | None]
    analysis_database: str | None
    viewer_site: str | None
    synapse_table: str | None
    soma_table: str | None
    local_server: str
    description: str | None
    viewer_resolution_x: float | None
    viewer_resolution_y: float | None
    viewer_resolution_z: float | None
    proofreading_status_table: NotRequired[str | None]
    cell_identification_table: NotRequired[str | None]
    proofreading_review_table: NotRequired[str | None]


class ImageMirror(TypedDict):
    """One image source of a datastack (its default or a mirror)."""

    id: int
    name: str
    viewer_layer_name: NotRequired[str | None]
    image_source: str
    description: NotRequired[str | None]


class TokenRecord(TypedDict):
    """One of your API tokens (``token`` is a secret: do not print it)."""

    id: int
    user_id: int
    token: str
    description: NotRequired[str | None]
    created: NotRequired[str]
    updated: NotRequired[str]
    last_used: NotRequired[str | None]


class UserInfo(TypedDict):
    """A user record of the auth service."""

    id: int
    name: str
    email: NotRequired[str]
    service_account: bool
    created: str
    pi: str
    affiliations: list[Any]
    admin: NotRequired[bool]
    gdpr_consent: NotRequired[bool]
    admin_datasets: NotRequired[list[Any]]


class GroupMember(TypedDict):
    id: int
    name: str
    admin: bool
