"""The local AWS: moto in server mode on loopback, set up from `template.yaml` itself.

How it comes up (`LocalStack.start()`):
1. moto's `ThreadedMotoServer` starts on 127.0.0.1 and a free port: in this process (server="thread"), or in
   child processes, one for DynamoDB and one for the rest (server="processes", local/aws/moto_server.py), with
   the patches of local/aws/moto_patches.py (the ONE place for changes inside moto).
2. `template.yaml` is read (CloudFormation's short tags become their long form) and transformed to plain
   CloudFormation by the SAM translator, exactly as `sam deploy` would, with the local parameters below
   (voice_analytics/template.py, the one template module).
3. `prepare_for_moto()` rewrites what moto's CloudFormation cannot take. This is the ONE place for
   template-side workarounds: function code (moto wants an s3:// zip; the real handlers run in-process
   anyway) and resource types moto's CloudFormation does not implement (skipped, with a warning, and
   references to them replaced by a placeholder).
4. `create_stack`, wait for CREATE_COMPLETE, read the stack back as a `StackView` (voice_analytics/ops.py).
5. `_patch_moto_gaps()` does, with API calls, what moto's CloudFormation leaves out. This is the ONE place
   for those workarounds; each step says why (see also docs/local.md).

Names, rules, event patterns, batch sizes and function environments all come from the stack and the
translated template: nothing here restates them. `LocalStack.physical_id()` / `queue_url()` / `get_att()`
resolve logical ids; `function_env()` resolves a function's Environment.Variables against the stack.
"""

from __future__ import annotations

import io
import json
import logging
import re
import time
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from local.ports import free_port
from voice_analytics import template
from voice_analytics.ops import StackView

logger = logging.getLogger("local.aws.stack")

REPO_ROOT = Path(__file__).resolve().parents[2]

REGION = "us-east-1"
# moto's default account; every ARN it makes carries it.
ACCOUNT_ID = "123456789012"
# The stack is named STACK_PREFIX + Stage: short enough for the names moto derives from it (an archive name is
# at most 48 characters), and distinct per stage, so two stacks (e.g. tests) can share one moto process.
STACK_PREFIX = "va-"
# Parameters that differ from the template's defaults for a local run; everything else keeps its default.
LOCAL_PARAMETERS: dict[str, str] = {"Stage": "local", "AlertEmail": "oncall@example.com"}
# Where the dummy function code goes (bucket "<stack name>-artifacts"): the stand-in for `sam deploy`'s artifact
# bucket, not part of the template.
ARTIFACT_KEY = "functions/placeholder.zip"
# What stands in for a reference to a resource moto cannot create (see prepare_for_moto).
SKIPPED_PLACEHOLDER = "local-skipped-resource"
SERVER_MODES = ("thread", "processes")
# Fake credentials: moto accepts anything, and fixed values keep real ones out of reach.
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}
_CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=5, read_timeout=30)
_PSEUDO = {
    "AWS::Region": REGION,
    "AWS::AccountId": ACCOUNT_ID,
    "AWS::Partition": "aws",
    "AWS::URLSuffix": "amazonaws.com",
}


class LocalStackError(RuntimeError):
    """The local stack could not be set up; the message says which step and why."""


def _moto_supported_types(resource_types: set[str]) -> set[str] | None:
    """The resource types moto's CloudFormation can create, after loading the backends the template needs.

    moto registers a type when its backend module is imported (models subclass CloudFormationModel), and its own
    `get_model_map()` is lru-cached, so it must not be called here before the server ran create_stack.
    """
    try:
        from moto.backends import get_backend
        from moto.cloudformation.parsing import NULL_MODELS
        from moto.core.common_models import CloudFormationModel
    except ImportError:  # another moto layout: let create_stack decide
        return None
    aliases = {"lambda": "lambda", "cloudwatch": "cloudwatch", "logs": "logs"}
    for resource_type in resource_types:
        parts = resource_type.split("::")
        if len(parts) == 3 and parts[0] == "AWS":
            service = aliases.get(parts[1].lower(), parts[1].lower())
            try:
                get_backend(service)  # type: ignore[call-overload]
            except Exception:  # noqa: S112 - no such moto service: its types stay unsupported
                continue
    return {model.cloudformation_type() for model in CloudFormationModel.__subclasses__()} | set(NULL_MODELS)


