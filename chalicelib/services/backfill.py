"""The backfill: search index items and totals for contacts stored before their stream consumers ran.

The search index and the counters follow the contacts stream from the moment their
consumers are deployed (`relay.CONSUMERS`); contacts stored before that have no index
items and count nowhere. `backfill_tenant` walks one tenant's contacts (Queries of its
partition, page by page, strongly consistent) and

- writes each contact's index items, computed by the consumer's own `search_index.indexed`.
  Puts are idempotent, and a search re-checks every candidate against the stored contact, so
  an item written for a version that changed during the walk is never answered (docs/search.md);
- sets the tenant's counters to what the walk counted (`counters.counted`, the consumer's
  rule), and every other counter of the tenant to 0.

Counters are exact when no contact of the tenant changes during its walk: a stream delta
applied between the walk and the final write is overwritten. Run it in a quiet window, or
run it again (it converges). Operators run it with `python -m chalicelib.admin backfill`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from chalicelib.repository import counters as counters_repo
from chalicelib.repository import search_index as index
from chalicelib.services.counters import counted
from chalicelib.services.search_index import indexed

PAGE = 500
WRITE_EVERY = 2_500  # index items buffered before a batch write


@dataclass(frozen=True)
class BackfillResult:
    tenantId: str
    contacts: int
    indexItems: int
    counters: int


def backfill_tenant(tenant_id: str) -> BackfillResult:
    """Write the index items and set the counters of every contact the tenant has now."""
    totals: Counter[str] = Counter()
    pending: list[dict[str, Any]] = []
    contacts = written = 0
    for contact in index.contacts_by_email(tenant_id, descending=False, after=None, page_size=PAGE):
        contacts += 1
        totals.update(counted(contact))
        spec = indexed(contact)
        if spec is not None:
            pending += spec.items().values()
        if len(pending) >= WRITE_EVERY:
            written += index.write(pending, [])
            pending = []
    written += index.write(pending, [])
    counters_repo.replace_counts(tenant_id, totals)
    return BackfillResult(tenant_id, contacts, written, len(totals))
