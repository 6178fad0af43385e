"""The public signup route and double opt-in, as the widget and a subscriber's mailbox see them."""

from __future__ import annotations

import json
import re
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends

from chalicelib.repository.models import ConfirmationItem
from chalicelib.services import subscribe as signup
from chalicelib.settings import settings
from tests.functional.test_bulk_events import drain_events
from tests.functional.test_contacts import contact_count

TEXT = {"Content-Type": "text/plain"}


def sent_mail() -> list[Any]:
    return list(ses_backends[DEFAULT_ACCOUNT_ID][settings.region].sent_messages)


def post_signup(client, body: Any, headers: dict[str, str] | None = None):
    raw = body if isinstance(body, str) else json.dumps(body)
    return client.http.post("/api/subscribe", headers=headers or TEXT, body=raw)


@pytest.fixture
def newsletter(acme) -> dict[str, Any]:
    return acme.post("/api/groups", {"name": "Newsletter"}).json_body


@pytest.fixture
def doi_group(acme) -> dict[str, Any]:
    body = {"name": "Insiders", "doubleOptIn": True, "confirmRedirectUrl": "https://acme.example/thanks"}
    return acme.post("/api/groups", body).json_body


def confirmation_link(to: str) -> str:
    [message] = [m for m in sent_mail() if to in m.destinations["ToAddresses"]]
    return re.search(r"(/api/subscribe/confirm\?token=[A-Za-z0-9_\-]+)", message.body).group(1)


def test_signup_as_text_plain_creates_a_confirmed_member(client, acme, newsletter, relay):
    body = {"group": newsletter["id"], "email": " Bob@Example.com ", "name": "Bob Builder", "formType": "footer"}
    answer = post_signup(client, body)
    assert answer.status_code == 200
    assert answer.json_body == {"status": "subscribed"}
    assert answer.headers["Access-Control-Allow-Origin"] == "*"
    [contact] = acme.get(f"/api/contacts?group={newsletter['id']}").json_body["data"]
    assert contact["email"] == "bob@example.com"
    assert contact["subscription"] == "confirmed"
    assert contact["source"] == "subscribe:Newsletter"
    assert contact["tags"] == ["source:subscribe:Newsletter"]
    assert (contact["firstName"], contact["lastName"]) == ("Bob", "Builder")
    relay.pump()
    assert acme.get(f"/api/groups/{newsletter['id']}").json_body["memberCount"] == 1


def test_signup_accepts_application_json_too(client, newsletter):
    answer = post_signup(
        client, {"group": newsletter["id"], "email": "json@example.com"}, {"Content-Type": "application/json"}
    )
    assert answer.status_code == 200


def test_signup_emits_created_and_subscribed_events(client, acme, newsletter):
    drain_events()
    post_signup(client, {"group": newsletter["id"], "email": "evt@example.com", "formType": "footer"})
    published = drain_events()
    assert [e.type for e in published] == ["contact.created", "contact.subscribed"]
    subscribed = published[1].data.model_dump()
    assert subscribed["isNew"] is True
    assert subscribed["groupId"] == newsletter["id"]
    assert subscribed["formType"] == "footer"
    assert subscribed["actor"] == {"type": "subscribe"}


def test_existing_contact_keeps_its_data_and_joins_the_group(client, acme, newsletter):
    created = acme.post("/api/contacts", {"email": "crm@example.com", "firstName": "Carla", "tags": ["vip"]}).json_body
    drain_events()
    assert (
        post_signup(client, {"group": newsletter["id"], "email": "crm@example.com", "name": "Other"}).status_code == 200
    )
    contact = acme.get(f"/api/contacts/{created['id']}").json_body
    assert contact["firstName"] == "Carla"
    assert contact["source"] == "api"
    assert contact["tags"] == ["source:subscribe:Newsletter", "vip"]
    assert contact["groupIds"] == [newsletter["id"]]
    [event] = drain_events()
    assert event.type == "contact.subscribed" and event.data.model_dump()["isNew"] is False


def test_honeypot_answers_success_and_stores_nothing(client, acme, newsletter):
    answer = post_signup(client, {"group": newsletter["id"], "email": "bot@example.com", "website": "http://spam"})
    assert answer.status_code == 200
    assert answer.json_body == {"status": "subscribed"}
    assert contact_count(acme.tenant_id) == 0
    # Not even a rate-limit window: the person behind a real signup is not blocked by the bot's.
    assert post_signup(client, {"group": newsletter["id"], "email": "bot@example.com"}).status_code == 200


