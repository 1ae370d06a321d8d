"""Double opt-in: the public subscribe form, the mail over real SMTP, the confirmation link."""

from __future__ import annotations

import re
import time
from datetime import timedelta
from typing import Any

import pytest
from django.core import mail, signing
from django.test import Client
from django.utils import timezone

from publikum.audience import consent
from publikum.audience.models import Consent, Contact, Interaction, SubscriptionRequest
from publikum.audience.services import contact_create
from publikum.core.models import AuditEntry, Organisation

pytestmark = pytest.mark.django_db


LINK = re.compile(r"https?://[\w.:-]+(/[\w-]+/subscribe/confirm/[^\s\"<>]+)")
NEWSLETTER_TEXT = (
    "Newsletter: news about our programme, exhibitions and events, about once a month."
)
OFFERS_TEXT = "Personal offers: invitations and offers chosen for my interests."


def visitor(**kwargs: Any) -> Client:
    return Client(headers={"accept-language": "en"}, **kwargs)


def subscribe(
    organisation: Organisation, email: str, purposes: list[str] | None = None, **extra: str
) -> Any:
    data = {
        "email": email,
        "first_name": "Ada",
        "language": "en",
        "purposes": purposes or ["newsletter"],
        "website": "",
        **extra,
    }
    return visitor().post(f"/{organisation.slug}/subscribe", data)


def without_csrf(content: bytes) -> str:
    # The language switch carries a CSRF token that differs per request.
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", content.decode())


def link_in(text: str) -> str:
    found = LINK.search(text)
    assert found is not None, text
    return found.group(1)


def test_subscribing_mails_a_link_over_smtp_and_only_the_link_grants_consent(
    smtp_server, organisation, owner_client
) -> None:
    form = visitor().get(f"/{organisation.slug}/subscribe")
    assert form.status_code == 200
    assert NEWSLETTER_TEXT in form.content.decode()

    response = subscribe(organisation, "Ada.Lovelace@Example.org", ["newsletter", "feedback"])
    assert response.status_code == 302
    assert response.headers["Location"] == f"/{organisation.slug}/subscribe/sent"

    [message] = smtp_server.messages
    assert message.recipients == ["Ada.Lovelace@example.org"]
    assert message.message["X-Publikum-Organisation"] == organisation.slug
    assert organisation.name in message.subject
    assert "Hello Ada," in message.text
    path = link_in(message.text)
    assert path.startswith(f"/{organisation.slug}/subscribe/confirm/")
    html = message.message.get_body(preferencelist=("html",))
    assert html is not None
    assert path in html.get_content()

    contact = Contact.objects.get(
        organisation=organisation, email__iexact="ada.lovelace@example.org"
    )
    assert contact.first_name == "Ada"
    assert contact.language == "en"
    assert not Consent.objects.filter(contact=contact).exists(), "consent before the link"

    opened = visitor().get(path)
    assert opened.status_code == 200
    assert "your subscription is confirmed" in opened.content.decode()

    consents = {c.purpose: c for c in Consent.objects.filter(contact=contact)}
    assert set(consents) == {"newsletter", "feedback"}
    newsletter = consents["newsletter"]
    assert newsletter.granted
    assert newsletter.channel == "email"
    assert newsletter.source == f"double opt-in {timezone.localdate().isoformat()}"
    # The words that were shown for this purpose, and not those of another one.
    assert NEWSLETTER_TEXT in newsletter.wording
    assert organisation.name in newsletter.wording
    assert "Feedback requests" not in newsletter.wording
    assert "Feedback requests" in consents["feedback"].wording

    detail = owner_client.get(
        f"/o/{organisation.slug}/contacts/{contact.pk}/", headers={"accept-language": "en"}
    ).content.decode()
    timeline = detail[detail.index('data-testid="timeline"') :]
    assert '<span class="kind kind-subscribed">Subscribed</span>' in timeline
    assert "double opt-in" in timeline


def test_without_opening_the_link_nothing_is_granted(organisation) -> None:
    subscribe(organisation, "wartet@example.org", ["newsletter", "offers"])
    assert len(mail.outbox) == 1
    contact = Contact.objects.get(organisation=organisation, email="wartet@example.org")
    request = SubscriptionRequest.objects.get(contact=contact)
    assert request.purposes == ["newsletter", "offers"]
    assert request.confirmed_at is None
    assert not Consent.objects.filter(contact=contact).exists()
    assert not Interaction.objects.filter(contact=contact).exists()


def test_the_stored_wording_is_the_text_that_was_shown(organisation) -> None:
    shown = visitor().get(f"/{organisation.slug}/subscribe").content.decode()
    subscribe(organisation, "wortlaut@example.org", ["newsletter", "offers"])
    request = SubscriptionRequest.objects.get(contact__email="wortlaut@example.org")
    for text in (NEWSLETTER_TEXT, OFFERS_TEXT, consent.consent_intro(organisation)):
        assert text in shown
        assert text in request.wording
    assert "Feedback requests" not in request.wording


