"""Background jobs of the core."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from publikum.core.jobs import job, periodic

OUTBOX_KEEP_DAYS = 30


@periodic("core.prune_outbox", every=timedelta(hours=6))
@job(queue_name="periodic")
def prune_outbox() -> int:
    """Delete mails older than 30 days from the local sink: kept no longer than needed."""
    from publikum.core.models import ReceivedMail

    cutoff = timezone.now() - timedelta(days=OUTBOX_KEEP_DAYS)
    deleted, _ = ReceivedMail.objects.filter(received_at__lt=cutoff).delete()
    return deleted
