"""PynamoDB models: one class per item type; `.chalice/resources.json` declares the same tables.

Tables (see docs/data-model.md):
- contacts       tenantId + email            the contact itself
- contact-keys   tenantId + key              "id#<uuid>" and "ext#<externalId>" pointers to the email
- memberships    pk + sk                     "<tenant>#tag#<tag>" / "<tenant>#group#<id>" -> email
- meta           pk + sk (TTL expiresAt)     tenants, API keys, key-hash lookups, idempotency records, groups,
                                             webhook endpoints and their delivery records, tag-rotation rules,
                                             erasure tombstones
- activity       pk + sk                     "<tenant>#<contactId>" -> "<occurredAt>#<entryId>", newest last
"""

from __future__ import annotations

from typing import Any

from pynamodb.attributes import (
    BooleanAttribute,
    JSONAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
    VersionAttribute,
)
from pynamodb.models import Model

from chalicelib.settings import settings


class _Meta:
    region = settings.region


class ContactItem(Model):
    class Meta(_Meta):
        table_name = settings.contacts_table

    tenant_id = UnicodeAttribute(hash_key=True, attr_name="tenantId")
    email = UnicodeAttribute(range_key=True)
    contact_id = UnicodeAttribute(attr_name="id")
    first_name = UnicodeAttribute(null=True, attr_name="firstName")
    last_name = UnicodeAttribute(null=True, attr_name="lastName")
    company = UnicodeAttribute(null=True)
    job_title = UnicodeAttribute(null=True, attr_name="jobTitle")
    phone = UnicodeAttribute(null=True)
    website = UnicodeAttribute(null=True)
    status = UnicodeAttribute(null=True)
    subscription = UnicodeAttribute(default="unconfirmed")
    external_id = UnicodeAttribute(null=True, attr_name="externalId")
    source = UnicodeAttribute(default="api")
    tags = UnicodeSetAttribute(null=True)
    group_ids = UnicodeSetAttribute(null=True, attr_name="groupIds")
    custom_fields = JSONAttribute(null=True, attr_name="customFields")
    created_at = UnicodeAttribute(attr_name="createdAt")
    updated_at = UnicodeAttribute(attr_name="updatedAt")
    deleted_at = UnicodeAttribute(null=True, attr_name="deletedAt")
    # Optimistic locking: every single-contact write is conditioned on the version it read.
    version = VersionAttribute()
    # Who made the latest write and what it means (schemas.events.LastChange), for the change stream's relay.
    last_change = JSONAttribute(null=True, attr_name="lastChange")

    def copy(self) -> ContactItem:
        """A detached copy, without a serialize/deserialize round trip (about 50 times cheaper: the bulk
        path copies every contact it loads). Sets and the custom-fields map are copied one level deep:
        nested custom-field values are shared, so code replaces them and never changes them in place."""
        clone = ContactItem.__new__(ContactItem)
        clone.__dict__.update(self.__dict__)
        clone.attribute_values = {
            name: set(value) if isinstance(value, set) else dict(value) if isinstance(value, dict) else value
            for name, value in self.attribute_values.items()
        }
        return clone

    def values_of(self, names: tuple[str, ...]) -> tuple[Any, ...]:
        """The values of these attributes (Python names), read straight from the item's values."""
        values = self.attribute_values
        return tuple(values.get(name) for name in names)

    def membership_keys(self) -> set[str]:
        """The membership partitions this contact belongs to ("tag#x", "group#id")."""
        return {f"tag#{t}" for t in self.tags or ()} | {f"group#{g}" for g in self.group_ids or ()}


class ContactKeyItem(Model):
    """Pointer from a stable identity (contact id, external id) to the contact's current email.

    GetItem on it is strongly consistent, unlike a GSI, so GET /contacts/{id}
    sees a contact right after it is created or its email changes.
    """

    class Meta(_Meta):
        table_name = settings.contact_keys_table

    tenant_id = UnicodeAttribute(hash_key=True, attr_name="tenantId")
    key = UnicodeAttribute(range_key=True)
    email = UnicodeAttribute()
    contact_id = UnicodeAttribute(attr_name="id")


