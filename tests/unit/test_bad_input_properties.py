"""Property-based bad input: every generated case is refused before sending, naming the parameter,
or it is valid and sent exactly as given.

A recording fake server proves what was (not) sent. Each property runs a bounded number of examples.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from caveclient_gen import CAVEclient
from caveclient_gen.errors import InvalidInputError
from tests.unit.materialize_support import (
    ANNOTATION,
    DATASTACK,
    GLOBAL,
    SEGMENTATION,
    V3,
    FakeCAVE,
    arrow_response,
    standard_materialize,
    synapse_frame,
)

EXAMPLES = 150
PROPERTY = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
UINT64_MAX = 2**64 - 1


def fake_server() -> FakeCAVE:
    fake = FakeCAVE()
    standard_materialize(fake)
    fake.route(
        "POST",
        f"{SEGMENTATION}/roots_binary",
        lambda request: httpx.Response(200, content=request.content),
    )
    fake.route("GET", f"{SEGMENTATION}/node/5/leaves", {"leaf_ids": [7, 8]})
    fake.route("POST", f"{V3}/version/3/table/synapses/query", arrow_response(synapse_frame()))
    fake.route(
        "POST",
        f"{ANNOTATION}/table/cells/annotations",
        lambda request: httpx.Response(200, json=list(range(len(json.loads(request.content))))),
    )
    return fake


FAKE = fake_server()
CLIENT = CAVEclient(
    DATASTACK,
    server_address=GLOBAL,
    auth_token="t0ken",
    transport=httpx.MockTransport(FAKE),
    max_retries=0,
    write_server_cache=False,
)


def sent_to(path_part: str) -> list[httpx.Request]:
    return [request for request in FAKE.requests if path_part in request.url.path]


def attempt(call: Any) -> tuple[Any, BaseException | None]:
    """The call's result, or the exception it raised."""
    try:
        return call(), None
    except Exception as error:
        return None, error


def refused_naming(error: BaseException, parameter: str) -> bool:
    if isinstance(error, InvalidInputError):
        return error.parameter.startswith(parameter)
    return isinstance(error, TypeError | ValueError) and parameter in str(error)


# ---------------------------------------------------------------- ids

ID_ELEMENTS = st.one_of(
    st.integers(min_value=-(2**65), max_value=2**65),
    st.integers(min_value=0, max_value=UINT64_MAX),
    st.booleans(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.just(1.0),
    st.text(max_size=4),
    st.none(),
    st.lists(st.integers(min_value=0, max_value=10), max_size=3),
    st.builds(np.uint64, st.integers(min_value=0, max_value=UINT64_MAX)),
    st.builds(np.int64, st.integers(min_value=-(2**63), max_value=2**63 - 1)),
    st.builds(np.bool_, st.booleans()),
)


def valid_id(value: Any) -> bool:
    if isinstance(value, bool | np.bool_):
        return False
    return isinstance(value, int | np.integer) and 0 <= int(value) <= UINT64_MAX


@PROPERTY
@given(ids=st.lists(ID_ELEMENTS, max_size=6))
def test_id_lists_are_refused_or_sent_exactly(ids: list[Any]) -> None:
    before = len(sent_to("/roots_binary"))
    valid = all(valid_id(value) for value in ids)
    roots, error = attempt(lambda: CLIENT.chunkedgraph.get_roots(ids))
    if error is not None:
        assert refused_naming(error, "supervoxel_ids"), repr(error)
        assert len(sent_to("/roots_binary")) == before, "refused input must not be sent"
        return
    assert valid, f"accepted invalid ids {ids!r}"
    expected = np.array([int(value) for value in ids], dtype=np.uint64)
    assert np.array_equal(roots, expected)
    if ids:
        body = sent_to("/roots_binary")[-1].content
        assert np.array_equal(np.frombuffer(body, "<u8"), expected)


# ---------------------------------------------------------------- timestamps

AWARE = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
).map(lambda moment: moment.astimezone(timezone(timedelta(hours=-5))))
NAIVE = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1))
TIMESTAMPS = st.one_of(
    AWARE.map(lambda moment: ("valid", moment)),
    NAIVE.map(lambda moment: ("invalid", moment)),
    AWARE.map(lambda moment: ("valid", moment.isoformat())),
    NAIVE.map(lambda moment: ("invalid", moment.isoformat())),
    st.text(max_size=12).map(lambda text: ("unknown", text)),
    st.integers().map(lambda number: ("invalid", number)),
    st.floats().map(lambda number: ("invalid", number)),
    st.binary(max_size=4).map(lambda data: ("invalid", data)),
    st.lists(st.integers(), max_size=2).map(lambda values: ("invalid", values)),
)


@PROPERTY
@given(case=TIMESTAMPS)
def test_timestamps_are_refused_or_sent_as_that_moment(case: tuple[str, Any]) -> None:
    kind, value = case
    before = len(sent_to("/roots_binary"))
    _, error = attempt(lambda: CLIENT.chunkedgraph.get_roots([1, 2], timestamp=value))
    if error is not None:
        assert refused_naming(error, "timestamp"), repr(error)
        assert len(sent_to("/roots_binary")) == before
        return
    assert kind != "invalid", f"accepted {value!r}"
    moment = (
        value if isinstance(value, datetime) else datetime.fromisoformat(value.replace("Z", "+00:00"))
    )
    assert moment.tzinfo is not None
    sent = float(sent_to("/roots_binary")[-1].url.params["timestamp"])
    assert math.isclose(sent, moment.timestamp(), abs_tol=1e-6)


