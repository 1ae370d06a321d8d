"""Reads of the inbox: the list staff work through, and its figures."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import (
    BooleanField,
    Case,
    Exists,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Substr
from django.utils import timezone

from publikum.conversations.models import (
    Author,
    Conversation,
    ConversationChannel,
    ConversationStatus,
    Message,
)
from publikum.conversations.services import inbox_settings_of
from publikum.core.models import Organisation, User

# The list's status filter: the statuses staff work on by default, and the others.
STATUS_FILTERS: dict[str, tuple[str, ...]] = {
    "": (ConversationStatus.OPEN, ConversationStatus.WAITING),
    "open": (ConversationStatus.OPEN,),
    "waiting": (ConversationStatus.WAITING,),
    "assistant": (ConversationStatus.ASSISTANT,),
    "done": (ConversationStatus.DONE,),
    "all": tuple(ConversationStatus.values),
}
PREVIEW_CHARS = 160


def overdue_since(organisation: Organisation, now: datetime | None = None) -> datetime:
    """A conversation waiting for a person since before this instant is overdue."""
    hours = inbox_settings_of(organisation).overdue_hours
    return (now or timezone.now()) - timedelta(hours=hours)


def overdue_q(threshold: datetime) -> Q:
    return Q(
        status__in=(ConversationStatus.OPEN, ConversationStatus.WAITING),
        awaiting_since__isnull=False,
        awaiting_since__lt=threshold,
    )


def conversation_list(
    *,
    organisation: Organisation,
    status: str = "",
    assigned: str = "",
    user: User | None = None,
    channel: str = "",
    now: datetime | None = None,
) -> QuerySet[Conversation]:
    """The inbox: overdue first (marked `is_overdue`), then the longest waiting, then the
    most recent. `assigned`: "me" (with `user`), "unassigned" or "" (everyone's)."""
    conversations = Conversation.objects.filter(
        organisation=organisation, status__in=STATUS_FILTERS.get(status, STATUS_FILTERS[""])
    )
    if assigned == "me" and user is not None:
        conversations = conversations.filter(assigned_to=user)
    elif assigned == "unassigned":
        conversations = conversations.filter(assigned_to__isnull=True)
    if channel in ConversationChannel.values:
        conversations = conversations.filter(channel=channel)
    last_visitor = Message.objects.filter(
        conversation=OuterRef("pk"), author=Author.VISITOR
    ).order_by("-created_at", "-pk")
    return (
        conversations.select_related("assigned_to", "contact")
        .annotate(
            is_overdue=Case(
                When(overdue_q(overdue_since(organisation, now)), then=Value(True)),
                default=Value(False),
                output_field=BooleanField(),
            ),
            preview=Substr(Subquery(last_visitor.values("text")[:1]), 1, PREVIEW_CHARS),
        )
        .order_by(
            F("is_overdue").desc(),
            F("awaiting_since").asc(nulls_last=True),
            F("last_message_at").desc(),
            "-pk",
        )
    )


def conversation_of(*, organisation: Organisation, conversation_id: int) -> Conversation | None:
    return (
        Conversation.objects.select_related("organisation", "assigned_to", "contact")
        .filter(organisation=organisation, pk=conversation_id)
        .first()
    )


# --- figures ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class InboxFigures:
    days: int
    assistant_conversations: int
    handed_over: int
    resolved_by_assistant: int
    # Shares 0..1; None when there was no conversation with the assistant.
    handover_rate: float | None
    resolution_rate: float | None
    # Seconds from the moment a person was needed to the first staff reply.
    responses: int
    first_response_median: float | None
    first_response_p90: float | None
    open: int
    waiting: int
    overdue: int


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def percentile(values: list[float], share: float) -> float | None:
    """Nearest-rank percentile: the smallest value at least `share` of all are at or below."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def inbox_figures(
    organisation: Organisation, *, days: int = 30, now: datetime | None = None
) -> InboxFigures:
    """Conversations that started in the last `days` days; open, waiting and overdue now.

    - hand-over rate: assistant conversations handed over / assistant conversations;
    - resolution without hand-over: assistant conversations in which the visitor wrote at
      least once and that were never handed over / assistant conversations;
    - first-response time: from the hand-over (or the first message, for mail and the
      contact form) to the first staff reply, over conversations that needed a person.
    """
    now = now or timezone.now()
    started = Conversation.objects.filter(
        organisation=organisation, created_at__gte=now - timedelta(days=days)
    )
    assistant = started.filter(channel=ConversationChannel.ASSISTANT)
    total = assistant.count()
    handed = assistant.filter(handed_over_at__isnull=False).count()
    visitor_wrote = Exists(
        Message.objects.filter(conversation=OuterRef("pk"), author=Author.VISITOR)
    )
    resolved = assistant.filter(visitor_wrote, handed_over_at__isnull=True).count()
    needed = started.filter(first_response_at__isnull=False).filter(
        Q(handed_over_at__isnull=False) | ~Q(channel=ConversationChannel.ASSISTANT)
    )
    durations = [
        max(0.0, (answered - (handed or created)).total_seconds())
        for answered, handed, created in needed.values_list(
            "first_response_at", "handed_over_at", "created_at"
        )
        if answered is not None
    ]
    current = Conversation.objects.filter(organisation=organisation)
    return InboxFigures(
        days=days,
        assistant_conversations=total,
        handed_over=handed,
        resolved_by_assistant=resolved,
        handover_rate=_share(handed, total),
        resolution_rate=_share(resolved, total),
        responses=len(durations),
        first_response_median=statistics.median(durations) if durations else None,
        first_response_p90=percentile(durations, 0.9),
        open=current.filter(status=ConversationStatus.OPEN).count(),
        waiting=current.filter(status=ConversationStatus.WAITING).count(),
        overdue=current.filter(overdue_q(overdue_since(organisation, now))).count(),
    )


def duration_text(seconds: float | None) -> str:
    """ "2 h 05 min", "12 min", "3 d 4 h": short and the same in German and English."""
    if seconds is None:
        return "—"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes:02d} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"
