"""template.yaml's side of the agent's `session_analytics` log line: the saved Logs Insights queries and dashboard
widgets read fields the line has (agent/analytics_log.py), the hot-lead rate counts the calls scoring calls hot, and
the optional stream to S3 is off by default, ships only those lines, and its roles reach one resource each."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any, get_args, get_origin

import pytest
from pydantic import BaseModel

from agent.analytics_log import EVENT_TYPE, SessionAnalytics
from functions.common.scoring import HotThresholds, is_hot
from tests.samples import example_record
from voice_analytics.template import deployed_resources, load_template, resolve

AGENT_LOG_GROUP = {"Fn::If": ["CreateAgentLogGroup", {"Ref": "AgentLogGroup"}, {"Ref": "AgentLogGroupName"}]}
STREAM_RESOURCES = {
    "SessionAnalyticsDeliveryStream",
    "SessionAnalyticsDeliveryRole",
    "SessionAnalyticsSubscriptionRole",
    "SessionAnalyticsSubscriptionFilter",
}
# Logs Insights words that are not fields.
KEYWORDS = {"fields", "filter", "stats", "sort", "limit", "desc", "asc", "and", "or", "not", "in", "as", "by"}
THRESHOLDS = {"HotTeamSize": "5", "HotMonthlyVolume": "100"}


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template()


def _resolved(node: Any) -> Any:
    """Template text with the hot thresholds at their defaults and other references as placeholders."""
    return resolve(
        node,
        ref=lambda name: THRESHOLDS.get(name, "/voice-analytics/agent-dev" if "Agent" in name else name),
        get_att=lambda logical, attribute: f"{logical}-{attribute}",
        condition=lambda name: name == "CreateAgentLogGroup",
    )


def _agent_queries(template: dict[str, Any]) -> dict[str, str]:
    """Saved query name -> query text, for the queries over the agent's log group."""
    return {
        _resolved(body["Properties"]["Name"]).split("/", 1)[1]: _resolved(body["Properties"]["QueryString"])
        for body in template["Resources"].values()
        if body["Type"] == "AWS::Logs::QueryDefinition" and body["Properties"]["LogGroupNames"] == [AGENT_LOG_GROUP]
    }


def _dashboard_log_widgets(template: dict[str, Any]) -> dict[str, str]:
    body = json.loads(_resolved(template["Resources"]["Dashboard"]["Properties"]["DashboardBody"]))
    return {
        widget["properties"]["title"]: widget["properties"]["query"]
        for widget in body["widgets"]
        if widget["type"] == "log"
    }


def _line_paths(model: type[BaseModel], prefix: str = "") -> Iterator[str]:
    """Every field path of the line as Logs Insights names it (JSON keys joined by dots, list items by index)."""
    for name, field in model.model_fields.items():
        path = prefix + (field.serialization_alias or name)
        yield path
        annotation = field.annotation
        for candidate in (annotation, *get_args(annotation)):
            if get_origin(candidate) is list:
                yield f"{path}.0"
                [item] = get_args(candidate)
                if isinstance(item, type) and issubclass(item, BaseModel):
                    yield from _line_paths(item, f"{path}.0.")
            elif isinstance(candidate, type) and issubclass(candidate, BaseModel):
                yield from _line_paths(candidate, f"{path}.")


def _fields_named(query: str) -> set[str]:
    """The fields a Logs Insights query reads: identifiers, less strings, keywords, functions, @-fields and the
    aliases it defines itself."""
    text = re.sub(r"\"[^\"]*\"|'[^']*'", " ", query)
    aliases = set(re.findall(r"\bas\s+([A-Za-z_]\w*)", text))
    names = set()
    for match in re.finditer(r"(?<![\w.@])([A-Za-z_]\w*(?:\.\w+)*)(\s*\()?", text):
        name, call = match.groups()
        if call or name in KEYWORDS or name in aliases or name == "SOURCE":
            continue
        names.add(name)
    return names


def test_saved_queries_over_the_agents_lines_cover_hot_leads_signals_tools_and_calls_per_hour(
    template: dict[str, Any],
) -> None:
    queries = _agent_queries(template)

    assert {"hot-leads", "signal-coverage", "tool-success", "calls-per-hour"} <= set(queries)
    for name, query in queries.items():
        assert f'_event_type = "{EVENT_TYPE}"' in query, name
    assert "signals.team_size >= 5 or signals.monthly_volume >= 100" in queries["hot-leads"]  # HotThresholds' defaults
    functions_query = template["Resources"]["FunctionProblemsQuery"]["Properties"]
    assert len(functions_query["LogGroupNames"]) == 4 and "level in" in functions_query["QueryString"]


def test_queries_and_widgets_read_only_fields_the_line_has(template: dict[str, Any]) -> None:
    """Renaming or dropping a field of the line fails this until every query and widget follows."""
    paths = set(_line_paths(SessionAnalytics))
    texts = {**_agent_queries(template), **_dashboard_log_widgets(template)}

    assert len(_dashboard_log_widgets(template)) == 3
    for name, query in texts.items():
        named = _fields_named(query)
        assert named, name
        assert named <= paths, (name, named - paths)
    assert {"signals.integrations.0", "tool_calls_succeeded", "duration_s"} <= set().union(
        *map(_fields_named, texts.values())
    )