def prepare_for_moto(cfn: dict[str, Any], parameters: Mapping[str, str]) -> tuple[dict[str, Any], list[str]]:
    """Rewrite the translated template for moto's CloudFormation; returns (template, skipped logical ids).

    - AWS::Lambda::Function Code: every function points at one placeholder zip in the artifact bucket (done on
      the SAM side by `template.with_code_uri`, as `sam package` would; the handlers run in-process anyway).
    - `Fn::If` is folded with the conditions evaluated for these parameters, and `AWS::NoValue` removed: moto
      puts None where AWS drops the item (an IAM role's Policies list then fails with a 500). Resources whose
      condition is false are removed.
    - AWS::Events::Archive EventPattern: moto's CloudFormation passes the object where its API wants a JSON
      string (500 on create_stack), so the pattern is serialised; the pattern itself is unchanged.
    - Resource types moto's CloudFormation does not implement are removed, and Ref/GetAtt/Sub/DependsOn that
      point at them are replaced by a placeholder, so new resource types in the template never break the demo.
    """
    cfn = dict(json.loads(json.dumps(cfn)))
    conditions = template.evaluate_conditions(cfn, {**_PSEUDO, **template.parameter_values(cfn, parameters)})
    # Resources whose condition is false are left out, as CloudFormation does (moto lists a conditional IAM role
    # as a resource without a logical id).
    cfn["Resources"] = template.fold_conditions(
        {name: body for name, body in cfn["Resources"].items() if conditions.get(body.get("Condition", ""), True)},
        conditions,
    )
    resources: dict[str, Any] = cfn["Resources"]
    supported = _moto_supported_types({resource["Type"] for resource in resources.values()})
    skipped = sorted(
        logical
        for logical, resource in resources.items()
        if supported is not None and resource["Type"] not in supported and not resource["Type"].startswith("Custom::")
    )
    for logical in skipped:
        logger.warning("moto cannot create %s (%s): skipped locally", logical, resources[logical]["Type"])
        del resources[logical]
    for resource in resources.values():
        properties = resource.get("Properties", {})
        if resource["Type"] == "AWS::Events::Archive" and isinstance(properties.get("EventPattern"), dict):
            properties["EventPattern"] = json.dumps(properties["EventPattern"])
        depends = resource.get("DependsOn")
        if depends:
            kept = [name for name in ([depends] if isinstance(depends, str) else depends) if name not in skipped]
            if kept:
                resource["DependsOn"] = kept
            else:
                resource.pop("DependsOn")
    if skipped:
        cfn["Resources"] = _replace_refs(resources, set(skipped))
        cfn["Outputs"] = _replace_refs(cfn.get("Outputs", {}), set(skipped))
    return cfn, skipped


def _replace_refs(node: Any, skipped: set[str]) -> Any:
    if isinstance(node, list):
        return [_replace_refs(item, skipped) for item in node]
    if not isinstance(node, dict):
        return node
    if node.keys() == {"Ref"} and node["Ref"] in skipped:
        return SKIPPED_PLACEHOLDER
    if node.keys() == {"Fn::GetAtt"}:
        target = node["Fn::GetAtt"]
        name = target[0] if isinstance(target, list) else str(target).split(".")[0]
        if name in skipped:
            return SKIPPED_PLACEHOLDER
    if node.keys() == {"Fn::Sub"}:
        value = node["Fn::Sub"]
        text = value if isinstance(value, str) else value[0]

        def swap(match: re.Match[str]) -> str:
            return SKIPPED_PLACEHOLDER if match.group(1).split(".")[0] in skipped else match.group(0)

        text = re.sub(r"\$\{([^!}][^}]*)\}", swap, text)
        return {"Fn::Sub": text if isinstance(value, str) else [text, _replace_refs(value[1], skipped)]}
    return {key: _replace_refs(value, skipped) for key, value in node.items()}


def _placeholder_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(
            "README.txt", "Placeholder: the local runner imports the real handlers from the source tree.\n"
        )
    return buffer.getvalue()


# ---------------------------------------------------------------------------------------------------- the stack


@dataclass(frozen=True)
class FunctionSpec:
    """One AWS::Lambda::Function of the translated template, as the runner needs it."""

    logical_id: str
    name: str
    arn: str
    handler: str
    timeout_s: int
    memory_mb: int
    environment: dict[str, str]


