"""Direct downloads of cached skeletons from the skeleton service's storage bucket.

The service hands out a short-lived, read-only Google Cloud Storage token for its bucket (a grant).
That token, not the CAVE token, authorises the downloads: requests go through the session's
token-less client, so the CAVE token never reaches the storage host.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import httpx
from caveclient_gen_api.skeleton.models.skeleton_token import SkeletonToken

from .._http.session import ExternalResponse, Session
from ..errors import NotFoundError

STORAGE_DOWNLOAD_URL = "https://storage.googleapis.com/download/storage/v1/b/{bucket}/o/{path}?alt=media"
REFRESH_MARGIN = timedelta(minutes=5)
"""A grant is renewed when it expires within this margin."""


@dataclass(frozen=True)
class BucketGrant:
    """A storage token and where it lets us read."""

    token: str = field(repr=False)
    bucket: str
    path_template: str
    expiry: datetime | None

    @classmethod
    def from_model(cls, model: SkeletonToken) -> BucketGrant:
        return cls(model.token, model.bucket, model.path_template, _expiry(model.expiry))

    def usable(self, now: datetime | None = None) -> bool:
        """Whether the token is still good for a while (a grant without expiry is never reused)."""
        if self.expiry is None:
            return False
        return (now or datetime.now(UTC)) + REFRESH_MARGIN < self.expiry

    def url(self, root_id: int) -> str:
        path = self.path_template.replace("{rid}", str(root_id))
        return STORAGE_DOWNLOAD_URL.format(bucket=quote(self.bucket, safe=""), path=quote(path, safe=""))


class BucketReader:
    """GETs of bucket objects with the grant's token; a missing object answers status 404."""

    def __init__(self, session: Session, grant: BucketGrant) -> None:
        self._session = session
        self._headers = {"Authorization": f"Bearer {grant.token}"}

    def get(self, url: str) -> ExternalResponse:
        try:
            return self._session.external().get(url, headers=self._headers)
        except NotFoundError:
            return _not_found()

    async def get_async(self, url: str) -> ExternalResponse:
        try:
            return await self._session.external().get_async(url, headers=self._headers)
        except NotFoundError:
            return _not_found()


def _not_found() -> ExternalResponse:
    return ExternalResponse(404, b"", httpx.Headers())


def _expiry(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
