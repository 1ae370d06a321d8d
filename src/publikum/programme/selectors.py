from __future__ import annotations

from django.db.models import QuerySet
from django.utils import timezone

from publikum.core.models import Organisation
from publikum.programme.models import Occurrence, ProgrammeItem


def item_list(*, organisation: Organisation) -> QuerySet[ProgrammeItem]:
    return ProgrammeItem.objects.filter(organisation=organisation)


def upcoming_occurrences(*, organisation: Organisation) -> QuerySet[Occurrence]:
    return (
        Occurrence.objects.filter(organisation=organisation, starts_at__gte=timezone.now())
        .select_related("item")
        .order_by("starts_at")
    )
