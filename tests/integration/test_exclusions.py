"""Exclusion filters give exact answers whether or not the server applies them.

LocalCAVE ignores `filter_notin_dict` like MaterializationEngine 5.26.4 by default ("faithful");
`configure_materialization(exclusion_filter_applied=True)` makes it apply them ("idealised").
Every answer below is compared with the full table filtered here.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import pytest

from caveclient_gen import CAVEclient
from caveclient_gen.errors import InvalidInputError
from caveclient_gen.testing import InProcessTransport, LocalCAVE
from caveclient_gen.testing.materialize.settings import configure_materialization

SYNAPSES = "synapses_pni_2"
NUCLEI = "nucleus_detection_v0"
VIEW = "single_neurons"
REFERENCE = "allen_soma_coarse_cell_class_model_v2"


@pytest.fixture(scope="module")
def cave() -> LocalCAVE:
    return LocalCAVE(seed=3)


@pytest.fixture(params=["faithful", "idealised"])
def client(cave: LocalCAVE, request: pytest.FixtureRequest) -> Iterator[CAVEclient]:
    configure_materialization(cave.deployment, exclusion_filter_applied=request.param == "idealised")
    with CAVEclient(
        cave.datastack,
        server_address=cave.url,
        auth_token=cave.token,
        transport=InProcessTransport(cave.app),
    ) as cave_client:
        yield cave_client
    configure_materialization(cave.deployment, exclusion_filter_applied=False)


@pytest.fixture(scope="module")
def synapses(cave: LocalCAVE) -> pd.DataFrame:
    with CAVEclient(
        cave.datastack,
        server_address=cave.url,
        auth_token=cave.token,
        transport=InProcessTransport(cave.app),
    ) as plain:
        frame = plain.materialize.query_table(SYNAPSES, split_positions=True)
    assert isinstance(frame, pd.DataFrame)
    return frame


def busiest_root(synapses: pd.DataFrame) -> int:
    return int(synapses["pre_pt_root_id"].value_counts().index[0])


def test_a_limit_is_met_although_the_first_rows_were_excluded(
    client: CAVEclient, synapses: pd.DataFrame
) -> None:
    root = busiest_root(synapses)
    mine = synapses[synapses["pre_pt_root_id"] == root]
    # exclude most of the root's synapses: a first answer of 50 rows keeps few of them
    excluded = mine["id"].tolist()[: len(mine) * 4 // 5]
    wanted = mine[~mine["id"].isin(excluded)]
    assert len(wanted) > 50
    with pytest.warns(UserWarning, match="Limited query to 50 rows"):
        frame = client.materialize.query_table(
            SYNAPSES,
            filter_equal_dict={"pre_pt_root_id": root},
            filter_out_dict={"id": excluded},
            limit=50,
        )
    assert isinstance(frame, pd.DataFrame)
    assert len(frame) == 50
    assert set(frame["id"]) <= set(wanted["id"])
    assert frame["id"].is_unique
    assert frame.attrs["limit"] == 50
    # fewer matching rows than the limit: all of them
    few = wanted["id"].tolist()[:3]
    rest = client.materialize.query_table(
        SYNAPSES,
        filter_equal_dict={"pre_pt_root_id": root},
        filter_out_dict={"id": excluded},
        filter_in_dict={"id": excluded[:5] + few},
        limit=10_000,
    )
    assert isinstance(rest, pd.DataFrame)
    assert sorted(rest["id"]) == sorted(few)


def test_records_and_unselected_exclusion_columns(client: CAVEclient, synapses: pd.DataFrame) -> None:
    root = busiest_root(synapses)
    mine = synapses[synapses["pre_pt_root_id"] == root]
    partners = mine["post_pt_root_id"].drop_duplicates().tolist()[:20]
    wanted = mine[~mine["post_pt_root_id"].isin(partners)]
    records = client.materialize.query_table(
        SYNAPSES,
        filter_equal_dict={"pre_pt_root_id": root},
        filter_out_dict={"post_pt_root_id": partners},
        select_columns=["id", "size"],
        return_df=False,
    )
    assert isinstance(records, list)
    assert sorted(r["id"] for r in records) == sorted(wanted["id"])
    assert all(set(r) == {"id", "size"} for r in records)
    with pytest.warns(UserWarning, match=f"Limited query to {len(wanted) - 1} rows"):
        frame = client.materialize.query_table(
            SYNAPSES,
            filter_equal_dict={"pre_pt_root_id": root},
            filter_out_dict={"post_pt_root_id": partners},
            select_columns=["id", "size"],
            limit=len(wanted) - 1,
        )
    assert isinstance(frame, pd.DataFrame)
    assert list(frame.columns) == ["id", "size"]
    assert len(frame) == len(wanted) - 1
    assert set(frame["id"]) <= set(wanted["id"])


def test_counts_leave_out_the_excluded_rows(client: CAVEclient, synapses: pd.DataFrame) -> None:
    root = busiest_root(synapses)
    mine = synapses[synapses["pre_pt_root_id"] == root]
    posts = mine["post_pt_root_id"].drop_duplicates().tolist()[:30]
    sizes = mine["size"].drop_duplicates().tolist()[:40]
    expected = mine[~mine["post_pt_root_id"].isin(posts) & ~mine["size"].isin(sizes)]
    counted = client.materialize.query_table(
        SYNAPSES,
        filter_equal_dict={"pre_pt_root_id": root},
        filter_out_dict={"post_pt_root_id": posts, "size": sizes},
        get_counts=True,
    )
    assert isinstance(counted, pd.DataFrame)
    assert counted["count"].tolist() == [len(expected)]
    # an inclusion on an excluded column: only the common values are counted out
    kept_posts = posts[:10] + mine["post_pt_root_id"].drop_duplicates().tolist()[30:35]
    both = mine[mine["post_pt_root_id"].isin(kept_posts)]
    counted = client.materialize.query_table(
        SYNAPSES,
        filter_equal_dict={"pre_pt_root_id": root},
        filter_in_dict={"post_pt_root_id": kept_posts},
        filter_out_dict={"post_pt_root_id": posts},
        get_counts=True,
        return_df=False,
    )
    assert counted == [{"count": int((~both["post_pt_root_id"].isin(posts)).sum())}]


def test_offset_with_exclusions_is_refused_before_sending(client: CAVEclient) -> None:
    calls = [
        lambda: client.materialize.query_table(SYNAPSES, filter_out_dict={"size": [1]}, offset=5),
        lambda: client.materialize.query_view(VIEW, filter_out_dict={"id": [1]}, offset=5),
        lambda: client.materialize.join_query(
            [[SYNAPSES, "post_pt_root_id"], [NUCLEI, "pt_root_id"]],
            filter_out_dict={NUCLEI: {"id": [1]}},
            offset=5,
        ),
        lambda: client.materialize.live_live_query(
            NUCLEI, datetime.now(UTC), filter_out_dict={NUCLEI: {"id": [1]}}, offset=5
        ),
        lambda: client.materialize.live_query(
            NUCLEI, datetime.now(UTC), filter_out_dict={"id": [1]}, offset=5
        ),
    ]
    for call in calls:
        with pytest.raises(InvalidInputError) as raised:
            call()
        assert raised.value.parameter == "offset"
        assert "filter_out_dict" in str(raised.value)
    with pytest.raises(InvalidInputError) as raised:
        client.materialize.query_table(
            SYNAPSES, filter_out_dict={"size": [1]}, get_counts=True, random_sample=10
        )
    assert raised.value.parameter == "random_sample"


def _ids(frame: Any) -> list[int]:
    assert isinstance(frame, pd.DataFrame)
    return sorted(int(i) for i in frame["id"])


@pytest.mark.filterwarnings("ignore:201 - .Limited query:UserWarning")
@pytest.mark.filterwarnings("ignore:result has:UserWarning")
@pytest.mark.filterwarnings("ignore:Table Owner Notice:UserWarning")
def test_views_joins_and_live_queries(client: CAVEclient) -> None:
    mat = client.materialize
    view = mat.query_view(VIEW)
    assert isinstance(view, pd.DataFrame)
    dropped = view["id"].tolist()[: len(view) - 5]
    kept = sorted(set(view["id"]) - set(dropped))
    assert len(mat.query_view(VIEW, filter_out_dict={"id": dropped}, limit=4)) == 4
    assert _ids(mat.query_view(VIEW, filter_out_dict={"id": dropped}, limit=100)) == kept
    counted = mat.query_view(VIEW, filter_out_dict={"id": dropped}, get_counts=True)
    assert isinstance(counted, pd.DataFrame)
    assert counted["count"].tolist() == [5]

    nuclei = mat.query_table(NUCLEI)
    assert isinstance(nuclei, pd.DataFrame)
    gone = nuclei["id"].tolist()[: len(nuclei) - 7]
    rest = sorted(set(nuclei["id"]) - set(gone))
    now = datetime.now(UTC)
    live = mat.live_live_query(NUCLEI, now, filter_out_dict={NUCLEI: {"id": gone}}, limit=6)
    assert len(live) == 6
    assert set(live["id"]) <= set(rest)
    assert _ids(mat.live_live_query(NUCLEI, now, filter_out_dict={NUCLEI: {"id": gone}})) == rest
    travelled = mat.live_query(NUCLEI, now, filter_out_dict={"id": gone}, limit=6)
    assert len(travelled) == 6
    assert set(travelled["id"]) <= set(rest)
    assert travelled.attrs["limit"] == 6

    joined = mat.join_query(
        [[REFERENCE, "target_id"], [NUCLEI, "id"]],
        filter_out_dict={NUCLEI: {"id": gone}},
        suffixes={REFERENCE: "_ref", NUCLEI: ""},
        select_columns={REFERENCE: ["id", "cell_type"], NUCLEI: ["volume"]},
        limit=3,
    )
    assert isinstance(joined, pd.DataFrame)
    assert len(joined) <= 3
    everything = mat.join_query(
        [[REFERENCE, "target_id"], [NUCLEI, "id"]], suffixes={REFERENCE: "_ref", NUCLEI: ""}
    )
    assert isinstance(everything, pd.DataFrame)
    expected = everything[~everything["target_id"].isin(gone)]
    assert len(joined) == min(3, len(expected))
    assert set(joined["id_ref"]) <= set(expected["id_ref"])


def test_a_server_row_cap_is_passed_by_windows_of_id(
    cave: LocalCAVE, client: CAVEclient, synapses: pd.DataFrame
) -> None:
    from caveclient_gen.testing.materialize.settings import MaterializationSettings

    settings = MaterializationSettings.of(cave.deployment)
    saved = settings.query_limit_size
    configure_materialization(cave.deployment, query_limit_size=60)
    try:
        root = busiest_root(synapses)
        mine = synapses[synapses["pre_pt_root_id"] == root]
        excluded = mine["id"].tolist()[: len(mine) * 4 // 5]
        wanted = mine[~mine["id"].isin(excluded)]
        with pytest.warns(UserWarning, match="Limited query to 50 rows"):
            frame = client.materialize.query_table(
                SYNAPSES,
                filter_equal_dict={"pre_pt_root_id": root},
                filter_out_dict={"id": excluded},
                limit=50,
            )
        assert isinstance(frame, pd.DataFrame)
        assert len(frame) == 50
        assert frame["id"].is_unique
        assert set(frame["id"]) <= set(wanted["id"])
        for limit, expected in ((55, 55), (500, 60)):  # above the cap: as many as the cap
            live = client.materialize.live_live_query(
                SYNAPSES,
                datetime.now(UTC),
                filter_equal_dict={SYNAPSES: {"pre_pt_root_id": root}},
                filter_out_dict={SYNAPSES: {"id": excluded}},
                limit=limit,
                log_warning=False,
            )
            assert len(live) == expected
            assert live["id"].is_unique
            assert set(live["id"]) <= set(wanted["id"])
        few = client.materialize.query_table(
            SYNAPSES,
            filter_equal_dict={"pre_pt_root_id": root},
            filter_out_dict={"id": excluded},
            filter_in_dict={"id": excluded[:100] + wanted["id"].tolist()[:7]},
            limit=50,
        )
        assert isinstance(few, pd.DataFrame)
        assert sorted(few["id"]) == sorted(wanted["id"].tolist()[:7])
    finally:
        settings.query_limit_size = saved
