"""`make bench-search`: search and listing at 2,000 vs 200,000 contacts per tenant on the local stack.

Not a pytest test: a measurement that prints one JSON summary (docs/search.md, "Measured").

- moto's server runs in this process with the devstack's Query patch (devstack/moto_query.py);
  the devstack uses it and runs with --count-calls (DynamoDB calls of the API process).
- Two tenants are seeded by putting contacts, pointers *and* their index items (the items the
  repository writes) straight into moto, which runs in this process; each has the same 20
  "Needleman" contacts spread over the whole tenant, so a search has the same answer in both.
- First-page latency: median of REPEAT HTTP requests per query and tenant; calls per request
  from the devstack's counts.
- Cursor walk: the big tenant, 100 a page (BENCH_WALK_PAGES pages, 0 for all).
- Index lag, write amplification and bulk: the stack's own relay (the devstack's StreamPump,
  reading the stream over HTTP from this process's moto) keeps the index; index writes are counted
  on moto's tables here. Seeded contacts were put straight into moto, so their stream records do not exist.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import statistics
import sys
import time
import uuid
from collections import Counter
from typing import Any

from tests.stack import HttpCaller, Stack, create_tenant, start_stack

SMALL = int(os.environ.get("BENCH_SMALL", "2000"))
BIG = int(os.environ.get("BENCH_BIG", "200000"))
REPEAT = int(os.environ.get("BENCH_REPEAT", "15"))
WALK_PAGES = int(os.environ.get("BENCH_WALK_PAGES", "200"))  # 0: the whole tenant
NEEDLES = 20
BULK_ROWS = int(os.environ.get("BENCH_BULK_ROWS", "10000"))


class PatientCaller(HttpCaller):
    """A loaded shared machine can hold a request for long; the medians tell, a timeout would only abort."""

    def request(self, method: str, path: str, **kw: Any) -> Any:
        kw.setdefault("timeout", 300)
        return super().request(method, path, **kw)


def progress(step: str, summary: dict[str, Any]) -> None:
    """A line on stderr per step, with what is measured so far (a long run interrupted still tells)."""
    line = {"step": step, "at": time.strftime("%X"), "load": os.getloadavg(), "soFar": summary}
    print(json.dumps(line), file=sys.stderr, flush=True)


def report(stack: Stack) -> dict[str, Any]:
    seen = len(stack.output)
    stack.process.send_signal(signal.SIGUSR1)
    for _ in range(600):
        for line in stack.output[seen:]:
            if line.startswith('{"dynamodbCalls"'):
                result: dict[str, Any] = json.loads(line)
                return result
        time.sleep(0.05)
    raise RuntimeError("the devstack did not report its counts:\n" + "".join(stack.output[-20:]))


def seed(tenant_id: str, count: int) -> float:
    """Contacts, their id pointers and index items, put straight into this process's moto; answers seconds.

    Going through boto3 would cost a moto HTTP request per 25 items (about an hour for 200,000
    contacts on a loaded machine); the items are the ones the repository writes.
    """
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends
    from moto.dynamodb.models.dynamo_type import DynamoType, Item

    from chalicelib.clock import now_iso
    from chalicelib.repository.contacts import id_key
    from chalicelib.repository.models import ContactItem
    from chalicelib.services.search_index import indexed
    from chalicelib.settings import settings

    def put(table: Any, raw: dict[str, Any]) -> None:
        # What moto's put_item stores, without its condition checks and stream record (seed only).
        # (Item's attribute dict re-sums the item's size on every attribute set: filled at once here.)
        hash_value, range_value = DynamoType(raw[table.hash_key_attr]), DynamoType(raw[table.range_key_attr])
        item = Item(hash_value, range_value, {})
        dict.update(item.attrs, {name: DynamoType(value) for name, value in raw.items()})
        table.items[hash_value][range_value] = item

    backend = dynamodb_backends[DEFAULT_ACCOUNT_ID]["us-east-1"]
    contacts = backend.get_table(settings.contacts_table)
    keys = backend.get_table(settings.contact_keys_table)
    memberships = backend.get_table(settings.memberships_table)
    started = time.perf_counter()
    every = max(1, count // NEEDLES)
    companies = ("Acme", "Globex", "Initech", "Umbrella", "Hooli", "Stark", "Wayne", "Wonka")
    for i in range(count):
        needle = i % every == every // 2 and i // every < NEEDLES
        now = now_iso()
        contact = ContactItem(
            tenant_id,
            seeded_email(i),
            contact_id=str(uuid.uuid4()),
            first_name=f"First{i % 5000}",
            last_name="Needleman" if needle else f"Last{i % 7919}",
            status="customer" if needle and (i // every) % 2 == 0 else None,
            company=companies[i % 8],
            source="bulk",
            subscription="confirmed",
            created_at=now,
            updated_at=now,
            version=1,
        )
        put(contacts, contact.serialize())
        pointer = {"tenantId": {"S": tenant_id}, "key": {"S": id_key(contact.contact_id)}}
        put(keys, {**pointer, "email": {"S": contact.email}, "id": {"S": contact.contact_id}})
        spec = indexed(contact)
        for item in spec.items().values() if spec else ():
            put(memberships, item)
    return time.perf_counter() - started


def needle_emails(count: int, *, customers_only: bool = False) -> list[str]:
    """The emails of the "Needleman" contacts `seed` spreads over a tenant of `count` (half are customers)."""
    every = max(1, count // NEEDLES)
    needles = [i for i in range(count) if i % every == every // 2 and i // every < NEEDLES]
    return sorted(seeded_email(i) for i in needles if not customers_only or (i // every) % 2 == 0)


def completeness(caller: HttpCaller, count: int) -> dict[str, Any]:
    """Walk the cursor of searches whose matches are spread over the whole tenant: each match exactly once."""
    results: dict[str, Any] = {}
    for name, body, expected in (
        ("needleman", {"query": "needleman"}, needle_emails(count)),
        (
            "needlemanCustomers",
            {"query": "needle", "filters": {"status": "customer"}},
            needle_emails(count, customers_only=True),
        ),
    ):
        found: list[str] = []
        cursor = None
        pages = 0
        started = time.perf_counter()
        while True:
            answer = caller.post("/api/contacts/search", json={**body, "limit": 3, "cursor": cursor})
            answer.raise_for_status()
            pages += 1
            found += [c["email"] for c in answer.json()["data"]]
            cursor = answer.json()["nextCursor"]
            if cursor is None:
                break
        results[name] = {
            "expected": len(expected),
            "found": len(found),
            "exactlyOnceEach": sorted(found) == expected,
            "pages": pages,
            "seconds": round(time.perf_counter() - started, 1),
        }
    return results


def seeded_email(i: int) -> str:
    companies = ("acme", "globex", "initech", "umbrella", "hooli", "stark", "wayne", "wonka")
    return f"person{i:07}@{companies[i % 8]}{i % 97}.example"


def first_pages(stack: Stack, caller: PatientCaller, requests_: dict[str, tuple[str, str, Any]]) -> dict[str, Any]:
    """Median latency (ms) and DynamoDB calls per request of each (method, path, body)."""
    results: dict[str, Any] = {}
    for name, (method, path, body) in requests_.items():
        caller.request(method, path, json=body).raise_for_status()  # warm
        report(stack)
        times = []
        matches = 0
        for _ in range(REPEAT):
            started = time.perf_counter()
            answer = caller.request(method, path, json=body)
            times.append((time.perf_counter() - started) * 1000)
            answer.raise_for_status()
            matches = len(answer.json()["data"])
        calls = Counter(report(stack)["dynamodbCalls"])  # counts since the previous report
        per_request = {op: round(n / REPEAT, 2) for op, n in sorted(calls.items()) if n}
        results[name] = {
            "medianMs": round(statistics.median(times), 1),
            "callsPerRequest": per_request,
            "found": matches,
        }
    return results


def walk(caller: HttpCaller, path: str) -> dict[str, Any]:
    """Follow the cursor (BENCH_WALK_PAGES pages, or to the end); pages per second."""
    started = time.perf_counter()
    pages = contacts = 0
    cursor = None
    while True:
        answer = caller.get(path + (f"&cursor={cursor}" if cursor else ""), timeout=120)
        answer.raise_for_status()
        page = answer.json()
        pages += 1
        contacts += len(page["data"])
        cursor = page["nextCursor"]
        if cursor is None or (WALK_PAGES and pages >= WALK_PAGES):
            break
    seconds = time.perf_counter() - started
    return {
        "pages": pages,
        "contacts": contacts,
        "seconds": round(seconds, 1),
        "pagesPerSecond": round(pages / seconds, 1),
    }


class IndexWrites:
    """Counts index items written (puts and deletes) in this process's moto, whoever writes them.

    The stack's relay runs in the devstack process; its writes land here, in the embedded AWS.
    """

    def __init__(self) -> None:
        from moto.dynamodb.models.table import Table

        from chalicelib.settings import settings

        self.count = 0
        self.last_at = time.perf_counter()
        table_name = settings.memberships_table
        bench = self

        def counted(method: Any) -> Any:
            def write(table: Any, *args: Any, **kwargs: Any) -> Any:
                if table.name == table_name:
                    bench.count += 1
                    bench.last_at = time.perf_counter()
                return method(table, *args, **kwargs)

            return write

        Table.put_item = counted(Table.put_item)  # type: ignore[method-assign]
        Table.delete_item = counted(Table.delete_item)  # type: ignore[method-assign]

    def settled(self, at_least: int = 0, quiet_seconds: float = 3.0, at_most: float = 900.0) -> int:
        """Wait until `at_least` items were written and then nothing for `quiet_seconds`; answer the count."""
        started = time.perf_counter()
        while time.perf_counter() - started < at_most and (
            self.count < at_least or time.perf_counter() - self.last_at < quiet_seconds
        ):
            time.sleep(0.2)
        return self.count


def index_lag(caller: HttpCaller, samples: int = int(os.environ.get("BENCH_LAG_SAMPLES", "30"))) -> dict[str, Any]:
    lags = []
    for i in range(samples):
        name = f"Lagtest{uuid.uuid4().hex[:8]}"
        answer = caller.post("/api/contacts", json={"email": f"lag{i}.{name.lower()}@lag.example", "firstName": name})
        answer.raise_for_status()
        started = time.perf_counter()  # from the write's answer: the change is committed
        while not caller.post("/api/contacts/search", json={"query": name}).json()["data"]:
            if time.perf_counter() - started > 60:
                raise RuntimeError("a write did not become searchable within 60 s")
            time.sleep(0.05)
        lags.append(time.perf_counter() - started)
    return {
        "samples": samples,
        "p50Seconds": round(statistics.median(lags), 2),
        "maxSeconds": round(max(lags), 2),
    }


def write_amplification(caller: HttpCaller, writes: IndexWrites) -> dict[str, Any]:
    """Index items the stack's relay writes per contact create / update / name change (memberships table writes)."""
    n = 50
    writes.settled()
    before = writes.count
    ids = [
        caller.post(
            "/api/contacts",
            json={"email": f"amp{i}@amp.example", "firstName": "Amp", "lastName": f"Lifier{i}", "company": "Amp Co"},
        ).json()["id"]
        for i in range(n)
    ]
    per_create = (writes.settled(before + n) - before) / n
    before = writes.count
    for contact_id in ids:
        caller.patch(f"/api/contacts/{contact_id}", json={"status": "customer"})
    per_update = (writes.settled(before + n) - before) / n
    before = writes.count
    for i, contact_id in enumerate(ids):
        caller.patch(f"/api/contacts/{contact_id}", json={"lastName": f"Renamed{i}"})
    per_rename = (writes.settled(before + n) - before) / n
    return {
        "indexItemsPerCreate": per_create,
        "indexItemsPerUpdate": per_update,
        "indexItemsPerNameChange": per_rename,
        "contactItemsPerCreate": "contact + id pointer (+ 1 membership per tag)",
    }


