"""Bad input is refused before anything is sent, with an InvalidInputError naming the parameter."""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import numpy as np
import pytest

from caveclient_gen import CAVEclient
from caveclient_gen.errors import InvalidInputError


class Recorder:
    """A transport handler that records every request and answers none of them usefully."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self._lock = threading.Lock()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            self.requests.append(request)
        return httpx.Response(599, json={"message": "nothing should have been sent"})


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def client(recorder: Recorder) -> Iterator[CAVEclient]:
    with CAVEclient(
        "ds",
        server_address="https://cave.test",
        auth_token="t0ken",
        transport=httpx.MockTransport(recorder),
        max_retries=0,
    ) as cave_client:
        yield cave_client


def refused(recorder: Recorder, call: Callable[[], Any], parameter: str) -> InvalidInputError:
    with pytest.raises(InvalidInputError) as raised:
        call()
    assert raised.value.parameter.startswith(parameter), raised.value
    assert recorder.requests == [], "nothing may be sent for refused input"
    return raised.value


ROOT = 864691135000000001


# ---------------------------------------------------------------- ids


def test_a_bool_inside_an_id_list_is_refused(client: CAVEclient, recorder: Recorder) -> None:
    refused(recorder, lambda: client.chunkedgraph.get_roots([ROOT, True]), "supervoxel_ids")
    refused(recorder, lambda: client.chunkedgraph.is_latest_roots((False, ROOT)), "root_ids")
    refused(recorder, lambda: client.chunkedgraph.get_roots([np.bool_(True)]), "supervoxel_ids")
    refused(recorder, lambda: client.chunkedgraph.get_roots(np.array([True])), "supervoxel_ids")


@pytest.mark.parametrize(
    "ragged", [[[1, 2], [3]], [1, [2, 3]], [[1, 2], [3, 4]], [np.array([1, 2]), 3], [{"a": 1}]]
)
def test_ragged_or_nested_id_lists_are_refused(
    ragged: Any, client: CAVEclient, recorder: Recorder
) -> None:
    refused(recorder, lambda: client.chunkedgraph.get_roots(ragged), "supervoxel_ids")


# ---------------------------------------------------------------- bounds


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_nan_or_infinite_bounds_are_refused(bad: float, client: CAVEclient, recorder: Recorder) -> None:
    bounds = [[0, 10], [0, bad], [0, 10]]
    refused(recorder, lambda: client.chunkedgraph.get_leaves(ROOT, bounds=bounds), "bounds")
    refused(recorder, lambda: client.chunkedgraph.get_subgraph(ROOT, bounds=bounds), "bounds")


def test_bools_in_bounds_are_refused(client: CAVEclient, recorder: Recorder) -> None:
    bounds = [[0, 10], [0, True], [0, 10]]
    refused(recorder, lambda: client.chunkedgraph.get_leaves(ROOT, bounds=bounds), "bounds")
    box = [[0, 0, False], [1, 1, 1]]
    refused(
        recorder,
        lambda: client.materialize.synapse_query(bounding_box=box, synapse_table="synapses"),
        "bounding_box",
    )


@pytest.mark.parametrize(
    "box",
    [
        [[0, 0], [1, 1]],
        [[0, 0, math.nan], [1, 1, 1]],
        [[5, 5, 5], [1, 1, 1]],
        "0-1_0-1_0-1",
        [[0, 0, 0], [1, 1]],
    ],
)
def test_synapse_query_names_bounding_box(box: Any, client: CAVEclient, recorder: Recorder) -> None:
    refused(
        recorder,
        lambda: client.materialize.synapse_query(
            pre_ids=ROOT, bounding_box=box, synapse_table="synapses"
        ),
        "bounding_box",
    )


# ---------------------------------------------------------------- JSON bodies


@pytest.mark.parametrize(
    "value",
    [{1, 2}, b"bytes", object(), math.inf, -math.inf, {"nested": {3}}, [1, b"x"]],
    ids=["set", "bytes", "object", "inf", "-inf", "nested set", "bytes in list"],
)
def test_annotation_values_json_cannot_carry_are_refused(
    value: Any, client: CAVEclient, recorder: Recorder
) -> None:
    data = [{"id": 1, "tag": "ok"}, {"id": 2, "tag": value}]
    error = refused(recorder, lambda: client.annotation.post_annotation("cells", data), "data[1]")
    assert "tag" in error.parameter
    refused(
        recorder,
        lambda: client.annotation.update_annotation("cells", {"id": 2, "tag": value}),
        "data[0]",
    )


def test_nan_in_annotation_data_is_sent_as_null(client: CAVEclient, recorder: Recorder) -> None:
    # NaN is pandas' missing value: it travels as null, as documented (not refused).
    with pytest.raises(Exception):  # noqa: B017, PT011 - the fake server answers 599 to anything
        client.annotation.post_annotation("cells", [{"id": 1, "tag": math.nan}])
    assert recorder.requests
    assert b"NaN" not in recorder.requests[-1].content


@pytest.mark.parametrize("value", [b"bytes", object(), {"a": object()}])
def test_state_values_json_cannot_carry_are_refused(
    value: Any, client: CAVEclient, recorder: Recorder
) -> None:
    refused(recorder, lambda: client.state.upload_state_json({"layers": [value]}), "json_state")


@pytest.mark.parametrize("value", [b"bytes", object(), math.nan, math.inf, {1, 2}])
def test_filter_values_json_cannot_carry_are_refused(
    value: Any, client: CAVEclient, recorder: Recorder
) -> None:
    refused(
        recorder,
        lambda: client.materialize.query_table("synapses", filter_equal_dict={"size": value}),
        "filter_equal_dict",
    )


# ---------------------------------------------------------------- client arguments


@pytest.mark.parametrize("timeout", ["abc", "10", True, math.nan, math.inf, -1.0, 0, [5], object()])
def test_a_timeout_that_is_not_a_positive_number_is_refused(timeout: Any) -> None:
    with pytest.raises(InvalidInputError) as raised:
        CAVEclient(server_address="https://cave.test", timeout=timeout)
    assert raised.value.parameter == "timeout"


@pytest.mark.parametrize("name", ["max_retries", "pool_maxsize"])
@pytest.mark.parametrize("value", ["3", 2.5, True])
def test_counts_that_are_not_integers_are_refused(name: str, value: Any) -> None:
    with pytest.raises(InvalidInputError) as raised:
        CAVEclient(server_address="https://cave.test", **{name: value})
    assert raised.value.parameter == name


def test_good_numbers_are_accepted() -> None:
    with CAVEclient(server_address="https://cave.test", timeout=np.float64(2.5)) as client:
        assert client._core.settings.timeout.read == 2.5
