"""What the template's policies allow against a forger: proved by policy evaluation, not by AWS calls.

moto cannot prove any of this (tests/infrastructure/policy.py says why: no bucket-policy conditions, no principal
matching, no queue policies), so each test builds the request IAM would see and evaluates the generated template's
statements with the one evaluator in policy.py. Where the request is our own code's, it is captured from the code
itself (the exporter's record put and its write check go through a boto3 client whose sends are recorded, never
sent), so a change to the code that the policy would refuse fails here.

The local stack cannot show these end to end: moto enforces neither the bus policy nor the queue policies, so a
forged event put there does reach a consumer. "Never reaches a consumer" is proved here route by route (every way
into a consumer's queue, each hop evaluated).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import boto3
import pytest
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.config import Config

from agent.exporter import S3Sink
from tests.infrastructure import policy
from tests.infrastructure.policy import Decision, Request, evaluate, resolved, role_arn
from voice_analytics.template import deployed_resources, load_template

ADMIN: list[dict[str, Any]] = [{"Effect": "Allow", "Action": "*", "Resource": "*"}]  # every permission IAM can give
SOMEONE_ELSE = role_arn("AnyOtherRoleOfTheAccount")
OPERATOR = role_arn("VoiceAnalyticsOperators")
DATA_KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
KEY = "sessions/year=2026/month=11/day=20/trial-call-0001.json.gz"


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template()


def deployed(template: dict[str, Any], parameters: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The stack's resources for these parameter values, conditions folded and intrinsics resolved."""
    resources = deployed_resources(template, dict(parameters or {}))
    return {name: resolved(template, body, parameters) for name, body in resources.items()}


def statements(document: Mapping[str, Any]) -> list[dict[str, Any]]:
    return list(document["Statement"])


def role_statements(resources: Mapping[str, Any], role: str) -> list[dict[str, Any]]:
    return [s for p in resources[role]["Properties"]["Policies"] for s in statements(p["PolicyDocument"])]


# ---------------------------------------------------------------------------------------------------- the agent


class _Empty:
    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.body


_ANSWERS = {
    "uploads": b"<InitiateMultipartUploadResult><UploadId>u-1</UploadId></InitiateMultipartUploadResult>",
    "uploadId": b'<CompleteMultipartUploadResult><ETag>"e"</ETag></CompleteMultipartUploadResult>',
}


def s3_requests(bucket: str, calls: Callable[[Any], Any]) -> list[Request]:
    """The S3 requests `calls(client)` makes, as IAM would see them from the agent: captured before they are sent
    (each answered 200, nothing leaves the process) and turned into action, object ARN and condition keys."""
    client = boto3.client(
        "s3",
        region_name=policy.REGION,
        aws_access_key_id="t",
        aws_secret_access_key="t",
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
    )
    sent: list[AWSPreparedRequest] = []

    def answer(request: AWSPreparedRequest, **_: Any) -> AWSResponse:
        sent.append(request)
        query = parse_qs(urlsplit(request.url).query, keep_blank_values=True)
        body = next((_ANSWERS[name] for name in _ANSWERS if name in query and request.method == "POST"), b"")
        return AWSResponse(request.url, 200, {}, _Empty(body))

    client.meta.events.register("before-send.s3", answer)
    calls(client)
    return [_as_iam_request(request, bucket) for request in sent]


def _as_iam_request(request: AWSPreparedRequest, bucket: str) -> Request:
    """S3's authorization view of one request: every object write (PutObject, CopyObject, the multipart calls) is
    the action s3:PutObject; s3:ObjectCreationOperation is false for the calls that create no object
    (CreateMultipartUpload, UploadPart, UploadPartCopy: they take no conditional header), true otherwise."""
    url = urlsplit(request.url)
    path_bucket, _, key = url.path.lstrip("/").partition("/")
    assert path_bucket == bucket, request.url
    query = parse_qs(url.query, keep_blank_values=True)
    headers = {
        name.lower(): value.decode() if isinstance(value, bytes) else value for name, value in request.headers.items()
    }
    action = {"PUT": "s3:PutObject", "POST": "s3:PutObject", "GET": "s3:GetObject", "HEAD": "s3:GetObject"}.get(
        request.method, "s3:DeleteObject"
    )
    context: dict[str, policy.ContextValue] = {}
    if action == "s3:PutObject":
        context["s3:ObjectCreationOperation"] = not ("uploads" in query or "partNumber" in query)
    for header, condition_key in (
        ("if-none-match", "s3:if-none-match"),
        ("if-match", "s3:if-match"),
        ("x-amz-copy-source", "s3:x-amz-copy-source"),
    ):
        if header in headers:
            context[condition_key] = headers[header]
    return Request(role_arn("TheAgentsRole"), action, f"arn:aws:s3:::{path_bucket}/{unquote(key)}", context)


