"""`caveclient-gen demo`: a guided tour of the client, printing each call and what it returned.

Every line shown is the line executed: the tour evaluates the very text it prints, in one namespace
shared by all steps, so a reader can copy any line into their own session.
"""

from __future__ import annotations

import ast
import contextlib
import json
import os
import tempfile
import textwrap
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TextIO

from .. import CAVEclient, CAVEError
from ..errors import InvalidInputError

if TYPE_CHECKING:
    from ..testing import LocalCAVE

MAX_LINES = 14
WIDTH = 100


@dataclass
class Tour:
    """Runs and prints the steps of the tour."""

    out: TextIO
    namespace: dict[str, Any] = field(default_factory=dict)
    failures: int = 0
    section_number: int = 0
    local_cave: LocalCAVE | None = None
    """The LocalCAVE toured, if any (None against a real deployment)."""

    def section(self, title: str, explanation: str = "") -> None:
        self.section_number += 1
        print(f"\n{self.section_number}. {title}", file=self.out)
        if explanation:
            for line in textwrap.wrap(explanation, WIDTH - 3):
                print(f"   {line}", file=self.out)

    def note(self, text: str) -> None:
        for line in textwrap.wrap(text, WIDTH - 3):
            print(f"   {line}", file=self.out)

    def run(self, code: str, *, show: bool = True, expect: type[CAVEError] | None = None) -> Any:
        """Execute one line of the tour; print it, the warnings it raised and its value.

        With `expect`, the line must raise that error, which is printed as the result.
        """
        for number, line in enumerate(
            textwrap.wrap(code, WIDTH - 7, break_long_words=False, break_on_hyphens=False)
        ):
            print(f"   {'>>>' if number == 0 else '...'} {line}", file=self.out)
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                try:
                    value = self._execute(code)
                finally:
                    self._print_warnings(caught)
        except Exception as error:
            # A failed step is reported and counted; the tour goes on with the next one.
            if expect is None or not isinstance(error, expect):
                self.failures += 1
            marker = "" if isinstance(error, CAVEError) else "!!! "
            for line in textwrap.wrap(f"{marker}{type(error).__name__}: {error}", WIDTH - 3):
                print(f"   {line}", file=self.out)
            return None
        if expect is not None:
            self.failures += 1
            print(f"   !!! expected {expect.__name__}, but the line succeeded", file=self.out)
        if show and value is not None:
            for line in render(value):
                print(f"   {line}", file=self.out)
        return value

    def _print_warnings(self, caught: list[warnings.WarningMessage]) -> None:
        for warning in caught:
            text = f"{warning.category.__name__}: {warning.message}"
            for line in textwrap.wrap(text, WIDTH - 3):
                print(f"   {line}", file=self.out)

    def _execute(self, code: str) -> Any:
        """Run one statement: an expression gives its value, an assignment the value assigned."""
        module = ast.parse(code)
        if len(module.body) != 1:
            raise ValueError(f"a tour line holds one statement: {code!r}")
        statement = module.body[0]
        if isinstance(statement, ast.Expr):
            expression = compile(ast.Expression(statement.value), "<tour>", "eval")
            return eval(expression, self.namespace)  # noqa: S307 - the tour's own literal code
        exec(compile(module, "<tour>", "exec"), self.namespace)  # noqa: S102 - the tour's own code
        if isinstance(statement, ast.Assign) and len(statement.targets) == 1:
            target = ast.unparse(statement.targets[0])
            return eval(target, self.namespace)  # noqa: S307 - the tour's own literal code
        return None


def render(value: Any) -> list[str]:
    """A few lines showing a value: JSON for records, the head of tables and series."""
    if hasattr(value, "to_string") and hasattr(value, "head"):
        if getattr(value, "ndim", 2) == 1:
            return _series_lines(value)
        return _frame_lines(value)
    if isinstance(value, dict | list) and value and not _is_flat_short_list(value):
        text = _json_text(value)
    else:
        text = repr(value)
    lines = []
    for raw in text.splitlines():
        lines.extend(
            textwrap.wrap(
                raw, WIDTH - 3, subsequent_indent="    ", break_long_words=False, break_on_hyphens=False
            )
            or [""]
        )
    if len(lines) > MAX_LINES:
        hidden = len(lines) - MAX_LINES
        lines = [*lines[:MAX_LINES], f"... ({hidden} more lines)"]
    return lines


