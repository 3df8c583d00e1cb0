"""Prints the public attributes (not methods) of caveclient 8.2.1's client and sub-clients, as JSON.

Runs in caveclient's own environment and imports nothing of caveclient_gen:

    uv run --isolated --no-project --with caveclient==8.2.1 python caveclient_attributes.py \
        SERVER DATASTACK TOKEN

caveclient builds each sub-client with requests to the server (a LocalCAVE), so its instance
attributes are listed as a user sees them. Also prints caveclient's module-level public names, under
"values" the values of the attributes every sub-client shares (as text) and a few others, and under
"mock_signature" the parameters of caveclient.tools.testing.CAVEclientMock.
"""

from __future__ import annotations

import inspect
import json
import sys

SUB_CLIENTS = (
    "auth",
    "info",
    "state",
    "schema",
    "chunkedgraph",
    "annotation",
    "materialize",
    "l2cache",
    "skeleton",
)

SHARED = ("server_address", "server_version", "api_version", "default_url_mapping", "verify")


def attributes(instance: object) -> list[str]:
    """Public names of `instance` that are not methods: properties and data attributes."""
    names = []
    for name in dir(instance):
        if name.startswith("_"):
            continue
        member = inspect.getattr_static(instance, name)
        if isinstance(member, staticmethod | classmethod) or inspect.isfunction(member):
            continue
        names.append(name)
    return sorted(names)


def mock_signature() -> list[list[object]]:
    """caveclient.tools.testing.CAVEclientMock's parameters: [name, default] each."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # it warns when `responses` is not installed
        from caveclient.tools.testing import CAVEclientMock

    return [
        [parameter.name, parameter.default]
        for parameter in inspect.signature(CAVEclientMock).parameters.values()
    ]


def main() -> int:
    import caveclient

    server, datastack, token = sys.argv[1:4]
    client = caveclient.CAVEclient(
        datastack, server_address=server, auth_token=token, write_server_cache=False
    )
    result: dict[str, list[str]] = {
        "module": sorted(caveclient.__all__),
        "client": attributes(client),
    }
    values: dict[str, object] = {"client.local_server": client.local_server}
    for name in SUB_CLIENTS:
        sub_client = getattr(client, name)
        result[name] = attributes(sub_client)
        for attribute in SHARED:
            if hasattr(sub_client, attribute):
                value = getattr(sub_client, attribute)
                values[f"{name}.{attribute}"] = value if isinstance(value, dict | int) else str(value)
    values["info.info_cache"] = sorted(client.info.info_cache)
    values["materialize.cg_client"] = type(client.materialize.cg_client).__name__
    session_defaults = [
        [parameter.name, parameter.default]
        for parameter in inspect.signature(caveclient.set_session_defaults).parameters.values()
    ]
    json.dump(
        {
            **result,
            "values": values,
            "mock_signature": mock_signature(),
            "set_session_defaults": session_defaults,
            "session_defaults_keys": sorted(caveclient.get_session_defaults()),
        },
        sys.stdout,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