@dataclass(frozen=True)
class EventSource:
    """One SQS event source mapping of the translated template (AWS::Lambda::EventSourceMapping)."""

    logical_id: str
    uuid: str
    function: FunctionSpec
    queue_logical_id: str
    queue_url: str
    queue_arn: str
    batch_size: int
    batching_window_s: float
    report_batch_item_failures: bool
    maximum_concurrency: int | None


@dataclass
class LocalStack:
    """moto server + the template's stack on it. Use as a context manager or `start()` / `stop()`."""

    template_path: Path = template.TEMPLATE_PATH
    parameters: dict[str, str] = field(default_factory=lambda: dict(LOCAL_PARAMETERS))
    port: int = 0

    endpoint_url: str = ""
    sam_template: dict[str, Any] = field(default_factory=dict)
    cfn_template: dict[str, Any] = field(default_factory=dict)
    skipped_resources: list[str] = field(default_factory=list)
    # The created stack as CloudFormation describes it (resources, outputs, parameters): the same view the
    # operations commands read from AWS.
    view: StackView = field(default_factory=lambda: StackView("", {}, {}, {}))
    alerts_queue_url: str = ""
    # Logical id of each email subscription read back through the outbox queue -> its address.
    email_subscriptions: dict[str, str] = field(default_factory=dict)
    # "thread": moto in this process (tests hook it, start-up is quick); "processes": moto in a child process and
    # DynamoDB in another (local/aws/moto_server.py), for `make bench`, where this process also runs the pollers,
    # writers and emulators and one GIL for all of them was the bottleneck.
    server: str = "thread"
    dynamodb_endpoint_url: str = ""
    _server: Any = None
    _processes: list[Any] = field(default_factory=list)
    _session: Any = None
    _clients: dict[str, Any] = field(default_factory=dict)

    # -- lifecycle -------------------------------------------------------------------------------------------

    @property
    def stack_name(self) -> str:
        return STACK_PREFIX + self.parameters.get("Stage", "local")

    @property
    def artifact_bucket(self) -> str:
        return f"{self.stack_name}-artifacts"

    def start(self) -> LocalStack:
        if self.server not in SERVER_MODES:
            raise LocalStackError(f"server={self.server!r}: expected one of {', '.join(SERVER_MODES)}")
        if self.server == "thread":
            from local.aws.moto_patches import apply_all
            from local.aws.moto_server import start_in_thread

            apply_all()
            self._server, self.endpoint_url = start_in_thread(self.port)
        else:
            self._start_server_processes()
        self._session = boto3.session.Session(
            aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=FAKE_CREDENTIALS["AWS_SESSION_TOKEN"],
            region_name=REGION,
        )
        try:
            self._deploy()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None
        while self._processes:
            self._processes.pop().stop()

    def _start_server_processes(self) -> None:
        from local.aws.moto_server import MotoProcess

        try:
            main = MotoProcess(self.port or free_port(), f"moto-{self.stack_name}")
            self._processes.append(main.start())
            dynamodb = MotoProcess(free_port(), f"moto-dynamodb-{self.stack_name}")
            self._processes.append(dynamodb.start())
        except BaseException:
            self.stop()
            raise
        self.endpoint_url = main.endpoint_url
        self.dynamodb_endpoint_url = dynamodb.endpoint_url

    def service_endpoint_url(self, service: str) -> str:
        """Where `service` is served: DynamoDB's own server in server="processes", else the one endpoint."""
        if service == "dynamodb" and self.dynamodb_endpoint_url:
            return self.dynamodb_endpoint_url
        return self.endpoint_url

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def client(self, service: str) -> Any:
        """A boto3 client on the local endpoint (cached; boto3 clients are thread-safe once made)."""
        if service not in self._clients:
            self._clients[service] = self._session.client(
                service, endpoint_url=self.service_endpoint_url(service), config=_CLIENT_CONFIG
            )
        return self._clients[service]

    def aws_environment(self) -> dict[str, str]:
        """What any process or handler needs to reach this stack: endpoint, region, fake credentials."""
        values = {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            **FAKE_CREDENTIALS,
        }
        if self.dynamodb_endpoint_url:
            # boto3's per-service endpoint (botocore >= 1.31) wins over AWS_ENDPOINT_URL for DynamoDB clients.
            values["AWS_ENDPOINT_URL_DYNAMODB"] = self.dynamodb_endpoint_url
        return values

    # -- deployment ------------------------------------------------------------------------------------------

    def _deploy(self) -> None:
        self.sam_template = template.load_template(self.template_path)
        code_uri = f"s3://{self.artifact_bucket}/{ARTIFACT_KEY}"
        self.cfn_template = template.translate(template.with_code_uri(self.sam_template, code_uri), self.parameters)
        deployable, self.skipped_resources = prepare_for_moto(self.cfn_template, self.parameters)
        s3 = self.client("s3")
        s3.create_bucket(Bucket=self.artifact_bucket)
        s3.put_object(Bucket=self.artifact_bucket, Key=ARTIFACT_KEY, Body=_placeholder_zip())
        cfn = self.client("cloudformation")
        declared = deployable.get("Parameters", {})
        cfn.create_stack(
            StackName=self.stack_name,
            TemplateBody=json.dumps(deployable),
            Parameters=[
                {"ParameterKey": key, "ParameterValue": value}
                for key, value in self.parameters.items()
                if key in declared
            ],
            Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"],
        )
        self._wait_for_stack(cfn)
        self.view = StackView.load(self.stack_name, cfn)
        # moto leaves PhysicalResourceId out for some types (event buses, archives): use the template's name.
        for logical, (kind, physical) in list(self.view.resources.items()):
            if not physical:
                self.view.resources[logical] = (kind, self._declared_name(logical))
        self._patch_moto_gaps()

    def _wait_for_stack(self, cfn: Any, timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        while True:
            stack = cfn.describe_stacks(StackName=self.stack_name)["Stacks"][0]
            status = stack["StackStatus"]
            if status == "CREATE_COMPLETE":
                return
            if status.endswith("FAILED") or status.startswith("ROLLBACK"):
                events = cfn.describe_stack_events(StackName=self.stack_name)["StackEvents"]
                reasons = [f"{e['LogicalResourceId']}: {e.get('ResourceStatusReason')}" for e in events][:5]
                raise LocalStackError(f"stack {self.stack_name} ended in {status}: {reasons}")
            if time.monotonic() > deadline:
                raise LocalStackError(f"stack {self.stack_name} still {status} after {timeout_s:.0f} s")
            time.sleep(0.1)

    def _patch_moto_gaps(self) -> None:
        """Everything moto leaves out, done with API calls. The ONE place for such patches (the fixes inside moto's
        server are local/aws/moto_patches.py, applied wherever the server runs)."""
        # 0. Server processes: DynamoDB has a server of its own (see local/aws/moto_server.py). The stack's tables were
        #    created on the main server by CloudFormation; create them, from the template's properties, where the
        #    functions reach DynamoDB, and delete the main server's copies, so a client on the wrong endpoint fails
        #    loudly (ResourceNotFoundException) instead of writing to a table nothing reads.
        if self.dynamodb_endpoint_url:
            self._move_tables_to_dynamodb_server()
        # 1. The bucket's EventBridge switch (NotificationConfiguration.EventBridgeConfiguration) is not applied
        #    by moto's CloudFormation; without it no "Object Created" event reaches the default bus.
        for logical, props in self._resources_of_type("AWS::S3::Bucket"):
            if props.get("NotificationConfiguration", {}).get("EventBridgeConfiguration"):
                self.client("s3").put_bucket_notification_configuration(
                    Bucket=self.physical_id(logical),
                    NotificationConfiguration={"EventBridgeConfiguration": {}},
                )
        #    Nor is the bucket's VersioningConfiguration: without it an overwrite or a delete would destroy the old
        #    bytes here while AWS keeps them as a noncurrent version (what `forget` and the ledger must see).
        for logical, props in self._resources_of_type("AWS::S3::Bucket"):
            if props.get("VersioningConfiguration", {}).get("Status") == "Enabled":
                self.client("s3").put_bucket_versioning(
                    Bucket=self.physical_id(logical), VersioningConfiguration={"Status": "Enabled"}
                )
        # 2. DynamoDB TTL is not applied either (moto never expires items anyway; set so describe shows it).
        for logical, props in self._resources_of_type("AWS::DynamoDB::Table"):
            ttl = props.get("TimeToLiveSpecification")
            if ttl and ttl.get("Enabled"):
                self.client("dynamodb").update_time_to_live(
                    TableName=self.physical_id(logical),
                    TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]},
                )
        # 3. An enabled SQS event source mapping makes moto try to run the function in Docker on every send,
        #    raising receive counts and pushing messages to the DLQ. The local runner polls instead.
        lambda_client = self.client("lambda")
        for logical, _ in self._resources_of_type("AWS::Lambda::EventSourceMapping"):
            lambda_client.update_event_source_mapping(UUID=self.physical_id(logical), Enabled=False)
        # 4. An SQS subscription on every SNS topic with an email subscription, so the demo can read the
        #    emails back (moto "sends" email nowhere). Raw delivery off: the envelope keeps the Subject.
        sqs, sns = self.client("sqs"), self.client("sns")
        self.alerts_queue_url = sqs.create_queue(QueueName=f"{self.stack_name}-email-outbox")["QueueUrl"]
        outbox_arn = sqs.get_queue_attributes(QueueUrl=self.alerts_queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        # moto's CloudFormation has no AWS::SNS::Subscription, so this reads the template's email subscriptions
        # (those whose Condition holds) and subscribes the outbox to their topics instead.
        for logical, resource in self.cfn_template["Resources"].items():
            props = resource.get("Properties", {})
            if resource["Type"] != "AWS::SNS::Subscription" or props.get("Protocol") != "email":
                continue
            if "Condition" in resource and not self._condition(resource["Condition"]):
                continue
            sns.subscribe(TopicArn=self.resolve(props["TopicArn"]), Protocol="sqs", Endpoint=outbox_arn)
            self.email_subscriptions[logical] = str(self.resolve(props["Endpoint"]))
        # 5. moto's CloudFormation has no Firehose delivery stream nor subscription filter: with
        #    SessionAnalyticsStream=true, create them from the template's properties, so the agent's log line goes
        #    CloudWatch Logs -> Firehose -> S3 here too. moto's Firehose writes each batch as it comes (CloudWatch
        #    Logs' gzip JSON envelope, under the destination's Prefix taken literally) and its CloudWatch Logs sends
        #    every event of the group, whatever the filter pattern: the processing, buffering and pattern are AWS's.
        self._create_unsupported("AWS::KinesisFirehose::DeliveryStream", self._create_delivery_stream)
        self._create_unsupported("AWS::Logs::SubscriptionFilter", self._create_subscription_filter)

    def _create_unsupported(self, resource_type: str, create: Any) -> None:
        for logical in self.skipped_resources:
            resource = self.cfn_template["Resources"][logical]
            if resource["Type"] != resource_type:
                continue
            if "Condition" in resource and not self._condition(resource["Condition"]):
                continue
            self.view.resources[logical] = (resource_type, create(resource.get("Properties", {})))

    def _create_delivery_stream(self, props: dict[str, Any]) -> str:
        firehose = self.client("firehose")
        name = str(self.resolve(props["DeliveryStreamName"]))
        firehose.create_delivery_stream(
            DeliveryStreamName=name,
            DeliveryStreamType=props.get("DeliveryStreamType", "DirectPut"),
            ExtendedS3DestinationConfiguration=self.resolve(props["ExtendedS3DestinationConfiguration"]),
        )
        return str(
            firehose.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"]["DeliveryStreamARN"]
        )

    def _create_subscription_filter(self, props: dict[str, Any]) -> str:
        resolved = self.resolve(props)
        self.client("logs").put_subscription_filter(
            logGroupName=resolved["LogGroupName"],
            filterName=resolved["FilterName"],
            filterPattern=resolved["FilterPattern"],
            destinationArn=resolved["DestinationArn"],
            roleArn=resolved["RoleArn"],
        )
        return str(resolved["FilterName"])

    def _move_tables_to_dynamodb_server(self) -> None:
        main = self._session.client("dynamodb", endpoint_url=self.endpoint_url, config=_CLIENT_CONFIG)
        for logical, props in self._resources_of_type("AWS::DynamoDB::Table"):
            name = self.physical_id(logical)
            definition = {
                key: self.resolve(props[key])
                for key in (
                    "KeySchema",
                    "AttributeDefinitions",
                    "BillingMode",
                    "ProvisionedThroughput",
                    "GlobalSecondaryIndexes",
                    "LocalSecondaryIndexes",
                )
                if key in props
            }
            self.client("dynamodb").create_table(TableName=name, **definition)
            main.delete_table(TableName=name)

    def create_secrets(self, values: Mapping[str, Mapping[str, Any]]) -> None:
        """Create Secrets Manager secrets (name -> JSON) that the template names as parameters but does not
        create (in AWS they are made by hand, see docs/backend.md); locally they point at the emulators."""
        secrets = self.client("secretsmanager")
        for name, value in values.items():
            secrets.create_secret(Name=name, SecretString=json.dumps(dict(value)))

    def _declared_name(self, logical_id: str) -> str:
        properties = self.cfn_template["Resources"].get(logical_id, {}).get("Properties", {})
        for key in ("Name", "ArchiveName", "QueueName", "TopicName", "TableName", "BucketName", "FunctionName"):
            if key in properties:
                return str(self.resolve(properties[key]))
        return ""

    # -- lookups ---------------------------------------------------------------------------------------------

    def _resources_of_type(self, resource_type: str) -> Iterator[tuple[str, dict[str, Any]]]:
        for logical, resource in self.cfn_template["Resources"].items():
            if resource["Type"] == resource_type and logical in self.view.resources:
                yield logical, resource.get("Properties", {})

    def output(self, name: str) -> str:
        """A stack output (e.g. SessionsBucketName), as `aws cloudformation describe-stacks` shows it."""
        return self.view.output(name)

    def physical_id(self, logical_id: str) -> str:
        return self.view.physical_id(logical_id)

    def resource_type(self, logical_id: str) -> str:
        return self.view.resource_type(logical_id)

    def logical_ids(self, resource_type: str) -> list[str]:
        return list(self.view.of_type(resource_type))

    def parameter(self, name: str) -> str:
        if name in self.parameters:
            return self.parameters[name]
        declared = self.cfn_template.get("Parameters", {}).get(name)
        if declared is None:
            raise LocalStackError(f"no parameter {name!r} in the template")
        return str(declared.get("Default", ""))

    def queue_url(self, logical_id: str) -> str:
        physical = self.physical_id(logical_id)
        if physical.startswith("http"):
            return physical
        return str(self.client("sqs").get_queue_url(QueueName=physical)["QueueUrl"])

    def ref(self, logical_id: str) -> str:
        """What `!Ref` gives in CloudFormation, for parameters, pseudo parameters and resources."""
        if logical_id in _PSEUDO:
            return _PSEUDO[logical_id]
        if logical_id == "AWS::StackName":
            return self.stack_name
        if logical_id in self.cfn_template.get("Parameters", {}):
            return self.parameter(logical_id)
        if logical_id in self.skipped_resources:
            # What create_stack got in its place (prepare_for_moto): e.g. the Glue database in the compact function's
            # environment; that function has no event source, so nothing runs with it locally.
            return SKIPPED_PLACEHOLDER
        if logical_id not in self.view.resources:
            raise LocalStackError(f"cannot resolve Ref {logical_id!r}: not in the stack")
        if self.resource_type(logical_id) == "AWS::SQS::Queue":
            return self.queue_url(logical_id)
        return self.physical_id(logical_id)

    def get_att(self, logical_id: str, attribute: str) -> str:
        """What `!GetAtt` gives, for the resource types and attributes the template's environments use."""
        kind = self.resource_type(logical_id)
        physical = self.physical_id(logical_id)
        if kind == "AWS::SQS::Queue":
            url = self.queue_url(logical_id)
            if attribute == "Arn":
                attributes = self.client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
                return str(attributes["Attributes"]["QueueArn"])
            if attribute == "QueueName":
                return url.rstrip("/").rsplit("/", 1)[-1]
            if attribute == "QueueUrl":
                return url
        elif kind == "AWS::Events::EventBus":
            bus = self.client("events").describe_event_bus(Name=physical.rsplit("/", 1)[-1])
            if attribute == "Name":
                return str(bus["Name"])
            if attribute == "Arn":
                return str(bus["Arn"])
        elif kind == "AWS::SNS::Topic":
            if attribute == "TopicArn":
                return physical
            if attribute == "TopicName":
                return physical.rsplit(":", 1)[-1]
        elif kind == "AWS::S3::Bucket":
            if attribute == "Arn":
                return f"arn:aws:s3:::{physical}"
            if attribute == "DomainName":
                return f"{physical}.s3.amazonaws.com"
        elif kind == "AWS::DynamoDB::Table":
            if attribute == "Arn":
                return str(self.client("dynamodb").describe_table(TableName=physical)["Table"]["TableArn"])
        elif kind == "AWS::Lambda::Function":
            if attribute == "Arn":
                return str(self.client("lambda").get_function(FunctionName=physical)["Configuration"]["FunctionArn"])
        elif kind == "AWS::IAM::Role" and attribute == "Arn":
            return physical if physical.startswith("arn:") else f"arn:aws:iam::{ACCOUNT_ID}:role/{physical}"
        elif kind == "AWS::KinesisFirehose::DeliveryStream" and attribute == "Arn":
            return physical  # created by _create_delivery_stream, which records the ARN
        elif kind == "AWS::Events::Rule" and attribute == "Arn":
            return physical if physical.startswith("arn:") else f"arn:aws:events:{REGION}:{ACCOUNT_ID}:rule/{physical}"
        raise LocalStackError(f"cannot resolve GetAtt {logical_id}.{attribute} ({kind}) locally")

    def resolve(self, value: Any) -> Any:
        """Evaluate Ref / GetAtt / Sub / Join / Select / If in a template value against the created stack."""
        return template.resolve(value, ref=self.ref, get_att=self.get_att, condition=self._condition)

    def _condition(self, name: str) -> bool:
        if name not in self.cfn_template.get("Conditions", {}):
            raise LocalStackError(f"no condition {name!r} in the template")
        values = {key: self.parameter(key) for key in self.cfn_template.get("Parameters", {})}
        return template.condition_value(self.cfn_template["Conditions"], name, {**_PSEUDO, **values})

    # -- functions and event sources -------------------------------------------------------------------------

    def functions(self) -> dict[str, FunctionSpec]:
        """Every AWS::Lambda::Function, with its Environment.Variables resolved against the stack."""
        found: dict[str, FunctionSpec] = {}
        for logical, props in self._resources_of_type("AWS::Lambda::Function"):
            variables = props.get("Environment", {}).get("Variables", {})
            name = self.physical_id(logical)
            found[logical] = FunctionSpec(
                logical_id=logical,
                name=name,
                arn=f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{name}",
                handler=str(props["Handler"]),
                timeout_s=int(self.resolve(props.get("Timeout", 3))),
                memory_mb=int(self.resolve(props.get("MemorySize", 128))),
                environment={key: str(self.resolve(value)) for key, value in variables.items()},
            )
        return found

    def event_sources(self) -> list[EventSource]:
        """Every SQS event source mapping, with its batch size, window and failure reporting from the template."""
        functions = self.functions()
        by_name = {spec.name: spec for spec in functions.values()}
        sources: list[EventSource] = []
        for logical, props in self._resources_of_type("AWS::Lambda::EventSourceMapping"):
            source_arn = props["EventSourceArn"]
            if not (isinstance(source_arn, dict) and "Fn::GetAtt" in source_arn):
                raise LocalStackError(f"{logical}: EventSourceArn is not a GetAtt of a queue: {source_arn}")
            queue_logical = source_arn["Fn::GetAtt"][0]
            if self.resource_type(queue_logical) != "AWS::SQS::Queue":
                continue  # only SQS sources are run locally
            function_ref = self.resolve(props["FunctionName"])
            function = by_name.get(function_ref) or functions.get(props["FunctionName"].get("Ref", ""))
            if function is None:
                raise LocalStackError(f"{logical}: no function {function_ref!r} in the stack")
            scaling = self.resolve(props.get("ScalingConfig", {}))
            sources.append(
                EventSource(
                    logical_id=logical,
                    uuid=self.physical_id(logical),
                    function=function,
                    queue_logical_id=queue_logical,
                    queue_url=self.queue_url(queue_logical),
                    queue_arn=self.get_att(queue_logical, "Arn"),
                    # Lambda's default for SQS when BatchSize is absent.
                    batch_size=int(self.resolve(props.get("BatchSize", 10))),
                    batching_window_s=float(self.resolve(props.get("MaximumBatchingWindowInSeconds", 0))),
                    report_batch_item_failures="ReportBatchItemFailures" in props.get("FunctionResponseTypes", []),
                    maximum_concurrency=int(scaling["MaximumConcurrency"]) if "MaximumConcurrency" in scaling else None,
                )
            )
        return sources

    def dead_letter_queues(self) -> dict[str, str]:
        """Logical id -> URL of every queue that some queue's RedrivePolicy names as its DLQ."""
        found: dict[str, str] = {}
        for _, props in self._resources_of_type("AWS::SQS::Queue"):
            target = props.get("RedrivePolicy", {}).get("deadLetterTargetArn")
            if isinstance(target, dict) and "Fn::GetAtt" in target:
                logical = target["Fn::GetAtt"][0]
                found[logical] = self.queue_url(logical)
        return found
