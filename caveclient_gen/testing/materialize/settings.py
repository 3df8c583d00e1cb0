"""Deployment settings of the materialization side of LocalCAVE (table sizes, server limits).

Read once per deployment, when the synthetic tables are first built; change them before that::

    cave = LocalCAVE()
    configure_materialization(cave.deployment, synapse_count=1_000_000)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..world.deployment import Deployment

DEFAULT_SYNAPSE_COUNT = 20_000
DEFAULT_NUCLEUS_COUNT = 400
DEFAULT_QUERY_LIMIT_SIZE = 200_000
"""The real server's ``QUERY_LIMIT_SIZE`` default."""


@dataclass
class MaterializationSettings:
    """Knobs of one deployment's materialization service; one instance per deployment."""

    synapse_count: int = DEFAULT_SYNAPSE_COUNT
    """Rows of the synapse table (the latest version holds about this many valid rows)."""
    nucleus_count: int = DEFAULT_NUCLEUS_COUNT
    query_limit_size: int = DEFAULT_QUERY_LIMIT_SIZE
    """Most rows one query returns (``QUERY_LIMIT_SIZE``)."""
    exclusion_filter_applied: bool | None = None
    """Apply ``filter_notin_dict`` (True, idealised) or ignore it (False). MaterializationEngine
    5.26.4 reads the exclusion filter from a key its request schema rejects, so it ignores it on
    every query route. None follows the deployment's fidelity (``exclusion_filters``, faithful by
    default: ignored)."""
    query_rate_limit: tuple[int, float] | None = None
    """At most this many queries per user in a window of this many seconds (flask-limiter's
    per-user buckets); more are answered 429 with ``Retry-After``. None: unlimited (the default
    when ``LIMITER_CATEGORIES`` is unset). Set it back to None on the settings object."""
    unordered_scans: bool = False
    """Start each query's scan at another row, as PostgreSQL's synchronized sequential scans do:
    without ORDER BY, ``limit``/``offset`` pages then repeat and miss rows."""
    built: bool = False
    """Set once the synthetic tables were built; later changes would not take effect."""

    @classmethod
    def of(cls, deployment: Deployment) -> MaterializationSettings:
        return deployment.component(_settings_factory)


def _settings_factory(deployment: Deployment) -> MaterializationSettings:
    return MaterializationSettings()


def configure_materialization(
    deployment: Deployment,
    *,
    synapse_count: int | None = None,
    nucleus_count: int | None = None,
    query_limit_size: int | None = None,
    exclusion_filter_applied: bool | None = None,
    query_rate_limit: tuple[int, float] | None = None,
    unordered_scans: bool | None = None,
) -> MaterializationSettings:
    """Change the materialization settings of a deployment before its tables are built."""
    settings = MaterializationSettings.of(deployment)
    if settings.built and (synapse_count is not None or nucleus_count is not None):
        raise RuntimeError("the synthetic tables were already built; configure them earlier")
    if synapse_count is not None:
        if synapse_count < 1:
            raise ValueError(f"synapse_count must be positive, got {synapse_count}")
        settings.synapse_count = synapse_count
    if nucleus_count is not None:
        if nucleus_count < 1:
            raise ValueError(f"nucleus_count must be positive, got {nucleus_count}")
        settings.nucleus_count = nucleus_count
    if query_limit_size is not None:
        if query_limit_size < 1:
            raise ValueError(f"query_limit_size must be positive, got {query_limit_size}")
        settings.query_limit_size = query_limit_size
    if exclusion_filter_applied is not None:
        settings.exclusion_filter_applied = exclusion_filter_applied
    if query_rate_limit is not None:
        count, window = query_rate_limit
        if int(count) < 1 or float(window) <= 0:
            raise ValueError(
                f"query_rate_limit must be (requests >= 1, seconds > 0), got {query_rate_limit}"
            )
        settings.query_rate_limit = (int(count), float(window))
    if unordered_scans is not None:
        settings.unordered_scans = bool(unordered_scans)
    return settings
