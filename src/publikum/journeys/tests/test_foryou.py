"""The "for you" block: each person's recommendations in newsletters and journey mails, the
reason for each in the mail's language, the offers recorded once the mail went out.

Real parts: the small house of the discovery tests (built through the real services), the
real recommender, a real SMTP server (aiosmtpd) on loopback, the worker in this process for
the newsletter's whole way (queue job, delivery job), the test client for tracked links.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from email.message import EmailMessage
from html import unescape
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from conftest import free_port, run_worker_burst
from publikum.audience.models import Contact
from publikum.audience.segments import segment_create
from publikum.audience.services import consent_set, contact_create
from publikum.core.errors import ValidationFailed
from publikum.core.models import Organisation
from publikum.discovery import services as discovery
from publikum.discovery.models import Offer
from publikum.discovery.tests.house import House, build_house
from publikum.journeys import newsletters
from publikum.journeys.content import caches_clear, render_email, render_preview, template_problems
from publikum.journeys.delivery import messages_deliver
from publikum.journeys.engine import advance_due, journey_activate, journey_validate
from publikum.journeys.models import (
    DeliverySettings,
    EmailTemplate,
    Journey,
    Message,
    MessageKind,
    MessageStatus,
    NewsletterStatus,
    Reentry,
    Trigger,
)
from publikum.journeys.tests.test_delivery import Sink, use_smtp
from publikum.journeys.triggers import enter

FOR_YOU = {"type": "for_you", "count": 3}
TEXT = {"type": "text", "markdown_de": "Schöne Grüße.", "markdown_en": "Kind regards."}
POPULAR_DE = "Wir kennen Ihre Interessen noch nicht"


@pytest.fixture(autouse=True)
def _fresh(settings: Any) -> Iterator[None]:
    # Fitted models and upcoming dates are kept in the process; every test has its own.
    settings.PUBLIC_URL = "https://publikum.example"
    discovery.cache_clear()
    caches_clear()
    yield
    discovery.cache_clear()
    caches_clear()


# --- data ------------------------------------------------------------------------------------


def subscribe(*contacts: Contact) -> None:
    for contact in contacts:
        consent_set(
            contact=contact, channel="email", purpose="newsletter", granted=True, source="test"
        )


def no_quiet_hours(organisation: Organisation) -> None:
    # The tests run at any hour, and may send a person more than the default cap.
    DeliverySettings.objects.create(
        organisation=organisation, quiet_start="00:00", quiet_end="00:00", cap_mails=0
    )


def letter_template(organisation: Organisation, blocks: list[dict[str, Any]]) -> EmailTemplate:
    return EmailTemplate.objects.create(
        organisation=organisation,
        name=f"Brief {EmailTemplate.objects.count() + 1}",
        kind=MessageKind.MARKETING,
        purpose="newsletter",
        subject_de="Für {{ contact.first_name }}",
        subject_en="For {{ contact.first_name }}",
        blocks=blocks,
    )


def subscribers(organisation: Organisation) -> Any:
    return segment_create(
        organisation=organisation,
        name=f"Abonnenten {EmailTemplate.objects.count()}",
        rules={"consent": {"channel": "email", "purpose": "newsletter"}},
    )


def newsletter_sent(organisation: Organisation, blocks: list[dict[str, Any]]) -> Any:
    """A newsletter scheduled now, queued and delivered in this process (no worker)."""
    letter = newsletters.newsletter_create(
        organisation=organisation,
        name="Dezember",
        template_id=letter_template(organisation, blocks).pk,
        segment_id=subscribers(organisation).pk,
    )
    newsletters.newsletter_schedule(newsletter=letter, at=None)
    newsletters.newsletter_queue(newsletter_id=letter.pk)
    messages_deliver()
    return letter


def html_of(mail: EmailMessage) -> str:
    body = mail.get_body(preferencelist=("html",))
    assert body is not None
    return str(body.get_content())  # type: ignore[attr-defined]


def text_of(mail: EmailMessage) -> str:
    body = mail.get_body(preferencelist=("plain",))
    assert body is not None
    return str(body.get_content())  # type: ignore[attr-defined]


def item_url(house: House, slug: str) -> str:
    path = reverse("public_item", kwargs={"org": house.organisation.slug, "slug": slug})
    return f"https://publikum.example{path}#date-{house.next_date[slug].pk}"


def followed_links(html: str) -> list[str]:
    """Where each tracked link of the mail leads, asked of the click-tracking view."""
    client = Client()
    targets = []
    for href in re.findall(r'href="([^"]+)"', html):
        url = unescape(href)
        if "/mail/click/" in url:
            response = client.get(url.removeprefix("https://publikum.example"))
            assert response.status_code == 302
            targets.append(response["Location"])
    return targets


def by_recipient(messages: list[Any]) -> dict[str, EmailMessage]:
    return {m.recipients[0]: m.message for m in messages}


# --- a newsletter, the whole way ---------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_newsletter_recommends_to_each_person_in_their_language_and_records_the_offers(
    keep_signal_handlers, organisation, smtp_server
):
    house = build_house(organisation)
    anna, ben, clara = (house.contacts[n] for n in ("Anna", "Ben", "Clara"))
    subscribe(anna, ben, clara)
    no_quiet_hours(organisation)
    letter = newsletters.newsletter_create(
        organisation=organisation,
        name="Dezember",
        template_id=letter_template(organisation, [TEXT, FOR_YOU]).pk,
        segment_id=subscribers(organisation).pk,
    )
    newsletters.newsletter_schedule(newsletter=letter, at=None)
    run_worker_burst()  # the queue job, then the delivery job it starts

    mails = by_recipient(smtp_server.messages)
    assert set(mails) == {anna.email, ben.email, clara.email}

    # Anna visited photography exhibitions and reads German.
    for part in (text_of(mails[anna.email]), html_of(mails[anna.email])):
        assert "Neue Fotografie aus Sachsen" in part
        assert "Weil Sie „Licht und Schatten“ besucht haben." in part
        assert "New Photography from Saxony" not in part
    # Ben only stated an interest in music, in English.
    for part in (text_of(mails[ben.email]), html_of(mails[ben.email])):
        assert "For you" in part
        assert "Jazz Night" in part
        assert "Because you are interested in Music." in part
    # Clara told nothing and has no history: a varied popular choice, and the mail says so.
    clara_text = text_of(mails[clara.email])
    assert "Neue Fotografie aus Sachsen" in clara_text
    assert POPULAR_DE in clara_text
    assert POPULAR_DE in html_of(mails[clara.email])

    # The titles link to the item's public page, through click tracking.
    assert item_url(house, "neue-fotografie") in followed_links(html_of(mails[anna.email]))
    assert item_url(house, "jazznacht") in followed_links(html_of(mails[ben.email]))

    # What each mail showed is recorded as offers, naming the mail.
    for contact in (anna, ben, clara):
        message = Message.objects.get(newsletter=letter, contact=contact)
        assert message.status == MessageStatus.SENT
        offers = Offer.objects.filter(contact=contact).order_by("rank")
        assert offers.exists()
        assert {o.channel for o in offers} == {"newsletter"}
        assert {o.message_id for o in offers} == {message.pk}
        assert [o.rank for o in offers] == list(range(1, len(offers) + 1))
        assert {o.horizon for o in offers} == {discovery.house_horizon(organisation=organisation)}
    anna_first = Offer.objects.get(contact=anna, rank=1)
    assert anna_first.item == house.upcoming["neue-fotografie"]
    assert anna_first.occurrence == house.next_date["neue-fotografie"]
    newsletters.newsletters_finish()
    letter.refresh_from_db()
    assert letter.status == NewsletterStatus.SENT


@pytest.mark.django_db
def test_with_no_programme_ahead_the_mail_goes_out_without_the_block(organisation, smtp_server):
    anna = contact_create(organisation=organisation, first_name="Anna", email="anna@example.org")
    subscribe(anna)
    no_quiet_hours(organisation)

    newsletter_sent(organisation, [TEXT, FOR_YOU])

    (mail,) = smtp_server.messages
    assert "Schöne Grüße." in mail.text
    assert "For you" not in mail.text
    assert "Für Sie" not in mail.text
    assert Message.objects.get().status == MessageStatus.SENT
    assert not Offer.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "failure",
    [RuntimeError("the model file is damaged"), ValidationFailed("No list for this contact.")],
)
def test_when_the_recommender_fails_the_mail_goes_out_without_the_block(
    organisation, smtp_server, monkeypatch, caplog, failure
):
    house = build_house(organisation)
    anna = house.contacts["Anna"]
    subscribe(anna)
    no_quiet_hours(organisation)

    def broken(**kwargs: Any) -> Any:
        raise failure

    # Fault injection: the recommender breaks, whatever the cause.
    monkeypatch.setattr(discovery, "recommendations_for", broken)
    newsletter_sent(organisation, [TEXT, FOR_YOU])

    (mail,) = smtp_server.messages
    assert "Schöne Grüße." in mail.text
    assert "Neue Fotografie aus Sachsen" not in mail.text
    assert Message.objects.get().status == MessageStatus.SENT
    assert not Offer.objects.exists()
    assert f"no recommendations for contact {anna.pk}" in caplog.text


# --- the journey step's horizon ---------------------------------------------------------------


def journey_with(organisation: Organisation, step: dict[str, Any]) -> Journey:
    journey = Journey.objects.create(
        organisation=organisation,
        name=f"Reise {Journey.objects.count() + 1}",
        trigger=Trigger.API,
        reentry=Reentry.ALWAYS,
        definition={"start": "mail", "steps": [{"id": "mail", "type": "email", **step}]},
    )
    journey_activate(journey=journey, now=timezone.now() - timedelta(minutes=1))
    return journey


@pytest.mark.django_db
def test_a_journey_steps_horizon_reaches_the_recommender(organisation, smtp_server):
    house = build_house(organisation)
    ben = house.contacts["Ben"]
    subscribe(ben)
    no_quiet_hours(organisation)
    template = letter_template(organisation, [FOR_YOU])
    familiar = journey_with(organisation, {"template": template.pk, "horizon": 0.0})
    widening = journey_with(organisation, {"template": template.pk, "horizon": 1.0})
    house_dial = journey_with(organisation, {"template": template.pk})
    for journey in (familiar, widening, house_dial):
        # A horizon that came in with the trigger's context is not the step's.
        assert enter(journey, ben, {"horizon": 0.9}, now=timezone.now()) is not None
    advance_due(now=timezone.now())
    messages_deliver()

    texts = {
        message.journey_id: message
        for message in Message.objects.filter(status=MessageStatus.SENT).select_related("journey")
    }
    assert texts[familiar.pk].context["horizon"] == 0.0
    assert texts[widening.pk].context["horizon"] == 1.0
    assert "horizon" not in texts[house_dial.pk].context
    mails = {str(m["Message-ID"]): m for m in (r.message for r in smtp_server.messages)}
    familiar_text = text_of(mails[texts[familiar.pk].message_id])
    widening_text = text_of(mails[texts[widening.pk].message_id])
    # Only the familiar: his music first; mostly new: what he has not shown interest in.
    assert "Jazz Night" in familiar_text
    assert "Jazz Night" not in widening_text
    assert "City History on Foot" in widening_text

    recorded = {
        journey.pk: set(
            Offer.objects.filter(message__journey=journey).values_list("horizon", "channel")
        )
        for journey in (familiar, widening, house_dial)
    }
    assert recorded[familiar.pk] == {(0.0, "journey")}
    assert recorded[widening.pk] == {(1.0, "journey")}
    house_horizon = discovery.house_horizon(organisation=organisation)
    assert recorded[house_dial.pk] == {(house_horizon, "journey")}


@pytest.mark.django_db
@pytest.mark.parametrize("horizon", [1.5, -0.1, "0.5", True, float("nan")])
def test_a_journey_step_refuses_a_horizon_outside_0_to_1(organisation, horizon):
    template = letter_template(organisation, [TEXT])
    # Not saved: NaN cannot even be stored; validation judges what an API call would send.
    journey = Journey(
        organisation=organisation,
        name="Reise",
        trigger=Trigger.API,
        definition={
            "start": "mail",
            "steps": [{"id": "mail", "type": "email", "template": template.pk, "horizon": horizon}],
        },
    )
    problems = [str(p) for p in journey_validate(journey)]
    assert len(problems) == 1
    assert "Step 'mail': the horizon is a number from 0" in problems[0]

    journey.definition["steps"][0]["horizon"] = 0.5
    assert journey_validate(journey) == []


@pytest.mark.django_db
def test_the_step_form_offers_the_horizon_and_shows_a_bad_one_at_its_field(
    organisation, owner_client
):
    template = letter_template(organisation, [TEXT])
    journey = Journey.objects.create(
        organisation=organisation,
        name="Reise",
        trigger="subscribed",
        definition={
            "start": "s1",
            "steps": [{"id": "s1", "type": "email", "template": template.pk}],
        },
    )
    edit = reverse(
        "journey_step_edit",
        kwargs={"org": organisation.slug, "journey_id": journey.pk, "step_id": "s1"},
    )
    page = owner_client.get(edit).content.decode()
    assert 'name="horizon"' in page
    assert "Leave empty to use the house&#x27;s setting." in page

    refused = owner_client.post(edit, {"template": template.pk, "horizon": "1.5"})
    page = refused.content.decode()
    assert refused.status_code == 400
    assert "less than or equal to 1" in page.split('id="id_horizon_error"')[1].split("</p>")[0]
    journey.refresh_from_db()
    assert "horizon" not in journey.definition["steps"][0]

    owner_client.post(edit, {"template": template.pk, "horizon": "0.7"})
    journey.refresh_from_db()
    assert journey.definition["steps"][0] == {
        "id": "s1", "type": "email", "template": template.pk, "horizon": 0.7
    }  # fmt: skip
    assert 'value="0.7"' in owner_client.get(edit).content.decode()

    # German staff type a decimal comma.
    owner_client.post(edit, {"template": template.pk, "horizon": "0,4"})
    journey.refresh_from_db()
    assert journey.definition["steps"][0]["horizon"] == 0.4

    owner_client.post(edit, {"template": template.pk, "horizon": ""})
    journey.refresh_from_db()
    assert "horizon" not in journey.definition["steps"][0]


# --- checking a template, the preview ---------------------------------------------------------


@pytest.mark.django_db
def test_template_problems_name_a_bad_count_and_horizon_at_the_block(organisation):
    template = letter_template(
        organisation,
        [
            TEXT,
            {"type": "for_you", "count": 0},
            {"type": "for_you", "count": "drei", "horizon": 1.5},
            {"type": "for_you", "horizon": "weit"},
            {"type": "for_you", "count": 6, "horizon": 0},
            {"type": "for_you", "count": 1, "horizon": 1, "heading_de": "Für Sie, {{ x }}"},
        ],
    )
    found = [(p.block, p.field, str(p)) for p in template_problems(template)]
    assert [(block, field) for block, field, _ in found] == [
        (1, "count"),
        (2, "count"),
        (2, "horizon"),
        (3, "horizon"),
        (5, "heading"),
        (5, "heading"),  # once per language: the English heading falls back to it
    ]
    assert (
        "Block 2, count, DE: the number of recommendations must be between 1 and 6" in found[0][2]
    )
    assert "the horizon must be a number from 0 (only the familiar) to 1" in found[2][2]
    assert "unknown variable “x”" in found[4][2]


@pytest.mark.django_db
def test_a_bad_count_or_horizon_does_not_stop_a_mail(organisation):
    house = build_house(organisation)
    template = letter_template(organisation, [{"type": "for_you", "count": 40, "horizon": 7}])
    mail = render_email(template, organisation=organisation, contact=house.contacts["Anna"])
    # The count is brought into range (at most 6; the house has 5 dates ahead).
    assert 1 <= len(mail.offers) <= 5
    assert "Neue Fotografie aus Sachsen" in mail.text


@pytest.mark.django_db
def test_check_and_preview_show_sample_cards_with_a_sample_reason(organisation):
    template = letter_template(organisation, [{"type": "for_you", "count": 2}])
    assert template_problems(template) == []
    empty = render_preview(template, language="de")
    assert "Beispielführung 1" in empty.text
    assert "Weil Sie „Beispielausstellung“ besucht haben." in empty.text
    assert "Neu für Sie: Fotografie." in empty.html

    build_house(organisation)
    caches_clear()
    english = render_preview(template, language="en")
    # The house's real upcoming dates, with sample reasons.
    assert "New Photography from Saxony" in english.text
    assert "Because you visited “Sample exhibition”." in english.text


@pytest.mark.django_db
def test_the_block_heading_and_the_mail_language(organisation):
    house = build_house(organisation)
    template = letter_template(
        organisation,
        [{"type": "for_you", "count": 2, "heading_de": "Ausgesucht für {{ contact.first_name }}"}],
    )
    template.subject_en = ""
    template.save()
    anna = render_email(template, organisation=organisation, contact=house.contacts["Anna"])
    assert "Ausgesucht für Anna\n" + "-" * len("Ausgesucht für Anna") in anna.text
    assert [o.rank for o in anna.offers] == [1, 2]
    # The template has no English: Ben gets the German mail, reasons in German too.
    ben = render_email(template, organisation=organisation, contact=house.contacts["Ben"])
    assert ben.language == "de"
    assert "Weil Sie sich für Musik interessieren." in ben.text


# --- no block, no offers; no send, no offers ----------------------------------------------------


@pytest.mark.django_db
def test_a_mail_without_the_block_records_no_offers_and_asks_discovery_nothing(
    organisation, smtp_server
):
    house = build_house(organisation)
    subscribe(house.contacts["Anna"])
    no_quiet_hours(organisation)

    with CaptureQueriesContext(connection) as queries:
        newsletter_sent(organisation, [TEXT])

    assert len(smtp_server.messages) == 1
    assert not Offer.objects.exists()
    assert not [q["sql"] for q in queries.captured_queries if "discovery_" in q["sql"]]


@pytest.mark.django_db
def test_a_mail_refused_or_suppressed_records_no_offers(organisation, settings):
    house = build_house(organisation)
    anna, ben, foto = (house.contacts[n] for n in ("Anna", "Ben", "Foto0"))
    subscribe(anna, ben, foto)
    no_quiet_hours(organisation)
    template = letter_template(organisation, [FOR_YOU])
    journey = journey_with(organisation, {"template": template.pk})
    for contact in (anna, ben, foto):
        enter(journey, contact, {}, now=timezone.now())
    advance_due(now=timezone.now())
    # Ben withdraws his consent before the mail is sent: the guardrail suppresses it.
    consent_set(contact=ben, channel="email", purpose="newsletter", granted=False, source="test")
    # The mail server refuses Anna's address for good (mails go out in id order).
    sink = Sink()
    sink.rcpt_replies.append("550 5.1.1 no such user")
    server = Controller(sink, hostname="127.0.0.1", port=free_port())
    server.start()
    try:
        use_smtp(settings, server.port)
        messages_deliver()
    finally:
        server.stop()

    status = dict(Message.objects.values_list("contact", "status"))
    assert status == {
        anna.pk: MessageStatus.FAILED,
        ben.pk: MessageStatus.SUPPRESSED,
        foto.pk: MessageStatus.SENT,
    }
    assert len(sink.messages) == 1
    assert set(Offer.objects.values_list("contact", flat=True)) == {foto.pk}


@pytest.mark.django_db
def test_the_template_page_previews_the_block_and_names_its_problems(organisation, owner_client):
    build_house(organisation)
    template = letter_template(organisation, [{"type": "for_you", "count": 9}])
    page = owner_client.get(
        reverse("template_edit", kwargs={"org": organisation.slug, "template_id": template.pk})
    ).content.decode()
    problems = page.split('data-testid="template-problems">')[1].split("</ul>")[0]
    assert "Block 1, count, DE: the number of recommendations must be between 1 and 6" in problems
    # The preview: the house's next dates with a sample reason, in both languages.
    previews = unescape(unescape(page))
    assert "Neue Fotografie aus Sachsen" in previews
    assert "Weil Sie „Beispielausstellung“ besucht haben." in previews
    assert "Because you visited “Sample exhibition”." in previews
