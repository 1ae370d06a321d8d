"""The demo's journeys: the six ready-made journeys switched on, some people already on them.

The date-based journeys (reminder two days before a booked date, thank-you the day after a
visit, birthday) find their people themselves: the worker's scans pick up the demo's
bookings, yesterday's check-ins and today's birthdays when `make demo` starts it. The
event-based ones get a few entries here, as the events would have made them: recent
subscriptions (welcome series) and the stage changes of the last recompute (win-back,
preview invitation). Their mails reach the demo's Outbox within seconds of the start.
Also a newsletter draft, ready to send to a segment.
"""

from __future__ import annotations

import random
from datetime import datetime, time
from typing import IO, Any

from django.db import transaction

from publikum.audience.models import Contact, LifecycleChange, Segment
from publikum.audience.segments import segment_create
from publikum.core.models import Organisation
from publikum.journeys import library, triggers
from publikum.journeys.models import DeliverySettings, EmailTemplate, MessageKind, Newsletter

WELCOME_PEOPLE = 12
SEGMENT_NAME = "Newsletter: Fotografie"
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
    {"type": "events", "title_de": "Für Sie ausgesucht", "title_en": "Picked for you",
     "limit": 4, "match_interests": True},
    {"type": "text",
     "markdown_de": "Haben Sie eine Idee für das nächste Jahr? **Antworten Sie einfach** "
                    "auf diese Mail.",
     "markdown_en": "Do you have an idea for next year? **Just reply** to this e-mail."},
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
    if stdout is not None:
        stdout.write(
            f"  journeys: {len(library.library_keys())} ready-made journeys on, "
            f"{entered} people entered\n"
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
