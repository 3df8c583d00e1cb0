"""Progress bars: one switch (the client's `progress` argument, else CAVECLIENT_GEN_PROGRESS, else
interactivity), and bars over chunked bulk calls, client.map, uploads and big downloads."""

from __future__ import annotations

import asyncio
import sys
import types
from pathlib import Path

import httpx
import pandas as pd
import pytest

from caveclient_gen import AsyncCAVEclient, CAVEclient, _defaults
from caveclient_gen._http import progress
from caveclient_gen._http.progress import ProgressSwitch
from caveclient_gen.errors import InvalidInputError
from caveclient_gen.testing import InProcessTransport, LocalCAVE

ENV = _defaults.PROGRESS_ENVIRONMENT_VARIABLE


@pytest.fixture(autouse=True)
def no_environment_switch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV, raising=False)


def client_with(cave: LocalCAVE, show: bool | None) -> CAVEclient:
    return CAVEclient(
        cave.datastack,
        server_address=cave.url,
        auth_token=cave.token,
        transport=InProcessTransport(cave.app),
        progress=show,
    )


@pytest.fixture
def roots(cave: LocalCAVE) -> list[int]:
    with client_with(cave, False) as client:
        nuclei = client.materialize.query_table("nucleus_detection_v0")
    ids = [int(root) for root in nuclei.pt_root_id.unique() if root != 0]
    assert len(ids) >= _defaults.PROGRESS_MINIMUM
    return ids[: _defaults.PROGRESS_MINIMUM + 2]


# ------------------------------------------------------------------ the switch


def test_the_argument_wins_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, "1")
    assert ProgressSwitch(False).enabled() is False
    monkeypatch.setenv(ENV, "off")
    assert ProgressSwitch(True).enabled() is True


@pytest.mark.parametrize(("value", "shown"), [("1", True), ("true", True), ("0", False), ("OFF", False)])
def test_the_environment_variable_decides_when_the_argument_is_not_given(
    monkeypatch: pytest.MonkeyPatch, value: str, shown: bool
) -> None:
    monkeypatch.setenv(ENV, value)
    assert ProgressSwitch(None).enabled() is shown


def test_automatic_is_off_when_nobody_watches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stderr", open("/dev/null", "w"))  # noqa: SIM115
    try:
        assert ProgressSwitch(None).enabled() is False
    finally:
        sys.stderr.close()


def test_automatic_is_on_in_a_jupyter_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    kernel_shell = types.SimpleNamespace(kernel=object())
    fake_ipython = types.ModuleType("IPython")
    fake_ipython.get_ipython = lambda: kernel_shell  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "IPython", fake_ipython)
    monkeypatch.setitem(sys.modules, "ipykernel", types.ModuleType("ipykernel"))
    assert progress.in_notebook()
    assert ProgressSwitch(None).enabled() is True
    fake_ipython.get_ipython = types.SimpleNamespace  # type: ignore[attr-defined]
    assert not progress.in_notebook()  # a terminal IPython: no kernel


def test_the_client_switch_is_checked_and_settable(cave: LocalCAVE) -> None:
    with pytest.raises(InvalidInputError, match="progress"):
        client_with(cave, "yes")  # type: ignore[arg-type]
    client = client_with(cave, None)
    assert client.progress is None
    client.progress = True
    assert client.progress is True
    with pytest.raises(InvalidInputError, match="progress"):
        client.progress = 1  # type: ignore[assignment]


# ------------------------------------------------------------------ the bars


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_defaults, "CHUNKEDGRAPH_LEAVES_CHUNK_SIZE", 1)


@pytest.mark.usefixtures("small_chunks")
def test_a_chunked_bulk_call_shows_a_bar_when_switched_on(
    cave: LocalCAVE, roots: list[int], capsys: pytest.CaptureFixture[str]
) -> None:
    with client_with(cave, True) as client:
        shown = client.chunkedgraph.get_leaves_many(roots)
    bar = capsys.readouterr().err
    assert f"/{len(roots)}" in bar
    with client_with(cave, False) as client:
        hidden = client.chunkedgraph.get_leaves_many(roots)
    assert capsys.readouterr().err == ""
    assert shown.keys() == hidden.keys()


@pytest.mark.usefixtures("small_chunks")
def test_the_async_client_shows_the_same_bar(
    cave: LocalCAVE, roots: list[int], capsys: pytest.CaptureFixture[str]
) -> None:
    async def leaves() -> None:
        async with AsyncCAVEclient(
            cave.datastack,
            server_address=cave.url,
            auth_token=cave.token,
            transport=httpx.ASGITransport(app=cave.app),
            progress=True,
        ) as client:
            await client.chunkedgraph.get_leaves_many(roots)

    asyncio.run(leaves())
    assert f"/{len(roots)}" in capsys.readouterr().err


def test_client_map_counts_calls(
    cave: LocalCAVE, roots: list[int], capsys: pytest.CaptureFixture[str]
) -> None:
    with client_with(cave, True) as client:
        client.map(client.chunkedgraph.get_root_timestamps, [[root] for root in roots], concurrency=2)
    bar = capsys.readouterr().err
    assert "get_root_timestamps" in bar
    assert f"/{len(roots)}" in bar


@pytest.mark.usefixtures("small_chunks")
def test_few_steps_get_no_bar(
    cave: LocalCAVE, roots: list[int], capsys: pytest.CaptureFixture[str]
) -> None:
    few = roots[: _defaults.PROGRESS_MINIMUM - 1]
    with client_with(cave, True) as client:
        client.map(client.chunkedgraph.get_root_timestamps, [[root] for root in few], concurrency=2)
        client.chunkedgraph.get_leaves_many(few)
    assert capsys.readouterr().err == ""


def test_a_large_answer_shows_a_download_bar(
    cave: LocalCAVE, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(_defaults, "PROGRESS_DOWNLOAD_MINIMUM", 1)
    with client_with(cave, True) as client:
        shown = client.materialize.query_table("nucleus_detection_v0")
    bar = capsys.readouterr().err
    assert "receiving nucleus_detection_v0" in bar
    assert "B" in bar
    with client_with(cave, False) as client:
        hidden = client.materialize.query_table("nucleus_detection_v0")
    assert capsys.readouterr().err == ""
    pd.testing.assert_frame_equal(shown, hidden)


def test_an_upload_in_batches_shows_a_bar(cave: LocalCAVE, capsys: pytest.CaptureFixture[str]) -> None:
    with client_with(cave, True) as client:
        table = client.annotation.create_table(
            "progress_tags", "bound_tag", "points to upload", voxel_resolution=[4, 4, 40]
        )
        stage = client.annotation.stage_annotations(table)
        stage.add_dataframe(
            pd.DataFrame({"pt_position": [[i, i, i] for i in range(1, 4)], "tag": ["a", "b", "c"]})
        )
        new_ids = client.annotation.upload_staged_annotations(stage, batch_size=1)
    assert len(new_ids) == 3
    bar = capsys.readouterr().err
    assert "Annotation batches" in bar
    assert "/3" in bar


def test_an_export_shows_a_bar_only_when_the_switch_allows(
    cave: LocalCAVE, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with client_with(cave, True) as client:
        client.materialize.export_table("synapses_pni_2", tmp_path / "on", partition_rows=50)
    assert "export synapses_pni_2" in capsys.readouterr().err
    with client_with(cave, False) as client:
        client.materialize.export_table("synapses_pni_2", tmp_path / "off", partition_rows=50)
    assert capsys.readouterr().err == ""
