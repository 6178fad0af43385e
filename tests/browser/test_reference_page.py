"""The API reference page in Chromium: it lists every operation and requests nothing from another host."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
import requests
from playwright.sync_api import Page, expect

from tests.stack import Stack

pytestmark = pytest.mark.browser


def test_reference_page_lists_every_operation_from_this_host_only(stack: Stack, page: Page) -> None:
    document = requests.get(stack.api + "/api/openapi.json", timeout=30).json()
    operations = sum(len(item) for item in document["paths"].values())
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))

    page.goto(stack.api + "/api/docs")
    blocks = page.locator(".opblock")
    expect(blocks).to_have_count(operations, timeout=30_000)
    expect(page.locator(".opblock-summary-path", has_text="/api/contacts/bulk").first).to_be_visible()
    expect(page.get_by_text("Contacts API", exact=False).first).to_be_visible()

    # Opening an operation renders its schemas (the error envelope included) without fetching anything more.
    page.locator(".opblock-post .opblock-summary-path", has_text="/api/contacts/bulk").first.click()
    expect(page.get_by_text("ErrorEnvelope").first).to_be_visible()
    page.locator("button.authorize").click()
    expect(page.get_by_text("X-Api-Key").first).to_be_visible()

    origin = urlsplit(stack.api)
    foreign = [url for url in requested if not url.startswith("data:") and urlsplit(url).netloc != origin.netloc]
    assert foreign == []
    assert any(url.endswith("/api/docs/swagger-ui-bundle.js") for url in requested)
    assert any(url.endswith("/api/openapi.json") for url in requested)
