"""template.yaml: the properties the design depends on, asserted on the template and on its SAM translation.

The linters run in `make template-check` (cfn-lint; `sam validate --lint` and checkov from the tools/
environment), not here: these tests read the template with voice_analytics/template.py (short tags become their long
form; the local stack, the cost model and the query views read it the same way), translate it with the SAM
translator as `sam deploy` would, and take about a second.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from functions.common import settings as settings_module
from functions.common.scoring import HotThresholds
from tests.infrastructure import policy
from voice_analytics.template import fold_conditions, load_template, translate, with_code_uri

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
SQS_VISIBILITY_FACTOR = 6
SQS_MAX_RETENTION_SECONDS = 14 * 24 * 60 * 60
ACCOUNT_ROOT = {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}
NO_VALUE = {"Ref": "AWS::NoValue"}
# Read by Powertools itself, not by our settings models.
POWERTOOLS_VARIABLES = {"POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE"}
# Settings that exist for the local stack only and must never be set in AWS.
LOCAL_ONLY_FIELDS = {"salesforce_ca_bundle"}
# Parameters that name a deployment (its stage, its secrets), where the code's default names the local one on purpose
# (functions/common/settings.py: "defaults suit a local run"): not thresholds, so they differ by design.
DEPLOYMENT_NAMES = {"Stage", "SalesforceSecretName", "AmplitudeSecretName"}
# Every checkov suppression is reviewed: a new one needs its id here (and its reason in the template).
REVIEWED_CHECKOV_SKIPS = {
    "CKV_AWS_18": {"AWS::S3::Bucket"},
    "CKV_AWS_116": {"AWS::Serverless::Function"},
    "CKV_AWS_117": {"AWS::Serverless::Function"},
    "CKV_AWS_173": {"AWS::Serverless::Function"},
    "CKV_AWS_27": {"AWS::SQS::Queue"},
    "CKV_AWS_119": {"AWS::DynamoDB::Table"},
    "CKV_AWS_26": {"AWS::SNS::Topic"},
    "CKV_AWS_158": {"AWS::Logs::LogGroup"},
}
# The optional session_analytics log stream's roles (Firehose's, and CloudWatch Logs' to put to it).
LOG_STREAM_ROLES = {"SessionAnalyticsDeliveryRole", "SessionAnalyticsSubscriptionRole"}
# Optional organisation keys: empty by default (no KMS key in the stack), a key ARN when set.
KEY_PARAMETERS = {
    "AlarmTopicKmsKeyArn": "HasAlarmTopicKey",
    "HotLeadTopicKmsKeyArn": "HasHotLeadTopicKey",
    "LogsKmsKeyArn": "HasLogsKey",
    "DataKmsKeyArn": "HasDataKey",
}


# ---------------------------------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template(TEMPLATE)


@pytest.fixture(scope="module")
def translated(template: dict[str, Any]) -> dict[str, Any]:
    """The template as plain CloudFormation, translated by the SAM translator as `sam deploy` would."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        return translate(with_code_uri(template, "s3://artifacts/function.zip"), {})


# ---------------------------------------------------------------------------------------------------- helpers


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


