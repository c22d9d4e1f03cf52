"""A call whose caller says an email address and two phone numbers in words, run through the real AgentSession in
text mode (scripted LLM, in-process tool fakes) and exported to a folder: the `redacted` transcript in the record
holds none of them, and the signals said in the same call are still detected and still readable."""

from __future__ import annotations

import json
import re
from pathlib import Path

from agent.scripted_llm import ConversationScript
from agent.simulate import run_script
from functions.common.record import TranscriptMode, parse_record
from tests.agent_fixtures import folder_exporter, make_settings, read_record, stored_objects

SCRIPT = Path(__file__).parents[1] / "fixtures" / "agent" / "spoken_contact_conversation.json"
SPOKEN_EMAIL = "dana dot lee at acme legal dot com"
SPOKEN_PHONES = (
    "four one five, five five five, zero one two three",
    "six four six double five five oh one double nine",
)
DIGIT_WORDS = r"(?:zero|oh|one|two|three|four|five|six|seven|eight|nine|double)"


async def test_spoken_email_and_phone_numbers_are_not_in_the_exported_redacted_transcript(tmp_path: Path) -> None:
    script = ConversationScript.load(SCRIPT)
    said = " ".join(script.user_texts())
    assert SPOKEN_EMAIL in said and all(phone in said for phone in SPOKEN_PHONES)  # the caller really says them

    outcome = await run_script(script, folder_exporter(tmp_path), settings=make_settings())

    [stored] = stored_objects(tmp_path / "out")
    record = parse_record(read_record(stored))
    assert outcome.export.status == "uploaded" and record.transcript_mode is TranscriptMode.REDACTED
    caller_lines = [turn.text for turn in record.transcript if turn.role == "user"]
    caller_text = " | ".join(caller_lines)
    for spoken in (SPOKEN_EMAIL, *SPOKEN_PHONES):
        assert spoken not in caller_text
    assert "dot com" not in caller_text and "acme legal" not in caller_text
    assert not re.search(rf"{DIGIT_WORDS}\W+{DIGIT_WORDS}\W+{DIGIT_WORDS}", caller_text), caller_text
    assert caller_lines[1] == "sure it's [email]"
    assert caller_lines[2] == "my cell is [phone], or my desk line, [phone]"
    # Nothing else in the record carries them either (the contact given to the booking tool is the written form).
    assert not any(spoken in json.dumps(read_record(stored)) for spoken in (SPOKEN_EMAIL, *SPOKEN_PHONES))

    # The signals of the same call: detected, and still readable in the redacted transcript.
    assert record.signals.team_size == 12
    assert record.signals.monthly_volume == 300
    assert record.signals.industry == "legal"
    assert "a team of twelve" in caller_lines[0] and "three hundred contracts a month" in caller_lines[0]