def _frame_lines(frame: Any) -> list[str]:
    """The first rows, with as many columns as fit the width (the middle ones elided)."""
    columns = frame.shape[1]
    lines: list[str] = []
    for shown in range(columns, 1, -1):
        lines = frame.head(6).to_string(max_colwidth=28, max_cols=shown).splitlines()
        if max(map(len, lines), default=0) <= WIDTH - 3:
            break
    return [*lines, f"[{len(frame)} rows x {columns} columns]"]


def _series_lines(series: Any) -> list[str]:
    lines: list[str] = series.head(MAX_LINES).to_string(max_rows=MAX_LINES).splitlines()
    if len(series) > MAX_LINES:
        lines.append(f"... ({len(series) - MAX_LINES} more)")
    return lines


def _json_text(value: Any, indent: str = "") -> str:
    """JSON indented by level, short lists of numbers or strings kept on one line."""
    inner = indent + "  "
    if isinstance(value, dict) and value:
        items = [f"{inner}{json.dumps(str(k))}: {_json_text(v, inner)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + f"\n{indent}}}"
    if isinstance(value, list) and value and not _is_flat_short_list(value):
        items = [f"{inner}{_json_text(v, inner)}" for v in value]
        return "[\n" + ",\n".join(items) + f"\n{indent}]"
    return json.dumps(value, default=str)


def _is_flat_short_list(value: object) -> bool:
    return (
        isinstance(value, list)
        and len(value) <= 12
        and all(isinstance(item, str | int | float) for item in value)
    )


Section = Callable[[Tour], None]


def token_section(local: bool) -> Section:
    def section(tour: Tour) -> None:
        tour.section(
            "A client and its token",
            "Construction sends no request and reads no file. The token is looked up on first use: "
            "the auth_token argument, a token file, the CAVE_TOKEN variable, then the files shared "
            "with caveclient and CloudVolume in ~/.cloudvolume/secrets.",
        )
        tour.run("client = CAVEclient(datastack, server_address=server)")
        if local:
            tour.note(
                "LocalCAVE printed a token for us; save it where caveclient and CloudVolume "
                "look for tokens (here under a temporary home directory), mode 0600:"
            )
            tour.run("client.auth.save_token(local_token)")
        tour.run("client.auth.token_source")

    return section


def info_section(tour: Tour) -> None:
    tour.section("Datastacks", "The info service knows every datastack the token may view.")
    tour.run("client.info.get_datastacks()")
    tour.run("info = client.info.get_datastack_info()")
    tour.note("The record is fetched once and kept; the fields below need no further request.")
    tour.run("client.info.local_server()")
    tour.run("client.info.image_source()")
    tour.run("client.info.image_source(format_for='cloudvolume')")
    tour.run("client.info.segmentation_source(format_for='neuroglancer')")
    tour.run("client.info.viewer_resolution()")


def state_section(tour: Tour) -> None:
    tour.section(
        "Neuroglancer states",
        "The JSON state service stores viewer states by id. Links point at the datastack's viewer; "
        "the viewer host never receives the token.",
    )
    tour.run(
        "state = {'layers': [{'type': 'segmentation', 'name': 'seg', "
        "'source': client.info.segmentation_source(format_for='neuroglancer'), "
        "'segments': ['864691135000000001']}], 'position': [240000, 180000, 21000]}",
        show=False,
    )
    tour.run("state_id = client.state.upload_state_json(state)")
    tour.run("client.state.get_state_json(state_id) == state")
    tour.run("client.state.build_neuroglancer_url(state_id, target_site='spelunker')")


def schema_section(tour: Tour) -> None:
    tour.section("Annotation schemas", "Every annotation table is created from one of these.")
    tour.run("schemas = client.schema.get_schemas()", show=False)
    tour.run("len(schemas), schemas[:6]")
    tour.run("client.schema.schema_definition('synapse')['definitions']['SynapseSchema']['required']")


def errors_section(tour: Tour) -> None:
    tour.section(
        "Errors name what was wrong",
        "Server errors are typed (NotFoundError, PermissionDeniedError, ...) and carry the server's "
        "own message; bad input is refused before any request is sent.",
    )
    tour.run("client.info.get_datastack_info('no_such_datastack')", expect=CAVEError)
    tour.run("client.state.get_state_json('not-a-state-id')", expect=CAVEError)


