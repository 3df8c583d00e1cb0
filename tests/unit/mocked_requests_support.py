"""What the tests of the mocks of `requests` (`responses`, `requests-mock`) share: the mocked
servers' addresses, clients that request nothing before a call, and answers to mock."""

from __future__ import annotations

import socket
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from urllib3 import HTTPHeaderDict

from caveclient_gen import AsyncCAVEclient, CAVEclient
from caveclient_gen._http import requests_mocks
from caveclient_gen.mock import default_info

GLOBAL = "https://test.cave.com"
LOCAL = "https://local.cave.com"
SEGMENTATION = f"{LOCAL}/segmentation/api/v1/table/test_v1"
MATERIALIZE = f"{LOCAL}/materialize/api/v3/datastack/test_stack/version/2"
TOKEN = "just_a_test"  # CAVEclientMock's token


def client_of_record(**options: Any) -> CAVEclient:
    """A CAVEclient that knows its datastack's record, so it requests nothing before a call."""
    return CAVEclient(
        "test_stack",
        server_address=GLOBAL,
        auth_token="the-cave-token",
        info_cache={"test_stack": {**default_info(LOCAL), "proofreading_status_table": None}},
        write_server_cache=False,
        **options,
    )


def async_client_of_record() -> AsyncCAVEclient:
    return AsyncCAVEclient(
        "test_stack",
        server_address=GLOBAL,
        auth_token="the-cave-token",
        info_cache={"test_stack": default_info(LOCAL)},
        write_server_cache=False,
        max_retries=0,
    )


def arrow_body(frame: pd.DataFrame) -> bytes:
    table = pa.Table.from_pandas(frame, preserve_index=False)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue().to_pybytes())


def repeated_headers(*pairs: tuple[str, str]) -> HTTPHeaderDict:
    headers = HTTPHeaderDict()
    for name, value in pairs:
        headers.add(name, value)
    return headers


def synapses() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": np.array([1, 2], dtype=np.int64),
            "valid": [True, True],
            "pre_pt_position": [[1, 2, 3], [4, 5, 6]],
            "post_pt_position": [[7, 8, 9], [10, 11, 12]],
            "ctr_pt_position": [[2, 3, 4], [5, 6, 7]],
            "pre_pt_supervoxel_id": np.array([11, 12], dtype=np.int64),
            "pre_pt_root_id": np.array([864691135000000001, 864691135000000002], dtype=np.int64),
            "post_pt_supervoxel_id": np.array([21, 22], dtype=np.int64),
            "post_pt_root_id": np.array([864691135000000003, 864691135000000004], dtype=np.int64),
            "size": [10.5, 20.5],
        }
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def urls_sent_through_requests(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The URLs the bridge hands to `requests` from now on (it still sends them)."""
    exchanged: list[str] = []
    bridge = requests_mocks.send_through_requests

    def recorded(request: httpx.Request, body: bytes) -> httpx.Response:
        exchanged.append(str(request.url))
        return bridge(request, body)

    monkeypatch.setattr(requests_mocks, "send_through_requests", recorded)
    return exchanged
