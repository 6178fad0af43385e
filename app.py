"""Contacts API: routes and event handlers only; each parses, calls one service, renders."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalice.app import Chalice, CloudWatchEvent, DynamoDBEvent, Rate, Request, Response, SQSEvent

from chalicelib import observability, openapi, reference
from chalicelib.pages import confirmation_page
from chalicelib.schemas.activity import ActivityQuery
from chalicelib.schemas.auth import KeyCreate
from chalicelib.schemas.bulk import BulkTagsBody, BulkUpsertBody
from chalicelib.schemas.changes_feed import ChangesQuery
from chalicelib.schemas.common import KEYS, READ, WEBHOOKS, WRITE
from chalicelib.schemas.contacts import ContactCreate, ContactPatch, ListQuery, SearchBody, TagsBody
from chalicelib.schemas.groups import ContactGroupsBody, GroupCreate, GroupListQuery, GroupMembersBody, GroupPatch
from chalicelib.schemas.imports import ImportCreate, PageQuery
from chalicelib.schemas.rotation import TagRotationCreate
from chalicelib.schemas.subscribe import SubscribeBody
from chalicelib.schemas.webhooks import DeliveriesQuery, WebhookCreate, WebhookPatch
from chalicelib.services import (
    activity,
    auth,
    bulk,
    changes_feed,
    contact_search,
    contacts,
    groups,
    imports,
    relay,
    rotation,
    webhook_delivery,
    webhooks,
)
from chalicelib.services import subscribe as signup
from chalicelib.settings import settings
from chalicelib.web import (
    Api,
    lambda_time_left,
    parse_body,
    parse_query,
    prefers_async,
    public_base_url,
    query_flag,
    query_param,
    render,
    time_left,
)

if TYPE_CHECKING:
    from chalicelib.services.auth import Principal

app = Chalice(app_name="contacts-api")
app.register_middleware(observability.log_invocations)  # outermost: sees the final status of every call
api = Api(app)


@api.route("/api/health", "GET", scope=None)
def health(request: Request) -> Response:
    return Response({"status": "ok"})


# The API's own description: OpenAPI document and reference page (public)


@api.route("/api/openapi.json", "GET", scope=None)
def openapi_document(request: Request) -> Response:
    return reference.openapi_json(openapi.document(app, api, public_base_url(request)))


@api.route("/api/docs", "GET", scope=None)
def reference_page(request: Request) -> Response:
    return reference.reference_page()


@api.route("/api/docs/{asset}", "GET", scope=None)
def reference_asset(request: Request, asset: str) -> Response:
    return reference.reference_asset(asset)


# Contacts


@api.route("/api/contacts", "POST", scope=WRITE, idempotent=True)
def create_contact(request: Request, principal: Principal) -> Response:
    return render(contacts.create_contact(principal, parse_body(request, ContactCreate)), 201)


@api.route("/api/contacts", "GET", scope=READ)
def list_contacts(request: Request, principal: Principal) -> Response:
    return render(contact_search.list_contacts(principal, parse_query(request, ListQuery)))


@api.route("/api/contacts/search", "POST", scope=READ)
def search_contacts(request: Request, principal: Principal) -> Response:
    return render(contact_search.search_contacts(principal, parse_body(request, SearchBody, empty={})))


@api.route("/api/contacts/changes", "GET", scope=READ)
def list_contact_changes(request: Request, principal: Principal) -> Response:
    return render(changes_feed.read_changes(principal, parse_query(request, ChangesQuery)))


@api.route("/api/contacts/{contact_id}", "GET", scope=READ)
def get_contact(request: Request, principal: Principal, contact_id: str) -> Response:
    return render(contacts.get_contact(principal, contact_id))


@api.route("/api/contacts/{contact_id}", "PATCH", scope=WRITE, idempotent=True)
def update_contact(request: Request, principal: Principal, contact_id: str) -> Response:
    return render(contacts.update_contact(principal, contact_id, parse_body(request, ContactPatch)))


@api.route("/api/contacts/{contact_id}", "PUT", scope=WRITE, idempotent=True)
def replace_contact(request: Request, principal: Principal, contact_id: str) -> Response:
    """PUT takes PATCH's body and rules (API.md): only the fields sent change, and it never creates."""
    return render(contacts.update_contact(principal, contact_id, parse_body(request, ContactPatch)))


