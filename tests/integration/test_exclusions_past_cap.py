"""Exclusion filters past the server's row cap, for joins, views and time-travel queries.

LocalCAVE runs with a small row cap and excluded rows that fill several capped answers, so the
client must collect the rows by ranges of a key. Each answer is compared with the rows computed
here from the whole query, fetched once without a cap and filtered with pandas.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import pytest

from caveclient_gen import CAVEclient
from caveclient_gen.errors import ServerIncompatibilityError
from caveclient_gen.testing import InProcessTransport, LocalCAVE
from caveclient_gen.testing.materialize.settings import (
    MaterializationSettings,
    configure_materialization,
)

SYNAPSES = "synapses_pni_2"
NUCLEI = "nucleus_detection_v0"
VIEW = "single_neurons"
REFERENCE = "allen_soma_coarse_cell_class_model_v2"
CAP = 12

pytestmark = [
    pytest.mark.filterwarnings("ignore:201 - .Limited query:UserWarning"),
    pytest.mark.filterwarnings("ignore:.*than limit of:UserWarning"),
    pytest.mark.filterwarnings("ignore:Table Owner Notice:UserWarning"),
]


@pytest.fixture(scope="module")
def cave() -> LocalCAVE:
    return LocalCAVE(seed=3)


@contextmanager
def row_cap(cave: LocalCAVE, cap: int) -> Iterator[None]:
    settings = MaterializationSettings.of(cave.deployment)
    saved = settings.query_limit_size
    settings.query_limit_size = cap
    try:
        yield
    finally:
        settings.query_limit_size = saved


def connect(cave: LocalCAVE) -> CAVEclient:
    return CAVEclient(
        cave.datastack,
        server_address=cave.url,
        auth_token=cave.token,
        transport=InProcessTransport(cave.app),
    )


@pytest.fixture(params=["faithful", "idealised"])
def client(cave: LocalCAVE, request: pytest.FixtureRequest) -> Iterator[CAVEclient]:
    configure_materialization(cave.deployment, exclusion_filter_applied=request.param == "idealised")
    try:
        with connect(cave) as cave_client, row_cap(cave, CAP):
            yield cave_client
    finally:
        configure_materialization(cave.deployment, exclusion_filter_applied=False)


@pytest.fixture(scope="module")
def whole(cave: LocalCAVE) -> Callable[..., pd.DataFrame]:
    """The answer of a query without a row cap (and without exclusions)."""

    def run(method: str, *args: Any, **kwargs: Any) -> pd.DataFrame:
        with connect(cave) as plain, row_cap(cave, 10**9):
            frame = getattr(plain.materialize, method)(*args, **kwargs)
        assert isinstance(frame, pd.DataFrame)
        return frame

    return run


def keys(frame: Any, columns: str | list[str] = "id") -> list[tuple[int, ...]]:
    """The rows' keys (one column, or several that together tell rows apart), each once."""
    assert isinstance(frame, pd.DataFrame)
    named = [columns] if isinstance(columns, str) else columns
    found = [tuple(int(value) for value in row) for row in frame[named].itertuples(index=False)]
    assert len(set(found)) == len(found)
    return sorted(found)


def check_limited(
    frame: Any, expected: pd.DataFrame, limit: int, column: str | list[str] = "id"
) -> None:
    """A limited answer: as many rows as the server would give, each one a matching row."""
    assert isinstance(frame, pd.DataFrame)
    assert len(frame) == min(limit, CAP, len(expected))
    assert set(keys(frame, column)) <= set(keys(expected, column))
    if len(expected) <= min(limit, CAP):
        assert keys(frame, column) == keys(expected, column)


def test_a_join_past_the_cap(client: CAVEclient, whole: Callable[..., pd.DataFrame]) -> None:
    tables = [[REFERENCE, "target_id"], [NUCLEI, "id"]]
    suffixes = {REFERENCE: "_ref", NUCLEI: ""}
    joined = whole("join_query", tables, suffixes=suffixes)
    excluded = sorted(joined["target_id"].tolist())[: len(joined) - 9]
    expected = joined[~joined["target_id"].isin(excluded)]
    assert len(joined) - len(expected) > 5 * CAP
    mat = client.materialize
    for limit in (4, 9, 50):
        frame = mat.join_query(
            tables, filter_out_dict={NUCLEI: {"id": excluded}}, suffixes=suffixes, limit=limit
        )
        check_limited(frame, expected, limit, column="id_ref")
    # an exclusion on the first table, with its columns left out of the selection
    first = sorted(joined["id_ref"].tolist())[4 * CAP :]
    rest = joined[~joined["id_ref"].isin(first)]
    frame = mat.join_query(
        tables,
        filter_out_dict={REFERENCE: {"id": first}},
        select_columns={REFERENCE: ["cell_type"], NUCLEI: ["id", "volume"]},
        suffixes=suffixes,
        limit=CAP - 2,
    )
    assert isinstance(frame, pd.DataFrame)
    assert list(frame.columns) == ["cell_type", "id", "volume"]
    assert len(frame) == CAP - 2
    assert set(frame["id"]) <= set(rest["id"])
    # a limit above the cap: as many rows as the cap, as without exclusions, and said so
    with pytest.warns(UserWarning, match=f"Limited query to {CAP} rows"):
        frame = mat.join_query(
            tables, filter_out_dict={REFERENCE: {"id": first}}, suffixes=suffixes, limit=10 * CAP
        )
    check_limited(frame, rest, 10 * CAP, column="id_ref")


