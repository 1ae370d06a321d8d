"""The activity figures segments read, kept current between two lifecycle recomputes.

Segments at scale read stored figures instead of the timeline (docs/segments.md, "Speed"):
`visits_12m` and `bookings_12m` on the contact, and the contact × theme summary
`ContactThemeActivity` (when a contact last visited an event of a theme, and how often).
The daily lifecycle recompute computes them from the timeline; in between, every visit or
booking written through `services.interaction_record` or an interaction import is counted
here at once, in the same transaction as the timeline entry:

- a visit (booking) with `now - 365 days < occurred_at <= now` adds one to `visits_12m`
  (`bookings_12m`), the window the recompute uses;
- a visit of a programme item adds one to the item's themes' rows (created when missing),
  and moves `last_attended_at` forward.

Erased contacts are left alone, as the recompute leaves them. The recompute corrects what
this cannot know: visits that fell out of the 12-month window, programme items whose themes
changed, timeline entries removed. Its write-back keeps what was counted here while it ran
(see `lifecycle.py`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connections, router, transaction
from django.utils import timezone

from publikum.audience.models import Contact, ContactThemeActivity, InteractionKind
from publikum.programme.models import ProgrammeItem

# The window of `visits_12m` and `bookings_12m`; the lifecycle recompute uses the same.
YEAR = timedelta(days=365)

# One row per contact and theme; a second visit adds up, the latest visit wins.
UPSERT_SQL = """
INSERT INTO {table} (organisation_id, contact_id, theme_id, last_attended_at, visits)
VALUES (%s, %s, %s, %s, %s)
ON CONFLICT (contact_id, theme_id) DO UPDATE SET
    visits = {table}.visits + excluded.visits,
    last_attended_at = CASE WHEN excluded.last_attended_at > {table}.last_attended_at
        THEN excluded.last_attended_at ELSE {table}.last_attended_at END
"""

COUNT_SQL = """
UPDATE {table} SET visits_12m = visits_12m + %s, bookings_12m = bookings_12m + %s
WHERE id = %s AND erased_at IS NULL
"""


@dataclass(frozen=True)
class Entry:
    """A timeline entry as far as the figures care: whose, what, when, which item."""

    organisation_id: int
    contact_id: int
    kind: str
    occurred_at: datetime
    item_id: int | None = None


def count_entries(entries: Iterable[Entry], *, now: datetime | None = None) -> None:
    """Count new timeline entries of non-erased contacts into the stored figures.

    Call inside the transaction that writes the entries. Entries of other kinds than
    visits and bookings change nothing. A handful of statements however many entries.
    """
    now = now or timezone.now()
    since = now - YEAR
    counts: dict[int, list[int]] = {}  # contact → [visits, bookings] in the window
    # (organisation, contact, item) → (last visit, visits)
    visits: dict[tuple[int, int, int], tuple[datetime, int]] = {}
    for entry in entries:
        if entry.kind not in (InteractionKind.VISIT, InteractionKind.BOOKING):
            continue
        if since < entry.occurred_at <= now:
            pair = counts.setdefault(entry.contact_id, [0, 0])
            pair[0 if entry.kind == InteractionKind.VISIT else 1] += 1
        if entry.kind == InteractionKind.VISIT and entry.item_id is not None:
            key = (entry.organisation_id, entry.contact_id, entry.item_id)
            last, n = visits.get(key, (entry.occurred_at, 0))
            visits[key] = (max(last, entry.occurred_at), n + 1)
    if not counts and not visits:
        return
    alias = router.db_for_write(Contact)
    connection = connections[alias]
    quote = connection.ops.quote_name
    with transaction.atomic(using=alias), connection.cursor() as cursor:
        if counts:
            cursor.executemany(
                COUNT_SQL.format(table=quote(Contact._meta.db_table)),
                [(v, b, contact_id) for contact_id, (v, b) in sorted(counts.items())],
            )
        if visits:
            rows = _theme_rows(visits)
            if rows:
                adapt = connection.ops.adapt_datetimefield_value
                cursor.executemany(
                    UPSERT_SQL.format(table=quote(ContactThemeActivity._meta.db_table)),
                    [
                        (org, contact, theme, adapt(last), n)
                        for org, contact, theme, last, n in rows
                    ],
                )


def _theme_rows(
    visits: dict[tuple[int, int, int], tuple[datetime, int]],
) -> list[tuple[int, int, int, datetime, int]]:
    """Visits per item → (organisation, contact, theme, last visit, visits) per theme, in
    the order of the unique key (concurrent writers then lock rows in the same order)."""
    through = ProgrammeItem.themes.through
    themes_of: dict[int, list[int]] = {}
    for item_id, theme_id in through.objects.filter(
        programmeitem_id__in={item for _o, _c, item in visits}
    ).values_list("programmeitem_id", "theme_id"):
        themes_of.setdefault(item_id, []).append(theme_id)
    merged: dict[tuple[int, int], tuple[int, datetime, int]] = {}
    for (org, contact, item), (last, n) in visits.items():
        for theme in themes_of.get(item, []):
            _org, before, m = merged.get((contact, theme), (org, last, 0))
            merged[(contact, theme)] = (org, max(before, last), m + n)
    return [(org, c, t, last, n) for (c, t), (org, last, n) in sorted(merged.items())]


def merge_theme_activity(*, keep: Contact, merge: Contact) -> None:
    """Move the theme rows of `merge` to `keep`: where both have one, the visits add up and
    the later visit wins. Call inside the merge's transaction, before `merge` is deleted."""
    theirs = list(
        ContactThemeActivity.objects.filter(contact=merge).values_list(
            "theme_id", "last_attended_at", "visits"
        )
    )
    if theirs and keep.erased_at is None:
        alias = router.db_for_write(ContactThemeActivity)
        connection = connections[alias]
        adapt = connection.ops.adapt_datetimefield_value
        table = connection.ops.quote_name(ContactThemeActivity._meta.db_table)
        with connection.cursor() as cursor:
            cursor.executemany(
                UPSERT_SQL.format(table=table),
                [
                    (keep.organisation_id, keep.pk, theme, adapt(last), n)
                    for theme, last, n in sorted(theirs)
                ],
            )
    ContactThemeActivity.objects.filter(contact=merge).delete()


def erase_theme_activity(*, contact: Contact) -> None:
    """What an erased person attended is personal data; the summary forgets it."""
    ContactThemeActivity.objects.filter(contact=contact).delete()
