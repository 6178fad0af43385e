"""Well-formed JSON with values no one should store: control characters and whitespace in emails and
URLs, customFields nested too deep, and `null` where it would mean "everything". Each is a 422 in the
envelope (a per-row error in bulk) and nothing is written."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from chalicelib.services import ssrf
from tests.functional.conftest import Caller
from tests.functional.hostile import assert_error, everything_stored
from tests.functional.stream import pump_relay

BAD_EMAILS = [
    "nul\x00@example.com",
    "bell\x07@example.com",
    "a b@example.com",
    "a\tb@example.com",
    "a\u2028b@example.com",
]
BAD_URLS = [
    "https://hooks.example.com/a\r\nX-Injected: 1",
    "https://hooks.example.com/a b",
    "https://hooks.example.com/\ta",
    "https://hooks.example.com/\x00",
    "https://hooks.exa\nmple.com/",
]


@pytest.fixture(autouse=True)
def public_dns() -> Iterator[None]:
    ssrf.set_resolver(lambda host, port: ["93.184.216.34"])
    yield
    ssrf.set_resolver(None)


def nested(levels: int) -> dict[str, object]:
    """customFields nested `levels` deep, customFields itself counting as one."""
    value: object = 1
    for _ in range(levels - 1):
        value = {"k": value}
    return {"k": value} if levels >= 1 else {}


@pytest.mark.parametrize("email", BAD_EMAILS)
def test_emails_with_control_characters_or_whitespace_are_refused(acme: Caller, email: str) -> None:
    before = everything_stored()
    error = assert_error(acme.post("/api/contacts", {"email": email}), 422, "validation_error")
    assert error["details"][0]["field"] == "email"
    assert_error(acme.post("/api/subscribe", {"group": "grp_x", "email": email}), 422, "validation_error")
    answer = acme.post("/api/contacts/bulk", {"contacts": [{"email": email}]}).json_body
    assert answer["created"] == 0 and answer["errors"][0]["code"] == "validation_error"
    assert everything_stored() == before


def test_an_email_is_still_trimmed_around(acme: Caller) -> None:
    created = acme.post("/api/contacts", {"email": "  Trim@Example.com\r\n"})
    assert created.status_code == 201 and created.json_body["email"] == "trim@example.com"


def test_a_patch_to_an_email_with_a_nul_changes_nothing(acme: Caller) -> None:
    contact = acme.post("/api/contacts", {"email": "ok@example.com"}).json_body
    before = everything_stored()
    assert_error(acme.patch(f"/api/contacts/{contact['id']}", {"email": "o\x00k@example.com"}), 422, "validation_error")
    assert everything_stored() == before


@pytest.mark.parametrize("url", BAD_URLS)
def test_webhook_urls_with_control_characters_or_whitespace_are_refused(acme: Caller, url: str) -> None:
    before = everything_stored()
    error = assert_error(acme.post("/api/webhooks", {"url": url}), 422, "validation_error")
    assert error["details"][0]["field"] == "url"
    assert everything_stored() == before


@pytest.mark.parametrize("url", BAD_URLS)
def test_redirect_and_website_urls_with_control_characters_are_refused(acme: Caller, url: str) -> None:
    before = everything_stored()
    assert_error(acme.post("/api/groups", {"name": "News", "confirmRedirectUrl": url}), 422, "validation_error")
    assert_error(acme.post("/api/contacts", {"email": "w@example.com", "website": url}), 422, "validation_error")
    assert everything_stored() == before


def test_a_webhook_patch_to_a_bad_url_keeps_the_old_one(acme: Caller) -> None:
    hook = acme.post("/api/webhooks", {"url": "https://hooks.example.com/in"}).json_body
    before = everything_stored()
    patched = acme.patch(f"/api/webhooks/{hook['id']}", {"url": "https://hooks.example.com/in\r\nHost: evil"})
    assert_error(patched, 422, "validation_error")
    assert_error(acme.patch(f"/api/webhooks/{hook['id']}", {"url": None}), 422, "validation_error")
    assert everything_stored() == before


@pytest.mark.parametrize("text", ["Ann\x00", "\x1b[31mAnn", "Ann\x7f"])
def test_names_and_tags_refuse_control_characters(acme: Caller, text: str) -> None:
    before = everything_stored()
    assert_error(acme.post("/api/contacts", {"email": "n@example.com", "firstName": text}), 422, "validation_error")
    assert_error(acme.post("/api/contacts", {"email": "n@example.com", "tags": [text]}), 422, "validation_error")
    assert everything_stored() == before


def test_custom_fields_five_levels_deep_are_fine_six_are_a_422(acme: Caller) -> None:
    fine = acme.post("/api/contacts", {"email": "five@example.com", "customFields": nested(5)})
    assert fine.status_code == 201, fine.body
    before = everything_stored()
    error = assert_error(
        acme.post("/api/contacts", {"email": "six@example.com", "customFields": nested(6)}), 422, "validation_error"
    )
    assert error["details"][0]["field"] == "customFields"
    assert everything_stored() == before


def test_custom_fields_nested_too_deep_never_reach_the_table(acme: Caller) -> None:
    """The case of the report (a few hundred levels, under 8 KB) used to be stored and break every listing.
    Deeper than the body's 32 levels it is a 400; deeper than customFields' 5 a 422, everywhere."""
    acme.post("/api/contacts", {"email": "other@example.com"})
    contact = acme.get("/api/contacts").json_body["data"][0]
    before = everything_stored()
    assert_error(
        acme.post("/api/contacts", {"email": "d@example.com", "customFields": nested(300)}), 400, "bad_request"
    )
    deep = {"email": "deep@example.com", "customFields": nested(20)}
    assert_error(acme.post("/api/contacts", deep), 422, "validation_error")
    assert_error(acme.patch(f"/api/contacts/{contact['id']}", {"customFields": nested(20)}), 422, "validation_error")
    rows = acme.post("/api/contacts/bulk", {"contacts": [deep]}).json_body
    assert rows["created"] == 0 and "customFields" in rows["errors"][0]["message"]
    assert everything_stored() == before
    assert acme.get("/api/contacts").status_code == 200
    assert acme.post("/api/contacts/search", {}).status_code == 200


def test_detach_with_null_emails_is_a_422_and_detaches_no_one(acme: Caller) -> None:
    group = acme.post("/api/groups", {"name": "Members"}).json_body
    for i in range(3):
        acme.post("/api/contacts", {"email": f"m{i}@example.com", "groupIds": [group["id"]]})
    pump_relay()  # memberCount follows the change stream (docs/counters.md)
    before = everything_stored()
    for body in ({"emails": None}, {"contactIds": None}, {"contactIds": None, "emails": ["m0@example.com"]}):
        error = assert_error(acme.post(f"/api/groups/{group['id']}/contacts/detach", body), 422, "validation_error")
        assert "null" in error["details"][0]["message"]
    assert everything_stored() == before
    assert acme.get(f"/api/groups/{group['id']}").json_body["memberCount"] == 3
    # `{}` still detaches everyone, as documented.
    assert acme.post(f"/api/groups/{group['id']}/contacts/detach", {}).json_body["detached"] == 3


def test_null_for_a_setting_that_cannot_be_empty_is_a_422(acme: Caller) -> None:
    group = acme.post("/api/groups", {"name": "Opt", "doubleOptIn": True}).json_body
    hook = acme.post("/api/webhooks", {"url": "https://hooks.example.com/in", "events": ["contact.created"]}).json_body
    before = everything_stored()
    assert_error(acme.patch(f"/api/groups/{group['id']}", {"doubleOptIn": None}), 422, "validation_error")
    assert_error(acme.patch(f"/api/groups/{group['id']}", {"name": None}), 422, "validation_error")
    assert_error(acme.patch(f"/api/webhooks/{hook['id']}", {"events": None}), 422, "validation_error")
    assert_error(acme.patch(f"/api/webhooks/{hook['id']}", {"active": None}), 422, "validation_error")
    assert_error(acme.patch("/api/contacts/bulk/tags", {"emails": None, "addTags": ["x"]}), 422, "validation_error")
    assert everything_stored() == before
    assert acme.get(f"/api/groups/{group['id']}").json_body["doubleOptIn"] is True
