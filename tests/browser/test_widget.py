"""The subscribe widget as a visitor of a third-party site uses it, in Chromium."""

from __future__ import annotations

import html
import json
import time
import uuid
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import ThirdPartySite
from tests.stack import HttpCaller, Stack

pytestmark = pytest.mark.browser

HOSTILE_CSS = """
* { font-size: 40px !important; color: #f0f !important; background: lime !important; font-family: serif !important; }
div { display: inline !important; visibility: hidden; }
form, input, button, label { display: none !important; }
button { background: red !important; }
"""


def group(demo: HttpCaller, **body: Any) -> dict[str, Any]:
    created = demo.post("/api/groups", json={"name": f"List {uuid.uuid4().hex[:6]}", **body})
    assert created.status_code == 201, created.text
    return dict(created.json())


def widget_tag(stack: Stack, group_id: str, **attributes: str) -> str:
    attrs = {"group": group_id, **attributes}
    data = " ".join(f'data-{name.replace("_", "-")}="{html.escape(value)}"' for name, value in attrs.items())
    return f'<script src="{stack.ready["widget"]}" {data}></script>'


def host_page(site: ThirdPartySite, body: str, css: str = HOSTILE_CSS) -> str:
    page = f"<!doctype html><html><head><style>{css}</style></head><body><h1>A shop</h1>{body}</body></html>"
    return site.publish(f"page-{uuid.uuid4().hex[:8]}.html", page)


def members(demo: HttpCaller, group_id: str) -> list[dict[str, Any]]:
    return list(demo.get("/api/contacts", params={"group": group_id}).json()["data"])


def test_a_signup_on_a_hostile_page_lands_in_the_group_with_its_tag(stack, demo, site, page: Page):
    newsletter = group(demo)
    page.goto(host_page(site, widget_tag(stack, newsletter["id"])))
    email = page.locator("input[name=email]")
    expect(email).to_be_visible()
    email.fill("visitor@example.com")
    page.get_by_role("button", name="Subscribe").click()
    expect(page.get_by_text("Thanks for subscribing!")).to_be_visible()
    expect(page.locator("form")).to_have_count(0)
    [contact] = members(demo, newsletter["id"])
    assert contact["email"] == "visitor@example.com"
    assert contact["tags"] == [f"source:subscribe:{newsletter['name']}"]
    assert contact["subscription"] == "confirmed"


def test_host_css_cannot_restyle_or_hide_the_form(stack, demo, site, page: Page):
    page.goto(host_page(site, widget_tag(stack, group(demo)["id"])))
    email = page.locator("input[name=email]")
    button = page.get_by_role("button", name="Subscribe")
    expect(email).to_be_visible()
    expect(button).to_be_visible()
    assert email.evaluate("e => getComputedStyle(e).fontSize") == "15px"
    assert button.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(37, 99, 235)"
    assert email.evaluate("e => getComputedStyle(e).color") == "rgb(31, 41, 55)"
    # The honeypot exists for bots but is out of sight and out of the tab order.
    trap = page.locator("input[name=website]")
    assert trap.get_attribute("tabindex") == "-1"
    assert trap.evaluate("e => e.getBoundingClientRect().right") < 0


def test_data_attributes_change_what_the_visitor_sees(stack, demo, site, page: Page):
    listing = group(demo)
    tag = widget_tag(
        stack,
        listing["id"],
        show_name="true",
        button_text="Join us",
        success_message="Welcome aboard!",
        email_placeholder="you@work.com",
        name_placeholder="Full name",
        mount="#signup-here",
        form_type="sidebar",
    )
    page.goto(host_page(site, f'{tag}<p>text</p><section id="signup-here"></section>', css=""))
    mounted = page.locator("#signup-here")
    expect(mounted.locator("input[name=email]")).to_have_attribute("placeholder", "you@work.com")
    expect(mounted.locator("input[name=name]")).to_have_attribute("placeholder", "Full name")
    with page.expect_request(lambda r: r.url.endswith("/api/subscribe")) as sent:
        mounted.get_by_label("Name").fill("Ada Lovelace")
        mounted.get_by_label("Email").fill("ada@example.com")
        mounted.get_by_role("button", name="Join us").click()
    expect(mounted.get_by_text("Welcome aboard!")).to_be_visible()
    posted = json.loads(sent.value.post_data or "{}")
    assert posted == {
        "group": listing["id"],
        "email": "ada@example.com",
        "name": "Ada Lovelace",
        "formType": "sidebar",
        "website": "",
    }
    [contact] = members(demo, listing["id"])
    assert (contact["firstName"], contact["lastName"]) == ("Ada", "Lovelace")


def test_defaults_without_optional_attributes(stack, demo, site, page: Page):
    page.goto(host_page(site, widget_tag(stack, group(demo)["id"]), css=""))
    expect(page.locator("input[name=email]")).to_have_attribute("placeholder", "your@email.com")
    expect(page.locator("input[name=name]")).to_have_count(0)
    expect(page.get_by_role("button", name="Subscribe")).to_be_visible()


