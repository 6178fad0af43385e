"""Measure the cold-start import time of app.py against its dependencies alone (fresh processes).

`python -m devstack.coldstart [runs]` prints one JSON object with median milliseconds and the ratio.

Both sides are measured the same way: with bytecode caches written once beforehand (a shell that sets
PYTHONDONTWRITEBYTECODE would otherwise recompile our sources on every run but not the installed
packages'), alternating app and dependencies run by run so that load on the machine hits both alike.
The dependencies are the modules app.py's code uses from them: pydantic's `BaseModel`, `Field`, ...
load their own submodules lazily, so `import pydantic` alone would leave them on our side of the bill.

Services run on first use (chalicelib/lazy.py), so `import app` is only the fixed part of a cold start.
What a first invocation adds is measured too, the same way: the services a contact create runs, and
the relay's first batch (its four consumers).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from typing import Any

from devstack.resources import ROOT

DEPENDENCIES = (
    "import chalice.app, pynamodb.models, pynamodb.transactions, pydantic; "
    "from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, ValidationError"
)
APP = "import app"
# What a first invocation loads on top of `import app`: the modules it runs (touching one runs it).
FIRST_INVOCATIONS = {
    "contactCreate": "from chalicelib.services import auth, contacts, idempotency; "
    "auth.authenticate, idempotency.begin, contacts.create_contact",
    "relayBatch": "from chalicelib.services import relay; relay.CONSUMERS",
}
TARGET_RATIO = 1.25


def _environment() -> dict[str, str]:
    return {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}


def _time_import(statement: str) -> float:
    probe = f"import time; t = time.perf_counter(); {statement}; print((time.perf_counter() - t) * 1000)"
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, env=_environment(), capture_output=True, text=True, check=True
    )
    return float(done.stdout.strip())


def measure(runs: int = 7) -> dict[str, Any]:
    statements = {"importApp": APP, **{name: f"{APP}; {extra}" for name, extra in FIRST_INVOCATIONS.items()}}
    for statement in (*statements.values(), DEPENDENCIES):  # writes the bytecode caches
        _time_import(statement)
    timings: dict[str, list[float]] = {name: [] for name in (*statements, "dependencies")}
    for _ in range(runs):
        for name, statement in (*statements.items(), ("dependencies", DEPENDENCIES)):
            timings[name].append(_time_import(statement))
    medians = {name: statistics.median(values) for name, values in timings.items()}
    app_ms, deps_ms = medians["importApp"], medians["dependencies"]
    return {
        "importAppMs": round(app_ms, 1),
        "importDependenciesMs": round(deps_ms, 1),
        "ownCodeMs": round(app_ms - deps_ms, 1),
        "ratio": round(app_ms / deps_ms, 2),
        "ratioTargetMet": app_ms / deps_ms <= TARGET_RATIO,
        "firstInvocation": {
            name: {"ms": round(medians[name], 1), "ratio": round(medians[name] / deps_ms, 2)}
            for name in FIRST_INVOCATIONS
        },
    }


if __name__ == "__main__":
    print(json.dumps(measure(int(sys.argv[1]) if len(sys.argv) > 1 else 7)))
