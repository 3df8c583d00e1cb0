"""Redaction of what could carry a secret before it reaches a log, a repr or an exception.

Query values are kept only for parameters on an allow-list (the query parameters of the CAVE specs,
which never carry secrets); every other value, `middle_auth_token` included, prints as REDACTED.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

REDACTED = "REDACTED"

SAFE_QUERY_PARAMETERS = frozenset(
    {
        "allow_invalid_root_ids",
        "allow_missing_lookups",
        "annotation_ids",
        "arrow_format",
        "as_array",
        "as_binary",
        "assert_roots",
        "attribute_names",
        "bounds",
        "chebyshev_distance",
        "count",
        "delimiter",
        "direct_sql_pandas",
        "email",
        "end_time",
        "end_timestamp",
        "expired",
        "fail_to_zero",
        "filter_valid",
        "filtered",
        "from",
        "id",
        "image_source_name",
        "include_undone",
        "int64_as_str",
        "ipc_compress",
        "is_binary",
        "label_columns",
        "label_format",
        "latest",
        "merge_reference",
        "mincut",
        "name",
        "only_internal_edges",
        "operation_ids",
        "page",
        "partners",
        "per_page",
        "precision_mode",
        "priority",
        "random_sample",
        "remesh",
        "return_pyarrow",
        "schema_names",
        "split_positions",
        "start_time",
        "start_timestamp",
        "stop_layer",
        "timestamp",
        "timestamp_future",
        "timestamp_past",
        "to",
        "update_cache",
        "use_redis",
        "user_id",
        "verbose_level",
    }
)
"""Query parameters whose values are shown. tests/test_redaction.py keeps this in step with specs/."""

SENSITIVE_HEADERS = frozenset({"authorization", "cookie", "set-cookie", "proxy-authorization"})


def redact_url(url: str) -> str:
    """The URL with user info removed and query values outside the allow-list replaced."""
    parts = urlsplit(url)
    netloc = parts.hostname or ""
    if parts.port:
        netloc = f"{netloc}:{parts.port}"
    query = urlencode(
        [
            (name, value if name in SAFE_QUERY_PARAMETERS else REDACTED)
            for name, value in parse_qsl(parts.query, keep_blank_values=True)
        ],
        safe=",[]",
    )
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def redact_headers(headers: dict[str, str]) -> dict[str, str]:
    return {
        name: REDACTED if name.lower() in SENSITIVE_HEADERS else value for name, value in headers.items()
    }


def scrub(text: str, secret: str | None) -> str:
    """Remove a known secret from free text (server messages can echo request data)."""
    if secret and len(secret) >= 4:
        return text.replace(secret, REDACTED)
    return text
