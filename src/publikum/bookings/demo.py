"""Bookings of the demo institution: real Booking rows on the upcoming dates.

Called by `publikum.core.demo.build_demo` after the audience exists. The audience history
already holds "booking" interactions on upcoming dates (people who booked ahead); this turns
each of them into a Booking with a code and lines, in the order they were made, as long as
the date has seats. A booking that no longer fits moves to a later date of the same item
with seats, or goes (a booking never exists only on a timeline). Then some dates are filled
up to look real: the dates the programme marked sold out are full and two of them have a
waiting list, a few others are nearly full, and today has dates with guests, some of them
already checked in, so that the check-in page has something to show.

Written in bulk with the rules of the booking service: seats are never above capacity, a
date that is full is marked sold out, every booking has its "booking" interaction (summary
= code), every check-in its "visit" interaction. No mails are sent. Deterministic for a
seed and a reference time, like the rest of the demo.
"""

from __future__ import annotations

import random
import time as clock
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from decimal import Decimal
from typing import IO, Any
from zoneinfo import ZoneInfo

from publikum.audience.models import Contact, ContactKind, Interaction, InteractionKind
from publikum.bookings.models import (
    Booking,
    BookingLine,
    BookingSource,
    WaitlistEntry,
)
from publikum.bookings.services import CODE_ALPHABET, CODE_LENGTH
from publikum.core.demo import progress
from publikum.core.models import Membership, Organisation, Role
from publikum.programme.models import (
    ItemKind,
    Occurrence,
    OccurrenceStatus,
    PriceCategory,
    ProgrammeItem,
)

BATCH = 2000
# Dates of the next weeks that are filled up to a few seats below capacity.
NEARLY_FULL_DATES = 5
NEARLY_FULL_WITHIN = timedelta(days=30)
# Sold-out dates that also get a waiting list.
WAITLISTED_DATES = 2
# Times of the guided tours added today when the programme has no bookable date today.
TODAY_TOURS = (time(11, 0), time(15, 0))


@dataclass
class Date:
    pk: int
    item_id: int
    starts_at: datetime
    ends_at: datetime
    capacity: int
    status: str
    categories: list[PriceCategory]
    sold: int = 0
    # Seats the bookings from the history may take: a few stay free on most dates.
    history_limit: int = 0

    @property
    def free(self) -> int:
        return max(0, self.capacity - self.sold)

    @property
    def history_free(self) -> int:
        return max(0, self.history_limit - self.sold)


@dataclass(frozen=True)
class Person:
    contact_id: int
    name: str
    email: str
    language: str


@dataclass
class Plan:
    """Everything this populator writes, before any of it has a primary key."""

    bookings: list[Booking] = field(default_factory=list)
    lines: list[list[BookingLine]] = field(default_factory=list)
    # Per booking: the interaction it came from (updated), or None (a new one is written).
    sources: list[int | None] = field(default_factory=list)
    moved: dict[int, int] = field(default_factory=dict)  # interaction id -> new date id
    dropped: list[int] = field(default_factory=list)
    waiting: list[WaitlistEntry] = field(default_factory=list)
    codes: set[str] = field(default_factory=set)