def test_a_replayed_link_says_already_confirmed_and_grants_nothing_twice(organisation) -> None:
    subscribe(organisation, "zweimal@example.org")
    path = link_in(mail.outbox[0].body)
    assert visitor().get(path).status_code == 200
    first = Consent.objects.get(contact__email="zweimal@example.org")

    again = visitor().get(path)
    assert again.status_code == 200
    assert "Already confirmed" in again.content.decode()
    assert Consent.objects.filter(contact__email="zweimal@example.org").count() == 1
    assert Consent.objects.get(pk=first.pk).granted_at == first.granted_at
    assert Interaction.objects.filter(contact__email="zweimal@example.org").count() == 1
    assert AuditEntry.objects.filter(action="audience.subscription.confirmed").count() == 1


def test_a_forged_or_foreign_link_is_a_400_page_and_grants_nothing(
    organisation, other_organisation
) -> None:
    subscribe(organisation, "echt@example.org")
    subscribe(other_organisation, "fremd@example.org")
    path = link_in(mail.outbox[0].body)
    foreign = link_in(mail.outbox[1].body).split("/confirm/")[1]
    base = f"/{organisation.slug}/subscribe/confirm/"
    token = path.removeprefix(base)
    forged_payload = signing.dumps({"o": organisation.pk, "r": 1, "n": "x"}, salt="other")
    for bad in (
        token[:-1] + ("A" if token[-1] != "A" else "B"),
        "kein-gueltiger-token",
        foreign,
        forged_payload,
    ):
        response = visitor().get(base + bad)
        assert response.status_code == 400, bad
        assert "This link is not valid" in response.content.decode()
    assert not Consent.objects.exists()


def test_an_expired_link_says_so_and_offers_to_subscribe_again(organisation, monkeypatch) -> None:
    subscribe(organisation, "spaet@example.org")
    request = SubscriptionRequest.objects.get(contact__email="spaet@example.org")
    now = time.time()

    monkeypatch.setattr(signing.time, "time", lambda: now - timedelta(days=8).total_seconds())
    old_token = consent.confirmation_token(request)
    monkeypatch.setattr(signing.time, "time", lambda: now - timedelta(days=6).total_seconds())
    recent_token = consent.confirmation_token(request)
    monkeypatch.undo()

    response = visitor().get(f"/{organisation.slug}/subscribe/confirm/{old_token}")
    assert response.status_code == 410
    html = response.content.decode()
    assert "This link has expired" in html
    assert f'href="/{organisation.slug}/subscribe"' in html
    assert not Consent.objects.exists()

    # Six days old is still within the week.
    assert (
        visitor().get(f"/{organisation.slug}/subscribe/confirm/{recent_token}").status_code == 200
    )
    assert Consent.objects.filter(granted=True).count() == 1


def test_known_and_unknown_addresses_get_the_same_answer(smtp_server, organisation) -> None:
    known = contact_create(
        organisation=organisation, email="bekannt@example.org", first_name="Berta", language="de"
    )
    answers = [
        subscribe(organisation, "bekannt@example.org", first_name="Mallory"),
        subscribe(organisation, "unbekannt@example.org"),
    ]
    assert [a.status_code for a in answers] == [302, 302]
    assert answers[0].headers["Location"] == answers[1].headers["Location"]
    pages = [without_csrf(visitor().get(a.headers["Location"]).content) for a in answers]
    assert pages[0] == pages[1]

    assert sorted(m.recipients[0] for m in smtp_server.messages) == [
        "bekannt@example.org",
        "unbekannt@example.org",
    ]
    # The form changes nothing of a known person: anyone can type any address.
    known.refresh_from_db()
    assert known.first_name == "Berta"
    assert Contact.objects.filter(organisation=organisation).count() == 2
    greeting = next(m for m in smtp_server.messages if m.recipients == ["bekannt@example.org"])
    assert "Mallory" not in greeting.text


def test_the_honeypot_turns_robots_away_silently(organisation) -> None:
    response = subscribe(organisation, "robot@example.org", website="http://spam.example")
    assert response.status_code == 302
    assert response.headers["Location"] == f"/{organisation.slug}/subscribe/sent"
    assert mail.outbox == []
    assert not Contact.objects.exists()
    assert not SubscriptionRequest.objects.exists()


def test_the_form_is_rate_limited_per_address(organisation) -> None:
    codes = [subscribe(organisation, f"p{n}@example.org").status_code for n in range(6)]
    assert codes == [302] * 5 + [429]
    assert len(mail.outbox) == 5
    # Reading the form is not limited.
    assert visitor().get(f"/{organisation.slug}/subscribe").status_code == 200


