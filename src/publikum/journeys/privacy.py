"""What journeys keep about a person, for the export and the erasure of one contact.

Erasure keeps the figures (a message was sent at this step, a run went this way) and
removes what identifies the person: the address and the subject a mail went out with (it
may carry the first name), the context of runs and messages (booking ids), and the team's
tasks about them. Waiting runs leave their journeys, queued mails are withdrawn.
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from publikum.audience.models import Contact
from publikum.audience.privacy import register_personal_data
from publikum.journeys.models import (
    JourneyRun,
    Message,
    MessageStatus,
    RunStatus,
    StaffTask,
    SuppressionReason,
)


def export_journeys(contact: Contact) -> dict[str, Any]:
    messages = Message.objects.filter(contact=contact).select_related("journey", "newsletter")
    runs = JourneyRun.objects.filter(contact=contact).select_related("journey")
    tasks = StaffTask.objects.filter(contact=contact)
    return {
        "messages": [
            {
                "kind": m.kind,
                "purpose": m.purpose,
                "journey": m.journey.name if m.journey else None,
                "newsletter": m.newsletter.name if m.newsletter else None,
                "status": m.status,
                "reason": m.reason,
                "to": m.to_email,
                "subject": m.subject,
                "language": m.language,
                "created_at": m.created_at.isoformat(),
                "sent_at": m.sent_at.isoformat() if m.sent_at else None,
                "clicked_at": m.clicked_at.isoformat() if m.clicked_at else None,
            }
            for m in messages.order_by("pk")
        ],
        "journeys": [
            {
                "journey": r.journey.name,
                "entered_at": r.entered_at.isoformat(),
                "status": r.status,
                "step": r.step_id,
                "due_at": r.due_at.isoformat() if r.due_at else None,
            }
            for r in runs.order_by("pk")
        ],
        "tasks": [
            {"title": t.title, "status": t.status, "created_at": t.created_at.isoformat()}
            for t in tasks.order_by("pk")
        ],
    }


def erase_journeys(contact: Contact) -> None:
    now = timezone.now()
    Message.objects.filter(
        contact=contact, status__in=[MessageStatus.QUEUED, MessageStatus.SENDING]
    ).update(status=MessageStatus.SUPPRESSED, reason=SuppressionReason.ERASED, claim=None)
    Message.objects.filter(contact=contact).update(to_email="", subject="", context={})
    JourneyRun.objects.filter(contact=contact, status=RunStatus.WAITING).update(
        status=RunStatus.EXITED, finished_at=now, due_at=None
    )
    JourneyRun.objects.filter(contact=contact).update(context={}, error="")
    StaffTask.objects.filter(contact=contact).delete()


register_personal_data("journeys", export=export_journeys, erase=erase_journeys)
