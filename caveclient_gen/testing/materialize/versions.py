"""When things happened: the materialized versions of each datastack and the synthetic tables' history.

Everything is placed relative to the segmentation's own history (its creation and the fixed
times of its edits), so frozen versions see root ids that differ from today's exactly where the
segmentation was edited after them:

* the synthetic tables are created shortly after the segmentation;
* version 1 is taken before the first edit and has expired;
* version 2 is taken halfway through the edits (valid, stored in split tables);
* version 3 is taken an hour after the last edit (valid, merged tables, the latest).

Versions 2 and 3 have fractional seconds; version 1 has none, so its ``time_stamp`` string shows
the server dropping them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from ..annotation.tables import iso, naive_utc

if TYPE_CHECKING:
    from ..world.deployment import Deployment

EXPIRED_VERSION, OLDER_VERSION, LATEST_VERSION = 1, 2, 3
_DEFAULT_EDIT_SPAN = timedelta(days=60)
_HISTORY_END = datetime(2026, 1, 1)
"""The seeded segmentation history ends before this moment (naive UTC)."""


@dataclass(frozen=True)
class AnalysisVersion:
    """A materialization version record (the ``analysisversion`` table)."""

    id: int
    datastack: str
    version: int
    time_stamp: datetime
    valid: bool
    expires_on: datetime | None
    status: str
    is_merged: bool

    def record(self) -> dict[str, Any]:
        """The record as the server serializes it (naive ISO times, parent version omitted)."""
        return {
            "id": self.id,
            "datastack": self.datastack,
            "version": self.version,
            "time_stamp": iso(self.time_stamp),
            "valid": self.valid,
            "expires_on": iso(self.expires_on),
            "status": self.status,
            "is_merged": self.is_merged,
        }


@dataclass(frozen=True)
class RowPeriod:
    """A span of time in which a share of a synthetic table's rows were created."""

    start: datetime
    end: datetime
    share: float


class MaterializationTimeline:
    """The fixed moments of one deployment; ``deployment.component(MaterializationTimeline)``."""

    def __init__(self, deployment: Deployment) -> None:
        from ..chunkedgraph.segmentation.graph import SegmentationGraph

        graph = deployment.component(SegmentationGraph)
        created = naive_utc(graph.created)
        # Only the seeded history counts: live edits made through the chunkedgraph come later.
        edits = sorted(
            naive_utc(moment) for moment in graph.edit_times() if naive_utc(moment) < _HISTORY_END
        )
        first_edit = edits[0] if edits else created + _DEFAULT_EDIT_SPAN
        last_edit = edits[-1] if edits else first_edit
        before_edits = first_edit - created
        self.tables_created = _whole_seconds(created + before_edits * 0.1)
        expired = _whole_seconds(created + before_edits * 0.5)
        # Fractional seconds, as times taken from a clock nearly always have; only the expired
        # version shows the server's habit of dropping them when they are zero.
        latest = _whole_seconds(last_edit + timedelta(hours=1)) + timedelta(microseconds=654321)
        older = _between_edits(edits, first_edit, latest)
        self.version_times = {EXPIRED_VERSION: expired, OLDER_VERSION: older, LATEST_VERSION: latest}
        self.row_periods = (
            RowPeriod(self.tables_created, expired, 0.7),
            RowPeriod(expired, older, 0.2),
            RowPeriod(older, latest, 0.1),
        )
        self.deletions_period = (older, latest)
        self._versions: dict[str, list[AnalysisVersion]] = {}
        next_id = 1
        for datastack in deployment.datastacks:
            self._versions[datastack] = self._versions_of(datastack, next_id)
            next_id += len(self._versions[datastack])

    def _versions_of(self, datastack: str, first_id: int) -> list[AnalysisVersion]:
        times = self.version_times
        return [
            AnalysisVersion(
                id=first_id,
                datastack=datastack,
                version=EXPIRED_VERSION,
                time_stamp=times[EXPIRED_VERSION],
                valid=False,
                expires_on=times[EXPIRED_VERSION] + timedelta(days=14),
                status="EXPIRED",
                is_merged=False,
            ),
            AnalysisVersion(
                id=first_id + 1,
                datastack=datastack,
                version=OLDER_VERSION,
                time_stamp=times[OLDER_VERSION],
                valid=True,
                expires_on=times[OLDER_VERSION] + timedelta(days=3650),
                status="AVAILABLE",
                is_merged=False,
            ),
            AnalysisVersion(
                id=first_id + 2,
                datastack=datastack,
                version=LATEST_VERSION,
                time_stamp=times[LATEST_VERSION],
                valid=True,
                expires_on=times[LATEST_VERSION] + timedelta(days=365),
                status="AVAILABLE",
                is_merged=True,
            ),
        ]

    def versions(self, datastack: str) -> list[AnalysisVersion]:
        return list(self._versions.get(datastack, ()))

    def version(self, datastack: str, number: int) -> AnalysisVersion | None:
        return next((v for v in self.versions(datastack) if v.version == number), None)

    def latest_of_any_state(self, datastack: str) -> AnalysisVersion | None:
        """The most recent version, valid or not (what the datastack validator falls back to)."""
        versions = self.versions(datastack)
        return max(versions, key=lambda v: v.time_stamp) if versions else None

    def closest_valid(self, datastack: str, moment: datetime) -> AnalysisVersion | None:
        """The newest valid version at or before ``moment``, else the oldest one after it."""
        stamp = naive_utc(moment)
        valid = [v for v in self.versions(datastack) if v.valid]
        past = [v for v in valid if v.time_stamp <= stamp]
        if past:
            return max(past, key=lambda v: v.time_stamp)
        future = [v for v in valid if v.time_stamp >= stamp]
        return min(future, key=lambda v: v.time_stamp) if future else None


def _whole_seconds(moment: datetime) -> datetime:
    return moment.replace(microsecond=0)


def _between_edits(edits: list[datetime], first_edit: datetime, latest: datetime) -> datetime:
    """Halfway through the edits, strictly between two of them, with a fractional second."""
    if len(edits) >= 2:
        index = (len(edits) - 1) // 2
        earlier, later = edits[index], edits[index + 1]
    else:
        earlier, later = first_edit, latest
    middle = _whole_seconds(earlier + (later - earlier) / 2)
    with_fraction = middle + timedelta(microseconds=123456)
    return with_fraction if earlier < with_fraction < later else middle
