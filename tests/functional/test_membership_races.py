"""Group membership under racing requests: each contact's change is one conditional transaction, so an
answer's counts are true and a reported attach is never lost (docs/bulk.md, "Group membership").

Races are staged with botocore event hooks: the other request runs at the exact moment one is about
to send its transaction.
"""

from __future__ import annotations

from typing import Any

from chalicelib.repository.models import ContactItem
from chalicelib.schemas.groups import GroupMembersBody
from chalicelib.services import groups
from chalicelib.services.auth import Principal
from tests.functional.conftest import Caller
from tests.functional.dynamo import counting, hooked
from tests.functional.stream import pump_relay


def principal(caller: Caller) -> Principal:
    return Principal(caller.tenant_id, "key_test", frozenset({"contacts:write"}))


def once(action: Any) -> Any:
    done: list[bool] = []

    def handler(**_: Any) -> None:
        if not done:
            done.append(True)
            action()

    return handler


def members(caller: Caller, group_id: str) -> list[str]:
    return [c["email"] for c in caller.walk_pages(f"/api/contacts?group={group_id}&limit=100")]


def count(caller: Caller, group_id: str) -> int:
    pump_relay()  # memberCount follows the change stream (docs/counters.md)
    return int(caller.get(f"/api/groups/{group_id}").json_body["memberCount"])


def test_two_attaches_of_one_contact_to_two_groups_both_stay(acme: Caller) -> None:
    contact = acme.post("/api/contacts", {"email": "a@example.com"}).json_body
    first, second = (acme.post("/api/groups", {"name": n}).json_body["id"] for n in ("One", "Two"))

    def other() -> None:
        answer = groups.attach(principal(acme), second, GroupMembersBody(contactIds=[contact["id"]]))
        assert answer.attached == 1

    with hooked("before-call.dynamodb.TransactWriteItems", once(other)):
        answer = acme.post(f"/api/groups/{first}/contacts/attach", {"contactIds": [contact["id"]]}).json_body
    assert answer == {"attached": 1, "alreadyMember": 0, "notFound": 0, "unprocessedIds": []}
    assert acme.get(f"/api/contacts/{contact['id']}").json_body["groupIds"] == sorted([first, second])
    for group in (first, second):
        assert members(acme, group) == ["a@example.com"] and count(acme, group) == 1


def test_of_two_attaches_of_one_contact_to_one_group_exactly_one_attached_it(acme: Caller) -> None:
    acme.post("/api/contacts", {"email": "a@example.com"})
    group = acme.post("/api/groups", {"name": "One"}).json_body["id"]
    others: list[Any] = []

    def other() -> None:
        others.append(groups.attach(principal(acme), group, GroupMembersBody(emails=["a@example.com"])))

    with hooked("before-call.dynamodb.TransactWriteItems", once(other)):
        answer = acme.post(f"/api/groups/{group}/contacts/attach", {"emails": ["a@example.com"]}).json_body
    assert (others[0].attached, others[0].alreadyMember) == (1, 0)
    assert (answer["attached"], answer["alreadyMember"]) == (0, 1)
    assert members(acme, group) == ["a@example.com"] and count(acme, group) == 1


def test_a_contact_erased_before_the_attach_lands_is_not_found(acme: Caller) -> None:
    contact = acme.post("/api/contacts", {"email": "a@example.com"}).json_body
    group = acme.post("/api/groups", {"name": "One"}).json_body["id"]

    def erase() -> None:
        assert acme.delete(f"/api/contacts/{contact['id']}?permanent=true").status_code == 200

    with hooked("before-call.dynamodb.TransactWriteItems", once(erase)):
        answer = acme.post(f"/api/groups/{group}/contacts/attach", {"contactIds": [contact["id"]]}).json_body
    assert (answer["attached"], answer["notFound"]) == (0, 1)
    assert members(acme, group) == [] and count(acme, group) == 0


def test_a_patch_that_read_before_an_attach_keeps_the_group(acme: Caller) -> None:
    contact = acme.post("/api/contacts", {"email": "a@example.com"}).json_body
    group = acme.post("/api/groups", {"name": "One"}).json_body["id"]

    def attach() -> None:
        assert groups.attach(principal(acme), group, GroupMembersBody(contactIds=[contact["id"]])).attached == 1

    # The PATCH has read the contact; just before it writes, the attach lands (and moves the version).
    pynamo_events = ContactItem._get_connection().connection.client.meta.events
    pynamo_events.register("before-call.dynamodb.PutItem", once(attach), unique_id="race")
    try:
        patched = acme.patch(f"/api/contacts/{contact['id']}", {"firstName": "Ann"})
    finally:
        pynamo_events.unregister("before-call.dynamodb.PutItem", unique_id="race")
    assert patched.status_code == 200
    assert (patched.json_body["firstName"], patched.json_body["groupIds"]) == ("Ann", [group])
    assert members(acme, group) == ["a@example.com"]


def test_of_two_detaches_exactly_one_detached_it(acme: Caller) -> None:
    group = acme.post("/api/groups", {"name": "One"}).json_body["id"]
    acme.post("/api/contacts", {"email": "a@example.com", "groupIds": [group]})
    others: list[Any] = []

    def other() -> None:
        others.append(groups.detach(principal(acme), group, GroupMembersBody(emails=["a@example.com"])))

    with hooked("before-call.dynamodb.TransactWriteItems", once(other)):
        answer = acme.post(f"/api/groups/{group}/contacts/detach", {"emails": ["a@example.com"]}).json_body
    assert (others[0].detached, answer["detached"]) == (1, 0)
    assert members(acme, group) == [] and count(acme, group) == 0
    assert acme.get("/api/contacts").json_body["data"][0]["groupIds"] == []


def test_attaching_many_contacts_takes_few_transactions(acme: Caller) -> None:
    rows = [{"email": f"m{i:03d}@example.com"} for i in range(120)]
    acme.post("/api/contacts/bulk", {"contacts": rows})
    group = acme.post("/api/groups", {"name": "Many"}).json_body["id"]
    with counting() as log:
        answer = acme.post(f"/api/groups/{group}/contacts/attach", {"emails": [r["email"] for r in rows]}).json_body
    assert answer["attached"] == 120, answer
    assert log.calls["TransactWriteItems"] == 3  # 50 contacts (100 actions) a transaction
    assert count(acme, group) == 120 and len(members(acme, group)) == 120
