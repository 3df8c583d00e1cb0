"""Whole tables past the row cap: all_rows and export_table against the lower bound and caveclient.

    uv run python benchmarks/big_tables.py                 # 5M-row ratios, 1M vs 10M scaling, resume
    uv run python benchmarks/big_tables.py --quick         # 200k / 100k / 400k rows: a smoke run
    uv run python benchmarks/big_tables.py --parts ratios --repeat 3

LocalCAVE serves a synapse table from this process on 127.0.0.1 with a row cap of 500,000 (the
public deployments' `QUERY_LIMIT_SIZE`). Each measurement is a fresh interpreter (this file with
`--child`): ours and the lower bound in the project's environment, caveclient 8.2.1 in an isolated
one (`uv run --isolated --with caveclient==8.2.1`). Measured: wall time of the operation, the
extra peak resident memory above the process's memory just before it, and the requests LocalCAVE
counted. The lower bound is the same rows in one uncapped Arrow answer (the cap lifted for that
request only), fetched by bare httpx and decoded by pyarrow into pandas. Results go to the
terminal and to benchmarks/results/big_tables.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
TABLE = "synapses_pni_2"
CAP = 500_000
CAVECLIENT = "caveclient==8.2.1"


# ---------------------------------------------------------------- in the measured process


def resident_mb() -> float:
    with open("/proc/self/statm", encoding="ascii") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize() / 1e6


def peak_mb() -> float:
    """The process's peak resident memory (VmHWM). Not ru_maxrss: on Linux a child keeps the
    ru_maxrss of the process it was forked from (here LocalCAVE's, gigabytes), across exec."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1e3
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3


def child(case: str, config: dict[str, Any]) -> int:
    """Run one case once; print one JSON line."""
    import warnings

    warnings.simplefilter("ignore")
    server, datastack, token = config["server"], config["datastack"], config["token"]
    version = config["version"]
    operation: Any
    if case == "lower_bound":
        import httpx
        import pandas as pd
        import pyarrow as pa

        url = f"{server}/materialize/api/v3/datastack/{datastack}/version/{version}/table/{TABLE}/query"
        params = {
            "return_pyarrow": "true",
            "arrow_format": "true",
            "split_positions": "true",
            "direct_sql_pandas": "true",
        }
        http = httpx.Client(timeout=600, headers={"Authorization": f"Bearer {token}"})

        def operation() -> int:
            answer = http.post(url, params=params, json={}, headers={"Accept-Encoding": "zstd"})
            answer.raise_for_status()
            with pa.ipc.open_stream(pa.py_buffer(answer.content)) as reader:
                frame = reader.read_all().to_pandas()
            return len(frame)

    elif case in ("all_rows", "export", "export_to_pandas"):
        from caveclient_gen import CAVEclient

        client = CAVEclient(datastack, server_address=server, auth_token=token, write_server_cache=False)
        # Warm-up, untimed: one 2-row query (counted in `requests`; the resume part subtracts it).
        client.materialize.query_table(
            TABLE, filter_less_dict={"id": 3}, materialization_version=version
        )
        target = str(config.get("target"))

        def operation() -> int:
            if case == "all_rows":
                frame = client.materialize.query_table(
                    TABLE, split_positions=True, all_rows=True, materialization_version=version
                )
                return len(frame)
            export = client.materialize.export_table(
                TABLE, target, materialization_version=version, progress=False
            )
            if case == "export":
                return export.rows
            return len(export.to_pandas())

    elif case == "caveclient_offset":
        from caveclient import CAVEclient as TheirClient  # type: ignore[import-not-found]

        client = TheirClient(
            datastack, server_address=server, auth_token=token, write_server_cache=False
        )
        client.materialize.query_table(TABLE, limit=3, materialization_version=version)
        import pandas as pd

        cap = int(config["cap"])

        def operation() -> int:
            pages = []
            offset = 0
            while True:
                page = client.materialize.query_table(
                    TABLE,
                    offset=offset,
                    limit=cap,
                    split_positions=True,
                    materialization_version=version,
                )
                pages.append(page)
                offset += len(page)
                if len(page) < cap:
                    break
            return len(pd.concat(pages, ignore_index=True))

    else:
        raise SystemExit(f"unknown case {case}")
    baseline = resident_mb()
    started = time.perf_counter()
    rows = operation()
    seconds = time.perf_counter() - started
    print(
        json.dumps(
            {
                "case": case,
                "rows": rows,
                "seconds": seconds,
                "extra_peak_mb": max(0.0, peak_mb() - baseline),
            }
        ),
        flush=True,
    )
    return 0


# ---------------------------------------------------------------- the driver


def command(case: str) -> list[str]:
    if case == "caveclient_offset":
        return [
            "uv", "run", "--isolated", "--no-project", "--quiet", "--with", CAVECLIENT,
            "python", str(Path(__file__).resolve()),
        ]  # fmt: skip
    return [sys.executable, str(Path(__file__).resolve())]


def measure(cave: Any, case: str, config: dict[str, Any], home: Path) -> dict[str, Any]:
    from caveclient_gen.testing.materialize.settings import MaterializationSettings

    settings = MaterializationSettings.of(cave.deployment)
    settings.query_limit_size = 10**9 if case == "lower_bound" else CAP
    environment = {**os.environ, "HOME": str(home)}
    environment.pop("VIRTUAL_ENV", None)
    before = len(cave.deployment.request_log)
    result = subprocess.run(
        [*command(case), "--child", case, json.dumps(config)],
        capture_output=True,
        text=True,
        env=environment,
        timeout=3600,
        check=False,
    )
    settings.query_limit_size = CAP
    if result.returncode != 0:
        raise RuntimeError(f"{case} failed:\n{result.stderr[-4000:]}")
    run: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    run["requests"] = len(cave.deployment.request_log) - before
    print(
        f"  {case:<18} {run['rows']:>10} rows {run['seconds']:8.2f} s "
        f"{run['extra_peak_mb']:8.0f} MB {run['requests']:5d} requests",
        flush=True,
    )
    return run


def deployment(rows: int) -> Any:
    from caveclient_gen import CAVEclient
    from caveclient_gen.testing import LocalCAVE
    from caveclient_gen.testing.materialize.settings import configure_materialization

    cave = LocalCAVE(seed=11)
    configure_materialization(cave.deployment, synapse_count=rows, query_limit_size=CAP)
    cave.__enter__()
    with CAVEclient(
        cave.datastack, server_address=cave.url, auth_token=cave.token, write_server_cache=False
    ) as client:
        version = int(client.materialize.most_recent_version())
        started = time.perf_counter()
        client.materialize.query_table(TABLE, filter_less_dict={"id": 3})  # builds the table
        print(f"LocalCAVE {rows:,} rows built in {time.perf_counter() - started:.1f} s", flush=True)
    return cave, version


def medians(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "seconds": statistics.median(r["seconds"] for r in runs),
        "seconds_min": min(r["seconds"] for r in runs),
        "seconds_max": max(r["seconds"] for r in runs),
        "extra_peak_mb": statistics.median(r["extra_peak_mb"] for r in runs),
        "requests": statistics.median(r["requests"] for r in runs),
        "rows": runs[0]["rows"],
        "runs": runs,
    }


def series(
    cave: Any, cases: list[str], config: dict[str, Any], repeat: int, scratch: Path
) -> dict[str, Any]:
    """Each case `repeat` times, the cases interleaved (the order rotating between repetitions)."""
    runs: dict[str, list[dict[str, Any]]] = {case: [] for case in cases}
    home = scratch / "home"
    home.mkdir(exist_ok=True)
    for repetition in range(repeat):
        order = cases[repetition % len(cases) :] + cases[: repetition % len(cases)]
        for case in order:
            target = scratch / f"export-{case}-{repetition}"
            runs[case].append(measure(cave, case, {**config, "target": str(target)}, home))
            shutil.rmtree(target, ignore_errors=True)
    return {case: medians(found) for case, found in runs.items()}


def resume(cave: Any, config: dict[str, Any], scratch: Path) -> dict[str, Any]:
    """Kill an export once half its files are written; count the requests of the rerun."""
    target = scratch / "export-resume"
    home = scratch / "home"
    home.mkdir(exist_ok=True)
    environment = {**os.environ, "HOME": str(home)}
    run = {**config, "target": str(target)}
    process = subprocess.Popen(
        [*command("export"), "--child", "export", json.dumps(run)],
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    manifest_path = target / "_manifest.json"
    written = total = 0
    deadline = time.monotonic() + 1800
    while process.poll() is None and time.monotonic() < deadline:
        try:
            manifest = json.loads(manifest_path.read_text())
        except (OSError, ValueError):
            time.sleep(0.05)
            continue
        total = len(manifest["partitions"])
        written = sum(1 for p in manifest["partitions"] if p.get("rows") is not None)
        if written * 2 >= total:
            process.send_signal(signal.SIGKILL)
            break
        time.sleep(0.02)
    process.wait()
    manifest = json.loads(manifest_path.read_text())
    missing = [p for p in manifest["partitions"] if p.get("rows") is None]
    missing_requests = sum(len(p["ranges"]) for p in missing)
    all_requests = sum(len(p["ranges"]) for p in manifest["partitions"])
    before = len(cave.deployment.request_log)
    rerun = measure(cave, "export", run, home)
    queries = [p for _, p in cave.deployment.request_log[before:] if p.endswith("/query")]
    shutil.rmtree(target, ignore_errors=True)
    return {
        "files": len(manifest["partitions"]),
        "files_written_before_kill": len(manifest["partitions"]) - len(missing),
        "partition_requests_total": all_requests,
        "partition_requests_missing": missing_requests,
        "query_requests_of_rerun": len(queries) - 1,  # less the rerun's warm-up query
        "rerun": rerun,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--parts", default="ratios,scaling,resume")
    parser.add_argument("--child", nargs=2, metavar=("CASE", "CONFIG"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args.child[0], json.loads(args.child[1]))
    parts = set(args.parts.split(","))
    sizes = (200_000, 100_000, 400_000) if args.quick else (5_000_000, 1_000_000, 10_000_000)
    big, small, large = sizes
    if args.quick:
        globals()["CAP"] = 20_000
    results: dict[str, Any] = {
        "header": {
            "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.platform()}",
            "python": platform.python_version(),
            "date": __import__("datetime").datetime.now().isoformat(timespec="seconds"),
            "repeat": args.repeat,
            "cap": CAP,
        }
    }
    with tempfile.TemporaryDirectory(prefix="cave-big-") as scratch_name:
        scratch = Path(scratch_name)
        if "ratios" in parts or "resume" in parts:
            cave, version = deployment(big)
            config = {"server": cave.url, "datastack": cave.datastack, "token": cave.token}
            config.update(version=version, cap=CAP)
            if "ratios" in parts:
                cases = ["lower_bound", "all_rows", "export_to_pandas", "caveclient_offset"]
                results[f"ratios_{big}"] = series(cave, cases, config, args.repeat, scratch)
            if "resume" in parts:
                results[f"resume_{big}"] = resume(cave, config, scratch)
            cave.__exit__(None, None, None)
            del cave
        if "scaling" in parts:
            for rows in (small, large):
                cave, version = deployment(rows)
                config = {"server": cave.url, "datastack": cave.datastack, "token": cave.token}
                config.update(version=version, cap=CAP)
                results[f"scaling_{rows}"] = series(
                    cave, ["all_rows", "export"], config, args.repeat, scratch
                )
                cave.__exit__(None, None, None)
                del cave
    RESULTS.mkdir(exist_ok=True)
    name = "big_tables_quick.json" if args.quick else "big_tables.json"
    (RESULTS / name).write_text(json.dumps(results, indent=1), encoding="utf-8")
    print(json.dumps({k: v for k, v in results.items() if k != "header"}, indent=1, default=str)[:6000])
    return 0


if __name__ == "__main__":
    sys.exit(main())
