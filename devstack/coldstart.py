"""Measure the cold-start import time of app.py against its dependencies alone (fresh processes).

`python -m devstack.coldstart [runs]` prints one JSON object with median milliseconds.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys

from devstack.resources import ROOT

DEPENDENCIES = "import chalice.app, pynamodb.models, pynamodb.transactions, pydantic"


def _time_import(statement: str) -> float:
    probe = f"import time; t = time.perf_counter(); {statement}; print((time.perf_counter() - t) * 1000)"
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    return float(done.stdout.strip())


def measure(runs: int = 7) -> dict[str, float]:
    app_ms = statistics.median(_time_import("import app") for _ in range(runs))
    deps_ms = statistics.median(_time_import(DEPENDENCIES) for _ in range(runs))
    return {
        "importAppMs": round(app_ms, 1),
        "importDependenciesMs": round(deps_ms, 1),
        "ownCodeMs": round(app_ms - deps_ms, 1),
    }


if __name__ == "__main__":
    print(json.dumps(measure(int(sys.argv[1]) if len(sys.argv) > 1 else 7)))
