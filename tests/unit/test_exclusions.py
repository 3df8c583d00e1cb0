"""Exclusion filters against a server that ignores them (as MaterializationEngine 5.26.4 does)."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import httpx
import pandas as pd
import pytest

from caveclient_gen.errors import InvalidInputError, ServerIncompatibilityError
from caveclient_gen.services.materialize import MaterializationClient

from .materialize_support import (
    V3,
    FakeCAVE,
    arrow_stream,
    standard_materialize,
    synapse_frame,
    table_metadata,
)

QUERY = f"{V3}/version/3/table/synapses/query"


def rows(n: int) -> pd.DataFrame:
    """n synapse rows; ids 1..n, post_pt_root_id 7 for ids divisible by 4, else 8."""
    base = synapse_frame()
    frame = pd.concat([base] * (n // 3 + 1), ignore_index=True).iloc[:n].copy()
    frame["id"] = range(1, n + 1)
    frame["post_pt_root_id"] = [7 if i % 4 == 0 else 8 for i in range(1, n + 1)]
    return frame


class IgnoringServer:
    """Answers every query from `table`, ignoring exclusions, honouring limits, counts and a cap."""

    def __init__(self, table: pd.DataFrame, cap: int = 10_000, name: str = "synapses") -> None:
        self.table = table
        self.cap = cap
        self.name = name
        self.bodies: list[dict[str, Any]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        self.bodies.append(body)
        frame = self.table
        tests = {
            "filter_in_dict": lambda values, allowed: values.isin(allowed),
            "filter_equal_dict": lambda values, value: values == value,
            "filter_greater_equal_dict": lambda values, value: values >= value,
            "filter_less_dict": lambda values, value: values < value,
        }
        for key, test in tests.items():
            for column, value in (body.get(key) or {}).get(self.name, {}).items():
                # a null never matches, as in SQL
                frame = frame[test(frame[column], value).fillna(False).astype(bool)]
        headers = [("content-type", "data.arrow")]
        if request.url.params.get("count") == "True":
            frame = pd.DataFrame({"count": [len(frame)]})
        else:
            limit = min(int(body.get("limit", self.cap)), self.cap)
            frame = frame.iloc[:limit]
            if len(frame) == limit:
                headers.append(("warning", f'201 - "Limited query to {limit} rows'))
        return httpx.Response(200, content=arrow_stream(frame.reset_index(drop=True)), headers=headers)


@pytest.fixture
def fake() -> FakeCAVE:
    fake = FakeCAVE()
    standard_materialize(fake)
    return fake


def test_a_limit_is_met_by_asking_for_more(fake: FakeCAVE) -> None:
    server = IgnoringServer(rows(100))
    fake.route("POST", QUERY, server)
    with pytest.warns(UserWarning, match="Limited query to 10 rows"):
        frame = fake.materialize().query_table(
            "synapses", filter_out_dict={"post_pt_root_id": [8]}, limit=10
        )
    assert isinstance(frame, pd.DataFrame)
    assert frame["id"].tolist() == [4, 8, 12, 16, 20, 24, 28, 32, 36, 40]
    # the second limit follows from the share of rows kept by the first answer (2 of 10)
    assert [body["limit"] for body in server.bodies] == [10, 63]
    assert frame.attrs["limit"] == 10


def test_counts_subtract_the_excluded_rows(fake: FakeCAVE) -> None:
    server = IgnoringServer(rows(100))
    fake.route("POST", QUERY, server)
    counted = fake.materialize().query_table(
        "synapses", filter_out_dict={"post_pt_root_id": [8], "id": [4, 5, 6]}, get_counts=True
    )
    assert isinstance(counted, pd.DataFrame)
    # 25 rows on root 7, one of them (id 4) excluded by id
    assert counted["count"].tolist() == [24]
    assert len(server.bodies) == 4  # all, each exclusion, both: inclusion-exclusion
    assert all("filter_notin_dict" not in body for body in server.bodies)


def test_a_server_cap_is_passed_by_windows_of_id(fake: FakeCAVE) -> None:
    """Excluded rows fill the capped answers: the rows are collected by ranges of id instead."""
    server = IgnoringServer(rows(100), cap=20)
    fake.route("POST", QUERY, server)
    with pytest.warns(UserWarning, match="Limited query to 15 rows"):
        frame = fake.materialize().query_table(
            "synapses",
            filter_out_dict={"post_pt_root_id": [8]},
            filter_less_dict={"id": 90},
            limit=15,
        )
    assert isinstance(frame, pd.DataFrame)
    assert frame["id"].tolist() == list(range(4, 61, 4))
    windows = [body for body in server.bodies if "filter_greater_equal_dict" in body]
    assert windows
    assert all(body["filter_less_dict"]["synapses"]["id"] <= 90 for body in windows)
    # every passing row when there are fewer than the limit
    everything = fake.materialize().query_table(
        "synapses", filter_out_dict={"post_pt_root_id": [8]}, limit=20, log_warning=False
    )
    assert isinstance(everything, pd.DataFrame)
    assert everything["id"].tolist() == list(range(4, 81, 4))
    few = fake.materialize().query_table(
        "synapses",
        filter_out_dict={"post_pt_root_id": [8]},
        filter_less_dict={"id": 30},
        limit=19,
        log_warning=False,
    )
    assert isinstance(few, pd.DataFrame)
    assert few["id"].tolist() == [4, 8, 12, 16, 20, 24, 28]


def test_a_join_past_the_cap_is_collected_by_windows_of_its_first_table(fake: FakeCAVE) -> None:
    fake.route("GET", f"{V3}/version/3/table/nuclei/metadata", table_metadata("nuclei"))
    server = IgnoringServer(rows(100), cap=20)
    fake.route("POST", f"{V3}/version/3/query", server)
    with pytest.warns(UserWarning, match="Limited query to 15 rows"):
        frame = fake.materialize().join_query(
            [["synapses", "id"], ["nuclei", "id"]],
            filter_out_dict={"synapses": {"post_pt_root_id": [8]}},
            limit=15,
            metadata=False,
        )
    assert isinstance(frame, pd.DataFrame)
    assert frame["id"].tolist() == list(range(4, 61, 4))
    windows = [body for body in server.bodies if "filter_less_dict" in body]
    # negative ids first (none here), then windows of the first table's ids from 0
    assert windows[0]["filter_less_dict"] == {"synapses": {"id": 0}}
    assert "filter_greater_equal_dict" not in windows[0]
    assert all(set(body["filter_less_dict"]) == {"synapses"} for body in windows)


VIEW_QUERY = f"{V3}/version/3/views/neurons/query"
VIEW_SCHEMA = f"{V3}/version/3/views/neurons/schema"


def view_rows(n: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": pd.array(range(1, n + 1), dtype="Int64"),
            "post_pt_root_id": [7 if i % 4 == 0 else 8 for i in range(1, n + 1)],
        }
    )


def test_a_view_past_the_cap_is_collected_by_windows_of_its_id(fake: FakeCAVE) -> None:
    fake.route("GET", VIEW_SCHEMA, {"id": {"type": "integer"}, "post_pt_root_id": {"type": "integer"}})
    server = IgnoringServer(view_rows(60), cap=20, name="neurons")
    fake.route("POST", VIEW_QUERY, server)
    frame = fake.materialize().query_view(
        "neurons", filter_out_dict={"post_pt_root_id": [8]}, limit=18, metadata=False
    )
    assert isinstance(frame, pd.DataFrame)
    assert frame["id"].tolist() == list(range(4, 61, 4))
    # the windows ran out short of the limit: the server's count of the query confirmed them
    assert sum("count" in str(request.url) for request in fake.requests) == 1


def test_a_view_whose_id_windows_miss_rows_is_refused(fake: FakeCAVE) -> None:
    """Rows with a null id are in no window: the count tells, and the answer is refused."""
    fake.route("GET", VIEW_SCHEMA, {"id": {"type": "integer"}, "post_pt_root_id": {"type": "integer"}})
    table = view_rows(60)
    table.loc[table["post_pt_root_id"] == 7, "id"] = pd.NA
    fake.route("POST", VIEW_QUERY, IgnoringServer(table, cap=20, name="neurons"))
    with pytest.raises(ServerIncompatibilityError, match=r"counts 60 rows .* hold 45"):
        fake.materialize().query_view(
            "neurons", filter_out_dict={"post_pt_root_id": [8]}, limit=18, metadata=False
        )


def test_a_view_without_an_integer_id_is_refused_past_the_cap(fake: FakeCAVE) -> None:
    fake.route("GET", VIEW_SCHEMA, {"name": {"type": "string"}, "post_pt_root_id": {"type": "integer"}})
    table = view_rows(100).rename(columns={"id": "name"}).astype({"name": str})
    fake.route("POST", VIEW_QUERY, IgnoringServer(table, cap=20, name="neurons"))
    with pytest.raises(
        ServerIncompatibilityError, match="no 'id' column that its schema shows to be an integer"
    ):
        fake.materialize().query_view(
            "neurons", filter_out_dict={"post_pt_root_id": [8]}, limit=10, metadata=False
        )
    # under the cap it needs no key
    with pytest.warns(UserWarning, match="Limited query to 10 rows"):
        frame = fake.materialize().query_view(
            "neurons", filter_out_dict={"post_pt_root_id": [7]}, limit=10, metadata=False
        )
    assert isinstance(frame, pd.DataFrame)
    assert len(frame) == 10


def test_a_random_sample_is_not_collected_by_windows(fake: FakeCAVE) -> None:
    fake.route("POST", QUERY, IgnoringServer(rows(100), cap=20))
    with pytest.raises(ServerIncompatibilityError, match="random sample"):
        fake.materialize().query_table(
            "synapses", filter_out_dict={"post_pt_root_id": [8]}, random_sample=50, limit=10
        )


def test_a_limit_above_the_server_cap_gives_as_many_rows_as_the_cap(fake: FakeCAVE) -> None:
    fake.route("POST", QUERY, IgnoringServer(rows(100), cap=20))
    with pytest.warns(UserWarning, match="Limited query to 20 rows"):
        frame = fake.materialize().query_table(
            "synapses", filter_out_dict={"post_pt_root_id": [8]}, limit=50
        )
    assert isinstance(frame, pd.DataFrame)
    assert frame["id"].tolist() == list(range(4, 81, 4))


def test_offset_with_exclusions_is_refused_before_any_request(fake: FakeCAVE) -> None:
    before = len(fake.requests)
    with pytest.raises(InvalidInputError) as raised:
        fake.materialize().query_table("synapses", filter_out_dict={"id": [1]}, offset=3)
    assert raised.value.parameter == "offset"
    assert re.search("filter_out_dict", str(raised.value))
    assert len(fake.requests) == before


def test_the_async_client_meets_the_limit_and_counts_too(fake: FakeCAVE) -> None:
    server = IgnoringServer(rows(100))
    fake.route("POST", QUERY, server)

    async def run() -> tuple[Any, Any]:
        async with fake.async_client() as client:
            materialize = MaterializationClient(client._core)
            frame = await materialize.query_table(
                "synapses", filter_out_dict={"post_pt_root_id": [8]}, limit=10, log_warning=False
            )
            counted = await materialize.query_table(
                "synapses", filter_out_dict={"post_pt_root_id": [8]}, get_counts=True
            )
            return frame, counted

    frame, counted = asyncio.run(run())
    assert frame["id"].tolist() == [4, 8, 12, 16, 20, 24, 28, 32, 36, 40]
    assert counted["count"].tolist() == [25]


def test_a_capped_answer_with_nothing_excluded_is_kept_as_it_is(fake: FakeCAVE) -> None:
    server = IgnoringServer(rows(100), cap=20)
    fake.route("POST", QUERY, server)
    with pytest.warns(UserWarning, match="Limited query to 20 rows"):
        frame = fake.materialize().query_table("synapses", filter_out_dict={"id": [500]}, limit=50)
    assert isinstance(frame, pd.DataFrame)
    assert len(frame) == 20
    assert len(server.bodies) == 1


def test_more_rows_than_the_cap_on_one_id_of_a_view_are_refused(fake: FakeCAVE) -> None:
    fake.route("GET", VIEW_SCHEMA, {"id": {"type": "integer"}, "post_pt_root_id": {"type": "integer"}})
    table = view_rows(60)
    table["id"] = 5
    fake.route("POST", VIEW_QUERY, IgnoringServer(table, cap=20, name="neurons"))
    with pytest.raises(ServerIncompatibilityError, match=r"share one value of neurons.id \(5\)"):
        fake.materialize().query_view(
            "neurons", filter_out_dict={"post_pt_root_id": [8]}, limit=18, metadata=False
        )
