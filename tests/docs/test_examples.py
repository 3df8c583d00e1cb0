"""The documentation's Python examples run against LocalCAVE, so the pages cannot rot.

A ```python block preceded by the line ``<!-- runnable -->`` is run; the blocks of one page run in
order in one namespace holding ``client`` (a CAVEclient of a fresh LocalCAVE whose L2 cache answers
attributes), ``cave`` and
``CAVEclient``. Blocks without the marker (real deployments, shell commands) are not run.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Any

import pytest

from caveclient_gen import CAVEclient
from caveclient_gen.errors import CAVEServerWarning
from caveclient_gen.testing import InProcessTransport, LocalCAVE

DOCS = Path(__file__).resolve().parents[2] / "docs"
BLOCK = re.compile(r"<!-- runnable -->\n```python\n(?P<code>.*?)\n```", re.DOTALL)
PAGES = sorted(DOCS.rglob("*.md"))


def runnable_blocks(page: Path) -> list[str]:
    return [match["code"] for match in BLOCK.finditer(page.read_text(encoding="utf-8"))]


def test_pages_have_runnable_examples() -> None:
    counted = {page.relative_to(DOCS).as_posix(): len(runnable_blocks(page)) for page in PAGES}
    assert sum(counted.values()) >= 30, counted
    for page in ("getting-started.md", "tour.md", "localcave.md", "async.md"):
        assert counted[page] > 0, page


def test_every_marker_precedes_a_python_block() -> None:
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        assert text.count("<!-- runnable -->") == len(runnable_blocks(page)), page


@pytest.mark.parametrize(
    "page",
    [page for page in PAGES if runnable_blocks(page)],
    ids=lambda page: page.relative_to(DOCS).as_posix(),
)
def test_the_examples_of_a_page_run(
    page: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CAVECLIENT_GEN_PROGRESS", "0")
    # PCGL2Cache 1.3.1 fails every attributes request; the pages show the route working.
    cave = LocalCAVE(seed=0, idealised=["l2_attributes"])
    client = CAVEclient(
        cave.datastack,
        server_address=cave.url,
        auth_token=cave.token,
        transport=InProcessTransport(cave.app),
    )
    namespace: dict[str, Any] = {"client": client, "cave": cave, "CAVEclient": CAVEclient}
    with client, warnings.catch_warnings():
        # A notebook shows the server's messages (a row limit, a table's notice) and goes on.
        warnings.simplefilter("ignore", CAVEServerWarning)
        for number, code in enumerate(runnable_blocks(page), start=1):
            try:
                exec(compile(code, f"{page.name} example {number}", "exec"), namespace)
            except Exception as error:
                failure = f"{type(error).__name__}: {error}"
                pytest.fail(f"{page.name}, example {number} failed: {failure}\n{code}")
    capsys.readouterr()
