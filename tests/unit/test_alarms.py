"""The deployable template alarms on every DLQ's depth, every function's errors and throttles, and API 5xx."""

from __future__ import annotations

from typing import Any

from chalice.utils import to_cfn_resource_name

import app as application
from devstack.resources import load_template


def _alarms(template: dict[str, Any]) -> list[dict[str, Any]]:
    return [r["Properties"] for r in template["Resources"].values() if r["Type"] == "AWS::CloudWatch::Alarm"]


def _watched(alarms: list[dict[str, Any]], metric: str) -> list[Any]:
    return [d["Value"] for a in alarms if a["MetricName"] == metric for d in a["Dimensions"]]


def test_every_dead_letter_queue_has_a_depth_alarm() -> None:
    template = load_template()
    dead_letter_queues = {
        q["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
        for q in template["Resources"].values()
        if q["Type"] == "AWS::SQS::Queue" and "RedrivePolicy" in q.get("Properties", {})
    }
    assert dead_letter_queues, "the events queue has a DLQ"
    watched = _watched(_alarms(template), "ApproximateNumberOfMessagesVisible")
    for queue in dead_letter_queues:
        assert {"Fn::GetAtt": [queue, "QueueName"]} in watched, queue


def test_every_function_has_error_and_throttle_alarms() -> None:
    functions = (
        {"APIHandler"}
        | {to_cfn_resource_name(source.name) for source in application.app.event_sources}
        | {to_cfn_resource_name(f.name) for f in application.app.pure_lambda_functions}
    )
    alarms = _alarms(load_template())
    for metric in ("Errors", "Throttles"):
        watched = _watched(alarms, metric)
        for function in functions:
            assert {"Ref": function} in watched, (function, metric)


def test_api_5xx_alarm_watches_the_deployed_stage_and_every_alarm_notifies_the_topic() -> None:
    alarms = _alarms(load_template())
    [api] = [a for a in alarms if a["MetricName"] == "5XXError"]
    assert {d["Name"]: d["Value"] for d in api["Dimensions"]} == {"ApiName": "contacts-api", "Stage": "v1"}
    for alarm in alarms:
        assert alarm["AlarmActions"] == [{"Ref": "AlarmTopic"}]
