"""LocalCAVE under big-table load: row cap at exactly the cap, counts, primary-key ranges answered by
binary search, unordered scans that break offset paging, and per-user rate limits (429)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from caveclient_gen.testing import InProcessTransport, LocalCAVE
from caveclient_gen.testing.materialize import scans
from caveclient_gen.testing.materialize.data import MaterializedData
from caveclient_gen.testing.materialize.settings import (
    MaterializationSettings,
    configure_materialization,
)
from caveclient_gen.testing.materialize.table_queries import filter_table

from .conftest import bearer

SYNAPSES = "synapses_pni_2"
TYPED = {"direct_sql_pandas": "true", "arrow_format": "true"}


@pytest.fixture(scope="module")
def cave() -> LocalCAVE:
    cave = LocalCAVE(seed=5)
    configure_materialization(cave.deployment, synapse_count=3_000)
    return cave


@pytest.fixture(scope="module")
def http(cave: LocalCAVE) -> Iterator[httpx.Client]:
    with httpx.Client(
        transport=InProcessTransport(cave.app), base_url=cave.url, headers=bearer(cave.token)
    ) as client:
        yield client


@pytest.fixture
def settings(cave: LocalCAVE) -> Iterator[MaterializationSettings]:
    current = MaterializationSettings.of(cave.deployment)
    saved = (current.query_limit_size, current.unordered_scans, current.query_rate_limit)
    yield current
    current.query_limit_size, current.unordered_scans, current.query_rate_limit = saved


def path(cave: LocalCAVE) -> str:
    return f"/materialize/api/v3/datastack/{cave.datastack}/version/3/table/{SYNAPSES}/query"


def post(http: httpx.Client, cave: LocalCAVE, body: dict[str, Any], **params: str) -> httpx.Response:
    return http.post(
        path(cave), json=body, params={**TYPED, **params}, headers={"Accept-Encoding": "zstd"}
    )


def frame_of(response: httpx.Response) -> pd.DataFrame:
    assert response.status_code == 200, response.text
    with pa.ipc.open_stream(response.content) as reader:
        return reader.read_all().to_pandas()


def ranged(low: int | None = None, high: int | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if low is not None:
        body["filter_greater_equal_dict"] = {SYNAPSES: {"id": low}}
    if high is not None:
        body["filter_less_dict"] = {SYNAPSES: {"id": high}}
    return body


def test_the_cap_warns_at_exactly_the_cap_and_counts_ignore_it(
    http: httpx.Client, cave: LocalCAVE, settings: MaterializationSettings
) -> None:
    everything = frame_of(post(http, cave, {}))
    ids = everything["id"].to_numpy()
    settings.query_limit_size = 100
    exact = post(http, cave, ranged(int(ids[0]), int(ids[100])))
    assert len(frame_of(exact)) == 100
    assert exact.headers.get_list("warning") == ['201 - "Limited query to 100 rows']
    under = post(http, cave, ranged(int(ids[0]), int(ids[99])))
    assert len(frame_of(under)) == 99
    assert under.headers.get_list("warning") == []
    counted = frame_of(post(http, cave, ranged(int(ids[0]), int(ids[500])), count="true"))
    assert counted["count"].tolist() == [500]


def test_key_ranges_by_binary_search_equal_a_scan(cave: LocalCAVE, http: httpx.Client) -> None:
    data = cave.deployment.component(MaterializedData)
    table = data.store.get(data.aligned_volume(cave.datastack), SYNAPSES)
    version = data.timeline.version(cave.datastack, 3)
    assert version is not None
    source = data.query_table(table, version.time_stamp)
    ids = scans.sorted_scope_ids(source)
    assert ids is not None
    assert len(ids) == len(source)
    everything = np.arange(len(source), dtype=np.int64)
    rng = np.random.default_rng(1)
    cases = [
        {"filter_greater_equal_dict": {SYNAPSES: {"id": int(ids[5])}}},
        {"filter_less_dict": {SYNAPSES: {"id": int(ids[-7])}}},
        {"filter_greater_dict": {SYNAPSES: {"id": int(ids[3])}}},
        {"filter_less_equal_dict": {SYNAPSES: {"id": int(ids[9])}}},
        {"filter_equal_dict": {SYNAPSES: {"id": int(ids[11])}}},
        {"filter_equal_dict": {SYNAPSES: {"id": int(ids[11]) + 10**9}}},
        {"filter_greater_equal_dict": {SYNAPSES: {"id": 0}}, "filter_less_dict": {SYNAPSES: {"id": 0}}},
    ]
    for _ in range(20):
        low, high = sorted(int(v) for v in rng.integers(int(ids[0]) - 5, int(ids[-1]) + 5, 2))
        cases.append(
            {
                "filter_greater_equal_dict": {SYNAPSES: {"id": low}},
                "filter_less_dict": {SYNAPSES: {"id": high}},
                "filter_greater_dict": {SYNAPSES: {"size": 50}},
            }
        )
    for body in cases:
        found = scans.key_range(source, body)
        assert found is not None
        rows, rest = found
        assert (
            filter_table(source, rows, rest).tolist() == filter_table(source, everything, body).tolist()
        ), body
    assert scans.key_range(source, {"filter_greater_dict": {SYNAPSES: {"size": 3}}}) is None
    # A string bound is left to the generic filters (and their errors).
    assert scans.key_range(source, {"filter_less_dict": {SYNAPSES: {"id": "9"}}}) is None


def test_unordered_scans_make_offset_pages_repeat_and_miss_rows(
    http: httpx.Client, cave: LocalCAVE, settings: MaterializationSettings
) -> None:
    total = len(frame_of(post(http, cave, {})))
    settings.unordered_scans = True
    pages = [frame_of(post(http, cave, {"offset": k, "limit": 500})) for k in range(0, total, 500)]
    seen = pd.concat(pages)["id"]
    assert len(seen) == total
    assert seen.nunique() < total  # some rows twice, as many missing
    # Key ranges stay exact whatever the scan order.
    ids = np.sort(frame_of(post(http, cave, {}))["id"].to_numpy())
    bounds = [*ids[::500].tolist(), int(ids[-1]) + 1]
    ranges = [frame_of(post(http, cave, ranged(a, b))) for a, b in itertools.pairwise(bounds)]
    assert np.array_equal(np.sort(pd.concat(ranges)["id"].to_numpy()), ids)


def test_per_user_rate_limit_answers_429_with_retry_after(
    http: httpx.Client,
    cave: LocalCAVE,
    settings: MaterializationSettings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    limiter = cave.deployment.component(scans.QueryRateLimiter)
    moment = [100.0]  # the window's clock, moved by the test alone
    monkeypatch.setattr(limiter, "_clock", lambda: moment[0])
    monkeypatch.setattr(limiter, "_windows", {})
    refused_before = limiter.refused
    configure_materialization(cave.deployment, query_rate_limit=(2, 30.0))
    answers = [post(http, cave, {"limit": 1}) for _ in range(2)]
    moment[0] += 10.5
    answers.append(post(http, cave, {"limit": 1}))
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert answers[2].headers["retry-after"] == "20"  # whole seconds, rounded up: 19.5 -> 20
    assert "429 Too Many Requests" in answers[2].text
    assert limiter.refused == refused_before + 1
    moment[0] += 19.5  # the window has passed: a new budget
    assert post(http, cave, {"limit": 1}).status_code == 200
    with pytest.raises(ValueError, match="query_rate_limit"):
        configure_materialization(cave.deployment, query_rate_limit=(0, 1.0))