def versions_section(tour: Tour) -> None:
    tour.section(
        "Materialization versions",
        "The materialization service freezes the annotation tables, bound to the segmentation, into "
        "numbered versions; queries run on the newest one unless told otherwise.",
    )
    tour.run("versions = client.materialize.get_versions()")
    tour.run("version = client.materialize.most_recent_version()")
    tour.run("client.materialize.get_version_metadata(version)")
    tour.run("client.materialize.get_tables(version=version)")
    tour.run("client.materialize.get_annotation_count(info['synapse_table'])")


def query_section(tour: Tour) -> None:
    tour.section(
        "Tables into DataFrames",
        "The tables come as Arrow, decoded straight into DataFrames with caveclient's dtypes: ids "
        "as Int64, times UTC-aware, positions as arrays. The datastack's record names its soma and "
        "synapse tables; a hundred somas are enough to find a neuron to follow (the server says "
        "when a limit cut the answer).",
    )
    tour.run(
        "somas = client.materialize.query_table(info['soma_table'], "
        "filter_greater_dict={'pt_root_id': 0}, limit=100)"
    )
    tour.note(
        "A root id names one state of a neuron: every proofreading edit gives it a new one. The "
        "neuron edited most recently among these has the newest root:"
    )
    tour.run("created = client.chunkedgraph.get_root_timestamps(somas.pt_root_id)", show=False)
    tour.run("soma = somas.iloc[created.argmax()]", show=False)
    tour.run("root_id = int(soma.pt_root_id)")
    tour.run("created.max()")
    tour.run(
        "synapses = client.materialize.query_table(info['synapse_table'], "
        "filter_equal_dict={'post_pt_root_id': root_id})"
    )
    tour.run("synapses.dtypes")
    tour.note("What was asked and how to read the answer travel with the frame, in df.attrs:")
    tour.run(
        "{key: synapses.attrs[key] for key in ('table_name', 'materialization_version', "
        "'dataframe_resolution', 'table_voxel_resolution')}"
    )
    tour.note(
        "client.materialize.tables offers every table as a query builder whose keywords are its "
        "filters (in a notebook, `client.materialize.tables.<Tab>` completes the names):"
    )
    tour.run("client.materialize.tables")
    tour.run("synapse_table = client.materialize.tables[info['synapse_table']]")
    tour.note("The synapses from its most frequent presynaptic partner (autapses aside):")
    tour.run(
        "partner_id = int(synapses.query('pre_pt_root_id != post_pt_root_id').pre_pt_root_id.mode()[0])"
    )
    tour.run(
        "synapse_table(pre_pt_root_id=partner_id, post_pt_root_id=root_id)"
        ".query(select_columns=['id', 'size', 'ctr_pt_position'])"
    )


def time_travel_section(tour: Tour) -> None:
    tour.section(
        "Back in time",
        "Every query can be asked as of any moment since the oldest version: the client queries the "
        "version before that moment and brings each root id forward with the chunkedgraph. Here: "
        "midway between the two latest versions.",
    )
    tour.run("from datetime import UTC, datetime")
    tour.run(
        "previous, latest = (client.materialize.get_timestamp(v) for v in sorted(versions)[-2:])",
        show=False,
    )
    tour.run("then = previous + (latest - previous) / 2")
    tour.note(
        "The neuron's root id of today did not exist then, so the same filter is refused before any "
        "request is sent:"
    )
    tour.run(
        "client.materialize.query_table(info['synapse_table'], "
        "filter_equal_dict={'post_pt_root_id': root_id}, timestamp=then)",
        expect=InvalidInputError,
    )
    tour.note("The same synapses, chosen by annotation id, as they were bound then:")
    tour.run(
        "synapses_then = client.materialize.query_table(info['synapse_table'], "
        "filter_in_dict={'id': synapses.id.tolist()}, timestamp=then)",
        show=False,
    )
    tour.run(
        "{key: synapses_then.attrs[key] for key in ('live_query', 'timestamp', "
        "'materialization_version')}"
    )
    tour.note(
        "Then, the neuron's synapses lay on several segments: the pieces that merges joined since "
        "(rows added to the table after that version are absent):"
    )
    tour.run("len(synapses), len(synapses_then)")
    tour.run("synapses_then.post_pt_root_id.value_counts()")
    tour.note("Where presynaptic partners were edited since, their root ids differ too:")
    tour.run(
        "changed = synapses.merge(synapses_then, on='id', suffixes=('', '_then'))"
        ".query('pre_pt_root_id != pre_pt_root_id_then')",
        show=False,
    )
    tour.run("changed[['id', 'pre_pt_supervoxel_id', 'pre_pt_root_id_then', 'pre_pt_root_id']]")


