"""Kinds of caller speech beyond fixed phrasings: products of a rate and a count, teams described by their members,
values that change within the utterance, integrations beyond CRMs, industries described rather than named, urgency
given by dates, renewals and idioms. The sentences are this file's own; the rules are those of tests/evals/README.md.
"""

from __future__ import annotations

import pytest

from agent.signals import SignalTracker, detect
from functions.common.record import Industry


@pytest.mark.parametrize(
    ("utterance", "team_size", "volume"),
    [
        # a rate per person times the people: 6 × 10 a week = 60 a week, 260 a month
        ("there are six of us and each of us sends about ten contracts a week", 6, 260),
        ("we have four agents and they each close around five leases a month", 4, 20),
        ("each of our twelve recruiters sends three offer letters a week", 12, 156),
        ("two reps each doing four proposals a day", 2, 243),  # 2 × 4 × 365/12 = 243.3
        ("our nine brokers do like 15 agreements a month apiece", 9, 135),
        ("we're 5 people and it's about 8 quotes a week per person", 5, 173),
        # the same rate for the team as a whole is not multiplied
        ("the four of us send maybe 30 contracts a week in total", 4, 130),
        ("we are 3 people sending 20 ndas a week", 3, 87),
    ],
)
def test_a_rate_per_person_is_multiplied_by_the_team(utterance: str, team_size: int, volume: int) -> None:
    found = detect(utterance)
    assert (found.team_size, found.monthly_volume) == (team_size, volume)


@pytest.mark.parametrize(
    ("utterance", "volume"),
    [
        ("every closing needs about four documents and we handle thirty closings a month", 120),
        ("we onboard about 15 new clients a month and each one signs 3 agreements", 45),
        ("we do 10 hires a week, with two forms per hire", 87),  # 20 a week
        # what is per unit is not a document: the count of documents stands
        ("every nda needs two signatures and we send about 50 ndas a month", 50),
        ("each contract runs about 6 pages and we send 40 contracts a month", 40),
    ],
)
def test_documents_per_unit_are_multiplied_by_the_units(utterance: str, volume: int) -> None:
    assert detect(utterance).monthly_volume == volume


@pytest.mark.parametrize(
    ("utterance", "team_size"),
    [
        ("we've got three offices with about 20 people each", 60),
        ("five branches, each with eight staff", 40),
        ("we have 3 offices and 25 people", 25),
    ],
)
def test_people_per_office_are_multiplied_by_the_offices(utterance: str, team_size: int) -> None:
    assert detect(utterance).team_size == team_size


@pytest.mark.parametrize(
    ("utterance", "team_size"),
    [
        ("it's me and two assistants", 3),
        ("me, my office manager and three techs", 5),
        ("we're two architects, one drafter and an intern", 4),
        ("myself plus four drivers", 5),
        ("three nurses, two doctors and a receptionist", 6),
        ("the office is me, a paralegal and two associates", 4),
        ("just me and my cat honestly", 1),
        ("i'm showing this to my husband and two friends", None),
        ("me and two of my clients looked at it", None),
    ],
)
def test_a_team_is_counted_from_its_members(utterance: str, team_size: int | None) -> None:
    assert detect(utterance).team_size == team_size


@pytest.mark.parametrize(
    ("utterance", "team_size", "volume"),
    [
        ("we went from 150 to 300 invoices a month", None, 300),
        ("we used to do about 30 proposals a week, now it's more like 50", None, 217),
        ("last year we were eight people, now we're fourteen", 14, None),
        ("we're at 120 quotes a month now, up from 70", None, 120),
        ("we had 10 employees back then, we're 16 now", 16, None),
        # a plan is not the current value
        ("we're 25 people and plan to hire ten more next year", 25, None),
        ("it's 40 contracts a month and we hope to get to 100", None, 40),
        # a range is not a change
        ("anywhere from 30 to 40 contracts a month", None, 35),
    ],
)
def test_the_latest_value_in_an_utterance_holds(utterance: str, team_size: int | None, volume: int | None) -> None:
    found = detect(utterance)
    assert (found.team_size, found.monthly_volume) == (team_size, volume)