def test_a_reference_table_merged_to_its_target(
    client: CAVEclient, whole: Callable[..., pd.DataFrame]
) -> None:
    merged = whole("query_table", REFERENCE)
    excluded = merged["target_id"].tolist()[: len(merged) - 7]
    expected = merged[~merged["target_id"].isin(excluded)]
    for limit in (5, 7, 100):
        frame = client.materialize.query_table(
            REFERENCE, filter_out_dict={"target_id": excluded}, limit=limit
        )
        check_limited(frame, expected, limit)


def test_a_view_past_the_cap(client: CAVEclient, whole: Callable[..., pd.DataFrame]) -> None:
    view = whole("query_view", VIEW)
    excluded = view["id"].tolist()[: len(view) - 6]
    expected = view[~view["id"].isin(excluded)]
    assert len(view) - len(expected) > CAP
    for limit in (3, 6, 40):
        frame = client.materialize.query_view(VIEW, filter_out_dict={"id": excluded}, limit=limit)
        check_limited(frame, expected, limit)
    records = client.materialize.query_view(
        VIEW,
        filter_out_dict={"pt_root_id": view["pt_root_id"].tolist()[:-6]},
        limit=6,
        return_df=False,
    )
    assert isinstance(records, list)
    assert sorted(r["id"] for r in records) == sorted(expected["id"])


def test_a_time_travel_query_past_the_cap(
    cave: LocalCAVE, client: CAVEclient, whole: Callable[..., pd.DataFrame]
) -> None:
    if MaterializationSettings.of(cave.deployment).exclusion_filter_applied:
        pytest.skip("a query brought forward sends no exclusion: the server's handling is moot")
    now = datetime.now(UTC)
    nuclei = whole("live_query", NUCLEI, now)
    excluded = nuclei["id"].tolist()[: len(nuclei) - 8]
    expected = nuclei[~nuclei["id"].isin(excluded)]
    for limit in (5, 30):
        frame = client.materialize.live_query(NUCLEI, now, filter_out_dict={"id": excluded}, limit=limit)
        check_limited(frame, expected, limit)


def test_a_live_join_past_the_cap(client: CAVEclient, whole: Callable[..., pd.DataFrame]) -> None:
    now = datetime.now(UTC)
    joins = [[REFERENCE, "target_id", NUCLEI, "id"]]
    suffixes = {REFERENCE: "_ref", NUCLEI: ""}
    joined = whole("live_live_query", REFERENCE, now, joins=joins, suffixes=suffixes)
    excluded = joined["target_id"].tolist()[: len(joined) - 5]
    expected = joined[~joined["target_id"].isin(excluded)]
    for limit in (3, 20):
        frame = client.materialize.live_live_query(
            REFERENCE,
            now,
            joins=joins,
            filter_out_dict={NUCLEI: {"id": excluded}},
            suffixes=suffixes,
            limit=limit,
        )
        check_limited(frame, expected, limit, column="id_ref")


def test_a_join_whose_first_table_fans_out_past_the_cap(
    client: CAVEclient, whole: Callable[..., pd.DataFrame]
) -> None:
    """A nucleus joined to more synapses than an answer holds: its rows are split by the
    synapses' ids."""
    tables = [[NUCLEI, "pt_root_id"], [SYNAPSES, "post_pt_root_id"]]
    suffixes = {NUCLEI: "", SYNAPSES: "_syn"}
    everything = whole("join_query", tables, suffixes=suffixes)
    per_nucleus = everything["id"].value_counts()
    # the two busiest nuclei and the least busy one
    chosen = [int(i) for i in per_nucleus.index[:2]] + [int(per_nucleus.index[-1])]
    assert per_nucleus[chosen[1]] > 3 * CAP
    joined = everything[everything["id"].isin(chosen)]
    kept = [
        *joined.loc[joined["id"] == chosen[0], "id_syn"].tolist()[-2:],
        *joined.loc[joined["id"] == chosen[1], "id_syn"].tolist()[:2],
        *joined.loc[joined["id"] == chosen[2], "id_syn"].tolist()[:1],
    ]
    # a synapse joins every nucleus of its root: rows are told apart by both ids
    expected = joined[joined["id_syn"].isin(kept)]
    assert 5 <= len(expected) < CAP
    excluded = {SYNAPSES: {"id": sorted(set(joined["id_syn"]) - set(kept))}}
    for limit in (4, 40):
        frame = client.materialize.join_query(
            tables,
            filter_in_dict={NUCLEI: {"id": chosen}},
            filter_out_dict=excluded,
            suffixes=suffixes,
            limit=limit,
        )
        check_limited(frame, expected, limit, column=["id", "id_syn"])


def test_a_random_sample_past_the_cap_is_refused(cave: LocalCAVE, client: CAVEclient) -> None:
    """Each window would draw a sample of its own: their union would not be one sample."""
    if MaterializationSettings.of(cave.deployment).exclusion_filter_applied:
        pytest.skip("the server's own exclusion leaves nothing to collect")
    with pytest.raises(ServerIncompatibilityError, match="random sample"):
        client.materialize.query_table(
            SYNAPSES, filter_out_dict={"size": list(range(0, 10_000))}, random_sample=2_000, limit=5
        )
