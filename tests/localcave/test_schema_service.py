"""The schema service (EMAnnotationSchemas 5.26.3): the real definitions, no authentication."""

from __future__ import annotations

import json

import httpx
import pytest

from caveclient_gen.testing.schema.definitions import schema_document, schema_type_names

from .conftest import reference_sample

API = "/schema/api/v2"


def test_bundled_definitions_equal_the_real_types_all() -> None:
    sample = reference_sample("schema-5.26.3.responses.json")["types_all"]["body"]
    assert schema_type_names() == list(sample)
    for name, real_document in sample.items():
        # Compared as text, so that the order of keys counts too.
        assert json.dumps(schema_document(name)) == json.dumps(real_document), name


def test_types_all_is_sent_in_the_servers_encoding(client: httpx.Client) -> None:
    sample = reference_sample("schema-5.26.3.responses.json")["types_all"]["body"]
    response = client.get(f"{API}/types_all")
    assert response.headers["content-type"] == "application/json"
    assert response.text == json.dumps(sample) + "\n"


@pytest.mark.parametrize(
    ("sample_name", "method"),
    [
        ("versions", "GET"),
        ("version", "GET"),
        ("types", "GET"),
        ("type_synapse", "GET"),
        ("type_cell_type_local", "GET"),
        ("type_bound_tag", "GET"),
        ("type_unknown_404", "GET"),
        ("types_multi", "POST"),
    ],
)
def test_answers_equal_the_captured_ones(client: httpx.Client, sample_name: str, method: str) -> None:
    sample = reference_sample("schema-5.26.3.responses.json")[sample_name]
    response = client.request(method, sample["request"].split(" ", 1)[1])
    assert response.status_code == sample["status"]
    assert response.headers["content-type"] == sample["content_type"]
    assert response.json() == sample["body"]


def test_no_token_is_needed(client: httpx.Client) -> None:
    response = client.get(f"{API}/type", headers={"Authorization": "Bearer not-a-token"})
    assert response.status_code == 200
    assert len(response.json()) == 57


def test_several_types_keep_the_requested_order(client: httpx.Client) -> None:
    answer = client.post(f"{API}/types", params={"schema_names": "bound_tag,synapse"}).json()
    assert list(answer) == ["bound_tag", "synapse"]
    assert answer["synapse"]["$ref"] == "#/definitions/SynapseSchema"


def test_unknown_name_among_several_is_404(client: httpx.Client) -> None:
    response = client.post(f"{API}/types", params={"schema_names": "synapse,nope"})
    assert response.status_code == 404
    assert "[/schema/api/v2/types] but did you mean" in response.json()["message"]


@pytest.mark.parametrize(
    "request_options",
    [{"json": ["synapse", "bound_tag"]}, {}],
    ids=["json-list-body", "no-schema-names"],
)
def test_requests_the_server_cannot_parse_crash_it(
    client: httpx.Client, request_options: dict[str, object]
) -> None:
    response = client.post(f"{API}/types", **request_options)  # type: ignore[arg-type]
    assert response.status_code == 500
    assert response.json() == {"message": "Internal Server Error"}


def test_json_object_body_is_read_like_query_arguments(client: httpx.Client) -> None:
    answer = client.post(f"{API}/types", json={"schema_names": "synapse"}).json()
    assert list(answer) == ["synapse"]
