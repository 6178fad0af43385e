"""Tag-rotation rules in the meta table: one partition for every tenant's rules (see TagRotationRuleItem)."""

from __future__ import annotations

from collections.abc import Iterator

from chalicelib.repository.conditional import update_if
from chalicelib.repository.models import TagRotationRuleItem

RULES_PK = "ROTATIONS"


def rule_sk(tenant_id: str, rule_id: str) -> str:
    return f"{tenant_id}#{rule_id}"


def save_rule(rule: TagRotationRuleItem) -> None:
    rule.save()


def get_rule(tenant_id: str, rule_id: str) -> TagRotationRuleItem | None:
    try:
        return TagRotationRuleItem.get(RULES_PK, rule_sk(tenant_id, rule_id), consistent_read=True)
    except TagRotationRuleItem.DoesNotExist:
        return None


def list_rules(tenant_id: str) -> list[TagRotationRuleItem]:
    condition = TagRotationRuleItem.sk.startswith(f"{tenant_id}#")
    return list(TagRotationRuleItem.query(RULES_PK, condition, consistent_read=True))


def all_rules() -> Iterator[TagRotationRuleItem]:
    """Every tenant's rules, tenant by tenant: one paged Query, never a scan."""
    yield from TagRotationRuleItem.query(RULES_PK, consistent_read=True, page_size=500)


def delete_rule(rule: TagRotationRuleItem) -> None:
    rule.delete()


def mark_run(rule: TagRotationRuleItem, at: str, *, unfinished: bool) -> None:
    """Record when the rule last ran and whether it wrote every change, unless it was deleted meanwhile."""
    finished = TagRotationRuleItem.unfinished.set(True) if unfinished else TagRotationRuleItem.unfinished.remove()
    update_if(rule, [TagRotationRuleItem.last_run_at.set(at), finished], TagRotationRuleItem.pk.exists())
