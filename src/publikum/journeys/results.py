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


def _booked_within_window(contact: str, since: str) -> Exists:
    """For the outer row: its contact (`contact`, a field path) booked in the
    `CONVERSION_DAYS` days from the moment in its field `since`."""
    window_end = ExpressionWrapper(
        OuterRef(since) + timedelta(days=CONVERSION_DAYS), output_field=DateTimeField()
    )
    return Exists(
        Interaction.objects.filter(
            contact_id=OuterRef(contact),
            kind=InteractionKind.BOOKING,
            occurred_at__gte=OuterRef(since),
            occurred_at__lte=window_end,
        )
    )


def converted(messages: QuerySet[Message]) -> QuerySet[Message]:
    """The sent messages of `messages` after which their contact booked in time."""
    return messages.filter(
        _booked_within_window("contact_id", "sent_at"),
        status=MessageStatus.SENT,
        contact__isnull=False,
    )


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
            hits = events.filter(_booked_within_window("run__contact_id", "at")).count()
        total = events.count()
        ways[way] = {"contacts": total, "hits": hits, "rate": hits / total if total else 0.0}
    leader = ""
    enough = min(ways["a"]["contacts"], ways["b"]["contacts"]) >= SPLIT_MIN_PER_WAY
    if enough and ways["a"]["rate"] != ways["b"]["rate"]:
        leader = "a" if ways["a"]["rate"] > ways["b"]["rate"] else "b"
    return {"metric": metric, "a": ways["a"], "b": ways["b"], "leader": leader}
