"""Compare a server's published API document with our spec: what matches, what moved.

The server document may be Swagger 2.0 (what flask-restx publishes) or OpenAPI 3.x. Both sides are
reduced to the same shape: operations keyed by method and path (path parameters compared by position),
each with its parameters (location, name, type, default, required) and the properties of its JSON body.
Routes our spec deliberately leaves out are listed under its top-level `x-cave-not-covered` key and
reported as such, not as drift.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")
PATH_PARAMETER = re.compile(r"\{[^}]+\}|<(?:[^:>]+:)?[^>]+>")


class DriftError(Exception):
    """The document could not be read or matched to a service."""


@dataclass(frozen=True)
class Parameter:
    location: str
    name: str
    type: str
    default: Any = None
    required: bool = False

    def describe(self) -> str:
        text = f"{self.location} {self.name}: {self.type}"
        if self.default is not None:
            text += f" = {self.default!r}"
        return text + (" (required)" if self.required else "")


@dataclass
class Operation:
    method: str
    path: str
    operation_id: str | None
    parameters: dict[tuple[str, str], Parameter] = field(default_factory=dict)
    body: dict[str, str] | None = None
    outside_server_document: bool = False
    known_differences: dict[str, str] = field(default_factory=dict)
    """Parameter or body field name -> why our spec deliberately differs from the server's document."""

    @property
    def key(self) -> tuple[str, str]:
        return self.method, normalize_path(self.path)

    def label(self) -> str:
        suffix = f"  [{self.operation_id}]" if self.operation_id else ""
        return f"{self.method} {self.path}{suffix}"


def normalize_path(path: str) -> str:
    return PATH_PARAMETER.sub("{}", path.rstrip("/") or "/")


def load_document(source: str) -> dict[str, Any]:
    """Read a JSON or YAML API document from a URL or a file."""
    if re.match(r"https?://", source):
        import httpx  # only needed for URLs

        try:
            response = httpx.get(source, timeout=httpx.Timeout(30.0, connect=5.0), follow_redirects=True)
            response.raise_for_status()
        except httpx.HTTPError as error:
            raise DriftError(f"could not fetch {source}: {error}") from error
        text = response.text
    else:
        path = Path(source)
        if not path.is_file():
            raise DriftError(f"no such file: {source}")
        text = path.read_text(encoding="utf-8")
    try:
        document = json.loads(text) if text.lstrip().startswith("{") else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as error:
        raise DriftError(f"{source} is neither JSON nor YAML: {error}") from error
    if not isinstance(document, dict) or not ("swagger" in document or "openapi" in document):
        raise DriftError(f"{source} is not a Swagger 2.0 or OpenAPI 3 document")
    return document


def _resolve(document: dict[str, Any], node: Any) -> Any:
    seen = 0
    while isinstance(node, dict) and "$ref" in node and seen < 32:
        pointer = node["$ref"].lstrip("#/").split("/")
        node = document
        for part in pointer:
            node = node.get(part.replace("~1", "/").replace("~0", "~"), {})
        seen += 1
    return node


def _type_name(schema: dict[str, Any]) -> str:
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind is None:
        for union in ("oneOf", "anyOf"):
            if union in schema:
                return "|".join(sorted({_type_name(s) for s in schema[union]}))
        return "object" if "properties" in schema or "$ref" in schema else "any"
    if kind == "array":
        return f"array[{_type_name(schema.get('items', {}))}]"
    return str(kind)


def _body_properties(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, str]:
    schema = _resolve(document, schema)
    properties = {}
    for piece in [schema, *schema.get("allOf", [])]:
        part = _resolve(document, piece)
        for name, prop in (part.get("properties") or {}).items():
            properties[name] = _type_name(_resolve(document, prop))
    return properties


