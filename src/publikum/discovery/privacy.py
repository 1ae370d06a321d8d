"""What discovery keeps about a person, for the export and the erasure of one contact.

Two things: the offers (which recommended items were put in front of them, when, through
which channel, and whether they lay outside their usual themes or were a new kind for
them) and their precomputed list. The export names both; the erasure deletes both (the
filter-bubble meter then counts the house without them). Offers older than
`OFFER_RETENTION_DAYS` are deleted every night (`tasks.offers_purge`).
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from publikum.audience.models import Contact
from publikum.audience.privacy import register_personal_data
from publikum.core.models import Organisation
from publikum.core.services import audit_log
from publikum.discovery import stored
from publikum.discovery.models import OFFER_RETENTION_DAYS, Offer, StoredList
from publikum.programme.models import ProgrammeItem

PURGE_CHUNK = 10_000


def _titles(item_ids: set[int]) -> dict[int, tuple[str, str]]:
    return {
        pk: (title_de, title_en or title_de)
        for pk, title_de, title_en in ProgrammeItem.objects.filter(pk__in=item_ids).values_list(
            "pk", "title_de", "title_en"
        )
    }


def export_discovery(contact: Contact) -> dict[str, Any]:
    offers = list(
        Offer.objects.filter(contact=contact).select_related("item").order_by("offered_at", "pk")
    )
    found = StoredList.objects.filter(contact=contact).first()
    listed = (stored.entries_of(found.items) or []) if found is not None else []
    titles = _titles({entry.item for entry in listed})
    return {
        "offers": [
            {
                "item": {"id": o.item_id, "title_de": o.item.title_de, "title_en": o.item.title_en},
                "channel": o.channel,
                "offered_at": o.offered_at.isoformat(),
                "rank": o.rank,
                "horizon": o.horizon,
                "outside_usual": o.outside_usual,
                "new_kind": o.new_kind,
            }
            for o in offers
        ],
        "stored_list": (
            {
                "computed_at": found.computed_at.isoformat(),
                "horizon": found.horizon,
                "basis": found.basis,
                "items": [
                    {
                        "item": {
                            "id": entry.item,
                            "title_de": titles.get(entry.item, ("", ""))[0],
                            "title_en": titles.get(entry.item, ("", ""))[1],
                        },
                        "occurrence_id": entry.occurrence,
                        "relevance": entry.relevance,
                        "novelty": entry.novelty,
                        "reasons": [part.as_dict() for part in entry.parts],
                    }
                    for entry in listed
                ],
            }
            if found is not None
            else None
        ),
    }


def erase_discovery(contact: Contact) -> None:
    Offer.objects.filter(contact=contact).delete()
    StoredList.objects.filter(contact=contact).delete()


register_personal_data("discovery", export=export_discovery, erase=erase_discovery)


def offers_purge(*, now: datetime | None = None) -> int:
    """Delete every offer made more than OFFER_RETENTION_DAYS ago, in chunks; leaves one
    audit entry "discovery.offers.purged" per organisation that lost any. Returns how many
    were deleted. Safe to run twice (the second finds none)."""
    cutoff = (now or timezone.now()) - timedelta(days=OFFER_RETENTION_DAYS)
    per_organisation: Counter[int] = Counter()
    while True:
        chunk = list(
            Offer.objects.filter(offered_at__lt=cutoff)
            .order_by("pk")
            .values_list("pk", "organisation_id")[:PURGE_CHUNK]
        )
        if not chunk:
            break
        with transaction.atomic():
            Offer.objects.filter(pk__in=[pk for pk, _ in chunk]).delete()
        per_organisation.update(org for _, org in chunk)
    for organisation in Organisation.objects.filter(pk__in=list(per_organisation)):
        audit_log(
            organisation,
            "discovery.offers.purged",
            data={"deleted": per_organisation[organisation.pk], "before": cutoff.isoformat()},
        )
    return sum(per_organisation.values())
