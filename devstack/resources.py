"""Create the AWS resources of `.chalice/resources.json` on whatever endpoint boto3 points at.

Production gets its tables from that template through CloudFormation; the
local stack and the tests create them from the very same definitions here, so
the two cannot drift. Physical names come from the environment variables the
template wires to each resource (`Globals.Function.Environment.Variables`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / ".chalice" / "resources.json"
CONFIG = ROOT / ".chalice" / "config.json"


def load_template() -> dict[str, Any]:
    return json.loads(TEMPLATE.read_text())


def stage_environment(stage: str = "dev") -> dict[str, str]:
    """The environment variables `.chalice/config.json` gives a stage (global ones, then the stage's)."""
    config = json.loads(CONFIG.read_text())
    env = dict(config.get("environment_variables", {}))
    env.update(config.get("stages", {}).get(stage, {}).get("environment_variables", {}))
    return env


def resource_env_names(template: dict[str, Any]) -> dict[str, str]:
    """Logical resource id -> the environment variable that carries its physical name.

    Tables are wired with `Ref` (their name); queues with `Fn::GetAtt [Queue, QueueName]`
    because a queue's `Ref` is its URL.
    """
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    names = {}
    for name, value in variables.items():
        if isinstance(value, dict) and "Ref" in value:
            names[value["Ref"]] = name
        elif isinstance(value, dict) and value.get("Fn::GetAtt", [None, None])[1] == "QueueName":
            names[value["Fn::GetAtt"][0]] = name
    return names


def _physical_name(env_name: str) -> str:
    return os.environ.get(env_name) or stage_environment()[env_name]


def table_definitions(template: dict[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    """Physical table name -> the table's CloudFormation properties."""
    template = template or load_template()
    env_names = resource_env_names(template)
    tables = {}
    for logical, resource in template["Resources"].items():
        if resource["Type"] == "AWS::DynamoDB::Table":
            name = _physical_name(env_names[logical])
            tables[name] = resource["Properties"]
    return tables


def create_tables(dynamodb: Any) -> list[str]:
    """Create every table of the template that does not exist yet; answer their names."""
    existing = set(dynamodb.list_tables()["TableNames"])
    created = []
    for name, props in table_definitions().items():
        if name in existing:
            continue
        spec: dict[str, Any] = {
            "TableName": name,
            "BillingMode": props["BillingMode"],
            "AttributeDefinitions": props["AttributeDefinitions"],
            "KeySchema": props["KeySchema"],
        }
        if props.get("GlobalSecondaryIndexes"):
            spec["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
        if props.get("StreamSpecification"):
            spec["StreamSpecification"] = {"StreamEnabled": True, **props["StreamSpecification"]}
        dynamodb.create_table(**spec)
        ttl = props.get("TimeToLiveSpecification")
        if ttl:
            dynamodb.update_time_to_live(TableName=name, TimeToLiveSpecification=ttl)
        created.append(name)
    return created


def _queue_attributes(props: dict[str, Any], arns: dict[str, str]) -> dict[str, str]:
    """CloudFormation queue properties as CreateQueue attributes, `Fn::GetAtt [Q, Arn]` resolved."""
    attributes: dict[str, str] = {}
    for key in ("VisibilityTimeout", "MessageRetentionPeriod", "DelaySeconds", "ReceiveMessageWaitTimeSeconds"):
        if key in props:
            attributes[key] = str(props[key])
    redrive = props.get("RedrivePolicy")
    if redrive:
        target = redrive["deadLetterTargetArn"]["Fn::GetAtt"][0]
        attributes["RedrivePolicy"] = json.dumps(
            {"deadLetterTargetArn": arns[target], "maxReceiveCount": redrive["maxReceiveCount"]}
        )
    return attributes


def create_queues(sqs: Any, template: dict[str, Any] | None = None) -> list[str]:
    """Create the template's SQS queues (dead-letter queues first, for the redrive policies); answer their names."""
    template = template or load_template()
    env_names = resource_env_names(template)
    queues = {k: r["Properties"] for k, r in template["Resources"].items() if r["Type"] == "AWS::SQS::Queue"}
    ordered = sorted(queues, key=lambda logical: "RedrivePolicy" in queues[logical])
    arns: dict[str, str] = {}
    created = []
    for logical in ordered:
        name = _physical_name(env_names[logical])
        url = sqs.create_queue(QueueName=name, Attributes=_queue_attributes(queues[logical], arns))["QueueUrl"]
        arns[logical] = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        created.append(name)
    return created


def _resolve_bucket_refs(value: Any, buckets: dict[str, str]) -> Any:
    """Resolve `Ref` and `Fn::Sub "${Bucket.Arn}..."` of the template's buckets in a policy document."""
    if isinstance(value, dict):
        if set(value) == {"Ref"}:
            return buckets[value["Ref"]]
        if set(value) == {"Fn::Sub"} and isinstance(value["Fn::Sub"], str):
            text = value["Fn::Sub"]
            for logical, name in buckets.items():
                arn = "${" + logical + ".Arn}"
                text = text.replace(arn, f"arn:aws:s3:::{name}").replace("${" + logical + "}", name)
            return text
        return {key: _resolve_bucket_refs(item, buckets) for key, item in value.items()}
    if isinstance(value, list):
        return [_resolve_bucket_refs(item, buckets) for item in value]
    return value


def create_buckets(s3: Any, template: dict[str, Any] | None = None) -> list[str]:
    """Create the template's S3 buckets that do not exist yet, with their bucket policies; answer their names."""
    template = template or load_template()
    env_names = resource_env_names(template)
    existing = {bucket["Name"] for bucket in s3.list_buckets().get("Buckets", [])}
    resources = template["Resources"]
    buckets = {
        logical: _physical_name(env_names[logical])
        for logical, resource in resources.items()
        if resource["Type"] == "AWS::S3::Bucket"
    }
    created = []
    for name in buckets.values():
        if name not in existing:
            s3.create_bucket(Bucket=name)
            created.append(name)
    for resource in resources.values():
        if resource["Type"] == "AWS::S3::BucketPolicy":
            props = _resolve_bucket_refs(resource["Properties"], buckets)
            s3.put_bucket_policy(Bucket=props["Bucket"], Policy=json.dumps(props["PolicyDocument"]))
    return created


def configure_notifications(s3: Any, sqs: Any, template: dict[str, Any] | None = None) -> list[str]:
    """Apply the buckets' queue notifications (the imports bucket -> imports queue); answer the buckets done.

    CloudFormation wires `NotificationConfiguration` to the queue's ARN; here the ARN is looked up by the
    queue's physical name, which the template gives the functions as an environment variable.
    """
    template = template or load_template()
    env_names = resource_env_names(template)
    configured = []
    for logical, resource in template["Resources"].items():
        notification = (
            resource["Properties"].get("NotificationConfiguration") if resource["Type"] == "AWS::S3::Bucket" else None
        )
        if not notification:
            continue
        queue_configurations = []
        for entry in notification.get("QueueConfigurations", []):
            queue_name = _physical_name(env_names[entry["Queue"]["Fn::GetAtt"][0]])
            url = sqs.get_queue_url(QueueName=queue_name)["QueueUrl"]
            arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            spec: dict[str, Any] = {"QueueArn": arn, "Events": [entry["Event"]]}
            if "Filter" in entry:
                spec["Filter"] = {"Key": {"FilterRules": entry["Filter"]["S3Key"]["Rules"]}}
            queue_configurations.append(spec)
        bucket = _physical_name(env_names[logical])
        s3.put_bucket_notification_configuration(
            Bucket=bucket, NotificationConfiguration={"QueueConfigurations": queue_configurations}
        )
        configured.append(bucket)
    return configured


def create_all() -> None:
    """Every resource of the template on the endpoint boto3 points at, and the SES sender identity."""
    import boto3

    from chalicelib.settings import settings

    create_tables(boto3.client("dynamodb"))
    create_queues(boto3.client("sqs"))
    create_buckets(boto3.client("s3"))
    configure_notifications(boto3.client("s3"), boto3.client("sqs"))
    # SES sends only from verified identities (moto enforces it too); in production this is a setup step.
    boto3.client("ses").verify_email_identity(EmailAddress=settings.ses_sender)
