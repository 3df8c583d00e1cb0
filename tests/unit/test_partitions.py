"""The arithmetic of primary-key partitions: ranges, bounds from filters, buckets, merging."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from caveclient_gen import InvalidInputError
from caveclient_gen._tables.partitions import (
    KEY_END,
    KEY_LOWEST,
    KeyRange,
    Partition,
    buckets,
    capped_at,
    key_bounds,
    merge,
    with_range,
)


def test_split_covers_the_range_without_gaps_or_overlaps() -> None:
    for low, high, pieces in [(0, 10, 3), (5, 6, 4), (-7, 100, 7), (KEY_LOWEST, 0, 5)]:
        parts = KeyRange(low, high).split(pieces)
        assert parts[0].low == low
        assert parts[-1].high == high
        assert all(a.high == b.low for a, b in itertools.pairwise(parts))
        assert all(p.width > 0 for p in parts)
        assert len(parts) == min(pieces, high - low)


def test_bounds_come_from_the_filters_on_the_key_only() -> None:
    body = {
        "filter_greater_dict": {"t": {"id": 9, "size": 3}},
        "filter_less_equal_dict": {"t": {"id": np.int64(20)}},
        "filter_greater_equal_dict": {"other": {"id": 100}},
    }
    assert key_bounds(body, "t", "id") == KeyRange(10, 21)
    assert key_bounds({"filter_equal_dict": {"t": {"id": 4}}}, "t", "id") == KeyRange(4, 5)
    assert key_bounds({"filter_less_dict": {"t": {"id": 2.5}}}, "t", "id") == KeyRange(
        KEY_LOWEST, KEY_END
    )
    contradictory = {"filter_greater_dict": {"t": {"id": 9}}, "filter_less_dict": {"t": {"id": 3}}}
    assert key_bounds(contradictory, "t", "id").width == 0


def test_a_range_replaces_the_key_bounds_and_keeps_every_other_filter() -> None:
    body = {
        "filter_greater_equal_dict": {"t": {"id": 0, "size": 5}},
        "filter_in_dict": {"t": {"root": [1, 2]}},
        "offset": 3,
        "limit": 4,
    }
    ranged = with_range(body, "t", "id", KeyRange(10, 20))
    assert ranged["filter_greater_equal_dict"] == {"t": {"id": 10, "size": 5}}
    assert ranged["filter_less_dict"] == {"t": {"id": 20}}
    assert ranged["filter_in_dict"] == body["filter_in_dict"]
    assert "offset" not in ranged
    assert "limit" not in ranged
    assert body["filter_greater_equal_dict"] == {"t": {"id": 0, "size": 5}}  # not modified
    unbounded = with_range({}, "t", "id", KeyRange(KEY_LOWEST, KEY_END))
    assert unbounded == {}


def test_buckets_cover_every_key_once() -> None:
    everything = buckets(KeyRange(KEY_LOWEST, KEY_END))
    assert everything[0].low == KEY_LOWEST
    assert everything[-1].high == KEY_END
    assert all(a.high == b.low for a, b in itertools.pairwise(everything))
    assert len(everything) < 25
    assert buckets(KeyRange(500, 5000)) == [KeyRange(500, 1024), KeyRange(1024, 5000)]


def test_merge_fills_partitions_up_to_the_target() -> None:
    counted = [(KeyRange(i * 10, i * 10 + 10), n) for i, n in enumerate([3, 4, 0, 5, 9, 1, 1])]
    merged = merge(counted, 9)
    assert merged == [
        Partition(KeyRange(0, 30), 7),
        Partition(KeyRange(30, 40), 5),
        Partition(KeyRange(40, 50), 9),
        Partition(KeyRange(50, 70), 2),
    ]
    assert sum(p.expected or 0 for p in merged) == 23


@pytest.mark.parametrize(
    ("warnings", "cap"),
    [
        (['201 - "Limited query to 500000 rows'], 500_000),
        (["result has 7 entries, which is equal or more         than limit of 7 there may"], 7),
        (["Table Owner Notice on t: careful"], None),
        ([], None),
    ],
)
def test_the_cap_is_read_from_the_servers_warnings(warnings: list[str], cap: int | None) -> None:
    assert capped_at(warnings) == cap


def test_a_fractional_bound_of_the_query_is_never_loosened() -> None:
    body = {"filter_less_dict": {"t": {"id": 2.5}}, "filter_greater_equal_dict": {"t": {"id": 0.5}}}
    assert key_bounds(body, "t", "id") == KeyRange(KEY_LOWEST, KEY_END)
    ranged = with_range(body, "t", "id", KeyRange(0, 1024))
    assert ranged["filter_less_dict"] == {"t": {"id": 2.5}}
    assert ranged["filter_greater_equal_dict"] == {"t": {"id": 0.5}}
    later = with_range(body, "t", "id", KeyRange(1, 2))
    assert later["filter_less_dict"] == {"t": {"id": 2}}
    assert later["filter_greater_equal_dict"] == {"t": {"id": 1}}
    single = with_range(
        {"filter_less_dict": {"t": {"id": np.float32(2.5)}}}, "t", "id", KeyRange(0, 1024)
    )
    assert single["filter_less_dict"] == {"t": {"id": np.float32(2.5)}}
    with pytest.raises(InvalidInputError, match="filter_less_dict"):
        with_range({"filter_less_dict": {"t": {"id": "9"}}}, "t", "id", KeyRange(0, 1024))