def test_unknown_group_is_404_with_cors(client, acme):
    answer = post_signup(client, {"group": "grp_nope", "email": "a@example.com"})
    assert answer.status_code == 404
    assert answer.json_body["error"]["code"] == "not_found"
    assert answer.headers["Access-Control-Allow-Origin"] == "*"
    assert contact_count(acme.tenant_id) == 0


@pytest.mark.parametrize("body", ['{"group": "grp_x", "email": "not-an-email"}', '{"email": "a@b.co"}'])
def test_bad_input_is_422_with_cors_and_stores_nothing(client, acme, newsletter, body):
    answer = post_signup(client, body.replace("grp_x", newsletter["id"]))
    assert answer.status_code == 422
    assert answer.headers["Access-Control-Allow-Origin"] == "*"
    assert contact_count(acme.tenant_id) == 0


def test_bad_email_message_is_for_people(client, newsletter):
    answer = post_signup(client, {"group": newsletter["id"], "email": "bob@"})
    assert answer.json_body["error"]["details"] == [
        {"field": "email", "message": "Please enter a valid email address."}
    ]


@pytest.mark.parametrize(
    ("body", "headers"),
    [("{not json", TEXT), ('{"group": 1}', {"Content-Type": "application/x-www-form-urlencoded"})],
)
def test_garbled_body_or_other_content_type_is_400_with_cors(client, acme, body, headers):
    answer = post_signup(client, body, headers)
    assert answer.status_code == 400
    assert answer.json_body["error"]["code"] == "bad_request"
    assert answer.headers["Access-Control-Allow-Origin"] == "*"


def test_same_signup_within_a_minute_is_429_with_retry_after(client, newsletter):
    body = {"group": newsletter["id"], "email": "again@example.com"}
    assert post_signup(client, body).status_code == 200
    again = post_signup(client, body)
    assert again.status_code == 429
    assert again.json_body["error"]["code"] == "rate_limited"
    assert 1 <= int(again.headers["Retry-After"]) <= 60
    assert again.headers["Access-Control-Allow-Origin"] == "*"


def test_an_expired_window_lets_the_next_signup_through(client, newsletter):
    body = {"group": newsletter["id"], "email": "later@example.com"}
    post_signup(client, body)
    table = boto3.client("dynamodb")
    key = {"pk": {"S": f"RATE#subscribe#{newsletter['id']}#later@example.com"}, "sk": {"S": "RATE"}}
    table.update_item(
        TableName=settings.meta_table,
        Key=key,
        UpdateExpression="SET expiresAt = :past",
        ExpressionAttributeValues={":past": {"N": str(int(time.time()) - 1)}},
    )
    assert post_signup(client, body).status_code == 200


def test_sixteen_simultaneous_identical_signups_let_exactly_one_through(aws, newsletter):
    from chalicelib.schemas.subscribe import SubscribeBody

    body = SubscribeBody(group=newsletter["id"], email="burst@example.com")

    def attempt(_: int) -> str:
        try:
            return signup.subscribe(body, "http://localhost").status
        except Exception as error:  # the 15 refused ones
            return type(error).__name__

    with ThreadPoolExecutor(max_workers=16) as pool:
        outcomes = list(pool.map(attempt, range(16)))
    assert outcomes.count("subscribed") == 1
    assert outcomes.count("RateLimited") == 15


def test_double_opt_in_sends_a_confirmation_and_confirms(client, acme, doi_group):
    answer = post_signup(client, {"group": doi_group["id"], "email": "doi@example.com"})
    assert answer.json_body == {"status": "confirmation_required"}
    [contact] = acme.get(f"/api/contacts?group={doi_group['id']}").json_body["data"]
    assert contact["subscription"] == "unconfirmed"
    [message] = sent_mail()
    assert message.source == settings.ses_sender
    assert message.destinations["ToAddresses"] == ["doi@example.com"]
    assert "Insiders" in message.subject
    link = confirmation_link("doi@example.com")
    drain_events()
    confirmed = client.http.get(link)
    assert confirmed.status_code == 302
    assert confirmed.headers["Location"] == "https://acme.example/thanks"
    assert acme.get(f"/api/contacts/{contact['id']}").json_body["subscription"] == "confirmed"
    [event] = drain_events()
    assert event.type == "contact.confirmed" and event.data.actor.type == "subscribe"
    # Following the link again is harmless.
    assert client.http.get(link).status_code == 302
    assert drain_events() == []


