"""functions/common/spoken_pii.py line by line and piece by piece: every labelled line of the personal-data set
(tests/evals/pii.jsonl, labelled by hand) redacted as labelled, and the spans and masks each scan gives for the
cases the whole-line tests of test_spoken_redaction.py leave open."""

from __future__ import annotations

from typing import Any

import pytest

from functions.common.redaction import redact_transcript
from functions.common.spoken_pii import EMAIL_MASK, NUMBER_MASK, PHONE_MASK, SPELLED_MASK, mask_spoken
from tests.evals.pii_eval import evaluate_pii, load_pii_set

PII_SET = load_pii_set()


@pytest.mark.parametrize("case", PII_SET, ids=[f"{index:03d}-{case['category']}" for index, case in enumerate(PII_SET)])
def test_every_labelled_line_is_redacted_as_labelled(case: dict[str, Any]) -> None:
    """Every personal-data item of the line is masked and every signal number it holds is kept (the eval's
    aggregate targets allow a few misses; the set is met in full, and a change that loses one line fails here)."""
    score = evaluate_pii([case], redact_transcript)[case["category"]]

    assert (score.masked, score.lost) == (score.pii_items, 0), score.misses


def spoken(text: str) -> str:
    """A transcript line as redacted by the spoken scans alone (the written patterns have nothing to find here)."""
    return mask_spoken(text, transcript=True)


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        pytest.param("we need a c r m", "we need a c r m", id="acronym-after-the-article"),
        pytest.param(
            "so i a p i calls are metered", "so i a p i calls are metered", id="acronym-after-pronoun-article"
        ),
        pytest.param("we use a c r m a lot", "we use a c r m a lot", id="acronym-between-articles"),
        pytest.param("is there a n d a", "is there a n d a", id="acronym-article-at-both-ends"),
        pytest.param("so i a c r m is what we need", "so i a c r m is what we need", id="acronym-after-i-and-a"),
        pytest.param(
            "my surname is tapia, t a p i a",
            f"my surname is {SPELLED_MASK}, {SPELLED_MASK}",
            id="a-name-around-an-acronym-is-no-acronym",
        ),
        pytest.param("my initials are v p, vp", "my initials are v p, vp", id="two-letter-acronym-kept"),
        pytest.param(
            "my name is asaph, a s a p h",
            f"my name is {SPELLED_MASK}, {SPELLED_MASK}",
            id="a-name-that-starts-with-an-article-and-an-acronym-is-no-acronym",
        ),
        pytest.param(
            "the company is a c m e, c r m, and our crm is fine",
            f"the company is {SPELLED_MASK}, and our crm is fine",
            id="an-acronym-spelled-inside-a-name-is-not-masked-where-said",
        ),
        pytest.param(
            "that's w o r k, work email", f"that's {SPELLED_MASK}, work email", id="a-common-word-spelled-is-not-echoed"
        ),
        pytest.param("it's d o double u, dow", f"it's {SPELLED_MASK}, {SPELLED_MASK}", id="double-u-is-w"),
        pytest.param("it's s u double l i v a n, sullivan", f"it's {SPELLED_MASK}, {SPELLED_MASK}", id="u-alone-is-u"),
        pytest.param("its k as in kilo a r e n, karen", f"its {SPELLED_MASK}, {SPELLED_MASK}", id="k-as-in-kilo-is-k"),
        pytest.param("my username is b triple z, bzzz", f"my username is {SPELLED_MASK}, {SPELLED_MASK}", id="triple"),
        pytest.param(
            "the name is İ v a n, ivan", f"the name is {SPELLED_MASK}, {SPELLED_MASK}", id="non-ascii-capital-letter"
        ),
        pytest.param(
            "my initials are j k, jk", f"my initials are {SPELLED_MASK}, {SPELLED_MASK}", id="two-letters-said"
        ),
        pytest.param(
            "it's l e e, m d, lee md", f"it's {SPELLED_MASK}, {SPELLED_MASK} md", id="acronym-piece-not-echoed"
        ),
    ],
)
def test_spelled_letters_are_masked_with_the_word_they_spell_and_acronyms_are_kept(text: str, masked: str) -> None:
    assert spoken(text) == masked


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        pytest.param("the zip nine four one oh seven", f"the zip {NUMBER_MASK}", id="cue"),
        pytest.param("the zip's nine four one oh seven", f"the zip's {NUMBER_MASK}", id="cue-with-possessive"),
        pytest.param("nine four one oh seven", "nine four one oh seven", id="five-digits-without-a-cue-are-kept"),
        pytest.param("security code four two one", f"security code {NUMBER_MASK}", id="code-cue-first-in-line"),
        pytest.param("area code four one five", "area code four one five", id="an-area-code-is-no-short-code"),
        pytest.param(
            "code one two three was sent for verification",
            "code one two three was sent for verification",
            id="code-without-a-word-before-it-is-no-cue",
        ),
    ],
)
def test_a_short_number_is_masked_only_after_a_cue(text: str, masked: str) -> None:
    assert spoken(text) == masked


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        pytest.param("dana at acme legal group dot com", EMAIL_MASK, id="a-label-of-three-words"),
        pytest.param("dana at mail dot acme legal group dot com", EMAIL_MASK, id="three-words-after-a-dot"),
        pytest.param(
            "we're good at building forms on our site dot com",
            "we're good at building forms on our site dot com",
            id="a-label-is-at-most-three-words",
        ),
        pytest.param("dana at acme dotcom", EMAIL_MASK, id="dotcom-in-one-word"),
        pytest.param("dana at example dash com", "dana at example dash com", id="a-dash-before-the-tld-is-no-dot"),
        pytest.param("the address needs an at sign", "the address needs an at sign", id="at-sign-ends-the-line"),
        pytest.param("that's what we're looking at", "that's what we're looking at", id="at-ends-the-line"),
        pytest.param("take a look at example dot com", "take a look at example dot com", id="look-at-a-website"),
        pytest.param("dana at example dot com dot. yes", f"{EMAIL_MASK} dot. yes", id="a-dot-left-over-after-it"),
        pytest.param("sure. dana at example dot com", f"sure. {EMAIL_MASK}", id="a-full-stop-ends-the-local-part"),
        pytest.param("ok. dana dot lee at example dot com", f"ok. {EMAIL_MASK}", id="dotted-local-part-after-stop"),
        pytest.param("dana dot lee dot [email]", EMAIL_MASK, id="local-part-before-a-written-address"),
        pytest.param("email is j dot i dot chen at example dot com", f"email is {EMAIL_MASK}", id="initials"),
        pytest.param("my email is dana.lee at example dot com", f"my email is {EMAIL_MASK}", id="written-dot"),
        pytest.param("it's dana marie lee at example dot com", f"it's {EMAIL_MASK}", id="three-words-after-a-cue"),
        pytest.param("it’s dana lee at example dot com", f"it’s {EMAIL_MASK}", id="cue-with-a-curly-apostrophe"),
        pytest.param("email dana lee at example dot com", f"email {EMAIL_MASK}", id="cue-first-in-line"),
        pytest.param("email is o'brien at example dot com", f"email is {EMAIL_MASK}", id="apostrophe-in-local-part"),
        pytest.param("reach dana.[email]", f"reach {EMAIL_MASK}", id="local-part-joined-to-a-written-address"),
        pytest.param(
            "at the moment it is dana at example dot com", f"at the moment it is {EMAIL_MASK}", id="an-at-first-in-line"
        ),
        pytest.param("email dana@example dot com", f"email {EMAIL_MASK}", id="at-sign-then-spoken-domain"),
        pytest.param("dana (@) example dot com", EMAIL_MASK, id="at-sign-in-brackets"),
    ],
)
def test_a_spoken_email_address_is_masked_from_its_local_part_to_its_domain(text: str, masked: str) -> None:
    assert spoken(text) == masked


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        pytest.param("twenty oh five twenty oh six", "twenty oh five twenty oh six", id="years-said-with-oh"),
        pytest.param(
            "between twenty oh five and twenty oh eight", "between twenty oh five and twenty oh eight", id="year-range"
        ),
        pytest.param("twenty ten twenty eleven twenty twelve", "twenty ten twenty eleven twenty twelve", id="years"),
        pytest.param("it was nineteen oh five four one two", f"it was {PHONE_MASK}", id="digits-after-a-year"),
        pytest.param("we renewed in 2019, 2020 and 2021", "we renewed in 2019, 2020 and 2021", id="written-years"),
        # A year said inside a run of digits does not split it: the run is masked whole.
        pytest.param("it was nineteen ninety eight four one two five", f"it was {PHONE_MASK}", id="year-then-digits"),
        pytest.param("call four one two five nineteen ninety eight", f"call {PHONE_MASK}", id="digits-then-year"),
    ],
)
def test_years_said_back_to_back_are_dates_not_a_number(text: str, masked: str) -> None:
    assert spoken(text) == masked