@pytest.mark.parametrize(
    ("utterance", "integrations"),
    [
        ("we store contracts in our box account", ["box"]),
        ("we use one drive and share point", ["onedrive", "sharepoint"]),
        ("our accountant lives in xero", ["xero"]),
        ("we run oracle netsuite for finance", ["netsuite"]),
        ("it has to work with outlook and google calendar", ["outlook", "google_calendar"]),
        ("mostly gmail", ["gmail"]),
        ("we talk in ms teams all day", ["microsoft_teams"]),
        ("just ping me on teams", ["microsoft_teams"]),
        ("customers pay by paypal or stripe", ["paypal", "stripe"]),
        ("we keep the drafts in box and the signed copies in dropbox", ["box", "dropbox"]),
        # the words, not the products
        ("just tick the box", []),
        ("the outlook for next quarter looks good", []),
        ("our sales teams are spread out", []),
        ("it landed in my inbox", []),
        # competitors and products the caller does not use or left
        ("we compared docusign and dropbox sign", []),
        ("we tried zoho sign once", []),
        ("we don't use slack", []),
        ("we switched from pipedrive to hubspot last year", ["hubspot"]),
        ("we used to be on dropbox, now everything lives in sharepoint", ["sharepoint"]),
    ],
)
def test_integrations_of_the_catalogue_are_named_by_their_ids(utterance: str, integrations: list[str]) -> None:
    assert detect(utterance).integrations == integrations


@pytest.mark.parametrize(
    ("utterance", "industry"),
    [
        ("we help people buy and sell houses", Industry.REAL_ESTATE),
        ("our guests book rooms through our website", Industry.HOSPITALITY),
        ("we're a registered 501c3", Industry.NONPROFIT),
        ("we're a small llp of solicitors", Industry.LEGAL),
        ("we build custom homes", Industry.CONSTRUCTION),
        ("we do tax returns for families", Industry.FINANCE),
        ("we place nurses with hospitals", Industry.RECRUITING),
        ("we make software for dental offices", Industry.TECHNOLOGY),
        ("we run social ads for restaurants", Industry.MARKETING),
        ("we started as an accounting firm but now we're a software company", Industry.TECHNOLOGY),
        # the caller's customers, a legal form without a sector, somebody else's job, a past job
        ("most of our customers are banks", None),
        ("we're an s corp", None),
        ("my brother is a realtor", None),
        ("i used to work in insurance", None),
    ],
)
def test_an_industry_is_read_from_what_the_business_does(utterance: str, industry: Industry | None) -> None:
    assert detect(utterance).industry == industry


@pytest.mark.parametrize(
    ("utterance", "urgent"),
    [
        ("our current vendor contract ends on the 15th", True),
        ("our renewal comes up in three weeks", True),
        ("we want it set up before the audit next monday", True),
        ("we're really under the gun here", True),
        ("the clock is ticking on this one", True),
        ("sooner rather than later", True),
        ("our old tool expires at the end of the month", True),
        # a reply date, a feature, a renewal done or far off, a document type, the past, a negation
        ("i'll email you back by thursday", False),
        ("can i set an expiration date on the signing link", False),
        ("we renewed for another year last month", False),
        ("our renewal isn't until next year", False),
        ("we send out renewal letters every spring", False),
        ("i signed up yesterday", False),
        ("nothing is on fire right now", False),
        ("it was urgent last month but the deadline passed, so no rush now", False),
    ],
)
def test_urgency_is_read_from_dates_renewals_and_idioms(utterance: str, urgent: bool) -> None:
    assert bool(detect(utterance).urgency) is urgent


def test_the_tracker_keeps_the_current_value_of_a_change() -> None:
    tracker = SignalTracker()
    tracker.observe(0, "we were ten people last year")
    tracker.observe(2, "we grew from 10 to 18 people this year")
    assert tracker.to_model().team_size == 18


@pytest.mark.parametrize(
    ("utterance", "team_size", "volume"),
    [
        # groups of people: "K groups of P" is K × P
        ("we work in four crews of five", 20, None),
        ("two clinics of about 12 staff each", 24, None),
        # people at a rate are a flow (hires), not the headcount; as units they multiply documents per hire
        ("we onboard about ten people a month", None, None),
        ("we hire 5 people a week and each new hire fills out 4 forms", None, 87),
        # any role of the caller's staff counts
        ("we have 7 account managers", 7, None),
        ("there are 14 technicians on staff", 14, None),
    ],
)
def test_groups_rates_of_people_and_roles(utterance: str, team_size: int | None, volume: int | None) -> None:
    found = detect(utterance)
    assert (found.team_size, found.monthly_volume) == (team_size, volume)


