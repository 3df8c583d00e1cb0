"""Prints the public methods of caveclient 8.2.1's sub-clients with their parameters, as JSON.

Runs in caveclient's own environment (see caveclient_driver.py) and imports nothing of ours:

    uv run --isolated --no-project --with caveclient==8.2.1 python caveclient_signatures.py
"""

from __future__ import annotations

import importlib
import inspect
import json
import sys

SUB_CLIENTS = {
    "auth": ("caveclient.auth", "AuthClient"),
    "info": ("caveclient.infoservice", "InfoServiceClient"),
    "state": ("caveclient.jsonservice", "JSONService"),
    "schema": ("caveclient.emannotationschemas", "SchemaClient"),
    "chunkedgraph": ("caveclient.chunkedgraph", "ChunkedGraphClient"),
    "annotation": ("caveclient.annotationengine", "AnnotationClient"),
    "materialize": ("caveclient.materializationengine", "MaterializationClient"),
    "l2cache": ("caveclient.l2cache", "L2CacheClient"),
    "skeleton": ("caveclient.skeletonservice", "SkeletonClient"),
}


def describe(cls: type) -> dict[str, list[list[object]]]:
    methods = {}
    for name, member in vars(cls).items():
        if name.startswith("_"):
            continue
        function = member.__func__ if isinstance(member, staticmethod | classmethod) else member
        if not inspect.isfunction(function):
            continue
        parameters = []
        for parameter in inspect.signature(function).parameters.values():
            if parameter.name in {"self", "cls"}:
                continue
            default = parameter.default
            if default is inspect.Parameter.empty:
                shown: object = "<required>"
            else:
                shown = (
                    default
                    if isinstance(default, str | int | float | bool | type(None))
                    else repr(default)
                )
            parameters.append([parameter.name, str(parameter.kind), shown])
        methods[name] = parameters
    return methods


def main() -> int:
    result = {}
    for service, (module_name, class_name) in SUB_CLIENTS.items():
        cls = getattr(importlib.import_module(module_name), class_name)
        result[service] = describe(cls)
    json.dump(result, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
