"""Typed shapes of the records `client.l2cache` returns (plain dicts at run time)."""

from __future__ import annotations

from typing import TypedDict

__all__ = ["L2Attributes", "L2CacheTableInfo"]


class L2Attributes(TypedDict, total=False):
    """Cached features of one level-2 node; empty when the node is not (yet) in the cache."""

    size_nm3: float
    area_nm2: float
    max_dt_nm: float
    mean_dt_nm: float
    rep_coord_nm: list[float]
    chunk_intersect_count: list[list[float]]
    pca: list[list[float]]
    pca_val: list[float]


class L2CacheTableInfo(TypedDict):
    """The L2 cache of one chunkedgraph table."""

    l2cache_id: str
    cv_path: str
