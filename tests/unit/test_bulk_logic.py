"""Pure logic of the bulk path: request identities, merges, ids, row validation messages."""

from __future__ import annotations

import re

import pytest
from pydantic import ValidationError

from chalicelib.repository.bulk import request_identity
from chalicelib.repository.models import ContactItem
from chalicelib.schemas.bulk import BulkRow
from chalicelib.services.bulk import _validation_message
from chalicelib.services.contact_changes import changed_fields
from chalicelib.services.contact_writes import merge_custom_fields
from chalicelib.services.groups import new_group_id
from chalicelib.settings import settings


def test_request_identity_is_the_same_for_a_request_and_its_unprocessed_echo() -> None:
    item = {"tenantId": {"S": "t"}, "email": {"S": "a@x.io"}, "firstName": {"S": "A"}}
    put = (settings.contacts_table, {"PutRequest": {"Item": item}})
    delete = (settings.contacts_table, {"DeleteRequest": {"Key": {"tenantId": {"S": "t"}, "email": {"S": "a@x.io"}}}})
    assert request_identity(put) == request_identity(delete) == (settings.contacts_table, "t", "a@x.io")
    member = (settings.memberships_table, {"PutRequest": {"Item": {"pk": {"S": "t#tag#x"}, "sk": {"S": "a@x.io"}}}})
    assert request_identity(member) == (settings.memberships_table, "t#tag#x", "a@x.io")


def test_custom_fields_merge_like_patch_and_none_leaves_them_alone() -> None:
    assert merge_custom_fields({"a": 1}, None) == {"a": 1}
    assert merge_custom_fields({"a": 1, "b": 2}, {"b": None, "c": 3}) == {"a": 1, "c": 3}
    assert merge_custom_fields({"a": 1}, {"a": None}) is None


def test_group_ids_carry_32_random_bytes() -> None:
    ids = {new_group_id() for _ in range(100)}
    assert len(ids) == 100
    assert all(re.fullmatch(r"grp_[A-Za-z0-9_-]{43}", i) for i in ids)


def test_what_changed_ignores_timestamps_version_and_the_change_note() -> None:
    a = ContactItem("t", "a@x.io", contact_id="1", tags={"x"}, created_at="1", updated_at="1")
    b = ContactItem("t", "a@x.io", contact_id="1", tags={"x"}, created_at="1", updated_at="2")
    b.version = 7
    b.last_change = {"type": "contact.updated", "actor": {"type": "schedule"}}
    assert changed_fields(a, b) == []
    b.custom_fields = {"k": "v"}
    b.tags = {"x", "y"}
    assert sorted(changed_fields(a, b)) == ["customFields", "tags"]
    b.tags, a.tags = None, set()
    assert changed_fields(a, b) == ["customFields"]  # no set and an empty set read the same


def test_row_validation_messages_name_the_row_and_field() -> None:
    with pytest.raises(ValidationError) as caught:
        BulkRow.model_validate({"email": "nope", "phone": "1" * 40})
    message = _validation_message(caught.value, 7)
    assert "contacts[7].email" in message and "contacts[7].phone" in message


def test_rows_normalize_email_and_tags() -> None:
    row = BulkRow.model_validate({"email": " A@X.io ", "tags": ["b", "a", "b"]})
    assert (row.email, row.tags) == ("a@x.io", ["a", "b"])