@pytest.mark.parametrize(
    ("text", "in_transcript", "in_log"),
    [
        pytest.param("it is four one five five five", "it is four one five five five", None, id="five-digits-a-count"),
        pytest.param("it is four one five five five five", f"it is {NUMBER_MASK}", None, id="six-digits"),
        pytest.param("call four one five five five one", f"call {NUMBER_MASK}", None, id="six-in-a-log-kept"),
        pytest.param("call four one five five five one two", f"call {PHONE_MASK}", f"call {PHONE_MASK}", id="seven"),
        pytest.param("forty one fifty five one two three", PHONE_MASK, PHONE_MASK, id="pairs-and-three-single-digits"),
        pytest.param("forty two forty two forty two forty two", None, None, id="eight-digits-in-pairs-kept"),
        pytest.param("forty two forty two forty two forty two forty two", PHONE_MASK, PHONE_MASK, id="ten-in-pairs"),
        pytest.param("call [number] one", f"call {PHONE_MASK}", f"call {PHONE_MASK}", id="a-masked-number-and-a-digit"),
        pytest.param(
            "call [phone] forty two", f"call {PHONE_MASK}", f"call {PHONE_MASK}", id="a-masked-number-and-a-pair"
        ),
        pytest.param(
            "one two three four five six seven eight nine one two three four five six",
            PHONE_MASK,
            PHONE_MASK,
            id="fifteen-digits-a-phone-number",
        ),
        pytest.param(
            "four two four two four two four two four two four two four two four two",
            NUMBER_MASK,
            NUMBER_MASK,
            id="sixteen-digits-no-phone-number",
        ),
        pytest.param(
            "my plate is k l one two thirty four", f"my plate is {NUMBER_MASK}", None, id="letters-and-a-pair"
        ),
        pytest.param("it is b one two three", None, None, id="a-letter-and-three-digits-kept"),
        pytest.param("it is a b one two three", f"it is {NUMBER_MASK}", None, id="two-letters-and-three-digits-a-code"),
        pytest.param("it is x one two three four", f"it is {NUMBER_MASK}", None, id="a-letter-and-four-digits-a-code"),
        pytest.param("the policy is four hundred dollars", None, None, id="an-amount-after-a-cue-kept"),
        pytest.param("we have a hundred and fifty users", None, None, id="a-hundred-and-fifty-a-count"),
        pytest.param(
            "call a hundred and twelve five five five one two",
            f"call {PHONE_MASK}",
            f"call {PHONE_MASK}",
            id="a-hundred",
        ),
        pytest.param(
            "my number is eight hundred, five five five, one two three four",
            f"my number is {PHONE_MASK}",
            f"my number is {PHONE_MASK}",
            id="eight-hundred-number",
        ),
        pytest.param(
            "one hundred and fifty thousand five five five one two", PHONE_MASK, PHONE_MASK, id="thousand-in-a-run"
        ),
        pytest.param("my pin is 4321", f"my pin is {NUMBER_MASK}", None, id="one-written-number-after-a-cue"),
        pytest.param("uh oh one two three four five six", f"uh {PHONE_MASK}", f"uh {PHONE_MASK}", id="oh-as-zero"),
        pytest.param(
            "four one five uh um five five five one two three four", PHONE_MASK, PHONE_MASK, id="two-fillers-inside"
        ),
        pytest.param(
            "four one five uh uh uh five five five one two three four",
            f"four one five uh uh uh {PHONE_MASK}",
            f"four one five uh uh uh {PHONE_MASK}",
            id="three-fillers-end-a-run",
        ),
        pytest.param("oh no, one two three", None, None, id="oh-as-a-sigh"),
    ],
)
def test_digits_said_in_a_row_are_masked_from_six_in_a_transcript_and_seven_in_a_log(
    text: str, in_transcript: str | None, in_log: str | None
) -> None:
    """None: the line is kept as it is."""
    assert mask_spoken(text, transcript=True) == (in_transcript or text)
    assert mask_spoken(text, transcript=False) == (in_log or text)


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        pytest.param("call a four one five five five one two", f"call a {PHONE_MASK}", id="article-before"),
        pytest.param("four one five five five one two i think", f"{PHONE_MASK} i think", id="pronoun-after"),
        pytest.param("four one five five five one two a", f"{PHONE_MASK} a", id="article-after"),
        pytest.param("i one two three four five six seven", f"i {PHONE_MASK}", id="pronoun-before"),
        pytest.param("x y four one five five five one two", NUMBER_MASK, id="other-letters-make-it-a-code"),
    ],
)
def test_an_a_or_i_next_to_a_phone_number_is_the_article_or_pronoun_not_part_of_it(text: str, masked: str) -> None:
    assert spoken(text) == masked


@pytest.mark.parametrize(
    "text",
    ["reach dana@example dot com", "reach dana at example.com", "from dana dot [email]"],
)
def test_a_log_line_with_an_address_half_written_is_scanned_and_masked(text: str) -> None:
    """Log lines are scanned for addresses only when they hold an "at", "@" or "[email]" and a dot, "@" or domain word
    (most log lines hold neither); each of these holds just enough to be scanned."""
    assert mask_spoken(text, transcript=False) == f"{text.split()[0]} {EMAIL_MASK}"


def test_a_spelled_run_too_long_to_be_a_name_is_masked_whole_and_the_scan_goes_on() -> None:
    stuck = " ".join("k" for _ in range(201))  # 401 characters: a stuck speech-to-text, no name

    assert spoken(f"{stuck}, name o s k a r") == f"{SPELLED_MASK}, name {SPELLED_MASK}"
