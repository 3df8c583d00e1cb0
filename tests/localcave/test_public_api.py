"""The public surface of caveclient_gen.testing, and its promise of a side-effect-free import."""

from __future__ import annotations

import subprocess
import sys

import caveclient_gen.testing


def test_public_names_are_pinned() -> None:
    assert sorted(caveclient_gen.testing.__all__) == [
        "AlignedVolume",
        "AuthGuard",
        "CAVEclientMock",
        "Caller",
        "Datastack",
        "Deployment",
        "ImageSource",
        "InProcessTransport",
        "LocalCAVE",
        "LocalUser",
        "serve",
    ]
    for name in caveclient_gen.testing.__all__:
        assert getattr(caveclient_gen.testing, name) is not None


def test_import_reads_no_data_and_opens_no_socket() -> None:
    probe = (
        "import socket\n"
        "class RefusingSocket(socket.socket):\n"
        "    def __init__(self, *args, **kwargs):\n"
        "        raise AssertionError('socket opened at import')\n"
        "socket.socket = RefusingSocket\n"
        "import caveclient_gen.testing\n"
        "from caveclient_gen.testing.schema import definitions as schemas\n"
        "print(schemas.types_all_json.cache_info().currsize)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "0"
