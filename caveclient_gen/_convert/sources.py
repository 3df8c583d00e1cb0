"""Rewriting data source paths for the tool that will read them (caveclient's `format_for`)."""

from __future__ import annotations

from urllib.parse import urlsplit

from ..errors import InvalidInputError

FORMATS = ("raw", "cloudvolume", "neuroglancer", "cave_explorer", "cave-explorer", "spelunker")
GCS_HTTPS = "https://storage.googleapis.com"


def format_source(source: str, format_for: str = "raw") -> str:
    """`source` as `format_for` expects it; paths of other kinds are returned unchanged."""
    if format_for not in FORMATS:
        raise InvalidInputError("format_for", f"{format_for!r} is not one of {', '.join(FORMATS)}")
    if format_for == "raw":
        return source
    if format_for == "cloudvolume":
        return _for_cloudvolume(source)
    return _for_neuroglancer(source)


def _scheme(source: str) -> str:
    return urlsplit(source).scheme.lower()


def _for_cloudvolume(source: str) -> str:
    scheme = _scheme(source)
    if scheme == "gs":
        parts = urlsplit(source)
        return f"precomputed://{GCS_HTTPS}/{parts.netloc}{parts.path}"
    if scheme in {"http", "https"}:
        return f"precomputed://{source}"
    return source


def _for_neuroglancer(source: str) -> str:
    """Neuroglancer, CAVE explorer and spelunker share one source syntax."""
    scheme = _scheme(source)
    if scheme == "graphene":
        rest = source[len("graphene://") :]
        return source if rest.startswith("middleauth+") else f"graphene://middleauth+{rest}"
    if scheme in {"http", "https"}:
        return f"graphene://middleauth+{source}"
    if scheme == "gs":
        return f"precomputed://{source}"
    if scheme == "precomputed":
        inner = source[len("precomputed://") :]
        if inner.startswith(GCS_HTTPS + "/"):
            return f"precomputed://gs://{inner[len(GCS_HTTPS) + 1 :]}"
        return source
    return source
