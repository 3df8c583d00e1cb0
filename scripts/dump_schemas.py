"""Dump the real annotation schema definitions for LocalCAVE's schema service.

The schema service answers ``GET /schema/api/v2/types_all`` with one JSON-Schema document per
annotation type, made by marshmallow-jsonschema from the marshmallow classes of the PyPI package
``emannotationschemas``. That package pins numpy<2 and an old marshmallow, so it cannot be
installed beside caveclient_gen; run this script in a throw-away environment instead:

    uv run --isolated --no-project --python 3.11 \\
        --with emannotationschemas==5.26.3 --with "setuptools<81" \\
        python scripts/dump_schemas.py

(``setuptools<81`` because marshmallow-jsonschema still imports ``pkg_resources``.)

Key order: marshmallow 3.5.1 collects a schema's fields in a plain ``set``, so the order of
``type``/``required``/``properties`` in each definition follows Python's string hashing and
differs between server processes. The script re-runs itself with ``PYTHONHASHSEED=0``, which
gives the order of the captured real responses, so the file is byte-for-byte reproducible.

It writes ``caveclient_gen/testing/schema/schemas-5.26.3.json.gz``: the types_all object, type
names in the server's order, encoded as the server encodes it, gzip-compressed with a zero mtime so
that the bytes only change when the definitions do. With ``--compare FILE`` it also checks the result
against a captured ``schema-5.26.3.responses.json`` and exits non-zero on any difference.
"""

from __future__ import annotations

import argparse
import gzip
import importlib
import json
import os
import sys
from pathlib import Path
from typing import Any

SCHEMA_PACKAGE_VERSION = "5.26.3"
HASH_SEED_OF_CAPTURED_ORDER = "0"
OUTPUT = (
    Path(__file__).resolve().parent.parent
    / "caveclient_gen"
    / "testing"
    / "schema"
    / f"schemas-{SCHEMA_PACKAGE_VERSION}.json.gz"
)


def dump_types_all() -> dict[str, Any]:
    """Build the types_all answer exactly as the schema service does."""
    package = importlib.import_module("emannotationschemas")
    installed = importlib.import_module("importlib.metadata").version("emannotationschemas")
    if installed != SCHEMA_PACKAGE_VERSION:
        raise SystemExit(f"need emannotationschemas=={SCHEMA_PACKAGE_VERSION}, found {installed}")
    json_schema_class = importlib.import_module("marshmallow_jsonschema").JSONSchema
    documents: dict[str, Any] = {}
    for type_name in package.get_types():
        schema_class = package.get_schema(type_name)
        documents[type_name] = json_schema_class().dump(schema_class())
    return documents


def differences_from_sample(documents: dict[str, Any], sample_path: Path) -> list[str]:
    sample = json.loads(sample_path.read_text())["responses"]["types_all"]["body"]
    problems = []
    if list(sample) != list(documents):
        problems.append("type names or their order differ")
    for name in sample:
        if name in documents and sample[name] != documents[name]:
            problems.append(f"definition of {name!r} differs")
        elif name in documents and json.dumps(sample[name]) != json.dumps(documents[name]):
            problems.append(f"definition of {name!r} has its keys in another order")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=OUTPUT)
    parser.add_argument("--compare", type=Path, help="schema-5.26.3.responses.json to check against")
    args = parser.parse_args(argv)
    if os.environ.get("PYTHONHASHSEED") != HASH_SEED_OF_CAPTURED_ORDER:
        environment = {**os.environ, "PYTHONHASHSEED": HASH_SEED_OF_CAPTURED_ORDER}
        os.execve(sys.executable, [sys.executable, *sys.argv], environment)

    documents = dump_types_all()
    # flask-restx encodes with json.dumps defaults (insertion order, ", " and ": " separators).
    encoded = json.dumps(documents).encode()
    args.output.write_bytes(gzip.compress(encoded, compresslevel=9, mtime=0))
    print(f"wrote {len(documents)} schemas to {args.output}")

    if args.compare is not None:
        problems = differences_from_sample(documents, args.compare)
        for problem in problems:
            print(problem, file=sys.stderr)
        if problems:
            return 1
        print(f"identical to the types_all sample in {args.compare}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
