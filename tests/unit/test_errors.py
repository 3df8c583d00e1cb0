"""Error responses become the matching exception, with the server's own message."""

from __future__ import annotations

import httpx
import pytest

from caveclient_gen import CAVEclient
from caveclient_gen.errors import (
    AuthenticationError,
    BadRequestError,
    CAVEStatusError,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    TermsOfServiceError,
    UnexpectedResponseError,
    UnprocessableEntityError,
)


def client_answering(response: httpx.Response) -> CAVEclient:
    def handler(request: httpx.Request) -> httpx.Response:
        return response

    return CAVEclient(
        server_address="https://cave.test",
        auth_token="t0ken",
        transport=httpx.MockTransport(handler),
        max_retries=0,
    )


def raised_by(response: httpx.Response) -> CAVEStatusError:
    with pytest.raises(CAVEStatusError) as raised:
        client_answering(response).info.get_datastacks()
    return raised.value


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (409, ConflictError),
        (422, UnprocessableEntityError),
        (429, RateLimitError),
        (500, ServerError),
        (502, ServerError),
        (418, CAVEStatusError),
    ],
)
def test_each_status_has_its_class(code: int, kind: type[CAVEStatusError]) -> None:
    error = raised_by(httpx.Response(code, json={"message": "server says no"}))
    assert type(error) is kind
    assert error.status_code == code
    assert error.server_message == "server says no"
    assert error.method == "GET"
    assert error.url == "https://cave.test/info/api/v2/datastacks"
    assert "server says no" in str(error)


def test_middle_auth_bodies_keep_their_error_code() -> None:
    error = raised_by(
        httpx.Response(
            401, json={"error": "invalid_token", "message": "Unauthorized - Token is Invalid or Expired"}
        )
    )
    assert isinstance(error, AuthenticationError)
    assert error.error_code == "invalid_token"
    assert error.server_message == "Unauthorized - Token is Invalid or Expired"


def test_missing_terms_of_service_names_the_page() -> None:
    url = "https://cave.test/sticky_auth/api/v1/tos/2/accept"
    error = raised_by(
        httpx.Response(
            403,
            json={
                "error": "missing_tos",
                "message": "Need to accept Terms of Service to access resource.",
                "data": {"tos_id": 2, "tos_name": "MICrONS", "tos_form_url": url},
            },
        )
    )
    assert isinstance(error, TermsOfServiceError)
    assert error.tos_url == url
    assert url in str(error)


def test_a_500_with_an_embedded_status_is_raised_as_that_status() -> None:
    error = raised_by(
        httpx.Response(
            500,
            json={
                "code": 500,
                "message": "404 Not Found: version 7 not found in ds",
                "traceback": ["..."],
            },
        )
    )
    assert isinstance(error, NotFoundError)
    assert error.status_code == 404
    assert error.wire_status == 500
    assert error.server_message == "version 7 not found in ds"
    assert "sent as HTTP 500" in str(error)


def test_html_error_pages_are_reduced_to_their_title() -> None:
    page = "<html><head><title>503 Service Temporarily Unavailable</title></head><body>" + "x" * 5000
    error = raised_by(httpx.Response(503, text=page, headers={"content-type": "text/html"}))
    assert error.server_message == "503 Service Temporarily Unavailable"
    assert "xxxx" not in str(error)


def test_plain_text_bodies_are_the_message() -> None:
    error = raised_by(httpx.Response(403, text="Requires superadmin privilege."))
    assert error.server_message == "Requires superadmin privilege."


def test_a_login_redirect_is_an_authentication_error() -> None:
    error = raised_by(
        httpx.Response(
            302, headers={"location": "https://cave.test/sticky_auth/api/v1/authorize?redirect=x"}
        )
    )
    assert isinstance(error, AuthenticationError)
    assert error.wire_status == 302


def test_rate_limits_carry_retry_after() -> None:
    error = raised_by(
        httpx.Response(429, json={"error": "ratelimit exceeded"}, headers={"retry-after": "1000"})
    )
    assert isinstance(error, RateLimitError)
    assert error.retry_after == 1000.0


def test_a_body_of_the_wrong_shape_is_an_unexpected_response() -> None:
    client = client_answering(httpx.Response(200, json={"not": "a datastack"}))
    with pytest.raises(UnexpectedResponseError, match="documented shape"):
        client.info.get_datastack_info("ds")
