"""Runs one benchmark case once, in a fresh interpreter, with one client; prints a JSON measurement.

    python case_runner.py CLIENT CASE CONFIG_JSON

CLIENT is `ours` (caveclient_gen, in the project's environment) or `caveclient` (caveclient 8.2.1 in
an isolated environment of its own: it pins pandas below 3). This file imports neither client at
module level, so the same file serves both environments. The measurement is:

- `seconds`: wall time of the measured operation only (imports and setup excluded, except for the
  `import` case, which measures exactly the import);
- `peak_rss_mb`: the process's peak resident memory while it ran;
- `extra_peak_mb`: how far the peak rose above the resident memory just before the operation.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cases import CASES, Setup


def resident_mb() -> float:
    """The current resident set size (Linux /proc), in MB."""
    with open("/proc/self/statm", encoding="ascii") as statm:
        pages = int(statm.read().split()[1])
    return pages * resource.getpagesize() / 1e6


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3


def main() -> int:
    client_name, case_name, config_text = sys.argv[1:4]
    config: dict[str, Any] = json.loads(config_text)
    case = CASES[case_name]
    setup = Setup(client_name, config)
    operation: Callable[[], Any] = case(setup)
    baseline = resident_mb()
    started = time.perf_counter()
    result = operation()
    seconds = time.perf_counter() - started
    print(
        json.dumps(
            {
                "client": client_name,
                "case": case_name,
                "seconds": seconds,
                "peak_rss_mb": peak_mb(),
                "extra_peak_mb": max(0.0, peak_mb() - baseline),
                "check": setup.describe(result),
            }
        )
    )
    setup.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