class MembershipItem(Model):
    """One (tenant, tag or group, contact) membership: lists by tag or group without a scan."""

    class Meta(_Meta):
        table_name = settings.memberships_table

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)  # the member's email
    contact_id = UnicodeAttribute(attr_name="id")


class _MetaTableItem(Model):
    class Meta(_Meta):
        table_name = settings.meta_table

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)


class TenantItem(_MetaTableItem):
    name = UnicodeAttribute()
    created_at = UnicodeAttribute(attr_name="createdAt")


class ApiKeyItem(_MetaTableItem):
    """The key's record under its tenant (pk TENANT#<id>, sk KEY#<keyId>), for listing and revoking."""

    key_id = UnicodeAttribute(attr_name="keyId")
    name = UnicodeAttribute()
    scopes = UnicodeSetAttribute()
    key_hash = UnicodeAttribute(attr_name="keyHash")
    prefix = UnicodeAttribute()
    created_at = UnicodeAttribute(attr_name="createdAt")
    revoked_at = UnicodeAttribute(null=True, attr_name="revokedAt")


class ApiKeyHashItem(_MetaTableItem):
    """Lookup by the SHA-256 of a key (pk KEYHASH#<hash>); deleted on revoke, so revocation is immediate."""

    tenant_id = UnicodeAttribute(attr_name="tenantId")
    key_id = UnicodeAttribute(attr_name="keyId")
    scopes = UnicodeSetAttribute()


class IdempotencyItem(_MetaTableItem):
    """A request seen with an Idempotency-Key (pk TENANT#<id>, sk IDEMPOTENCY#<key>)."""

    fingerprint = UnicodeAttribute()
    state = UnicodeAttribute()  # in_progress | done
    response_status = NumberAttribute(null=True, attr_name="responseStatus")
    response_body = UnicodeAttribute(null=True, attr_name="responseBody")
    expires_at = NumberAttribute(attr_name="expiresAt")  # epoch seconds, the table's TTL attribute


class WebhookItem(_MetaTableItem):
    """A tenant's webhook endpoint (pk TENANT#<id>, sk WEBHOOK#<webhookId>)."""

    webhook_id = UnicodeAttribute(attr_name="webhookId")
    url = UnicodeAttribute()
    events = UnicodeSetAttribute()
    description = UnicodeAttribute(null=True)
    exclude_actor_key_ids = UnicodeSetAttribute(null=True, attr_name="excludeActorKeyIds")
    secret = UnicodeAttribute()
    active = BooleanAttribute()
    created_at = UnicodeAttribute(attr_name="createdAt")
    updated_at = UnicodeAttribute(attr_name="updatedAt")


class DeliveryItem(_MetaTableItem):
    """One event sent to one endpoint, with its attempts (pk TENANT#<id>#WEBHOOK#<webhookId>, sk DELIVERY#<id>).

    Delivery ids start with the event's time, so a descending query lists an endpoint's deliveries newest first.
    """

    delivery_id = UnicodeAttribute(attr_name="deliveryId")
    webhook_id = UnicodeAttribute(attr_name="webhookId")
    tenant_id = UnicodeAttribute(attr_name="tenantId")
    event_id = UnicodeAttribute(attr_name="eventId")
    event_type = UnicodeAttribute(attr_name="eventType")
    payload = UnicodeAttribute()  # the exact JSON body that is signed and sent
    status = UnicodeAttribute()  # pending | succeeded | failed
    attempts = NumberAttribute(default=0)
    last_status_code = NumberAttribute(null=True, attr_name="lastStatusCode")
    last_error = UnicodeAttribute(null=True, attr_name="lastError")
    next_attempt_at = UnicodeAttribute(null=True, attr_name="nextAttemptAt")
    created_at = UnicodeAttribute(attr_name="createdAt")
    updated_at = UnicodeAttribute(attr_name="updatedAt")
    expires_at = NumberAttribute(attr_name="expiresAt")  # epoch seconds: delivery logs are kept 30 days


class RateLimitItem(_MetaTableItem):
    """One window of a rate limit (pk RATE#<what>#<who>, sk RATE); claimed with a conditional write."""

    expires_at = NumberAttribute(attr_name="expiresAt")