def bulk_with_relay(caller: HttpCaller, writes: IndexWrites) -> dict[str, Any]:
    """A BULK_ROWS-row bulk request while the stack's relay runs, then the time until the index caught up.

    On AWS the relay is its own Lambda and the request never waits for it; on the local stack they
    share the devstack's process, so the relay's work shows in the request's time too.
    """
    rows = [
        {"email": f"bulk{i:05}@bulk.example", "firstName": f"Bulk{i}", "company": "Bulk Co"} for i in range(BULK_ROWS)
    ]
    before = writes.settled()
    started = time.perf_counter()
    answer = caller.post("/api/contacts/bulk", json={"contacts": rows}, timeout=600)
    answer.raise_for_status()
    bulk_seconds = time.perf_counter() - started
    writes.settled(before + BULK_ROWS)  # at least one index item per new row, then quiet
    caught_up = writes.last_at - started
    return {
        "rows": BULK_ROWS,
        "bulkSeconds": round(bulk_seconds, 2),
        "indexCaughtUpSecondsAfterRequestStart": round(caught_up, 1),
        "relayRowsPerSecond": round(BULK_ROWS / caught_up, 1),
    }


def start_moto() -> tuple[Any, str]:
    """moto's server in this process (patched as in the devstack), so that seeding can skip HTTP."""
    from moto.server import ThreadedMotoServer

    from devstack import moto_patches
    from tests.stack import free_port

    # As the devstack does for its own moto (devstack/moto_patches.py): without atomic.py's transactions,
    # moto backs up every table a transaction touches, item by item, so one contact create copied the
    # 200,000-contact table several times.
    moto_patches.install()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per AWS call drowns the output
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    return server, f"http://127.0.0.1:{port}"


