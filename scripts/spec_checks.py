"""Checks a service spec must pass before it is compiled.

openapi-spec-validator proves the document is valid OpenAPI 3.1; the checks here catch what the
generator would otherwise accept silently: duplicated operationIds (modules overwrite each other),
missing or multiple tags, and JSON responses without a usable schema (no typed function is emitted).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import yaml
from openapi_spec_validator import validate

HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
SECURITY_SCHEMES = {"bearer", "cookie", "query"}


class SpecError(Exception):
    """A spec failed validation; the message lists every problem found."""


def load_spec(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        document = yaml.safe_load(handle)
    if not isinstance(document, dict):
        raise SpecError(f"{path}: not a YAML mapping")
    return document


def iter_operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """Every (METHOD, path, operation) of a spec, in document order."""
    operations = []
    for path, item in (spec.get("paths") or {}).items():
        for method in HTTP_METHODS:
            if method in item:
                operations.append((method.upper(), path, item[method]))
    return operations


def check_spec(path: Path) -> dict[str, Any]:
    """Validate one spec; return it parsed, or raise SpecError naming every problem."""
    spec = load_spec(path)
    try:
        validate(spec)
    except Exception as error:  # the validator raises several unrelated exception types
        raise SpecError(f"{path}: not valid OpenAPI 3.1: {error}") from error

    problems: list[str] = []
    if not str(spec.get("openapi", "")).startswith("3.1"):
        problems.append("openapi must be 3.1.x")
    if not spec.get("info", {}).get("version"):
        problems.append("info.version must name the server version the spec was checked against")
    schemes = set(spec.get("components", {}).get("securitySchemes", {}))
    if schemes and schemes != SECURITY_SCHEMES:
        problems.append(f"security schemes must be {sorted(SECURITY_SCHEMES)}, not {sorted(schemes)}")

    problems.extend(_extension_problems(spec))
    operation_ids: Counter[str] = Counter()
    for method, route, operation in iter_operations(spec):
        where = f"{method} {route}"
        operation_id = operation.get("operationId")
        if not operation_id:
            problems.append(f"{where}: no operationId")
            continue
        operation_ids[operation_id] += 1
        if operation_id != operation_id.lower() or not operation_id.isidentifier():
            problems.append(f"{where}: operationId {operation_id!r} is not snake_case")
        if len(operation.get("tags", [])) != 1:
            problems.append(f"{where}: needs exactly one tag")
        for security in operation.get("security", []):
            if security:
                problems.append(
                    f"{where}: operation-level security must be [] (the global list applies)"
                )
        problems.extend(_response_problems(where, operation))
    problems.extend(
        f"operationId {name!r} is used {count} times"
        for name, count in operation_ids.items()
        if count > 1
    )
    if problems:
        raise SpecError(f"{path}:\n  " + "\n  ".join(problems))
    return spec


def _response_problems(where: str, operation: dict[str, Any]) -> list[str]:
    problems = []
    responses = operation.get("responses", {})
    if not any(str(status).startswith("2") for status in responses):
        problems.append(f"{where}: no 2xx response")
    for status, response in responses.items():
        if not str(status).startswith("2") or "$ref" in response:
            continue
        for media_type, media in (response.get("content") or {}).items():
            if "json" in media_type and not media.get("schema"):
                problems.append(f"{where}: {status} {media_type} response has no schema")
    return problems


def _extension_problems(spec: dict[str, Any]) -> list[str]:
    """The x-cave-* keys the drift report reads must have the documented shapes."""
    problems = []
    for index, entry in enumerate(spec.get("x-cave-not-covered", [])):
        if not isinstance(entry, dict) or {"method", "path", "reason"} - set(entry):
            problems.append(f"x-cave-not-covered[{index}] needs method, path and reason")
        elif str(entry["method"]).lower() not in HTTP_METHODS or not str(entry["path"]).startswith("/"):
            problems.append(
                f"x-cave-not-covered[{index}]: {entry['method']} {entry['path']} is not a route"
            )
    differences = [("document", spec.get("x-cave-known-differences", {}))]
    differences += [
        (f"{method} {route}", operation.get("x-cave-known-differences", {}))
        for method, route, operation in iter_operations(spec)
    ]
    for where, mapping in differences:
        if not isinstance(mapping, dict) or not all(
            isinstance(key, str) and isinstance(value, str) and value for key, value in mapping.items()
        ):
            problems.append(f"{where}: x-cave-known-differences maps names to reasons (strings)")
    return problems