def agent_decisions(template: dict[str, Any], requests: list[Request], *, data_key: bool = False) -> list[Decision]:
    """The agent's role holds the writer policy only; the bucket's own policy applies to every caller."""
    resources = deployed(template, {"DataKmsKeyArn": DATA_KEY} if data_key else {})
    identity = statements(resources["AgentSessionWriterPolicy"]["Properties"]["PolicyDocument"])
    bucket_policy = statements(resources["SessionsBucketPolicy"]["Properties"]["PolicyDocument"])
    return [evaluate(request, identity=identity, resource=bucket_policy) for request in requests]


def bucket_name(template: dict[str, Any]) -> str:
    return policy.resource_arn(template, "SessionsBucket", "Ref")


@pytest.mark.parametrize("data_key", [False, True], ids=["aws-s3-key", "organisation-key"])
def test_the_agents_record_put_and_write_check_are_allowed_and_an_overwrite_by_its_role_is_denied(
    template: dict[str, Any], data_key: bool
) -> None:
    bucket = bucket_name(template)
    [record, probe] = s3_requests(
        bucket,
        lambda client: (
            S3Sink(bucket, client).put(KEY, b"record", schema_version="1"),
            S3Sink(bucket, client).check_write("sessions"),
        ),
    )
    [overwrite, by_etag] = s3_requests(
        bucket,
        lambda client: (
            client.put_object(Bucket=bucket, Key=KEY, Body=b"forged"),
            client.put_object(Bucket=bucket, Key=KEY, Body=b"forged", IfMatch='"0123456789abcdef"'),
        ),
    )

    assert record.context["s3:if-none-match"] == "*" and probe.context["s3:if-none-match"] == "*"
    assert agent_decisions(template, [record, probe], data_key=data_key) == [Decision.ALLOW, Decision.ALLOW]
    assert agent_decisions(template, [overwrite, by_etag], data_key=data_key) == [Decision.EXPLICIT_DENY] * 2


def test_a_multipart_upload_is_allowed_its_parts_but_its_completion_only_with_if_none_match(
    template: dict[str, Any],
) -> None:
    """The AWS guide to enforcing conditional writes: CreateMultipartUpload and UploadPart take no conditional
    header and are not object-creating operations, so they stay allowed; CompleteMultipartUpload creates the object
    and needs If-None-Match like a PutObject."""
    bucket = bucket_name(template)

    def upload(client: Any, conditional: bool) -> None:
        client.create_multipart_upload(Bucket=bucket, Key=KEY)
        client.upload_part(Bucket=bucket, Key=KEY, UploadId="u-1", PartNumber=1, Body=b"part")
        parts = {"Parts": [{"ETag": '"e"', "PartNumber": 1}]}
        extra = {"IfNoneMatch": "*"} if conditional else {}
        client.complete_multipart_upload(Bucket=bucket, Key=KEY, UploadId="u-1", MultipartUpload=parts, **extra)

    unconditional = s3_requests(bucket, lambda client: upload(client, conditional=False))
    conditional = s3_requests(bucket, lambda client: upload(client, conditional=True))

    assert [r.context["s3:ObjectCreationOperation"] for r in unconditional] == [False, False, True]
    assert agent_decisions(template, unconditional) == [Decision.ALLOW, Decision.ALLOW, Decision.EXPLICIT_DENY]
    assert agent_decisions(template, conditional) == [Decision.ALLOW] * 3


