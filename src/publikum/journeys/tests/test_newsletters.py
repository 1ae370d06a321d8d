"""Newsletters: checked before anything is queued, queued once per contact even when the job
runs twice, sent through delivery's guardrails to a real SMTP server."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from conftest import run_worker_burst
from publikum.audience.segments import segment_create
from publikum.audience.services import consent_set, contact_create
from publikum.core.errors import Conflict, ValidationFailed
from publikum.journeys import newsletters
from publikum.journeys.models import (
    DeliverySettings,
    EmailTemplate,
    Message,
    MessageKind,
    MessageStatus,
    NewsletterStatus,
)

BLOCKS = [
    {"type": "heading", "text_de": "Neues aus dem Haus", "text_en": "News from the house"},
    {
        "type": "text",
        "markdown_de": "Hallo {{ contact.first_name }}, schön, dass Sie dabei sind.",
        "markdown_en": "Dear {{ contact.first_name }}, glad to have you with us.",
    },
]


def template(organisation, **overrides):
    fields = {
        "organisation": organisation,
        "name": "Monatsbrief",
        "kind": MessageKind.MARKETING,
        "purpose": "newsletter",
        "subject_de": "Monatsbrief für {{ contact.first_name }}",
        "subject_en": "Monthly letter for {{ contact.first_name }}",
        "blocks": BLOCKS,
    }
    return EmailTemplate.objects.create(**{**fields, **overrides})


def person(organisation, name, *, consent=True, language="de", email=None):
    contact = contact_create(
        organisation=organisation,
        first_name=name,
        last_name="Muster",
        email=email if email is not None else f"{name.lower()}@example.org",
        language=language,
    )
    if consent:
        consent_set(contact=contact, channel="email", purpose="newsletter", granted=True,
                    source="test")  # fmt: skip
    return contact


def everyone(organisation):
    return segment_create(organisation=organisation, name="Alle", rules={"all": []})


@pytest.mark.django_db
def test_a_newsletter_needs_a_marketing_template_and_a_segment_of_its_house(
    organisation, other_organisation
):
    ours = template(organisation)
    service = template(organisation, name="Service", kind=MessageKind.TRANSACTIONAL, purpose="")
    theirs = template(other_organisation)
    segment = everyone(organisation)

    with pytest.raises(ValidationFailed) as refused:
        newsletters.newsletter_create(
            organisation=organisation, name=" ", template_id=theirs.pk, segment_id=None
        )
    assert set(refused.value.fields) == {"name", "template", "segment"}
    with pytest.raises(ValidationFailed) as refused:
        newsletters.newsletter_create(
            organisation=organisation, name="Dez", template_id=service.pk, segment_id=segment.pk
        )
    assert "marketing" in refused.value.fields["template"][0]
    created = newsletters.newsletter_create(
        organisation=organisation, name="Dez", template_id=ours.pk, segment_id=segment.pk
    )
    assert created.status == NewsletterStatus.DRAFT


@pytest.mark.django_db
def test_scheduling_refuses_a_segment_matching_nobody_a_broken_template_and_the_past(
    organisation,
):
    segment = segment_create(
        organisation=organisation, name="Niemand", rules={"tag": "gibt-es-nicht"}
    )
    letter = newsletters.newsletter_create(
        organisation=organisation,
        name="Leer",
        template_id=template(organisation).pk,
        segment_id=segment.pk,
    )
    person(organisation, "Anna")
    with pytest.raises(ValidationFailed) as refused:
        newsletters.newsletter_schedule(newsletter=letter, at=None)
    assert "matches nobody" in refused.value.message

    broken = template(organisation, name="Kaputt", subject_de="Hallo {{ kontakt.vorname }}")
    letter = newsletters.newsletter_create(
        organisation=organisation,
        name="Kaputt",
        template_id=broken.pk,
        segment_id=everyone(organisation).pk,
    )
    with pytest.raises(ValidationFailed) as refused:
        newsletters.newsletter_schedule(newsletter=letter, at=None)
    assert "kontakt" in " ".join(refused.value.fields["template"])

    letter.template = template(organisation, name="Gut")
    letter.save()
    with pytest.raises(ValidationFailed):
        newsletters.newsletter_schedule(newsletter=letter, at=timezone.now() - timedelta(days=1))
    letter.refresh_from_db()
    assert letter.status == NewsletterStatus.DRAFT
    assert not Message.objects.exists()


@pytest.mark.django_db
def test_queueing_twice_or_resumed_queues_each_contact_once(organisation, monkeypatch):
    monkeypatch.setattr(newsletters, "BATCH", 2)
    monkeypatch.setattr(newsletters, "_kick_delivery", lambda: None)
    people = [person(organisation, name) for name in ("Anna", "Ben", "Cem", "Dora", "Emil")]
    person(organisation, "Ohne", email="")  # no address: nothing to queue
    letter = newsletters.newsletter_create(
        organisation=organisation,
        name="Dez",
        template_id=template(organisation).pk,
        segment_id=everyone(organisation).pk,
    )
    newsletters.newsletter_schedule(newsletter=letter, at=timezone.now() + timedelta(hours=1))
    assert newsletters.newsletter_queue(newsletter_id=letter.pk) == 0  # not due yet

    later = timezone.now() + timedelta(hours=2)
    # A worker that stopped after the first batch: the position is kept with the batch.
    letter.refresh_from_db()
    letter.status = NewsletterStatus.SENDING
    letter.save()
    assert newsletters._queue_batch(letter, later) == 2
    assert newsletters.newsletter_queue(newsletter_id=letter.pk, now=later) == 3
    assert newsletters.newsletter_queue(newsletter_id=letter.pk, now=later) == 0

    letter.refresh_from_db()
    assert letter.queued_all_at is not None
    assert letter.status == NewsletterStatus.SENDING  # until delivery is through
    keys = sorted(Message.objects.filter(newsletter=letter).values_list("key", flat=True))
    assert keys == sorted(f"newsletter:{letter.pk}:{p.pk}" for p in people)


@pytest.mark.django_db
def test_stopping_withdraws_what_is_not_sent(organisation, monkeypatch):
    monkeypatch.setattr(newsletters, "_kick_delivery", lambda: None)
    person(organisation, "Anna")
    letter = newsletters.newsletter_create(
        organisation=organisation,
        name="Dez",
        template_id=template(organisation).pk,
        segment_id=everyone(organisation).pk,
    )
    newsletters.newsletter_schedule(newsletter=letter, at=None)
    newsletters.newsletter_queue(newsletter_id=letter.pk)
    assert Message.objects.filter(newsletter=letter, status=MessageStatus.QUEUED).count() == 1
    newsletters.newsletter_cancel(newsletter=letter)
    assert not Message.objects.filter(newsletter=letter).exists()
    with pytest.raises(Conflict):
        newsletters.newsletter_schedule(newsletter=letter, at=None)


@pytest.mark.django_db(transaction=True)
def test_a_newsletter_reaches_those_who_consented_in_their_language(
    keep_signal_handlers, organisation, smtp_server
):
    # No quiet hours: the test may run at any time of day.
    DeliverySettings.objects.create(organisation=organisation, quiet_start="00:00",
                                    quiet_end="00:00")  # fmt: skip
    person(organisation, "Anna")
    person(organisation, "Bob", language="en")
    person(organisation, "Carla", consent=False)
    letter = newsletters.newsletter_create(
        organisation=organisation,
        name="Dez",
        template_id=template(organisation).pk,
        segment_id=everyone(organisation).pk,
    )
    newsletters.newsletter_schedule(newsletter=letter, at=None)
    run_worker_burst()

    newsletters.newsletters_finish()  # the periodic job's check, without waiting for it
    received = {m.recipients[0]: m for m in smtp_server.messages}
    assert set(received) == {"anna@example.org", "bob@example.org"}
    assert received["anna@example.org"].subject == "Monatsbrief für Anna"
    assert "schön, dass Sie dabei sind" in received["anna@example.org"].text
    assert received["bob@example.org"].subject == "Monthly letter for Bob"
    letter.refresh_from_db()
    assert letter.status == NewsletterStatus.SENT
    results = newsletters.newsletter_results(newsletter=letter)
    assert (results["sent"], results["suppressed"]) == (2, 1)
    carla = Message.objects.get(newsletter=letter, contact__first_name="Carla")
    assert carla.reason == "no_consent"


@pytest.mark.django_db
def test_a_segment_a_newsletter_sends_to_cannot_be_deleted(organisation):
    from publikum.audience.segments import segment_delete

    segment = everyone(organisation)
    newsletters.newsletter_create(
        organisation=organisation,
        name="Dez",
        template_id=template(organisation).pk,
        segment_id=segment.pk,
    )
    with pytest.raises(Conflict) as refused:
        segment_delete(segment=segment)
    assert "newsletter" in refused.value.message
    segment.refresh_from_db()  # still there


@pytest.mark.django_db
def test_a_booking_within_two_weeks_of_the_mail_counts_as_converted(organisation):
    from publikum.audience.services import interaction_record

    anna, bob, cem = (person(organisation, n) for n in ("Anna", "Ben", "Cem"))
    letter = newsletters.newsletter_create(
        organisation=organisation,
        name="Dez",
        template_id=template(organisation).pk,
        segment_id=everyone(organisation).pk,
    )
    sent_at = timezone.now() - timedelta(days=30)
    for contact in (anna, bob, cem):
        Message.objects.create(
            organisation=organisation, contact=contact, key=f"n:{contact.pk}",
            kind="marketing", purpose="newsletter", newsletter=letter, created_at=sent_at,
            due_at=sent_at, status=MessageStatus.SENT, sent_at=sent_at,
        )  # fmt: skip
    interaction_record(contact=anna, kind="booking", occurred_at=sent_at + timedelta(days=3))
    interaction_record(contact=bob, kind="booking", occurred_at=sent_at + timedelta(days=20))
    interaction_record(contact=cem, kind="visit", occurred_at=sent_at + timedelta(days=1))

    assert newsletters.newsletter_results(newsletter=letter)["converted"] == 1