@pytest.mark.parametrize(
    ("utterance", "team_size"),
    [
        ("it's just me, my mom and my brother running the shop", 3),
        ("the owner, two cooks and me", 4),
        ("four of us in the office plus two drivers", 6),
        ("me and then maybe three assistants", 4),
        ("my co-founder and i plus an intern", 3),
        ("i have an assistant and a bookkeeper who work for me", 3),
        ("me and two colleagues are on this call", None),
    ],
)
def test_member_lists_in_the_ways_people_say_them(utterance: str, team_size: int | None) -> None:
    assert detect(utterance).team_size == team_size


@pytest.mark.parametrize(
    ("utterance", "team_size", "volume"),
    [
        ("we had 8 lawyers when we started, now we're 12 lawyers", 12, None),
        ("our staff shrank from 40 to 30 after the merger", 30, None),
        ("the headcount grew from 15 to 22", 22, None),
        ("there used to be four of us, now it's only me", 1, None),
        ("last year we did 1200 contracts, this year we're doing about 150 a month", None, 150),
        ("invoices went from 100 a month to about 160 a month", None, 160),
    ],
)
def test_a_current_value_replaces_a_past_one(utterance: str, team_size: int | None, volume: int | None) -> None:
    found = detect(utterance)
    assert (found.team_size, found.monthly_volume) == (team_size, volume)


@pytest.mark.parametrize(
    ("utterance", "volume"),
    [
        ("every sale needs a purchase agreement and an invoice, and we make about 25 sales a month", 50),
        ("per project it's three documents and we run 10 projects a month", 30),
        ("each store handles about 40 invoices a week and we have 3 stores", 520),
    ],
)
def test_documents_listed_per_unit_or_counted_per_group(utterance: str, volume: int) -> None:
    assert detect(utterance).monthly_volume == volume


@pytest.mark.parametrize(
    ("utterance", "integrations"),
    [
        ("we use slack, outlook, teams and box", ["slack", "outlook", "microsoft_teams", "box"]),
        ("we don't use hubspot or any crm", []),
        ("we were on pipedrive for a while", []),
        ("there's a blue stripe on the logo", []),
    ],
)
def test_integrations_in_lists_negated_lists_and_past_use(utterance: str, integrations: list[str]) -> None:
    assert detect(utterance).integrations == integrations


@pytest.mark.parametrize(
    ("utterance", "urgent"),
    [
        ("our payroll filing is due on friday", True),
        ("our trial ends tomorrow", True),
        ("we go live next week and nothing is set up", True),
        ("we had 12 people before the launch", False),
        ("our fiscal year starts in july", False),
        ("can you set a deadline on each envelope", False),
    ],
)
def test_urgency_from_events_on_near_dates(utterance: str, urgent: bool) -> None:
    assert bool(detect(utterance).urgency) is urgent


@pytest.mark.parametrize(
    "utterance",
    [
        "someone from marketing will join later",
        "we use quickbooks for accounting",
        "i heard about you on a legal podcast",
        "our biggest customer is a hospital",
    ],
)
def test_departments_purposes_media_and_customers_are_not_the_industry(utterance: str) -> None:
    assert detect(utterance).industry is None


@pytest.mark.parametrize(
    ("utterance", "team_size", "volume"),
    [
        ("a couple of us in finance and four analysts", 6, None),
        ("two of us up front and three in the back", 5, None),
        ("a few of us in support two designers and our cto", 6, None),
        ("each new student fills in three forms and we enrol about 40 students a month", None, 120),
        ("we had two stores of 6 people, now it's three stores of 8 each", 24, None),
        ("every deal comes with an msa and a sow and we sign 10 deals a month", None, 20),
        ("we look after 120 apartments and each apartment signs one lease once a year", None, 10),
    ],
)
def test_counts_said_in_more_ways(utterance: str, team_size: int | None, volume: int | None) -> None:
    found = detect(utterance)
    assert (found.team_size, found.monthly_volume) == (team_size, volume)


@pytest.mark.parametrize(
    ("utterance", "industry"),
    [
        ("we hire software developers for banks", None),
        ("we bottle olive oil for grocery stores", None),
    ],
)
def test_compounds_and_qualified_customers_are_not_the_industry(utterance: str, industry: Industry | None) -> None:
    assert detect(utterance).industry == industry


def test_a_contracted_idiom_is_the_idiom() -> None:
    assert detect("time's running out for us").urgency
