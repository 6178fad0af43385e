"""Public signups and double opt-in through the local stack: HTTP, moto's SES, a subscriber's click."""

from __future__ import annotations

import json
import re
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests

from tests.stack import HttpCaller, Stack


def signup(stack: Stack, body: dict[str, Any]) -> requests.Response:
    return requests.post(
        stack.api + "/api/subscribe", data=json.dumps(body), headers={"Content-Type": "text/plain"}, timeout=10
    )


def sent_to(stack: Stack, address: str, timeout: float = 10.0) -> list[dict[str, Any]]:
    """Messages the stack's SES accepted for `address`, as the stack prints them (devstack/mailbox.py)."""
    deadline = time.monotonic() + timeout
    while True:
        mails = [json.loads(line)["mail"] for line in list(stack.output) if line.startswith('{"mail":')]
        found = [mail for mail in mails if address in mail["to"]]
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def test_double_opt_in_through_the_stack(stack: Stack, acme: HttpCaller):
    group = acme.post("/api/groups", json={"name": "Insiders", "doubleOptIn": True}).json()
    email = f"doi-{uuid.uuid4().hex[:6]}@example.com"
    answer = signup(stack, {"group": group["id"], "email": email, "formType": "footer"})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"status": "confirmation_required"}
    assert answer.headers["Access-Control-Allow-Origin"] == "*"
    [message] = sent_to(stack, email)
    link = re.search(r'href="([^"]+)"', message["body"]).group(1)
    assert link.startswith(stack.api + "/api/subscribe/confirm?token=")
    page = requests.get(link, timeout=10, allow_redirects=False)
    assert page.status_code == 200 and "confirmed" in page.text
    [contact] = acme.get("/api/contacts", params={"group": group["id"]}).json()["data"]
    assert contact["subscription"] == "confirmed"
    assert requests.get(stack.api + "/api/subscribe/confirm?token=nope", timeout=10).status_code == 400


def test_a_burst_of_identical_signups_lets_exactly_one_through(stack: Stack, acme: HttpCaller):
    group = acme.post("/api/groups", json={"name": "Burst"}).json()
    body = {"group": group["id"], "email": f"burst-{uuid.uuid4().hex[:6]}@example.com"}
    with ThreadPoolExecutor(max_workers=16) as pool:
        statuses = sorted(pool.map(lambda _: signup(stack, body).status_code, range(16)))
    assert statuses == [200] + [429] * 15
    assert len(acme.get("/api/contacts", params={"group": group["id"]}).json()["data"]) == 1


def test_signup_errors_over_http(stack: Stack):
    unknown = signup(stack, {"group": "grp_unknown", "email": "a@example.com"})
    assert unknown.status_code == 404 and unknown.headers["Access-Control-Allow-Origin"] == "*"
    garbled = requests.post(stack.api + "/api/subscribe", data=b"{", headers={"Content-Type": "text/plain"}, timeout=10)
    assert garbled.status_code == 400 and garbled.headers["Access-Control-Allow-Origin"] == "*"
