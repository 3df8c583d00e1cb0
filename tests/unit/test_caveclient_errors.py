"""Code written for caveclient 8.2.1 catches our errors with the `except` clauses it used."""

from __future__ import annotations

import pickle

import httpx
import pytest
import requests

from caveclient_gen import CAVEclient
from caveclient_gen._tables.stage import StagedAnnotations
from caveclient_gen.errors import (
    CAVEConnectionError,
    CAVEError,
    CAVEStatusError,
    CAVETimeoutError,
    InvalidInputError,
    NotFoundError,
    ServerIncompatibilityError,
    StagedFieldError,
)

from .materialize_support import SYNAPSE_SCHEMA

TOKEN = "canary-5e0c1b2a9d"


def answering(handler: httpx.MockTransport) -> CAVEclient:
    return CAVEclient(
        "ds",
        server_address="https://cave.test",
        auth_token=TOKEN,
        transport=handler,
        max_retries=0,
    )


def test_status_errors_are_requests_http_errors_with_a_response() -> None:
    body = {"code": 500, "message": f"404 Not Found: no table t for {TOKEN}"}
    client = answering(httpx.MockTransport(lambda request: httpx.Response(500, json=body)))
    with pytest.raises(requests.HTTPError) as raised:  # as caveclient users catch it
        client.info.get_datastacks()
    error = raised.value
    assert isinstance(error, NotFoundError)
    assert isinstance(error, CAVEError)
    assert error.response is not None
    # What requests reported: the status received, the body (token scrubbed), the URL.
    assert error.response.status_code == 500
    assert error.status_code == 404
    assert error.response.json()["message"].startswith("404 Not Found: no table t for")
    assert TOKEN not in error.response.text
    assert error.response.url.startswith("https://cave.test/")
    assert error.response.headers["content-type"] == "application/json"
    assert error.request is None  # it carried the token
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is NotFoundError
    assert str(copy) == str(error)
    assert copy.response.status_code == 500


def test_every_status_class_is_an_http_error() -> None:
    for status in (400, 401, 403, 404, 409, 422, 429, 418, 502):
        client = answering(httpx.MockTransport(lambda request, s=status: httpx.Response(s, text="no")))
        with pytest.raises(requests.exceptions.HTTPError) as raised:
            client.info.get_datastacks()
        assert isinstance(raised.value, CAVEStatusError)
        assert raised.value.response.status_code == status


def test_connection_errors_and_timeouts_are_requests_ones() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    def stall(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    with pytest.raises(requests.ConnectionError) as refused:
        answering(httpx.MockTransport(refuse)).info.get_datastacks()
    assert isinstance(refused.value, CAVEConnectionError)
    with pytest.raises(requests.Timeout) as stalled:
        answering(httpx.MockTransport(stall)).info.get_datastacks()
    assert isinstance(stalled.value, CAVETimeoutError)
    assert isinstance(stalled.value, requests.exceptions.RequestException)


def test_bad_input_and_version_problems_are_value_errors() -> None:
    client = answering(httpx.MockTransport(lambda request: httpx.Response(500)))
    with pytest.raises(ValueError, match="supervoxel_ids") as raised:
        client.chunkedgraph.get_roots([1.5])
    assert isinstance(raised.value, InvalidInputError)
    assert issubclass(ServerIncompatibilityError, ValueError)
    assert issubclass(ServerIncompatibilityError, CAVEError)


def test_staging_errors_are_caught_as_caveclients_were() -> None:
    stage = StagedAnnotations(SYNAPSE_SCHEMA, name="syn")
    point = [1, 2, 3]
    # caveclient's `add` is a generated class: unknown or missing fields are TypeErrors.
    with pytest.raises(TypeError) as unknown:
        stage.add(pre_pt_position=point, post_pt_position=point, ctr_pt_position=point, colour=1)
    assert isinstance(unknown.value, StagedFieldError)
    with pytest.raises(TypeError):
        stage.add(pre_pt_position=point, post_pt_position=point)
    # Its add_dataframe refuses columns that do not fit with a ValueError.
    import pandas as pd

    with pytest.raises(ValueError, match="colour"):
        stage.add_dataframe(pd.DataFrame({"colour": [1]}))
    assert len(stage) == 0


def test_every_error_crosses_a_process_boundary() -> None:
    """multiprocessing and joblib send a worker's exception back pickled."""
    from caveclient_gen.errors import AnnotationUploadError, TermsOfServiceError

    errors: list[Exception] = [
        InvalidInputError("root_ids", "must not be empty"),
        StagedFieldError("colour", "is not a field"),
        CAVETimeoutError("read timed out", method="GET", url="https://cave.test/x"),
        ServerIncompatibilityError("the server is too old"),
        TermsOfServiceError(
            "accept them",
            method="GET",
            url="https://cave.test/x",
            status_code=403,
            data={"tos_form_url": "https://tos.test"},
        ),
        AnnotationUploadError(
            written=[1], failed_rows=[2], remaining_rows=[], batch_outcome="rejected", cause=ValueError()
        ),
    ]
    for error in errors:
        copy = pickle.loads(pickle.dumps(error))
        assert type(copy) is type(error)
        assert str(copy) == str(error)
        assert vars(copy).keys() == vars(error).keys()
    assert pickle.loads(pickle.dumps(errors[0])).parameter == "root_ids"
    assert pickle.loads(pickle.dumps(errors[4])).tos_url == "https://tos.test"
