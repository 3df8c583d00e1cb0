"""Checks an HTTP exchange against specs/: the route exists, the status is documented, and the body
has the documented media type and validates against the documented JSON schema."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import yaml
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SPECS = Path(__file__).resolve().parents[2] / "specs"
HTTP_METHODS = ("get", "put", "post", "delete", "patch")
LOGIN_REDIRECT = 302
"""Documented once per spec (browser-like requests without a token), not on every operation."""


@dataclass(frozen=True)
class Route:
    service: str
    method: str
    template: str
    pattern: re.Pattern[str]
    operation: dict[str, Any]


class SpecValidator:
    """Validates recorded exchanges against every spec in specs/."""

    def __init__(self, specs_dir: Path = SPECS) -> None:
        self.specs = {
            path.stem: yaml.safe_load(path.read_text(encoding="utf-8"))
            for path in sorted(specs_dir.glob("*.yaml"))
            if path.stem != "generator"
        }

    @cached_property
    def routes(self) -> list[Route]:
        routes = []
        for service, spec in self.specs.items():
            for template, item in spec["paths"].items():
                for method in HTTP_METHODS:
                    if method in item:
                        regex = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$"
                        routes.append(
                            Route(service, method.upper(), template, re.compile(regex), item[method])
                        )
        # Literal segments beat parameters: /user/token before /user/{id}.
        routes.sort(key=lambda route: route.template.count("{"))
        return routes

    def route_of(self, method: str, path: str) -> Route | None:
        for route in self.routes:
            if route.method == method and route.pattern.match(path):
                return route
        return None

    def problems(self, request: httpx.Request, response: httpx.Response) -> list[str]:
        """Everything wrong with one exchange; empty when it conforms."""
        where = f"{request.method} {request.url.path} -> {response.status_code}"
        route = self.route_of(request.method, request.url.path)
        if route is None:
            return [f"{where}: no spec documents this route"]
        if response.status_code == LOGIN_REDIRECT:
            return (
                []
                if "authorize" in response.headers.get("location", "")
                else [f"{where}: a redirect that is not the login redirect"]
            )
        responses = route.operation.get("responses", {})
        declared = responses.get(str(response.status_code)) or responses.get("default")
        if declared is None:
            return [f"{where}: status not documented ({sorted(responses)})"]
        declared = self._resolve(route.service, declared)
        content = declared.get("content") or {}
        if not content:
            return [] if not response.content else [f"{where}: a body where none is documented"]
        media_type = response.headers.get("content-type", "").split(";")[0].strip()
        key, media = self._media(content, media_type)
        if media is None:
            return [f"{where}: media type {media_type!r} not documented ({sorted(content)})"]
        if "json" not in key or "schema" not in media:
            return []
        try:
            body = json.loads(response.content)
        except ValueError as error:
            return [f"{where}: body is not JSON: {error}"]
        problems = self._schema_problems(route.service, media["schema"], body)
        return [f"{where}: {problem}" for problem in problems]

    @staticmethod
    def _media(content: dict[str, Any], media_type: str) -> tuple[str, dict[str, Any] | None]:
        """The documented media entry for a received type, also via a documented mislabel."""
        if media_type in content:
            return media_type, content[media_type]
        for key, media in content.items():
            sent_as = str(media.get("x-cave-sent-content-type", "")).split(";")[0].strip()
            if sent_as == media_type:
                return key, media
        return media_type, None

    def _resolve(self, service: str, node: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in node:
            target: Any = self.specs[service]
            for part in node["$ref"].lstrip("#/").split("/"):
                target = target[part]
            node = target
        return node

    def _schema_problems(self, service: str, schema: dict[str, Any], body: Any) -> list[str]:
        """Validate against `schema` with its `#/components/...` references resolved in the spec."""
        document = self.specs[service]
        components = document.get("components", {})
        probe = {
            **document,
            "components": {**components, "schemas": {**components.get("schemas", {}), PROBE: schema}},
        }
        registry: Registry[Any] = Registry().with_resource(
            "urn:spec", Resource.from_contents(probe, default_specification=DRAFT202012)
        )
        validator = jsonschema.Draft202012Validator(
            {"$ref": f"urn:spec#/components/schemas/{PROBE}"}, registry=registry
        )
        return [
            f"{'/'.join(map(str, error.absolute_path)) or '(body)'}: {error.message}"
            for error in validator.iter_errors(body)
        ][:5]


PROBE = "__response_under_test__"


class RecordingTransport(httpx.BaseTransport):
    """Passes requests to another transport and keeps every exchange for validation."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.exchanges: list[tuple[httpx.Request, httpx.Response]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        response.read()
        self.exchanges.append((request, response))
        return response

    def close(self) -> None:
        self.inner.close()