class ConfirmationItem(_MetaTableItem):
    """A double opt-in token, stored by its SHA-256 (pk CONFIRM#<hash>, sk CONFIRM), valid until expiresAt."""

    tenant_id = UnicodeAttribute(attr_name="tenantId")
    contact_id = UnicodeAttribute(attr_name="contactId")
    group_id = UnicodeAttribute(attr_name="groupId")
    expires_at = NumberAttribute(attr_name="expiresAt")


class ActivityItem(Model):
    """One entry of a contact's timeline (pk "<tenant>#<contactId>", sk "<occurredAt>#<entryId>").

    The sort key starts with the time and ends with the entry's unique id, so a
    descending query lists newest first and entries of the same millisecond keep one order.
    """

    class Meta(_Meta):
        table_name = settings.activity_table

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    entry_id = UnicodeAttribute(attr_name="id")
    type = UnicodeAttribute()
    occurred_at = UnicodeAttribute(attr_name="occurredAt")
    source = UnicodeAttribute()
    details = JSONAttribute(null=True)


class ChangeEntryItem(Model):
    """One entry of a tenant's changes feed (pk "<tenantId>#<shard>", position "<changedAt>#<contactId>#<sequence>").

    Written by the feed's stream consumer; `changedAt` is when the entry was written, so the
    position order is the order readers can rely on (docs/changes-feed.md). A tenant's entries
    are spread over a few partition keys by contact (repository/changes_feed.py). Kept 30 days.
    """

    class Meta(_Meta):
        table_name = settings.changes_table

    pk = UnicodeAttribute(hash_key=True)
    position = UnicodeAttribute(range_key=True)
    contact_id = UnicodeAttribute(attr_name="id")
    external_id = UnicodeAttribute(null=True, attr_name="externalId")
    change = UnicodeAttribute()  # upserted | archived | erased
    changed_at = UnicodeAttribute(attr_name="changedAt")
    contact = UnicodeAttribute(null=True)  # the contact's JSON as the API shows it; null when erased
    expires_at = NumberAttribute(attr_name="expiresAt")


# One model per table (item types sharing a table derive from its model), for the template check.
ALL_MODELS: tuple[type[Model], ...] = (
    ContactItem,
    ContactKeyItem,
    MembershipItem,
    _MetaTableItem,
    ActivityItem,
    ChangeEntryItem,
)
# DynamoDB deletes items whose attribute of this name (epoch seconds) is past; it does so lazily,
# so every read of such an item compares the expiry itself.
TTL_ATTRIBUTE = "expiresAt"


class GroupItem(_MetaTableItem):
    """A group under its tenant (pk TENANT#<id>, sk GROUP#<groupId>), for listing and managing."""

    group_id = UnicodeAttribute(attr_name="groupId")
    name = UnicodeAttribute()
    double_opt_in = BooleanAttribute(attr_name="doubleOptIn", default=False)
    confirm_redirect_url = UnicodeAttribute(null=True, attr_name="confirmRedirectUrl")
    created_at = UnicodeAttribute(attr_name="createdAt")
    updated_at = UnicodeAttribute(attr_name="updatedAt")


class GroupLookupItem(_MetaTableItem):
    """Group id -> tenant (pk GROUP#<groupId>, sk GROUP): the public subscribe route has a group id and no key."""

    tenant_id = UnicodeAttribute(attr_name="tenantId")


class ErasedContactItem(_MetaTableItem):
    """Tombstone of a permanently deleted contact (pk TENANT#<id>, sk ERASED#<contactId>).

    The activity writer checks it after writing, so an event still in flight cannot bring an
    erased contact's timeline back (see docs/activity.md).
    """

    erased_at = UnicodeAttribute(attr_name="erasedAt")
    expires_at = NumberAttribute(attr_name="expiresAt")


