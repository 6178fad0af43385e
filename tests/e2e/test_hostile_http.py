"""The hostile inputs of issue 14 over real HTTP on the local stack: clear 4xx answers, nothing written."""

from __future__ import annotations

import uuid

import requests

from tests.stack import HttpCaller, Stack


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}@example.com"


def test_a_deeply_nested_body_is_a_400_on_the_public_subscribe_route(stack: Stack) -> None:
    body = '{"group": "grp_x", "email": "deep@example.com", "x": ' + "[" * 50_000 + "]" * 50_000 + "}"
    answer = requests.post(stack.api + "/api/subscribe", data=body, headers={"Content-Type": "text/plain"}, timeout=30)
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "bad_request"
    assert answer.headers["Access-Control-Allow-Origin"] == "*"


def test_deep_nan_and_control_characters_write_nothing(acme: HttpCaller) -> None:
    email = unique("hostile")
    headers = {"Content-Type": "application/json"}
    deep = '{"email": "' + email + '", "customFields": {"k": ' + "[" * 40_000 + "]" * 40_000 + "}}"
    assert acme.post("/api/contacts", data=deep, headers=headers).status_code == 400
    nan = '{"email": "' + email + '", "customFields": {"score": NaN}}'
    assert acme.post("/api/contacts", data=nan, headers=headers).status_code == 400
    assert acme.post("/api/contacts", json={"email": email.replace("@", "\x00@")}).status_code == 422
    hook = acme.post("/api/webhooks", json={"url": "https://hooks.example.com/a\r\nX-Evil: 1"})
    assert hook.status_code == 422 and hook.json()["error"]["details"][0]["field"] == "url"
    assert acme.post("/api/contacts/search", json={"query": email}).json()["data"] == []


def test_a_gdpr_erase_with_an_idempotency_key_erases(acme: HttpCaller) -> None:
    contact = acme.post("/api/contacts", json={"email": unique("erase")}).json()
    path = f"/api/contacts/{contact['id']}?permanent=true"
    first = acme.delete(path, headers={"Idempotency-Key": f"erase-{contact['id']}"})
    assert first.status_code == 200 and first.json()["permanent"] is True
    assert acme.get(f"/api/contacts/{contact['id']}").status_code == 404
    again = acme.delete(path, headers={"Idempotency-Key": f"erase-{contact['id']}"})
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"


def test_detach_with_null_emails_keeps_every_member(acme: HttpCaller) -> None:
    group = acme.post("/api/groups", json={"name": "Keep"}).json()["id"]
    acme.post("/api/contacts", json={"email": unique("keep"), "groupIds": [group]})
    answer = acme.post(f"/api/groups/{group}/contacts/detach", json={"emails": None})
    assert answer.status_code == 422
    assert acme.get(f"/api/groups/{group}").json()["memberCount"] == 1
