"""The real annotation schema definitions (emannotationschemas 5.26.3), loaded on first use.

``schemas-5.26.3.json.gz`` is written by ``scripts/dump_schemas.py`` from the PyPI package: the
``types_all`` answer of the schema service, in the server's own encoding and type order.
"""

from __future__ import annotations

import functools
import gzip
import json
from importlib.resources import files
from typing import Any

SCHEMA_PACKAGE_VERSION = "5.26.3"
_DATA_FILE = f"schemas-{SCHEMA_PACKAGE_VERSION}.json.gz"


@functools.cache
def types_all_json() -> str:
    """The JSON text of every schema document, keyed by type name, as the server encodes it."""
    return gzip.decompress(files(__package__).joinpath(_DATA_FILE).read_bytes()).decode()


@functools.cache
def _documents() -> dict[str, Any]:
    documents: dict[str, Any] = json.loads(types_all_json())
    return documents


def schema_type_names() -> list[str]:
    return list(_documents())


def schema_document(type_name: str) -> dict[str, Any] | None:
    """The JSON-Schema document of one annotation type, or None for an unknown type."""
    return _documents().get(type_name)
