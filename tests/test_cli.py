"""The `caveclient-gen` command: the guided tour runs end to end on LocalCAVE."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from caveclient_gen._demo import run_demo
from caveclient_gen.cli import main


def test_the_demo_tours_every_section_successfully(isolated_home: Path) -> None:
    out = io.StringIO()
    assert run_demo(out=out) == 0
    text = out.getvalue()
    for expected in (
        "LocalCAVE is serving every CAVE service at http://127.0.0.1:",
        ">>> client.auth.save_token(local_token)",
        ">>> client.info.get_datastacks()",
        "'minnie65_local'",
        ">>> state_id = client.state.upload_state_json(state)",
        ">>> client.state.get_state_json(state_id) == state",
        "True",
        "#!middleauth+http://127.0.0.1:",
        "'synapse'",
        "InvalidInputError: state_id:",
        "End of the tour: every step succeeded.",
    ):
        assert expected in text
    # The tour saved its token under a temporary home, never the user's own.
    assert os.environ["HOME"] == str(isolated_home)
    assert not (isolated_home / ".cloudvolume").exists()


def test_server_and_datastack_go_together(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as raised:
        main(["demo", "--server", "https://cave.example.org"])
    assert raised.value.code == 2
    assert "--server and --datastack go together" in capsys.readouterr().err


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--version"])
    assert "caveclient_gen 0.1.0" in capsys.readouterr().out
