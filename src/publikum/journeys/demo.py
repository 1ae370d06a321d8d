"""The demo's journeys: the six ready-made journeys switched on, some people already on them.

The date-based journeys (reminder two days before a booked date, thank-you the day after a
visit, birthday) find their people themselves: the worker's scans pick up the demo's
bookings, yesterday's check-ins and today's birthdays when `make demo` starts it. The
event-based ones get a few entries here, as the events would have made them: recent
subscriptions (welcome series) and the stage changes of the last recompute (win-back,
preview invitation). Their mails reach the demo's Outbox within seconds of the start.
Also two newsletters with a personalised "For you" block (recommendations from discovery
with the reason for each): the December letter as a draft, ready to send to a segment, and
a letter to the volunteers that is sent at the start like the journeys' mails, through the
real queue and delivery, so that the Outbox shows personal recommendations and their
offers reach the filter-bubble meter.
"""

from __future__ import annotations

import random
from datetime import datetime, time
from typing import IO, Any

from django.db import transaction

from publikum.audience.models import Contact, LifecycleChange, Segment
from publikum.audience.segments import segment_count, segment_create
from publikum.core.models import Organisation
from publikum.journeys import library, triggers
from publikum.journeys.models import DeliverySettings, EmailTemplate, MessageKind, Newsletter
from publikum.journeys.newsletters import newsletter_schedule

WELCOME_PEOPLE = 12
SEGMENT_NAME = "Newsletter: Fotografie"
# The letter sent at the start goes to a small segment (about 90 people in the default
# demo): enough to show, quick to send.
SENT_SEGMENT_NAME = "Newsletter: Ehrenamt"
SENT_NAME = "Post für unsere Ehrenamtlichen"
MOVES_PER_JOURNEY = 6

NEWSLETTER_BLOCKS: list[dict[str, Any]] = [
    {"type": "heading", "text_de": "Was im Dezember bei uns los ist",
     "text_en": "What is on in December"},
    {"type": "personal",
     "markdown_de": "{% if contact.first_name %}Hallo {{ contact.first_name }},{% else %}"
                    "Hallo,{% endif %}\n\nder Winter ist die Zeit der langen Abende im "
                    "Museum. Hier ist, was wir für Sie ausgesucht haben.",
     "markdown_en": "{% if contact.first_name %}Dear {{ contact.first_name }},{% else %}"
                    "Hello,{% endif %}\n\nwinter is the season of long evenings at the "
                    "museum. Here is what we picked for you."},
    {"type": "for_you", "heading_de": "Für Sie ausgesucht", "heading_en": "Picked for you",
     "count": 4},
    {"type": "text",
     "markdown_de": "Haben Sie eine Idee für das nächste Jahr? **Antworten Sie einfach** "
                    "auf diese Mail.",
     "markdown_en": "Do you have an idea for next year? **Just reply** to this e-mail."},
]  # fmt: skip

SENT_BLOCKS: list[dict[str, Any]] = [
    {"type": "heading", "text_de": "Danke für Ihre Zeit bei uns",
     "text_en": "Thank you for your time with us"},
    {"type": "personal",
     "markdown_de": "{% if contact.first_name %}Hallo {{ contact.first_name }},"
                    "{% else %}Hallo,{% endif %}\n\nohne unsere Ehrenamtlichen wäre das "
                    "Museum ärmer. Als kleines Dankeschön: was im Programm zu Ihnen passt, "
                    "und etwas, das Sie vielleicht noch nicht kennen.",
     "markdown_en": "{% if contact.first_name %}Dear {{ contact.first_name }},"
                    "{% else %}Hello,{% endif %}\n\nthe museum would be poorer without its "
                    "volunteers. As a small thank-you: what in our programme suits you, and "
                    "something you may not know yet."},
    {"type": "for_you", "heading_de": "Für Sie", "heading_en": "For you", "count": 3,
     "horizon": 0.5},
    {"type": "text",
     "markdown_de": "Für Ehrenamtliche ist der Eintritt frei; zeigen Sie einfach Ihren "
                    "Ausweis an der Kasse.",
     "markdown_en": "Admission is free for volunteers: just show your card at the desk."},
]  # fmt: skip


def _consented(organisation: Organisation, purpose: str) -> Any:
    return Contact.objects.filter(
        organisation=organisation,
        erased_at__isnull=True,
        consents__channel="email",
        consents__purpose=purpose,
        consents__granted=True,
    ).exclude(email="")


