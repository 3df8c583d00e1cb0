"""`all_rows=True` against LocalCAVE with a small row cap: the partitioned answer equals, row by row
and dtype by dtype, one uncapped query, for every filter kind and query option; offset paging
under unordered scans fails where all_rows stays exact; 429 answers are waited out."""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pytest

from caveclient_gen import CAVEclient, CAVEServerWarning, InvalidInputError
from caveclient_gen.errors import OffsetPagingWarning
from caveclient_gen.testing import InProcessTransport, LocalCAVE
from caveclient_gen.testing.materialize.scans import QueryRateLimiter
from caveclient_gen.testing.materialize.settings import (
    MaterializationSettings,
    configure_materialization,
)
from caveclient_gen.testing.materialize.versions import MaterializationTimeline

SYNAPSES = "synapses_pni_2"
NUCLEI = "nucleus_detection_v0"
CELL_TYPES = "allen_soma_coarse_cell_class_model_v2"
VIEW = "single_neurons"
CAP = 150


@pytest.fixture(scope="module")
def cave() -> LocalCAVE:
    cave = LocalCAVE(seed=11)
    configure_materialization(cave.deployment, synapse_count=2_500, query_limit_size=CAP)
    return cave


@pytest.fixture
def client(cave: LocalCAVE) -> Iterator[CAVEclient]:
    settings = MaterializationSettings.of(cave.deployment)
    saved = (settings.query_limit_size, settings.unordered_scans, settings.query_rate_limit)
    with CAVEclient(
        cave.datastack,
        server_address=cave.url,
        auth_token=cave.token,
        transport=InProcessTransport(cave.app),
    ) as cave_client:
        yield cave_client
    settings.query_limit_size, settings.unordered_scans, settings.query_rate_limit = saved


@contextmanager
def uncapped(cave: LocalCAVE) -> Iterator[None]:
    settings = MaterializationSettings.of(cave.deployment)
    saved = settings.query_limit_size
    settings.query_limit_size = 10**9
    try:
        yield
    finally:
        settings.query_limit_size = saved


def comparable(frame: Any) -> Any:
    if isinstance(frame, list):
        return frame
    frame = frame.reset_index(drop=True)
    for column in frame.columns:
        values = frame[column]
        if values.dtype == object and len(values) and isinstance(values.iloc[0], np.ndarray):
            frame[column] = [tuple(v.tolist()) for v in values]
    return frame


def assert_same(partitioned: Any, single: Any, cap: int = CAP) -> None:
    if isinstance(single, list):
        assert partitioned == single
        return
    assert len(single) > cap  # the case really needed partitions
    pd.testing.assert_frame_equal(comparable(partitioned), comparable(single))


def exact(cave: LocalCAVE, query: Callable[..., Any], cap: int = CAP, **arguments: Any) -> Any:
    """The partitioned answer, checked against one uncapped answer; returns it."""
    MaterializationSettings.of(cave.deployment).query_limit_size = cap
    with uncapped(cave), warnings.catch_warnings():
        warnings.simplefilter("ignore", CAVEServerWarning)  # table owners' notices
        single = query(**arguments)
    before = len(cave.deployment.request_log)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        partitioned = query(**arguments, all_rows=True)
    assert not [w for w in caught if "Limited query" in str(w.message)]
    assert len(cave.deployment.request_log) - before > 2
    assert_same(partitioned, single, cap)
    MaterializationSettings.of(cave.deployment).query_limit_size = CAP
    return partitioned


ROOTS_PICK = 40


@pytest.fixture(scope="module")
def synapse_sample(cave: LocalCAVE) -> pd.DataFrame:
    with (
        CAVEclient(
            cave.datastack,
            server_address=cave.url,
            auth_token=cave.token,
            transport=InProcessTransport(cave.app),
        ) as client,
        uncapped(cave),
    ):
        frame = client.materialize.query_table(SYNAPSES, split_positions=True)
    assert isinstance(frame, pd.DataFrame)
    return frame


