"""LocalCAVE needs a web server stack that the client alone does not install."""

from __future__ import annotations

import importlib.util


def _absent(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is None
    except (ImportError, ValueError):
        return True


_MISSING = [name for name in ("starlette", "uvicorn") if _absent(name)]
if _MISSING:
    raise ImportError(
        "LocalCAVE (caveclient_gen.testing) needs the web server packages "
        f"{', '.join(_MISSING)}, which the client alone does not install: "
        'pip install "caveclient-gen[local]" (or uv add "caveclient-gen[local]")',
        name=__name__,
    )