def operations_of(document: dict[str, Any]) -> list[Operation]:
    """Operations of a Swagger 2.0 or OpenAPI 3 document, with full paths."""
    swagger = "swagger" in document
    prefix = ""
    if swagger:
        prefix = (document.get("basePath") or "").rstrip("/")
    else:
        server_url = ((document.get("servers") or [{}])[0]).get("url", "")
        if server_url.startswith("/"):
            prefix = server_url.rstrip("/")
    operations = []
    for path, item in (document.get("paths") or {}).items():
        shared = item.get("parameters", [])
        for method in HTTP_METHODS:
            if method not in item:
                continue
            raw = item[method]
            operation = Operation(
                method.upper(),
                prefix + path,
                raw.get("operationId"),
                outside_server_document=bool(raw.get("x-cave-outside-server-document")),
                known_differences={
                    **document.get("x-cave-known-differences", {}),
                    **raw.get("x-cave-known-differences", {}),
                },
            )
            for reference in [*shared, *raw.get("parameters", [])]:
                parameter = _resolve(document, reference)
                location = parameter.get("in", "")
                if location == "body":
                    operation.body = _body_properties(document, parameter.get("schema", {}))
                    continue
                schema = parameter if swagger else _resolve(document, parameter.get("schema", {}))
                kind = _type_name(schema)
                csv_items = parameter.get("x-cave-csv-items")
                if isinstance(csv_items, dict):
                    # A comma-separated list sent as one string (what flask-restx calls csv).
                    kind = f"array[{_type_name(csv_items)}]"
                operation.parameters[(location, parameter["name"])] = Parameter(
                    location=location,
                    name=parameter["name"],
                    type=kind,
                    # Our specs give the server's default as `x-server-default` (see regenerating.md).
                    default=schema.get("default", parameter.get("x-server-default")),
                    required=bool(parameter.get("required", False)),
                )
            if not swagger and "requestBody" in raw:
                body = _resolve(document, raw["requestBody"])
                media: dict[str, Any] = next(iter((body.get("content") or {}).values()), {})
                operation.body = _body_properties(document, media.get("schema", {}))
            operations.append(operation)
    return operations


def _path_params(operation: Operation) -> list[Parameter]:
    """Path parameters in the order they appear in the path."""
    by_name = {p.name: p for p in operation.parameters.values() if p.location == "path"}
    names = re.findall(r"\{([^}]+)\}", operation.path)
    return [by_name[name] for name in names if name in by_name]


def compare_operations(theirs: Operation, ours: Operation) -> list[tuple[str, str]]:
    """Differences between two versions of one operation, as (parameter or field, description)."""
    changes: list[tuple[str, str]] = []
    for their_param, our_param in zip(_path_params(theirs), _path_params(ours), strict=False):
        if their_param.name != our_param.name:
            changes.append(
                (our_param.name, f"path parameter renamed: {our_param.name} -> {their_param.name}")
            )
        if their_param.type != our_param.type:
            changes.append(
                (
                    our_param.name,
                    f"path parameter {their_param.name}: type {our_param.type} -> {their_param.type}",
                )
            )
    other_theirs = {k: p for k, p in theirs.parameters.items() if p.location != "path"}
    other_ours = {k: p for k, p in ours.parameters.items() if p.location != "path"}
    for key in sorted(other_theirs.keys() - other_ours.keys()):
        changes.append((key[1], f"parameter added on the server: {other_theirs[key].describe()}"))
    for key in sorted(other_ours.keys() - other_theirs.keys()):
        changes.append((key[1], f"parameter gone from the server: {other_ours[key].describe()}"))
    for key in sorted(other_theirs.keys() & other_ours.keys()):
        mine, server = other_ours[key], other_theirs[key]
        for attribute in ("type", "default", "required"):
            before, after = getattr(mine, attribute), getattr(server, attribute)
            if before != after and not (attribute == "default" and after is None):
                changes.append(
                    (server.name, f"parameter {server.name}: {attribute} {before!r} -> {after!r}")
                )
    if theirs.body is not None and ours.body is not None:
        for name in sorted(theirs.body.keys() - ours.body.keys()):
            changes.append((name, f"body field added on the server: {name}: {theirs.body[name]}"))
        for name in sorted(ours.body.keys() - theirs.body.keys()):
            changes.append((name, f"body field gone from the server: {name}"))
        for name in sorted(theirs.body.keys() & ours.body.keys()):
            if "any" not in (theirs.body[name], ours.body[name]) and (
                theirs.body[name] != ours.body[name]
            ):
                changes.append(
                    (name, f"body field {name}: type {ours.body[name]} -> {theirs.body[name]}")
                )
    elif theirs.body is not None:
        changes.append(("body", "request body added on the server"))
    return changes