@api.route("/api/contacts/{contact_id}", "DELETE", scope=WRITE, idempotent=True)
def delete_contact(request: Request, principal: Principal, contact_id: str) -> Response:
    if query_flag(request, "permanent"):
        return render(contacts.erase_contact(principal, contact_id))
    return render(contacts.archive_contact(principal, contact_id), exclude_none=True)


@api.route("/api/contacts/{contact_id}/restore", "POST", scope=WRITE, idempotent=True)
def restore_contact(request: Request, principal: Principal, contact_id: str) -> Response:
    return render(contacts.restore_contact(principal, contact_id))


@api.route("/api/contacts/{contact_id}/tags", "POST", scope=WRITE, idempotent=True)
def add_contact_tags(request: Request, principal: Principal, contact_id: str) -> Response:
    return render(contacts.add_tags(principal, contact_id, parse_body(request, TagsBody).tags))


@api.route("/api/contacts/{contact_id}/tags", "DELETE", scope=WRITE, idempotent=True)
def remove_contact_tags(request: Request, principal: Principal, contact_id: str) -> Response:
    return render(contacts.remove_tags(principal, contact_id, parse_body(request, TagsBody).tags))


# API keys


@api.route("/api/keys", "POST", scope=KEYS, idempotent=True)
def create_key(request: Request, principal: Principal) -> Response:
    return render(auth.create_key(principal, parse_body(request, KeyCreate)), 201)


@api.route("/api/keys", "GET", scope=KEYS)
def list_keys(request: Request, principal: Principal) -> Response:
    return render(auth.list_keys(principal))


@api.route("/api/keys/{key_id}", "DELETE", scope=KEYS, idempotent=True)
def revoke_key(request: Request, principal: Principal, key_id: str) -> Response:
    return render(auth.revoke_key(principal, key_id))


# Webhooks


@api.route("/api/webhooks", "POST", scope=WEBHOOKS, idempotent=True)
def create_webhook(request: Request, principal: Principal) -> Response:
    return render(webhooks.create_webhook(principal, parse_body(request, WebhookCreate)), 201)


@api.route("/api/webhooks", "GET", scope=WEBHOOKS)
def list_webhooks(request: Request, principal: Principal) -> Response:
    return render(webhooks.list_webhooks(principal))


@api.route("/api/webhooks/{webhook_id}", "GET", scope=WEBHOOKS)
def get_webhook(request: Request, principal: Principal, webhook_id: str) -> Response:
    return render(webhooks.get_webhook(principal, webhook_id))


@api.route("/api/webhooks/{webhook_id}", "PATCH", scope=WEBHOOKS, idempotent=True)
def update_webhook(request: Request, principal: Principal, webhook_id: str) -> Response:
    return render(webhooks.update_webhook(principal, webhook_id, parse_body(request, WebhookPatch)))


@api.route("/api/webhooks/{webhook_id}", "DELETE", scope=WEBHOOKS, idempotent=True)
def delete_webhook(request: Request, principal: Principal, webhook_id: str) -> Response:
    return render(webhooks.delete_webhook(principal, webhook_id))


@api.route("/api/webhooks/{webhook_id}/deliveries", "GET", scope=WEBHOOKS)
def list_webhook_deliveries(request: Request, principal: Principal, webhook_id: str) -> Response:
    return render(webhooks.list_deliveries(principal, webhook_id, parse_query(request, DeliveriesQuery)))


