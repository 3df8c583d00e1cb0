"""Secrets never reach logs, reprs or exception text."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import pytest
import yaml

from caveclient_gen import CAVEclient, CAVEError
from caveclient_gen._http.redact import REDACTED, SAFE_QUERY_PARAMETERS, redact_url

ROOT = Path(__file__).resolve().parents[2]
CANARY = "canary-7f3a9c1e5b"


def test_the_allow_list_holds_every_spec_query_parameter_but_tokens() -> None:
    names = set()
    for path in (ROOT / "specs").glob("*.yaml"):
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
        for item in (spec.get("paths") or {}).values():
            for operation in item.values():
                if isinstance(operation, dict):
                    for parameter in operation.get("parameters", []):
                        if parameter.get("in") == "query":
                            names.add(parameter["name"])
    names.discard("middle_auth_token")
    assert names <= SAFE_QUERY_PARAMETERS, sorted(names - SAFE_QUERY_PARAMETERS)
    assert "middle_auth_token" not in SAFE_QUERY_PARAMETERS


def test_redact_url() -> None:
    url = f"https://user:pw@cave.test/a?middle_auth_token={CANARY}&timestamp=1.5&x=y"
    redacted = redact_url(url)
    assert CANARY not in redacted
    assert "pw" not in redacted
    assert "timestamp=1.5" in redacted
    assert f"middle_auth_token={REDACTED}" in redacted
    assert f"x={REDACTED}" in redacted


def test_the_canary_token_never_leaks(caplog: pytest.LogCaptureFixture) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/datastacks"):
            return httpx.Response(200, json=["ds"])
        # A server that echoes the token back in its error message.
        return httpx.Response(401, json={"error": "invalid_token", "message": f"bad token {CANARY}"})

    caplog.set_level(logging.DEBUG)
    client = CAVEclient(
        "ds",
        server_address="https://cave.test",
        auth_token=CANARY,
        transport=httpx.MockTransport(handler),
        max_retries=0,
    )
    texts = [repr(client), str(client), repr(client.info), repr(client.auth), repr(client.state)]
    client.info.get_datastacks()
    with pytest.raises(CAVEError) as raised:
        client.info.get_datastack_info()
    texts += [str(raised.value), repr(raised.value), str(raised.value.__dict__)]
    # caveclient's users read the requests-style response of an HTTPError: scrubbed too.
    response = getattr(raised.value, "response", None)
    assert response is not None
    texts += [response.text, response.url, str(dict(response.headers)), str(response.__dict__)]
    assert raised.value.request is None
    texts += [record.getMessage() for record in caplog.records]
    assert any("datastacks" in text for text in texts)  # logging did happen
    for text in texts:
        assert CANARY not in text
