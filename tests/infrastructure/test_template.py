"""template.yaml: linters clean, and the properties the design depends on asserted on the template itself."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode import decode

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
SQS_VISIBILITY_FACTOR = 6


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    decoded, errors = decode(str(TEMPLATE))
    assert not errors, errors
    assert decoded is not None
    return dict(decoded)


def resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {name: body for name, body in template["Resources"].items() if body["Type"] == kind}


def logical_id(reference: Any) -> str:
    """The resource a {"Fn::GetAtt": [...]} / {"Ref": ...} points at."""
    if "Fn::GetAtt" in reference:
        target = reference["Fn::GetAtt"]
        return str(target[0] if isinstance(target, list) else target.split(".")[0])
    return str(reference["Ref"])


def functions(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return resources(template, "AWS::Serverless::Function")


def function_timeout(template: dict[str, Any], body: dict[str, Any]) -> int:
    return int(body["Properties"].get("Timeout", template["Globals"]["Function"]["Timeout"]))


def sqs_event_sources(template: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (name, event["Properties"])
        for name, body in functions(template).items()
        for event in body["Properties"].get("Events", {}).values()
        if event["Type"] == "SQS"
    ]


def iam_statements(node: Any) -> list[dict[str, Any]]:
    """Every IAM statement anywhere under `node` (inline policies, managed policies, resource policies)."""
    found: list[dict[str, Any]] = []
    if isinstance(node, dict):
        if "Effect" in node and "Action" in node:
            found.append(node)
        for value in node.values():
            found.extend(iam_statements(value))
    elif isinstance(node, list):
        for value in node:
            found.extend(iam_statements(value))
    return found


def test_cfn_lint_reports_nothing() -> None:
    result = subprocess.run(
        [str(Path(sys.executable).parent / "cfn-lint"), str(TEMPLATE)],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_sam_validate_lint_passes() -> None:
    sam = Path(sys.executable).parent / "sam"
    env = {**os.environ, "AWS_DEFAULT_REGION": "us-east-1", "SAM_CLI_TELEMETRY": "0"}
    result = subprocess.run(
        [str(sam), "validate", "--lint", "--template-file", str(TEMPLATE)],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
        env=env,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_functions_run_python_312_or_newer_on_arm64(template: dict[str, Any]) -> None:
    defaults = template["Globals"]["Function"]
    for name, body in functions(template).items():
        runtime = body["Properties"].get("Runtime", defaults["Runtime"])
        architectures = body["Properties"].get("Architectures", defaults["Architectures"])
        major, minor = runtime.removeprefix("python").split(".")
        assert (int(major), int(minor)) >= (3, 12), name
        assert architectures == ["arm64"], name
        assert 1 <= function_timeout(template, body) <= 900, name


def test_handlers_point_at_the_function_packages(template: dict[str, Any]) -> None:
    for name, body in functions(template).items():
        module = body["Properties"]["Handler"].rsplit(".", 1)[0]
        assert (ROOT / (module.replace(".", "/") + ".py")).is_file(), name
        assert body["Metadata"]["BuildMethod"] == "makefile", name
        assert f"build-{name}:" in (ROOT / "Makefile").read_text(), name


def test_every_queue_is_encrypted_and_every_work_queue_has_a_dlq(template: dict[str, Any]) -> None:
    queues = resources(template, "AWS::SQS::Queue")
    dead_letter_queues = {
        logical_id(q["Properties"]["RedrivePolicy"]["deadLetterTargetArn"])
        for q in queues.values()
        if "RedrivePolicy" in q["Properties"]
    }
    for name, queue in queues.items():
        properties = queue["Properties"]
        assert properties.get("SqsManagedSseEnabled") is True or "KmsMasterKeyId" in properties, name
        if name in dead_letter_queues:
            continue
        redrive = properties["RedrivePolicy"]
        assert redrive["maxReceiveCount"] == 5, name
        assert logical_id(redrive["deadLetterTargetArn"]) in queues, name


def test_visibility_timeout_is_at_least_six_times_the_consumer_timeout(template: dict[str, Any]) -> None:
    queues = resources(template, "AWS::SQS::Queue")
    consumed = 0
    for body in functions(template).values():
        for event in body["Properties"].get("Events", {}).values():
            if event["Type"] != "SQS":
                continue
            queue = queues[logical_id(event["Properties"]["Queue"])]
            assert queue["Properties"]["VisibilityTimeout"] >= SQS_VISIBILITY_FACTOR * function_timeout(template, body)
            consumed += 1
    assert consumed == 4


def test_every_sqs_event_source_reports_batch_item_failures(template: dict[str, Any]) -> None:
    sources = sqs_event_sources(template)
    assert len(sources) == 4
    for name, properties in sources:
        assert properties["FunctionResponseTypes"] == ["ReportBatchItemFailures"], name


def test_salesforce_consumer_has_a_maximum_concurrency(template: dict[str, Any]) -> None:
    [properties] = [p for name, p in sqs_event_sources(template) if name == "SalesforceSyncFunction"]
    assert properties["ScalingConfig"]["MaximumConcurrency"] == {"Ref": "SalesforceMaxConcurrency"}
    assert template["Parameters"]["SalesforceMaxConcurrency"]["Default"] == 2


def test_no_iam_statement_grants_a_wildcard_action(template: dict[str, Any]) -> None:
    statements = iam_statements(template["Resources"])
    assert statements
    for statement in statements:
        if statement.get("Sid") == "AccountAdministration":
            continue  # the KMS key policy's standard root-account statement: required, or the key is unmanageable
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        if statement["Effect"] == "Deny":
            continue  # the TLS-only bucket policy denies every action on purpose
        for action in actions:
            assert "*" not in action, statement


def test_alert_rule_filters_on_the_hot_flag_and_rules_target_sqs_on_the_project_bus(template: dict[str, Any]) -> None:
    rules = resources(template, "AWS::Events::Rule")
    assert rules["HotLeadAlertRule"]["Properties"]["EventPattern"]["detail"] == {"hot": [True]}
    queues = resources(template, "AWS::SQS::Queue")
    for name, rule in rules.items():
        for target in rule["Properties"]["Targets"]:
            assert logical_id(target["Arn"]) in queues, name  # moto can only deliver rule targets to SQS
        if name != "SessionCreatedRule":
            assert rule["Properties"]["EventBusName"] == {"Fn::GetAtt": ["LeadsBus", "Name"]}, name


def test_session_rule_matches_object_created_under_sessions(template: dict[str, Any]) -> None:
    pattern = resources(template, "AWS::Events::Rule")["SessionCreatedRule"]["Properties"]["EventPattern"]
    assert pattern["detail-type"] == ["Object Created"]
    assert pattern["detail"]["object"]["key"] == [{"prefix": "sessions/"}]


def test_agent_policy_allows_only_put_object_under_sessions(template: dict[str, Any]) -> None:
    policy = resources(template, "AWS::IAM::ManagedPolicy")["AgentSessionWriterPolicy"]
    [statement] = policy["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Effect"] == "Allow"
    assert statement["Action"] == "s3:PutObject"
    assert statement["Resource"] == {"Fn::Sub": "${SessionsBucket.Arn}/sessions/*"}


def test_bucket_is_private_encrypted_versioned_tls_only_and_sends_events(template: dict[str, Any]) -> None:
    bucket = template["Resources"]["SessionsBucket"]["Properties"]
    assert bucket["NotificationConfiguration"]["EventBridgeConfiguration"]["EventBridgeEnabled"] is True
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert bucket["VersioningConfiguration"]["Status"] == "Enabled"
    [deny] = template["Resources"]["SessionsBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_idempotency_table_has_ttl_and_point_in_time_recovery(template: dict[str, Any]) -> None:
    table = template["Resources"]["IdempotencyTable"]["Properties"]
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expiration", "Enabled": True}
    assert table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True


def test_every_dlq_has_an_alarm_and_no_session_alarm_treats_silence_as_breaching(template: dict[str, Any]) -> None:
    alarms = resources(template, "AWS::CloudWatch::Alarm")
    watched = {
        logical_id(alarm["Properties"]["Dimensions"][0]["Value"])
        for alarm in alarms.values()
        if alarm["Properties"]["MetricName"] == "ApproximateNumberOfMessagesVisible"
    }
    assert watched == {name for name in resources(template, "AWS::SQS::Queue") if name.endswith("DeadLetterQueue")}
    no_sessions = alarms["NoNewSessionsAlarm"]["Properties"]
    assert no_sessions["TreatMissingData"] == "breaching"
    assert no_sessions["MetricName"] == "SessionsReceived"


def test_glue_tables_project_year_month_day_partitions(template: dict[str, Any]) -> None:
    for name in ("SessionsTable", "ScoredTable"):
        table = template["Resources"][name]["Properties"]["TableInput"]
        parameters = table["Parameters"]
        assert parameters["projection.enabled"] == "true"
        assert [key["Name"] for key in table["PartitionKeys"]] == ["year", "month", "day"]
        assert "year=${!year}/month=${!month}/day=${!day}/" in parameters["storage.location.template"]["Fn::Sub"]
    assert len(resources(template, "AWS::Athena::NamedQuery")) == 4
