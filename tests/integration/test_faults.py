"""Faults at every far end, and duplicate, out-of-order deliveries: nothing lost, nothing duplicated, by counts.

One pipeline for the module (tests/integration/pipeline.py: the stack from template.yaml on moto, the Salesforce
and Amplitude emulators, the real handlers polled by the local runner). Faults are injected only at the far side:
the emulators' switches (fail_next, delay_next, expire_sessions), a closed or silent TCP port for S3, and, where
moto cannot fail on demand (SNS throttling, an S3 5xx), a botocore `before-send` hook on the handler's own boto3
client that answers instead of the server; the handlers themselves run unchanged.

Every scenario ends with its ledger (tests/integration/ledger.py): each session put in accounted exactly once
(scored once, one Lead, one Task, one set of Amplitude events, one alert; or one DLQ message with its reason),
nothing else appeared anywhere, and the far ends saw exactly the calls the scenario explains. Each fault scenario
also proves its fault fired (the emulators' `faults_served` / `delays_served`, the hook's hit counter).
"""

from __future__ import annotations

import asyncio
import gzip
import importlib
import json
import random
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse

from agent.exporter import Exporter, S3Sink, flush_spool, make_s3_client, spooled_keys
from local.environment import environment
from local.ports import free_port
from tests.integration.ledger import every_scenario_closes_a_ledger
from tests.integration.pipeline import Pipeline, gzip_line, record_data, running_pipeline, session_id

pytestmark = pytest.mark.integration

STAGE = "faults"


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    with running_pipeline(STAGE, tmp_path_factory.mktemp("fault-logs")) as running:
        yield running


@pytest.fixture(autouse=True)
def clean_far_ends(pipeline: Pipeline) -> Iterator[None]:
    """Every scenario starts and must end with no pending fault, empty DLQs and nothing left in flight, and ends
    with a closed ledger."""
    pipeline.salesforce.reset_faults()
    pipeline.amplitude.reset_faults()
    pipeline.runner.delivery_plan = lambda _source, _records: 1
    with every_scenario_closes_a_ledger(pipeline.ledgers):
        yield
    pipeline.salesforce.reset_faults()
    pipeline.amplitude.reset_faults()
    pipeline.runner.delivery_plan = lambda _source, _records: 1
    pipeline.drain()
    assert pipeline.dlq_depths() == dict.fromkeys(pipeline.dlq_depths(), 0), "a scenario left messages in a DLQ"


# ------------------------------------------------------------------------------------------------ far-side hooks


def handler_client(pipeline: Pipeline, service: str) -> Any:
    """The boto3 client the running handlers use (functions.common.aws caches one per service and container)."""
    aws = importlib.import_module("functions.common.aws")
    with environment(pipeline.stack.aws_environment()):
        return getattr(aws, f"{service}_client")()


@contextmanager
def far_side_errors(
    client: Any, operation: str, status: int, code: str, times: int, when: Callable[[Any], bool] = lambda _r: True
) -> Iterator[list[int]]:
    """The next `times` matching requests of `operation` are answered with `status`/`code` by a botocore
    `before-send` hook instead of the server (the request never leaves the process); yields the hit counter."""
    hits = [0]
    service = client.meta.service_model.endpoint_prefix
    protocol = client.meta.service_model.protocol

    def answer(request: Any, **_: Any) -> AWSResponse | None:
        if hits[0] >= times or not when(request):
            return None
        hits[0] += 1
        content_type = "text/xml"
        if protocol == "query":
            body = (
                f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>injected</Message></Error>"
                "<RequestId>fault</RequestId></ErrorResponse>"
            ).encode()
        elif protocol == "json":  # DynamoDB, SQS
            body, content_type = (
                json.dumps({"__type": code, "message": "injected"}).encode(),
                "application/x-amz-json-1.0",
            )
        else:
            body = f"<Error><Code>{code}</Code><Message>injected</Message></Error>".encode()
        raw = _RawBody(body)
        return AWSResponse(request.url, status, {"Content-Type": content_type}, raw)

    event = f"before-send.{service}.{operation}"
    client.meta.events.register(event, answer, unique_id=f"fault-{operation}")
    try:
        yield hits
    finally:
        client.meta.events.unregister(event, unique_id=f"fault-{operation}")


