"""Every relative link in README.md and the documentation pages points to a file that exists and,
where it names a section of a Markdown file, to a heading that file has.

`mkdocs build --strict` checks the links between pages of the site; README.md is not one of them,
and its links (docs/..., ARCHITECTURE.md) are what a reader on the repository's front page follows.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINK = re.compile(r"\]\((?P<target>[^)\s]+)\)")
FENCE = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)
HEADING = re.compile(r"^#{1,6}\s+(?P<title>.+?)\s*#*\s*$", re.MULTILINE)
EXTERNAL = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)


def without_code_blocks(text: str) -> str:
    return FENCE.sub("", text)


def anchor_of(title: str) -> str:
    """The id MkDocs (Python-Markdown's toc) gives a heading."""
    plain = re.sub(r"[`*_]", "", title)
    plain = unicodedata.normalize("NFKD", plain).encode("ascii", "ignore").decode("ascii")
    plain = re.sub(r"[^\w\s-]", "", plain).strip().lower()
    return re.sub(r"[-\s]+", "-", plain)


def anchors(page: Path) -> set[str] | None:
    """The page's heading ids; None for a page of the API reference, whose ids mkdocstrings makes."""
    text = without_code_blocks(page.read_text(encoding="utf-8"))
    if re.search(r"^::: ", text, re.MULTILINE):
        return None
    return {anchor_of(match["title"]) for match in HEADING.finditer(text)}


def broken_links(page: Path) -> list[str]:
    text = without_code_blocks(page.read_text(encoding="utf-8"))
    broken = []
    for match in LINK.finditer(text):
        target = match["target"]
        if EXTERNAL.match(target):
            continue
        path_part, _, fragment = target.partition("#")
        linked = (page.parent / path_part).resolve() if path_part else page
        if not linked.exists():
            broken.append(f"{target}: no such file")
        elif fragment and linked.suffix == ".md":
            known = anchors(linked)
            if known is not None and fragment not in known:
                broken.append(f"{target}: no heading #{fragment} in {linked.name}")
    return broken


PAGES = [ROOT / "README.md", ROOT / "ARCHITECTURE.md", *sorted((ROOT / "docs").rglob("*.md"))]


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.relative_to(ROOT).as_posix())
def test_relative_links_resolve(page: Path) -> None:
    assert broken_links(page) == []


def test_the_readme_links_the_documentation() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    linked = {match["target"].partition("#")[0] for match in LINK.finditer(text)}
    assert {"docs/getting-started.md", "docs/moving-from-caveclient.md", "ARCHITECTURE.md"} <= linked


def test_a_missing_file_or_heading_is_reported(tmp_path: Path) -> None:
    (tmp_path / "other.md").write_text("# Other page\n\n## A section: `code`\n", encoding="utf-8")
    page = tmp_path / "page.md"
    page.write_text(
        "[fine](other.md#a-section-code) [gone](missing.md) [bad anchor](other.md#nowhere)\n"
        "[web](https://example.org/x.md) [here](#title)\n\n# Title\n\n"
        "```python\nvalues[0](1)  # not a link\n```\n",
        encoding="utf-8",
    )
    assert broken_links(page) == [
        "missing.md: no such file",
        "other.md#nowhere: no heading #nowhere in other.md",
    ]
