"""Benchmarks of caveclient_gen against caveclient 8.2.1, both on the same LocalCAVE, in one run.

    uv run python benchmarks/run.py                    # every case, 5 repetitions
    uv run python benchmarks/run.py --cases import,get_roots_10m --repeat 3
    uv run python benchmarks/run.py --quick            # smaller data, 2 repetitions: a smoke run

Each measurement runs in a fresh interpreter (benchmarks/case_runner.py), each client in an
isolated environment holding only what a user would install: our freshly built wheel, or
caveclient==8.2.1 (`uv run --isolated --with ...`; caveclient pins pandas below 3). The two
clients alternate within each repetition, and which goes first alternates between repetitions.
LocalCAVE serves both from this process, on 127.0.0.1, and counts the HTTP requests of every run.
Medians and min-max go to the terminal, to benchmarks/results/latest.json and, as a Markdown
table, to benchmarks/results/latest.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RUNNER = HERE / "case_runner.py"
RESULTS = HERE / "results"
CAVECLIENT = "caveclient==8.2.1"
CLIENTS = ("ours", "caveclient")

LATENCY_SECONDS = {"get_roots_10m": 0.020, "small_calls_1k": 0.020}
"""Cases run with added server latency, to model a real network (the targets are stated so)."""


@dataclass
class Measurements:
    case: str
    runs: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: {c: [] for c in CLIENTS})

    def median(self, client: str, key: str) -> float:
        return float(statistics.median(float(run[key]) for run in self.runs[client]))

    def spread(self, client: str, key: str) -> tuple[float, float]:
        values = [run[key] for run in self.runs[client]]
        return min(values), max(values)

    def ratio(self, key: str) -> float | None:
        if not self.runs["caveclient"]:
            return None
        theirs = self.median("caveclient", key)
        return self.median("ours", key) / theirs if theirs > 0 else None


def build_wheel(scratch: Path) -> Path:
    """Our package as a user installs it: runtime dependencies only, no development tools."""
    out = scratch / "dist"
    subprocess.run(
        ["uv", "build", "--wheel", "--quiet", "--out-dir", str(out), str(HERE.parent)],
        check=True,
        timeout=600,
    )
    return next(out.glob("caveclient_gen-*.whl"))


def command_for(client: str, wheel: Path) -> list[str]:
    requirement = str(wheel) if client == "ours" else CAVECLIENT
    return [
        "uv",
        "run",
        "--isolated",
        "--no-project",
        "--quiet",
        "--with",
        requirement,
        "python",
        str(RUNNER),
    ]


def measure(client: str, case: str, config: dict[str, Any], home: Path) -> dict[str, Any]:
    environment = {**os.environ, "HOME": str(home)}
    environment.pop("VIRTUAL_ENV", None)
    result = subprocess.run(
        [*command_for(client, Path(config["wheel"])), client, case, json.dumps(config)],
        capture_output=True,
        text=True,
        env=environment,
        timeout=1800,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"{client} {case} failed:\n{result.stderr[-4000:]}")
    measurement: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return measurement


def run_case(case: str, repeat: int, cave: Any, config: dict[str, Any], home: Path) -> Measurements:
    from cases import OURS_ONLY

    measurements = Measurements(case)
    clients = ("ours",) if case in OURS_ONLY else CLIENTS
    cave.latency = LATENCY_SECONDS.get(case, 0.0)
    try:
        for repetition in range(repeat):
            order = clients if repetition % 2 == 0 else clients[::-1]
            for client in order:
                before = len(cave.requests)
                run = measure(client, case, config, home)
                run["requests"] = len(cave.requests) - before
                measurements.runs[client].append(run)
                print(
                    f"  {case:<24} {client:<10} {run['seconds']:8.3f} s "
                    f"{run['extra_peak_mb']:8.1f} MB  {run['requests']:5d} requests",
                    flush=True,
                )
    finally:
        cave.latency = 0.0
    checks = {
        client: [run["check"] for run in runs] for client, runs in measurements.runs.items() if runs
    }
    if len(checks) == 2 and checks["ours"][0] != checks["caveclient"][0]:
        print(
            f"  note: results differ: ours {checks['ours'][0]} vs caveclient {checks['caveclient'][0]}"
        )
    return measurements


def _cell(m: Measurements, client: str, key: str) -> str:
    low, high = m.spread(client, key)
    if key == "seconds":
        return f"{m.median(client, key):.3f} ({low:.3f}-{high:.3f})"
    return f"{m.median(client, key):.0f} ({low:.0f}-{high:.0f})"


def _ratio(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"


def report(all_measurements: list[Measurements], header: dict[str, Any]) -> str:
    lines = [
        f"Machine: {header['machine']}; Python {header['python']}; run {header['date']}; "
        f"{header['repeat']} repetitions, medians (min-max).",
        "",
        "| case | ours (s) | caveclient (s) | time ratio | ours extra peak MB "
        "| caveclient extra peak MB | memory ratio | requests ours / caveclient |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for m in all_measurements:
        if not m.runs["caveclient"]:
            lines.append(
                f"| {m.case} | {_cell(m, 'ours', 'seconds')} | - | - | "
                f"{_cell(m, 'ours', 'extra_peak_mb')} | - | - | - |"
            )
            continue
        time_ratio = m.ratio("seconds")
        memory_ratio = m.ratio("extra_peak_mb")
        requests = f"{int(m.median('ours', 'requests'))} / {int(m.median('caveclient', 'requests'))}"
        lines.append(
            f"| {m.case} | {_cell(m, 'ours', 'seconds')} | {_cell(m, 'caveclient', 'seconds')} | "
            f"{_ratio(time_ratio)} | {_cell(m, 'ours', 'extra_peak_mb')} | "
            f"{_cell(m, 'caveclient', 'extra_peak_mb')} | {_ratio(memory_ratio)} | {requests} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from prepare import CASE_NAMES, prepared_deployment

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument(
        "--cases", default=",".join(CASE_NAMES), help=f"comma-separated, from: {', '.join(CASE_NAMES)}"
    )
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="small data and 2 repetitions")
    args = parser.parse_args(argv)
    cases = [name.strip() for name in args.cases.split(",") if name.strip()]
    unknown = sorted(set(cases) - set(CASE_NAMES))
    if unknown:
        parser.error(f"unknown cases: {', '.join(unknown)}")
    repeat = 2 if args.quick else args.repeat

    RESULTS.mkdir(exist_ok=True)
    with (
        tempfile.TemporaryDirectory(prefix="cave-bench-") as scratch,
        prepared_deployment(Path(scratch), quick=args.quick) as (cave, config),
    ):
        home = Path(scratch) / "home"
        home.mkdir()
        config["wheel"] = str(build_wheel(Path(scratch)))
        print(f"LocalCAVE at {cave.url}; cases: {', '.join(cases)}", flush=True)
        results = [run_case(case, repeat, cave, config, home) for case in cases]
    header = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.platform()}",
        "python": platform.python_version(),
        "date": __import__("datetime").datetime.now().isoformat(timespec="seconds"),
        "repeat": repeat,
    }
    table = report(results, header)
    print("\n" + table)
    (RESULTS / "latest.md").write_text(table + "\n", encoding="utf-8")
    (RESULTS / "latest.json").write_text(
        json.dumps({"header": header, "cases": {m.case: m.runs for m in results}}, indent=1),
        encoding="utf-8",
    )
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(HERE))
    sys.exit(main())
