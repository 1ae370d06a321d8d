"""The demo's discovery history: a year of "for you" blocks in the monthly newsletter.

A year ago the demo house added a personal "for you" block to its monthly newsletter for a
quarter of the subscribers, drawn once (the others kept the plain events block), and turned its
dial up step by step, from 0.1 to 0.5. This populator replays that year with the real
recommender: for every newsletter of the last twelve months it fits the model on the
house's history as it stood that morning, takes as candidates the items with a date in the
six weeks after the send, and offers each recipient of the block the top four at that
month's dial. Each offer is judged outside the person's usual themes, or of a new kind,
as `discovery.offers.usual_taste` would have judged it then (a bulk variant of it lives
here, over the history read once).

The horizon conversions the dashboard shows come from the data: bookings of the demo's
audience history that happen to follow such an offer count, and a few recipients book an
offered outside-usual date a few days after the mail (`audience.services.interaction_record`,
as the rest of the demo's past bookings are timeline entries; dates already past).

The offers are written with `executemany` (about 90,000 for the default 20,000 contacts):
this populator takes a few seconds.
"""

from __future__ import annotations

import random
import time
from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import IO, Any

from django.db import connections, router
from django.utils import timezone
from threadpoolctl import threadpool_limits

from publikum.audience.models import Contact, Interaction, InteractionKind
from publikum.audience.services import interaction_record
from publikum.core.demo import progress
from publikum.core.models import Organisation
from publikum.discovery.data import Interaction as Visit
from publikum.discovery.data import Item, Person
from publikum.discovery.meter import house_dashboard_forget
from publikum.discovery.models import Offer, OfferChannel
from publikum.discovery.offers import UsualTaste
from publikum.discovery.recommender import ModelConfig, fit
from publikum.discovery.services import (
    BOOKING_WEIGHT,
    HISTORY_KINDS,
    VISIT_WEIGHT,
    discovery_settings_update,
    house_inputs,
)
from publikum.programme.models import Occurrence, OccurrenceStatus, ProgrammeItem, Theme
from publikum.programme.selectors import zone_of

MONTHS = 12
# The share of the newsletter's subscribers who got the "for you" block.
BLOCK_SHARE = 0.25
PER_MAIL = 4
FIRST_HORIZON, LAST_HORIZON = 0.1, 0.5
LOOKAHEAD = timedelta(days=42)
# The chance that a recipient books an offered outside-usual date after the mail.
CONVERSION_CHANCE = 0.03
WEIGHTS: dict[str, float] = {
    InteractionKind.VISIT: VISIT_WEIGHT,
    InteractionKind.BOOKING: BOOKING_WEIGHT,
    InteractionKind.BOOKING_CANCELLED: -BOOKING_WEIGHT,
}


@dataclass
class Send:
    at: datetime
    recipients: list[int]


@dataclass
class History:
    """The house's visits and bookings, replayed in time order up to each send."""

    rows: list[tuple[int, int, str, datetime]]
    position: int = 0

    def __post_init__(self) -> None:
        # The model's input per (contact, item), updated for the pairs each month touched.
        self.pairs: dict[tuple[int, int], Visit] = {}
        self.attended: dict[int, set[int]] = defaultdict(set)

    def until(self, moment: datetime) -> None:
        rows, n = self.rows, len(self.rows)
        touched: dict[tuple[int, int], tuple[float, float]] = {}
        while self.position < n and rows[self.position][3] < moment:
            contact_id, item_id, kind, at = rows[self.position]
            key = (contact_id, item_id)
            before = touched.get(key)
            if before is None:
                known = self.pairs.get(key)
                before = (known.weight, known.timestamp) if known else (0.0, 0.0)
            touched[key] = (before[0] + WEIGHTS[kind], at.timestamp())
            if kind != InteractionKind.BOOKING_CANCELLED:
                self.attended[contact_id].add(item_id)
            self.position += 1
        for (contact_id, item_id), (weight, stamp) in touched.items():
            self.pairs[contact_id, item_id] = Visit(
                user=str(contact_id), item=str(item_id), timestamp=stamp, weight=weight
            )

    def visits(self) -> list[Visit]:
        """Visits and bookings net of cancellations, as `services.house_inputs` weighs them."""
        return [visit for visit in self.pairs.values() if visit.weight > 0]


