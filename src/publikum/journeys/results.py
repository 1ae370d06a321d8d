"""Results of journeys and newsletters: what the mails led to.

A sent mail counts as **converted** when its contact booked within `CONVERSION_DAYS` days
after it was sent (a booking on the contact's timeline, whichever way it was made). This
is attribution by time, not proof of cause: docs/journeys.md says how to read it.
"""

from __future__ import annotations

from datetime import timedelta

from django.db.models import DateTimeField, Exists, ExpressionWrapper, OuterRef, QuerySet

from publikum.audience.models import Interaction, InteractionKind
from publikum.journeys.models import Journey, Message, MessageStatus, StepEvent

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


# Contacts a way of an A/B split needs before the page names a leader.
SPLIT_MIN_PER_WAY = 30


def split_results(journey: Journey, step: dict[str, object]) -> dict[str, object]:
    """The two ways of an A/B split step, compared by the step's metric.

    `clicked`: the share of contacts on a way who clicked a link in a mail of this journey
    after the split; `booked` (default): the share who booked within `CONVERSION_DAYS` days
    after the split. The leader is named only when both ways have `SPLIT_MIN_PER_WAY`
    contacts; below that the difference says nothing.
    """
    metric = "clicked" if step.get("metric") == "clicked" else "booked"
    ways: dict[str, dict[str, float]] = {}
    for way in ("a", "b"):
        events = StepEvent.objects.filter(
            journey=journey, step_id=str(step.get("id")), event=f"split_{way}"
        )
        if metric == "clicked":
            clicked = Message.objects.filter(
                run_id=OuterRef("run_id"), clicked_at__isnull=False, sent_at__gte=OuterRef("at")
            )
            hits = events.filter(Exists(clicked)).count()
        else:
            window_end = ExpressionWrapper(
                OuterRef("at") + timedelta(days=CONVERSION_DAYS), output_field=DateTimeField()
            )
            booked = Interaction.objects.filter(
                contact_id=OuterRef("run__contact_id"),
                kind=InteractionKind.BOOKING,
                occurred_at__gte=OuterRef("at"),
                occurred_at__lte=window_end,
            )
            hits = events.filter(Exists(booked)).count()
        total = events.count()
        ways[way] = {"contacts": total, "hits": hits, "rate": hits / total if total else 0.0}
    leader = ""
    enough = min(ways["a"]["contacts"], ways["b"]["contacts"]) >= SPLIT_MIN_PER_WAY
    if enough and ways["a"]["rate"] != ways["b"]["rate"]:
        leader = "a" if ways["a"]["rate"] > ways["b"]["rate"] else "b"
    return {"metric": metric, "a": ways["a"], "b": ways["b"], "leader": leader}