class BookingPlanner:
    def __init__(self, organisation: Organisation, rng: random.Random, now: datetime) -> None:
        self.organisation = organisation
        self.rng = rng
        self.now = now
        self.zone = ZoneInfo(organisation.timezone)
        self.plan = Plan()
        self.desk_user_id = (
            Membership.objects.filter(organisation=organisation, role=Role.FRONT_DESK)
            .order_by("pk")
            .values_list("user_id", flat=True)
            .first()
        )

    # --- what there is ------------------------------------------------------------------

    def today_bounds(self) -> tuple[datetime, datetime]:
        today = self.now.astimezone(self.zone).date()
        start = datetime.combine(today, time.min, tzinfo=self.zone)
        return start, datetime.combine(today + timedelta(days=1), time.min, tzinfo=self.zone)

    def ensure_dates_today(self) -> None:
        """A museum has guided tours every day; add two when the programme has none today."""
        start, end = self.today_bounds()
        bookable = Occurrence.objects.filter(
            organisation=self.organisation,
            item__bookable=True,
            item__published=True,
            starts_at__gte=start,
            starts_at__lt=end,
        ).exclude(status=OccurrenceStatus.CANCELLED)
        if bookable.exists():
            return
        tour = (
            ProgrammeItem.objects.filter(
                organisation=self.organisation,
                kind=ItemKind.TOUR,
                bookable=True,
                published=True,
                occurrences__starts_at__gte=self.now,
            )
            .order_by("occurrences__starts_at", "pk")
            .first()
        )
        if tour is None:
            return
        today = start.date()
        Occurrence.objects.bulk_create(
            [
                Occurrence(
                    organisation=self.organisation,
                    item=tour,
                    starts_at=datetime.combine(today, at, tzinfo=self.zone),
                    ends_at=datetime.combine(today, at, tzinfo=self.zone) + timedelta(hours=1),
                    capacity=25,
                    created_at=self.now - timedelta(days=60),
                )
                for at in TODAY_TOURS
            ]
        )

    def load_dates(self) -> dict[int, Date]:
        start, _ = self.today_bounds()
        categories: dict[int, list[PriceCategory]] = defaultdict(list)
        for category in PriceCategory.objects.filter(organisation=self.organisation).order_by(
            "item_id", "position", "pk"
        ):
            categories[category.item_id].append(category)
        dates = {}
        for occurrence in (
            Occurrence.objects.filter(
                organisation=self.organisation,
                item__bookable=True,
                item__published=True,
                starts_at__gte=start,
            )
            .exclude(status=OccurrenceStatus.CANCELLED)
            .order_by("starts_at", "pk")
        ):
            dates[occurrence.pk] = Date(
                pk=occurrence.pk,
                item_id=occurrence.item_id,
                starts_at=occurrence.starts_at,
                ends_at=occurrence.ends_at,
                capacity=occurrence.capacity,
                status=occurrence.status,
                categories=categories[occurrence.item_id],
            )
        return dates

    def load_people(self) -> list[Person]:
        rows = Contact.objects.filter(
            organisation=self.organisation, erased_at__isnull=True
        ).exclude(email="")
        return [
            Person(
                contact_id=pk,
                name=(
                    org_name
                    if kind == ContactKind.ORGANISATION and org_name
                    else f"{first} {last}".strip()
                )
                or email,
                email=email,
                language=language,
            )
            for pk, kind, first, last, org_name, email, language in rows.order_by("pk").values_list(
                "pk", "kind", "first_name", "last_name", "organisation_name", "email", "language"
            )
        ]

    # --- one booking --------------------------------------------------------------------

    def code(self) -> str:
        while True:
            code = "".join(self.rng.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
            if code not in self.plan.codes:
                self.plan.codes.add(code)
                return code

    def lines_for(self, date: Date, quantity: int) -> tuple[list[BookingLine], Decimal]:
        """Most people pay the regular price; some tickets are reduced or for children."""
        if not date.categories:
            return [BookingLine(name_de="Ticket", name_en="Ticket", quantity=quantity)], Decimal(0)
        counts: dict[int, int] = defaultdict(int)
        weights = [6] + [2] * (len(date.categories) - 1)
        for _ in range(quantity):
            counts[self.rng.choices(range(len(date.categories)), weights=weights)[0]] += 1
        lines, total = [], Decimal(0)
        for index in sorted(counts):
            category = date.categories[index]
            lines.append(
                BookingLine(
                    price_category_id=category.pk,
                    name_de=category.name_de,
                    name_en=category.name_en,
                    unit_price_eur=category.price_eur,
                    quantity=counts[index],
                )
            )
            total += category.price_eur * counts[index]
        return lines, total

    def book(
        self,
        date: Date,
        person: Person,
        quantity: int,
        at: datetime,
        *,
        source_interaction: int | None = None,
        source: str = BookingSource.WEB,
    ) -> Booking:
        lines, total = self.lines_for(date, quantity)
        booking = Booking(
            organisation=self.organisation,
            occurrence_id=date.pk,
            code=self.code(),
            contact_id=person.contact_id,
            name=person.name[:200],
            email=person.email,
            language=person.language,
            quantity=quantity,
            total_eur=total,
            source=source,
            created_at=at,
            updated_at=at,
        )
        date.sold += quantity
        self.plan.bookings.append(booking)
        self.plan.lines.append(lines)
        self.plan.sources.append(source_interaction)
        return booking

    def quantity(self) -> int:
        return self.rng.choices((1, 2, 3, 4), weights=(0.3, 0.45, 0.15, 0.1))[0]

    def booked_at(self, date: Date) -> datetime:
        latest = min(self.now, date.starts_at) - timedelta(hours=1)
        return latest - timedelta(hours=self.rng.uniform(1, 24 * 30))

    # --- the steps --------------------------------------------------------------------

    def from_history(self, dates: dict[int, Date]) -> None:
        """The upcoming bookings the audience history holds, in the order they were made.

        The history wants far more seats than the house has; apart from the dates the
        programme marks sold out, each date keeps a few seats free, so that the calendar
        shows nearly full dates rather than a wall of sold-out ones.
        """
        by_item: dict[int, list[Date]] = defaultdict(list)
        for date in dates.values():
            by_item[date.item_id].append(date)
            headroom = self.rng.randint(1, max(1, date.capacity // 6))
            date.history_limit = (
                date.capacity
                if date.status == OccurrenceStatus.SOLD_OUT
                else date.capacity - headroom
            )
        rows = (
            Interaction.objects.filter(
                organisation=self.organisation,
                kind=InteractionKind.BOOKING,
                occurrence_id__in=list(dates),
                contact__erased_at__isnull=True,
            )
            .exclude(contact__email="")
            .order_by("occurred_at", "pk")
            .values_list(
                "pk",
                "occurrence_id",
                "quantity",
                "occurred_at",
                "contact_id",
                "contact__kind",
                "contact__first_name",
                "contact__last_name",
                "contact__organisation_name",
                "contact__email",
                "contact__language",
            )
        )
        for (
            pk,
            occurrence_id,
            quantity,
            at,
            contact_id,
            kind,
            first,
            last,
            org,
            email,
            lang,
        ) in rows:
            wanted = max(1, min(quantity, 20))
            date = dates[occurrence_id]
            if date.history_free < wanted:
                later = [
                    d
                    for d in by_item[date.item_id]
                    if d.starts_at > date.starts_at and d.history_free >= wanted
                ]
                if not later:
                    self.plan.dropped.append(pk)
                    continue
                date = later[0]
                self.plan.moved[pk] = date.pk
            name = org if kind == ContactKind.ORGANISATION and org else f"{first} {last}".strip()
            person = Person(contact_id, name or email, email, lang)
            self.book(date, person, wanted, min(at, date.starts_at), source_interaction=pk)

    def fill(self, date: Date, people: list[Person], leave_free: int) -> None:
        """Bookings by people drawn from the audience until `leave_free` seats remain."""
        attempts = 0
        while date.free > leave_free and people and attempts < 1000:
            attempts += 1
            quantity = min(self.quantity(), date.free - leave_free)
            self.book(date, self.rng.choice(people), quantity, self.booked_at(date))

    def waiting_list(self, date: Date, people: list[Person]) -> None:
        for person in self.rng.sample(people, min(len(people), self.rng.randint(3, 6))):
            at = self.now - timedelta(hours=self.rng.uniform(2, 24 * 5))
            self.plan.waiting.append(
                WaitlistEntry(
                    organisation=self.organisation,
                    occurrence_id=date.pk,
                    contact_id=person.contact_id,
                    name=person.name[:200],
                    email=person.email,
                    language=person.language,
                    quantity=self.rng.choice((1, 1, 2, 2, 3)),
                    created_at=at,
                    updated_at=at,
                )
            )

    def check_in_today(self, dates: dict[int, Date]) -> int:
        """Guests of today's dates that began already arrived shortly before the start."""
        _, end = self.today_bounds()
        checked = 0
        for booking in self.plan.bookings:
            date = dates[booking.occurrence_id]
            if date.starts_at <= self.now and date.starts_at < end and self.rng.random() < 0.8:
                booking.checked_in_at = date.starts_at - timedelta(minutes=self.rng.randint(2, 25))
                booking.checked_in_by_id = self.desk_user_id
                checked += 1
        return checked


def _write(planner: BookingPlanner, dates: dict[int, Date]) -> dict[str, int]:
    plan = planner.plan
    organisation = planner.organisation
    bookings = Booking.objects.bulk_create(plan.bookings, batch_size=BATCH)
    lines = []
    for booking, booking_lines in zip(bookings, plan.lines, strict=True):
        for line in booking_lines:
            line.booking_id = booking.pk
            lines.append(line)
    BookingLine.objects.bulk_create(lines, batch_size=BATCH)

    # The history's booking entries are written anew with the booking they became (a
    # bulk UPDATE of a thousand rows costs seconds; DELETE and INSERT cost milliseconds).
    item_of = {d.pk: d.item_id for d in dates.values()}
    replaced = [source for source in plan.sources if source is not None]
    Interaction.objects.filter(pk__in=replaced + plan.dropped).delete()
    new: list[Interaction] = []
    for booking in bookings:
        common = {
            "organisation": organisation,
            "contact_id": booking.contact_id,
            "item_id": item_of[booking.occurrence_id],
            "occurrence_id": booking.occurrence_id,
            "quantity": booking.quantity,
            "summary": booking.code,
        }
        new.append(
            Interaction(
                kind=InteractionKind.BOOKING,
                occurred_at=booking.created_at,
                amount_eur=booking.total_eur,
                data={"booking": booking.code, "source": booking.source},
                **common,
            )
        )
        if booking.checked_in_at is not None:
            new.append(
                Interaction(
                    kind=InteractionKind.VISIT,
                    occurred_at=booking.checked_in_at,
                    data={"booking": booking.code, "checked_in": True},
                    **common,
                )
            )
    Interaction.objects.bulk_create(new, batch_size=BATCH)
    WaitlistEntry.objects.bulk_create(plan.waiting, batch_size=BATCH)

    full = [d.pk for d in dates.values() if d.sold >= d.capacity]
    Occurrence.objects.filter(pk__in=full).update(status=OccurrenceStatus.SOLD_OUT)
    # The programme marked some dates sold out at random; a date with seats is bookable.
    Occurrence.objects.filter(
        pk__in=[d.pk for d in dates.values() if d.sold < d.capacity],
        status=OccurrenceStatus.SOLD_OUT,
    ).update(status=OccurrenceStatus.SCHEDULED)
    return {
        "bookings": len(bookings),
        "seats": sum(b.quantity for b in bookings),
        "from_history": len(replaced),
        "moved": len(plan.moved),
        "dropped": len(plan.dropped),
        "sold_out": len(full),
        "waiting": len(plan.waiting),
    }


def populate(
    *,
    organisation: Organisation,
    rng: random.Random,
    now: datetime,
    contacts: int,
    stdout: IO[str] | Any | None,
) -> None:
    """Bookings, waiting lists and today's check-ins of the demo organisation."""
    started = clock.monotonic()
    planner = BookingPlanner(organisation, random.Random(rng.getrandbits(64)), now)
    planner.ensure_dates_today()
    dates = planner.load_dates()
    people = planner.load_people()

    planner.from_history(dates)

    upcoming = [d for d in dates.values() if d.starts_at > now]
    sold_out = [d for d in upcoming if d.status == OccurrenceStatus.SOLD_OUT]
    for date in sold_out:
        planner.fill(date, people, leave_free=0)
    for date in sold_out[:WAITLISTED_DATES]:
        planner.waiting_list(date, people)
    soon = [
        d
        for d in upcoming
        if d.starts_at < now + NEARLY_FULL_WITHIN and d.status != OccurrenceStatus.SOLD_OUT
    ]
    for date in planner.rng.sample(soon, min(NEARLY_FULL_DATES, len(soon))):
        planner.fill(date, people, leave_free=planner.rng.randint(1, 3))
    start, end = planner.today_bounds()
    for date in dates.values():
        if start <= date.starts_at < end:
            planner.fill(date, people, leave_free=max(1, date.capacity * 2 // 5))
    checked_in = planner.check_in_today(dates)

    counts = _write(planner, dates)
    progress(
        stdout,
        f"Bookings: {counts['bookings']} bookings ({counts['seats']} seats; "
        f"{counts['from_history']} from the audience history, {counts['moved']} moved to a "
        f"later date, {counts['dropped']} dropped for lack of seats), {counts['sold_out']} "
        f"dates sold out, {counts['waiting']} people waiting, {checked_in} checked in today "
        f"in {clock.monotonic() - started:.1f} s.",
    )
