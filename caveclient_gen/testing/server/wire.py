"""Responses encoded the way the real Flask and flask-restx servers encode them.

The CAVE services are Flask apps; clients see Flask's byte-level habits (sorted compact JSON from
``jsonify``, flask-restx's spaced JSON, ``text/html`` labels on plain strings, HTML error pages),
so LocalCAVE reproduces those habits instead of Starlette's own.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from email.utils import format_datetime
from http import HTTPStatus

from starlette.responses import Response

JSON_MEDIA_TYPE = "application/json"
# Flask labels every plain string or bytes body like this, whatever it holds.
FLASK_DEFAULT_MEDIA_TYPE = "text/html; charset=utf-8"

# Werkzeug's description of a 404; flask-restx puts it in its JSON 404 bodies.
NOT_FOUND_DESCRIPTION = (
    "The requested URL was not found on the server. If you entered the URL manually please check "
    "your spelling and try again."
)
_ROUTE_VARIABLES = re.compile(r"(<.*>)")


def flask_json(
    data: object, status_code: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    """A body as ``flask.jsonify`` makes it: sorted keys, compact, ASCII, newline-terminated."""
    body = json.dumps(data, sort_keys=True, separators=(",", ":")) + "\n"
    return Response(body, status_code, headers, media_type=JSON_MEDIA_TYPE)


def restx_json(
    data: object, status_code: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    """A body as flask-restx renders a resource's return value: key order kept, spaced."""
    return Response(json.dumps(data) + "\n", status_code, headers, media_type=JSON_MEDIA_TYPE)


def flask_text(text: str | bytes, status_code: int = 200) -> Response:
    """A plain string or bytes returned from a Flask view."""
    return Response(text, status_code, media_type=FLASK_DEFAULT_MEDIA_TYPE)


def flask_error_page(status_code: int, headers: Mapping[str, str] | None = None) -> Response:
    """Flask's HTML error page for an aborted or failed request; clients read its title."""
    phrase = HTTPStatus(status_code).phrase
    description = NOT_FOUND_DESCRIPTION if status_code == 404 else f"{phrase}."
    page = (
        "<!doctype html>\n<html lang=en>\n"
        f"<title>{status_code} {phrase}</title>\n<h1>{phrase}</h1>\n<p>{description}</p>\n"
    )
    return Response(page, status_code, headers, media_type=FLASK_DEFAULT_MEDIA_TYPE)


def flask_redirect(location: str, headers: Mapping[str, str] | None = None) -> Response:
    """A 302 as ``flask.redirect`` sends it (a small HTML body pointing at the target)."""
    page = (
        "<!doctype html>\n<html lang=en>\n<title>Redirecting...</title>\n"
        f'<p>Redirecting to <a href="{location}">{location}</a>.</p>\n'
    )
    return Response(
        page,
        302,
        {**(headers or {}), "Location": location},
        media_type=FLASK_DEFAULT_MEDIA_TYPE,
    )


def restx_not_found(request_path: str, flask_rules: Iterable[str]) -> Response:
    """The 404 a flask-restx resource gives for an unknown name, with its "did you mean" hint."""
    return restx_json({"message": restx_not_found_message(request_path, flask_rules)}, 404)


def restx_not_found_message(request_path: str, flask_rules: Iterable[str]) -> str:
    """Werkzeug's 404 text plus flask-restx's suggestions of similar routes of the whole app.

    flask-restx compares the request path with every URL rule of the Flask app, variables removed,
    and names up to three close ones; ``flask_rules`` must therefore list the app's rules in the
    order Flask registers them.
    """
    rules_by_stripped_form = {_ROUTE_VARIABLES.sub("", rule): rule for rule in flask_rules}
    matches = difflib.get_close_matches(request_path, list(rules_by_stripped_form))
    if not matches:
        return NOT_FOUND_DESCRIPTION
    suggestions = " or ".join(rules_by_stripped_form[match] for match in matches)
    return (
        f"{NOT_FOUND_DESCRIPTION.rstrip('.')}. You have requested this URI [{request_path}] "
        f"but did you mean {suggestions} ?"
    )


def restx_internal_error() -> Response:
    """What flask-restx answers when a resource raises an unexpected exception."""
    return restx_json({"message": HTTPStatus.INTERNAL_SERVER_ERROR.phrase}, 500)


def http_date(moment: datetime) -> str:
    """RFC 1123 date as Flask's JSON encoder writes datetimes: ``Tue, 01 Jan 2025 00:00:00 GMT``."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return format_datetime(moment.astimezone(UTC), usegmt=True)
