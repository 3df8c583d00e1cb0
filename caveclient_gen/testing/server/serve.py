"""Run a LocalCAVE in the foreground (what ``caveclient-gen serve`` calls)."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterable, Sequence
from typing import TextIO

from ..auth.identity import LocalUser
from ..world.default import DEFAULT_ALIGNED_VOLUME, DEFAULT_DATASTACK
from .localcave import LocalCAVE

_WAKE_INTERVAL = 0.5


def serve(
    *,
    port: int = 0,
    seed: int = 0,
    datastack: str = DEFAULT_DATASTACK,
    aligned_volume: str = DEFAULT_ALIGNED_VOLUME,
    users: Sequence[LocalUser] | None = None,
    latency: float = 0.0,
    out: TextIO | None = None,
    stop: threading.Event | None = None,
    idealised: bool | Iterable[str] = False,
) -> None:
    """Serve until Ctrl-C (or until ``stop`` is set), printing where and how to connect.

    ``idealised`` names measured server faults to answer the idealised way (see LocalCAVE).
    """
    out = out or sys.stdout
    cave = LocalCAVE(
        seed=seed,
        datastack=datastack,
        aligned_volume=aligned_volume,
        users=users,
        latency=latency,
        port=port,
        idealised=idealised,
    )
    stop = stop or threading.Event()
    with cave:
        print(f"LocalCAVE serving at {cave.url}", file=out)
        print(f"  datastack: {cave.datastack}", file=out)
        print(f"  token:     {cave.token}", file=out)
        for name, token in cave.tokens.items():
            print(f"  token of {name}: {token}", file=out)
        print("Press Ctrl-C to stop.", file=out, flush=True)
        try:
            # Short waits keep the main thread responsive to Ctrl-C on every platform.
            while not stop.wait(_WAKE_INTERVAL):
                pass
        except KeyboardInterrupt:
            pass
    print("LocalCAVE stopped.", file=out, flush=True)
