"""Reads of the audience, always scoped to one organisation."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.db.models.functions import TruncMonth
from django.http import Http404

from publikum.audience.models import Consent, Contact, Interaction
from publikum.core.models import Organisation


def contact_list(
    *, organisation: Organisation, filters: dict[str, Any] | None = None
) -> QuerySet[Contact]:
    """Contacts of the organisation; `filters`: q, stage, tag, interest, consent (purpose)."""
    qs = Contact.objects.filter(organisation=organisation, erased_at__isnull=True)
    filters = filters or {}
    q = (filters.get("q") or "").strip()
    if q:
        words = q.split()[:5]
        for word in words:
            qs = qs.filter(
                Q(first_name__icontains=word)
                | Q(last_name__icontains=word)
                | Q(email__icontains=word)
                | Q(organisation_name__icontains=word)
                | Q(postcode__startswith=word)
            )
    if filters.get("stage"):
        qs = qs.filter(lifecycle_stage=filters["stage"])
    if filters.get("interest"):
        qs = qs.filter(interests__slug=filters["interest"])
    if filters.get("tag"):
        # JSON containment is not portable to SQLite; a quoted substring match is exact
        # enough for tags, which are stored as a sorted JSON list of strings.
        qs = qs.filter(has_tag_q(filters["tag"]))
    if filters.get("consent"):
        qs = qs.filter(
            consents__purpose=filters["consent"], consents__channel="email", consents__granted=True
        )
    return qs


def has_tag_q(tag: str) -> Q:
    """Contacts carrying `tag`. Tags are a JSON list of strings; JSON containment is not
    portable to SQLite, so match the quoted tag in the JSON text. SQLite stores non-ASCII
    as \\u escapes, so such a tag is matched in both spellings."""
    q = Q(tags__icontains=json.dumps(tag, ensure_ascii=False))
    if not tag.isascii():
        q |= Q(tags__icontains=json.dumps(tag))
    return q


def contact_get(*, organisation: Organisation, contact_id: int) -> Contact:
    contact = Contact.objects.filter(organisation=organisation, pk=contact_id).first()
    if contact is None:
        raise Http404("No contact with this id.")
    return contact


def timeline(*, contact: Contact) -> QuerySet[Interaction]:
    return (
        Interaction.objects.filter(contact=contact)
        .select_related("item")
        .order_by("-occurred_at", "-id")
    )


def consents_of(*, contact: Contact) -> QuerySet[Consent]:
    return Consent.objects.filter(contact=contact).order_by("channel", "purpose")


def has_consent(*, contact: Contact, channel: str, purpose: str) -> bool:
    return Consent.objects.filter(
        contact=contact, channel=channel, purpose=purpose, granted=True
    ).exists()


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


def interaction_count(*, organisation: Organisation, kind: str, since: datetime) -> int:
    return Interaction.objects.filter(
        organisation=organisation, kind=kind, occurred_at__gte=since
    ).count()