def test_an_if_match_probe_would_be_denied_so_the_write_check_probes_as_a_record_put(template: dict[str, Any]) -> None:
    """The former write check (a put with If-Match on a key that does not exist) carries no If-None-Match: the
    create-only policy denies it, so it would report a missing permission on every correct deployment. The check
    now sends a record's own condition (and a Content-MD5 S3 refuses, so it stores nothing)."""
    bucket = bucket_name(template)
    [former] = s3_requests(
        bucket, lambda client: client.put_object(Bucket=bucket, Key=f"sessions/{KEY}", Body=b"{}", IfMatch='"0"')
    )
    [probe] = s3_requests(bucket, lambda client: S3Sink(bucket, client).check_write("sessions"))

    assert agent_decisions(template, [former, probe]) == [Decision.EXPLICIT_DENY, Decision.ALLOW]
    assert probe.action == "s3:PutObject" and probe.resource.startswith(f"arn:aws:s3:::{bucket}/sessions/")
    assert "content-md5" in {name.lower() for name in _probe_headers(bucket)}


def _probe_headers(bucket: str) -> list[str]:
    client = boto3.client("s3", region_name=policy.REGION, aws_access_key_id="t", aws_secret_access_key="t")
    seen: list[str] = []

    def answer(request: AWSPreparedRequest, **_: Any) -> AWSResponse:
        seen.extend(request.headers.keys())
        return AWSResponse(request.url, 200, {}, _Empty(b""))

    client.meta.events.register("before-send.s3", answer)
    S3Sink(bucket, client).check_write("sessions")
    return seen


def test_the_agent_cannot_read_delete_copy_or_write_outside_sessions(template: dict[str, Any]) -> None:
    bucket = bucket_name(template)
    requests = s3_requests(
        bucket,
        lambda client: (
            client.get_object(Bucket=bucket, Key=KEY),
            client.delete_object(Bucket=bucket, Key=KEY),
            client.put_object(Bucket=bucket, Key="scored/x.json.gz", Body=b"{}", IfNoneMatch="*"),
            client.copy_object(Bucket=bucket, Key=KEY, CopySource={"Bucket": bucket, "Key": "sessions/other.json.gz"}),
        ),
    )

    assert agent_decisions(template, requests) == [
        Decision.IMPLICIT_DENY,  # no s3:GetObject: a leaked key reads nothing
        Decision.IMPLICIT_DENY,  # no s3:DeleteObject
        Decision.IMPLICIT_DENY,  # nowhere but sessions/
        Decision.EXPLICIT_DENY,  # a copy over a record is an unconditional write
    ]


def test_no_request_to_the_bucket_is_allowed_over_plain_http(template: dict[str, Any]) -> None:
    bucket = bucket_name(template)
    [record] = s3_requests(bucket, lambda client: S3Sink(bucket, client).put(KEY, b"r", schema_version="1"))
    plain = Request(record.principal, record.action, record.resource, {**record.context, "aws:SecureTransport": False})

    assert agent_decisions(template, [plain]) == [Decision.EXPLICIT_DENY]


# ---------------------------------------------------------------------------------------------------- "Lead Scored"


def test_only_score_lead_may_put_events_on_the_project_bus(template: dict[str, Any]) -> None:
    resources = deployed(template)
    bus_policy = statements(resources["LeadsBus"]["Properties"]["Policy"])
    bus = "arn:aws:events:us-east-1:123456789012:event-bus/voice-analytics-dev"

    def decision(principal: str, identity: list[dict[str, Any]]) -> Decision:
        return evaluate(Request(principal, "events:PutEvents", bus), identity=identity, resource=bus_policy)

    score_lead = role_statements(resources, "ScoreLeadFunctionRole")
    assert decision(role_arn("ScoreLeadFunctionRole"), score_lead) is Decision.ALLOW
    assert decision(SOMEONE_ELSE, ADMIN) is Decision.EXPLICIT_DENY  # whatever its own policies allow
    assert decision(role_arn("HotLeadAlertFunctionRole"), ADMIN) is Decision.EXPLICIT_DENY
    assert decision(OPERATOR, ADMIN) is Decision.EXPLICIT_DENY  # replays go through the archive, not PutEvents


WORK_QUEUES = [
    ("ScoreLeadQueuePolicy", "ScoreLeadQueue", "SessionCreatedRule", "ScoreLeadFunctionRole"),
    ("SalesforceSyncQueuePolicy", "SalesforceSyncQueue", "SalesforceSyncRule", "SalesforceSyncFunctionRole"),
    ("AmplitudeEventsQueuePolicy", "AmplitudeEventsQueue", "AmplitudeEventsRule", "AmplitudeEventsFunctionRole"),
    ("HotLeadAlertQueuePolicy", "HotLeadAlertQueue", "HotLeadAlertRule", "HotLeadAlertFunctionRole"),
]