@api.route("/api/webhooks/{webhook_id}/deliveries/{delivery_id}/retry", "POST", scope=WEBHOOKS, idempotent=True)
def retry_webhook_delivery(request: Request, principal: Principal, webhook_id: str, delivery_id: str) -> Response:
    return render(webhooks.retry_delivery(principal, webhook_id, delivery_id), 202)


@app.on_sqs_message(queue=settings.events_queue, batch_size=10)
def deliver_webhooks(event: SQSEvent) -> None:
    """Fan events out to endpoints and attempt deliveries; never raises (no partial-batch response)."""
    webhook_delivery.deliver_webhooks([record.body for record in event], event.context)


# The relay: every committed change of a contact, from the contacts table's stream, to every consumer.
# The merged template wires the real stream (Fn::GetAtt ContactsTable.StreamArn) and its retry settings.


@app.on_dynamodb_record(stream_arn=settings.contacts_stream_arn, batch_size=1000, starting_position="TRIM_HORIZON")
def relay_contact_changes(event: DynamoDBEvent) -> None:
    """Parks what it cannot convert; raises on a transient failure so that the stream retries the batch."""
    relay.relay_records(event.to_dict()["Records"])


# Bulk and groups


@api.route("/api/contacts/bulk", "POST", scope=WRITE, idempotent=True)
def bulk_upsert(request: Request, principal: Principal) -> Response:
    body = parse_body(request, BulkUpsertBody)
    if prefers_async(request):  # Prefer: respond-async: 202 at once, processed as an import
        return render(imports.start_async_bulk(principal, body), 202)
    return render(bulk.bulk_upsert(principal, body, time_left(request)))


@api.route("/api/contacts/bulk/tags", "PATCH", scope=WRITE, idempotent=True)
def bulk_tags(request: Request, principal: Principal) -> Response:
    return render(bulk.bulk_tags(principal, parse_body(request, BulkTagsBody), time_left(request)))


@api.route("/api/contacts/{contact_id}/groups", "POST", scope=WRITE, idempotent=True)
def add_contact_groups(request: Request, principal: Principal, contact_id: str) -> Response:
    return render(contacts.add_groups(principal, contact_id, parse_body(request, ContactGroupsBody).groupIds))


@api.route("/api/contacts/{contact_id}/groups", "DELETE", scope=WRITE, idempotent=True)
def remove_contact_groups(request: Request, principal: Principal, contact_id: str) -> Response:
    return render(contacts.remove_groups(principal, contact_id, parse_body(request, ContactGroupsBody).groupIds))


@api.route("/api/groups", "POST", scope=WRITE, idempotent=True)
def create_group(request: Request, principal: Principal) -> Response:
    return render(groups.create_group(principal, parse_body(request, GroupCreate)), 201)


@api.route("/api/groups", "GET", scope=READ)
def list_groups(request: Request, principal: Principal) -> Response:
    return render(groups.list_groups(principal, parse_query(request, GroupListQuery)))


@api.route("/api/groups/{group_id}", "GET", scope=READ)
def get_group(request: Request, principal: Principal, group_id: str) -> Response:
    return render(groups.get_group(principal, group_id))


@api.route("/api/groups/{group_id}", "PATCH", scope=WRITE, idempotent=True)
def update_group(request: Request, principal: Principal, group_id: str) -> Response:
    return render(groups.update_group(principal, group_id, parse_body(request, GroupPatch)))


@api.route("/api/groups/{group_id}", "DELETE", scope=WRITE, idempotent=True)
def delete_group(request: Request, principal: Principal, group_id: str) -> Response:
    return render(groups.delete_group(principal, group_id, time_left(request)), exclude_none=True)


@api.route("/api/groups/{group_id}/contacts/attach", "POST", scope=WRITE, idempotent=True)
def attach_group_contacts(request: Request, principal: Principal, group_id: str) -> Response:
    body = parse_body(request, GroupMembersBody)
    return render(groups.attach(principal, group_id, body, time_left(request)))


