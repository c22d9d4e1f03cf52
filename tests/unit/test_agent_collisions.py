"""Session ids unique per call, and an existing key that is never taken for this record unless its bytes are
this record's: the folder sink (which can compare), simulate's derived ids, and the spool flush.

The same paths against a real local S3 (moto server) are in tests/integration/agent/test_agent_s3_export.py, and
score_lead's handling of the collision copies in tests/integration/test_faults.py.
"""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent.collector import call_ids, safe_session_id
from agent.exporter import DirectorySink, collision_key, encode_record, flush_spool, spool, spooled_keys
from agent.simulate import run_script
from functions.common.record import SESSION_ID_PATTERN, parse_record
from tests.agent_fixtures import example_script, folder_exporter, make_settings, read_record, stored_objects
from voice_analytics.cli import app

DAY = "sessions/year=2026/month=11/day=20"


def _relative(root: Path) -> list[str]:
    return [path.relative_to(root).as_posix() for path in stored_objects(root)]


def test_two_calls_in_rooms_of_the_same_name_get_two_session_ids_and_keep_the_room() -> None:
    first = call_ids("console", "AJ_4tBz8k2Lx9")
    second = call_ids("console", "AJ_9qWe3r5Ty7")

    assert first.session_id == "console-AJ_4tBz8k2Lx9"
    assert second.session_id == "console-AJ_9qWe3r5Ty7"
    assert first.room == second.room == "console"


def test_a_sip_room_name_gives_ids_with_the_callers_number_hashed_in_both_fields() -> None:
    ids = call_ids("call-_+14155550123_x7Yz", "AJ_job1", "salt")

    for value in (ids.session_id, ids.room):
        assert value is not None and re.match(SESSION_ID_PATTERN, value)
        assert "4155550123" not in value and "555" not in value
    assert ids.room == safe_session_id("call-_+14155550123_x7Yz", "salt")
    assert ids.session_id == f"{ids.room}-AJ_job1"


def test_long_or_odd_room_names_and_call_ids_still_give_valid_distinct_ids() -> None:
    long_room = "r" * 300
    first, second = call_ids(long_room, "AJ_" + "a" * 80), call_ids(long_room, "AJ_" + "a" * 46 + "b")
    odd = call_ids("my room/1", "job id/with spaces")

    for ids in (first, second, odd):
        assert re.match(SESSION_ID_PATTERN, ids.session_id), ids.session_id
    assert first.session_id != second.session_id
    with pytest.raises(ValueError, match="call id"):
        call_ids("console", "///")


async def test_the_same_bytes_at_the_key_count_as_already_exported(tmp_path: Path) -> None:
    exporter = folder_exporter(tmp_path)
    outcome = await run_script(example_script(), exporter, settings=make_settings())
    again = await exporter.export(outcome.collector.build_record())

    assert (outcome.export.status, again.status) == ("uploaded", "already_exported")
    assert _relative(tmp_path / "out") == [f"{DAY}/trial-call-0001.json.gz"]