def _pick_service(
    theirs: list[Operation], ours: dict[str, dict[str, Any]]
) -> tuple[str, dict[str, Any]]:
    their_keys = {operation.key for operation in theirs}
    best = max(
        ours.items(),
        key=lambda item: len(their_keys & {op.key for op in operations_of(item[1])}),
    )
    if not their_keys & {op.key for op in operations_of(best[1])}:
        raise DriftError("no operation of the document matches any of our specs")
    return best


def drift_report(
    document: dict[str, Any], ours: dict[str, dict[str, Any]], *, source: str
) -> tuple[str, bool]:
    """The report text, and whether anything drifted (deliberate omissions do not count)."""
    theirs = operations_of(document)
    service, spec = _pick_service(theirs, ours)
    our_ops = {op.key: op for op in operations_of(spec)}
    their_ops = {op.key: op for op in theirs}
    not_covered = {
        (entry["method"].upper(), normalize_path(entry["path"])): entry["reason"]
        for entry in spec.get("x-cave-not-covered", [])
    }

    matching: list[Operation] = []
    changed: list[tuple[Operation, list[str]]] = []
    explained: list[tuple[Operation, list[str]]] = []
    added: list[str] = []
    deliberate: list[str] = []
    for key, operation in sorted(their_ops.items()):
        if key in our_ops:
            mine = our_ops[key]
            differences = compare_operations(operation, mine)
            unexplained = [
                text for subject, text in differences if subject not in mine.known_differences
            ]
            known = [
                f"{text} ({mine.known_differences[subject]})"
                for subject, text in differences
                if subject in mine.known_differences
            ]
            if unexplained:
                changed.append((operation, unexplained))
            if known:
                explained.append((operation, known))
            if not differences:
                matching.append(operation)
        elif key in not_covered:
            deliberate.append(f"{operation.label()}\n      {not_covered[key]}")
        else:
            added.append(operation.label())
    missing = [op for key, op in sorted(our_ops.items()) if key not in their_ops]
    outside = [op.label() for op in missing if op.outside_server_document]
    removed = [op.label() for op in missing if not op.outside_server_document]

    version = document.get("info", {}).get("version", "?")
    lines = [
        f"Drift of {source}",
        f"  server document: {document.get('info', {}).get('title', '?')} {version} "
        f"({'Swagger 2.0' if 'swagger' in document else 'OpenAPI ' + str(document['openapi'])}, "
        f"{len(theirs)} operations)",
        f"  our spec: specs/{service}.yaml, checked against {spec['info']['version']} "
        f"({len(our_ops)} operations)",
        "",
    ]

    def section(title: str, items: list[str]) -> None:
        lines.append(f"{title} ({len(items)})")
        lines.extend(f"  {item}" for item in items)
        lines.append("")

    def detailed(items: list[tuple[Operation, list[str]]]) -> list[str]:
        return [op.label() + "".join(f"\n      - {d}" for d in diffs) for op, diffs in items]

    section("Matching operations", [op.label() for op in matching])
    section("Changed on the server", detailed(changed))
    section("Known differences from the server's document (explained in our spec)", detailed(explained))
    section("Added on the server, not in our spec", added)
    section("Not covered by our client (deliberately)", deliberate)
    section("Gone from the server document", removed)
    section("Served outside the server's document (plain routes, as expected)", outside)
    drifted = bool(changed or added or removed)
    lines.append(
        "Verdict: "
        + (
            "DRIFT — update the spec and regenerate."
            if drifted
            else "no drift in the operations both documents describe."
        )
    )
    return "\n".join(lines), drifted
