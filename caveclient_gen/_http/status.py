"""Turning an error response into the matching exception of caveclient_gen.errors."""

from __future__ import annotations

import email.utils
import html
import json
import re
import time
from typing import Any

import httpx

from ..errors import (
    AuthenticationError,
    CAVEStatusError,
    RateLimitError,
    TermsOfServiceError,
    status_error_class,
)
from .redact import redact_url, scrub

EMBEDDED_STATUS = re.compile(r"^(?P<status>[1-5]\d\d) (?P<reason>[^:]*):\s*(?P<text>.*)$", re.DOTALL)
HTML_TITLE = re.compile(r"<title[^>]*>(?P<title>.*?)</title>", re.IGNORECASE | re.DOTALL)
MAX_MESSAGE_LENGTH = 2000
MAX_BODY_LENGTH = 65536
"""How much of an error body `error.response.text` keeps (an HTML error page can be long)."""


def is_login_redirect(response: httpx.Response) -> bool:
    location = response.headers.get("location", "")
    return response.is_redirect and ("authorize" in location or "login" in location)


def error_from_response(response: httpx.Response, token: str | None) -> CAVEStatusError:
    """The exception for an error response whose body has been read."""
    method = response.request.method
    url = redact_url(str(response.request.url))
    headers = {
        name: value
        for name, value in response.headers.items()
        if name.lower() in {"content-type", "retry-after", "www-authenticate", "warning"}
    }
    if is_login_redirect(response):
        return AuthenticationError(
            "the server redirected to its login page: the token is missing, invalid or expired",
            method=method,
            url=url,
            status_code=401,
            wire_status=response.status_code,
            headers=headers,
        )

    message, error_code, data = _parse_body(response)
    message = scrub(message, token)
    status = response.status_code
    embedded = EMBEDDED_STATUS.match(message) if status == 500 else None
    if embedded:
        status = int(embedded["status"])
        message = embedded["text"].strip() or embedded["reason"]

    error_class = status_error_class(status)
    if status == 403 and error_code == "missing_tos":
        error_class = TermsOfServiceError
    error = error_class(
        message or response.reason_phrase or "no message",
        method=method,
        url=url,
        status_code=status,
        wire_status=response.status_code,
        error_code=error_code,
        data=data,
        headers=headers,
        body=scrub(response.text[:MAX_BODY_LENGTH], token),
    )
    if isinstance(error, RateLimitError):
        error.retry_after = retry_after_seconds(response.headers.get("retry-after"))
    return error


def _parse_body(response: httpx.Response) -> tuple[str, str | None, Any]:
    text = response.text.strip()
    content_type = response.headers.get("content-type", "")
    if "json" in content_type or text[:1] in ("{", '"', "["):
        try:
            body = json.loads(text)
        except ValueError:
            body = None
        if isinstance(body, dict):
            message = body.get("message") or body.get("error") or body.get("Error") or ""
            code = body.get("error") if isinstance(body.get("error"), str) else None
            return _shorten(str(message)), code, body.get("data")
        if isinstance(body, str):
            return _shorten(body), None, None
    if text.startswith("<"):
        # An HTML page (Flask's, or a proxy's): its title says what happened; the rest is noise.
        title = HTML_TITLE.search(text)
        return (
            _shorten(html.unescape(title["title"].strip()) if title else "HTML error page"),
            None,
            None,
        )
    # Flask labels plain-text refusals text/html; they are plain text all the same.
    return _shorten(text), None, None


def _shorten(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_MESSAGE_LENGTH else text[:MAX_MESSAGE_LENGTH] + " …"


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta seconds or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    current = time.time() if now is None else now
    return max(0.0, moment.timestamp() - current)