def annotation_section(local: bool) -> Section:
    def section(tour: Tour) -> None:
        tour.section(
            "Writing annotations",
            "Annotation tables are created from a schema; rows go in as DataFrames, their points "
            "nested as the schema wants them.",
        )
        if not local:
            tour.note("Skipped against a real deployment: this section creates a table and writes rows.")
            return
        tour.run(
            "table_name = client.annotation.create_table('edited_partners', 'bound_tag', "
            "'Synapses whose presynaptic partner was edited recently', "
            "voxel_resolution=synapses.attrs['dataframe_resolution'])"
        )
        tour.run(
            "points = changed[['pre_pt_position']].head(3).rename(columns={'pre_pt_position': "
            "'pt_position'}).assign(tag='partner edited')"
        )
        tour.run(
            "new_ids = client.annotation.post_annotation_df(table_name, points, "
            "position_columns=['pt_position'])"
        )
        tour.run("client.annotation.get_annotation(table_name, new_ids[0])")
        tour.note(
            "Before the next version is frozen, the table is already queryable live, each point "
            "bound to the segment under it:"
        )
        tour.run(
            "client.materialize.live_live_query(table_name, datetime.now(UTC))"
            "[['id', 'pt_supervoxel_id', 'pt_root_id', 'tag']]"
        )

    return section


def chunkedgraph_section(tour: Tour) -> None:
    tour.section(
        "A neuron's history in the chunkedgraph",
        "The chunkedgraph maps supervoxels (the atoms of the segmentation) to root ids at any moment, "
        "and keeps every edit.",
    )
    tour.run("supervoxel_id = int(soma.pt_supervoxel_id)")
    tour.run("client.chunkedgraph.get_root_id(supervoxel_id)")
    tour.run("root_then = client.chunkedgraph.get_root_id(supervoxel_id, timestamp=then)")
    tour.run("client.chunkedgraph.is_latest_roots([root_id, root_then])")
    tour.run("leaves = client.chunkedgraph.get_leaves(root_id)", show=False)
    tour.run("len(leaves)")
    tour.run("leaves[:3]")
    tour.run("change_log = client.chunkedgraph.get_tabular_change_log(root_id)[root_id]", show=False)
    tour.run("len(change_log), int(change_log.is_merge.sum())")
    tour.note("Its timestamps are the server's epoch milliseconds, as caveclient gives them:")
    tour.run("since = change_log.timestamp > then.timestamp() * 1000")
    tour.run("change_log[since][['operation_id', 'timestamp', 'is_merge', 'user_id']]")
    tour.note("The roots it came from since then, and the lineage graph linking them through edits:")
    tour.run("client.chunkedgraph.get_past_ids(root_id, timestamp_past=then)['past_id_map'][root_id]")
    tour.run("lineage = client.chunkedgraph.get_lineage_graph(root_id, timestamp_past=then)", show=False)
    tour.run("len(lineage['nodes']), len(lineage['links'])")


def l2_skeleton_section(tour: Tour) -> None:
    tour.section(
        "Level-2 cache and skeletons",
        "Level-2 nodes are a neuron's pieces within one chunk; the L2 cache holds their volume, "
        "area, representative point and shape. The skeleton service builds skeletons from them.",
    )
    tour.run("l2_ids = client.chunkedgraph.get_leaves(root_id, stop_layer=2)", show=False)
    tour.run("len(l2_ids)")
    tour.run(
        "l2 = client.l2cache.get_l2data_table(l2_ids, attributes=['size_nm3', 'area_nm2', "
        "'rep_coord_nm'])"
    )
    tour.run("f'{l2.size_nm3.sum() / 1e9:.1f} µm³'")
    tour.run("skeleton = client.skeleton.get_skeleton(root_id)", show=False)
    tour.run("skeleton['vertices'].shape, skeleton['edges'].shape")
    tour.run("skeleton['vertices'][skeleton['root']]  # nm")