def consumers(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The functions fed by an SQS queue (every function but the scheduled compaction)."""
    return {
        name: body
        for name, body in functions(template).items()
        if any(event["Type"] == "SQS" for event in body["Properties"].get("Events", {}).values())
    }


def function_timeout(template: dict[str, Any], body: dict[str, Any]) -> int:
    return int(body["Properties"].get("Timeout", template["Globals"]["Function"]["Timeout"]))


def package_name(body: dict[str, Any]) -> str:
    """functions.score_lead.handler.lambda_handler -> score_lead"""
    return str(body["Properties"]["Handler"].split(".")[1])


def sqs_event_sources(template: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (name, event["Properties"])
        for name, body in functions(template).items()
        for event in body["Properties"].get("Events", {}).values()
        if event["Type"] == "SQS"
    ]


def consumed_queue(template: dict[str, Any], function: str) -> str:
    [queue] = [logical_id(p["Queue"]) for name, p in sqs_event_sources(template) if name == function]
    return queue


def dead_letter_target(template: dict[str, Any], queue: str) -> str:
    return logical_id(template["Resources"][queue]["Properties"]["RedrivePolicy"]["deadLetterTargetArn"])


def function_environment(template: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    return {
        **template["Globals"]["Function"]["Environment"]["Variables"],
        **body["Properties"].get("Environment", {}).get("Variables", {}),
    }


def settings_model(body: dict[str, Any]) -> type[BaseModel]:
    """score_lead -> functions.common.settings.ScoreLeadSettings (the model the handler loads)."""
    name = "".join(part.capitalize() for part in package_name(body).split("_")) + "Settings"
    model = getattr(settings_module, name)
    assert issubclass(model, BaseModel)
    return model


def if_condition_true(value: Any, condition: str) -> Any:
    """The value of {"Fn::If": [condition, when_true, NoValue]} when the condition holds."""
    assert isinstance(value, dict) and list(value) == ["Fn::If"], value
    name, when_true, when_false = value["Fn::If"]
    assert name == condition
    assert when_false == NO_VALUE
    return when_true


def iam_statements(node: Any) -> Iterator[dict[str, Any]]:
    """Every IAM statement anywhere under `node` (inline policies, managed policies, resource policies)."""
    if isinstance(node, dict):
        if "Effect" in node and "Action" in node:
            yield node
        for value in node.values():
            yield from iam_statements(value)
    elif isinstance(node, list):
        for value in node:
            yield from iam_statements(value)


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


# ---------------------------------------------------------------------------------------------------- functions


def test_functions_run_python_312_or_newer_on_arm64(template: dict[str, Any]) -> None:
    defaults = template["Globals"]["Function"]
    assert functions(template)
    for name, body in functions(template).items():
        runtime = body["Properties"].get("Runtime", defaults["Runtime"])
        architectures = body["Properties"].get("Architectures", defaults["Architectures"])
        major, minor = runtime.removeprefix("python").split(".")
        assert (int(major), int(minor)) >= (3, 12), name
        assert architectures == ["arm64"], name
        assert 1 <= function_timeout(template, body) <= 900, name  # cfn-lint does not check these in SAM


def test_handlers_point_at_the_function_packages(template: dict[str, Any]) -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    for name, body in functions(template).items():
        module = body["Properties"]["Handler"].rsplit(".", 1)[0]
        assert (ROOT / (module.replace(".", "/") + ".py")).is_file(), name
        assert body["Metadata"]["BuildMethod"] == "makefile", name
        assert f"build-{name}:\n\t$(call build-lambda,{package_name(body)})" in makefile, name


def test_function_environment_matches_the_settings_model(template: dict[str, Any]) -> None:
    """Every variable is a field of the handler's settings model (no typo is silently ignored), and every field
    whose default only suits a local run (names ending in "local") is set by the template."""
    for name, body in functions(template).items():
        model = settings_model(body)
        environment = function_environment(template, body)
        variables = set(environment) - POWERTOOLS_VARIABLES
        fields = {field.upper() for field in model.model_fields}
        assert variables <= fields, f"{name}: not settings fields: {sorted(variables - fields)}"
        local_placeholders = {
            field.upper()
            for field, info in model.model_fields.items()
            if isinstance(info.default, str) and "local" in info.default
        }
        assert local_placeholders <= variables, f"{name}: left at local defaults: {local_placeholders - variables}"
        assert not {field.upper() for field in LOCAL_ONLY_FIELDS} & variables, name
        assert environment["POWERTOOLS_SERVICE_NAME"] == package_name(body), name


def test_parameters_behind_function_settings_are_valid_setting_values(template: dict[str, Any]) -> None:
    """A parameter's default, allowed values and bounds all pass the settings model's own validation."""
    parameters = template["Parameters"]
    checked = 0
    for name, body in functions(template).items():
        model = settings_model(body)
        for variable, value in function_environment(template, body).items():
            field = variable.lower()
            if field not in model.model_fields or not (isinstance(value, dict) and value.get("Ref") in parameters):
                continue
            spec = parameters[value["Ref"]]
            candidates = [
                spec.get("Default"),
                *spec.get("AllowedValues", []),
                spec.get("MinValue"),
                spec.get("MaxValue"),
            ]
            for candidate in (c for c in candidates if c is not None):
                try:
                    model.model_validate({field: str(candidate)})
                except ValidationError as error:  # pragma: no cover - the failure message is the point
                    pytest.fail(f"{name}: {variable}={candidate!r} (from {value['Ref']}) is rejected: {error}")
                checked += 1
    assert checked >= 10


def test_parameter_defaults_equal_the_code_defaults_of_the_settings_they_feed(template: dict[str, Any]) -> None:
    """A threshold or default that exists twice (a template parameter and the settings field it sets) is the same
    in both: a local run, the tests and a deployment with default parameters behave alike. HotThresholds() (the
    scoring rules' own defaults) is the same pair of thresholds."""
    parameters = template["Parameters"]
    compared: dict[str, Any] = {}
    for name, body in functions(template).items():
        model = settings_model(body)
        for variable, value in function_environment(template, body).items():
            if not (isinstance(value, dict) and value.get("Ref") in parameters):
                continue
            parameter, field = value["Ref"], variable.lower()
            assert field in model.model_fields, f"{name}: {variable} (from {parameter}) is no settings field"
            in_code = model.model_fields[field].default
            if parameter in DEPLOYMENT_NAMES:
                assert "local" in str(in_code), f"{parameter}: exempt as a deployment name, but {field}={in_code!r}"
                continue
            from_template = getattr(model.model_validate({field: str(parameters[parameter]["Default"])}), field)
            assert from_template == in_code, (
                f"{name}: template parameter {parameter} defaults to {parameters[parameter]['Default']!r}, "
                f"but {model.__name__}.{field} defaults to {in_code!r}"
            )
            compared[parameter] = in_code
    assert {"HotTeamSize", "HotMonthlyVolume", "MaxRecordBytes", "LlmScoringEnabled", "LlmModelId", "LogLevel"} <= set(
        compared
    )
    rules = HotThresholds()
    assert (rules.team_size, rules.monthly_volume) == (compared["HotTeamSize"], compared["HotMonthlyVolume"])


def test_documented_parameter_defaults_are_the_templates(template: dict[str, Any]) -> None:
    """docs/backend.md's parameter table lists every parameter with the template's default."""
    rows = re.findall(r"^\| `(\w+)` \| ([^|]+) \|", (ROOT / "docs" / "backend.md").read_text(encoding="utf-8"), re.M)
    documented = {name: default.strip() for name, default in rows if name in template["Parameters"]}
    assert documented.keys() == template["Parameters"].keys()
    for name, spec in template["Parameters"].items():
        default = str(spec.get("Default", ""))
        assert documented[name] == (f"`{default}`" if default else "empty"), name


def test_dead_letter_queue_url_is_the_functions_own_dlq(template: dict[str, Any]) -> None:
    for name, body in consumers(template).items():
        variable = function_environment(template, body)["DEAD_LETTER_QUEUE_URL"]
        assert logical_id(variable) == dead_letter_target(template, consumed_queue(template, name)), name


# ---------------------------------------------------------------------------------------------------- queues


def test_every_queue_is_encrypted_and_every_work_queue_has_its_own_dlq(template: dict[str, Any]) -> None:
    queues = resources(template, "AWS::SQS::Queue")
    work_queues = {name for name, queue in queues.items() if "RedrivePolicy" in queue["Properties"]}
    targets = [dead_letter_target(template, name) for name in sorted(work_queues)]
    assert len(set(targets)) == len(targets) == len(work_queues), "each work queue needs a DLQ of its own"
    assert set(targets) | work_queues == set(queues), "every queue is a work queue or a DLQ"
    for name, queue in queues.items():
        properties = queue["Properties"]
        assert properties.get("SqsManagedSseEnabled") is True or "KmsMasterKeyId" in properties, name
    for name in work_queues:
        properties = queues[name]["Properties"]
        assert properties["RedrivePolicy"]["maxReceiveCount"] == 5, name
        dead_letter = queues[dead_letter_target(template, name)]["Properties"]
        assert "RedrivePolicy" not in dead_letter, name
        # Standard queues keep the original enqueue time on redrive: the DLQ must keep messages at least as long.
        assert dead_letter["MessageRetentionPeriod"] == SQS_MAX_RETENTION_SECONDS, name
        assert dead_letter["MessageRetentionPeriod"] >= properties["MessageRetentionPeriod"], name


def test_every_work_queue_has_one_consumer_and_visibility_is_six_times_its_timeout(template: dict[str, Any]) -> None:
    queues = resources(template, "AWS::SQS::Queue")
    work_queues = {name for name, queue in queues.items() if "RedrivePolicy" in queue["Properties"]}
    consumed = [consumed_queue(template, name) for name in consumers(template)]
    assert sorted(consumed) == sorted(work_queues)
    for name, body in consumers(template).items():
        queue = queues[consumed_queue(template, name)]
        assert queue["Properties"]["VisibilityTimeout"] >= SQS_VISIBILITY_FACTOR * function_timeout(template, body)


def test_every_sqs_event_source_reports_batch_item_failures(template: dict[str, Any]) -> None:
    sources = sqs_event_sources(template)
    assert len(sources) == len(consumers(template)) == 4
    for name, properties in sources:
        assert properties["FunctionResponseTypes"] == ["ReportBatchItemFailures"], name
        assert 1 <= properties["BatchSize"] <= 10, name  # above 10 needs a batching window and changes semantics


def test_reserved_concurrency_equals_each_event_sources_maximum_concurrency(template: dict[str, Any]) -> None:
    """Pollers are capped (MaximumConcurrency) and, when reserved, never throttled (reserved >= maximum): a
    throttled batch counts as a receive and would drift towards the DLQ."""
    assert template["Conditions"]["ReservedConcurrency"] == {"Fn::Equals": [{"Ref": "ReserveConcurrency"}, "true"]}
    assert template["Parameters"]["ReserveConcurrency"]["Default"] == "true"
    reserved_total = 0
    for name, properties in sqs_event_sources(template):
        maximum = properties["ScalingConfig"]["MaximumConcurrency"]
        reserved = if_condition_true(
            functions(template)[name]["Properties"]["ReservedConcurrentExecutions"], "ReservedConcurrency"
        )
        assert reserved == maximum, name
        if isinstance(maximum, dict):
            maximum = template["Parameters"][maximum["Ref"]]["Default"]
        assert 2 <= maximum <= 1000, name  # AWS's bounds for an SQS event source
        reserved_total += maximum
    # The daily compaction: one run at a time.
    reserved_total += if_condition_true(
        functions(template)["CompactFunction"]["Properties"]["ReservedConcurrentExecutions"], "ReservedConcurrency"
    )
    assert reserved_total == 15  # stated in the ReserveConcurrency description and docs/backend.md


def test_salesforce_consumer_concurrency_comes_from_its_parameter(template: dict[str, Any]) -> None:
    [properties] = [p for name, p in sqs_event_sources(template) if name == "SalesforceSyncFunction"]
    assert properties["ScalingConfig"]["MaximumConcurrency"] == {"Ref": "SalesforceMaxConcurrency"}
    assert template["Parameters"]["SalesforceMaxConcurrency"]["Default"] == 2


def test_translated_event_source_mappings_keep_failures_and_concurrency(translated: dict[str, Any]) -> None:
    mappings = resources(translated, "AWS::Lambda::EventSourceMapping")
    assert len(mappings) == 4
    for name, mapping in mappings.items():
        properties = mapping["Properties"]
        assert properties["FunctionResponseTypes"] == ["ReportBatchItemFailures"], name
        assert "MaximumConcurrency" in properties["ScalingConfig"], name
    for name, function in resources(translated, "AWS::Lambda::Function").items():
        assert "ReservedConcurrentExecutions" in function["Properties"], name


# ---------------------------------------------------------------------------------------------------- IAM


def _non_admin_statements(template: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, body in template["Resources"].items():
        for statement in iam_statements(body.get("Properties", {})):
            if body["Type"] == "AWS::KMS::Key" and statement.get("Principal") == {"AWS": ACCOUNT_ROOT}:
                continue  # a key policy's root-account statement: required, or the key is unmanageable
            if statement["Effect"] == "Deny":
                continue  # the TLS-only bucket policy denies every action on purpose
            yield name, statement


@pytest.mark.parametrize("form", ["template", "translated"])
def test_no_iam_statement_grants_a_wildcard_action(form: str, request: pytest.FixtureRequest) -> None:
    """Checked on the SAM template and on its translation, where SAM policy templates are expanded (e.g.
    SQSSendMessagePolicy would grant sqs:SendMessage*)."""
    document = request.getfixturevalue(form)
    statements = list(_non_admin_statements(document))
    assert len(statements) >= 10
    for name, statement in statements:
        for action in as_list(statement["Action"]):
            assert "*" not in action, (name, statement)


def test_agent_policy_allows_only_create_only_puts_under_sessions(template: dict[str, Any]) -> None:
    """The statements' shape; what they allow and deny is evaluated in test_policies.py."""
    policy_document = resources(template, "AWS::IAM::ManagedPolicy")["AgentSessionWriterPolicy"]["Properties"]
    allow, deny, data_key = policy_document["PolicyDocument"]["Statement"]
    assert allow == {
        "Sid": "PutSessionRecords",
        "Effect": "Allow",
        "Action": "s3:PutObject",
        "Resource": {"Fn::Sub": "${SessionsBucket.Arn}/sessions/*"},
    }
    assert deny["Effect"] == "Deny" and deny["Action"] == "s3:PutObject"
    assert deny["Condition"] == {"Null": {"s3:if-none-match": "true"}, "Bool": {"s3:ObjectCreationOperation": "true"}}
    assert if_condition_true(data_key, "HasDataKey")["Action"] == "kms:GenerateDataKey"  # encrypt, never decrypt


# Least privilege per function: every (action, resource, condition) a function's role allows, written out. A new
# permission must be added here on purpose; anything the role grants beyond this fails the test.
QUEUE_CONSUMER_ACTIONS = ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes")
IDEMPOTENCY_ACTIONS = ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem")
LOG_ACTIONS = ("logs:CreateLogStream", "logs:PutLogEvents")
# No resource type in IAM: AWS accepts only "*" for these (the one documented exception to named resources).
XRAY_ACTIONS = ("xray:PutTraceSegments", "xray:PutTelemetryRecords")
SESSIONS_BUCKET = "${SessionsBucket.Arn}"
NO_CONDITION = ""
Grant = tuple[str, str, str]


def _condition(condition: dict[str, Any] | None) -> str:
    return json.dumps(condition, sort_keys=True) if condition else NO_CONDITION


def _resource_name(value: Any) -> str:
    """A readable, comparable form of a Resource: "Queue.Arn", "Ref(Topic)", or the Fn::Sub / literal string."""
    if isinstance(value, str):
        return value
    if "Fn::GetAtt" in value:
        target = value["Fn::GetAtt"]
        return ".".join(target) if isinstance(target, list) else str(target)
    if "Ref" in value:
        return f"Ref({value['Ref']})"
    if "Fn::Sub" in value and isinstance(value["Fn::Sub"], str):
        return str(value["Fn::Sub"])
    raise AssertionError(f"unexpected Resource form: {value}")


def function_role(template: dict[str, Any], function: str) -> tuple[str, dict[str, Any]]:
    reference = functions(template)[function]["Properties"]["Role"]
    assert reference == {"Fn::GetAtt": [logical_id(reference), "Arn"]}, function
    name = logical_id(reference)
    role = template["Resources"][name]
    assert role["Type"] == "AWS::IAM::Role", function
    return name, role


def role_grants(
    template: dict[str, Any],
    role_name: str,
    *,
    llm_scoring: bool,
    hot_lead_topic_key: bool = False,
    bedrock_insights: bool = False,
    data_key: bool = False,
) -> set[Grant]:
    """Every grant of a role's inline policies for these condition values (no other policy is attached to it)."""
    conditions = {
        "LlmScoring": llm_scoring,
        "HasHotLeadTopicKey": hot_lead_topic_key,
        "BedrockInsights": bedrock_insights,
        "HasDataKey": data_key,
    }
    properties = fold_conditions(template["Resources"][role_name]["Properties"], conditions)
    documents = [policy["PolicyDocument"] for policy in properties["Policies"]]
    grants: set[Grant] = set()
    for document in documents:
        for statement in document["Statement"]:
            assert statement["Effect"] == "Allow", statement
            assert not {"NotAction", "NotResource", "Principal"} & set(statement), statement
            for action in as_list(statement["Action"]):
                for resource in as_list(statement["Resource"]):
                    grants.add((action, _resource_name(resource), _condition(statement.get("Condition"))))
    return grants


def _handler_consumer(function_body: dict[str, Any]) -> str:
    """The CONSUMER constant of a handler (its Powertools idempotency key_prefix), read from the source."""
    source = (ROOT / "functions" / package_name(function_body) / "handler.py").read_text(encoding="utf-8")
    [value] = [
        node.value.value
        for node in ast.parse(source).body
        if isinstance(node, ast.Assign)
        and [getattr(target, "id", None) for target in node.targets] == ["CONSUMER"]
        and isinstance(node.value, ast.Constant)
    ]
    return str(value)


def _common_grants(function: str, consumer: str) -> set[Grant]:
    prefix = function.removesuffix("Function")
    leading_keys = _condition({"ForAllValues:StringLike": {"dynamodb:LeadingKeys": [f"{consumer}#*"]}})
    log_streams = "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:${" + prefix + "LogGroup}:*"
    return (
        {(action, f"{prefix}Queue.Arn", NO_CONDITION) for action in QUEUE_CONSUMER_ACTIONS}
        | {("sqs:SendMessage", f"{prefix}DeadLetterQueue.Arn", NO_CONDITION)}
        | {(action, "IdempotencyTable.Arn", leading_keys) for action in IDEMPOTENCY_ACTIONS}
        | {(action, log_streams, NO_CONDITION) for action in LOG_ACTIONS}
        | {(action, "*", NO_CONDITION) for action in XRAY_ACTIONS}
    )


def _secret(parameter: str) -> str:
    return "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:${" + parameter + "}-??????"


def _bedrock_grants(parameter: str) -> set[Grant]:
    """The configured model (a model id or an inference profile id) and, through that profile only, the foundation
    model it routes to in any region (a profile's model id is its id without the geographic prefix)."""
    profile = "arn:${AWS::Partition}:bedrock:${AWS::Region}:${AWS::AccountId}:inference-profile/${" + parameter + "}"
    through_profile = _condition({"ArnEquals": {"bedrock:InferenceProfileArn": {"Fn::Sub": profile}}})
    return {
        ("bedrock:InvokeModel", "arn:${AWS::Partition}:bedrock:*::foundation-model/${" + parameter + "}", NO_CONDITION),
        ("bedrock:InvokeModel", profile, NO_CONDITION),
        ("bedrock:InvokeModel", "arn:${AWS::Partition}:bedrock:*::foundation-model/*", through_profile),
    }


PROJECT_BUS_ARN = "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:event-bus/voice-analytics-${Stage}"
BEDROCK_GRANTS = _bedrock_grants("LlmModelId")
BEDROCK_INSIGHTS_GRANTS = _bedrock_grants("InsightsModelId")
OWN_GRANTS: dict[str, set[Grant]] = {
    "ScoreLeadFunction": {
        ("s3:GetObject", f"{SESSIONS_BUCKET}/sessions/*", NO_CONDITION),
        ("s3:GetObjectVersion", f"{SESSIONS_BUCKET}/sessions/*", NO_CONDITION),
        ("s3:PutObject", f"{SESSIONS_BUCKET}/scored/*", NO_CONDITION),
        ("s3:PutObject", f"{SESSIONS_BUCKET}/quarantine/*", NO_CONDITION),
        # Written out (the bus's policy names the role: a GetAtt each way would be a circular dependency).
        ("events:PutEvents", PROJECT_BUS_ARN, NO_CONDITION),
    },
    "SalesforceSyncFunction": {("secretsmanager:GetSecretValue", _secret("SalesforceSecretName"), NO_CONDITION)},
    "AmplitudeEventsFunction": {("secretsmanager:GetSecretValue", _secret("AmplitudeSecretName"), NO_CONDITION)},
    "HotLeadAlertFunction": {("sns:Publish", "Ref(HotLeadTopic)", NO_CONDITION)},
}
# Only with an organisation key for the hot-lead topic: the AWS managed aws/sns key's own policy already lets the
# account's principals use it through SNS, so the role needs no KMS permission by default.
HOT_LEAD_TOPIC_KEY_GRANTS = {
    (
        action,
        "Ref(HotLeadTopicKmsKeyArn)",
        _condition({"StringEquals": {"kms:ViaService": {"Fn::Sub": "sns.${AWS::Region}.amazonaws.com"}}}),
    )
    for action in ("kms:GenerateDataKey", "kms:Decrypt")
}
# Only with an organisation key for the bucket (DataKmsKeyArn): score_lead reads and writes objects under it, only
# through S3 (the AWS managed aws/s3 key's own policy covers the default).
DATA_KEY_GRANTS = {
    (
        action,
        "Ref(DataKmsKeyArn)",
        _condition({"StringEquals": {"kms:ViaService": {"Fn::Sub": "s3.${AWS::Region}.amazonaws.com"}}}),
    )
    for action in ("kms:Decrypt", "kms:GenerateDataKey")
}


@pytest.mark.parametrize("function", sorted(OWN_GRANTS))
@pytest.mark.parametrize("llm_scoring", [False, True], ids=["rules", "llm"])
@pytest.mark.parametrize("hot_lead_topic_key", [False, True], ids=["aws-sns-key", "organisation-key"])
@pytest.mark.parametrize("bedrock_insights", [False, True], ids=["local-insights", "bedrock-insights"])
@pytest.mark.parametrize("data_key", [False, True], ids=["aws-s3-key", "bucket-organisation-key"])
def test_function_role_grants_exactly_its_own_resources(
    template: dict[str, Any],
    function: str,
    llm_scoring: bool,
    hot_lead_topic_key: bool,
    bedrock_insights: bool,
    data_key: bool,
) -> None:
    """Only its queue, DLQ, idempotency items, bucket prefixes, bus, topic, secret, log group; Bedrock (the
    configured models only) only for score_lead and only when LLM scoring or Bedrock insights are on; the hot-lead
    topic's key only for hot_lead_alert, only through SNS and only when HotLeadTopicKmsKeyArn names an organisation
    key; the bucket's key only for score_lead (the one function that reads or writes objects), only through S3 and
    only when DataKmsKeyArn names an organisation key."""
    body = functions(template)[function]
    assert "Policies" not in body["Properties"], function  # SAM would add them to a generated role
    role_name, _ = function_role(template, function)
    expected = _common_grants(function, _handler_consumer(body)) | OWN_GRANTS[function]
    if function == "ScoreLeadFunction" and llm_scoring:
        expected |= BEDROCK_GRANTS
    if function == "ScoreLeadFunction" and bedrock_insights:
        expected |= BEDROCK_INSIGHTS_GRANTS
    if function == "HotLeadAlertFunction" and hot_lead_topic_key:
        expected |= HOT_LEAD_TOPIC_KEY_GRANTS
    if function == "ScoreLeadFunction" and data_key:
        expected |= DATA_KEY_GRANTS
    grants = role_grants(
        template,
        role_name,
        llm_scoring=llm_scoring,
        hot_lead_topic_key=hot_lead_topic_key,
        bedrock_insights=bedrock_insights,
        data_key=data_key,
    )
    assert grants == expected


def test_each_function_has_its_own_role_assumable_by_lambda_only(template: dict[str, Any]) -> None:
    roles = [function_role(template, name)[0] for name in functions(template)]
    assert len(set(roles)) == len(roles) == 5
    # The other roles are the compaction schedule's (test_the_schedule_may_only_invoke_the_compact_function) and the
    # optional log stream's, for Firehose and CloudWatch Logs (test_session_analytics.py).
    assert set(roles) | {"CompactScheduleRole"} == set(resources(template, "AWS::IAM::Role")) - LOG_STREAM_ROLES
    for name in roles:
        properties = template["Resources"][name]["Properties"]
        [trust] = properties["AssumeRolePolicyDocument"]["Statement"]
        assert trust == {
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
        assert not {"ManagedPolicyArns", "PermissionsBoundary", "RoleName"} & set(properties), name
    # Nothing else attaches policies to them.
    assert not resources(template, "AWS::IAM::Policy")


def test_no_role_gets_the_managed_sqs_execution_policy_or_any_managed_policy(translated: dict[str, Any]) -> None:
    """SAM attaches AWSLambdaSQSQueueExecutionRole (receive/delete on every queue) and AWSXrayWriteOnlyAccess to
    the roles it generates; with explicit roles, the translation holds no managed policy at all."""
    assert "AWSLambdaSQSQueueExecutionRole" not in json.dumps(translated)
    roles = resources(translated, "AWS::IAM::Role")
    assert len(roles) == 6 + len(LOG_STREAM_ROLES)  # one per function, the compaction schedule's, the log stream's
    for name, role in roles.items():
        assert not role["Properties"].get("ManagedPolicyArns"), name
    for name, function in resources(translated, "AWS::Lambda::Function").items():
        assert logical_id(function["Properties"]["Role"]) in roles, name


def test_resource_star_only_where_aws_requires_it(template: dict[str, Any]) -> None:
    """X-Ray's PutTraceSegments/PutTelemetryRecords support no resource-level permissions; nothing else may use
    "*", and no role may create log groups (the template does) or call PutMetricData (metrics go through EMF)."""
    for name in resources(template, "AWS::IAM::Role"):
        for on in (False, True):
            for action, resource, _ in role_grants(
                template, name, llm_scoring=on, hot_lead_topic_key=on, bedrock_insights=on, data_key=on
            ):
                assert resource != "*" or action in XRAY_ACTIONS, (name, action)
                assert "*" not in action and action not in {"logs:CreateLogGroup", "cloudwatch:PutMetricData"}


def test_idempotency_key_prefixes_are_the_handlers_consumers(template: dict[str, Any]) -> None:
    """dynamodb:LeadingKeys works because Powertools writes `<key_prefix>#<hash>` and every handler passes its
    CONSUMER as key_prefix (tests/integration/test_handlers.py checks the stored keys)."""
    prefixes = set()
    for name, body in consumers(template).items():
        consumer = _handler_consumer(body)
        source = (ROOT / "functions" / package_name(body) / "handler.py").read_text(encoding="utf-8")
        # Per record (once_per_session) or, for a batch served by one collection call, per claimed session.
        per_session = "@kit.once_per_session" in source or "claims = kit.session_claims()" in source
        assert re.search(r"lambda_kit\(\s*CONSUMER,", source) and per_session, name
        prefixes.add(consumer)
    kit = (ROOT / "functions" / "common" / "lambda_kit.py").read_text(encoding="utf-8")
    assert "key_prefix=self.consumer" in kit and "return SessionClaims(self.consumer," in kit
    assert prefixes == {"score_lead", "salesforce_sync", "amplitude_events", "hot_lead_alert"}


# ---------------------------------------------------------------------------------------------------- secrets

# Words that make an environment variable (or setting, or parameter) a credential rather than a name or a flag.
CREDENTIAL_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|API_?KEY|ACCESS_KEY|PRIVATE_KEY|CREDENTIAL|CLIENT_ID|SALT|AUTH")
SECRET_NAME_DEFAULT = re.compile(r"[a-z0-9-]+(/[a-z0-9-]+)+")


def test_function_environments_name_secrets_and_never_hold_credentials(template: dict[str, Any]) -> None:
    """Credentials are read from Secrets Manager at run time; the environment only says which secret. So every
    credential-like variable is a `*_SECRET_NAME` whose value is a secret-name parameter (never NoEcho: nothing
    secret is passed to the stack), and the settings models have no credential field to fill from it."""
    parameters = template["Parameters"]
    secret_names = 0
    for name, body in functions(template).items():
        for variable, value in function_environment(template, body).items():
            if not CREDENTIAL_NAME.search(variable):
                continue
            assert variable.endswith("_SECRET_NAME"), (name, variable)
            assert isinstance(value, dict) and list(value) == ["Ref"], (name, variable)
            assert value["Ref"].endswith("SecretName"), (name, variable)
            assert SECRET_NAME_DEFAULT.fullmatch(parameters[value["Ref"]]["Default"]), (name, variable)
            secret_names += 1
        for field in settings_model(body).model_fields:
            assert not CREDENTIAL_NAME.search(field.upper()) or field.endswith("_secret_name"), (name, field)
    assert secret_names == 2  # Salesforce and Amplitude
    for name, spec in parameters.items():
        assert not spec.get("NoEcho"), name
        assert not CREDENTIAL_NAME.search(name.upper()) or name.endswith("SecretName"), name


def test_env_example_has_no_backend_credentials_and_no_credential_values() -> None:
    """.env.example is the agent's: it names no Salesforce or Amplitude variable at all (those credentials live
    in Secrets Manager and only the functions read them), and every credential it lists is left empty."""
    variables = {}
    for line in (ROOT / ".env.example").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            variables[name.strip()] = value.strip()
    assert len(variables) >= 20
    assert not [name for name in variables if "SALESFORCE" in name or "AMPLITUDE" in name]
    credentials = {name: value for name, value in variables.items() if CREDENTIAL_NAME.search(name)}
    assert {"LIVEKIT_API_SECRET", "AWS_SECRET_ACCESS_KEY", "ANALYTICS_CALLER_SALT"} <= set(credentials)
    assert {name: value for name, value in credentials.items() if value} == {}


def test_log_event_switch_is_never_turned_on(template: dict[str, Any]) -> None:
    """POWERTOOLS_LOGGER_LOG_EVENT=true would log every SQS event whole (contacts, quotes); the handlers also pass
    log_event=False, so the variable could not turn it on, and mask what escapes them (masked_failures)."""
    for name, body in functions(template).items():
        assert "POWERTOOLS_LOGGER_LOG_EVENT" not in function_environment(template, body), name
        source = (ROOT / "functions" / package_name(body) / "handler.py").read_text(encoding="utf-8")
        if name in consumers(template):
            assert re.search(r"^lambda_handler = kit\.sqs_(batch_)?handler\(", source, re.MULTILINE), name
        else:  # the compaction's own stack, the same two outermost decorators
            assert "@masked_failures\n@logger.inject_lambda_context(log_event=False)" in source, name
    kit = (ROOT / "functions" / "common" / "lambda_kit.py").read_text(encoding="utf-8")
    decorators = [line.strip().split("  #")[0] for line in kit.splitlines() if line.strip().startswith("@")]
    entries = [index for index, decorator in enumerate(decorators) if decorator == "@masked_failures"]
    assert len(entries) == 2  # sqs_handler and sqs_batch_handler
    for index in entries:
        assert decorators[index + 1] == "@self.logger.inject_lambda_context(log_event=False)"
    assert "logger=function_logger(" in kit  # the masking logger (functions/common/logs.py)


# ---------------------------------------------------------------------------------------------------- events


def test_alert_rule_filters_on_hot_or_cancel_intent_and_rules_target_sqs_on_the_project_bus(
    template: dict[str, Any],
) -> None:
    rules = resources(template, "AWS::Events::Rule")
    assert rules["HotLeadAlertRule"]["Properties"]["EventPattern"]["$or"] == [
        {"detail": {"hot": [True]}},
        {"detail": {"insights": {"risk": {"cancel_intent": [True]}}}},
    ]
    queues = resources(template, "AWS::SQS::Queue")
    for name, rule in rules.items():
        for target in rule["Properties"]["Targets"]:
            assert logical_id(target["Arn"]) in queues, name  # moto can only deliver rule targets to SQS
        if name != "SessionCreatedRule":
            # moto's create_stack fails on `!Ref Bus` here; `!GetAtt Bus.Name` works (and is the same in AWS).
            assert rule["Properties"]["EventBusName"] == {"Fn::GetAtt": ["LeadsBus", "Name"]}, name


def test_session_rule_matches_object_created_under_sessions(template: dict[str, Any]) -> None:
    pattern = resources(template, "AWS::Events::Rule")["SessionCreatedRule"]["Properties"]["EventPattern"]
    assert pattern["source"] == ["aws.s3"]
    assert pattern["detail-type"] == ["Object Created"]
    assert pattern["detail"]["object"]["key"] == [{"prefix": "sessions/"}]


# ---------------------------------------------------------------------------------------------------- storage


def test_bucket_is_private_encrypted_versioned_tls_only_and_sends_events(template: dict[str, Any]) -> None:
    bucket = template["Resources"]["SessionsBucket"]["Properties"]
    assert bucket["NotificationConfiguration"]["EventBridgeConfiguration"]["EventBridgeEnabled"] is True
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    [encryption] = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert encryption["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    # The AWS managed aws/s3 key unless DataKmsKeyArn names an organisation key (the agent's puts name none).
    key = encryption["ServerSideEncryptionByDefault"]["KMSMasterKeyID"]
    assert if_condition_true(key, "HasDataKey") == {"Ref": "DataKmsKeyArn"}
    assert encryption["BucketKeyEnabled"] is True
    athena = template["Resources"]["AnalyticsWorkGroup"]["Properties"]["WorkGroupConfiguration"]
    assert athena["ResultConfiguration"]["EncryptionConfiguration"]["KmsKey"]["Fn::If"][:2] == [
        "HasDataKey",
        {"Ref": "DataKmsKeyArn"},
    ]
    assert bucket["VersioningConfiguration"]["Status"] == "Enabled"
    [deny] = template["Resources"]["SessionsBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


# Every prefix that holds personal data, and the parameter that sets how long.
DATA_PREFIXES = {
    "sessions/": "SessionRetentionDays",
    "scored/": "ScoredRetentionDays",
    "compacted/": "CompactedRetentionDays",
    "quarantine/": "QuarantineRetentionDays",
}


def test_every_data_prefix_expires_by_its_parameter_and_old_versions_and_the_archive_too(
    template: dict[str, Any],
) -> None:
    rules = template["Resources"]["SessionsBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
    expiring = {rule["Prefix"]: rule["ExpirationInDays"] for rule in rules if "ExpirationInDays" in rule}
    for prefix, parameter in DATA_PREFIXES.items():
        assert expiring[prefix] == {"Ref": parameter}, prefix
        assert template["Parameters"][parameter]["MinValue"] >= 1
    assert expiring["athena-results/"] == 30
    [versions] = [rule for rule in rules if "NoncurrentVersionExpiration" in rule]
    assert "Prefix" not in versions and "Filter" not in versions  # the whole bucket
    assert versions["NoncurrentVersionExpiration"] == {"NoncurrentDays": {"Ref": "NoncurrentVersionDays"}}
    assert versions["ExpiredObjectDeleteMarker"] is True
    archive = template["Resources"]["LeadsBusArchive"]["Properties"]
    assert archive["RetentionDays"] == {"Ref": "ArchiveRetentionDays"}


def test_alarms_go_to_their_own_address_and_alerts_to_theirs(template: dict[str, Any]) -> None:
    """Alarm notifications carry no caller data, alerts carry names and emails: one address parameter each."""
    subscriptions = resources(template, "AWS::SNS::Subscription")
    alarms = subscriptions["AlarmsEmailSubscription"]
    assert (alarms["Condition"], alarms["Properties"]["Endpoint"]) == ("HasAlarmEmail", {"Ref": "AlarmEmail"})
    hot = subscriptions["HotLeadEmailSubscription"]
    assert (hot["Condition"], hot["Properties"]["Endpoint"]) == ("HasAlertEmail", {"Ref": "AlertEmail"})
    assert hot["Properties"]["TopicArn"] == {"Ref": "HotLeadTopic"}
    assert alarms["Properties"]["TopicArn"] == {"Ref": "AlarmsTopic"}


def test_idempotency_table_has_ttl_point_in_time_recovery_and_encryption(template: dict[str, Any]) -> None:
    table = template["Resources"]["IdempotencyTable"]["Properties"]
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expiration", "Enabled": True}
    assert table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    # false = DynamoDB's AWS owned key (every table is encrypted at rest); true would be the AWS managed key, whose
    # KMS requests are billed, for a table without personal data.
    assert table["SSESpecification"]["SSEEnabled"] is False


def test_glue_tables_project_year_month_day_partitions(template: dict[str, Any]) -> None:
    for name in ("SessionsTable", "ScoredTable"):
        table = template["Resources"][name]["Properties"]["TableInput"]
        parameters = table["Parameters"]
        assert parameters["projection.enabled"] == "true"
        assert [key["Name"] for key in table["PartitionKeys"]] == ["year", "month", "day"]
        assert "year=${!year}/month=${!month}/day=${!day}/" in parameters["storage.location.template"]["Fn::Sub"]
    assert len(resources(template, "AWS::Athena::NamedQuery")) == 9


# ---------------------------------------------------------------------------------------------------- logs, alarms


def test_every_function_has_its_own_log_group_with_retention_and_the_optional_key(template: dict[str, Any]) -> None:
    """The template creates each function's log group (so no role needs logs:CreateLogGroup) under the function's
    explicit name: a name derived from the function (`${Function}`) would make the role, which names its log
    group, depend on the function that depends on the role. CloudWatch Logs encrypts them at rest; an
    organisation key is used only when LogsKmsKeyArn names one."""
    log_groups = resources(template, "AWS::Logs::LogGroup")
    named = {body["Properties"]["LogGroupName"].get("Fn::Sub"): body["Properties"] for body in log_groups.values()}
    for name, body in functions(template).items():
        function_name = body["Properties"]["FunctionName"]["Fn::Sub"]
        assert function_name == f"voice-analytics-{package_name(body).replace('_', '-')}-${{Stage}}", name
        properties = named[f"/aws/lambda/{function_name}"]
        assert properties["RetentionInDays"] > 0, name
    for name, body in log_groups.items():
        assert if_condition_true(body["Properties"]["KmsKeyId"], "HasLogsKey") == {"Ref": "LogsKmsKeyArn"}, name


def test_no_customer_managed_key_by_default_and_organisation_keys_are_optional(template: dict[str, Any]) -> None:
    """A KMS key costs $1 a month each: the stack creates none. Each optional key parameter is empty by default,
    accepts only a key ARN (Logs and IAM need the ARN, not an alias), and switches its own condition."""
    assert not resources(template, "AWS::KMS::Key")
    for parameter, condition in KEY_PARAMETERS.items():
        spec = template["Parameters"][parameter]
        assert spec["Default"] == "", parameter
        pattern = re.compile(spec["AllowedPattern"])
        assert pattern.fullmatch("")
        assert pattern.fullmatch("arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab")
        assert pattern.fullmatch("arn:aws:kms:us-east-1:123456789012:key/mrk-1234abcd12ab34cd56ef1234567890ab")
        assert not pattern.fullmatch("alias/aws/sns")
        assert not pattern.fullmatch("arn:aws:kms:us-east-1:123456789012:alias/team")
        assert template["Conditions"][condition] == {"Fn::Not": [{"Fn::Equals": [{"Ref": parameter}, ""]}]}


def test_hot_lead_topic_uses_the_aws_managed_key_and_only_hot_lead_alert_may_publish(template: dict[str, Any]) -> None:
    """The hot-lead topic carries names and emails: encrypted with aws/sns (or the organisation's key). aws/sns
    lets any principal of the account use it through SNS, so the topic policy denies Publish to everyone but
    hot_lead_alert's role, which is what the former customer managed key's policy guaranteed."""
    topic = template["Resources"]["HotLeadTopic"]["Properties"]
    assert topic["KmsMasterKeyId"] == {
        "Fn::If": ["HasHotLeadTopicKey", {"Ref": "HotLeadTopicKmsKeyArn"}, "alias/aws/sns"]
    }
    [policy] = [
        body["Properties"]
        for body in resources(template, "AWS::SNS::TopicPolicy").values()
        if body["Properties"]["Topics"] == [{"Ref": "HotLeadTopic"}]
    ]
    statement, subscribe = policy["PolicyDocument"]["Statement"]
    assert statement["Effect"] == "Deny" and statement["Principal"] == "*"
    assert statement["Action"] == "sns:Publish" and statement["Resource"] == {"Ref": "HotLeadTopic"}
    assert (subscribe["Effect"], subscribe["Action"]) == ("Deny", "sns:Subscribe")  # test_policies.py evaluates it
    assert statement["Condition"] == {
        "ArnNotEquals": {"aws:PrincipalArn": {"Fn::GetAtt": ["HotLeadAlertFunctionRole", "Arn"]}}
    }
    publishers = {
        name
        for name in resources(template, "AWS::IAM::Role")
        if any(
            action == "sns:Publish"
            for action, _, _ in role_grants(
                template, name, llm_scoring=True, hot_lead_topic_key=True, bedrock_insights=True, data_key=True
            )
        )
    }
    assert publishers == {"HotLeadAlertFunctionRole"}


def test_alarms_topic_is_encrypted_only_with_an_organisation_key_and_only_cloudwatch_publishes(
    template: dict[str, Any],
) -> None:
    """CloudWatch cannot publish to a topic under the AWS managed aws/sns key (its policy cannot name
    cloudwatch.amazonaws.com), and alarm notifications carry no caller data: no key unless one is given."""
    topic = template["Resources"]["AlarmsTopic"]
    assert if_condition_true(topic["Properties"]["KmsMasterKeyId"], "HasAlarmTopicKey") == {
        "Ref": "AlarmTopicKmsKeyArn"
    }
    assert [skip["id"] for skip in topic["Metadata"]["checkov"]["skip"]] == ["CKV_AWS_26"]
    [statement] = template["Resources"]["AlarmsTopicPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}


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
    # Arrivals on the queue the "Object Created" rule feeds: SQS's own (free) metric, upstream of score_lead.
    [target] = template["Resources"]["SessionCreatedRule"]["Properties"]["Targets"]
    assert (no_sessions["Namespace"], no_sessions["MetricName"]) == ("AWS/SQS", "NumberOfMessagesSent")
    [dimension] = no_sessions["Dimensions"]
    assert dimension["Name"] == "QueueName" and logical_id(dimension["Value"]) == logical_id(target["Arn"])


def test_custom_metric_alarms_use_the_powertools_namespace_and_a_real_service(template: dict[str, Any]) -> None:
    """Powertools publishes under POWERTOOLS_METRICS_NAMESPACE with dimensions service and stage: an alarm on
    any other name or dimension would watch a metric that never exists."""
    namespace = template["Globals"]["Function"]["Environment"]["Variables"]["POWERTOOLS_METRICS_NAMESPACE"]
    services = {
        function_environment(template, body)["POWERTOOLS_SERVICE_NAME"] for body in functions(template).values()
    }
    custom = [
        a["Properties"]
        for a in resources(template, "AWS::CloudWatch::Alarm").values()
        if "AWS/" not in a["Properties"]["Namespace"]
    ]
    assert len(custom) >= 1
    for alarm in custom:
        assert alarm["Namespace"] == namespace
        dimensions = {d["Name"]: d["Value"] for d in alarm["Dimensions"]}
        assert dimensions == {"service": dimensions["service"], "stage": {"Ref": "Stage"}}
        assert dimensions["service"] in services


# ---------------------------------------------------------------------------------------------------- checkov


def test_checkov_suppressions_are_per_resource_reviewed_and_justified(template: dict[str, Any]) -> None:
    """No global skip (config file or --skip-check); each skip sits on its resource with a real reason."""
    assert not list(ROOT.glob(".checkov.y*ml"))
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8").splitlines()
    [command] = [line for line in makefile if line.startswith("\t") and " checkov --" in line]
    assert "--skip-check" not in command and "--soft-fail" not in command and "--config-file" not in command
    skips = 0
    for name, body in template["Resources"].items():
        for skip in body.get("Metadata", {}).get("checkov", {}).get("skip", []):
            assert re.fullmatch(r"CKV_AWS_\d+", skip["id"]), (name, skip)
            assert body["Type"] in REVIEWED_CHECKOV_SKIPS.get(skip["id"], set()), (name, skip["id"])
            assert len(skip["comment"].split()) >= 12, (name, skip["id"])  # a reason, not a shrug
            skips += 1
    assert skips == 32


def _logged_messages(package: str) -> set[str]:
    """The literal first arguments of logger.info(...) calls in a function package."""
    messages = set()
    for path in (ROOT / "functions" / package).glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "info"
                and node.args
                and isinstance(node.args[0], ast.Constant)
            ):
                messages.add(str(node.args[0].value))
    return messages


def test_outcomes_query_counts_messages_the_functions_log_in_their_own_log_groups(template: dict[str, Any]) -> None:
    """The saved Logs Insights query stands in for the happy-path metrics: each message it filters on is one a
    function logs, and it reads exactly the four functions' log groups."""
    query = template["Resources"]["OutcomesPerHourQuery"]["Properties"]
    (listed,) = re.findall(r"filter message in \[([^\]]*)\]", query["QueryString"])
    filtered = set(json.loads(f"[{listed}]"))
    packages = ("score_lead", "salesforce_sync", "amplitude_events", "hot_lead_alert")
    logged = {message for package in packages for message in _logged_messages(package)}
    assert filtered and filtered <= logged, filtered - logged
    groups = {reference["Ref"] for reference in query["LogGroupNames"]}
    log_groups = {name.removesuffix("Function") + "LogGroup" for name in consumers(template)}
    assert groups == log_groups and len(groups) == 4


# ---------------------------------------------------------------------------------------------------- Bedrock IAM

PROFILE_ID = "us.anthropic.claude-3-5-haiku-20241022-v1:0"
PROFILE_MODEL = "anthropic.claude-3-5-haiku-20241022-v1:0"  # what that profile routes to
PROFILE_ARN = f"arn:aws:bedrock:us-east-1:123456789012:inference-profile/{PROFILE_ID}"


def _score_lead_allows(
    template: dict[str, Any], parameters: dict[str, str], resource: str, context: dict[str, str] | None = None
) -> bool:
    """Whether score_lead's role (LLM scoring and Bedrock insights on) allows bedrock:InvokeModel on `resource`: a
    policy evaluation (tests/infrastructure/policy.py), not an AWS call."""
    conditions = {"LlmScoring": True, "HasHotLeadTopicKey": False, "BedrockInsights": True, "HasDataKey": False}
    properties = fold_conditions(template["Resources"]["ScoreLeadFunctionRole"]["Properties"], conditions)
    statements = [s for policy in properties["Policies"] for s in policy["PolicyDocument"]["Statement"]]
    request = policy.Request(policy.role_arn("ScoreLeadFunctionRole"), "bedrock:InvokeModel", resource, context or {})
    decision = policy.evaluate(request, identity=policy.resolved(template, statements, parameters))
    return decision is policy.Decision.ALLOW


@pytest.mark.parametrize("parameter", ["InsightsModelId", "LlmModelId"])
def test_a_cross_region_inference_profile_id_is_allowed_with_the_model_it_routes_to(
    template: dict[str, Any], parameter: str
) -> None:
    """Converse with a profile id is authorised on the profile (this region) and on the foundation model in each
    destination region, a model id without the geographic prefix, which the request reaches through the profile."""
    parameters = {"InsightsModelId": "unused.model-v1:0", "LlmModelId": "unused.model-v1:0", parameter: PROFILE_ID}
    through = {"bedrock:InferenceProfileArn": PROFILE_ARN}

    assert _score_lead_allows(template, parameters, PROFILE_ARN)
    for region in ("us-east-1", "us-east-2", "us-west-2"):
        model = f"arn:aws:bedrock:{region}::foundation-model/{PROFILE_MODEL}"
        assert _score_lead_allows(template, parameters, model, through), region
    # Only through that profile: not the model directly, not another model, not another profile.
    assert not _score_lead_allows(template, parameters, f"arn:aws:bedrock:us-east-1::foundation-model/{PROFILE_MODEL}")
    other_profile = PROFILE_ARN.replace("claude-3-5-haiku", "claude-3-opus")
    assert not _score_lead_allows(template, parameters, other_profile)
    other_route = {"bedrock:InferenceProfileArn": other_profile}
    assert not _score_lead_allows(template, parameters, "arn:aws:bedrock:us-west-2::foundation-model/x", other_route)


@pytest.mark.parametrize("parameter", ["InsightsModelId", "LlmModelId"])
def test_a_model_id_is_allowed_on_that_foundation_model_only(template: dict[str, Any], parameter: str) -> None:
    parameters = {"InsightsModelId": "unused.model-v1:0", "LlmModelId": "unused.model-v1:0", parameter: PROFILE_MODEL}

    assert _score_lead_allows(template, parameters, f"arn:aws:bedrock:us-east-1::foundation-model/{PROFILE_MODEL}")
    other = "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-opus-20240229-v1:0"
    assert not _score_lead_allows(template, parameters, other)


# ---------------------------------------------------------------------------------------------------- insights


def _hive_type(schema: dict[str, Any], definitions: dict[str, Any]) -> str:
    """The Hive type a JSON Schema (pydantic's, of our models) maps to, for the OpenX JSON SerDe."""
    if "$ref" in schema:
        return _hive_type(definitions[schema["$ref"].rsplit("/", 1)[-1]], definitions)
    if "anyOf" in schema:
        [kept] = [option for option in schema["anyOf"] if option.get("type") != "null"]
        return _hive_type(kept, definitions)
    kind = schema.get("type")
    if kind == "object":
        fields = ",".join(f"{name}:{_hive_type(body, definitions)}" for name, body in schema["properties"].items())
        return f"struct<{fields}>"
    if kind == "array":
        return f"array<{_hive_type(schema['items'], definitions)}>"
    return {"string": "string", "number": "double", "integer": "int", "boolean": "boolean"}[kind]


def test_the_scored_tables_insights_column_is_the_insights_model_field_for_field(template: dict[str, Any]) -> None:
    """Athena (and DuckDB's views, which read the template) see every field of the insights block, with its type."""
    from functions.common.insights import Insights

    schema = Insights.model_json_schema(mode="serialization")
    columns = template["Resources"]["ScoredTable"]["Properties"]["TableInput"]["StorageDescriptor"]["Columns"]
    [column] = [column for column in columns if column["Name"] == "insights"]
    assert column["Type"] == _hive_type(schema, schema["$defs"])


def test_the_cancel_risk_subscription_receives_cancel_risks_only(template: dict[str, Any]) -> None:
    subscription = template["Resources"]["CancelRiskEmailSubscription"]
    assert subscription["Condition"] == "HasCancelRiskEmail"
    properties = subscription["Properties"]
    assert properties["TopicArn"] == {"Ref": "HotLeadTopic"} and properties["Protocol"] == "email"
    assert properties["FilterPolicyScope"] == "MessageAttributes"
    assert properties["FilterPolicy"] == {"alert_type": ["cancel_risk"]}
    assert "FilterPolicy" not in template["Resources"]["HotLeadEmailSubscription"]["Properties"]  # every alert


def test_a_bedrock_insights_call_at_its_worst_fits_in_score_leads_timeout(template: dict[str, Any]) -> None:
    """Every allowed attempt timing out, plus the reserve for writing the scored record and putting the event, is
    shorter than the function's timeout; within a batch, score_lead skips the call when less time is left."""
    from functions.common.settings import ScoreLeadSettings
    from functions.score_lead.insights import RESERVE_SECONDS, worst_case_seconds

    timeout = function_timeout(template, functions(template)["ScoreLeadFunction"])
    defaults = ScoreLeadSettings()
    assert worst_case_seconds(defaults) + RESERVE_SECONDS < timeout
    assert worst_case_seconds(defaults) == defaults.insights_attempts * (2.0 + defaults.insights_timeout_seconds)


# ---------------------------------------------------------------------------------------------------- compaction


def test_compact_function_role_grants_exactly_its_own_resources(template: dict[str, Any]) -> None:
    """List and read the raw prefixes and compacted/, write and delete under compacted/ only, read the database's
    tables and rewrite the two views; nothing of the queues, the table of idempotency keys or any secret."""
    role_name, _ = function_role(template, "CompactFunction")
    glue = "arn:${AWS::Partition}:glue:${AWS::Region}:${AWS::AccountId}:"
    listing = _condition({"StringLike": {"s3:prefix": ["sessions/*", "scored/*", "compacted/*"]}})
    log_streams = "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:${CompactLogGroup}:*"
    expected = (
        {("s3:ListBucket", "SessionsBucket.Arn", listing)}
        | {("s3:GetObject", f"{SESSIONS_BUCKET}/{prefix}/*", NO_CONDITION) for prefix in ("sessions", "scored")}
        | {(action, f"{SESSIONS_BUCKET}/compacted/*", NO_CONDITION) for action in ("s3:GetObject", "s3:PutObject")}
        | {("s3:DeleteObject", f"{SESSIONS_BUCKET}/compacted/*", NO_CONDITION)}
        | {
            ("glue:GetTables", glue + resource, NO_CONDITION)
            for resource in ("catalog", "database/${AnalyticsDatabase}", "table/${AnalyticsDatabase}/*")
        }
        | {
            ("glue:UpdateTable", glue + resource, NO_CONDITION)
            for resource in (
                "catalog",
                "database/${AnalyticsDatabase}",
                "table/${AnalyticsDatabase}/sessions",
                "table/${AnalyticsDatabase}/scored",
            )
        }
        | {(action, log_streams, NO_CONDITION) for action in LOG_ACTIONS}
        | {(action, "*", NO_CONDITION) for action in XRAY_ACTIONS}
    )
    for on in (False, True):
        assert role_grants(template, role_name, llm_scoring=on, hot_lead_topic_key=on, bedrock_insights=on) == expected
    views = {
        resource["Properties"]["TableInput"]["Name"]
        for resource in resources(template, "AWS::Glue::Table").values()
        if resource["Properties"]["TableInput"]["TableType"] == "VIRTUAL_VIEW"
    }
    assert views == {"sessions", "scored"}  # exactly the tables UpdateTable is granted on


def test_the_schedule_runs_the_compact_function_daily_and_may_only_invoke_it(template: dict[str, Any]) -> None:
    [schedule] = resources(template, "AWS::Scheduler::Schedule").values()
    properties = schedule["Properties"]
    assert properties["ScheduleExpression"] == "cron(15 1 * * ? *)"  # once a day, after yesterday (UTC) settled
    assert properties["ScheduleExpressionTimezone"] == "UTC" and properties["State"] == "ENABLED"
    assert properties["Target"]["Arn"] == {"Fn::GetAtt": ["CompactFunction", "Arn"]}
    assert properties["Target"]["Input"] == "{}"  # the default run: the last CompactionLookbackDays finished days
    role = template["Resources"][logical_id(properties["Target"]["RoleArn"])]["Properties"]
    [trust] = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "scheduler.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
    assert role_grants(template, "CompactScheduleRole", llm_scoring=False) == {
        ("lambda:InvokeFunction", "CompactFunction.Arn", NO_CONDITION)
    }
    body = functions(template)["CompactFunction"]
    assert "Events" not in body["Properties"]  # nothing but the schedule invokes it
    assert function_environment(template, body)["COMPACTION_LOOKBACK_DAYS"] == {"Ref": "CompactionLookbackDays"}
    [alarm] = [
        alarm["Properties"]
        for alarm in resources(template, "AWS::CloudWatch::Alarm").values()
        if alarm["Properties"].get("Dimensions") == [{"Name": "FunctionName", "Value": {"Ref": "CompactFunction"}}]
    ]
    assert (alarm["MetricName"], alarm["Threshold"], alarm["ComparisonOperator"]) == (
        "Errors",
        0,
        "GreaterThanThreshold",
    )


def _template_view_payload(table_input: dict[str, Any], stage: str) -> dict[str, Any]:
    """The JSON a view's ViewOriginalText holds in the template: Join of the marker, Base64 of a Sub, the end."""
    prefix, encoded, suffix = table_input["ViewOriginalText"]["Fn::Join"][1]
    assert (prefix, suffix) == ("/* Presto View: ", " */")
    payload: dict[str, Any] = json.loads(encoded["Fn::Base64"]["Fn::Sub"].replace("${Stage}", stage))
    return payload


def test_each_view_reads_its_raw_and_compacted_tables_and_is_what_the_function_writes(template: dict[str, Any]) -> None:
    """The views name their two tables; the compacted table is Parquet under compacted/<view>/ with the raw table's
    columns and the same partition projection; the view's stored SQL and columns are exactly what
    functions/compact/tables.py writes to Glue for "nothing compacted yet" (one generator, no drift)."""
    from functions.compact.tables import compacted_views, glue_table, presto_view_payload, view_table_input

    inputs = {
        body["Properties"]["TableInput"]["Name"]: body["Properties"]["TableInput"]
        for body in resources(template, "AWS::Glue::Table").values()
    }
    views = compacted_views(glue_table(table_input) for table_input in inputs.values())
    assert set(views) == {"sessions", "scored"}
    for name, view in views.items():
        assert (view.raw.name, view.compacted.name) == (f"{name}_raw", f"{name}_compacted")
        assert (view.raw.prefix, view.compacted.prefix) == (name, f"compacted/{name}")
        raw, compacted = inputs[view.raw.name], inputs[view.compacted.name]
        assert "Parquet" in compacted["StorageDescriptor"]["SerdeInfo"]["SerializationLibrary"]
        projection = {key: value for key, value in raw["Parameters"].items() if key.startswith("projection.")}
        assert {k: v for k, v in compacted["Parameters"].items() if k.startswith("projection.")} == projection
        location = compacted["Parameters"]["storage.location.template"]["Fn::Sub"]
        assert location == f"s3://${{SessionsBucket}}/compacted/{name}/year=${{!year}}/month=${{!month}}/day=${{!day}}/"
        table_input = inputs[name]
        assert _template_view_payload(table_input, "dev") == presto_view_payload(view, [], "voice_analytics_dev")
        written = view_table_input(view, [], "voice_analytics_dev")
        for key in ("TableType", "Parameters", "ViewExpandedText", "Description"):
            assert written[key] == table_input[key], (name, key)
        assert written["StorageDescriptor"]["Columns"] == table_input["StorageDescriptor"]["Columns"]


def test_tracing_is_a_parameter_and_off_by_default(template: dict[str, Any], translated: dict[str, Any]) -> None:
    """Lambda samples at a fixed rate when Active (sampling rules do not apply to it), so the only cost control is
    the mode: PassThrough by default, which traces nothing in this flow (no trace header arrives with S3 events)."""
    parameter = template["Parameters"]["TracingMode"]
    assert (parameter["Default"], parameter["AllowedValues"]) == ("PassThrough", ["Active", "PassThrough"])
    assert template["Globals"]["Function"]["Tracing"] == {"Ref": "TracingMode"}
    assert all("Tracing" not in body["Properties"] for body in functions(template).values())
    for name, function in resources(translated, "AWS::Lambda::Function").items():
        assert function["Properties"]["TracingConfig"] == {"Mode": {"Ref": "TracingMode"}}, name
    assert not resources(template, "AWS::XRay::SamplingRule")  # it would not change what Lambda samples