FILTER_CASES: dict[str, Callable[[pd.DataFrame], dict[str, Any]]] = {
    "none": lambda s: {},
    "in": lambda s: {"filter_in_dict": {"pre_pt_root_id": s["pre_pt_root_id"].unique()[:ROOTS_PICK]}},
    "out": lambda s: {"filter_out_dict": {"post_pt_root_id": s["post_pt_root_id"].unique()[:5]}},
    "equal": lambda s: {"filter_equal_dict": {"valid": True}},
    "greater": lambda s: {"filter_greater_dict": {"size": float(s["size"].quantile(0.2))}},
    "less": lambda s: {"filter_less_dict": {"size": float(s["size"].quantile(0.8))}},
    "greater_equal": lambda s: {"filter_greater_equal_dict": {"size": float(s["size"].median())}},
    "less_equal": lambda s: {"filter_less_equal_dict": {"size": float(s["size"].median())}},
    "spatial": lambda s: {
        "filter_spatial_dict": {
            "pre_pt_position": [
                [int(s[f"pre_pt_position_{a}"].quantile(0.05)) for a in "xyz"],
                [int(s[f"pre_pt_position_{a}"].quantile(0.95)) for a in "xyz"],
            ]
        }
    },
    "id_bounds": lambda s: {
        "filter_greater_equal_dict": {"id": int(s["id"].iloc[100])},
        "filter_less_dict": {"id": int(s["id"].iloc[-100])},
        "filter_greater_dict": {"size": 0},
    },
    "id_fractional": lambda s: {
        "filter_less_dict": {"id": float(s["id"].iloc[-50]) + 0.5},
        "filter_greater_equal_dict": {"id": float(s["id"].iloc[20]) - 0.5},
    },
    "id_equal_and_le": lambda s: {
        "filter_less_equal_dict": {"id": int(s["id"].iloc[-3])},
        "filter_greater_dict": {"id": int(s["id"].iloc[2])},
    },
}


@pytest.mark.parametrize("case", sorted(FILTER_CASES))
def test_query_table_all_rows_equals_one_uncapped_query(
    client: CAVEclient, cave: LocalCAVE, synapse_sample: pd.DataFrame, case: str
) -> None:
    filters = FILTER_CASES[case](synapse_sample)
    exact(cave, client.materialize.query_table, table=SYNAPSES, split_positions=True, **filters)


def test_options_select_columns_merged_positions_resolution_version_records(
    client: CAVEclient, cave: LocalCAVE
) -> None:
    query = client.materialize.query_table
    exact(cave, query, table=SYNAPSES, select_columns=["id", "pre_pt_root_id", "ctr_pt_position"])
    exact(cave, query, table=SYNAPSES, split_positions=False)
    exact(cave, query, table=SYNAPSES, desired_resolution=[1, 1, 1], split_positions=True)
    older = exact(cave, query, table=SYNAPSES, materialization_version=2)
    assert older.attrs["materialization_version"] == 2
    exact(cave, query, table=SYNAPSES, return_df=False)
    # A reference table merged to its target (a join under the hood), and one not merged.
    exact(cave, query, table=CELL_TYPES)
    exact(cave, query, table=CELL_TYPES, merge_reference=False)


def test_timestamps_join_and_view(client: CAVEclient, cave: LocalCAVE) -> None:
    timeline = cave.deployment.component(MaterializationTimeline)
    latest = max(timeline.version_times.values()).replace(tzinfo=UTC)
    moment = latest + timedelta(minutes=30)
    live = exact(cave, client.materialize.live_query, table=SYNAPSES, timestamp=moment)
    assert live.attrs["live_query"] is True
    exact(cave, client.materialize.query_table, table=SYNAPSES, timestamp=moment, split_positions=True)
    exact(
        cave,
        client.materialize.join_query,
        tables=[[CELL_TYPES, "target_id"], [NUCLEI, "id"]],
        suffixes={CELL_TYPES: "", NUCLEI: "_ref"},
        filter_regex_dict={CELL_TYPES: {"cell_type": "^(?!zzz)"}},
    )
    exact(cave, client.materialize.query_view, view_name=VIEW, cap=20)
    exact(cave, client.materialize.query_table, table=CELL_TYPES, filter_regex_dict={"cell_type": "."})


def test_offset_paging_breaks_under_unordered_scans_and_all_rows_stays_exact(
    client: CAVEclient, cave: LocalCAVE
) -> None:
    with uncapped(cave):
        single = client.materialize.query_table(SYNAPSES, select_columns=["id"])
    MaterializationSettings.of(cave.deployment).unordered_scans = True
    pages = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for offset in range(0, len(single), CAP):
            pages.append(client.materialize.query_table(SYNAPSES, offset=offset, limit=CAP))
    paging = [w for w in caught if issubclass(w.category, OffsetPagingWarning)]
    assert len(paging) == len(pages)
    assert "all_rows=True" in str(paging[0].message)
    paged = pd.concat(pages)["id"]
    assert len(paged) == len(single)
    assert paged.nunique() < len(single)  # pages repeated rows and missed as many
    whole = client.materialize.query_table(SYNAPSES, select_columns=["id"], all_rows=True)
    assert sorted(whole["id"]) == sorted(single["id"])
    assert whole["id"].is_unique


