"""Modules whose code runs when one of their attributes is first read (the cold start's lever).

Every Lambda function of this service (the API, the relay, the SQS workers, the schedule) imports
app.py whole, and app.py names every service; but an invocation runs one handler, which calls one or
two services. `defer` registers a package's modules so that importing one (`from chalicelib.services
import bulk`) binds it without running it: the first `bulk.something` runs it, on whichever function
and thread touches it first. `from chalicelib.services.bulk import X` still runs it at once (X must
exist), so laziness follows the module-style imports only. Measured in docs/cold-start.md.

Why not `importlib.util.LazyLoader`: on Python 3.11 (the Lambda runtime) it is not safe when two
threads first touch a module at once (the second sees a half-run module; fixed in 3.12). The local
stack serves requests on threads, and services fan out on thread pools. Here each module has its own
lock: other threads wait until the module has run, the thread running it sees it half-run, as with
any import.
"""

from __future__ import annotations

import importlib.util
import pkgutil
import sys
import threading
import types
from typing import Any

# Read without running the module: what the import system itself asks of a module being run.
_PASS_THROUGH = frozenset({"__class__", "__dict__", "__name__", "__spec__", "__loader__", "__file__", "__package__"})
_locks: dict[str, threading.RLock] = {}
_running: set[str] = set()


class _RunsOnFirstUse(types.ModuleType):
    def __getattribute__(self, name: str) -> Any:
        if name not in _PASS_THROUGH:
            module_name = object.__getattribute__(self, "__name__")
            with _locks[module_name]:
                if type(self) is _RunsOnFirstUse and module_name not in _running:
                    _running.add(module_name)
                    try:
                        object.__getattribute__(self, "__spec__").loader.exec_module(self)
                        object.__setattr__(self, "__class__", types.ModuleType)
                    finally:
                        _running.discard(module_name)
        return object.__getattribute__(self, name)


def defer(package: str, path: list[str]) -> None:
    """Register every module of `package` (its `__path__`) to run on first use; sub-packages are left alone."""
    parent = sys.modules[package]
    for found in pkgutil.iter_modules(path):
        name = f"{package}.{found.name}"
        if found.ispkg or name in sys.modules:
            continue
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None:
            continue
        module = importlib.util.module_from_spec(spec)
        _locks[name] = threading.RLock()
        module.__class__ = _RunsOnFirstUse
        sys.modules[name] = module
        setattr(parent, found.name, module)  # as an import would: `from package import name` finds it
