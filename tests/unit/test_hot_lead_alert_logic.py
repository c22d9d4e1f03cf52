from __future__ import annotations

from functions.hot_lead_alert.logic import compose_alert
from tests.unit.details import detail_for


def test_alert_subject_is_short_ascii_and_names_the_company() -> None:
    alert = compose_alert(detail_for())

    assert alert.subject == "Hot lead: Acme Legal - grade A, score 77"
    assert alert.subject.isascii() and len(alert.subject) < 100


def test_alert_subject_survives_hostile_company_names() -> None:
    contact = {"name": "Zoë", "company": "Société Générale\nFinance\t" + "Ω" * 50 + "x" * 150}

    subject = compose_alert(detail_for(contact=contact)).subject

    assert subject.isascii() and len(subject) < 100
    assert all(ord(char) >= 32 for char in subject)


def test_alert_body_gives_a_rep_what_they_need_to_act() -> None:
    alert = compose_alert(detail_for())

    for expected in [
        "Who:      Dana Lee",
        "Company:  Acme Legal",
        "Email:    dana.lee@example.com",
        "Phone:",
        "Meeting booked: yes, tomorrow 2pm",
        "team of 12",
        '"We\'re a team of 12"',
        "95 s",
        "s3://bucket/sessions/year=2026/month=11/day=20/trial-call-0001.json.gz",
    ]:
        assert expected in alert.body
    assert (alert.grade, alert.score) == ("A", 77)


def test_alert_without_contact_says_what_is_missing() -> None:
    alert = compose_alert(detail_for(contact=None))

    assert "Email:    not given" in alert.body
    assert "Hot lead: unknown caller" in alert.subject
