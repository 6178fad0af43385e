"""Pure rules: email normalization, tag sets, field paths in errors, cursors."""

from __future__ import annotations

import base64
import json

import pytest
from pydantic import ValidationError

from chalicelib import errors
from chalicelib.schemas.common import normalize_email
from chalicelib.schemas.contacts import ContactCreate, ContactPatch
from chalicelib.services import cursors
from chalicelib.web import validation_details


@pytest.mark.parametrize(
    ("raw", "stored"),
    [("  Alice@Example.COM ", "alice@example.com"), ("a.b+tag@sub.example.co.uk", "a.b+tag@sub.example.co.uk")],
)
def test_emails_are_trimmed_and_lower_cased(raw, stored):
    assert normalize_email(raw) == stored


@pytest.mark.parametrize("raw", ["", "plain", "a@b", "a b@c.de", "@c.de", "a@.", "x" * 250 + "@e.co"])
def test_invalid_emails_are_refused(raw):
    with pytest.raises(ValueError):
        normalize_email(raw)


def test_tags_are_trimmed_sorted_and_unique():
    assert ContactCreate(email="a@b.co", tags=[" vip", "b2b", "vip "]).tags == ["b2b", "vip"]


def test_patch_remembers_which_fields_were_sent():
    patch = ContactPatch.model_validate({"company": None, "status": "lead"})
    assert patch.model_fields_set == {"company", "status"}


def test_error_details_name_the_field_with_indexes():
    with pytest.raises(ValidationError) as caught:
        ContactCreate.model_validate({"email": "a@b.co", "tags": ["ok", ""]})
    assert validation_details(caught.value) == [
        {"field": "tags[1]", "message": "String should have at least 1 character"}
    ]


def test_cursor_round_trip():
    cursor = cursors.encode("tnt_a", "all", "bob@example.com")
    assert "bob" not in cursor  # opaque to the eye
    assert cursors.decode(cursor, "tnt_a", "all") == "bob@example.com"
    assert cursors.decode(None, "tnt_a", "all") is None


def test_a_cursor_may_carry_the_plan_of_its_listing():
    cursor = cursors.encode("tnt_a", "all", "bob@example.com", "walk")
    assert cursors.decode_position(cursor, "tnt_a", "all") == cursors.Position("bob@example.com", "walk")
    assert cursors.decode_position(cursors.encode("tnt_a", "all", "x"), "tnt_a", "all") == cursors.Position("x")


@pytest.mark.parametrize("data", [{"t": "tnt_a", "l": "all", "a": "x", "p": 1}, ["tnt_a", "all", "x"]])
def test_a_cursor_with_a_plan_that_is_not_text_is_refused(data):
    forged = base64.urlsafe_b64encode(json.dumps(data).encode()).decode()
    with pytest.raises(errors.BadRequest):
        cursors.decode_position(forged, "tnt_a", "all")


@pytest.mark.parametrize(("tenant", "listing"), [("tnt_b", "all"), ("tnt_a", "tag#vip")])
def test_cursor_is_bound_to_tenant_and_listing(tenant, listing):
    cursor = cursors.encode("tnt_a", "all", "bob@example.com")
    with pytest.raises(errors.BadRequest):
        cursors.decode(cursor, tenant, listing)
