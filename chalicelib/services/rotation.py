"""Tag rotation: rules per tenant, and runs that move a pointer tag onto the newest batch tag.

A run reads only the tag catalog, the membership partitions of the tags involved
and the contacts whose tags must change (BatchGetItem); it writes with
BatchWriteItem through `contact_writes.store_changes`, each changed contact noted
as `contact.updated` by actor `schedule` (the relay emits the events). See docs/rotation.md.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from chalicelib import errors
from chalicelib.clock import now_iso
from chalicelib.repository import bulk as bulk_repo
from chalicelib.repository import rotation as repo
from chalicelib.repository import tag_catalog
from chalicelib.repository.batch import Deadline
from chalicelib.repository.bulk import ContactChange
from chalicelib.repository.contacts import tag_membership
from chalicelib.repository.models import ContactItem, TagRotationRuleItem
from chalicelib.schemas.common import MAX_TAGS, Deleted
from chalicelib.schemas.rotation import RotationResult, TagRotationCreate, TagRotationList, TagRotationRule
from chalicelib.services import events
from chalicelib.services.auth import Principal
from chalicelib.services.contact_writes import copy_item, note, store_changes

log = logging.getLogger(__name__)

MAX_RULES_PER_TENANT = 50
# The schedule stops starting rules this close to its Lambda's timeout; the next hour runs the rest.
SCHEDULE_RESERVE_SECONDS = 30.0
Remaining = Callable[[], float] | None


def _to_rule(item: TagRotationRuleItem) -> TagRotationRule:
    days = item.expire_after_days
    return TagRotationRule(
        id=item.rule_id,
        pointerTag=item.pointer_tag,
        sourcePrefix=item.source_prefix,
        expireAfterDays=int(days) if days is not None else None,
        createdAt=item.created_at,
        lastRunAt=item.last_run_at,
    )


def create_rule(principal: Principal, body: TagRotationCreate) -> TagRotationRule:
    if len(repo.list_rules(principal.tenant_id)) >= MAX_RULES_PER_TENANT:
        raise errors.ValidationFailed(
            f"A tenant has at most {MAX_RULES_PER_TENANT} tag-rotation rules.",
            details=[{"field": "body", "message": "too many rules"}],
        )
    rule_id = "rot_" + secrets.token_hex(12)
    item = TagRotationRuleItem(
        repo.RULES_PK,
        repo.rule_sk(principal.tenant_id, rule_id),
        rule_id=rule_id,
        tenant_id=principal.tenant_id,
        pointer_tag=body.pointerTag,
        source_prefix=body.sourcePrefix,
        expire_after_days=body.expireAfterDays,
        created_at=now_iso(),
    )
    repo.save_rule(item)
    return _to_rule(item)


def list_rules(principal: Principal) -> TagRotationList:
    return TagRotationList(data=[_to_rule(item) for item in repo.list_rules(principal.tenant_id)])


def _load(principal: Principal, rule_id: str) -> TagRotationRuleItem:
    item = repo.get_rule(principal.tenant_id, rule_id)
    if item is None:
        raise errors.NotFound("No such tag-rotation rule.")
    return item


def delete_rule(principal: Principal, rule_id: str) -> Deleted:
    repo.delete_rule(_load(principal, rule_id))
    return Deleted(id=rule_id)


def run_rule_now(principal: Principal, rule_id: str, remaining: Remaining = None) -> RotationResult:
    return run(_load(principal, rule_id), Deadline(remaining))


# Runs


def tag_date(tag: str, prefix: str) -> date | None:
    """The YYYY-MM-DD after the prefix, or None when the rest of the tag is not exactly a date."""
    rest = tag[len(prefix) :]
    if len(rest) != 10:
        return None
    try:
        return datetime.strptime(rest, "%Y-%m-%d").date()
    except ValueError:
        return None


def find_source(tenant_id: str, prefix: str, pointer: str) -> str | None:
    """The greatest catalog tag starting with `prefix` that some contact still carries (never the pointer)."""
    for tag in tag_catalog.tags_with_prefix(tenant_id, prefix, descending=True):
        if tag != pointer and tag_catalog.has_members(tenant_id, tag):
            return tag
    return None


def expired_tags(tenant_id: str, prefix: str, days: int, today: date, source: str | None) -> list[str]:
    """Catalog tags with the prefix dated more than `days` before `today` (never the current source)."""
    limit = today - timedelta(days=days)
    found = []
    for tag in tag_catalog.tags_with_prefix(tenant_id, prefix, descending=False):
        dated = tag_date(tag, prefix)
        if dated is None or tag == source:
            continue
        if dated >= limit:
            break  # ascending order: every later dated tag is newer
        found.append(tag)
    return found


@dataclass
class _Plan:
    changes: dict[str, ContactChange]
    added: set[str]
    removed: set[str]


def _plan(contacts: dict[str, ContactItem], source: str | None, pointer: str, expired: set[str], now: str) -> _Plan:
    plan = _Plan({}, set(), set())
    for email, old in contacts.items():
        tags = set(old.tags or ())
        new_tags = tags - expired
        if source is not None and source in tags and pointer not in tags:
            if len(new_tags) >= MAX_TAGS:
                log.warning("contact %s is at the %d-tag limit; %s not added", old.contact_id, MAX_TAGS, pointer)
            else:
                new_tags.add(pointer)
                plan.added.add(email)
        elif source is not None and pointer in tags and source not in tags:
            new_tags.discard(pointer)
            plan.removed.add(email)
        if new_tags != tags:
            new = copy_item(old)
            new.tags = new_tags or None
            new.updated_at = now
            plan.changes[email] = ContactChange(old, new)
    return plan


def run(rule: TagRotationRuleItem, deadline: Deadline, today: date | None = None) -> RotationResult:
    """Make exactly the carriers of the source tag carry the pointer tag; expire old source tags."""
    tenant_id, pointer, prefix = rule.tenant_id, rule.pointer_tag, rule.source_prefix
    today = today or datetime.now(UTC).date()
    source = find_source(tenant_id, prefix, pointer)
    candidates: set[str] = set()
    if source is not None:
        carriers = set(bulk_repo.member_emails(tenant_id, tag_membership(source)))
        pointed = set(bulk_repo.member_emails(tenant_id, tag_membership(pointer)))
        # Members of both are right already, unless the last run stopped part-way: it wrote memberships
        # before contacts, so the index may name contacts it never wrote. Then only the contacts can tell.
        candidates |= (carriers | pointed) if rule.unfinished else (carriers ^ pointed)
    expired: list[str] = []
    if rule.expire_after_days:
        expired = expired_tags(tenant_id, prefix, int(rule.expire_after_days), today, source)
        for tag in expired:
            candidates |= set(bulk_repo.member_emails(tenant_id, tag_membership(tag)))
    # The index may hold stale entries; the contacts themselves decide.
    contacts = bulk_repo.load_contacts(tenant_id, candidates, deadline)
    plan = _plan(contacts, source, pointer, set(expired), now_iso())
    failed = store_changes(tenant_id, plan.changes, deadline, note("contact.updated", events.SCHEDULE_ACTOR))
    unwritten = {tag for email in failed for tag in contacts[email].tags or ()}
    for tag in set(expired) - unwritten:
        tag_catalog.forget(tenant_id, tag)  # emptied: the catalog need not list it any longer
    repo.mark_run(rule, now_iso(), unfinished=bool(failed))
    if failed:
        log.warning("rotation %s of %s left %d contacts unwritten", rule.rule_id, tenant_id, len(failed))
    return RotationResult(sourceTag=source, added=len(plan.added - failed), removed=len(plan.removed - failed))


def run_all_rules(remaining: Remaining = None) -> dict[str, Any]:
    """The schedule's job: every rule of every tenant, each on its own (one failing never stops the rest)."""
    # Keep a tenth of the invocation (at most SCHEDULE_RESERVE_SECONDS) for the rule under way to finish.
    reserve = min(SCHEDULE_RESERVE_SECONDS, remaining() / 10) if remaining is not None else 0.0
    deadline = Deadline(remaining, reserve=reserve)
    results: list[dict[str, Any]] = []
    for rule in repo.all_rules():
        if remaining is not None and remaining() < reserve:
            log.warning("rotation schedule out of time; the rest runs next hour")
            break
        outcome: dict[str, Any] = {"tenantId": rule.tenant_id, "ruleId": rule.rule_id}
        try:
            outcome.update(run(rule, deadline).model_dump())
        except Exception:
            log.exception("rotation %s of %s failed", rule.rule_id, rule.tenant_id)
            outcome["error"] = "failed"
        results.append(outcome)
    log.info("rotation schedule ran %d rules", len(results))
    return {"rules": len(results), "results": results}
