"""Tests written with `requests-mock` (its `Mocker`, as a context manager or a decorator, or its
`requests_mock` pytest fixture) answer the client's requests as they answer those of `requests`.

The bridge is the one `responses` goes through (`caveclient_gen._http.requests_mocks`); these tests
hold it to the same promises: headers as httpx addressed them, nothing taken from the environment,
timeouts passed on, bodies and repeated headers as the mock sent them, and an unmatched URL failing
at once.
"""

from __future__ import annotations

import asyncio
import gzip
import json
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
import requests
from requests_mock import Mocker
from requests_mock.exceptions import NoMockAddress

from caveclient_gen import CAVEclient
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
    repeated_headers,
    synapses,
    urls_sent_through_requests,
)


def test_get_roots_is_answered_with_the_fixtures_uint64_bytes(requests_mock: Mocker) -> None:
    roots = np.array([864691135000000001, 2**64 - 3, 0], dtype=np.uint64)  # one beyond int64
    supervoxels = np.array([88, 2**63 + 5, 99], dtype=np.uint64)
    registered = requests_mock.post(
        f"{SEGMENTATION}/roots_binary",
        content=roots.tobytes(),
        headers={"Content-Type": "application/octet-stream"},
    )
    client = CAVEclientMock(chunkedgraph=True)

    answer = client.chunkedgraph.get_roots(supervoxels)

    assert answer.dtype == np.uint64
    assert answer.tolist() == roots.tolist()
    sent = registered.last_request
    assert sent is not None
    assert np.frombuffer(sent.body, dtype=np.uint64).tolist() == supervoxels.tolist()
    assert sent.headers["Authorization"] == f"Bearer {TOKEN}"
    timeout: object = sent.timeout  # typed as one number by requests-mock, given as a pair
    assert timeout == (CONNECT_TIMEOUT, READ_TIMEOUT)


def test_under_the_decorator_every_header_and_the_arrow_body_arrive() -> None:
    @Mocker()
    def query(mock: Mocker) -> tuple[pd.DataFrame, list[str], Any]:
        mock.get(f"{MATERIALIZE}/table/synapses/metadata", json=table_metadata("synapses"))
        mock.get(f"{GLOBAL}/schema/api/v2/type/synapse", json=SYNAPSE_SCHEMA)
        answer = mock.post(
            f"{MATERIALIZE}/table/synapses/query",
            content=arrow_body(synapses()),
            # Passed on to urllib3 as it is, repeated names and all.
            headers=repeated_headers(  # type: ignore[arg-type]
                ("Content-Type", "data.arrow"),
                ("Warning", "first notice"),
                ("Warning", "second notice"),
                ("dataframe_resolution", "4.0"),
                ("dataframe_resolution", "4.0"),
                ("dataframe_resolution", "40.0"),
            ),
        )
        client = CAVEclientMock(materialization=True, set_version=2)
        with pytest.warns(CAVEServerWarning) as warned:
            frame = client.materialize.query_table("synapses", filter_in_dict={"id": [1, 2]})
        assert answer.last_request is not None
        return frame, sorted(str(w.message) for w in warned), answer.last_request.json()

    frame, warnings, sent = query()  # type: ignore[call-arg]  # the decorator passes the mock

    assert warnings == ["first notice", "second notice"]
    assert sent["filter_in_dict"] == {"synapses": {"id": [1, 2]}}
    assert frame["id"].tolist() == [1, 2]
    assert frame["pre_pt_root_id"].tolist() == [864691135000000001, 864691135000000002]
    assert frame.attrs["dataframe_resolution"] == [4.0, 4.0, 40.0]


def test_a_gzipped_answer_is_decoded_once() -> None:
    record = {**default_info(LOCAL), "description": "from the mock"}
    client = CAVEclient(
        "test_stack", server_address=GLOBAL, auth_token="t", write_server_cache=False, max_retries=0
    )
    with Mocker() as mock:
        mock.get(
            f"{GLOBAL}/info/api/v2/datastack/full/test_stack",
            content=gzip.compress(json.dumps(record).encode()),
            headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
        )
        info = client.info.get_datastack_info()

    assert info["description"] == "from the mock"


