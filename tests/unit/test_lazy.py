"""Modules that run on first use (chalicelib/lazy.py): what the cold start relies on, and that it stays safe."""

from __future__ import annotations

import importlib
import subprocess
import sys
import textwrap
import threading
import types
from collections.abc import Iterator
from pathlib import Path

import pytest

from chalicelib import lazy

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def package(tmp_path: Path) -> Iterator[str]:
    """A throwaway package `lazypkg` whose module `slow` counts its runs and takes 0.2 s to run."""
    root = tmp_path / "lazypkg"
    root.mkdir()
    (root / "__init__.py").write_text("runs = []\n")
    (root / "slow.py").write_text(
        textwrap.dedent(
            """
            import time
            import lazypkg
            lazypkg.runs.append("slow")
            time.sleep(0.2)
            VALUE = 42
            """
        )
    )
    (root / "broken.py").write_text("raise RuntimeError('broken at run time')\n")
    sys.path.insert(0, str(tmp_path))
    try:
        pkg = importlib.import_module("lazypkg")
        lazy.defer("lazypkg", pkg.__path__)
        yield "lazypkg"
    finally:
        sys.path.remove(str(tmp_path))
        for name in [n for n in sys.modules if n == "lazypkg" or n.startswith("lazypkg.")]:
            del sys.modules[name]


def test_a_deferred_module_runs_on_its_first_attribute_read_and_once(package):
    pkg = sys.modules[package]
    from lazypkg import slow  # type: ignore[import-not-found]

    assert pkg.runs == []
    assert slow.VALUE == 42
    assert slow.VALUE == 42
    assert pkg.runs == ["slow"]
    assert type(slow) is types.ModuleType


def test_threads_touching_a_module_at_once_all_see_it_whole(package):
    from lazypkg import slow

    seen: list[object] = []
    start = threading.Barrier(8)

    def touch() -> None:
        start.wait()
        try:
            seen.append(slow.VALUE)
        except AttributeError as error:  # a half-run module
            seen.append(error)

    threads = [threading.Thread(target=touch) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert seen == [42] * 8
    assert sys.modules[package].runs == ["slow"]


def test_a_module_that_fails_raises_on_first_use(package):
    from lazypkg import broken  # type: ignore[import-not-found]

    with pytest.raises(RuntimeError, match="broken at run time"):
        broken.anything  # noqa: B018


def test_every_service_runs_cleanly():
    """Deferred modules fail at first use, not at deploy: run each one here."""
    import chalicelib.services as services

    names = sorted(name for name in vars(services) if isinstance(vars(services)[name], types.ModuleType))
    assert "contacts" in names and "relay" in names
    for name in names:
        assert getattr(services, name).__name__ == f"chalicelib.services.{name}"
        getattr(services, name).__doc__  # noqa: B018  (runs the module)
        assert type(getattr(services, name)) is types.ModuleType, name


def test_importing_app_runs_no_service():
    probe = (
        "import sys, types, app; "
        "print(sorted(n for n, m in sys.modules.items() if n.startswith('chalicelib.services.') "
        "and type(m) is types.ModuleType))"
    )
    answer = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    assert answer.stdout.strip() == "[]"
