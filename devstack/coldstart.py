"""Measure the cold-start import time of app.py against its dependencies alone (fresh processes).

`python -m devstack.coldstart [runs]` prints one JSON object with median milliseconds and the ratio.

Both sides are measured the same way: with bytecode caches written once beforehand (a shell that sets
PYTHONDONTWRITEBYTECODE would otherwise recompile our sources on every run but not the installed
packages'), alternating app and dependencies run by run so that load on the machine hits both alike.
The dependencies are the modules app.py's code uses from them: pydantic's `BaseModel`, `Field`, ...
load their own submodules lazily, so `import pydantic` alone would leave them on our side of the bill.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys

from devstack.resources import ROOT

DEPENDENCIES = (
    "import chalice.app, pynamodb.models, pynamodb.transactions, pydantic; "
    "from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, ValidationError"
)
APP = "import app"
TARGET_RATIO = 1.25


def _environment() -> dict[str, str]:
    return {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}


def _time_import(statement: str) -> float:
    probe = f"import time; t = time.perf_counter(); {statement}; print((time.perf_counter() - t) * 1000)"
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, env=_environment(), capture_output=True, text=True, check=True
    )
    return float(done.stdout.strip())


def measure(runs: int = 7) -> dict[str, float | bool]:
    _time_import(APP)  # writes the bytecode caches
    _time_import(DEPENDENCIES)
    app_runs, deps_runs = [], []
    for _ in range(runs):
        app_runs.append(_time_import(APP))
        deps_runs.append(_time_import(DEPENDENCIES))
    app_ms, deps_ms = statistics.median(app_runs), statistics.median(deps_runs)
    return {
        "importAppMs": round(app_ms, 1),
        "importDependenciesMs": round(deps_ms, 1),
        "ownCodeMs": round(app_ms - deps_ms, 1),
        "ratio": round(app_ms / deps_ms, 2),
        "ratioTargetMet": app_ms / deps_ms <= TARGET_RATIO,
    }


if __name__ == "__main__":
    print(json.dumps(measure(int(sys.argv[1]) if len(sys.argv) > 1 else 7)))
