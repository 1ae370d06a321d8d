"""Background jobs of the inbox: announcing overdue conversations, deleting old ones."""

from __future__ import annotations

import logging
from datetime import timedelta

from publikum.core.jobs import job, periodic

logger = logging.getLogger("publikum.conversations")


@periodic("conversations.overdue", every=timedelta(minutes=5))
@job(queue_name="periodic")
def overdue_notify() -> int:
    """Mail each organisation's notify address once per conversation that has waited
    longer than its overdue time; returns how many mails went out. Safe to run twice: a
    conversation is claimed (`overdue_notified_at`) before its mail is sent."""
    from django.utils import timezone

    from publikum.conversations import mails
    from publikum.conversations.models import Conversation, InboxSettings
    from publikum.conversations.selectors import overdue_q

    now = timezone.now()
    sent = 0
    for inbox in InboxSettings.objects.exclude(notify_email="").select_related("organisation"):
        threshold = now - timedelta(hours=inbox.overdue_hours)
        due = Conversation.objects.filter(
            overdue_q(threshold), organisation=inbox.organisation, overdue_notified_at__isnull=True
        ).select_related("organisation")
        for conversation in due.order_by("awaiting_since", "pk")[:200]:
            claimed = Conversation.objects.filter(
                pk=conversation.pk, overdue_notified_at__isnull=True
            ).update(overdue_notified_at=now)
            if not claimed:
                continue
            try:
                mails.send_overdue_notice(
                    conversation=conversation, to=inbox.notify_email, hours=inbox.overdue_hours
                )
            except Exception:
                # Unclaim, so that the next run tells it again; the other organisations'
                # notices still go out.
                logger.exception(
                    "overdue notice of conversation %s to %s not sent",
                    conversation.pk,
                    inbox.notify_email,
                )
                Conversation.objects.filter(pk=conversation.pk).update(overdue_notified_at=None)
                break  # this address fails now: try its other conversations next time
            sent += 1
    return sent


@periodic("conversations.retention", every=timedelta(days=1))
@job(queue_name="periodic")
def conversations_purge() -> int:
    """Delete conversations whose last message is older than RETENTION_DAYS; their entries
    on contacts' timelines stay (that there was a conversation) without its subject."""
    from django.db import transaction
    from django.utils import timezone

    from publikum.audience.models import Interaction, InteractionKind
    from publikum.conversations.models import RETENTION_DAYS, Conversation

    cutoff = timezone.now() - timedelta(days=RETENTION_DAYS)
    old = Conversation.objects.filter(last_message_at__lt=cutoff)
    ids = list(old.values_list("pk", flat=True))
    deleted = 0
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        with transaction.atomic():
            # The subject is the visitor's words: it must not outlive the conversation.
            Interaction.objects.filter(
                kind=InteractionKind.MESSAGE, data__conversation__in=chunk
            ).update(summary="", data={})
            deleted += Conversation.objects.filter(pk__in=chunk).delete()[0]
    if deleted:
        logger.info("deleted %s conversation rows older than %s days", deleted, RETENTION_DAYS)
    return int(deleted)