def test_bad_input_is_explained_and_nothing_is_written(organisation) -> None:
    no_email = subscribe(organisation, "keine-adresse")
    assert no_email.status_code == 200
    assert 'aria-invalid="true"' in no_email.content.decode()
    nothing = visitor().post(
        f"/{organisation.slug}/subscribe", {"email": "a@example.org", "language": "en"}
    )
    assert "Please choose at least one." in nothing.content.decode()
    unknown = subscribe(organisation, "b@example.org", ["spam"])
    assert unknown.status_code == 200
    assert mail.outbox == []
    assert not Contact.objects.exists()


def test_the_form_needs_its_csrf_token(organisation) -> None:
    client = visitor(enforce_csrf_checks=True)
    response = client.post(
        f"/{organisation.slug}/subscribe",
        {"email": "x@example.org", "language": "en", "purposes": ["newsletter"]},
    )
    assert response.status_code == 403
    assert not Contact.objects.exists()
    # With the token from the page the same post goes through.
    client.get(f"/{organisation.slug}/subscribe")
    token = client.cookies["csrftoken"].value
    response = client.post(
        f"/{organisation.slug}/subscribe",
        {
            "email": "x@example.org",
            "language": "en",
            "purposes": ["newsletter"],
            "csrfmiddlewaretoken": token,
        },
    )
    assert response.status_code == 302


def test_an_unknown_organisation_has_no_subscribe_form(db: None) -> None:
    assert visitor().get("/niemand-hier/subscribe").status_code == 404


def test_the_confirmation_mail_is_in_the_language_the_person_chose(organisation) -> None:
    subscribe(organisation, "deutsch@example.org", language="de")
    subscribe(organisation, "english@example.org", language="en")
    langs = {}
    for message in mail.outbox:
        html = next(body for body, kind in message.alternatives if kind == "text/html")
        langs[message.to[0]] = re.search(r'<html lang="(\w+)"', html).group(1)
    assert langs == {"deutsch@example.org": "de", "english@example.org": "en"}


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_visitor_subscribes_confirms_and_manages_preferences_in_chromium(
    page: Any, live_server: Any, smtp_server, organisation, tmp_path
) -> None:
    from playwright.sync_api import expect

    page.goto(f"{live_server.url}/{organisation.slug}/subscribe")
    expect(page.locator("h1")).to_contain_text(organisation.name)
    page.locator("input[name=email]").fill("browser.gast@example.org")
    page.locator("input[name=first_name]").fill("Grete")
    page.locator("input[name=purposes][value=newsletter]").check()
    page.locator("input[name=purposes][value=offers]").check()
    page.locator("form.card button[type=submit]").click()
    expect(page).to_have_url(f"{live_server.url}/{organisation.slug}/subscribe/sent")
    page.screenshot(path=str(tmp_path / "sent.png"))

    [message] = smtp_server.messages
    confirm = link_in(message.text)
    assert not Consent.objects.exists()
    assert confirm.startswith(f"/{organisation.slug}/subscribe/confirm/")
    page.goto(live_server.url + confirm)
    expect(page.locator("[role=status]")).to_be_visible()
    assert Consent.objects.filter(granted=True).count() == 2

    page.locator(f"a[href^='/{organisation.slug}/preferences/']").click()
    newsletter = page.locator("input[name=consent_email_newsletter]")
    expect(newsletter).to_be_checked()
    newsletter.uncheck()
    page.locator("input[name=max_mails_per_month]").fill("3")
    page.locator("button[value=save]").click()
    expect(page.locator("[data-testid=saved]")).to_be_visible()
    expect(page.locator("input[name=consent_email_newsletter]")).not_to_be_checked()
    expect(page.locator("input[name=consent_email_offers]")).to_be_checked()
    page.screenshot(path=str(tmp_path / "preferences.png"), full_page=True)
    contact = Contact.objects.get(email="browser.gast@example.org")
    assert contact.max_mails_per_month == 3

    page.locator("button[value=unsubscribe_all]").click()
    expect(page.locator("[data-testid=unsubscribed]")).to_be_visible()
    assert not Consent.objects.filter(contact=contact, granted=True).exists()


def test_when_the_mail_server_is_down_the_visitor_is_told_to_try_again(
    organisation, settings
) -> None:
    from conftest import free_port

    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = free_port()  # nothing listens there
    settings.EMAIL_TIMEOUT = 5
    response = subscribe(organisation, "unzustellbar@example.org")
    assert response.status_code == 503
    assert "could not be sent" in response.content.decode()
    assert not Consent.objects.exists()


def test_a_link_mailed_to_an_address_the_contact_no_longer_has_grants_nothing(
    organisation,
) -> None:
    from publikum.audience.services import contact_update

    subscribe(organisation, "alt@example.org")
    contact = Contact.objects.get(email="alt@example.org")
    contact_update(contact=contact, email="neu@example.org")
    response = visitor().get(link_in(mail.outbox[0].body))
    assert response.status_code == 400
    assert not Consent.objects.exists()
