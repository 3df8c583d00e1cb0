"""The big-table benchmark's results (benchmarks/results/big_tables.json) as Markdown tables.

uv run python benchmarks/big_tables_report.py [RESULTS_JSON]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def cell(measured: dict[str, Any]) -> str:
    return f"{measured['seconds']:.2f} ({measured['seconds_min']:.2f}-{measured['seconds_max']:.2f})"


def render(results: dict[str, Any]) -> str:
    header = results["header"]
    lines = [
        f"Machine: {header['machine']}; Python {header['python']}; run {header['date']}; "
        f"{header['repeat']} repetitions, medians (min-max); row cap {header['cap']:,}.",
        "",
    ]
    for key, cases in results.items():
        if key.startswith("ratios_"):
            rows = int(key.split("_")[1])
            bound = cases["lower_bound"]["seconds"]
            lines += [
                f"**{rows:,}-row table** (time ratio against the lower bound's median):",
                "",
                "| case | seconds | / lower bound | extra peak MB | requests | rows |",
                "|---|---|---|---|---|---|",
            ]
            for case, measured in cases.items():
                lines.append(
                    f"| {case} | {cell(measured)} | {measured['seconds'] / bound:.2f} | "
                    f"{measured['extra_peak_mb']:.0f} | {measured['requests']:.0f} | "
                    f"{measured['rows']:,} |"
                )
            lines.append("")
    scaling = sorted((int(k.split("_")[1]), v) for k, v in results.items() if k.startswith("scaling_"))
    if len(scaling) == 2:
        (small, low), (large, high) = scaling
        lines += [
            f"**Scaling, {small:,} against {large:,} rows:**",
            "",
            "| case | s per million rows, small | s per million rows, large | ratio | "
            "extra peak MB, small | extra peak MB, large | ratio |",
            "|---|---|---|---|---|---|---|",
        ]
        for case in low:
            a = low[case]["seconds"] / (low[case]["rows"] / 1e6)
            b = high[case]["seconds"] / (high[case]["rows"] / 1e6)
            ma, mb = low[case]["extra_peak_mb"], high[case]["extra_peak_mb"]
            lines.append(
                f"| {case} | {a:.2f} | {b:.2f} | {b / a:.2f} | {ma:.0f} | {mb:.0f} | "
                f"{mb / ma if ma else float('nan'):.2f} |"
            )
        lines.append("")
    for key, value in results.items():
        if key.startswith("resume_"):
            lines += [
                f"**Resume ({int(key.split('_')[1]):,} rows):** the export was killed when "
                f"{value['files_written_before_kill']} of {value['files']} files were written; "
                f"its {value['partition_requests_total']} partition requests left "
                f"{value['partition_requests_missing']} missing; the rerun sent "
                f"{value['query_requests_of_rerun']} query requests "
                f"({value['rerun']['seconds']:.2f} s).",
                "",
            ]
    return "\n".join(lines)


def main() -> int:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE / "results" / "big_tables.json"
    text = render(json.loads(path.read_text(encoding="utf-8")))
    print(text)
    path.with_suffix(".md").write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
