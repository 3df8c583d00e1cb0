"""Packaging: the client installs without a web server, LocalCAVE says which extra it needs,
and the metadata carries the licence."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())

HIDE_SERVER = """
import importlib.abc, sys
class Hide(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("starlette", "uvicorn"):
            raise ModuleNotFoundError(name)
        return None
sys.meta_path.insert(0, Hide())
"""


def run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", HIDE_SERVER + code],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_client_imports_and_works_without_a_web_server() -> None:
    done = run(
        "import caveclient_gen, caveclient_gen.errors\n"
        "c = caveclient_gen.CAVEclient(server_address='https://cave.example.org', auth_token='x')\n"
        "assert 'starlette' not in sys.modules and 'uvicorn' not in sys.modules\n"
        "print('ok')"
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_localcave_without_the_extra_names_it() -> None:
    done = run("import caveclient_gen.testing")
    assert done.returncode != 0
    assert "ImportError" in done.stderr
    assert "caveclient-gen[local]" in done.stderr
    assert "starlette" in done.stderr


def test_the_web_server_is_an_extra_that_the_development_environment_includes() -> None:
    required = " ".join(PYPROJECT["project"]["dependencies"])
    assert "starlette" not in required
    assert "uvicorn" not in required
    local = " ".join(PYPROJECT["project"]["optional-dependencies"]["local"])
    assert "starlette" in local
    assert "uvicorn" in local
    assert "caveclient-gen[local]" in PYPROJECT["dependency-groups"]["dev"]


def test_the_licence_file_matches_the_metadata() -> None:
    assert PYPROJECT["project"]["license"] == "MIT"
    licence = (ROOT / "LICENSE").read_text()
    assert licence.startswith("MIT License")
    assert "LICENSE" in PYPROJECT["project"]["license-files"]


def test_the_built_wheel_installs_without_a_web_server(tmp_path: Path) -> None:
    """Build the wheel, install it into a fresh environment: it imports, LocalCAVE names its extra."""
    uv = shutil.which("uv")
    if uv is None:  # the development environment is made by uv; without it there is no wheel to build
        pytest.skip("uv is not on PATH")

    def run_uv(*arguments: str) -> None:
        done = subprocess.run([uv, *arguments], capture_output=True, text=True, timeout=300, check=False)
        assert done.returncode == 0, done.stdout + done.stderr

    run_uv("build", "--wheel", "--quiet", "--out-dir", str(tmp_path / "dist"), str(ROOT))
    wheel = next((tmp_path / "dist").glob("caveclient_gen-*.whl"))
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        metadata = archive.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    unconditional = [
        line
        for line in metadata.splitlines()
        if line.startswith("Requires-Dist:") and "extra ==" not in line
    ]
    assert unconditional
    assert not [line for line in unconditional if "starlette" in line or "uvicorn" in line]
    assert "Provides-Extra: local" in metadata
    assert "License-Expression: MIT" in metadata
    assert any(n.startswith("caveclient_gen_api/materialize/") for n in names)
    assert not any(n.startswith("cave_api/") for n in names)

    environment = tmp_path / "venv"
    run_uv("venv", "--quiet", "--python", sys.executable, str(environment))
    python = environment / "bin" / "python"
    run_uv("pip", "install", "--quiet", "--python", str(python), str(wheel))
    probe = (
        "import sys, caveclient_gen\n"
        "from caveclient_gen import CAVEclient\n"
        "print('starlette' in sys.modules, 'uvicorn' in sys.modules)\n"
        "try:\n"
        "    import caveclient_gen.testing\n"
        "except ImportError as error:\n"
        "    print(error)\n"
    )
    done = subprocess.run(
        [str(python), "-c", probe], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    first, message = done.stdout.splitlines()[:2]
    assert first == "False False"
    assert "caveclient-gen[local]" in message
