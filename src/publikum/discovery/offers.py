"""Recording what was put in front of a person: the raw data of the filter-bubble meter.

Call `offers_record` when a recommendation reached someone: after a mail with a "for you"
block was sent, when a website showed a list it fetched from the API. It decides once, at
the time of the offer, whether each item lay outside the person's usual themes and whether
its kind was new to them, so the meter reads plain counts later.
"""

from __future__ import annotations

from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from publikum.audience.models import Contact, Interaction, InteractionKind
from publikum.core.models import Organisation
from publikum.discovery.models import Offer, OfferChannel
from publikum.programme.models import ProgrammeItem

# What counts as having attended something: a visit, or a booking.
ATTENDED_KINDS = (InteractionKind.VISIT, InteractionKind.BOOKING)


@dataclass(frozen=True)
class OfferedItem:
    """One item of a list that reached a person, in the order it was shown (rank from 1)."""

    item_id: int
    occurrence_id: int | None
    rank: int
    relevance: float = 0.0


@dataclass(frozen=True)
class UsualTaste:
    """The themes (ids) and kinds a person attended; their stated interests when they have
    no history. `from_history` says which of the two it is."""

    themes: frozenset[int]
    kinds: frozenset[str]
    from_history: bool

    def judge(self, themes: AbstractSet[int], kind: str) -> tuple[bool, bool]:
        """(outside_usual, new_kind) of an item with `themes` and `kind` for this person.
        An item without themes is never outside: nothing says it is. Without history no
        kind counts as new."""
        outside = bool(themes) and not themes & self.themes
        return outside, self.from_history and kind not in self.kinds


def usual_taste(*, contact: Contact, before: datetime | None = None) -> UsualTaste:
    """The contact's usual themes and kinds: those of the items they visited or booked
    (before `before`, default now), else the themes of their stated interests."""
    attended = Interaction.objects.filter(
        contact=contact, kind__in=ATTENDED_KINDS, item__isnull=False
    )
    if before is not None:
        attended = attended.filter(occurred_at__lt=before)
    item_ids = set(attended.values_list("item_id", flat=True))
    if item_ids:
        themes = frozenset(
            ProgrammeItem.themes.through.objects.filter(programmeitem_id__in=item_ids)
            .values_list("theme_id", flat=True)
            .distinct()
        )
        kinds = frozenset(
            ProgrammeItem.objects.filter(pk__in=item_ids).values_list("kind", flat=True)
        )
        return UsualTaste(themes=themes, kinds=kinds, from_history=True)
    stated = frozenset(contact.interests.values_list("pk", flat=True))
    return UsualTaste(themes=stated, kinds=frozenset(), from_history=False)


def offers_record(
    *,
    organisation: Organisation,
    contact: Contact,
    items: Sequence[OfferedItem],
    channel: str,
    horizon: float | None = None,
    at: datetime | None = None,
    message_id: int | None = None,
) -> list[Offer]:
    """Write one `Offer` per item shown to `contact`; returns them (empty for no items).

    Items of another organisation are ignored (never an error: the caller already showed
    the list). Raises ValueError for an unknown channel or a contact of another house.
    """
    if channel not in OfferChannel.values:
        raise ValueError(f"unknown offer channel {channel!r}")
    if contact.organisation_id != organisation.pk:
        raise ValueError("contact and organisation must belong together")
    if not items:
        return []
    at = at or timezone.now()
    taste = usual_taste(contact=contact, before=at)
    wanted = {entry.item_id for entry in items}
    rows = ProgrammeItem.objects.filter(organisation=organisation, pk__in=wanted)
    kinds: dict[int, str] = {}
    themes: dict[int, set[int]] = {pk: set() for pk in wanted}
    for pk, kind in rows.values_list("pk", "kind"):
        kinds[pk] = kind
    for item_id, theme_id in ProgrammeItem.themes.through.objects.filter(
        programmeitem_id__in=list(kinds)
    ).values_list("programmeitem_id", "theme_id"):
        themes[item_id].add(theme_id)
    offers = [
        Offer(
            organisation=organisation,
            contact=contact,
            item_id=entry.item_id,
            occurrence_id=entry.occurrence_id,
            channel=channel,
            offered_at=at,
            horizon=horizon,
            rank=entry.rank,
            relevance=entry.relevance,
            outside_usual=judged[0],
            new_kind=judged[1],
            message_id=message_id,
        )
        for entry in items
        if entry.item_id in kinds
        for judged in [taste.judge(themes[entry.item_id], kinds[entry.item_id])]
    ]
    with transaction.atomic():
        return Offer.objects.bulk_create(offers)