def test_offset_warns_and_the_row_limit_warning_names_all_rows(client: CAVEclient) -> None:
    with pytest.warns(CAVEServerWarning) as caught:
        client.materialize.query_table(SYNAPSES, offset=10, limit=50)
    messages = {w.category: str(w.message) for w in caught}
    assert "repeat some rows and miss others" in messages[OffsetPagingWarning]
    # Cut at the caller's own limit: the server's warning is passed on as it is.
    assert messages[CAVEServerWarning] == '201 - "Limited query to 50 rows'
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        # The first page of an answer that was not cut: nothing to warn about.
        client.materialize.query_table(SYNAPSES, offset=0, filter_in_dict={"id": [1, 2, 3]})
    with pytest.warns(CAVEServerWarning) as caught:
        client.materialize.query_table(SYNAPSES, offset=0)
    assert {w.category for w in caught} == {CAVEServerWarning, OffsetPagingWarning}
    with pytest.warns(CAVEServerWarning, match=r"Limited query to 150 rows.*all_rows=True"):
        client.materialize.query_table(SYNAPSES)


class WaitedClock:
    """A clock that stands still except while the client waits: the server's rate-limit window
    then depends on the client's waits alone, not on how fast the machine sends the queries."""

    def __init__(self) -> None:
        self.now = 0.0
        self.waits: list[float] = []
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self.now

    def wait(self, seconds: float) -> None:
        with self._lock:
            self.waits.append(seconds)
            self.now += seconds


def test_rate_limited_server_is_waited_out(
    client: CAVEclient, cave: LocalCAVE, monkeypatch: pytest.MonkeyPatch
) -> None:
    limiter = cave.deployment.component(QueryRateLimiter)
    clock = WaitedClock()
    monkeypatch.setattr(limiter, "_clock", clock)
    client._core.runtime._sleep = clock.wait  # type: ignore[union-attr]
    refused = limiter.refused
    with uncapped(cave):
        single = client.materialize.query_table(NUCLEI)
    configure_materialization(cave.deployment, query_rate_limit=(12, 1.0))
    whole = client.materialize.query_table(NUCLEI, all_rows=True)
    assert limiter.refused > refused
    assert len(clock.waits) == limiter.refused - refused
    assert min(clock.waits) >= 1.0  # the Retry-After of a 1-second window
    pd.testing.assert_frame_equal(comparable(whole), comparable(single))


def test_all_rows_refuses_paging_and_sampling_before_sending(
    client: CAVEclient, cave: LocalCAVE
) -> None:
    before = len(cave.deployment.request_log)
    for argument in ({"offset": 3}, {"limit": 3}, {"random_sample": 10}):
        with pytest.raises(InvalidInputError, match=next(iter(argument))):
            client.materialize.query_table(SYNAPSES, all_rows=True, **argument)
    with pytest.raises(InvalidInputError, match="all_rows"):
        client.materialize.query_table(SYNAPSES, all_rows="yes")  # type: ignore[arg-type]
    assert len(cave.deployment.request_log) == before


def test_a_count_that_disagrees_with_the_rows_is_refused(
    client: CAVEclient, cave: LocalCAVE, monkeypatch: pytest.MonkeyPatch
) -> None:
    from caveclient_gen.errors import UnexpectedResponseError
    from caveclient_gen.testing.materialize import queries

    real = queries.count_frame
    monkeypatch.setattr(queries, "count_frame", lambda count: real(max(0, count - 1)))
    with pytest.raises(UnexpectedResponseError, match="refusing a result that would not be exact"):
        client.materialize.query_table(SYNAPSES, all_rows=True)


def test_the_async_client_fetches_the_same_partitions(client: CAVEclient, cave: LocalCAVE) -> None:
    import asyncio

    from caveclient_gen import AsyncCAVEclient

    with uncapped(cave):
        single = client.materialize.query_table(SYNAPSES, split_positions=True)

    async def partitioned() -> Any:
        async with AsyncCAVEclient(
            cave.datastack,
            server_address=cave.url,
            auth_token=cave.token,
            write_server_cache=False,
        ) as async_client:
            return await async_client.materialize.query_table(
                SYNAPSES, split_positions=True, all_rows=True
            )

    with cave:  # served on 127.0.0.1 for the async client's own connections
        before = len(cave.deployment.request_log)
        frame = asyncio.run(partitioned())
        assert len(cave.deployment.request_log) - before > len(single) // CAP
    assert_same(frame, single)
