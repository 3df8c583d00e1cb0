"""Tests written for caveclient, which mock `requests` with the `responses` package, keep working.

While a `responses` mock is active, the client's requests are answered by it (through
`caveclient_gen._http.requests_mocks`); otherwise they go over httpx as always, and a transport
given to the client is never bypassed.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
import requests
import responses
import respx
from responses import matchers

from caveclient_gen import AsyncCAVEclient, CAVEclient
from caveclient_gen._defaults import CONNECT_TIMEOUT, READ_TIMEOUT
from caveclient_gen._http import requests_mocks
from caveclient_gen.errors import CAVEConnectionError, CAVEServerWarning, RequestNotSentError
from caveclient_gen.mock import CAVEclientMock, default_info
from caveclient_gen.testing import LocalCAVE

from .materialize_support import SYNAPSE_SCHEMA, table_metadata
from .mocked_requests_support import (
    GLOBAL,
    LOCAL,
    MATERIALIZE,
    SEGMENTATION,
    TOKEN,
    arrow_body,
    async_client_of_record,
    client_of_record,
    free_port,
    repeated_headers,
    synapses,
    urls_sent_through_requests,
)


@pytest.fixture
def mocked() -> Iterator[responses.RequestsMock]:
    """An active `responses` mock that fails the test if a registered answer is never asked for."""
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


def test_get_roots_is_answered_with_the_mocks_uint64_bytes(mocked: responses.RequestsMock) -> None:
    roots = np.array([864691135000000001, 2**64 - 3, 0], dtype=np.uint64)  # one beyond int64
    supervoxels = np.array([88, 2**63 + 5, 99], dtype=np.uint64)
    registered = mocked.post(
        f"{SEGMENTATION}/roots_binary?timestamp=1717545600.0",
        body=roots.tobytes(),
        content_type="application/octet-stream",
    )
    client = CAVEclientMock(chunkedgraph=True)

    answer = client.chunkedgraph.get_roots(supervoxels, timestamp=datetime(2024, 6, 5, tzinfo=UTC))

    assert answer.dtype == np.uint64
    assert answer.tolist() == roots.tolist()
    sent = registered.calls[0].request
    assert np.frombuffer(sent.body, dtype=np.uint64).tolist() == supervoxels.tolist()
    assert sent.headers["Authorization"] == f"Bearer {TOKEN}"
    assert sent.req_kwargs["timeout"] == (CONNECT_TIMEOUT, READ_TIMEOUT)


def test_query_strings_are_the_ones_caveclient_sends(mocked: responses.RequestsMock) -> None:
    # Parameters left to the server's default are not sent; booleans are spelled True/False.
    bounds = "0-10_0-20_0-30"
    subgraph = mocked.get(
        f"{SEGMENTATION}/node/{2**60}/subgraph?bounds={bounds}",
        json={"nodes": [[1, 2]], "affinities": [0.5], "areas": [3]},
    )
    covering = mocked.post(
        f"{SEGMENTATION}/minimal_covering_nodes?as_array=True",
        body=np.array([7], dtype=np.uint64).tobytes(),
    )
    merge = mocked.post(
        f"{SEGMENTATION}/merge?priority=False",
        json={"operation_id": 1, "new_root_ids": [9]},
    )
    client = CAVEclientMock(chunkedgraph=True)

    client.chunkedgraph.get_subgraph(2**60, bounds=[[0, 10], [0, 20], [0, 30]])
    client.chunkedgraph.get_minimal_covering_nodes([5])
    client.chunkedgraph.do_merge([1, 2], [[1, 2, 3], [4, 5, 6]])

    assert subgraph.call_count == covering.call_count == merge.call_count == 1


def test_the_newest_version_is_the_one_the_test_mocks(mocked: responses.RequestsMock) -> None:
    # CAVEclientMock answers the version list only for the check of a pinned version.
    mocked.get(
        f"{LOCAL}/materialize/api/v3/datastack/test_stack/versions",
        json=[1],
        match=[matchers.query_param_matcher({"expired": False})],
    )
    client = CAVEclientMock(materialization=True)
    assert client.materialize.most_recent_version() == 1
    assert client.materialize.version == 1


def test_a_query_string_the_mock_does_not_expect_is_not_answered(
    mocked: responses.RequestsMock,
) -> None:
    mocked.post(f"{SEGMENTATION}/roots_binary?fail_to_zero=false", body=b"")
    client = CAVEclientMock(chunkedgraph=True)
    with pytest.raises(CAVEConnectionError, match="doesn't match any registered mock"):
        client.chunkedgraph.get_roots([1])
    mocked.assert_all_requests_are_fired = False


def test_a_tests_own_registration_wins_over_the_mocks_fixed_answer(
    mocked: responses.RequestsMock,
) -> None:
    mocked.get(f"{LOCAL}/skeletoncache/api/version", json="0.1.2")
    record = {**default_info(LOCAL), "description": "registered by the test"}
    mocked.get(f"{GLOBAL}/info/api/v2/datastack/full/test_stack", json=record)
    client = CAVEclientMock(skeleton_service=True, global_server=GLOBAL, local_server=LOCAL)

    assert str(client.skeleton.get_version()) == "0.1.2"
    assert client.info.get_datastack_info()["description"] == "registered by the test"


def test_the_mocks_fixed_answer_stands_when_no_registration_matches(
    mocked: responses.RequestsMock,
) -> None:
    mocked.get(f"{LOCAL}/skeletoncache/api/versions", json=[-1, 0, 1, 2, 3, 4])
    client = CAVEclientMock(
        skeleton_service=True,
        skeleton_service_server_version="3.4.5",
        global_server=GLOBAL,
        local_server=LOCAL,
    )

    assert str(client.skeleton.get_version()) == "3.4.5"
    assert client.skeleton.get_versions() == [-1, 0, 1, 2, 3, 4]


def test_a_registered_failure_of_a_fixed_route_is_not_replaced(
    mocked: responses.RequestsMock,
) -> None:
    mocked.get(f"{LOCAL}/skeletoncache/api/version", body=requests.ConnectionError("down"))
    client = CAVEclientMock(skeleton_service=True, global_server=GLOBAL, local_server=LOCAL)
    with pytest.raises(CAVEConnectionError):
        client.skeleton.get_version()


def test_the_datastack_record_is_answered_gzipped_and_decoded_once(
    mocked: responses.RequestsMock,
) -> None:
    record = {**default_info(LOCAL), "description": "from the mock"}
    mocked.get(
        f"{GLOBAL}/info/api/v2/datastack/full/test_stack",
        body=gzip.compress(json.dumps(record).encode()),
        headers={"Content-Encoding": "gzip"},
        content_type="application/json",
    )
    client = CAVEclient(
        "test_stack", server_address=GLOBAL, auth_token="t", write_server_cache=False, max_retries=0
    )

    info = client.info.get_datastack_info()

    assert info["description"] == "from the mock"
    assert client.info.local_server() == LOCAL


def test_query_table_reads_the_mocks_arrow_answer_with_every_header(
    mocked: responses.RequestsMock,
) -> None:
    mocked.get(f"{MATERIALIZE}/table/synapses/metadata", json=table_metadata("synapses"))
    mocked.get(f"{GLOBAL}/schema/api/v2/type/synapse", json=SYNAPSE_SCHEMA)
    query = mocked.post(
        f"{MATERIALIZE}/table/synapses/query",
        body=arrow_body(synapses()),
        content_type="data.arrow",
        headers=repeated_headers(
            ("Warning", "first notice"),
            ("Warning", "second notice"),
            ("dataframe_resolution", "4.0"),
            ("dataframe_resolution", "4.0"),
            ("dataframe_resolution", "40.0"),
        ),
        match=[
            matchers.json_params_matcher(
                {"filter_in_dict": {"synapses": {"id": [1, 2]}}}, strict_match=False
            )
        ],
    )
    client = CAVEclientMock(materialization=True, set_version=2)

    with pytest.warns(CAVEServerWarning) as warned:
        frame = client.materialize.query_table("synapses", filter_in_dict={"id": [1, 2]})

    assert sorted(str(w.message) for w in warned) == ["first notice", "second notice"]
    assert frame["id"].tolist() == [1, 2]
    assert frame["pre_pt_root_id"].tolist() == [864691135000000001, 864691135000000002]
    assert frame["pre_pt_position"].map(list).tolist() == [[1, 2, 3], [4, 5, 6]]
    assert frame.attrs["dataframe_resolution"] == [4.0, 4.0, 40.0]
    assert query.call_count == 1


def test_a_state_upload_posts_the_json_document(mocked: responses.RequestsMock) -> None:
    state = {"layers": [{"type": "segmentation", "segments": ["864691135000000001"]}], "zoom": 1.5}
    upload = mocked.post(
        f"{GLOBAL}/nglstate/api/v1/post",
        json=f"{GLOBAL}/nglstate/api/v1/123456",
        match=[matchers.json_params_matcher(state)],
    )
    client = CAVEclientMock(json_service=True)

    assert client.state.upload_state_json(state) == 123456
    assert upload.calls[0].request.headers["Authorization"] == f"Bearer {TOKEN}"


def test_an_unmatched_url_fails_as_a_refused_connection_does(mocked: responses.RequestsMock) -> None:
    mocked.assert_all_requests_are_fired = False
    client = client_of_record(max_retries=0)
    with pytest.raises(requests.ConnectionError) as unmatched:
        client.chunkedgraph.get_root_id(5)
    assert isinstance(unmatched.value, CAVEConnectionError)
    assert isinstance(unmatched.value.__cause__, httpx.ConnectError)
    assert unmatched.value.method == "GET"
    assert "/segmentation/api/v1/table/test_v1/node/5/root" in unmatched.value.url

    mocked.stop()  # no mock any more: a real connection, refused
    refused_server = f"http://127.0.0.1:{free_port()}"
    refused = CAVEclient(server_address=refused_server, auth_token="t", global_only=True, max_retries=0)
    with pytest.raises(CAVEConnectionError) as real:
        refused.info.get_datastacks()
    assert type(unmatched.value) is type(real.value) is RequestNotSentError


def test_an_unmatched_url_fails_at_once_without_retries_or_waits(
    mocked: responses.RequestsMock,
) -> None:
    # The mock would not answer a second time either: caveclient failed at once too.
    mocked.assert_all_requests_are_fired = False
    client = client_of_record(max_retries=3)
    waits: list[float] = []
    client._core.runtime._sleep = waits.append

    with pytest.raises(RequestNotSentError, match="doesn't match any registered mock"):
        client.chunkedgraph.get_root_id(5)

    assert len(mocked.calls) == 1
    assert waits == []


UNMATCHED_WORDS = "Connection refused by Responses - the call doesn't match any registered mock."


@pytest.mark.parametrize("words", ["refused", UNMATCHED_WORDS])
def test_a_registered_refusal_is_retried_as_a_connection_that_could_not_open(
    mocked: responses.RequestsMock, words: str
) -> None:
    # Two answers for one URL: responses gives the first once (and drops it), then the second.
    mocked.get(f"{SEGMENTATION}/node/5/root", body=requests.ConnectionError(words))
    mocked.get(f"{SEGMENTATION}/node/5/root", json={"root_id": 864691135000000001})
    client = client_of_record(max_retries=1)
    waits: list[float] = []
    client._core.runtime._sleep = waits.append

    assert client.chunkedgraph.get_root_id(5) == 864691135000000001
    assert len(waits) == 1


def test_a_registered_failure_worded_as_unmatched_is_not_replaced_by_the_fixed_answer(
    mocked: responses.RequestsMock,
) -> None:
    # Whether responses matched is read from where it recorded the call, not from its words.
    mocked.get(f"{LOCAL}/skeletoncache/api/version", body=requests.ConnectionError(UNMATCHED_WORDS))
    client = CAVEclientMock(skeleton_service=True, global_server=GLOBAL, local_server=LOCAL)
    with pytest.raises(CAVEConnectionError, match="Connection refused by Responses"):
        client.skeleton.get_version()


def test_a_refused_passthrough_is_retried_as_a_real_refusal(mocked: responses.RequestsMock) -> None:
    mocked.assert_all_requests_are_fired = False
    refused_server = f"http://127.0.0.1:{free_port()}"
    mocked.add_passthru(refused_server)
    client = CAVEclient(server_address=refused_server, auth_token="t", global_only=True, max_retries=2)
    waits: list[float] = []
    client._core.runtime._sleep = waits.append

    with pytest.raises(RequestNotSentError) as refused:
        client.info.get_datastacks()

    assert not isinstance(refused.value.__cause__, requests_mocks.NoMockMatchedError)
    assert len(waits) == 2


def test_where_the_mock_cannot_be_found_its_words_tell_an_unmatched_url(
    mocked: responses.RequestsMock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A responses whose patch no longer leads to its mock: its error's words are all there is.
    monkeypatch.setattr(requests_mocks, "active_responses_mock", lambda: None)
    mocked.get(f"{SEGMENTATION}/node/5/root", body=requests.ConnectionError("refused"))
    mocked.get(f"{SEGMENTATION}/node/5/root", json={"root_id": 864691135000000001})
    client = client_of_record(max_retries=1)
    waits: list[float] = []
    client._core.runtime._sleep = waits.append

    assert client.chunkedgraph.get_root_id(5) == 864691135000000001
    with pytest.raises(RequestNotSentError, match="doesn't match any registered mock"):
        client.chunkedgraph.get_root_id(6)
    assert len(waits) == 1


def test_the_active_responses_mock_is_found_from_its_patch() -> None:
    # Else the words of its error would be all there is to go by.
    assert requests_mocks.active_responses_mock() is None
    with responses.RequestsMock() as outer:
        assert requests_mocks.active_responses_mock() is outer

    @responses.activate
    def under_the_decorator() -> object:
        return requests_mocks.active_responses_mock()

    assert under_the_decorator() is responses.mock
    assert requests_mocks.active_responses_mock() is None


def test_the_token_never_reaches_another_host(
    mocked: responses.RequestsMock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    netrc = tmp_path / "netrc"
    netrc.write_text("machine elsewhere.example login someone password secret\n")
    monkeypatch.setenv("NETRC", str(netrc))  # requests would send these credentials if it read it
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")  # and go through this proxy
    elsewhere = mocked.get("https://elsewhere.example/state.json", json={"layers": []})
    cave = mocked.get(f"{SEGMENTATION}/node/5/root", json={"root_id": 864691135000000005})
    client = client_of_record(max_retries=0)

    assert client.state.get_state_json("https://elsewhere.example/state.json") == {"layers": []}
    assert client.chunkedgraph.get_root_id(5) == 864691135000000005

    sent_elsewhere = elsewhere.calls[0].request.headers
    assert "Authorization" not in sent_elsewhere
    assert "the-cave-token" not in json.dumps(dict(sent_elsewhere))
    assert cave.calls[0].request.headers["Authorization"] == "Bearer the-cave-token"


def test_the_async_client_is_answered_by_the_mock(mocked: responses.RequestsMock) -> None:
    roots = np.array([864691135000000007, 2**64 - 1], dtype=np.uint64)
    mocked.post(f"{SEGMENTATION}/roots_binary", body=roots.tobytes())
    status = mocked.get(
        f"{SEGMENTATION}/node/9/root", json={"root_id": 864691135000000009}, headers={"X-Tag": "a"}
    )

    async def calls() -> tuple[np.ndarray[Any, Any], int]:
        async with AsyncCAVEclient(
            "test_stack",
            server_address=GLOBAL,
            auth_token="the-cave-token",
            info_cache={"test_stack": default_info(LOCAL)},  # type: ignore[dict-item]
            write_server_cache=False,
            max_retries=0,
        ) as client:
            many = await client.chunkedgraph.get_roots([1, 2])
            one = await client.chunkedgraph.get_root_id(9)
            return many, one

    many, one = asyncio.run(calls())

    assert many.tolist() == roots.tolist()
    assert one == 864691135000000009
    assert status.calls[0].request.headers["Authorization"] == "Bearer the-cave-token"


def test_a_transport_given_to_the_client_is_never_bypassed(mocked: responses.RequestsMock) -> None:
    mocked.assert_all_requests_are_fired = False
    unused = mocked.get(f"{SEGMENTATION}/node/5/root", json={"root_id": 1})

    def own_server(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"root_id": 2})

    client = client_of_record(transport=httpx.MockTransport(own_server))
    assert client.chunkedgraph.get_root_id(5) == 2
    assert unused.call_count == 0


def test_a_mock_is_seen_only_while_it_is_active() -> None:
    assert not requests_mocks.requests_mock_active()  # responses imported, nothing activated
    with responses.RequestsMock():
        assert requests_mocks.requests_mock_active()
    assert not requests_mocks.requests_mock_active()

    @responses.activate
    def under_the_decorator() -> bool:
        return requests_mocks.requests_mock_active()

    assert under_the_decorator()
    assert not requests_mocks.requests_mock_active()


def refuse_the_bridge(monkeypatch: pytest.MonkeyPatch) -> None:
    def never(request: httpx.Request, body: bytes) -> httpx.Response:
        raise AssertionError(f"{request.url} went through requests")

    monkeypatch.setattr(requests_mocks, "send_through_requests", never)


def test_without_an_active_mock_requests_go_over_httpx(
    local_cave: LocalCAVE, local_cave_client: CAVEclient, monkeypatch: pytest.MonkeyPatch
) -> None:
    refuse_the_bridge(monkeypatch)
    assert local_cave_client.materialize.get_versions()
    assert local_cave_client.info.get_datastack_info()["local_server"] == local_cave.url


def test_respx_still_answers_when_no_responses_mock_is_active(monkeypatch: pytest.MonkeyPatch) -> None:
    refuse_the_bridge(monkeypatch)
    with respx.mock(assert_all_called=True) as router:
        router.get(f"{SEGMENTATION}/node/4/root").respond(json={"root_id": 864691135000000004})
        client = CAVEclientMock(chunkedgraph=True)
        assert client.chunkedgraph.get_root_id(4) == 864691135000000004


def test_a_passthrough_of_the_mock_reaches_a_real_server_with_identical_answers(
    local_cave: LocalCAVE, local_cave_client: CAVEclient, monkeypatch: pytest.MonkeyPatch
) -> None:
    exchanged = urls_sent_through_requests(monkeypatch)
    client = local_cave_client
    with pytest.warns(CAVEServerWarning, match="Limited query to 40 rows"):
        over_httpx = client.materialize.query_table("synapses_pni_2", limit=40)
    roots = client.chunkedgraph.get_roots(over_httpx["pre_pt_supervoxel_id"].to_numpy())
    assert not exchanged
    with responses.RequestsMock() as mock:
        mock.add_passthru(local_cave.url)
        with pytest.warns(CAVEServerWarning, match="Limited query to 40 rows"):
            through_requests = client.materialize.query_table("synapses_pni_2", limit=40)
        roots_through_requests = client.chunkedgraph.get_roots(
            over_httpx["pre_pt_supervoxel_id"].to_numpy()
        )

    pd.testing.assert_frame_equal(through_requests, over_httpx)
    assert roots_through_requests.tolist() == roots.tolist()
    assert any("/query" in url for url in exchanged)
    assert any("/roots_binary" in url for url in exchanged)


def root_answer(root_id: int) -> tuple[int, dict[str, str], str]:
    return 200, {"Content-Type": "application/json"}, json.dumps({"root_id": root_id})


BOUND = 10.0
"""Seconds a test waits at most for an event that should come at once; reached only on a failure."""


def test_a_blocked_mock_answer_leaves_the_event_loop_free(mocked: responses.RequestsMock) -> None:
    # The first call's answer waits until the second call has been answered: possible only if the
    # first does not hold the event loop while it waits.
    slow_started, released = threading.Event(), threading.Event()
    events: list[str] = []

    def slow(request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        slow_started.set()
        events.append("slow answered" if released.wait(BOUND) else "slow gave up waiting")
        return root_answer(864691135000000001)

    def quick(request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        events.append("quick answered")
        return root_answer(864691135000000002)

    mocked.add_callback(responses.GET, f"{SEGMENTATION}/node/1/root", callback=slow)
    mocked.add_callback(responses.GET, f"{SEGMENTATION}/node/2/root", callback=quick)

    async def calls() -> tuple[object, object]:
        async with async_client_of_record() as client:
            first = asyncio.ensure_future(client.chunkedgraph.get_root_id(1))
            await asyncio.to_thread(slow_started.wait, BOUND)
            second = await client.chunkedgraph.get_root_id(2)
            released.set()
            return await first, second

    first, second = asyncio.run(calls())

    assert events == ["quick answered", "slow answered"]
    assert (first, second) == (864691135000000001, 864691135000000002)


def test_a_cancelled_async_call_ends_at_once_and_its_late_answer_is_closed(
    mocked: responses.RequestsMock, monkeypatch: pytest.MonkeyPatch
) -> None:
    slow_started, released = threading.Event(), threading.Event()
    events: list[str] = []
    answers: list[httpx.Response] = []
    bridge = requests_mocks.send_through_requests

    def kept(request: httpx.Request, body: bytes) -> httpx.Response:
        answers.append(bridge(request, body))
        return answers[-1]

    def slow(request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        slow_started.set()
        events.append("answered" if released.wait(BOUND) else "gave up waiting")
        return root_answer(864691135000000001)

    monkeypatch.setattr(requests_mocks, "send_through_requests", kept)
    mocked.add_callback(responses.GET, f"{SEGMENTATION}/node/1/root", callback=slow)

    async def cancelled_then_closed() -> None:
        client = async_client_of_record()
        call = asyncio.ensure_future(client.chunkedgraph.get_root_id(1))
        await asyncio.to_thread(slow_started.wait, BOUND)
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        events.append("cancelled")
        await client.aclose()  # stops the exchange the cancelled call left running
        events.append("closed")
        released.set()

    asyncio.run(cancelled_then_closed())  # returns once its worker threads have ended

    assert events == ["cancelled", "closed", "answered"]
    assert len(answers) == 1
    assert answers[0].is_closed
