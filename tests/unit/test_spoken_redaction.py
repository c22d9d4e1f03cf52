"""Personal data said out loud (functions/common/spoken_pii.py) is masked in transcripts and log lines, and the
numbers that carry a call's qualification signals are not."""

from __future__ import annotations

import pytest

from agent.signals import detect
from functions.common.redaction import mask_text, redact_transcript
from tests.evals.pii_eval import FALSE_POSITIVE_TARGET, RECALL_TARGET, evaluate_pii, load_pii_set, overall
from tests.evals.run_eval import load_set


@pytest.mark.parametrize(
    ("text", "redacted"),
    [
        ("yeah my email is dana dot lee at example dot com", "yeah my email is [email]"),
        ("uh it's dana lee at gmail dot com", "uh it's [email]"),
        ("you can reach me at mark underscore jones at outlook dot com", "you can reach me at [email]"),
        ("email is b r o w n dot t at outlook dot com", "email is [email]"),
        ("my work email's priya dot raman at northwind dot co dot uk", "my work email's [email]"),
        ("reach me at dana(at)example(dot)com", "reach me at [email]"),
        ("dana dot lee@example.com", "[email]"),
        ("my number is four one five, five five five, zero one two three", "my number is [phone]"),
        ("cell is six four six double five five oh one double nine", "cell is [phone]"),
        ("four fifteen, five five five, oh one twenty three", "[phone]"),
        ("my mobile is oh seven seven double oh, nine hundred, one two three", "my mobile is [phone]"),
        ("uh five five five uh zero one uh two three", "uh [phone]"),
        ("plus one four one five five five five zero one two three", "plus [phone]"),
        ("my number is 415, 555, 0123", "my number is [phone]"),
        (
            "the card is four two four two, four two four two, four two four two, four two four two",
            "the card is [number]",
        ),
        (
            "card number forty two forty two forty two forty two forty two forty two forty two forty two",
            "card number [number]",
        ),
        ("routing number zero two one zero zero zero zero two one", "routing number [number]"),
        ("card ending in four two four two", "card ending in [number]"),
        ("the zip is nine four one oh seven", "the zip is [number]"),
        ("member id x y z one two three four five six", "member id [number]"),
        ("IBAN DE89 3704 0044 0532 0130 00", "IBAN [number]"),
        ("my ref is AB-123456", "my ref is [number]"),
        ("last name kowalski k o w a l s k i", "last name [spelled] [spelled]"),
        ("it's spelled o-s-k-a-r", "it's spelled [spelled]"),
        ("my surname is lee l double e", "my surname is [spelled] [spelled]"),
        ("its k as in kilo a r e n", "its [spelled]"),
        ("its N. G. U. Y. E. N.", "its [spelled]."),
    ],
)
def test_spoken_and_written_personal_data_is_masked_in_a_transcript_line(text: str, redacted: str) -> None:
    assert redact_transcript(text) == redacted


@pytest.mark.parametrize(
    "text",
    [
        "we're a team of twelve and we send about three hundred contracts a month",
        "we want to roll it out in two thousand twenty six",
        "the plan for twenty twenty five twenty twenty six is to double",
        "it's about ten fifteen twenty people depending on the season",
        "maybe fifteen hundred, two thousand a month",
        "five hundred fifty, six hundred a month",
        "it's forty nine ninety nine a month right",
        "We're a team of 12, and we send about 300 contracts a month.",
        "we use version three point two of the a p i",
        "we send about two hundred n d a s a month",
        "i i i think we have thirty users",
        "i'm a little under the weather so bear with me",
        "it said error code 403 when i tried to log in",
        "we're at about seventy five percent capacity, look at it at nine thirty",
        "our website is acme legal dot com",
    ],
)
def test_counts_amounts_dates_acronyms_and_ordinary_speech_are_kept(text: str) -> None:
    assert redact_transcript(text) == text


def test_the_name_a_caller_spells_is_masked_wherever_the_line_says_it() -> None:
    assert (
        redact_transcript("that's dana d a n a, Dana with one n") == "that's [spelled] [spelled], [spelled] with one n"
    )
    # Two letters only count when the line says the word they spell; "i t" and "u s" are not names.
    assert redact_transcript("uh first name jo, j o") == "uh first name [spelled], [spelled]"
    assert redact_transcript("our i t team is in the u s") == "our i t team is in the u s"


def test_log_masking_takes_spoken_emails_and_phones_but_not_spellings_or_short_codes() -> None:
    line = "booking failed for dana dot lee at example dot com, call four one five, five five five, zero one two three"
    assert mask_text(line) == "booking failed for [email], call [phone]"
    assert mask_text("caller 415 five five five 0123 hung up") == "caller [phone] hung up"
    # Spellings and codes are transcript matters; a log line keeps its short numbers and ids.
    assert mask_text("it's o s k a r, pin four four seven one") == "it's o s k a r, pin four four seven one"
    assert mask_text("code 123456") == "code 123456"


@pytest.mark.parametrize(
    "line",
    [
        "session trial-call-0001: record uploaded at s3://bucket/sessions/year=2026/month=11/day=20/t.json.gz",
        "failed to connect to livekit, retrying in two seconds: one of 3 attempts left",
        "user state changed at 2026-11-20T15:04:11.400000+00:00 after 2 3 retries",
        "function arn:aws:lambda:us-east-1:123456789012:function:voice-analytics-score-lead-prod at step one",
        "request 3f2a1234-5678-9012-3456-789012345678 at two, sizes 100, 1000, 10000",
    ],
)
def test_log_lines_without_personal_data_are_left_as_they_are(line: str) -> None:
    assert mask_text(line) == line


def test_the_redacted_transcript_keeps_every_signal_of_the_signal_eval_set() -> None:
    # The scored copy and the optional LLM read the redacted transcript: what it says must still qualify the lead.
    for case in load_set():
        original, redacted = detect(case["text"]).as_output(), detect(redact_transcript(case["text"])).as_output()
        original.pop("evidence", None)
        redacted.pop("evidence", None)
        assert redacted == original, case["text"]


def test_pii_eval_meets_the_recall_and_false_positive_targets() -> None:
    total = overall(evaluate_pii(load_pii_set(), redact_transcript))
    assert total.recall >= RECALL_TARGET
    assert total.false_positive_rate <= FALSE_POSITIVE_TARGET


@pytest.mark.parametrize(
    ("text", "mask"),
    [
        (("four one five, " * 8_000)[:100_000], "[number]"),  # longer than any phone number
        (("k, " * 34_000)[:100_000], "[spelled]"),
        (("dana dot lee at example dot com " * 3_300)[:100_000], "[email]"),
        ("x " * 49_990 + "at gmail dot com", "[email]"),
    ],
)
def test_a_100000_character_line_of_spoken_forms_is_masked_without_leaving_any(text: str, mask: str) -> None:
    # Speed is measured by benchmarks/redaction_bench.py; here: the whole line is handled and nothing is left.
    redacted = redact_transcript(text)
    assert mask in redacted
    assert not any(word in redacted for word in ("four one five", "k, k", "dana dot", "at gmail"))


@pytest.mark.parametrize(
    "text",
    [
        ("twenty twenty five " * 6_000)[:100_000],
        ("we need an a p i " * 6_000)[:100_000],
        ("1,000," * 20_000)[:100_000],
    ],
)
def test_a_100000_character_line_of_years_acronyms_or_amounts_is_kept(text: str) -> None:
    assert redact_transcript(text) == text
