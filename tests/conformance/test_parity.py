"""Method-by-method parity with caveclient 8.2.1: every public method of each sub-client exists here
with the same parameter names, order and defaults (caveclient's bugs aside, see KNOWN_DIFFERENCES)."""

from __future__ import annotations

import importlib
import inspect
import json
import os
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from caveclient_gen._http.plan import api_method

SCRIPT = Path(__file__).with_name("caveclient_signatures.py")

OUR_CLASSES = {
    "auth": ("caveclient_gen.services.auth", "AuthClient"),
    "info": ("caveclient_gen.services.info", "InfoServiceClient"),
    "state": ("caveclient_gen.services.state", "JSONService"),
    "schema": ("caveclient_gen.services.schema", "SchemaClient"),
    "chunkedgraph": ("caveclient_gen.services.chunkedgraph", "ChunkedGraphClient"),
    "annotation": ("caveclient_gen.services.annotation", "AnnotationClient"),
    "materialize": ("caveclient_gen.services.materialize", "MaterializationClient"),
    "l2cache": ("caveclient_gen.services.l2cache", "L2CacheClient"),
    "skeleton": ("caveclient_gen.services.skeleton", "SkeletonClient"),
}

KNOWN_DIFFERENCES: dict[tuple[str, str], str] = {}
"""(service, method) -> why our signature deliberately differs from caveclient's."""
ADDED_PARAMETERS: dict[tuple[str, str], tuple[str, ...]] = {
    ("materialize", method): ("all_rows",)
    for method in ("query_table", "query_view", "join_query", "live_query")
}
"""(service, method) -> keyword parameters we add after all of caveclient's (defaults keep its
behaviour), e.g. `all_rows=True` to fetch past the server's row cap."""


@cache
def caveclient_signatures() -> dict[str, dict[str, list[list[Any]]]]:
    environment = {**os.environ}
    environment.pop("VIRTUAL_ENV", None)
    result = subprocess.run(
        [
            "uv",
            "run",
            "--isolated",
            "--no-project",
            "--quiet",
            "--with",
            "caveclient==8.2.1",
            "python",
            str(SCRIPT),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env=environment,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    signatures: dict[str, dict[str, list[list[Any]]]] = json.loads(result.stdout)
    return signatures


def our_parameters(service: str, method: str) -> list[list[Any]] | None:
    module_name, class_name = OUR_CLASSES[service]
    cls = importlib.import_module(module_name).__dict__[class_name]
    member = inspect.getattr_static(cls, method, None)
    if member is None:
        return None
    if isinstance(member, api_method):
        function = member._plan
    elif isinstance(member, staticmethod | classmethod):
        function = member.__func__
    else:
        function = member
    parameters = []
    for parameter in inspect.signature(function).parameters.values():
        if parameter.name in {"self", "cls"}:
            continue
        default = parameter.default
        if default is inspect.Parameter.empty:
            shown: Any = "<required>"
        elif isinstance(default, str | int | float | bool | type(None)):
            shown = default
        else:
            shown = repr(default)  # as the caveclient side shows it
        parameters.append(
            [
                parameter.name,
                str(parameter.kind).replace("POSITIONAL_ONLY", "POSITIONAL_OR_KEYWORD"),
                shown,
            ]
        )
    return parameters


@pytest.mark.parametrize("service", list(OUR_CLASSES))
def test_every_caveclient_method_is_here_with_the_same_parameters(service: str) -> None:
    theirs = caveclient_signatures()[service]
    problems = []
    for method, their_parameters in sorted(theirs.items()):
        if (service, method) in KNOWN_DIFFERENCES:
            continue
        ours = our_parameters(service, method)
        if ours is None:
            problems.append(f"{method}: missing")
            continue
        their_view = [(name, default) for name, _, default in their_parameters]
        added = set(ADDED_PARAMETERS.get((service, method), ()))
        our_view = [(name, default) for name, _, default in ours if name not in added]
        assert [name for name, _, _ in ours][len(our_view) :] == [
            name for name, _, _ in ours if name in added
        ], f"{method}: added parameters must come after caveclient's"
        if their_view != our_view:
            problems.append(f"{method}: caveclient {their_view} != ours {our_view}")
    assert problems == []
