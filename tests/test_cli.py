"""The `caveclient-gen` command: the guided tour runs end to end on LocalCAVE."""

from __future__ import annotations

import io
import os
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from caveclient_gen.cli import main
from caveclient_gen.cli.demo import WIDTH, render, run_demo


@dataclass(frozen=True)
class TourRun:
    text: str
    status: int
    home: Path
    home_after: str


@pytest.fixture(scope="module")
def tour(tmp_path_factory: pytest.TempPathFactory) -> TourRun:
    """One run of the whole tour on LocalCAVE, shared by the tests that read its output."""
    home = tmp_path_factory.mktemp("tour-home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HOME", str(home))
        patch.delenv("CAVE_TOKEN", raising=False)
        out = io.StringIO()
        status = run_demo(out=out)
        return TourRun(out.getvalue(), status, home, os.environ["HOME"])


@pytest.fixture
def tour_text(tour: TourRun) -> str:
    assert tour.status == 0, tour.text
    return tour.text


def result_of(text: str, code: str) -> list[str]:
    """What the tour printed after the step starting `>>> code`, up to the next step or gap."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"   >>> {code}"))
    found: list[str] = []
    for line in lines[start + 1 :]:
        if line.startswith("   ... ") and not found:
            continue
        if not line or line.startswith("   >>> "):
            break
        found.append(line)
    return found


def test_the_demo_tours_every_section_successfully(tour: TourRun, tour_text: str) -> None:
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
        assert expected in tour_text
    # The tour saved its token under a temporary home, never the user's own.
    assert tour.home_after == str(tour.home)
    assert not (tour.home / ".cloudvolume").exists()


def test_the_materialization_sections(tour_text: str) -> None:
    assert "\n6. Materialization versions\n" in tour_text
    assert result_of(tour_text, "versions = client.materialize.get_versions()") == ["   [2, 3]"]
    metadata = "\n".join(result_of(tour_text, "client.materialize.get_version_metadata(version)"))
    assert '"version": 3' in metadata
    assert '"status": "AVAILABLE"' in metadata
    # The limit's server warning is shown as a warning, not lost on stderr.
    assert 'CAVEServerWarning: 201 - "Limited query to 100 rows' in tour_text
    dtypes = "\n".join(result_of(tour_text, "synapses.dtypes"))
    assert re.search(r"post_pt_root_id\s+Int64", dtypes)
    assert re.search(r"created\s+datetime64\[ns, UTC\]", dtypes)
    assert '"materialization_version": 3,' in tour_text
    assert '"dataframe_resolution": [4.0, 4.0, 40.0]' in tour_text
    assert "<query builder synapses_pni_2(post_pt_root_id, pre_pt_root_id" in tour_text


def test_the_time_travel_section_shows_roots_that_edits_changed(tour_text: str) -> None:
    assert "\n8. Back in time\n" in tour_text
    assert "InvalidInputError: timestamp: root ids of the filters are not valid at" in tour_text
    assert '"live_query": true' in tour_text
    counts = result_of(tour_text, "synapses_then.post_pt_root_id.value_counts()")
    segments = [line for line in counts if re.match(r"   \d{18} +\d+$", line)]
    assert len(segments) >= 2, counts  # the neuron lay on several segments then
    changed = result_of(
        tour_text, "changed[['id', 'pre_pt_supervoxel_id', 'pre_pt_root_id_then', 'pre_pt_root_id']]"
    )
    rows = [line.split() for line in changed if re.match(r"   \d+ +\d+ +\d+ +\d{18} +\d{18}$", line)]
    assert rows, changed
    assert all(then != now for *_, then, now in rows)


def test_the_annotation_section_writes_and_reads_back(tour_text: str) -> None:
    assert "\n9. Writing annotations\n" in tour_text
    assert "   'edited_partners'" in tour_text
    ids = result_of(
        tour_text,
        "new_ids = client.annotation.post_annotation_df(table_name, points,",
    )
    assert "   [1, 2, 3]" in ids
    assert '"tag": "partner edited"' in tour_text
    live = [line for line in tour_text.splitlines() if line.endswith("partner edited")]
    bound = [line for line in live if re.match(r"   \d +\d+ +\d{17,18} +\d{18} +partner edited$", line)]
    assert len(bound) == 3, live


def test_the_chunkedgraph_sections_follow_one_neuron(tour_text: str) -> None:
    assert "\n10. A neuron's history in the chunkedgraph\n" in tour_text
    root_id = result_of(tour_text, "root_id = int(soma.pt_root_id)")
    now = result_of(tour_text, "client.chunkedgraph.get_root_id(supervoxel_id)")
    then = result_of(
        tour_text, "root_then = client.chunkedgraph.get_root_id(supervoxel_id, timestamp=then)"
    )
    assert now == [f"   np.int64({root_id[0].strip()})"]
    assert then[0].startswith("   np.int64(")
    assert then != now
    assert result_of(tour_text, "client.chunkedgraph.is_latest_roots([root_id, root_then])") == [
        "   array([ True, False])"
    ]
    operations, merges = re.findall(
        r"\d+", result_of(tour_text, "len(change_log), int(change_log.is_merge.sum())")[0]
    )
    assert int(operations) > int(merges) > 0
    nodes, links = re.findall(
        r"\d+", result_of(tour_text, "len(lineage['nodes']), len(lineage['links'])")[0]
    )
    assert int(nodes) > 1
    assert int(links) > 0
    assert "\n11. Level-2 cache and skeletons\n" in tour_text
    assert re.search(
        r"\[\d+ rows x 5 columns\]",
        "\n".join(
            result_of(
                tour_text,
                "l2 = client.l2cache.get_l2data_table(l2_ids, attributes=['size_nm3', 'area_nm2',",
            )
        ),
    )
    assert re.search(r"'\d+\.\d µm³'", tour_text)
    shapes = result_of(tour_text, "skeleton['vertices'].shape, skeleton['edges'].shape")
    assert re.fullmatch(r"   \(\((\d+), 3\), \((\d+), 2\)\)", shapes[0])


def test_the_speed_section_compares_map_with_a_loop(tour_text: str) -> None:
    assert "\n12. Many small calls at once\n" in tour_text
    assert re.search(r"'one by one: \d+\.\d\d s'", tour_text)
    assert re.search(r"'with client.map: \d+\.\d\d s'", tour_text)
    same = result_of(
        tour_text, "roots_at_once == roots == client.chunkedgraph.get_roots(supervoxel_ids).tolist()"
    )
    assert same[0] == "   True"


def test_tables_are_cut_to_the_width() -> None:
    pandas = pytest.importorskip("pandas")
    frame = pandas.DataFrame({f"column_{i}": [10**17 + i] * 8 for i in range(12)})
    lines = render(frame)
    assert all(len(line) <= WIDTH - 3 for line in lines)
    assert "..." in lines[0]
    assert lines[-1] == "[8 rows x 12 columns]"
    assert len(lines) == 1 + 6 + 1  # header, the first six rows, the size


def test_server_and_datastack_go_together(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as raised:
        main(["demo", "--server", "https://cave.example.org"])
    assert raised.value.code == 2
    assert "--server and --datastack go together" in capsys.readouterr().err


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--version"])
    assert "caveclient_gen 0.1.0" in capsys.readouterr().out


def test_export_command_writes_and_resumes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import pandas as pd

    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # the client's server map goes there

    from caveclient_gen.cli.export import parse_filters
    from caveclient_gen.export import TableExport
    from caveclient_gen.testing import LocalCAVE
    from caveclient_gen.testing.materialize.settings import configure_materialization

    assert parse_filters(["size>=100", "valid=true", "pre_pt_root_id=1,2", "x!=0", "c~^5P"]) == {
        "filter_greater_equal_dict": {"size": 100},
        "filter_equal_dict": {"valid": True},
        "filter_in_dict": {"pre_pt_root_id": [1, 2]},
        "filter_out_dict": {"x": [0]},
        "filter_regex_dict": {"c": "^5P"},
    }
    with pytest.raises(ValueError, match="COLUMN OP VALUE"):
        parse_filters(["size"])
    with LocalCAVE(seed=19) as cave:
        configure_materialization(cave.deployment, synapse_count=600, query_limit_size=80)
        target = tmp_path / "cli-export"
        command = [
            "export", cave.datastack, "synapses_pni_2", str(target),
            "--server", cave.url, "--token", cave.token, "--version", "3",
            "--filter", "size>=100", "--partition-rows", "50", "--no-progress",
        ]  # fmt: skip
        assert main(command) == 0
        first = capsys.readouterr().out
        assert "(complete)" in first
        export = TableExport.open(target)
        assert export.complete
        frame = export.to_pandas()
        assert (frame["size"] >= 100).all()
        assert len(export.partitions) > 1
        before = len(cave.deployment.request_log)
        assert main(command) == 0  # resumed: everything is there already
        assert not [p for _, p in cave.deployment.request_log[before:] if p.endswith("/query")]
        assert capsys.readouterr().out == first
        pd.testing.assert_frame_equal(TableExport.open(target).to_pandas(), frame)
