"""Newsletters: one mail to the contacts of a segment, now or at a set time.

Queueing is a background job that walks the segment's contacts in id order (keyset, 1,000
at a time) and inserts one `Message` per contact with the key
`newsletter:<newsletter id>:<contact id>`. Each batch and the position reached
(`queued_up_to`) are written in one transaction, so a job killed half-way resumes where it
stopped and never queues a contact twice (the unique key is the final guard). Delivery then
sends the messages with its guardrails: consent, suppression, frequency cap, quiet hours
(docs/delivery.md). Memory stays bounded: a batch of ids at a time, never the whole segment.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from publikum.audience import segments as segment_rules
from publikum.audience.models import Segment
from publikum.core.errors import Conflict, ValidationFailed
from publikum.core.jobs import job, on_commit_enqueue, periodic
from publikum.core.models import Organisation, User
from publikum.core.services import audit_log
from publikum.journeys.models import (
    EmailTemplate,
    Message,
    MessageKind,
    MessageStatus,
    Newsletter,
    NewsletterStatus,
)

BATCH = 1000


def _check(
    organisation: Organisation, name: str, template_id: int | None, segment_id: int | None
) -> tuple[EmailTemplate, Segment]:
    errors: dict[str, list[str]] = {}
    if not name.strip():
        errors["name"] = [_("Give the newsletter a name.")]
    template = EmailTemplate.objects.filter(organisation=organisation, pk=template_id or 0).first()
    if template is None:
        errors["template"] = [_("Choose one of your mail templates.")]
    elif template.kind != MessageKind.MARKETING or not template.purpose:
        errors["template"] = [_("A newsletter needs a marketing template with a consent purpose.")]
    segment = Segment.objects.filter(organisation=organisation, pk=segment_id or 0).first()
    if segment is None:
        errors["segment"] = [_("Choose one of your segments.")]
    if errors or template is None or segment is None:
        raise ValidationFailed(_("The newsletter cannot be saved."), fields=errors)
    return template, segment


def newsletter_create(
    *,
    organisation: Organisation,
    name: str,
    template_id: int | None,
    segment_id: int | None,
    actor: User | None = None,
) -> Newsletter:
    template, segment = _check(organisation, name, template_id, segment_id)
    newsletter = Newsletter.objects.create(
        organisation=organisation, name=name.strip()[:200], template=template, segment=segment
    )
    audit_log(organisation, "journeys.newsletter.created", actor=actor, data={"id": newsletter.pk})
    return newsletter


def _ready_to_send(newsletter: Newsletter) -> None:
    """Everything that must hold before anything is queued: a template that renders in both
    languages and a segment that matches somebody."""
    from publikum.journeys.content import template_problems

    problems = template_problems(newsletter.template)
    if problems:
        raise ValidationFailed(
            _("The template has problems: %(first)s") % {"first": problems[0]},
            fields={"template": [str(p) for p in problems]},
        )
    if newsletter.segment is None or segment_rules.segment_count(segment=newsletter.segment) == 0:
        raise ValidationFailed(
            _("The segment matches nobody at the moment: there is no one to send to."),
            fields={"segment": [_("The segment matches nobody.")]},
        )


def newsletter_schedule(
    *, newsletter: Newsletter, at: datetime | None, actor: User | None = None
) -> Newsletter:
    """Send at `at` (None: now). Only drafts and scheduled newsletters can be (re)scheduled."""
    now = timezone.now()
    with transaction.atomic():
        locked = Newsletter.objects.select_for_update().get(pk=newsletter.pk)
        if locked.status not in {NewsletterStatus.DRAFT, NewsletterStatus.SCHEDULED}:
            raise Conflict(_("This newsletter is already being sent or was sent."))
        if at is not None and at < now - timedelta(minutes=1):
            raise ValidationFailed(
                _("The time lies in the past."), fields={"scheduled_at": [_("In the past.")]}
            )
        _ready_to_send(locked)
        locked.status = NewsletterStatus.SCHEDULED
        locked.scheduled_at = at or now
        locked.save(update_fields=["status", "scheduled_at"])
        audit_log(
            locked.organisation,
            "journeys.newsletter.scheduled",
            actor=actor,
            data={"id": locked.pk, "at": locked.scheduled_at.isoformat()},
        )
        if locked.scheduled_at <= now:
            on_commit_enqueue(
                newsletter_queue_job, locked.pk, organisation_id=locked.organisation_id
            )
    return locked


def newsletter_cancel(*, newsletter: Newsletter, actor: User | None = None) -> Newsletter:
    """Stop a scheduled or running newsletter; messages not yet sent are withdrawn."""
    with transaction.atomic():
        locked = Newsletter.objects.select_for_update().get(pk=newsletter.pk)
        if locked.status in {NewsletterStatus.SENT, NewsletterStatus.CANCELLED}:
            raise Conflict(_("This newsletter has already finished."))
        locked.status = NewsletterStatus.CANCELLED
        locked.finished_at = timezone.now()
        locked.save(update_fields=["status", "finished_at"])
        Message.objects.filter(newsletter=locked, status=MessageStatus.QUEUED).delete()
        audit_log(locked.organisation, "journeys.newsletter.cancelled", actor=actor,
                  data={"id": locked.pk})  # fmt: skip
    return locked


def _queue_batch(newsletter: Newsletter, now: datetime) -> int:
    """Queue the next batch; returns how many contacts it covered (0: done)."""
    with transaction.atomic():
        locked = Newsletter.objects.select_for_update().get(pk=newsletter.pk)
        if (
            locked.status != NewsletterStatus.SENDING
            or locked.segment is None
            or locked.queued_all_at is not None
        ):
            return 0
        ids = list(
            segment_rules.segment_contacts(segment=locked.segment)
            .filter(pk__gt=locked.queued_up_to)
            .exclude(email="")
            .order_by("pk")
            .values_list("pk", flat=True)[:BATCH]
        )
        if not ids:
            locked.queued_all_at = now
            locked.save(update_fields=["queued_all_at"])
            return 0
        template = locked.template
        Message.objects.bulk_create(
            [
                Message(
                    organisation_id=locked.organisation_id,
                    contact_id=contact_id,
                    key=f"newsletter:{locked.pk}:{contact_id}",
                    kind=template.kind,
                    purpose=template.purpose,
                    template=template,
                    newsletter=locked,
                    created_at=now,
                    due_at=now,
                )
                for contact_id in ids
            ],
            ignore_conflicts=True,
            batch_size=BATCH,
        )
        locked.queued_up_to = ids[-1]
        locked.queued += len(ids)
        locked.save(update_fields=["queued_up_to", "queued"])
        _kick_delivery()
        return len(ids)


def _kick_delivery() -> None:
    from publikum.journeys.delivery import delivery_kick

    delivery_kick()


def newsletter_queue(*, newsletter_id: int, now: datetime | None = None) -> int:
    """Queue every contact of the newsletter's segment; safe to run twice or resume."""
    now = now or timezone.now()
    newsletter = Newsletter.objects.filter(pk=newsletter_id).first()
    if newsletter is None:
        return 0
    with transaction.atomic():
        started = Newsletter.objects.filter(
            pk=newsletter_id, status=NewsletterStatus.SCHEDULED, scheduled_at__lte=now
        ).update(status=NewsletterStatus.SENDING, started_at=now)
    if not started and newsletter.status != NewsletterStatus.SENDING:
        return 0
    total = 0
    while covered := _queue_batch(newsletter, now):
        total += covered
    # Delivery may already be through (small segments): say so without waiting a tick.
    newsletters_finish(now=now)
    return total