def _sends(organisation: Organisation, now: datetime, picker: random.Random) -> list[Send]:
    """The newsletters of the last `MONTHS` months and who of their recipients got the
    block (a fixed share of the subscribers, drawn once)."""
    rows = (
        Interaction.objects.filter(
            organisation=organisation,
            kind=InteractionKind.EMAIL_SENT,
            occurred_at__gte=now - timedelta(days=365),
            occurred_at__lt=now,
            data__campaign__startswith="newsletter-",
            contact__erased_at__isnull=True,
        )
        .order_by()
        .values_list("occurred_at", "contact_id")
    )
    by_time: dict[datetime, list[int]] = defaultdict(list)
    for at, contact_id in rows:
        by_time[at].append(contact_id)
    everyone = sorted({c for ids in by_time.values() for c in ids})
    block = {c for c in everyone if picker.random() < BLOCK_SHARE}
    return [
        Send(at, sorted(c for c in by_time[at] if c in block))
        for at in sorted(by_time)[-MONTHS:]
        if any(c in block for c in by_time[at])
    ]


def _persons(contact_ids: set[int], slugs: dict[int, str]) -> tuple[dict[int, Person], dict]:
    interests: dict[int, set[int]] = defaultdict(set)
    for contact_id, theme_id in Contact.interests.through.objects.filter(
        contact_id__in=contact_ids
    ).values_list("contact_id", "theme_id"):
        interests[contact_id].add(theme_id)
    languages = dict(Contact.objects.filter(pk__in=contact_ids).values_list("pk", "language"))
    persons = {
        c: Person(
            stated_interests=tuple(sorted(slugs[t] for t in interests[c] if t in slugs)),
            language=languages.get(c, ""),
        )
        for c in contact_ids
    }
    return persons, interests


def _candidates(
    organisation: Organisation, send: datetime, catalogue: dict[str, Item]
) -> tuple[list[Item], dict[int, tuple[int, datetime]]]:
    """Items with a bookable date in the six weeks after `send`, each with its first one."""
    dates: dict[int, tuple[int, datetime]] = {}
    for item_id, occurrence_id, starts_at in (
        Occurrence.objects.filter(
            organisation=organisation,
            starts_at__gt=send,
            starts_at__lt=send + LOOKAHEAD,
            item__published=True,
            item__bookable=True,
        )
        .exclude(status=OccurrenceStatus.CANCELLED)
        .order_by("starts_at", "pk")
        .values_list("item_id", "pk", "starts_at")
    ):
        if str(item_id) in catalogue:
            dates.setdefault(item_id, (occurrence_id, starts_at))
    zone = zone_of(organisation)
    items = [
        replace(catalogue[str(item_id)], starts_at=timezone.localtime(starts_at, zone))
        for item_id, (_, starts_at) in sorted(dates.items())
    ]
    return items, dates


@dataclass(frozen=True)
class Taken:
    """An outside-usual offer the recipient acted on: they book the date."""

    contact_id: int
    occurrence_id: int
    offered_at: datetime


