"""Behaviour of the signal detector on caller speech, one rule per test."""

from __future__ import annotations

import pytest

from agent.signals import MAX_UTTERANCE_CHARS, SignalTracker, detect
from functions.common.record import Industry


@pytest.mark.parametrize(
    ("utterance", "team_size"),
    [
        ("we're about twenty five people", 25),
        ("We're a team of 12 and we send about 300 contracts a month.", 12),
        ("we're a fifty-person company", 50),
        ("it's a 10 person firm", 10),
        ("there are five of us", 5),
        ("we have like a dozen reps", 12),
        ("a company of 200", 200),
        ("we employ about 45", 45),
        ("our headcount is around one hundred and twenty", 120),
        ("um it's just me right now", 1),
        ("i'm a solopreneur", 1),
        ("it's only myself at the moment", 1),
        ("me and my business partner", 2),
        ("me and my co-founder run it", 2),
        ("it's me and one employee", 2),
        ("just me and a paralegal", 2),
        ("me and my sister run a little boutique", 2),
        ("we have ten to fifteen attorneys", 12),
        ("we have like two hundred employees i mean two hundred and fifty", 250),
        ("we'd roll it out to over 100 users", 100),
        ("we need 30 seats", 30),
    ],
)
def test_team_size_is_read_from_digits_words_and_phrases(utterance: str, team_size: int) -> None:
    assert detect(utterance).team_size == team_size


@pytest.mark.parametrize(
    ("utterance", "volume"),
    [
        ("probably 30-40 documents per week", 152),
        ("hundreds of NDAs monthly", 200),
        ("a couple hundred proposals a month", 200),
        ("a few hundred quotes a month", 300),
        ("we send 1,200 invoices a year", 100),
        ("about 300 leases per quarter", 100),
        ("we do about 20 leases a day", 608),
        ("every week we send about forty contracts", 173),
        ("one hundred and fifty proposals a month", 150),
        ("we sign maybe 40 lease agreements a month", 40),
        ("we send out about 300 a month", 300),
        ("five hundred contracts a month give or take", 500),
        ("we did 500 nda's last month", 500),
        ("dozens of offers a week", 104),
        ("around 2k envelopes a month", 2000),
    ],
)
def test_monthly_volume_is_normalised_to_a_month(utterance: str, volume: int) -> None:
    assert detect(utterance).monthly_volume == volume


@pytest.mark.parametrize(
    "utterance",
    [
        "can we talk at 5 pm",
        "we've been in business 20 years",
        "it takes like 5 minutes",
        "i have 3 questions",
        "we're on version 2 of the template",
        "50 percent of our contracts are ndas",
        "the plan is 49 dollars",
        "call me back at 415 555 0132",
        "i'm on chapter one of the help docs",
        "our company is 20 years old",
        "i'll do it myself later",
        "i've shown it to like five people already",
        "we have two offices",
        "each contract is about 3 pages",
        # A number read out digit by digit (a phone number, a zip code) is not a count, whatever noun is near it.
        "you can reach the office six four six, five five five, one two three four",
        "our team line is four one five five five five zero one three two",
        "the office zip is nine four one zero seven",
    ],
)
def test_numbers_that_are_not_signals_do_not_become_signals(utterance: str) -> None:
    found = detect(utterance)
    assert (found.team_size, found.monthly_volume) == (None, None)


@pytest.mark.parametrize(
    ("utterance", "integrations"),
    [
        ("we need salesforce sync asap", ["salesforce"]),
        ("we live in hub spot and quick books", ["hubspot", "quickbooks"]),
        ("we're on dynamics 365", ["dynamics"]),
        ("crm sync is the big one", ["crm"]),
        ("salesforce is our crm", ["salesforce"]),
        ("do you have a rest api or webhooks", ["api"]),
        ("can we embed it in our portal", ["api"]),
        (
            "files go to google drive then drop box, payments via stripe, alerts in slack via zapier",
            ["google_drive", "dropbox", "stripe", "slack", "zapier"],
        ),
        ("cut me some slack i'm new at this", []),
    ],
)
def test_integrations_are_canonical_names_in_order_of_mention(utterance: str, integrations: list[str]) -> None:
    assert detect(utterance).integrations == integrations