@job(queue_name="default")
def newsletter_queue_job(newsletter_id: int, *, organisation_id: int) -> int:
    return newsletter_queue(newsletter_id=newsletter_id)


def newsletters_finish(*, now: datetime | None = None) -> int:
    """Mark as sent the newsletters whose every message has been dealt with (sent, not sent
    by a guardrail, or failed); returns how many."""
    now = now or timezone.now()
    pending = Message.objects.filter(
        newsletter=OuterRef("pk"), status__in=[MessageStatus.QUEUED, MessageStatus.SENDING]
    )
    return Newsletter.objects.filter(
        ~Exists(pending), status=NewsletterStatus.SENDING, queued_all_at__isnull=False
    ).update(status=NewsletterStatus.SENT, finished_at=now)


@periodic("journeys.newsletters_due", every=timedelta(seconds=30))
@job(queue_name="periodic")
def newsletters_due() -> int:
    """Start scheduled newsletters whose time has come, resume interrupted ones, and mark
    finished ones as sent."""
    now = timezone.now()
    newsletters_finish(now=now)
    due = list(
        Newsletter.objects.filter(
            Q(status=NewsletterStatus.SCHEDULED)
            | Q(status=NewsletterStatus.SENDING, queued_all_at__isnull=True),
            scheduled_at__lte=now,
        ).values_list("pk", "organisation_id")
    )
    for pk, organisation_id in due:
        newsletter_queue_job.enqueue(pk, organisation_id=organisation_id)
    return len(due)


def newsletter_results(*, newsletter: Newsletter) -> dict[str, int]:
    """Messages of the newsletter by status, plus clicks, unsubscribes and conversions
    (bookings within `results.CONVERSION_DAYS` days of the mail)."""
    from django.db.models import Count, Q

    figures = Message.objects.filter(newsletter=newsletter).aggregate(
        queued=Count("pk", filter=Q(status=MessageStatus.QUEUED)),
        sending=Count("pk", filter=Q(status=MessageStatus.SENDING)),
        sent=Count("pk", filter=Q(status=MessageStatus.SENT)),
        suppressed=Count("pk", filter=Q(status=MessageStatus.SUPPRESSED)),
        failed=Count("pk", filter=Q(status=MessageStatus.FAILED)),
        clicked=Count("pk", filter=Q(clicked_at__isnull=False)),
        unsubscribed=Count("pk", filter=Q(unsubscribed_at__isnull=False)),
    )
    from publikum.journeys.results import conversions

    out = {k: int(v or 0) for k, v in figures.items()}
    out["converted"] = conversions(Message.objects.filter(newsletter=newsletter))
    return out
