"""Typed shapes of the records the auth and info sub-clients return.

Records are plain dicts at run time — code written for caveclient indexes them the same way — and
TypedDicts for type checkers and IDEs, which complete and check their keys.
"""

from __future__ import annotations

from typing import Any, TypedDict

__all__ = [
    "AlignedVolumeInfo",
    "DatastackInfo",
    "GroupMember",
    "ImageMirror",
    "TokenRecord",
    "UserInfo",
]


class AlignedVolumeInfo(TypedDict, total=False):
    id: int
    name: str
    display_name: str | None
    description: str | None
    image_source: str


class DatastackInfo(TypedDict, total=False):
    """The full info-service record of a datastack."""

    aligned_volume: AlignedVolumeInfo | None
    segmentation_source: str | None
    skeleton_source: str | None
    analysis_database: str | None
    viewer_site: str | None
    synapse_table: str | None
    soma_table: str | None
    local_server: str
    description: str | None
    viewer_resolution_x: float | None
    viewer_resolution_y: float | None
    viewer_resolution_z: float | None
    proofreading_status_table: str | None
    cell_identification_table: str | None
    proofreading_review_table: str | None


class ImageMirror(TypedDict, total=False):
    """One image source of a datastack (its default or a mirror)."""

    id: int
    name: str
    viewer_layer_name: str | None
    image_source: str
    description: str | None


class TokenRecord(TypedDict, total=False):
    id: int
    user_id: int
    token: str
    description: str | None
    created: str
    updated: str
    last_used: str | None


class UserInfo(TypedDict, total=False):
    id: int
    name: str
    email: str
    service_account: bool
    created: str
    pi: str
    affiliations: list[Any]
    admin: bool
    gdpr_consent: bool
    admin_datasets: list[Any]


class GroupMember(TypedDict, total=False):
    id: int
    name: str
    admin: bool