@pytest.mark.parametrize(("queue_policy", "queue", "rule", "role"), WORK_QUEUES, ids=[q[1] for q in WORK_QUEUES])
def test_a_work_queue_takes_messages_from_its_own_rule_only_and_gives_them_to_its_own_function_only(
    template: dict[str, Any], queue_policy: str, queue: str, rule: str, role: str
) -> None:
    resources = deployed(template)
    queue_statements = statements(resources[queue_policy]["Properties"]["PolicyDocument"])
    arn = policy.resource_arn(template, queue)
    its_rule = policy.resource_arn(template, rule)
    forged_rule = "arn:aws:events:us-east-1:123456789012:rule/voice-analytics-dev/a-rule-someone-added"

    def send(principal: str, identity: list[dict[str, Any]], **context: policy.ContextValue) -> Decision:
        request = Request(principal, "sqs:SendMessage", arn, context)
        return evaluate(request, identity=identity, resource=queue_statements)

    def receive(principal: str, identity: list[dict[str, Any]]) -> Decision:
        return evaluate(Request(principal, "sqs:ReceiveMessage", arn), identity=identity, resource=queue_statements)

    assert send("events.amazonaws.com", [], **{"aws:SourceArn": its_rule}) is Decision.ALLOW
    assert send("events.amazonaws.com", [], **{"aws:SourceArn": forged_rule}) is Decision.EXPLICIT_DENY
    assert send(SOMEONE_ELSE, ADMIN) is Decision.EXPLICIT_DENY  # a direct SendMessage, whatever its IAM allows
    assert send(OPERATOR, ADMIN) is Decision.EXPLICIT_DENY  # no operator role named: not even a redrive
    assert receive(role_arn(role), role_statements(resources, role)) is Decision.ALLOW
    assert receive(SOMEONE_ELSE, ADMIN) is Decision.EXPLICIT_DENY


CONSUMER_QUEUES = [
    ("SalesforceSyncQueue", "SalesforceSyncQueuePolicy"),
    ("AmplitudeEventsQueue", "AmplitudeEventsQueuePolicy"),
    ("HotLeadAlertQueue", "HotLeadAlertQueuePolicy"),
]
FORGED_RULE = "arn:aws:events:us-east-1:123456789012:rule/default/a-rule-someone-added"
Hop = tuple[Request, list[dict[str, Any]]]  # a request and the resource policy it meets


def routes_into(template: dict[str, Any], queue: str, queue_policy: str, sender: str) -> dict[str, list[Hop]]:
    """Every way an event from `sender` can reach a consumer's queue, each a chain of requests that must all be
    allowed: a put on the bus of each rule that targets the queue, then that rule's delivery (as
    events.amazonaws.com, with the rule's ARN); a rule of someone's own making that targets the queue (on a bus they
    can put on); a direct SendMessage. (An "aws.s3" event cannot be forged anywhere: PutEvents refuses sources that
    begin "aws.".)"""
    resources = deployed(template)
    arn = policy.resource_arn(template, queue)
    queue_statements = statements(resources[queue_policy]["Properties"]["PolicyDocument"])
    project_bus = policy.resource_arn(template, "LeadsBus", "Name")
    bus_policy = statements(resources["LeadsBus"]["Properties"]["Policy"])
    rules = [
        name
        for name, body in resources.items()
        if body["Type"] == "AWS::Events::Rule" and arn in [target["Arn"] for target in body["Properties"]["Targets"]]
    ]
    assert rules, f"no rule targets {queue}"
    routes: dict[str, list[Hop]] = {}
    for rule in rules:
        bus = resources[rule]["Properties"].get("EventBusName", "default")
        # The bus policy names the bus by its deployed name; the default bus has no policy of this stack.
        if bus == project_bus:
            put: Hop = (Request(sender, "events:PutEvents", bus_policy[0]["Resource"]), bus_policy)
        else:
            put = (Request(sender, "events:PutEvents", "arn:aws:events:us-east-1:123456789012:event-bus/default"), [])
        delivery = Request(
            "events.amazonaws.com", "sqs:SendMessage", arn, {"aws:SourceArn": policy.resource_arn(template, rule)}
        )
        routes[f"PutEvents onto {bus}, then {rule}"] = [put, (delivery, queue_statements)]
    forged = Request("events.amazonaws.com", "sqs:SendMessage", arn, {"aws:SourceArn": FORGED_RULE})
    routes["a rule of their own"] = [(forged, queue_statements)]
    routes["SendMessage"] = [(Request(sender, "sqs:SendMessage", arn), queue_statements)]
    return routes