def test_confirmation_without_redirect_shows_a_page(client, acme):
    group = acme.post("/api/groups", {"name": "Plain <DOI>", "doubleOptIn": True}).json_body
    post_signup(client, {"group": group["id"], "email": "page@example.com"})
    page = client.http.get(confirmation_link("page@example.com"))
    assert page.status_code == 200
    assert page.headers["Content-Type"].startswith("text/html")
    assert b"Plain &lt;DOI&gt;" in page.body and b"confirmed" in page.body


@pytest.mark.parametrize("query", ["", "?token=", "?token=forged"])
def test_bad_token_is_a_400_page(client, query):
    page = client.http.get("/api/subscribe/confirm" + query)
    assert page.status_code == 400
    assert page.headers["Content-Type"].startswith("text/html")
    assert b"not valid" in page.body


def test_expired_token_is_a_400_page_and_confirms_nothing(client, acme, doi_group):
    post_signup(client, {"group": doi_group["id"], "email": "late@example.com"})
    link = confirmation_link("late@example.com")
    for item in ConfirmationItem.scan(ConfirmationItem.pk.startswith("CONFIRM#")):
        item.expires_at = int(time.time()) - 1  # TTL deletes lazily: the expiry must be checked on read
        item.save()
    assert client.http.get(link).status_code == 400
    [contact] = acme.get(f"/api/contacts?group={doi_group['id']}").json_body["data"]
    assert contact["subscription"] == "unconfirmed"


def test_a_confirmed_contact_is_never_downgraded(client, acme, doi_group):
    created = acme.post("/api/contacts", {"email": "fan@example.com", "subscription": "confirmed"}).json_body
    answer = post_signup(client, {"group": doi_group["id"], "email": "fan@example.com"})
    assert answer.json_body == {"status": "subscribed"}
    assert acme.get(f"/api/contacts/{created['id']}").json_body["subscription"] == "confirmed"
    assert sent_mail() == []


def test_a_replayed_signup_after_confirming_does_not_downgrade(client, acme, doi_group):
    body = {"group": doi_group["id"], "email": "twice@example.com"}
    post_signup(client, body)
    client.http.get(confirmation_link("twice@example.com"))
    boto3.client("dynamodb").delete_item(
        TableName=settings.meta_table,
        Key={"pk": {"S": f"RATE#subscribe#{doi_group['id']}#twice@example.com"}, "sk": {"S": "RATE"}},
    )
    assert post_signup(client, body).json_body == {"status": "subscribed"}
    [contact] = acme.get(f"/api/contacts?group={doi_group['id']}").json_body["data"]
    assert contact["subscription"] == "confirmed"
    assert len(sent_mail()) == 1


def test_signup_never_reaches_another_tenant(client, acme, globex, newsletter):
    globex.post("/api/contacts", {"email": "shared@example.com"})
    post_signup(client, {"group": newsletter["id"], "email": "shared@example.com"})
    [theirs] = globex.get("/api/contacts").json_body["data"]
    assert theirs["groupIds"] == [] and theirs["tags"] == []
    [ours] = acme.get("/api/contacts").json_body["data"]
    assert ours["groupIds"] == [newsletter["id"]]


def test_signup_and_confirmation_are_in_the_contacts_timeline(client, acme, doi_group):
    from tests.functional.consumer import consume_events

    post_signup(client, {"group": doi_group["id"], "email": "timeline@example.com", "formType": "popup"})
    client.http.get(confirmation_link("timeline@example.com"))
    consume_events()
    [contact] = acme.get(f"/api/contacts?group={doi_group['id']}").json_body["data"]
    timeline = acme.get(f"/api/contacts/{contact['id']}/activity").json_body["data"]
    assert [entry["type"] for entry in timeline] == ["contact.confirmed", "contact.subscribed", "contact.created"]
    assert {entry["source"] for entry in timeline} <= {"subscribe", f"subscribe:{doi_group['name']}"}


def test_a_contact_at_the_tag_limit_still_joins_without_passing_the_limit(client, acme, newsletter):
    full = [f"t{i:03d}" for i in range(500)]
    created = acme.post("/api/contacts", {"email": "full@example.com", "tags": full}).json_body
    assert post_signup(client, {"group": newsletter["id"], "email": "full@example.com"}).status_code == 200
    contact = acme.get(f"/api/contacts/{created['id']}").json_body
    assert contact["tags"] == full
    assert contact["groupIds"] == [newsletter["id"]]
