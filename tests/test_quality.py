"""The code base stays strictly typed and lint-clean (generated code included in the type check)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *command],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )


def test_mypy_strict(tmp_path: Path) -> None:
    """mypy --strict (configured in pyproject.toml) over caveclient_gen, generated/ and scripts/."""
    result = run("mypy", "--cache-dir", str(tmp_path / "mypy"))
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_lint_and_format() -> None:
    lint = run("ruff", "check", "--no-cache", ".")
    assert lint.returncode == 0, lint.stdout + lint.stderr
    formatting = run("ruff", "format", "--no-cache", "--check", ".")
    assert formatting.returncode == 0, formatting.stdout + formatting.stderr