def open_routes(routes: dict[str, list[Hop]], identity: list[dict[str, Any]]) -> list[str]:
    """The routes whose every hop is allowed (a service principal's hop needs no identity policy)."""

    def allowed(request: Request, resource: list[dict[str, Any]]) -> bool:
        own = [] if request.principal.endswith(".amazonaws.com") else identity
        return evaluate(request, identity=own, resource=resource) is Decision.ALLOW

    return [name for name, hops in routes.items() if all(allowed(request, resource) for request, resource in hops)]


@pytest.mark.parametrize(("queue", "queue_policy"), CONSUMER_QUEUES, ids=[q[0] for q in CONSUMER_QUEUES])
def test_a_lead_scored_from_another_principal_never_reaches_a_consumer(
    template: dict[str, Any], queue: str, queue_policy: str
) -> None:
    """Whatever the other principal's own IAM policies allow (every permission here), no route into the consumer's
    queue is open to it; score_lead's own (a put on the project bus, its rule's delivery) is."""
    forger = routes_into(template, queue, queue_policy, SOMEONE_ELSE)
    score_lead = routes_into(template, queue, queue_policy, role_arn("ScoreLeadFunctionRole"))

    assert open_routes(forger, ADMIN) == []
    assert open_routes(score_lead, role_statements(deployed(template), "ScoreLeadFunctionRole")) == [
        next(name for name in score_lead if name.startswith("PutEvents"))
    ]


@pytest.mark.parametrize(
    ("queue_policy", "queue", "rule", "role"), WORK_QUEUES[:2], ids=[q[1] for q in WORK_QUEUES[:2]]
)
def test_the_operator_role_it_names_may_redrive_into_a_work_queue(
    template: dict[str, Any], queue_policy: str, queue: str, rule: str, role: str
) -> None:
    """A DLQ redrive (SQS's move task) sends with the caller's permissions: only the role OperatorRoleArn names."""
    resources = deployed(template, {"OperatorRoleArn": OPERATOR})
    queue_statements = statements(resources[queue_policy]["Properties"]["PolicyDocument"])
    request = Request(OPERATOR, "sqs:SendMessage", policy.resource_arn(template, queue))
    other = Request(SOMEONE_ELSE, "sqs:SendMessage", policy.resource_arn(template, queue))

    assert evaluate(request, identity=ADMIN, resource=queue_statements) is Decision.ALLOW
    assert evaluate(other, identity=ADMIN, resource=queue_statements) is Decision.EXPLICIT_DENY


def test_only_the_stack_subscribes_to_the_hot_lead_topic_and_only_hot_lead_alert_publishes(
    template: dict[str, Any],
) -> None:
    resources = deployed(template)
    topic_statements = statements(resources["HotLeadTopicPolicy"]["Properties"]["PolicyDocument"])
    topic = policy.resource_arn(template, "HotLeadTopic")
    deployer = role_arn("WhoeverRunsSamDeploy")
    through_cloudformation = {"aws:CalledVia": ["cloudformation.amazonaws.com"]}

    def decision(principal: str, action: str, identity: list[dict[str, Any]], **context: Any) -> Decision:
        return evaluate(Request(principal, action, topic, context), identity=identity, resource=topic_statements)

    assert decision(deployer, "sns:Subscribe", ADMIN, **through_cloudformation) is Decision.ALLOW
    assert decision(deployer, "sns:Subscribe", ADMIN) is Decision.EXPLICIT_DENY  # the same role, not via the stack
    assert decision(SOMEONE_ELSE, "sns:Subscribe", ADMIN) is Decision.EXPLICIT_DENY
    hot_lead_alert = role_statements(resources, "HotLeadAlertFunctionRole")
    assert decision(role_arn("HotLeadAlertFunctionRole"), "sns:Publish", hot_lead_alert) is Decision.ALLOW
    assert decision(SOMEONE_ELSE, "sns:Publish", ADMIN) is Decision.EXPLICIT_DENY