@pytest.mark.parametrize(
    ("utterance", "urgency"),
    [
        ("we need it asap", "asap"),
        ("it's pretty time-sensitive for us", "time-sensitive"),
        ("i need these signed by friday", "by friday"),
        ("our trial expires soon", "expires"),
        ("we need to go live this week", "go live this week"),
        ("no rush really", None),
        ("it's not urgent", None),
        ("there's no real deadline", None),
        ("not in a hurry honestly", None),
        ("i got like 4 emails from you guys this week", None),
    ],
)
def test_urgency_is_the_phrase_unless_negated(utterance: str, urgency: str | None) -> None:
    assert detect(utterance).urgency == urgency


@pytest.mark.parametrize(
    ("utterance", "industry"),
    [
        ("we're a small law firm", Industry.LEGAL),
        ("we're an insurance brokerage", Industry.INSURANCE),
        ("i run a dental clinic", Industry.HEALTHCARE),
        ("property management company", Industry.REAL_ESTATE),
        ("we're a staffing agency", Industry.RECRUITING),
        ("we're a saas startup", Industry.TECHNOLOGY),
        ("we're a law firm doing insurance defence", Industry.LEGAL),
        ("solo lawyer doing real estate closings", Industry.LEGAL),
        ("is this the pharmacy?", None),
        ("my lawyer told me to look at e-signature tools", None),
        ("we keep our legal team in the loop", None),
    ],
)
def test_industry_names_the_callers_organisation(utterance: str, industry: Industry | None) -> None:
    assert detect(utterance).industry == industry


def test_output_has_exactly_the_five_keys_in_order() -> None:
    output = detect("yeah sounds good").as_output()
    assert list(output) == ["team_size", "monthly_volume", "integrations", "urgency", "industry"]
    assert output == {"team_size": None, "monthly_volume": None, "integrations": [], "urgency": None, "industry": None}


def test_tracker_keeps_the_latest_explicit_value_and_all_evidence() -> None:
    tracker = SignalTracker()
    tracker.observe(0, "we're about ten people")
    tracker.observe(2, "we use hubspot")
    tracker.observe(4, "sorry, we're actually twelve people now and need salesforce asap")
    signals = tracker.to_model()
    assert signals.team_size == 12
    assert signals.integrations == ["hubspot", "salesforce"]
    assert signals.urgency == "asap"
    team_evidence = [(item.turn_index, item.value, item.text) for item in signals.evidence if item.field == "team_size"]
    assert team_evidence == [(0, 10, "ten people"), (4, 12, "twelve people")]


def test_a_later_negation_clears_urgency() -> None:
    tracker = SignalTracker()
    tracker.observe(0, "we need it asap")
    tracker.observe(1, "actually there's no rush")
    assert tracker.to_model().urgency is None


@pytest.mark.parametrize(
    "text",
    [
        "1" * 100_000,
        "1 " * 50_000,
        "-1" * 50_000,
        ("twenty " * 15_000)[:100_000],
        ("twenty-five 30-40 hundred and " * 4_000)[:100_000],
        ("a couple of " * 9_000)[:100_000],
        ("1,000," * 20_000)[:100_000],
        ("me and two assistants " * 5_000)[:100_000],
        ("each of us sends 10 a week " * 4_000)[:100_000],
        ("went from 10 to 20 people now 30 " * 3_000)[:100_000],
        ("by the 15th renewal in two weeks " * 3_000)[:100_000],
        ("we don't use slack or box outlook teams " * 2_500)[:100_000],
        ("every deal needs a contract and " * 4_000)[:100_000],
    ],
)
def test_adversarial_utterances_are_handled_without_error(text: str) -> None:
    found = detect(text)
    assert found.team_size is None or found.team_size >= 1
    assert len(found.evidence) <= 10


def test_text_beyond_the_cap_is_ignored() -> None:
    assert detect("x " * (MAX_UTTERANCE_CHARS // 2) + "we are 50 people").team_size is None


@pytest.mark.parametrize(
    ("typed", "plain"),
    [
        # A curly apostrophe must still negate: read as "isn", "t", it would report urgency.
        ("it isn\u2019t urgent at all", "it isn't urgent at all"),
        # An em dash is a range: read as nothing, the evidence would say "5 10 people".
        ("we\u2019re 5\u201410 people", "we're 5 - 10 people"),
    ],
)
def test_typographic_characters_read_as_their_plain_forms(typed: str, plain: str) -> None:
    assert not typed.isascii()
    assert detect(typed).as_output() == detect(plain).as_output()
    assert detect(typed).evidence == detect(plain).evidence
