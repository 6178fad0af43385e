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
    """Logical resource id -> the environment variable that carries its physical name."""
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    return {value["Ref"]: name for name, value in variables.items() if isinstance(value, dict) and "Ref" in value}


def table_definitions(template: dict[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    """Physical table name -> the table's CloudFormation properties."""
    template = template or load_template()
    env_names = resource_env_names(template)
    tables = {}
    for logical, resource in template["Resources"].items():
        if resource["Type"] == "AWS::DynamoDB::Table":
            name = os.environ.get(env_names[logical]) or stage_environment()[env_names[logical]]
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
        dynamodb.create_table(**spec)
        ttl = props.get("TimeToLiveSpecification")
        if ttl:
            dynamodb.update_time_to_live(TableName=name, TimeToLiveSpecification=ttl)
        created.append(name)
    return created