def populate(
    *,
    organisation: Organisation,
    rng: random.Random,
    now: datetime,
    contacts: int,
    stdout: IO[str] | Any | None,
) -> None:
    """Switch on the ready-made journeys and let a few people enter them."""
    # The demo shows its mails at any hour: no quiet hours here (the default is 21-08).
    DeliverySettings.objects.update_or_create(
        organisation=organisation, defaults={"quiet_start": time(0), "quiet_end": time(0)}
    )
    for key in library.library_keys():
        library.library_install(organisation=organisation, key=key, activate=True)
    picker = random.Random(rng.getrandbits(64))
    entered = 0
    with transaction.atomic():
        newsletter_ids = list(_consented(organisation, "newsletter").values_list("pk", flat=True))
        for contact in Contact.objects.filter(
            pk__in=picker.sample(newsletter_ids, min(WELCOME_PEOPLE, len(newsletter_ids)))
        ).order_by("pk"):
            entered += len(
                triggers.trigger(
                    organisation,
                    "subscribed",
                    contact,
                    {"purposes": ["newsletter"], "cause": "demo"},
                )
            )
        for old, new in (("loyal", "lapsing"), ("regular", "loyal")):
            moves = LifecycleChange.objects.filter(
                organisation=organisation, from_stage=old, to_stage=new
            ).order_by("-changed_at", "pk")[:MOVES_PER_JOURNEY]
            for move in moves:
                mover = Contact.objects.filter(pk=move.contact_id).first()
                if mover is None:
                    continue
                context = {"cause": f"change:{move.pk}", "change": move.pk, "from": old, "to": new}
                entered += len(triggers.trigger(organisation, "stage_changed", mover, context))
        _newsletter_draft(organisation)
        sent_to = _newsletter_sent(organisation)
    if stdout is not None:
        stdout.write(
            f"  journeys: {len(library.library_keys())} ready-made journeys on, "
            f"{entered} people entered; a newsletter with recommendations goes to "
            f"{sent_to} people at the start\n"
        )


def _newsletter_draft(organisation: Organisation) -> None:
    template, _created = EmailTemplate.objects.get_or_create(
        organisation=organisation,
        name="Monatsbrief Dezember",
        defaults={
            "kind": MessageKind.MARKETING,
            "purpose": "newsletter",
            "subject_de": "Lange Abende im Museum: der Dezember",
            "subject_en": "Long evenings at the museum: December",
            "preheader_de": "Ausgewählt nach Ihren Interessen.",
            "preheader_en": "Picked by your interests.",
            "blocks": NEWSLETTER_BLOCKS,
        },
    )
    segment = Segment.objects.filter(organisation=organisation, name=SEGMENT_NAME).first()
    if segment is None:
        segment = segment_create(
            organisation=organisation,
            name=SEGMENT_NAME,
            description="Alle, die den Newsletter abonniert haben und Fotografie mögen.",
            rules={
                "all": [
                    {"consent": {"channel": "email", "purpose": "newsletter"}},
                    {"interest": "fotografie"},
                ]
            },
        )
    Newsletter.objects.get_or_create(
        organisation=organisation,
        name="Monatsbrief Dezember",
        defaults={"template": template, "segment": segment},
    )


def _newsletter_sent(organisation: Organisation) -> int:
    """The volunteers' letter, sent now: the worker queues it and delivery sends it (after
    the demo's transaction commits, like the journeys' mails). Returns the segment's size."""
    template, _created = EmailTemplate.objects.get_or_create(
        organisation=organisation,
        name=SENT_NAME,
        defaults={
            "kind": MessageKind.MARKETING,
            "purpose": "newsletter",
            "subject_de": "Danke! Und was im Programm zu Ihnen passt",
            "subject_en": "Thank you! And what in our programme suits you",
            "preheader_de": "Für Sie ausgesucht, mit dem Grund für jede Empfehlung.",
            "preheader_en": "Picked for you, with the reason for each.",
            "blocks": SENT_BLOCKS,
        },
    )
    segment = Segment.objects.filter(organisation=organisation, name=SENT_SEGMENT_NAME).first()
    if segment is None:
        segment = segment_create(
            organisation=organisation,
            name=SENT_SEGMENT_NAME,
            description="Ehrenamtliche, die den Newsletter abonniert haben.",
            rules={
                "all": [
                    {"consent": {"channel": "email", "purpose": "newsletter"}},
                    {"tag": "Ehrenamt"},
                ]
            },
        )
    size = segment_count(segment=segment)
    newsletter, created = Newsletter.objects.get_or_create(
        organisation=organisation,
        name=SENT_NAME,
        defaults={"template": template, "segment": segment},
    )
    if created and size:
        newsletter_schedule(newsletter=newsletter, at=None)
    return size