def _dashboard_hot_flag(template: dict[str, Any], team_size: int | None, monthly_volume: int | None) -> int:
    """The widget's `hot` expression evaluated for one line: its Logs Insights functions are Python's here
    (greatest = max, least = min, coalesce = the first non-null)."""
    [query] = [query for title, query in _dashboard_log_widgets(template).items() if title.startswith("Hot-lead rate")]
    [expression] = re.findall(r"\| fields (.+) as hot \|", query)
    python = expression.replace("greatest(", "max(").replace("least(", "min(").replace("coalesce(", "_coalesce(")
    python = python.replace("signals.team_size", "team_size").replace("signals.monthly_volume", "monthly_volume")
    assert re.fullmatch(r"[\w\s(),+\-]+", python), python  # nothing but names, numbers, calls and + -
    scope = {
        "max": max,
        "min": min,
        "_coalesce": lambda value, default: default if value is None else value,
        "team_size": team_size,
        "monthly_volume": monthly_volume,
    }
    return int(eval(python, {"__builtins__": {}}, scope))


@pytest.mark.parametrize(
    ("team_size", "monthly_volume"),
    [(None, None), (4, None), (5, None), (1, 99), (1, 100), (None, 0), (None, 5000), (40, 400), (1, 0)],
)
def test_the_dashboards_hot_lead_rate_counts_exactly_the_calls_scoring_calls_hot(
    template: dict[str, Any], team_size: int | None, monthly_volume: int | None
) -> None:
    record = example_record(signals={"team_size": team_size, "monthly_volume": monthly_volume})
    assert _dashboard_hot_flag(template, team_size, monthly_volume) == int(is_hot(record, HotThresholds()))


def test_the_stream_to_s3_is_off_by_default(template: dict[str, Any]) -> None:
    assert not STREAM_RESOURCES & set(deployed_resources(template))
    assert set(deployed_resources(template, {"SessionAnalyticsStream": "true"})) >= STREAM_RESOURCES
    assert "AgentLogGroup" not in deployed_resources(template, {"AgentLogGroupName": "/livekit/agents"})


def test_the_stream_ships_only_analytics_lines_gzip_buffered_60_s_or_1_mb_under_stream(
    template: dict[str, Any],
) -> None:
    deployed = deployed_resources(template, {"SessionAnalyticsStream": "true"})
    subscription = deployed["SessionAnalyticsSubscriptionFilter"]["Properties"]
    assert subscription["FilterPattern"] == f'{{ $._event_type = "{EVENT_TYPE}" }}'
    assert subscription["LogGroupName"] == {"Ref": "AgentLogGroup"}
    assert subscription["DestinationArn"] == {"Fn::GetAtt": ["SessionAnalyticsDeliveryStream", "Arn"]}
    stream = deployed["SessionAnalyticsDeliveryStream"]["Properties"]
    destination = stream["ExtendedS3DestinationConfiguration"]
    assert destination["BucketARN"] == {"Fn::GetAtt": ["SessionsBucket", "Arn"]}
    assert destination["Prefix"].startswith("stream/") and destination["ErrorOutputPrefix"].startswith("stream-errors/")
    assert destination["CompressionFormat"] == "GZIP"
    assert destination["BufferingHints"] == {"IntervalInSeconds": 60, "SizeInMBs": 1}
    # CloudWatch Logs sends gzip batches of events: unpacked and reduced to our lines before Firehose's own GZIP.
    processors = [processor["Type"] for processor in destination["ProcessingConfiguration"]["Processors"]]
    assert processors == ["Decompression", "CloudWatchLogProcessing", "AppendDelimiterToRecord"]
    assert stream["DeliveryStreamEncryptionConfigurationInput"] == {"KeyType": "AWS_OWNED_CMK"}


def _grants(role: dict[str, Any]) -> set[tuple[str, str]]:
    grants = set()
    for policy in role["Properties"]["Policies"]:
        for statement in policy["PolicyDocument"]["Statement"]:
            assert statement["Effect"] == "Allow"
            resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            for action in statement["Action"]:
                for resource in resources:
                    grants.add((action, json.dumps(resource, sort_keys=True)))
    return grants


def test_the_streams_roles_are_trusted_by_their_service_only_and_reach_one_resource_each(
    template: dict[str, Any],
) -> None:
    deployed = deployed_resources(template, {"SessionAnalyticsStream": "true"})
    delivery, subscription = deployed["SessionAnalyticsDeliveryRole"], deployed["SessionAnalyticsSubscriptionRole"]
    [trust] = delivery["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "firehose.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
    [trust] = subscription["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "logs.amazonaws.com"}
    bucket = json.dumps({"Fn::GetAtt": ["SessionsBucket", "Arn"]}, sort_keys=True)
    objects = {json.dumps({"Fn::Sub": f"${{SessionsBucket.Arn}}/{prefix}/*"}) for prefix in ("stream", "stream-errors")}
    assert _grants(delivery) == {
        *{(action, key) for action in ("s3:PutObject", "s3:AbortMultipartUpload") for key in objects},
        *{(action, bucket) for action in ("s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads")},
    }
    stream = json.dumps({"Fn::GetAtt": ["SessionAnalyticsDeliveryStream", "Arn"]}, sort_keys=True)
    assert _grants(subscription) == {("firehose:PutRecord", stream), ("firehose:PutRecordBatch", stream)}
