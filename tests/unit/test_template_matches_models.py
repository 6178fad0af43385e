"""The tables the deployable template declares are exactly the tables the PynamoDB models use."""

from __future__ import annotations

import json
from typing import Any

from pynamodb.models import Model

from chalicelib.repository import models
from chalicelib.repository.models import ALL_MODELS, TTL_ATTRIBUTE
from devstack.resources import ROOT, load_template, resource_env_names, stage_environment


def _template_tables() -> dict[str, dict[str, Any]]:
    template = load_template()
    env = stage_environment("dev")
    names = resource_env_names(template)
    return {
        env[names[logical]]: resource["Properties"]
        for logical, resource in template["Resources"].items()
        if resource["Type"] == "AWS::DynamoDB::Table"
    }


def _model_schema(model: type[Model]) -> dict[str, Any]:
    schema = model._get_schema()
    keys = {k["AttributeName"]: k["KeyType"] for k in schema["key_schema"]}
    types = {a["AttributeName"]: a["AttributeType"] for a in schema["attribute_definitions"]}
    indexes = {
        index["index_name"]: {k["AttributeName"]: k["KeyType"] for k in index["key_schema"]}
        for index in schema.get("global_secondary_indexes", [])
    }
    return {"keys": keys, "types": types, "indexes": indexes}


def _template_schema(props: dict[str, Any]) -> dict[str, Any]:
    keys = {k["AttributeName"]: k["KeyType"] for k in props["KeySchema"]}
    types = {a["AttributeName"]: a["AttributeType"] for a in props["AttributeDefinitions"]}
    indexes = {
        index["IndexName"]: {k["AttributeName"]: k["KeyType"] for k in index["KeySchema"]}
        for index in props.get("GlobalSecondaryIndexes", [])
    }
    return {"keys": keys, "types": types, "indexes": indexes}


def test_every_model_table_is_declared_with_the_same_keys_and_indexes():
    declared = _template_tables()
    for model in ALL_MODELS:
        name = model.Meta.table_name
        assert name in declared, f"{name} is used by {model.__name__} but not declared in the template"
        assert _template_schema(declared[name]) == _model_schema(model), name


def test_the_template_declares_no_table_without_a_model():
    used = {model.Meta.table_name for model in ALL_MODELS}
    assert set(_template_tables()) == used


def _ttl_attributes_used_by_models() -> dict[str, str]:
    """Table -> "expiresAt" for every table some item model stores an `expiresAt` in."""
    used = {}
    for item_class in vars(models).values():
        if isinstance(item_class, type) and issubclass(item_class, Model) and item_class is not Model:
            for attribute in item_class.get_attributes().values():
                if attribute.attr_name == TTL_ATTRIBUTE:
                    used[item_class.Meta.table_name] = TTL_ATTRIBUTE
    return used


def test_ttl_attributes_match():
    declared = {}
    for name, props in _template_tables().items():
        ttl = props.get("TimeToLiveSpecification")
        if ttl and ttl.get("Enabled"):
            declared[name] = ttl["AttributeName"]
    assert declared == _ttl_attributes_used_by_models()


def test_tables_are_on_demand_with_point_in_time_recovery():
    for name, props in _template_tables().items():
        assert props["BillingMode"] == "PAY_PER_REQUEST", name
        assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True, name


def test_every_stage_of_config_names_every_table_or_takes_it_from_the_template():
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    variables = set(load_template()["Globals"]["Function"]["Environment"]["Variables"])
    dev = set(config["stages"]["dev"]["environment_variables"])
    assert variables <= dev, "the local stack needs a physical name for every resource"
    # In prod the names come from CloudFormation (Refs); a literal there would point at a wrong table.
    assert not variables & set(config["stages"]["prod"]["environment_variables"])
