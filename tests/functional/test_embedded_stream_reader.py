"""The local stack's in-memory stream reader answers exactly what GetRecords answers (devstack/streams.py)."""

from __future__ import annotations

from chalicelib.repository.aws import client
from chalicelib.settings import settings
from devstack.streams import EmbeddedStreamReader, StreamReader
from tests.functional.conftest import Caller


def test_the_embedded_reader_hands_over_the_records_getrecords_answers_in_the_same_batches(acme: Caller) -> None:
    over_http = StreamReader(client("dynamodb"), client("dynamodbstreams"), settings.contacts_table)
    in_memory = EmbeddedStreamReader(client("dynamodb"), settings.contacts_table)
    rows = [{"email": f"c{i}@example.com", "firstName": f"C{i}", "tags": ["t"]} for i in range(30)]
    acme.post("/api/contacts/bulk", {"contacts": rows})
    contact = acme.post("/api/contacts", {"email": "one@example.com"}).json_body
    acme.patch(f"/api/contacts/{contact['id']}", {"lastName": "Changed"})
    acme.delete(f"/api/contacts/{contact['id']}?permanent=true")

    batches = 0
    while True:
        expected, found = over_http.read(limit=7), in_memory.read(limit=7)
        assert len(found) == len(expected)
        if not expected:
            break
        batches += 1
        for want, got in zip(expected, found, strict=True):
            want_times = want["dynamodb"].pop("ApproximateCreationDateTime")
            got_times = got["dynamodb"].pop("ApproximateCreationDateTime")
            assert abs(want_times - got_times) < 1.0
            assert got == want
    assert batches == 5  # 33 records (30 creates, a create, an update, a removal), 7 a read
    assert {r["eventName"] for r in over_http.read() + in_memory.read()} == set()


def test_the_embedded_reader_hands_over_copies(acme: Caller) -> None:
    acme.post("/api/contacts", {"email": "one@example.com", "firstName": "One"})
    first = EmbeddedStreamReader(client("dynamodb"), settings.contacts_table).read()
    first[0]["dynamodb"]["NewImage"]["firstName"] = {"S": "Changed by a handler"}
    again = EmbeddedStreamReader(client("dynamodb"), settings.contacts_table).read()
    assert again[0]["dynamodb"]["NewImage"]["firstName"] == {"S": "One"}
