"""Bad input: malformed objects under sessions/, hostile strings, and 100,000-character utterances.

On the stack (one pipeline for the module, tests/integration/pipeline.py), every scenario ends with its ledger
(tests/integration/ledger.py): each malformed object quarantined exactly once with its reason (a `quarantine/` copy
and a `.reason.json` sidecar) and nothing else from it anywhere (no scored object, no DLQ message, no far-end call),
the valid session put beside it processed exactly once. Quarantines are also counted by score_lead's
`RecordsQuarantined` metric (read from its EMF log lines). Hostile but valid strings must come out sanitised at
every far end. The 100,000-character utterances go through the detector and the collector only (no stack).
"""

from __future__ import annotations

import gzip
import json
import random
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from agent.collector import MAX_TURN_TEXT, SessionCollector
from agent.signals import MAX_UTTERANCE_CHARS, detect
from functions.common.record import TranscriptMode, parse_record
from tests.integration.ledger import every_scenario_closes_a_ledger
from tests.integration.pipeline import Pipeline, gzip_line, record_data, running_pipeline, session_id, session_key

pytestmark = pytest.mark.integration

STAGE = "badin"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "malformed"


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    with running_pipeline(STAGE, tmp_path_factory.mktemp("bad-input-logs")) as running:
        yield running