class OfferWriter:
    """Offers as plain rows, written with `executemany`: a year of a newsletter block is
    around 100,000 rows, which `bulk_create` would spend seconds preparing field by field.
    Columns the demo does not set get their model default, so a later field does not
    break it."""

    SET = (
        "organisation",
        "contact",
        "item",
        "occurrence",
        "channel",
        "offered_at",
        "horizon",
        "rank",
        "relevance",
        "outside_usual",
        "new_kind",
    )

    def __init__(self, organisation: Organisation) -> None:
        meta = Offer._meta
        self.connection = connections[router.db_for_write(Offer)]
        by_name = {f.name: f for f in meta.concrete_fields}
        fields = [by_name[name] for name in self.SET]
        rest = [f for f in meta.concrete_fields if not f.primary_key and f not in fields]
        self.constants = tuple(f.get_db_prep_save(f.get_default(), self.connection) for f in rest)
        quote = self.connection.ops.quote_name
        columns = ", ".join(quote(f.column) for f in fields + rest)
        marks = ", ".join(["%s"] * (len(fields) + len(rest)))
        # Only quoted names from the model's meta go into the SQL; values are parameters.
        self.sql = f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES ({marks})"  # noqa: S608
        self.moment = by_name["offered_at"]
        self.moments: dict[datetime, Any] = {}
        self.organisation_id = organisation.pk
        self.rows: list[tuple[Any, ...]] = []
        self.outside = 0

    def add(self, at: datetime, values: tuple[Any, ...]) -> None:
        """`values`: contact, item, occurrence, horizon, rank, relevance, outside, new kind."""
        contact, item, occurrence, horizon, rank, relevance, outside, new_kind = values
        self.outside += outside
        prepared = self.moments.get(at)
        if prepared is None:
            prepared = self.moments[at] = self.moment.get_db_prep_save(at, self.connection)
        self.rows.append(
            (
                self.organisation_id,
                contact,
                item,
                occurrence,
                OfferChannel.NEWSLETTER.value,
                prepared,
                horizon,
                rank,
                relevance,
                outside,
                new_kind,
                *self.constants,
            )
        )

    def flush(self) -> int:
        with self.connection.cursor() as cursor:
            for start in range(0, len(self.rows), 5000):
                cursor.executemany(self.sql, self.rows[start : start + 5000])
        written, self.rows = len(self.rows), []
        return written


def populate(
    *,
    organisation: Organisation,
    rng: random.Random,
    now: datetime,
    contacts: int,
    stdout: IO[str] | Any | None,
) -> None:
    """A year of "for you" offers in the newsletter, and the bookings some of them led to."""
    started = time.monotonic()
    picker = random.Random(rng.getrandbits(64))
    sends = _sends(organisation, now, picker)
    if not sends:
        progress(stdout, "  discovery: no newsletters in the last year, no offers")
        return
    writer = OfferWriter(organisation)
    # Twelve fits of a few hundred items: one BLAS thread is several times faster than
    # threads that wait for each other on a busy machine (threadpoolctl comes with
    # scikit-learn).
    with threadpool_limits(1):
        taken = _offer_year(organisation, sends, writer, picker)
    written, outside = len(writer.rows), writer.outside
    writer.flush()
    booked = _book(taken, now=now, picker=picker)
    discovery_settings_update(organisation=organisation, horizon=LAST_HORIZON)
    house_dashboard_forget(organisation=organisation)
    progress(
        stdout,
        f"  discovery: {len(sends)} newsletters with a 'for you' block, {written} offers, "
        f"{outside} outside the usual themes, {booked} bookings after such an offer "
        f"({time.monotonic() - started:.1f} s)",
    )