async def test_a_different_record_at_the_key_is_kept_beside_it_under_a_collision_key(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    exporter = folder_exporter(tmp_path)
    first = await run_script(example_script(), exporter, settings=make_settings())
    other = first.collector.build_record()
    other["end_reason"] = "agent_ended"  # another call that was given the same session id

    collided = await exporter.export(other)
    again = await exporter.export(other)

    body = encode_record(parse_record(other))
    expected = collision_key(f"{DAY}/trial-call-0001.json.gz", body)
    assert re.fullmatch(rf"{DAY}/trial-call-0001\.dup-[0-9a-f]{{16}}\.json\.gz", expected)
    assert (collided.status, collided.key) == ("collision", expected)
    assert (again.status, again.key) == ("collision", expected)  # the copy is there already: still one copy
    assert _relative(tmp_path / "out") == sorted([f"{DAY}/trial-call-0001.json.gz", expected])
    assert read_record(tmp_path / "out" / f"{DAY}/trial-call-0001.json.gz")["end_reason"] == "caller_hangup"
    assert read_record(tmp_path / "out" / expected)["end_reason"] == "agent_ended"
    warning = next(message for message in caplog.messages if "holds a different record" in message)
    assert f"{DAY}/trial-call-0001.json.gz" in warning and expected in warning


async def test_spool_flush_to_a_folder_recognises_a_repeat_and_keeps_a_collision(tmp_path: Path) -> None:
    exporter = folder_exporter(tmp_path)
    outcome = await run_script(example_script(), exporter, settings=make_settings())
    key = outcome.export.key
    same = (tmp_path / "out" / key).read_bytes()
    spool_dir = tmp_path / "spool"
    spool(spool_dir, key, same)
    report = flush_spool(DirectorySink(tmp_path / "out"), spool_dir)
    assert report.as_dict() == {"uploaded": [], "already_present": [key], "collisions": {}, "failed": {}}

    different = gzip.compress(gzip.decompress(same).replace(b'"caller_hangup"', b'"agent_ended"'), mtime=0)
    spool(spool_dir, key, different)
    report = flush_spool(DirectorySink(tmp_path / "out"), spool_dir)

    assert report.collisions == {key: collision_key(key, different)}
    assert spooled_keys(spool_dir) == []
    assert len(stored_objects(tmp_path / "out")) == 2


def _console_script(path: Path, first_words: str) -> Path:
    data = json.loads(Path("tests/fixtures/agent/conversation.json").read_text())
    del data["session_id"]
    data["room"] = "console"
    data["turns"][0]["text"] = first_words + " " + data["turns"][0]["text"]
    path.write_text(json.dumps(data))
    return path


def test_simulate_gives_two_scripts_in_the_same_room_and_day_two_records_and_one_script_twice_one(
    tmp_path: Path,
) -> None:
    first = _console_script(tmp_path / "a.json", "Hello.")
    second = _console_script(tmp_path / "b.json", "Good morning.")
    out = tmp_path / "out"
    env = {"ANALYTICS_SPOOL_DIR": str(tmp_path / "spool"), "ANALYTICS_CALLER_SALT": "cli-salt"}

    both = CliRunner().invoke(app, ["simulate", str(first), str(second), "--out", str(out)], env=env)
    again = CliRunner().invoke(app, ["simulate", str(first), str(first), "--out", str(out)], env=env)

    assert both.exit_code == 0, both.output
    assert again.exit_code == 0, again.output
    statuses = [json.loads(line)["status"] for line in (both.stdout + again.stdout).splitlines()]
    assert statuses == ["uploaded", "uploaded", "already_exported", "already_exported"]
    keys = _relative(out)
    assert len(keys) == 2 and all(re.fullmatch(rf"{DAY}/console-SJ_[0-9a-f]{{12}}\.json\.gz", key) for key in keys)
    records = [read_record(path) for path in stored_objects(out)]
    assert {record["room"] for record in records} == {"console"}
    assert len({record["session_id"] for record in records}) == 2


def test_a_script_with_its_own_session_id_keeps_it_and_writes_no_new_fields(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["simulate", "tests/fixtures/agent/conversation.json", "--out", str(tmp_path / "out")],
        env={"ANALYTICS_SPOOL_DIR": str(tmp_path / "spool")},
    )

    assert result.exit_code == 0, result.output
    (path,) = stored_objects(tmp_path / "out")
    record = read_record(path)
    assert record["session_id"] == "trial-call-0001"
    # Optional fields added to v1 later are absent when unknown: the bytes are what earlier v1 readers took.
    assert "room" not in record
    assert set(record["latency"]) == {"llm_ttft_ms", "tts_ttfb_ms", "end_of_utterance_delay_ms"}
    assert set(record["usage"]) == {"llm", "stt", "tts"}