@api.route("/api/groups/{group_id}/contacts/detach", "POST", scope=WRITE, idempotent=True)
def detach_group_contacts(request: Request, principal: Principal, group_id: str) -> Response:
    body = parse_body(request, GroupMembersBody, empty={})  # an empty body detaches every member
    return render(groups.detach(principal, group_id, body, time_left(request)))


# Public signup (the widget) and double opt-in confirmation


@api.route("/api/subscribe", "POST", scope=None, content_types=["text/plain", "application/json"], any_origin=True)
def subscribe(request: Request) -> Response:
    return render(signup.subscribe(parse_body(request, SubscribeBody), public_base_url(request)))


@api.route("/api/subscribe/confirm", "GET", scope=None)
def confirm_subscription(request: Request) -> Response:
    return confirmation_page(lambda: signup.confirm(query_param(request, "token")))


# Activity and tag rotation


@api.route("/api/contacts/{contact_id}/activity", "GET", scope=READ)
def list_contact_activity(request: Request, principal: Principal, contact_id: str) -> Response:
    return render(activity.list_activity(principal, contact_id, parse_query(request, ActivityQuery)))


@api.route("/api/tag-rotations", "POST", scope=KEYS, idempotent=True)
def create_tag_rotation(request: Request, principal: Principal) -> Response:
    return render(rotation.create_rule(principal, parse_body(request, TagRotationCreate)), 201)


@api.route("/api/tag-rotations", "GET", scope=KEYS)
def list_tag_rotations(request: Request, principal: Principal) -> Response:
    return render(rotation.list_rules(principal))


@api.route("/api/tag-rotations/{rule_id}", "DELETE", scope=KEYS, idempotent=True)
def delete_tag_rotation(request: Request, principal: Principal, rule_id: str) -> Response:
    return render(rotation.delete_rule(principal, rule_id), exclude_none=True)


@api.route("/api/tag-rotations/{rule_id}/run", "POST", scope=KEYS, idempotent=True)
def run_tag_rotation(request: Request, principal: Principal, rule_id: str) -> Response:
    return render(rotation.run_rule_now(principal, rule_id, time_left(request)))


@app.schedule(Rate(1, unit=Rate.HOURS), name="rotate_tags")
def rotate_tags(event: CloudWatchEvent) -> dict[str, Any]:
    """Hourly: every tag-rotation rule of every tenant; a rule that fails is logged and the rest still run."""
    return rotation.run_all_rules(lambda_time_left(event.context))


# Imports (docs/imports.md)


@api.route("/api/imports", "POST", scope=WRITE, idempotent=True)
def start_import(request: Request, principal: Principal) -> Response:
    return render(imports.start_import(principal, parse_body(request, ImportCreate, empty={})), 202)


@api.route("/api/imports", "GET", scope=READ)
def list_imports(request: Request, principal: Principal) -> Response:
    return render(imports.list_imports(principal, parse_query(request, PageQuery)))


@api.route("/api/imports/{import_id}", "GET", scope=READ)
def get_import(request: Request, principal: Principal, import_id: str) -> Response:
    return render(imports.get_import(principal, import_id))


@api.route("/api/imports/{import_id}/errors", "GET", scope=READ)
def list_import_errors(request: Request, principal: Principal, import_id: str) -> Response:
    return render(imports.list_errors(principal, import_id, parse_query(request, PageQuery)))


@api.route("/api/imports/{import_id}", "DELETE", scope=WRITE, idempotent=True)
def cancel_import(request: Request, principal: Principal, import_id: str) -> Response:
    return render(imports.cancel_import(principal, import_id))


@app.on_sqs_message(queue=settings.imports_queue, batch_size=1)
def import_worker(event: SQSEvent) -> None:
    """One chunk (or file arrival, or download) per invocation; raising lets SQS deliver it again."""
    for record in event:
        receives = int(record.to_dict().get("attributes", {}).get("ApproximateReceiveCount", 1))
        imports.work(record.body, receives, lambda_time_left(event.context))
