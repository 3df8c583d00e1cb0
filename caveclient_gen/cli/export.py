"""`caveclient-gen export`: a table or view written to a Parquet dataset, resumably.

Filters are written `COLUMN OP VALUE`: `size>=100`, `valid=true`, `pre_pt_root_id=1,2,3` (a list:
membership), `post_pt_root_id!=0` (exclusion), `cell_type~^5P` (regular expression).
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from datetime import datetime
from typing import Any, TextIO

_FILTER = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(>=|<=|!=|=|>|<|~)\s*(.*)$")
_KIND = {
    ">=": "filter_greater_equal_dict",
    "<=": "filter_less_equal_dict",
    ">": "filter_greater_dict",
    "<": "filter_less_dict",
    "~": "filter_regex_dict",
}


def add_parser(commands: Any) -> None:
    """The `export` sub-command's arguments."""
    export = commands.add_parser(
        "export",
        help="write a whole table (or view) to a Parquet dataset, resumably",
        description="Write every row of a table or view, past the server's row limit, to a "
        "Parquet dataset with a manifest (a local folder, or s3://, gs:// ...). Run the same "
        "command again to resume an interrupted export.",
    )
    export.add_argument("datastack", help="the datastack")
    export.add_argument("table", help="the table (or, with --view, the view)")
    export.add_argument("path", help="the export's folder or object-store URL")
    when = export.add_mutually_exclusive_group()
    when.add_argument("--version", type=int, metavar="N", help="materialization version")
    when.add_argument(
        "--timestamp", metavar="T", help="the table as of this ISO 8601 moment (with a zone)"
    )
    export.add_argument(
        "--filter",
        action="append",
        default=[],
        metavar="EXPR",
        help="a filter: size>=100, valid=true, pre_pt_root_id=1,2,3, post_pt_root_id!=0, "
        "cell_type~^5P (repeat for more)",
    )
    export.add_argument("--select", nargs="+", metavar="COLUMN", help="columns to export")
    export.add_argument("--view", action="store_true", help="TABLE names a view")
    export.add_argument("--server", metavar="URL", help="the global server (default: caveclient's)")
    export.add_argument(
        "--token", metavar="TOKEN", help="the token (default: CAVE_TOKEN, then the token files)"
    )
    export.add_argument(
        "--partition-rows",
        type=int,
        metavar="N",
        help="most rows per request (default 125,000, under the cap)",
    )
    export.add_argument("--no-progress", action="store_true", help="no progress bar")


def parse_value(text: str) -> Any:
    """A filter value: an integer, a number, true/false, or the text itself."""
    lowered = text.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text.strip()


def parse_filters(expressions: Sequence[str]) -> dict[str, dict[str, Any]]:
    """`--filter` expressions as query_table's filter arguments."""
    filters: dict[str, dict[str, Any]] = {}
    for expression in expressions:
        found = _FILTER.match(expression)
        if not found or not found.group(3).strip():
            raise ValueError(f"--filter {expression!r}: write COLUMN OP VALUE, e.g. size>=100")
        column, operator, raw = found.groups()
        if operator == "~":
            value: Any = raw
            kind = _KIND[operator]
        elif operator in ("=", "!="):
            items = [parse_value(item) for item in raw.split(",")]
            if operator == "!=":
                kind, value = "filter_out_dict", items
            elif len(items) > 1:
                kind, value = "filter_in_dict", items
            else:
                kind, value = "filter_equal_dict", items[0]
        else:
            kind, value = _KIND[operator], parse_value(raw)
        filters.setdefault(kind, {})[column] = value
    return filters


def run_export(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Run the export the arguments describe; print what was written."""
    from .._client import CAVEclient

    try:
        filters = parse_filters(args.filter)
    except ValueError as error:
        print(f"caveclient-gen export: {error}", file=sys.stderr)
        return 2
    options: dict[str, Any] = {
        **filters,
        "select_columns": args.select,
        "materialization_version": args.version,
        "partition_rows": args.partition_rows,
        "progress": not args.no_progress,
    }
    with CAVEclient(args.datastack, server_address=args.server, auth_token=args.token) as client:
        if args.view:
            export = client.materialize.export_view(args.table, args.path, **options)
        else:
            moment = None
            if args.timestamp:
                moment = datetime.fromisoformat(args.timestamp.replace("Z", "+00:00"))
            export = client.materialize.export_table(args.table, args.path, timestamp=moment, **options)
    state = "complete" if export.complete else f"incomplete: {len(export.missing)} files missing"
    print(
        f"{export.rows} rows in {len(export.partitions) - len(export.missing)} files at "
        f"{export.url} ({state})",
        file=out or sys.stdout,
    )
    return 0 if export.complete else 1