def _offer_year(
    organisation: Organisation, sends: list[Send], writer: OfferWriter, picker: random.Random
) -> list[Taken]:
    """Recommend and judge every send's offers; returns the offers acted on."""
    history = History(
        list(
            Interaction.objects.filter(
                organisation=organisation,
                kind__in=HISTORY_KINDS,
                item__isnull=False,
                occurred_at__lt=sends[-1].at,
                contact__erased_at__isnull=True,
            )
            .order_by("occurred_at", "pk")
            .values_list("contact_id", "item_id", "kind", "occurred_at")
        )
    )
    inputs = house_inputs(organisation=organisation, now=sends[0].at)
    catalogue = {item.id: item for item in inputs.items}
    slugs = dict(Theme.objects.filter(organisation=organisation).values_list("pk", "slug"))
    item_themes: dict[int, set[int]] = defaultdict(set)
    for item_id, theme_id in ProgrammeItem.themes.through.objects.filter(
        programmeitem__organisation=organisation
    ).values_list("programmeitem_id", "theme_id"):
        item_themes[item_id].add(theme_id)
    item_kinds = dict(
        ProgrammeItem.objects.filter(organisation=organisation).values_list("pk", "kind")
    )
    persons, interests = _persons({c for s in sends for c in s.recipients}, slugs)
    step = (LAST_HORIZON - FIRST_HORIZON) / max(len(sends) - 1, 1)
    taken: list[Taken] = []
    for n, send in enumerate(sends):
        history.until(send.at)
        candidates, dates = _candidates(organisation, send.at, catalogue)
        if not candidates:
            continue
        model = fit(history.visits(), inputs.items, ModelConfig())
        horizon = round(FIRST_HORIZON + step * n, 2)
        lists = model.recommend_batch(
            [str(c) for c in send.recipients],
            model.prepare(candidates),
            k=PER_MAIL,
            horizon=horizon,
            persons={str(c): persons[c] for c in send.recipients},
            explain=False,
        )
        for contact_id in send.recipients:
            # `usual_taste` as of the send: the themes and kinds attended, else the stated
            # interests (and then no kind counts as new).
            attended = history.attended.get(contact_id, set())
            taste = UsualTaste(
                themes=frozenset(
                    set().union(*(item_themes[i] for i in attended))
                    if attended
                    else interests[contact_id]
                ),
                kinds=frozenset(item_kinds[i] for i in attended),
                from_history=bool(attended),
            )
            for rank, rec in enumerate(lists[str(contact_id)], start=1):
                item_id = int(rec.item)
                themes = item_themes[item_id]
                occurrence_id = dates[item_id][0]
                outside, new_kind = taste.judge(themes, item_kinds[item_id])
                writer.add(
                    send.at,
                    (
                        contact_id,
                        item_id,
                        occurrence_id,
                        horizon,
                        rank,
                        round(rec.relevance, 4),
                        outside,
                        new_kind,
                    ),
                )
                if outside and picker.random() < CONVERSION_CHANCE:
                    taken.append(Taken(contact_id, occurrence_id, send.at))
    return taken


def _book(taken: list[Taken], *, now: datetime, picker: random.Random) -> int:
    """Some recipients book an offered outside-usual date a few days after the mail and
    come: a booking and a visit on the timeline, as the audience history has them. Only
    dates already past: a booking of an upcoming date is a Booking with seats, which the
    booking service writes in a transaction of its own, not inside the demo's build."""
    contacts = Contact.objects.in_bulk({t.contact_id for t in taken})
    dates = Occurrence.objects.select_related("item").in_bulk({t.occurrence_id for t in taken})
    booked = 0
    for offer in taken:
        occurrence = dates[offer.occurrence_id]
        room = occurrence.starts_at - offer.offered_at - timedelta(hours=3)
        if occurrence.starts_at >= now - timedelta(hours=2) or room <= timedelta(0):
            continue
        at = offer.offered_at + min(room, timedelta(days=14)) * picker.uniform(0.05, 1.0)
        quantity = picker.choice((1, 1, 2))
        for kind, moment, data in (
            (InteractionKind.BOOKING, at, {"channel": "online"}),
            (InteractionKind.VISIT, occurrence.starts_at, {}),
        ):
            interaction_record(
                contact=contacts[offer.contact_id],
                kind=kind,
                occurred_at=moment,
                item=occurrence.item,
                occurrence=occurrence,
                quantity=quantity,
                summary=occurrence.item.title_de,
                data=data,
            )
        booked += 1
    return booked