class _RawBody:
    """The `raw` stream AWSResponse reads its content from."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body


@contextmanager
def silent_port() -> Iterator[int]:
    """A TCP port that accepts connections and never answers: a slow, hung S3."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                connection, _ = server.accept()
            except OSError:
                continue
            held.append(connection)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        thread.join(timeout=2)
        for connection in held:
            connection.close()
        server.close()


# --------------------------------------------------------------------------------------------- S3 during export


def export_through(endpoint: str, bucket: str, spool_dir: Path, raw: dict[str, Any], budget_s: float) -> Any:
    client = make_s3_client(endpoint_url=endpoint, connect_timeout_s=0.3, read_timeout_s=0.3, max_attempts=1)
    exporter = Exporter(S3Sink(bucket, client), spool_dir=spool_dir, budget_s=budget_s)
    return asyncio.run(exporter.export(raw))


def flush_to(pipeline: Pipeline, spool_dir: Path) -> Any:
    """The operator's `spool flush`: credentials that may read records, so a repeat is recognised by its bytes."""
    client = make_s3_client(endpoint_url=pipeline.stack.endpoint_url)
    return flush_spool(S3Sink(pipeline.bucket, client, read_existing=True), spool_dir)


def test_s3_unreachable_during_export_spools_and_the_flush_stores_exactly_one_object(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    ledger = pipeline.ledger()
    sid = session_id("spool")
    result = export_through(f"http://127.0.0.1:{free_port()}", pipeline.bucket, tmp_path, record_data(sid), 2.0)

    assert result.status == "spooled"
    assert spooled_keys(tmp_path) == [result.key]
    assert pipeline.keys(result.key) == []

    report = flush_to(pipeline, tmp_path)
    pipeline.drain()

    assert report.uploaded == [result.key] and not report.failed
    assert spooled_keys(tmp_path) == []
    assert pipeline.keys(result.key) == [result.key]
    ledger.effects(sid)
    ledger.close()


def test_s3_that_never_answers_spools_within_the_budget_and_a_second_flush_adds_nothing(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    ledger = pipeline.ledger()
    sid = session_id("slow")
    with silent_port() as port:
        result = export_through(f"http://127.0.0.1:{port}", pipeline.bucket, tmp_path, record_data(sid), 1.0)
    assert result.status == "spooled" and result.duration_ms < 2500

    first = flush_to(pipeline, tmp_path)
    # The agent's own retry (same record) after the flush: it may not read the object to compare, so the record
    # goes beside it as a collision copy, which score_lead finds identical to the primary and acknowledges.
    again = export_through(pipeline.stack.endpoint_url, pipeline.bucket, tmp_path, record_data(sid), 5.0)
    second = flush_to(pipeline, tmp_path)
    pipeline.drain()

    assert first.uploaded == [result.key]
    assert again.status == "collision" and ".dup-" in again.key
    assert second.uploaded == [] and second.already_present == []
    assert pipeline.keys(result.key) == [result.key]
    assert pipeline.keys(again.key) == [again.key]
    ledger.effects(sid)
    ledger.duplicate_export(again.key)
    ledger.close()


def test_spooled_record_uploaded_meanwhile_by_a_retry_is_flushed_as_already_present(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    ledger = pipeline.ledger()
    sid = session_id("race")
    result = export_through(f"http://127.0.0.1:{free_port()}", pipeline.bucket, tmp_path, record_data(sid), 2.0)
    retried = export_through(pipeline.stack.endpoint_url, pipeline.bucket, tmp_path / "other", record_data(sid), 5.0)

    report = flush_to(pipeline, tmp_path)
    pipeline.drain()

    assert (result.status, retried.status) == ("spooled", "uploaded")
    assert report.already_present == [result.key] and report.uploaded == []
    assert spooled_keys(tmp_path) == []
    ledger.effects(sid)
    ledger.close()


def test_a_different_record_under_an_existing_session_id_is_scored_as_a_session_of_its_own(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    ledger = pipeline.ledger()
    sid = session_id("clash")
    first = export_through(pipeline.stack.endpoint_url, pipeline.bucket, tmp_path, record_data(sid), 5.0)
    # Another call given the same id (a repeated room name in an older agent, a hand-made id): other content.
    other = record_data(sid, end_reason="agent_ended", duration_s=42.0)
    second = export_through(pipeline.stack.endpoint_url, pipeline.bucket, tmp_path, other, 5.0)
    pipeline.drain()

    derived = f"{sid}-{second.key.rsplit('.dup-', 1)[1][:8]}"
    assert (first.status, second.status) == ("uploaded", "collision")
    scored_other = json.loads(
        gzip.decompress(pipeline.s3.get_object(Bucket=pipeline.bucket, Key=pipeline.scored(derived)[0])["Body"].read())
    )
    assert scored_other["end_reason"] == "agent_ended" and scored_other["session_id"] == derived
    # Same caller contact in both records: one Lead (upserted by each call), with both calls as its activities.
    assert len(pipeline.leads(sid)) == 1
    ledger.effects(sid)
    ledger.effects(derived)
    ledger.close()


def test_a_collision_copy_whose_primary_is_gone_is_scored_as_the_session(pipeline: Pipeline) -> None:
    ledger = pipeline.ledger()
    sid = session_id("orphan")
    data = record_data(sid)
    key = f"sessions/year=2026/month=11/day=20/{sid}.dup-0123456789abcdef.json.gz"
    pipeline.put_raw(key, gzip_line(data))
    pipeline.drain()

    ledger.effects(sid)
    ledger.close()


# ------------------------------------------------------------------------------------------------- Salesforce


@pytest.mark.parametrize(
    ("status", "code", "times"),
    [
        pytest.param(500, "UNKNOWN_EXCEPTION", 1, id="500-unknown-exception"),
        pytest.param(503, "SERVER_UNAVAILABLE", 2, id="503-twice"),
        pytest.param(403, "REQUEST_LIMIT_EXCEEDED", 1, id="request-limit-exceeded"),
    ],
)
def test_transient_salesforce_errors_are_retried_by_sqs_into_one_lead_and_one_task(
    pipeline: Pipeline, status: int, code: str, times: int
) -> None:
    ledger = pipeline.ledger()
    sid = session_id("sf")
    records_before, failed_before = pipeline.stats("SalesforceSyncFunction")
    pipeline.salesforce.fail_next(times, status, code)

    pipeline.put_session(sid)
    pipeline.drain()

    records, failed = pipeline.stats("SalesforceSyncFunction")
    assert failed - failed_before == times  # each fault failed one delivery of this one message
    assert records - records_before == times + 1
    # Each fault answered the Lead call of one delivery: `times` refused calls, then one that went through.
    ledger.effects(sid, lead_calls=times + 1)
    tally = ledger.close()
    assert tally.salesforce_faults_served == times
    assert [status for _, _, status in tally.salesforce_data_calls] == [status] * times + [200, 200]


def test_salesforce_answering_after_the_client_timeout_gives_one_lead_and_one_task(pipeline: Pipeline) -> None:
    """The emulator stores the Lead, then answers too late: the retry must update it, not add a second one."""
    ledger = pipeline.ledger()
    sid = session_id("sf-slow")
    _, failed_before = pipeline.stats("SalesforceSyncFunction")
    pipeline.salesforce.delay_next(1, 3.5)

    pipeline.put_session(sid)
    pipeline.drain()

    _, failed = pipeline.stats("SalesforceSyncFunction")
    assert failed - failed_before == 1
    ledger.effects(sid, lead_calls=2)  # the late one (stored), and the retry's update of that same Lead
    tally = ledger.close()
    assert tally.salesforce_delays_served == 1
    assert [status for _, _, status in tally.salesforce_data_calls] == [200, 200, 200]


def test_expired_salesforce_session_logs_in_again_exactly_once(pipeline: Pipeline) -> None:
    warm = session_id("sf-warm")
    warming = pipeline.ledger()
    pipeline.put_session(warm)
    pipeline.drain()
    warming.effects(warm)
    warming.close()
    _, failed_before = pipeline.stats("SalesforceSyncFunction")
    pipeline.salesforce.expire_sessions()

    ledger = pipeline.ledger()
    sid = session_id("sf-expired")
    pipeline.put_session(sid)
    pipeline.drain()

    assert pipeline.stats("SalesforceSyncFunction")[1] == failed_before  # no retry was needed
    ledger.effects(sid, lead_calls=2)  # refused with 401, then again after the new login
    tally = ledger.close()
    assert tally.salesforce_logins == 1
    assert [status for _, _, status in tally.salesforce_data_calls] == [401, 200, 200]


def test_salesforce_validation_error_goes_to_the_dlq_once_with_its_reason_and_other_consumers_go_on(
    pipeline: Pipeline,
) -> None:
    ledger = pipeline.ledger()
    sid = session_id("sf-invalid")
    records_before, failed_before = pipeline.stats("SalesforceSyncFunction")
    pipeline.salesforce.fail_next(1, 400, "FIELD_CUSTOM_VALIDATION_EXCEPTION", "Company: must not be a test company")

    pipeline.put_session(sid)
    pipeline.drain()

    # No retry storm: delivered once, not reported failed.
    records, failed = pipeline.stats("SalesforceSyncFunction")
    assert (records - records_before, failed - failed_before) == (1, 0)
    # One refused Lead upsert and no Task; Amplitude and the alert are not held back by Salesforce.
    ledger.effects(sid, dead_letter={"salesforce_sync": "FIELD_CUSTOM_VALIDATION_EXCEPTION"})
    tally = ledger.close()
    assert tally.salesforce_faults_served == 1
    assert [status for _, _, status in tally.salesforce_data_calls] == [400]
    [dead] = tally.dead_letters
    attributes = dead["MessageAttributes"]
    assert "Company: must not be a test company" in attributes["FailureReason"]["StringValue"]
    assert attributes["SessionId"]["StringValue"] == sid
    assert attributes["FailedBy"]["StringValue"] == "salesforce_sync"
    assert json.loads(dead["Body"])["detail"]["session_id"] == sid


# -------------------------------------------------------------------------------------------------- Amplitude


@pytest.mark.parametrize(
    ("status", "times"),
    [pytest.param(429, 1, id="429-throttled"), pytest.param(500, 1, id="500"), pytest.param(503, 2, id="503-twice")],
)
def test_amplitude_errors_end_in_exactly_one_set_of_events(pipeline: Pipeline, status: int, times: int) -> None:
    ledger = pipeline.ledger()
    sid = session_id("amp")
    pipeline.amplitude.fail_next(times, status)

    pipeline.put_session(sid)
    pipeline.drain()

    # Each fault refused one send of the session's events; the next one stored them.
    ledger.effects(sid, amplitude_sends=times + 1)
    tally = ledger.close()
    assert tally.amplitude_faults_served == times
    assert tally.amplitude_uploads.count(status) == times and tally.amplitude_uploads[-1] == 200


def test_amplitude_answering_after_the_flush_timeout_stores_one_set_of_events(pipeline: Pipeline) -> None:
    ledger = pipeline.ledger()
    sid = session_id("amp-slow")
    _, failed_before = pipeline.stats("AmplitudeEventsFunction")
    pipeline.amplitude.delay_next(1, 4.5)

    pipeline.put_session(sid)
    pipeline.drain()

    _, failed = pipeline.stats("AmplitudeEventsFunction")
    assert failed - failed_before == 1  # the late answer failed the item; the redelivery re-sent the same insert_ids
    ledger.effects(sid, amplitude_sends=2)  # stored the first time, resent with the same insert_ids
    tally = ledger.close()
    assert tally.amplitude_delays_served == 1
    assert set(tally.amplitude_uploads) == {200}


# ------------------------------------------------------------------------------------------------------- SNS


def test_sns_throttling_within_the_sdk_retries_sends_one_alert(pipeline: Pipeline) -> None:
    ledger = pipeline.ledger()
    sid = session_id("sns")
    _, failed_before = pipeline.stats("HotLeadAlertFunction")
    with far_side_errors(handler_client(pipeline, "sns"), "Publish", 400, "Throttling", times=1) as hits:
        pipeline.put_session(sid)
        pipeline.drain()

    assert hits == [1]
    assert pipeline.stats("HotLeadAlertFunction")[1] == failed_before  # botocore's retry absorbed it
    ledger.effects(sid)
    assert ledger.close().sns_publishes == 1


def test_sns_throttling_beyond_the_sdk_retries_fails_the_item_and_the_redelivery_sends_one_alert(
    pipeline: Pipeline,
) -> None:
    ledger = pipeline.ledger()
    sid = session_id("sns-long")
    _, failed_before = pipeline.stats("HotLeadAlertFunction")
    # The handlers' clients retry 3 times (functions/common/aws.py: 4 attempts): 4 throttles fail one delivery.
    with far_side_errors(handler_client(pipeline, "sns"), "Publish", 400, "Throttling", times=4) as hits:
        pipeline.put_session(sid)
        pipeline.drain()

    assert hits == [4]
    assert pipeline.stats("HotLeadAlertFunction")[1] - failed_before == 1
    ledger.effects(sid)
    assert ledger.close().sns_publishes == 1


# ------------------------------------------------------------------------------------------ partial batch failure


def test_a_crash_on_one_record_of_a_batch_sends_back_only_that_record(pipeline: Pipeline) -> None:
    """S3 answers 500 to score_lead's scored/ write for one session of three put together."""
    ledger = pipeline.ledger()
    sids = [session_id("batch") for _ in range(3)]
    victim = sids[1]
    records_before, failed_before = pipeline.stats("ScoreLeadFunction")

    def for_victim(request: Any) -> bool:
        return "/scored/" in request.url and victim in request.url

    with far_side_errors(handler_client(pipeline, "s3"), "PutObject", 500, "InternalError", 4, for_victim) as hits:
        for sid in sids:
            pipeline.put_session(sid)
        pipeline.drain()

    records, failed = pipeline.stats("ScoreLeadFunction")
    assert hits == [4]  # every attempt of botocore's standard retries
    assert failed - failed_before == 1  # only the victim was reported failed...
    assert records - records_before == 4  # ...and only it came back: 3 records + 1 redelivery
    for sid in sids:
        ledger.effects(sid)
    ledger.close()


# --------------------------------------------------------------------------------------- duplicates and ordering


def test_every_message_delivered_three_times_gives_one_lead_task_event_set_and_alert_each(pipeline: Pipeline) -> None:
    """The same SQS message (same message id) handed to the function three times: one call at each far end."""
    ledger = pipeline.ledger()
    sids = [session_id("dup") for _ in range(4)]
    cold = session_id("dup-cold")
    pipeline.runner.delivery_plan = lambda _source, _records: 3

    for sid in sids:
        pipeline.put_session(sid)
    pipeline.put_session(cold, signals={"team_size": 2}, tool_calls=[])
    pipeline.drain()

    for sid in sids:
        ledger.effects(sid)
    ledger.effects(cold, hot=False, events=2)
    tally = ledger.close()
    # Each session was carried by one Lead call and one Task call (the ledger pins that per session), whatever
    # batches the runner made of them.
    assert sum(len(call.external_ids) for call in tally.salesforce_collection_calls) == 2 * 5
    assert tally.sns_publishes == 4


def test_a_redelivery_with_a_new_message_id_calls_no_far_end_again(pipeline: Pipeline) -> None:
    """What SQS, a replay or a redrive does: the same bodies again as new messages (new message ids), to
    score_lead ("Object Created" again) and to every consumer ("Lead Scored" again). Each is handled, and
    Salesforce, Amplitude and SNS see no second call: idempotency is keyed on the session, not on the delivery."""
    hot, cold = session_id("again-hot"), session_id("again-cold")
    first = pipeline.ledger()
    with pipeline.lead_scored_tap() as captured:
        keys = [pipeline.put_session(hot), pipeline.put_session(cold, signals={"team_size": 2}, tool_calls=[])]
        pipeline.drain()
        bodies = captured()
    first.effects(hot)
    first.effects(cold, hot=False, events=2)
    first.close()
    assert sorted(json.loads(body)["detail"]["session_id"] for body in bodies) == sorted([hot, cold])

    second = pipeline.ledger()
    delivered_before = {name: stat.records for name, stat in pipeline.runner.stats.items()}
    for key in keys:  # a copy onto itself raises a second "Object Created" (what `replay --mode objects` does)
        pipeline.s3.copy_object(
            Bucket=pipeline.bucket,
            Key=key,
            CopySource={"Bucket": pipeline.bucket, "Key": key},
            MetadataDirective="REPLACE",
            Metadata={"replayed": "1"},
        )
    hot_bodies = [body for body in bodies if json.loads(body)["detail"]["hot"]]
    pipeline.send("SalesforceSyncQueue", bodies)
    pipeline.send("AmplitudeEventsQueue", bodies)
    pipeline.send("HotLeadAlertQueue", hot_bodies)
    pipeline.drain()

    delivered = {name: stat.records - delivered_before[name] for name, stat in pipeline.runner.stats.items()}
    assert delivered == {
        "ScoreLeadFunction": 2,
        "SalesforceSyncFunction": 2,
        "AmplitudeEventsFunction": 2,
        "HotLeadAlertFunction": 1,
    }
    tally = second.close()  # nothing expected: no scored version, no record, no event, no alert
    assert tally.salesforce_data_calls == [] and tally.salesforce_logins == 0
    assert tally.amplitude_uploads == []
    assert tally.sns_publishes == 0


def test_lead_scored_events_redelivered_out_of_order_change_nothing(pipeline: Pipeline) -> None:
    """Capture the real "Lead Scored" bodies, then deliver them again, shuffled and three times each, to every
    consumer queue (what a replay plus SQS redeliveries in any order look like)."""
    ledger = pipeline.ledger()
    sids = [session_id("order") for _ in range(3)]
    # Two calls from one person: one Lead, two Tasks whichever order they come in.
    same_person = [session_id("order-p") for _ in range(2)]
    with pipeline.lead_scored_tap() as captured:
        for sid in sids:
            pipeline.put_session(sid)
        for sid in same_person:
            pipeline.put_session(sid, contact={**record_data(sid)["contact"], "email": "repeat@example.com"})
        pipeline.drain()
        bodies = captured()
    assert len(bodies) == len(sids) + len(same_person)
    redeliveries = bodies * 3
    random.Random(7).shuffle(redeliveries)
    for logical in ("SalesforceSyncQueue", "AmplitudeEventsQueue", "HotLeadAlertQueue"):
        pipeline.send(logical, redeliveries)
    pipeline.drain()

    for sid in [*sids, *same_person]:
        ledger.effects(sid)  # one Lead upsert each: the same person's two land on one Lead
    ledger.close()
    repeat = [lead for lead in pipeline.salesforce.records("Lead") if lead.get("Email") == "repeat@example.com"]
    assert len(repeat) == 1
    for sid in same_person:
        assert [task["WhoId"] for task in pipeline.tasks(sid)] == [repeat[0]["Id"]]


def test_object_created_again_for_a_scored_session_is_not_scored_twice(pipeline: Pipeline) -> None:
    ledger = pipeline.ledger()
    sid = session_id("again")
    key = pipeline.put_session(sid)
    pipeline.drain()
    assert pipeline.scored_versions(sid) == 1

    # A copy onto itself raises a second "Object Created" for the same key (what `replay --mode objects` does).
    pipeline.s3.copy_object(
        Bucket=pipeline.bucket,
        Key=key,
        CopySource={"Bucket": pipeline.bucket, "Key": key},
        MetadataDirective="REPLACE",
        Metadata={"replayed": "1"},
    )
    pipeline.drain()

    ledger.effects(sid)  # still one scored version: the second event scored nothing (a scoring writes a version)
    ledger.close()