class TagRotationRuleItem(_MetaTableItem):
    """A tag-rotation rule (pk ROTATIONS, sk <tenantId>#<ruleId>).

    One partition holds every tenant's rules, so the hourly schedule lists them all with a
    Query; a tenant's own rules are the sort keys starting with its id.
    """

    rule_id = UnicodeAttribute(attr_name="ruleId")
    tenant_id = UnicodeAttribute(attr_name="tenantId")
    pointer_tag = UnicodeAttribute(attr_name="pointerTag")
    source_prefix = UnicodeAttribute(attr_name="sourcePrefix")
    expire_after_days = NumberAttribute(null=True, attr_name="expireAfterDays")
    created_at = UnicodeAttribute(attr_name="createdAt")
    last_run_at = UnicodeAttribute(null=True, attr_name="lastRunAt")
    # The last run stopped before writing every change (its deadline): memberships it wrote may name
    # contacts it never wrote, so the next run checks every member of both tags.
    unfinished = BooleanAttribute(null=True)


class ImportItem(_MetaTableItem):
    """An import job (pk TENANT#<id>, sk IMPORT#<importId>); ids sort by time, so a descending query is newest first.

    `offset`/`lines` say where the next chunk starts in the data object (`dataKey`); `pending`
    holds the chunk in flight (its end and counts), written before its rows, so a re-run of
    that chunk counts exactly what the first run decided (docs/imports.md).
    """

    import_id = UnicodeAttribute(attr_name="importId")
    status = UnicodeAttribute()
    format = UnicodeAttribute()
    source = UnicodeAttribute()
    options = JSONAttribute()  # ImportOptions plus columns
    actor_key_id = UnicodeAttribute(attr_name="actorKeyId")
    file_key = UnicodeAttribute(attr_name="fileKey")  # the object as uploaded or downloaded
    data_key = UnicodeAttribute(null=True, attr_name="dataKey")  # what the chunks read (decompressed for gzip)
    data_bytes = NumberAttribute(null=True, attr_name="dataBytes")
    bytes_total = NumberAttribute(null=True, attr_name="bytesTotal")
    offset = NumberAttribute(default=0)
    lines = NumberAttribute(default=0)
    header = JSONAttribute(null=True)  # CSV: {"delimiter", "columns"} read by the first chunk
    rows_processed = NumberAttribute(default=0, attr_name="rowsProcessed")
    created = NumberAttribute(default=0)
    updated = NumberAttribute(default=0)
    unchanged = NumberAttribute(default=0)
    skipped = NumberAttribute(default=0)
    errored = NumberAttribute(default=0)
    chunks = NumberAttribute(default=0)
    pending = JSONAttribute(null=True)
    cancel_requested = BooleanAttribute(default=False, attr_name="cancelRequested")
    failure = JSONAttribute(null=True)
    created_at = UnicodeAttribute(attr_name="createdAt")
    started_at = UnicodeAttribute(null=True, attr_name="startedAt")
    finished_at = UnicodeAttribute(null=True, attr_name="finishedAt")
    updated_at = UnicodeAttribute(attr_name="updatedAt")


class ImportErrorItem(_MetaTableItem):
    """One row error of an import (pk TENANT#<id>#IMPORT#<importId>, sk ERR#<line, zero-padded>): file order."""

    line = NumberAttribute()
    email = UnicodeAttribute(null=True)
    code = UnicodeAttribute()
    message = UnicodeAttribute()
    field = UnicodeAttribute(null=True)
    column = UnicodeAttribute(null=True)


class CounterItem(_MetaTableItem):
    """One per-tenant total kept from the contacts stream (pk COUNTS#<tenantId>, sk the counter's name).

    Names: `all`, `status#<status>`, `subscription#<value>`, `tag#<tag>`, `group#<groupId>`; each
    counts the tenant's contacts that are not archived (docs/counters.md).
    """

    total = NumberAttribute(default=0, attr_name="count")  # `count` itself would shadow Model.count()


class AppliedChangeItem(_MetaTableItem):
    """Marker of a stream record whose counter deltas are applied (pk APPLIED#<eventID>[#part], sk APPLIED).

    Written in the same transaction as the deltas, conditioned on not existing, so a replayed
    batch adds nothing twice; kept two days, past the stream's 24-hour retention.
    """

    expires_at = NumberAttribute(attr_name="expiresAt")
