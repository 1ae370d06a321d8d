"""Reads of the audience, always scoped to one organisation."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Count, F, Q, QuerySet
from django.db.models.fields.tuple_lookups import Tuple, TupleGreaterThan, TupleLessThan
from django.db.models.functions import TruncMonth
from django.http import Http404

from publikum.audience.models import Consent, Contact, ContactSearch, Interaction
from publikum.core.models import Organisation

SEARCH_WORDS = 5
# The contact list counts up to this many; beyond, it says "more than 10,000".
COUNT_CAP = 10_000
PAGE_SIZE = 50
# The order of the contact list, and the key of its pages (index contact_list_order).
LIST_ORDER = ("last_name", "first_name", "id")
LIST_COLUMNS = (
    "id",
    "kind",
    "first_name",
    "last_name",
    "organisation_name",
    "email",
    "postcode",
    "lifecycle_stage",
    "last_visit_at",
)


def contact_search(*, organisation: Organisation, q: str) -> QuerySet[ContactSearch]:
    """Search entries of the organisation's contacts that match every word of `q` (at most
    five): the word is part of a name, the e-mail address or the organisation name (case
    ignored), or the postcode starts with it. Erased contacts have no entry."""
    entries = ContactSearch.objects.filter(organisation=organisation)
    for word in q.split()[:SEARCH_WORDS]:
        entries = entries.filter(Q(text__icontains=word) | Q(postcode__startswith=word))
    return entries


def contact_list(
    *, organisation: Organisation, filters: dict[str, Any] | None = None
) -> QuerySet[Contact]:
    """Contacts of the organisation; `filters`: q, stage, tag, interest, consent (purpose)."""
    qs = Contact.objects.filter(organisation=organisation, erased_at__isnull=True)
    filters = filters or {}
    q = (filters.get("q") or "").strip()
    if q:
        found = contact_search(organisation=organisation, q=q).values("contact_id")
        qs = qs.filter(pk__in=found)
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


@dataclass(frozen=True)
class ContactPage:
    """One page of the contact list in name order, with how many contacts match."""

    contacts: list[Contact]
    count: int  # at most cap + 1
    has_previous: bool
    has_next: bool
    cap: int = COUNT_CAP

    @property
    def count_capped(self) -> bool:
        """More than `cap` contacts match; `count` is not the exact number then."""
        return self.count > self.cap

    @property
    def first_id(self) -> int | None:
        return self.contacts[0].pk if self.contacts else None

    @property
    def last_id(self) -> int | None:
        return self.contacts[-1].pk if self.contacts else None


def contact_page(
    *,
    organisation: Organisation,
    filters: dict[str, Any] | None = None,
    after: int | None = None,
    before: int | None = None,
    size: int = PAGE_SIZE,
    cap: int = COUNT_CAP,
) -> ContactPage:
    """The page of `size` contacts after (or before) the contact with the given id, in name
    order; the first page without either. Counts up to `cap`.

    Fast whatever the size of the audience: a page starts at its key in the index instead
    of skipping the pages before it (no OFFSET), and the count stops at `cap`. A search
    first collects the ids of its matches (`cap` at most): when there are that few, the
    page is cut from their list in name order, so that a rare name never makes the
    database walk the audience in name order looking for it; a search that matches more
    is common enough for that walk to fill a page quickly.
    """
    filters = {name: value for name, value in (filters or {}).items() if value}
    q = (filters.pop("q", "") or "").strip()
    contacts = contact_list(organisation=organisation, filters=filters)
    count: int | None = None
    if q:
        search = contact_search(organisation=organisation, q=q).values("contact_id")
        found = [row["contact_id"] for row in search[: cap + 1]]
        if len(found) <= cap:
            return _page_of_few(contacts.filter(pk__in=found), after, before, size, cap)
        contacts = contacts.filter(pk__in=search)
        if not filters:
            count = len(found)
    if count is None:
        count = contacts.order_by()[: cap + 1].count()
    page = contacts.only(*LIST_COLUMNS)
    anchor = _anchor(organisation, before if before is not None else after)
    if anchor is None:
        rows = list(page.order_by(*LIST_ORDER)[: size + 1])
        return ContactPage(rows[:size], count, False, len(rows) > size, cap)
    if before is not None:
        # The redundant bound on the last name lets SQLite seek (it spells the row
        # comparison out as ORs); PostgreSQL compares rows in the index.
        backwards = page.filter(TupleLessThan(_key(), anchor), last_name__lte=anchor[0])
        rows = list(backwards.order_by(*(f"-{name}" for name in LIST_ORDER))[: size + 1])
        return ContactPage(rows[:size][::-1], count, len(rows) > size, True, cap)
    forwards = page.filter(TupleGreaterThan(_key(), anchor), last_name__gte=anchor[0])
    rows = list(forwards.order_by(*LIST_ORDER)[: size + 1])
    return ContactPage(rows[:size], count, True, len(rows) > size, cap)


def _page_of_few(
    contacts: QuerySet[Contact], after: int | None, before: int | None, size: int, cap: int
) -> ContactPage:
    """A page of at most `cap` contacts: their ids in name order from the database
    (sorting that few is cheap; asking for the first page only would let the planner walk
    the name index instead), the page cut from that list."""
    ordered = list(contacts.order_by(*LIST_ORDER).values_list("pk", flat=True))
    start = 0
    if after in ordered:
        start = ordered.index(after) + 1
    elif before in ordered:
        start = max(0, ordered.index(before) - size)
    ids = ordered[start : start + size]
    by_id = contacts.only(*LIST_COLUMNS).in_bulk(ids)
    return ContactPage(
        [by_id[pk] for pk in ids if pk in by_id],
        len(ordered),
        has_previous=start > 0,
        has_next=start + size < len(ordered),
        cap=cap,
    )


def _key() -> Tuple:
    return Tuple(*(F(name) for name in LIST_ORDER))


def _anchor(organisation: Organisation, contact_id: int | None) -> tuple[str, str, int] | None:
    """The sort key of the contact a page starts after or ends before; None when there is
    no such contact (any more): the list starts from the top then."""
    if contact_id is None:
        return None
    return (
        Contact.objects.filter(organisation=organisation, pk=contact_id)
        .values_list(*LIST_ORDER)
        .first()
    )


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
