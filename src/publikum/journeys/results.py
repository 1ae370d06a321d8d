"""Results of journeys and newsletters: what the mails led to.

A sent mail counts as **converted** when its contact booked within `CONVERSION_DAYS` days
after it was sent (a booking on the contact's timeline, whichever way it was made). This
is attribution by time, not proof of cause: docs/journeys.md says how to read it.
"""

from __future__ import annotations

from datetime import timedelta

from django.db.models import DateTimeField, Exists, ExpressionWrapper, OuterRef, QuerySet

from publikum.audience.models import Interaction, InteractionKind
from publikum.journeys.models import Message, MessageStatus

CONVERSION_DAYS = 14


def converted(messages: QuerySet[Message]) -> QuerySet[Message]:
    """The sent messages of `messages` after which their contact booked in time."""
    window_end = ExpressionWrapper(
        OuterRef("sent_at") + timedelta(days=CONVERSION_DAYS), output_field=DateTimeField()
    )
    booked = Interaction.objects.filter(
        contact_id=OuterRef("contact_id"),
        kind=InteractionKind.BOOKING,
        occurred_at__gte=OuterRef("sent_at"),
        occurred_at__lte=window_end,
    )
    return messages.filter(Exists(booked), status=MessageStatus.SENT, contact__isnull=False)


def conversions_by_step(messages: QuerySet[Message]) -> dict[str, int]:
    """Converted mails per journey step id."""
    counts: dict[str, int] = {}
    for step_id in converted(messages).values_list("step_id", flat=True):
        counts[step_id] = counts.get(step_id, 0) + 1
    return counts


def conversions(messages: QuerySet[Message]) -> int:
    return converted(messages).count()