# ---------------------------------------------------------------- bounds

COORDINATES = st.one_of(
    st.integers(min_value=-(10**6), max_value=10**6),
    st.floats(allow_nan=True, allow_infinity=True, width=32),
    st.booleans(),
    st.text(max_size=2),
    st.none(),
)
BOUNDS = st.one_of(
    st.lists(st.lists(COORDINATES, min_size=2, max_size=2), min_size=3, max_size=3),
    st.lists(st.lists(COORDINATES, min_size=0, max_size=4), min_size=0, max_size=4),
    st.text(max_size=8),
)


def valid_bounds(bounds: Any) -> bool:
    if not isinstance(bounds, list) or len(bounds) != 3:
        return False
    for row in bounds:
        if not isinstance(row, list) or len(row) != 2:
            return False
        if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in row):
            return False
        if not all(math.isfinite(v) for v in row) or row[0] > row[1]:
            return False
    return True


@PROPERTY
@given(bounds=BOUNDS)
def test_bounds_are_refused_or_sent_as_given(bounds: Any) -> None:
    before = len(sent_to("/leaves"))
    _, error = attempt(lambda: CLIENT.chunkedgraph.get_leaves(5, bounds=bounds))
    if error is not None:
        assert refused_naming(error, "bounds"), repr(error)
        assert len(sent_to("/leaves")) == before
        return
    assert valid_bounds(bounds), f"accepted {bounds!r}"
    sent = sent_to("/leaves")[-1].url.params["bounds"]
    expected = "_".join(f"{int(low)}-{int(high)}" for low, high in bounds)
    assert sent == expected


# ---------------------------------------------------------------- filters

FILTER_VALUES = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**63 - 1).map(lambda v: ("valid", v)),
    st.floats(allow_nan=False, allow_infinity=False).map(lambda v: ("valid", v)),
    st.sampled_from([math.nan, math.inf, -math.inf]).map(lambda v: ("invalid", v)),
    st.binary(max_size=3).map(lambda v: ("invalid", v)),
    st.sets(st.integers(), max_size=2).map(lambda v: ("invalid", v)),
    st.dictionaries(st.text(max_size=2), st.integers(), max_size=2).map(lambda v: ("invalid", v)),
    st.none().map(lambda v: ("invalid", v)),
    st.builds(object).map(lambda v: ("invalid", v)),
    NAIVE.map(lambda v: ("invalid", v)),
)


@PROPERTY
@given(case=FILTER_VALUES)
def test_filter_values_are_refused_or_sent_as_json(case: tuple[str, Any]) -> None:
    kind, value = case
    query = f"{V3}/version/3/table/synapses/query"
    before = len(sent_to(query))
    _, error = attempt(
        lambda: CLIENT.materialize.query_table("synapses", filter_equal_dict={"size": value})
    )
    if error is not None:
        assert refused_naming(error, "filter_equal_dict"), repr(error)
        assert len(sent_to(query)) == before
        return
    assert kind == "valid", f"accepted {value!r}"
    body = json.loads(sent_to(query)[-1].content)  # strict JSON: no NaN or Infinity
    assert body["filter_equal_dict"]["synapses"]["size"] == value


# ---------------------------------------------------------------- annotation data

JSON_LEAVES = st.one_of(
    st.integers(min_value=-(2**53), max_value=2**53),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=4),
    st.booleans(),
    st.none(),
)
BAD_LEAVES = st.one_of(
    st.sets(st.integers(), min_size=1, max_size=2),
    st.binary(min_size=1, max_size=3),
    st.builds(object),
    st.sampled_from([math.inf, -math.inf]),
)
ANNOTATION_VALUES = st.recursive(
    st.one_of(JSON_LEAVES.map(lambda v: (True, v)), BAD_LEAVES.map(lambda v: (False, v))),
    lambda children: st.one_of(
        st.lists(children, max_size=3).map(
            lambda items: (all(ok for ok, _ in items), [v for _, v in items])
        ),
        st.dictionaries(st.text(max_size=3), children, max_size=3).map(
            lambda items: (all(ok for ok, _ in items.values()), {k: v for k, (_, v) in items.items()})
        ),
    ),
    max_leaves=6,
)


@PROPERTY
@given(case=ANNOTATION_VALUES)
def test_annotation_data_is_refused_or_sent_as_strict_json(case: tuple[bool, Any]) -> None:
    valid, value = case
    route = "/table/cells/annotations"
    before = len(sent_to(route))
    _, error = attempt(lambda: CLIENT.annotation.post_annotation("cells", [{"tag": value}]))
    if error is not None:
        assert refused_naming(error, "data"), repr(error)
        assert len(sent_to(route)) == before
        return
    assert valid, f"accepted {value!r}"
    body = json.loads(sent_to(route)[-1].content)  # strict JSON parse
    assert body["annotations"][0]["tag"] == value
