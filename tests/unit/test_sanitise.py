from __future__ import annotations

from functions.common.sanitise import metadata_value, plain_text, sns_subject, truncate


def test_truncate_keeps_short_text_and_marks_cuts() -> None:
    assert truncate("short", 10) == "short"
    assert truncate("a" * 20, 10) == "aaaaaaa..."
    assert len(truncate("a" * 20, 10)) == 10


def test_sns_subject_is_ascii_single_line_and_under_100_characters() -> None:
    subject = sns_subject("Hot lead: Müller & Söhne\nGmbH\t" + "x" * 200)

    assert subject.isascii()
    assert all(ord(char) >= 32 for char in subject)
    assert len(subject) < 100
    assert subject.startswith("Hot lead: Muller & Sohne GmbH")


def test_sns_subject_is_never_empty() -> None:
    assert sns_subject("\n\t\x00") != ""


def test_plain_text_keeps_newlines_and_drops_other_control_characters() -> None:
    assert plain_text("a\r\nb\x00c\x1bd\te") == "a\nbcd\te"


def test_metadata_value_is_one_ascii_line() -> None:
    assert metadata_value("bad\nvalue é") == "bad value e"