@pytest.fixture(autouse=True)
def stack_scenarios_close_a_ledger(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every scenario on the stack ends with a closed ledger (the detector and collector ones use no stack)."""
    if "pipeline" not in request.fixturenames:
        yield
        return
    pipeline: Pipeline = request.getfixturevalue("pipeline")
    with every_scenario_closes_a_ledger(pipeline.ledgers):
        yield


def _without(*names: str) -> Callable[[str], bytes]:
    def build(sid: str) -> bytes:
        data = record_data(sid)
        for name in names:
            data.pop(name)
        return gzip_line(data)

    return build


def _gzip_bomb(_sid: str) -> bytes:
    # 64 MiB of zeros compress to about 64 KiB: small on the wire, 13x over the 5 MiB decompression cap.
    return gzip.compress(b"0" * (64 * 1024 * 1024), compresslevel=9, mtime=0)


def _truncated(sid: str) -> bytes:
    whole = gzip_line(record_data(sid))
    return whole[: len(whole) // 2]


def _random_bytes(_sid: str) -> bytes:
    noise = random.Random(11).randbytes(4096)
    return b"\x00" + noise  # never the gzip magic


# (id, body builder, a phrase the quarantine reason must contain)
MALFORMED: list[tuple[str, Callable[[str], bytes], str]] = [
    ("not-json", lambda _sid: gzip.compress(b"this is not json\n", mtime=0), "not JSON"),
    ("truncated-gzip", _truncated, "truncated gzip"),
    ("invalid-gzip", lambda _sid: b"\x1f\x8b\x08\x00" + b"garbage" * 20, "gzip"),
    ("empty", lambda _sid: b"", "not gzip"),
    ("random-bytes", _random_bytes, "not gzip"),
    ("plain-json-not-gzipped", lambda sid: json.dumps(record_data(sid)).encode(), "not gzip"),
    ("json-array", lambda sid: gzip_line([record_data(sid)]), "expected a JSON object, got list"),
    ("nul-bytes", lambda _sid: gzip.compress(b'{"schema_version": "1"\x00\x00\x00}\n', mtime=0), "not JSON"),
    ("not-utf8", lambda _sid: gzip.compress(b'{"schema_version": "\xff\xfe"}\n', mtime=0), "not UTF-8"),
    ("wrong-schema-version", lambda sid: gzip_line(record_data(sid, schema_version="2")), "schema_version"),
    ("missing-schema-version", _without("schema_version"), "schema_version"),
    ("missing-fields", _without("started_at", "caller"), "started_at"),
    ("two-sessions-in-one-object", lambda sid: gzip_line(record_data(sid)) * 2, "exactly one NDJSON line"),
    ("gzip-bomb", _gzip_bomb, "gzip bomb guard"),
    ("20-mb-object", lambda _sid: random.Random(5).randbytes(20 * 1024 * 1024), "byte limit"),
    (
        "5000-character-company",
        lambda sid: gzip_line(record_data(sid, contact={**record_data(sid)["contact"], "company": "C" * 5000})),
        "company",
    ),
    ("path-in-session-id", lambda sid: gzip_line(record_data(f"../../{sid}")), "session_id"),
]


@pytest.mark.parametrize(("body", "reason"), [pytest.param(b, r, id=i) for i, b, r in MALFORMED])
def test_malformed_object_is_quarantined_with_its_reason_counted_and_the_good_session_beside_it_goes_on(
    pipeline: Pipeline, body: Callable[[str], bytes], reason: str
) -> None:
    ledger = pipeline.ledger()
    bad, good = session_id("bad"), session_id("good")
    metric_before = pipeline.metric_total("ScoreLeadFunction", "RecordsQuarantined")

    bad_key = pipeline.put_raw(session_key(bad), body(bad))
    pipeline.put_session(good)
    pipeline.drain()

    assert pipeline.metric_total("ScoreLeadFunction", "RecordsQuarantined") - metric_before == 1
    ledger.quarantined(bad_key, reason)
    ledger.effects(good)
    ledger.close()


# What score_lead says about each file shipped in tests/fixtures/malformed/ (the ones `demo --extra-objects` takes).
FIXTURE_REASONS = {
    "empty.json.gz": "not gzip",
    "gzip-bomb.json.gz": "gzip bomb guard",
    "hostile-strings.json.gz": "field 'contact.company': String should have at most 255 characters",
    "json-array.json.gz": "expected a JSON object, got list",
    "missing-schema-version.json.gz": "field 'schema_version': expected '1', got None",
    "not-json.json.gz": "not JSON",
    "nul-bytes.json.gz": "not JSON: Invalid control character",
    "random-bytes.bin": "not gzip",
    "truncated-gzip.json.gz": "truncated gzip stream",
    "wrong-schema-version.json.gz": "field 'schema_version': expected '1', got '2'",
}


def test_every_fixture_in_one_batch_is_quarantined_and_the_valid_sessions_in_that_batch_are_processed(
    pipeline: Pipeline,
) -> None:
    """The files shipped in tests/fixtures/malformed/, all at once, between two valid sessions."""
    files = sorted(path for path in FIXTURES.iterdir() if path.is_file())
    assert sorted(path.name for path in files) == sorted(FIXTURE_REASONS)
    ledger = pipeline.ledger()
    goods = [session_id("batch-good") for _ in range(2)]
    metric_before = pipeline.metric_total("ScoreLeadFunction", "RecordsQuarantined")
    partition = datetime.now(UTC).strftime("sessions/year=%Y/month=%m/day=%d")

    pipeline.put_session(goods[0])
    keys = {path.name: pipeline.put_raw(f"{partition}/{STAGE}-{path.name}", path.read_bytes()) for path in files}
    pipeline.put_session(goods[1])
    pipeline.drain()

    assert pipeline.metric_total("ScoreLeadFunction", "RecordsQuarantined") - metric_before == len(files)
    for name, key in keys.items():
        ledger.quarantined(key, FIXTURE_REASONS[name])
    for sid in goods:
        ledger.effects(sid)
    ledger.close()


HOSTILE_NAME = "Dana\r\nBcc: everyone@example.com\r\n Lee"
RTL_COMPANY = "\u202eשלום Legal \u05d0\u05d1\u05d2 GmbH"
EMOJI_NAME = "Zoë 🦄🚀 O'Brien-Ñúñez"


@pytest.mark.parametrize(
    "contact",
    [
        pytest.param({"name": HOSTILE_NAME, "company": "Acme\r\nInjected: header"}, id="cr-lf-in-name-and-company"),
        pytest.param({"name": EMOJI_NAME, "company": "🚀 Rockets & Co 🦄"}, id="emoji"),
        pytest.param({"name": "عبد الله", "company": RTL_COMPANY}, id="rtl-and-bidi-override"),
        pytest.param({"name": "N" * 200, "company": "C" * 255}, id="longest-valid-name-and-company"),
    ],
)
def test_hostile_but_valid_strings_are_processed_with_sanitised_salesforce_fields_and_sns_subject(
    pipeline: Pipeline, contact: dict[str, str]
) -> None:
    ledger = pipeline.ledger()
    sid = session_id("hostile")
    data = record_data(sid)

    pipeline.put_session(sid, contact={**data["contact"], **contact})
    pipeline.drain()

    ledger.effects(sid)
    ledger.close()
    [lead] = pipeline.leads(sid)
    for field, limit in (("LastName", 80), ("FirstName", 40), ("Company", 255)):
        value = lead.get(field) or ""
        assert len(value) <= limit and not {"\r", "\n", "\u202e"} & set(value), (field, value)
    [task] = pipeline.tasks(sid)
    assert len(task["Subject"]) <= 255 and "\n" not in task["Subject"]
    [alert] = pipeline.alerts(sid)
    subject = alert["Subject"]
    assert subject.isascii() and subject.isprintable() and 0 < len(subject) < 100
    assert "Bcc:" not in subject.split("Hot lead:")[0]
    assert all(char == "\n" or char == "\t" or char.isprintable() for char in alert["Message"])


# ----------------------------------------------------------------------------------- 100,000-character utterances

ADVERSARIAL_UTTERANCES: dict[str, str] = {
    "digits-and-spaces": "1 " * 50_000,
    "one-long-token": "a" * 100_000,
    "number-words": ("twenty three thousand and " * 4_000)[:100_000],
    "team-phrases": ("we are a team of 12 people " * 4_000)[:100_000],
    "nested-brackets-and-punctuation": ("((([[[{{{" + "-" * 41 + "}}}]]])))") * 1_700,
    "emoji-and-rtl": ("🦄 שלום \u202e مرحبا 🚀 " * 6_000)[:100_000],
    "nul-and-control-characters": ("\x00\x01\x1b[31m\r\n\t" * 12_500)[:100_000],
    "negations": ("not no never don't isn't " * 4_000)[:100_000],
}


@pytest.mark.parametrize("name", list(ADVERSARIAL_UTTERANCES))
def test_detector_handles_a_100000_character_adversarial_utterance_in_linear_time(name: str) -> None:
    text = ADVERSARIAL_UTTERANCES[name]
    assert len(text) >= 99_000

    started = time.perf_counter()
    found = detect(text)
    elapsed = time.perf_counter() - started

    output = found.as_output()
    json.dumps(output)  # serialisable, as `voice-analytics signals` prints it
    assert elapsed < 2.0, f"{name}: {elapsed:.2f} s"
    if name == "team-phrases":
        assert found.team_size == 12
    if name in ("one-long-token", "nested-brackets-and-punctuation", "nul-and-control-characters", "negations"):
        assert found.team_size is None and found.monthly_volume is None and not found.integrations
    for item in output.get("evidence", []):
        assert len(json.dumps(item)) < 5_000


def test_detector_reads_only_the_first_100000_characters() -> None:
    text = "x " * (MAX_UTTERANCE_CHARS // 2) + " we are a team of 40 people"
    assert detect(text).team_size is None
    assert detect(text[-40:]).team_size == 40


def test_collector_takes_100000_character_utterances_and_still_builds_a_valid_bounded_record() -> None:
    from livekit.agents import ConversationItemAddedEvent, llm

    collector = SessionCollector(
        session_id="adversarial-utterances",
        agent_name="trial-assistant",
        agent_version="0.1.0",
        transcript_mode=TranscriptMode.FULL,
        caller_salt="salt",
    )
    started = time.perf_counter()
    for text in ADVERSARIAL_UTTERANCES.values():
        collector.on_conversation_item_added(
            ConversationItemAddedEvent(item=llm.ChatMessage(role="user", content=[text]))
        )
    elapsed = time.perf_counter() - started

    record: dict[str, Any] = collector.build_record()
    parsed = parse_record(json.loads(json.dumps(record)), source="collector")
    assert elapsed < 10.0
    assert parsed.signals.team_size == 12
    for evidence in parsed.signals.evidence:
        assert len(evidence.text) <= 20_000
    assert all(len(turn["text"]) <= MAX_TURN_TEXT for turn in record["transcript"])