def speed_section(tour: Tour) -> None:
    tour.section(
        "Many small calls at once",
        "client.map(method, items) runs calls side by side over the shared connection pool; results "
        "keep the order of the items. Bulk routes, where they exist, are better still: one request.",
    )
    cave = tour.local_cave
    if cave is not None:
        tour.note(
            "LocalCAVE answers within a millisecond; for this section it waits 20 ms before each "
            "answer, as a server across a network would."
        )
        cave.latency = 0.02
    try:
        tour.run("import time")
        tour.run("supervoxel_ids = synapses.pre_pt_supervoxel_id.head(40).tolist()", show=False)
        tour.run("start = time.perf_counter()", show=False)
        tour.run("roots = [client.chunkedgraph.get_root_id(sv) for sv in supervoxel_ids]", show=False)
        tour.run("f'one by one: {time.perf_counter() - start:.2f} s'")
        tour.run("start = time.perf_counter()", show=False)
        tour.run(
            "roots_at_once = client.map(client.chunkedgraph.get_root_id, supervoxel_ids)", show=False
        )
        tour.run("f'with client.map: {time.perf_counter() - start:.2f} s'")
        tour.run("roots_at_once == roots == client.chunkedgraph.get_roots(supervoxel_ids).tolist()")
    finally:
        if cave is not None:
            cave.latency = 0.0
    tour.note(
        "AsyncCAVEclient has the same sub-clients and methods, awaitable, and `await client.map(...)` "
        "for asyncio code."
    )


SECTIONS: list[Callable[[bool], list[Section]]] = [
    lambda local: [token_section(local), info_section, state_section, schema_section, errors_section],
    lambda local: [versions_section, query_section, time_travel_section, annotation_section(local)],
    lambda local: [chunkedgraph_section, l2_skeleton_section, speed_section],
]
"""Groups of sections, in tour order; each service's tour adds its group."""


@contextlib.contextmanager
def temporary_home() -> Iterator[str]:
    """Point HOME at a fresh directory, so the tour never touches the user's token files."""
    previous = os.environ.get("HOME")
    with tempfile.TemporaryDirectory(prefix="caveclient-gen-demo-") as home:
        os.environ["HOME"] = home
        try:
            yield home
        finally:
            if previous is None:
                os.environ.pop("HOME", None)
            else:
                os.environ["HOME"] = previous


def run_demo(
    *,
    server: str | None = None,
    datastack: str | None = None,
    seed: int = 0,
    out: TextIO | None = None,
) -> int:
    """Run the tour; returns the process exit status (non-zero if any step failed)."""
    import sys

    stream = out or sys.stdout
    tour = Tour(stream)
    tour.namespace["CAVEclient"] = CAVEclient
    local = server is None
    print("caveclient_gen — a tour of the client", file=stream)
    with contextlib.ExitStack() as stack:
        if local:
            from ..testing import LocalCAVE

            stack.enter_context(temporary_home())
            # PCGL2Cache 1.3.1 fails every attributes request; the tour shows a working one.
            cave = stack.enter_context(LocalCAVE(seed=seed, idealised=["l2_attributes"]))
            tour.local_cave = cave
            print(f"LocalCAVE is serving every CAVE service at {cave.url} (seed {seed}).", file=stream)
            print(
                "Its L2 cache answers level-2 attributes, which PCGL2Cache 1.3.1 cannot "
                "(idealised=['l2_attributes']).",
                file=stream,
            )
            tour.namespace.update(server=cave.url, datastack=cave.datastack, local_token=cave.token)
        else:
            print(f"Touring {datastack} on {server}.", file=stream)
            tour.namespace.update(server=server, datastack=datastack)
        try:
            for group in SECTIONS:
                for section in group(local):
                    section(tour)
        finally:
            client = tour.namespace.get("client")
            if isinstance(client, CAVEclient):
                client.close()
    verdict = "every step succeeded" if not tour.failures else f"{tour.failures} step(s) failed"
    print(f"\nEnd of the tour: {verdict}.", file=stream)
    return 0 if not tour.failures else 1