def test_data_api_chooses_where_signups_go(stack, demo, site, page: Page):
    tag = widget_tag(stack, group(demo)["id"], api="http://127.0.0.1:9")  # nothing listens there
    page.goto(host_page(site, tag, css=""))
    page.locator("input[name=email]").fill("lost@example.com")
    page.get_by_role("button", name="Subscribe").click()
    expect(page.get_by_text("Could not reach the server. Please try again.")).to_be_visible()
    expect(page.get_by_role("button", name="Subscribe")).to_be_enabled()


def test_theme_changes_colours(stack, demo, site, page: Page):
    listing = group(demo)
    light = widget_tag(stack, listing["id"], mount="#light")
    dark = widget_tag(stack, listing["id"], mount="#dark", theme="dark")
    page.goto(host_page(site, f'<div id="light"></div><div id="dark"></div>{light}{dark}', css=""))
    background = "e => getComputedStyle(e).backgroundColor"
    assert page.locator("#light .box").evaluate(background) == "rgb(255, 255, 255)"
    assert page.locator("#dark .box").evaluate(background) == "rgb(17, 24, 39)"
    assert page.locator("#dark button").evaluate(background) == "rgb(96, 165, 250)"


def test_server_errors_show_inline_and_submit_is_re_enabled(stack, demo, site, page: Page):
    listing = group(demo)
    tags = widget_tag(stack, listing["id"], mount="#a") + widget_tag(stack, listing["id"], mount="#b")
    page.goto(host_page(site, f'<div id="a"></div><div id="b"></div>{tags}', css=""))
    first, second = page.locator("#a"), page.locator("#b")
    first.locator("input[name=email]").fill("bob@")  # passes the browser's quick check, not the server's
    first.get_by_role("button").click()
    expect(first.get_by_text("Please enter a valid email address.")).to_be_visible()
    expect(first.get_by_role("button")).to_be_enabled()
    assert first.locator("input[name=email]").get_attribute("aria-invalid") == "true"

    first.locator("input[name=email]").fill("twice@example.com")
    first.get_by_role("button").click()
    expect(first.get_by_text("Thanks for subscribing!")).to_be_visible()
    second.locator("input[name=email]").fill("twice@example.com")
    second.get_by_role("button").click()
    expect(second.get_by_text("This address just signed up; try again in a minute.")).to_be_visible()
    expect(second.get_by_role("button")).to_be_enabled()
    assert len(members(demo, listing["id"])) == 1


def test_the_signup_is_a_simple_cors_request_without_preflight(stack, demo, site, page: Page):
    page.goto(host_page(site, widget_tag(stack, group(demo)["id"]), css=""))
    requests_seen: list[Any] = []
    page.on("request", lambda seen: requests_seen.append(seen))
    with page.expect_response(lambda r: r.url.endswith("/api/subscribe")) as answered:
        page.locator("input[name=email]").fill("simple@example.com")
        page.get_by_role("button", name="Subscribe").click()
    response = answered.value
    assert response.status == 200
    assert response.headers["access-control-allow-origin"] == "*"
    request = response.request
    assert request.method == "POST"
    assert request.headers["content-type"].startswith("text/plain")
    assert all(r.method != "OPTIONS" for r in requests_seen)
    # The API's own request log (the stack's output) shows the POST and no preflight.
    deadline = time.monotonic() + 5
    while not [line for line in stack.output if '"POST /api/subscribe' in line] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [line for line in stack.output if '"POST /api/subscribe' in line]
    assert not [line for line in stack.output if '"OPTIONS /api/subscribe' in line]


def test_several_widgets_on_one_page_work_independently(stack, demo, site, page: Page):
    one, two = group(demo), group(demo)
    tags = widget_tag(stack, one["id"], mount="#one") + widget_tag(stack, two["id"], mount="#two", theme="dark")
    page.goto(host_page(site, f'<div id="one"></div><div id="two"></div>{tags}', css=""))
    page.locator("#two input[name=email]").fill("second@example.com")
    page.locator("#two").get_by_role("button").click()
    expect(page.locator("#two").get_by_text("Thanks for subscribing!")).to_be_visible()
    expect(page.locator("#one input[name=email]")).to_be_visible()
    assert members(demo, one["id"]) == []
    assert [c["email"] for c in members(demo, two["id"])] == ["second@example.com"]


def test_keyboard_only_signup(stack, demo, site, page: Page):
    listing = group(demo)
    page.goto(host_page(site, widget_tag(stack, listing["id"]), css=""))
    page.keyboard.press("Tab")  # into the email field (the honeypot is skipped)
    page.keyboard.type("keys@example.com")
    page.keyboard.press("Enter")
    expect(page.get_by_text("Thanks for subscribing!")).to_be_visible()
    assert [c["email"] for c in members(demo, listing["id"])] == ["keys@example.com"]


def test_the_demo_page_published_by_the_stack_works(stack, demo, page: Page):
    page.goto(stack.ready["demo"])
    first = page.locator("input[name=email]").first
    first.fill("demo-page@example.com")
    page.get_by_role("button", name="Subscribe").click()
    expect(page.get_by_text("Thanks for subscribing!")).to_be_visible()
    emails = [c["email"] for c in members(demo, stack.ready["groupId"])]
    assert "demo-page@example.com" in emails
