"""`make bench-feed`: cost of the stream consumers (counters, changes feed) and the feed's read rate.

Not a pytest test: a measurement that prints one JSON summary. It runs in-process on
moto (mock_aws): N contacts are created by bulk upsert (one tag and one group each),
then each gets one tag change. The stream is handed to each consumer separately
while a botocore hook counts the DynamoDB calls and the items they write; then the
feed is walked with limit=100 through the app (chalice.test.Client), timed, with each
shard's Query asking for the whole page (limit + 1, as first built) and for its share
(`SHARD_SHARE`, repository/changes_feed.py).

Figures: items written per contact change by each consumer (write amplification),
DynamoDB calls per change, and feed pages/s, changes/s, DynamoDB calls and entries read per page. moto's figures are
not DynamoDB's: a cancelled transaction, for one, deep-copies the table in moto.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from typing import Any

ROWS = int(os.environ.get("BENCH_ROWS", "2000"))


def main() -> None:
    os.environ.update(
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_ACCOUNT_ID_ENDPOINT_MODE="disabled",
        FEED_SETTLE_SECONDS="0",
    )
    os.environ.pop("AWS_ENDPOINT_URL", None)
    from devstack.resources import stage_environment

    for name, value in stage_environment("dev").items():
        os.environ.setdefault(name, value)
    os.environ["FEED_SETTLE_SECONDS"] = "0"  # the feed is read after every write landed

    from chalice.test import Client
    from moto import mock_aws

    from devstack import moto_query
    from devstack.atomic import make_dynamodb_writes_atomic

    make_dynamodb_writes_atomic()  # as on the local stack: transactions back up only the items they touch

    with mock_aws():
        from app import app
        from chalicelib.repository import changes_feed as feed_repo
        from chalicelib.repository.aws import client, reset_clients
        from chalicelib.services import auth, changes_feed, counters
        from devstack.resources import create_all
        from tests.functional.stream import ContactStream

        reset_clients()
        create_all()
        tenant = auth.create_tenant("Bench")
        headers = {"X-Api-Key": tenant.apiKey, "Content-Type": "application/json"}
        stream = ContactStream()
        with Client(app) as test_client:
            group = json.loads(test_client.http.post("/api/groups", headers=headers, body='{"name": "g"}').body)["id"]
            rows = [{"email": f"c{i:06}@example.com", "tags": ["seed"]} for i in range(ROWS)]
            body = json.dumps({"contacts": rows, "groupIds": [group]})
            test_client.http.post("/api/contacts/bulk", headers=headers, body=body)
            created = stream.changes()
            ids = [c.new.contact_id for c in created if c.new is not None]
            tag_body = json.dumps({"contactIds": ids, "addTags": ["vip"]})
            test_client.http.patch("/api/contacts/bulk/tags", headers=headers, body=tag_body)
            updated = stream.changes()

            calls: Counter[str] = Counter()
            items: Counter[str] = Counter()

            def record(model: Any, params: dict[str, Any], **_: Any) -> None:
                calls[model.name] += 1
                if model.name == "BatchWriteItem":
                    items["written"] += sum(len(v) for v in params["RequestItems"].values())
                elif model.name == "TransactWriteItems":
                    items["written"] += len(params["TransactItems"])
                elif model.name in ("PutItem", "UpdateItem", "DeleteItem"):
                    items["written"] += 1

            events = client("dynamodb").meta.events
            summary: dict[str, Any] = {"rows": ROWS, "stream_records": {"create": len(created), "update": len(updated)}}
            for name, consumer in (("counters", counters), ("changes_feed", changes_feed)):
                for phase, batch in (("create", created), ("update", updated)):
                    if not batch:
                        continue  # the bulk tag request did not finish in time on a loaded machine
                    calls.clear()
                    items.clear()
                    events.register("before-parameter-build.dynamodb", record, unique_id="bench")
                    started = time.perf_counter()
                    for chunk in range(0, len(batch), 100):  # Lambda's default batch size for streams
                        consumer.apply_changes(batch[chunk : chunk + 100])
                    seconds = time.perf_counter() - started
                    events.unregister("before-parameter-build.dynamodb", unique_id="bench")
                    summary[f"{name}.{phase}"] = {
                        "calls": dict(calls),
                        "items_written_per_change": round(items["written"] / len(batch), 3),
                        "calls_per_change": round(sum(calls.values()) / len(batch), 4),
                        "seconds_on_moto": round(seconds, 2),
                    }

            def count_entries(model: Any, parsed: dict[str, Any], **_: Any) -> None:
                if model.name == "Query":
                    items["read"] += len(parsed.get("Items", []))

            def walk() -> dict[str, Any]:
                calls.clear()
                items.clear()
                events.register("before-parameter-build.dynamodb", record, unique_id="bench")
                events.register("after-call.dynamodb", count_entries, unique_id="bench-read")
                pages = 0
                read = 0
                cursor = ""
                started = time.perf_counter()
                while True:
                    answer = test_client.http.get(f"/api/contacts/changes?limit=100{cursor}", headers=headers)
                    page = json.loads(answer.body)
                    pages += 1
                    read += len(page["data"])
                    if not page["data"]:
                        break
                    cursor = f"&since={page['nextCursor']}"
                seconds = time.perf_counter() - started
                events.unregister("before-parameter-build.dynamodb", unique_id="bench")
                events.unregister("after-call.dynamodb", unique_id="bench-read")
                return {
                    "pages": pages,
                    "changes": read,
                    "seconds": round(seconds, 2),
                    "pages_per_s": round(pages / seconds, 2),
                    "changes_per_s": round(read / seconds, 1),
                    "queries_per_page": round(calls["Query"] / pages, 2),
                    "calls_per_page": round(sum(calls.values()) / pages, 2),
                    "entries_read_per_page": round(items["read"] / pages, 1),
                }

            # A shard's Query sized for the whole page (as first built) or for its share, interleaved
            # so that the machine's load weighs on both alike, with the local stack's Query patch.
            shares = {"whole_page": 1.0, "share": feed_repo.SHARD_SHARE}
            moto_query.install()
            for attempt in (1, 2):
                for name, share in shares.items():
                    feed_repo.SHARD_SHARE = share
                    summary[f"feed_read.{name}.{attempt}"] = walk()
            moto_query.uninstall()
        summary["load_average"] = os.getloadavg()
        print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
