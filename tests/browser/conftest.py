"""Browser tests: the published widget on third-party pages in Debian's Chromium, driven by Playwright."""

from __future__ import annotations

import functools
import http.server
import shutil
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.stack import HttpCaller, Stack, free_port

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def demo(stack: Stack) -> HttpCaller:
    return HttpCaller(stack.api, stack.api_key)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context()
    opened = context.new_page()
    yield opened
    context.close()


class ThirdPartySite:
    """A static site on http://localhost:<port>: another origin than the API (127.0.0.1) and the widget bucket."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="site-"))
        self.port = free_port()
        handler = functools.partial(_QuietHandler, directory=str(self.root))
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def publish(self, name: str, html: str) -> str:
        (self.root / name).write_text(html)
        return f"http://localhost:{self.port}/{name}"

    def stop(self) -> None:
        self.server.shutdown()
        shutil.rmtree(self.root, ignore_errors=True)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="session")
def site() -> Iterator[ThirdPartySite]:
    running = ThirdPartySite()
    yield running
    running.stop()