def main() -> int:
    print("bench-search: seeding and measuring, progress on stderr", file=sys.stderr)
    moto, aws = start_moto()
    writes = IndexWrites()
    os.environ.update(
        AWS_ENDPOINT_URL=aws,
        AWS_ACCESS_KEY_ID="devstack",
        AWS_SECRET_ACCESS_KEY="devstack",
        AWS_DEFAULT_REGION="us-east-1",
    )
    stack = start_stack(args=["--count-calls"], timeout=120, aws_endpoint=aws)
    summary: dict[str, Any] = {"loadAverageAtStart": os.getloadavg()}
    try:
        small = create_tenant(stack, "Small")
        big = create_tenant(stack, "Big")
        progress("seedSeconds", summary)
        summary["seedSeconds"] = {"small": round(seed(small["tenantId"], SMALL), 1)}
        summary["seedSeconds"]["big"] = round(seed(big["tenantId"], BIG), 1)
        summary["contacts"] = {"small": SMALL, "big": BIG}
        callers = {"small": PatientCaller(stack.api, small["apiKey"]), "big": PatientCaller(stack.api, big["apiKey"])}
        exact = seeded_email(SMALL // 2)
        queries: dict[str, tuple[str, str, Any]] = {
            "searchOneWord": ("POST", "/api/contacts/search", {"query": "needleman"}),
            "searchTwoWords": ("POST", "/api/contacts/search", {"query": "needle first"}),
            "searchByCreatedAtDesc": (
                "POST",
                "/api/contacts/search",
                {"query": "needleman", "sort": {"field": "createdAt", "order": "desc"}},
            ),
            "searchExactEmail": ("POST", "/api/contacts/search", {"query": exact}),
            "searchCommonWord": ("POST", "/api/contacts/search", {"query": "acme"}),
            "listByEmail": ("GET", "/api/contacts?limit=20", None),
            "listByCreatedAtDesc": ("GET", "/api/contacts?limit=20&sort=createdAt&order=desc", None),
        }
        progress("firstPage", summary)
        pages = {name: first_pages(stack, caller, queries) for name, caller in callers.items()}
        summary["firstPage"] = pages
        summary["ratioBigToSmall"] = {
            name: round(pages["big"][name]["medianMs"] / pages["small"][name]["medianMs"], 2) for name in queries
        }
        summary["loadAverageAtFirstPages"] = os.getloadavg()
        progress("walkBig", summary)
        summary["walkBig"] = {
            "byEmail": walk(callers["big"], "/api/contacts?limit=100"),
            "byCreatedAt": walk(callers["big"], "/api/contacts?limit=100&sort=createdAt"),
        }
        progress("completenessBig", summary)
        summary["completenessBig"] = completeness(callers["big"], BIG)
        progress("indexLag", summary)
        summary["indexLag"] = index_lag(callers["small"])
        progress("writeAmplification", summary)
        summary["writeAmplification"] = write_amplification(callers["small"], writes)
        progress("bulk", summary)
        summary["bulk"] = bulk_with_relay(callers["small"], writes)
        summary["loadAverageAtEnd"] = os.getloadavg()
    except Exception:
        print("".join(stack.output[-40:]), file=sys.stderr)  # what the stack said last, relay errors included
        raise
    finally:
        stack.stop()
        moto.stop()
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
