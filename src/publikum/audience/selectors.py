from __future__ import annotations

from datetime import datetime

from django.db.models import Count, QuerySet
from django.db.models.functions import TruncMonth

from publikum.audience.models import Contact, Interaction
from publikum.core.models import Organisation


def contact_list(*, organisation: Organisation) -> QuerySet[Contact]:
    return Contact.objects.filter(organisation=organisation)


def interactions_per_month(
    *, organisation: Organisation, kind: str, since: datetime
) -> list[tuple[datetime, int]]:
    rows = (
        Interaction.objects.filter(organisation=organisation, kind=kind, occurred_at__gte=since)
        .annotate(month=TruncMonth("occurred_at"))
        .values("month")
        .annotate(n=Count("id"))
        .order_by("month")
    )
    return [(r["month"], r["n"]) for r in rows]