def test_the_token_never_reaches_another_host_and_the_environment_is_not_read(
    requests_mock: Mocker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    netrc = tmp_path / "netrc"
    netrc.write_text("machine elsewhere.example login someone password secret\n")
    monkeypatch.setenv("NETRC", str(netrc))  # requests would send these credentials if it read it
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")  # and go through this proxy
    elsewhere = requests_mock.get("https://elsewhere.example/state.json", json={"layers": []})
    cave = requests_mock.get(f"{SEGMENTATION}/node/5/root", json={"root_id": 864691135000000005})
    client = client_of_record(max_retries=0)

    assert client.state.get_state_json("https://elsewhere.example/state.json") == {"layers": []}
    assert client.chunkedgraph.get_root_id(5) == 864691135000000005

    assert elsewhere.last_request is not None
    assert cave.last_request is not None
    sent_elsewhere = elsewhere.last_request.headers
    assert "Authorization" not in sent_elsewhere
    assert "the-cave-token" not in json.dumps(dict(sent_elsewhere))
    assert not elsewhere.last_request.proxies
    assert cave.last_request.headers["Authorization"] == "Bearer the-cave-token"


def test_an_unmatched_url_fails_at_once_as_a_request_not_sent(requests_mock: Mocker) -> None:
    client = client_of_record(max_retries=3)
    waits: list[float] = []
    client._core.runtime._sleep = waits.append

    with pytest.raises(requests.ConnectionError) as unmatched:
        client.chunkedgraph.get_root_id(5)

    assert type(unmatched.value) is RequestNotSentError
    assert "No mock address" in str(unmatched.value)
    assert isinstance(unmatched.value.__cause__, httpx.ConnectError)
    assert isinstance(unmatched.value.__cause__.__cause__, NoMockAddress)
    assert requests_mock.call_count == 1
    assert waits == []


def test_a_registered_refusal_is_retried(requests_mock: Mocker) -> None:
    requests_mock.get(
        f"{SEGMENTATION}/node/5/root",
        [{"exc": requests.ConnectionError("refused")}, {"json": {"root_id": 864691135000000001}}],
    )
    client = client_of_record(max_retries=1)
    waits: list[float] = []
    client._core.runtime._sleep = waits.append

    assert client.chunkedgraph.get_root_id(5) == 864691135000000001
    assert len(waits) == 1


def test_a_tests_registration_wins_over_the_mocks_fixed_answer_which_stands_otherwise(
    requests_mock: Mocker,
) -> None:
    record = {**default_info(LOCAL), "description": "registered by the test"}
    requests_mock.get(f"{GLOBAL}/info/api/v2/datastack/full/test_stack", json=record)
    requests_mock.get(f"{LOCAL}/skeletoncache/api/versions", json=[-1, 0, 1, 2, 3, 4])
    client = CAVEclientMock(
        skeleton_service=True,
        skeleton_service_server_version="3.4.5",
        global_server=GLOBAL,
        local_server=LOCAL,
    )

    assert client.info.get_datastack_info()["description"] == "registered by the test"
    assert str(client.skeleton.get_version()) == "3.4.5"  # not registered: the fixed answer
    assert client.skeleton.get_versions() == [-1, 0, 1, 2, 3, 4]


def test_a_registered_failure_of_a_fixed_route_is_not_replaced(requests_mock: Mocker) -> None:
    requests_mock.get(f"{LOCAL}/skeletoncache/api/version", exc=requests.ConnectionError("down"))
    client = CAVEclientMock(skeleton_service=True, global_server=GLOBAL, local_server=LOCAL)
    with pytest.raises(CAVEConnectionError, match="down"):
        client.skeleton.get_version()


def test_a_mocker_is_seen_only_while_it_is_active() -> None:
    assert not requests_mocks.requests_mock_active()  # requests_mock imported, nothing started
    with Mocker():
        assert requests_mocks.requests_mock_active()
    assert not requests_mocks.requests_mock_active()

    @Mocker()
    def under_the_decorator(mock: Mocker) -> bool:
        return requests_mocks.requests_mock_active()

    assert under_the_decorator()  # type: ignore[call-arg]
    with requests.Session() as someone_elses, Mocker(session=someone_elses):
        # A Mocker of one session of the test's own leaves every other session, ours too, unmocked.
        assert not requests_mocks.requests_mock_active()
    assert not requests_mocks.requests_mock_active()


def test_the_async_client_is_answered_by_the_fixture(requests_mock: Mocker) -> None:
    roots = np.array([864691135000000007, 2**64 - 1], dtype=np.uint64)
    requests_mock.post(f"{SEGMENTATION}/roots_binary", content=roots.tobytes())
    status = requests_mock.get(f"{SEGMENTATION}/node/9/root", json={"root_id": 864691135000000009})

    async def calls() -> tuple[Any, Any]:
        async with async_client_of_record() as client:
            many = await client.chunkedgraph.get_roots([1, 2])
            one = await client.chunkedgraph.get_root_id(9)
            with pytest.raises(RequestNotSentError, match="No mock address"):
                await client.chunkedgraph.get_root_id(10)
            return many, one

    many, one = asyncio.run(calls())

    assert many.tolist() == roots.tolist()
    assert one == 864691135000000009
    assert status.last_request is not None
    assert status.last_request.headers["Authorization"] == "Bearer the-cave-token"


def test_real_http_reaches_a_real_server_with_identical_answers(
    local_cave: LocalCAVE, local_cave_client: CAVEclient, monkeypatch: pytest.MonkeyPatch
) -> None:
    exchanged = urls_sent_through_requests(monkeypatch)
    client = local_cave_client
    with pytest.warns(CAVEServerWarning, match="Limited query to 40 rows"):
        over_httpx = client.materialize.query_table("synapses_pni_2", limit=40)
    assert not exchanged
    with Mocker(real_http=True), pytest.warns(CAVEServerWarning, match="Limited query to 40 rows"):
        through_requests = client.materialize.query_table("synapses_pni_2", limit=40)

    pd.testing.assert_frame_equal(through_requests, over_httpx)
    assert any("/query" in url for url in exchanged)
