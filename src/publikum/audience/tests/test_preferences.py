"""The preference centre and RFC 8058 one-click unsubscribe, reached by signed links."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from publikum.audience import consent
from publikum.audience.models import Consent, Contact, Interaction
from publikum.audience.privacy import contact_erase
from publikum.audience.services import consent_set, contact_create, contact_update
from publikum.core.models import AuditEntry, Organisation

pytestmark = pytest.mark.django_db


def browser(**kwargs: Any) -> Client:
    return Client(headers={"accept-language": "en"}, **kwargs)


def granted(contact: Contact) -> set[tuple[str, str]]:
    return set(
        Consent.objects.filter(contact=contact, granted=True).values_list("channel", "purpose")
    )


@pytest.fixture
def person(organisation: Organisation) -> Contact:
    contact = contact_create(
        organisation=organisation, email="Clara.Schumann@example.org", first_name="Clara"
    )
    for channel, purpose in (("email", "newsletter"), ("email", "offers"), ("post", "offers")):
        consent_set(
            contact=contact,
            channel=channel,
            purpose=purpose,
            granted=True,
            source="double opt-in 2026-01-01",
        )
    return contact


def form_data(**overrides: Any) -> dict[str, Any]:
    data = {
        "action": "save",
        "consent_email_newsletter": "on",
        "consent_email_offers": "on",
        "consent_post_offers": "on",
        "max_mails_per_month": "0",
        "paused_until": "",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def test_links_are_absolute_paths_that_stay_the_same(organisation, person) -> None:
    link = consent.preference_link(person)
    assert link.startswith(f"/{organisation.slug}/preferences/")
    assert consent.preference_link(person) == link
    assert consent.unsubscribe_link(person).startswith(f"/{organisation.slug}/unsubscribe/")
    # The token carries no readable address.
    assert "clara" not in link.lower()


def test_the_centre_shows_the_current_consents(person) -> None:
    page = browser().get(consent.preference_link(person))
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="id_consent_email_newsletter" style="width:auto" checked' in html
    assert 'id="id_consent_email_offers" style="width:auto" checked' in html
    assert 'id="id_consent_email_feedback" style="width:auto">' in html
    # Post consent is shown too, so that it can be withdrawn.
    assert 'id="id_consent_post_offers"' in html
    assert page.headers["Cache-Control"] == "no-store"


def test_the_centre_changes_consents_frequency_and_pause(person) -> None:
    link = consent.preference_link(person)
    pause = timezone.localdate() + timedelta(days=30)
    response = browser().post(
        link,
        form_data(
            consent_email_newsletter=None,
            consent_email_feedback="on",
            max_mails_per_month="4",
            paused_until=pause.isoformat(),
        ),
    )
    assert response.status_code == 302
    assert response.headers["Location"] == link + "?saved=1"
    assert "Your preferences have been saved." in browser().get(link + "?saved=1").content.decode()

    assert granted(person) == {("email", "offers"), ("email", "feedback"), ("post", "offers")}
    feedback = Consent.objects.get(contact=person, purpose="feedback", channel="email")
    assert feedback.source == f"preference centre {timezone.localdate().isoformat()}"
    assert "Feedback requests" in feedback.wording
    newsletter = Consent.objects.get(contact=person, purpose="newsletter", channel="email")
    assert newsletter.withdrawn_at is not None
    person.refresh_from_db()
    assert person.max_mails_per_month == 4
    assert person.paused_until == pause
    kinds = sorted(Interaction.objects.filter(contact=person).values_list("kind", flat=True))
    assert kinds == ["subscribed", "unsubscribed"]
    entry = AuditEntry.objects.get(action="audience.preferences.updated")
    assert entry.data["withdrawn"] == ["email:newsletter"]
    assert entry.data["fields"] == ["max_mails_per_month", "paused_until"]

    # The page shows what was saved.
    html = browser().get(link).content.decode()
    assert f'value="{pause.isoformat()}"' in html
    assert 'name="max_mails_per_month" value="4"' in html


def test_saving_without_changes_changes_nothing(person) -> None:
    browser().post(consent.preference_link(person), form_data())
    assert granted(person) == {("email", "newsletter"), ("email", "offers"), ("post", "offers")}
    assert not Interaction.objects.filter(contact=person).exists()
    assert not AuditEntry.objects.filter(action="audience.preferences.updated").exists()


def test_a_pause_in_the_past_is_refused_and_nothing_changes(person) -> None:
    yesterday = timezone.localdate() - timedelta(days=1)
    response = browser().post(
        consent.preference_link(person),
        form_data(consent_email_newsletter=None, paused_until=yesterday.isoformat()),
    )
    assert response.status_code == 400
    assert "a date from today on" in response.content.decode()
    person.refresh_from_db()
    assert person.paused_until is None
    assert ("email", "newsletter") in granted(person)


def test_post_consent_can_be_withdrawn_but_not_given_here(organisation, person) -> None:
    browser().post(consent.preference_link(person), form_data(consent_post_offers=None))
    assert ("post", "offers") not in granted(person)
    # A crafted field for a channel that was not offered is ignored.
    browser().post(consent.preference_link(person), form_data(consent_phone_newsletter="on"))
    assert ("phone", "newsletter") not in granted(person)


def test_unsubscribe_from_everything_in_one_click(person) -> None:
    response = browser().post(consent.preference_link(person), {"action": "unsubscribe_all"})
    assert response.status_code == 200
    assert "You are unsubscribed" in response.content.decode()
    assert granted(person) == set()
    assert Consent.objects.filter(contact=person, granted=False).count() == 3
    [entry] = Interaction.objects.filter(contact=person)
    assert entry.kind == "unsubscribed"


def test_one_click_post_withdraws_everything_without_a_session(person) -> None:
    # A mail client: no cookies, no CSRF token, just the RFC 8058 body.
    client = browser(enforce_csrf_checks=True)
    url = consent.unsubscribe_link(person)
    response = client.post(
        url, "List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 200
    assert granted(person) == set()
    # Mail clients retry: a second post is fine and leaves no second entry.
    again = client.post(
        url, "List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded"
    )
    assert again.status_code == 200
    assert Interaction.objects.filter(contact=person, kind="unsubscribed").count() == 1
    # The consent row keeps where the grant came from; the withdrawal's source is audited.
    source = Consent.objects.filter(contact=person).values_list("source", flat=True).first()
    assert source.startswith("double opt-in")
    withdrawals = AuditEntry.objects.filter(
        organisation=person.organisation, action="audience.consent.withdrawn"
    )
    assert {e.data["source"] for e in withdrawals} == {
        f"one-click unsubscribe {timezone.localdate().isoformat()}"
    }


def test_one_click_get_only_shows_a_button(person) -> None:
    page = browser().get(consent.unsubscribe_link(person))
    assert page.status_code == 200
    html = page.content.decode()
    assert 'name="List-Unsubscribe" value="One-Click"' in html
    assert len(granted(person)) == 3
    # The button on that page works.
    clicked = browser().post(consent.unsubscribe_link(person), {"List-Unsubscribe": "One-Click"})
    assert clicked.status_code == 200
    assert granted(person) == set()


def test_one_click_post_without_the_rfc_body_is_refused(person) -> None:
    response = browser().post(consent.unsubscribe_link(person), {"something": "else"})
    assert response.status_code == 400
    assert len(granted(person)) == 3


def test_forged_and_foreign_preference_tokens_are_400(
    organisation, other_organisation, person
) -> None:
    stranger = contact_create(organisation=other_organisation, email="fremd@example.org")
    token = consent.preference_token(person)
    tampered = token[:-1] + ("A" if token[-1] != "A" else "B")
    bad_tokens = [
        tampered,
        "erfunden",
        consent.preference_token(stranger),  # another house's contact
        consent.unsubscribe_token(person),  # a token of another kind
    ]
    for bad in bad_tokens:
        url = f"/{organisation.slug}/preferences/{bad}"
        response = browser().get(url)
        assert response.status_code == 400, bad
        assert "This link is not valid" in response.content.decode()
        assert browser().post(url, {"action": "unsubscribe_all"}).status_code == 400
    one_click = f"/{organisation.slug}/unsubscribe/{consent.preference_token(person)}"
    assert browser().post(one_click, {"List-Unsubscribe": "One-Click"}).status_code == 400
    assert len(granted(person)) == 3


def test_links_stop_working_when_the_address_changes_or_the_person_is_erased(person) -> None:
    old_link = consent.preference_link(person)
    contact_update(contact=person, email="clara.neu@example.org")
    assert browser().get(old_link).status_code == 400
    new_link = consent.preference_link(person)
    assert browser().get(new_link).status_code == 200

    one_click = consent.unsubscribe_link(person)
    contact_erase(contact=person)
    assert browser().get(new_link).status_code == 400
    assert browser().post(one_click, {"List-Unsubscribe": "One-Click"}).status_code == 400


def test_the_link_from_the_confirmation_page_opens_the_centre(organisation) -> None:
    from django.core import mail

    browser().post(
        f"/{organisation.slug}/subscribe",
        {"email": "neu@example.org", "language": "en", "purposes": ["offers"]},
    )
    path = mail.outbox[0].body.split("http://testserver", 1)[1].split()[0]
    confirmed = browser().get(path).content.decode()
    link = consent.preference_link(Contact.objects.get(email="neu@example.org"))
    assert f'href="{link}"' in confirmed
    assert 'id="id_consent_email_offers" style="width:auto" checked' in (
        browser().get(link).content.decode()
    )
