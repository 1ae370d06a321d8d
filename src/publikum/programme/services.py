"""Writes of the programme: items, their prices and dates, venues and themes.

The staff pages, the events API and the import all go through these services. Each checks
all of its input first (`checks.py`) and raises one ValidationFailed naming every bad field,
then writes inside a transaction, so that bad input never leaves anything half-written.

Capacity is the bookings' business too: a date's capacity is changed while holding the lock
on its row that `bookings.services` takes for every booking, and never below the seats
already sold (counted from the bookings by `bookings.selectors.seats_of`).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.core.files import File
from django.db import transaction
from django.utils import timezone

from publikum.core.errors import Conflict, NotFound, ValidationFailed
from publikum.core.models import ApiToken, Organisation, User
from publikum.core.services import audit_log
from publikum.programme.checks import (
    DEFAULT_KIND,
    FieldError,
    aware,
    capacity_of,
    check_new_times,
    check_slug,
    item_changes,
    raise_errors,
    unique_slug,
    venue_changes,
    zone_of,
)
from publikum.programme.models import (
    Occurrence,
    OccurrenceStatus,
    PriceCategory,
    ProgrammeItem,
    Theme,
    Venue,
)
from publikum.programme.recurrence import MAX_DATES_PER_RULE, RecurrenceRule, expand

__all__ = [
    "MAX_DATES_PER_RULE",
    "RecurrenceRule",
    "item_cancel",
    "item_create",
    "item_create_with_dates",
    "item_duplicate",
    "item_update",
    "occurrence_cancel",
    "occurrence_create",
    "occurrence_update",
    "occurrences_create_many",
    "occurrences_create_recurring",
    "recurrence_preview",
    "theme_create",
    "venue_create",
    "venue_update",
    "zone_of",
]


# --- items -----------------------------------------------------------------------------------


def _save_prices(item: ProgrammeItem, rows: list[dict[str, Any]]) -> None:
    """Replace the price list; a category whose German name stays keeps its id, so that
    bookings made in it still point to it."""
    existing = {c.name_de.casefold(): c for c in item.price_categories.all()}
    keep: list[int] = []
    for position, row in enumerate(rows):
        category = existing.get(row["name_de"].casefold())
        if category is None:
            category = PriceCategory(organisation_id=item.organisation_id, item=item)
        category.name_de = row["name_de"]
        category.name_en = row["name_en"]
        category.price_eur = row["price_eur"]
        category.position = position
        category.save()
        keep.append(category.pk)
    item.price_categories.exclude(pk__in=keep).delete()


def _apply_image(item: ProgrammeItem, image: Any, ext: str) -> None:
    """Set or remove the image; the stored name comes from the slug and the real format,
    never from the uploaded file's name."""
    if image is False:
        item.image = ""  # type: ignore[assignment]
    elif image is not None:
        name = f"{item.slug}.{ext}"
        item.image.save(name, image if isinstance(image, File) else File(image), save=False)


@transaction.atomic
def item_create(
    *,
    organisation: Organisation,
    data: dict[str, Any],
    actor: User | None = None,
    token: ApiToken | None = None,
) -> ProgrammeItem:
    """Create a programme item. `data` holds the fields listed in `checks.ITEM_FIELDS`; only
    `title_de` is required; `kind` defaults to a performance; `slug` is generated from the
    German title when not given."""
    changes = item_changes(organisation, data, None)
    fields = changes.fields
    fields.setdefault("kind", DEFAULT_KIND)
    if "slug" not in fields:
        fields["slug"] = unique_slug(
            ProgrammeItem.objects.filter(organisation=organisation),
            fields["title_de"],
            max_length=120,
        )
    item = ProgrammeItem(organisation=organisation, **fields)
    _apply_image(item, changes.image, changes.image_ext)
    item.save()
    if changes.themes:
        item.themes.set(changes.themes)
    if changes.prices:
        _save_prices(item, changes.prices)
    audit_log(
        organisation,
        "programme.item.created",
        actor=actor,
        token=token,
        obj=item,
        data={"slug": item.slug, "title": item.title_de},
    )
    if item.published:
        from publikum.journeys import triggers as journey_triggers  # a job, after commit

        journey_triggers.item_published(item)
    return item


@transaction.atomic
def item_update(
    *,
    item: ProgrammeItem,
    data: dict[str, Any],
    actor: User | None = None,
    token: ApiToken | None = None,
) -> ProgrammeItem:
    """Change the keys present in `data`; `price_categories` replaces the whole list."""
    organisation = item.organisation
    was_published = item.published
    changes = item_changes(organisation, data, item)
    for name, value in changes.fields.items():
        setattr(item, name, value)
    _apply_image(item, changes.image, changes.image_ext)
    item.save()
    if changes.themes is not None:
        item.themes.set(changes.themes)
    if changes.prices is not None:
        _save_prices(item, changes.prices)
    audit_log(
        organisation,
        "programme.item.updated",
        actor=actor,
        token=token,
        obj=item,
        data={"fields": sorted(data)},
    )
    if item.published and not was_published:
        from publikum.journeys import triggers as journey_triggers  # a job, after commit

        journey_triggers.item_published(item)
    return item


@transaction.atomic
def item_duplicate(*, item: ProgrammeItem, actor: User | None = None) -> ProgrammeItem:
    """A copy of an item with its themes and prices, without dates, as an unpublished draft."""
    organisation = item.organisation
    title_de = f"{item.title_de} (Kopie)"[:200]
    copy = ProgrammeItem(
        organisation=organisation,
        slug=unique_slug(
            ProgrammeItem.objects.filter(organisation=organisation), title_de, max_length=120
        ),
        kind=item.kind,
        title_de=title_de,
        title_en=f"{item.title_en} (copy)"[:200] if item.title_en else "",
        summary_de=item.summary_de,
        summary_en=item.summary_en,
        description_de=item.description_de,
        description_en=item.description_en,
        target_groups=list(item.target_groups),
        accessibility=list(item.accessibility),
        venue_id=item.venue_id,
        image=item.image.name if item.image else "",
        image_alt_de=item.image_alt_de,
        image_alt_en=item.image_alt_en,
        published=False,
        bookable=item.bookable,
    )
    copy.save()
    copy.themes.set(item.themes.all())
    PriceCategory.objects.bulk_create(
        [
            PriceCategory(
                organisation=organisation,
                item=copy,
                name_de=c.name_de,
                name_en=c.name_en,
                price_eur=c.price_eur,
                position=c.position,
            )
            for c in item.price_categories.all()
        ]
    )
    audit_log(
        organisation,
        "programme.item.duplicated",
        actor=actor,
        obj=copy,
        data={"source_id": item.pk, "slug": copy.slug},
    )
    return copy


@transaction.atomic
def item_cancel(
    *, item: ProgrammeItem, actor: User | None = None, token: ApiToken | None = None
) -> int:
    """Cancel every future date of the item that is not cancelled yet; return how many.
    Their bookings stay; the people who booked are told by the bookings module."""
    now = timezone.now()
    dates = list(
        Occurrence.objects.select_for_update()
        .filter(item=item, organisation_id=item.organisation_id, starts_at__gt=now)
        .exclude(status=OccurrenceStatus.CANCELLED)
        .order_by("starts_at")
    )
    if not dates:
        return 0
    ids = [d.pk for d in dates]
    Occurrence.objects.filter(pk__in=ids).update(status=OccurrenceStatus.CANCELLED, updated_at=now)
    audit_log(
        item.organisation,
        "programme.item.cancelled",
        actor=actor,
        token=token,
        obj=item,
        data={"occurrence_ids": ids},
    )
    for pk in ids:
        _after_commit_date_cancelled(pk)
    return len(ids)


# --- dates -----------------------------------------------------------------------------------


@transaction.atomic
def occurrence_create(
    *,
    item: ProgrammeItem,
    starts_at: datetime,
    ends_at: datetime,
    capacity: int,
    actor: User | None = None,
    token: ApiToken | None = None,
) -> Occurrence:
    """Add one date to an item; it must start in the future and not end before it starts."""
    organisation = item.organisation
    zone = zone_of(organisation)
    errors: dict[str, list[str]] = {}
    start = aware(starts_at, zone, "starts_at", errors)
    end = aware(ends_at, zone, "ends_at", errors)
    cap = capacity_of(capacity, errors)
    check_new_times(start, end, errors, now=timezone.now())
    raise_errors("The date could not be saved", errors)
    assert start is not None
    assert end is not None
    assert cap is not None
    occurrence = Occurrence.objects.create(
        organisation=organisation, item=item, starts_at=start, ends_at=end, capacity=cap
    )
    audit_log(
        organisation,
        "programme.occurrence.created",
        actor=actor,
        token=token,
        obj=occurrence,
        data={"item_id": item.pk, "starts_at": occurrence.starts_at.isoformat(), "capacity": cap},
    )
    return occurrence


@transaction.atomic
def occurrences_create_many(
    *,
    item: ProgrammeItem,
    dates: list[dict[str, Any]],
    actor: User | None = None,
    token: ApiToken | None = None,
) -> list[Occurrence]:
    """Add several dates ({starts_at, ends_at, capacity} each), all or none; errors are
    named `dates.<n>.<field>` (n from 0), every bad date at once."""
    if len(dates) > MAX_DATES_PER_RULE:
        raise ValidationFailed(
            f"At most {MAX_DATES_PER_RULE} dates per request.",
            fields={"dates": [f"at most {MAX_DATES_PER_RULE}"]},
        )
    errors: dict[str, list[str]] = {}
    created: list[Occurrence] = []
    for n, date in enumerate(dates):
        try:
            created.append(
                occurrence_create(
                    item=item,
                    starts_at=date.get("starts_at"),  # type: ignore[arg-type]
                    ends_at=date.get("ends_at"),  # type: ignore[arg-type]
                    capacity=date.get("capacity"),  # type: ignore[arg-type]
                    actor=actor,
                    token=token,
                )
            )
        except ValidationFailed as exc:
            errors.update({f"dates.{n}.{name}": msgs for name, msgs in exc.fields.items()})
    raise_errors("The dates could not be saved", errors)
    return created


@transaction.atomic
def item_create_with_dates(
    *,
    organisation: Organisation,
    data: dict[str, Any],
    dates: list[dict[str, Any]],
    actor: User | None = None,
    token: ApiToken | None = None,
) -> ProgrammeItem:
    """`item_create` and `occurrences_create_many` in one transaction: all or nothing."""
    item = item_create(organisation=organisation, data=data, actor=actor, token=token)
    occurrences_create_many(item=item, dates=dates, actor=actor, token=token)
    return item


def recurrence_preview(
    *,
    organisation: Organisation,
    first_start: datetime,
    duration: timedelta,
    rule: RecurrenceRule,
) -> list[tuple[datetime, datetime]]:
    """The (start, end) pairs a series would create, in the organisation's time zone;
    raise ValidationFailed for a bad rule or a first date in the past."""
    zone = zone_of(organisation)
    errors: dict[str, list[str]] = {}
    start = aware(first_start, zone, "first_start", errors)
    if start is not None and start <= timezone.now():
        errors["first_start"] = ["in the past: a new date must lie in the future"]
    if not isinstance(duration, timedelta):
        errors["duration"] = ["required"]
    raise_errors("The series of dates is not valid", errors)
    assert start is not None
    return expand(first_start=start, duration=duration, rule=rule, zone=zone)


@transaction.atomic
def occurrences_create_recurring(
    *,
    item: ProgrammeItem,
    first_start: datetime,
    duration: timedelta,
    rule: RecurrenceRule,
    capacity: int,
    actor: User | None = None,
    token: ApiToken | None = None,
) -> list[Occurrence]:
    """Add a series of dates, expanded in the organisation's time zone (see recurrence.py);
    at most MAX_DATES_PER_RULE dates per series."""
    organisation = item.organisation
    errors: dict[str, list[str]] = {}
    cap = capacity_of(capacity, errors)
    raise_errors("The series of dates is not valid", errors)
    pairs = recurrence_preview(
        organisation=organisation, first_start=first_start, duration=duration, rule=rule
    )
    if not pairs:
        raise ValidationFailed(
            "This series has no dates: no chosen weekday lies between the first date and "
            "the end of the series.",
            fields={"weekdays": ["no date in the series"]},
        )
    created = Occurrence.objects.bulk_create(
        [
            Occurrence(
                organisation=organisation, item=item, starts_at=s, ends_at=e, capacity=cap or 0
            )
            for s, e in pairs
        ]
    )
    audit_log(
        organisation,
        "programme.occurrence.series_created",
        actor=actor,
        token=token,
        obj=item,
        data={
            "item_id": item.pk,
            "count": len(created),
            "first": pairs[0][0].isoformat(),
            "last": pairs[-1][0].isoformat(),
            "freq": rule.freq,
            "capacity": cap,
        },
    )
    return created


def _locked(occurrence: Occurrence) -> Occurrence:
    """The date, locked like the bookings service locks it (call inside a transaction)."""
    locked = (
        Occurrence.objects.select_for_update(of=("self",))
        .select_related("item", "organisation")
        .filter(pk=occurrence.pk, organisation_id=occurrence.organisation_id)
        .first()
    )
    if locked is None:
        raise NotFound("There is no such date.")
    return locked


@transaction.atomic
def occurrence_update(
    *,
    occurrence: Occurrence,
    starts_at: datetime | None = None,
    ends_at: datetime | None = None,
    capacity: int | None = None,
    actor: User | None = None,
    token: ApiToken | None = None,
) -> Occurrence:
    """Move a date or change its capacity (None: unchanged; a new start alone moves the
    end by as much). Holds the date's row lock
    while it counts the seats sold: the capacity never drops below them. More seats go to
    the waiting list after the commit."""
    locked = _locked(occurrence)
    organisation = locked.organisation
    if locked.status == OccurrenceStatus.CANCELLED:
        raise Conflict(
            "This date has been cancelled and cannot be changed.",
            fields={"status": ["cancelled"]},
        )
    zone = zone_of(organisation)
    errors: dict[str, list[str]] = {}
    start = aware(starts_at, zone, "starts_at", errors) if starts_at is not None else None
    end = aware(ends_at, zone, "ends_at", errors) if ends_at is not None else None
    cap = capacity_of(capacity, errors) if capacity is not None else None
    now = timezone.now()
    new_start = start or locked.starts_at
    # Moving only the start moves the end with it: the date keeps its length.
    new_end = end or (locked.ends_at + (new_start - locked.starts_at))
    if start is not None and start != locked.starts_at and start <= now:
        errors["starts_at"] = ["in the past: a date can only be moved into the future"]
    if (start is not None or end is not None) and new_end < new_start and "ends_at" not in errors:
        errors["ends_at"] = ["the date would end before it starts"]
    raise_errors("The date could not be saved", errors)

    changed: dict[str, Any] = {}
    more_seats = False
    if cap is not None and cap != locked.capacity:
        from publikum.bookings.selectors import seats_of

        seats = seats_of(locked)
        taken = seats.sold + seats.held
        if cap < taken:
            held = f" and {seats.held} held for waiting-list offers" if seats.held else ""
            raise Conflict(
                f"{seats.sold} seats of this date are sold{held}; the capacity cannot be "
                f"lower than {taken}.",
                fields={"capacity": [f"at least {taken} (seats sold)"]},
            )
        more_seats = cap > locked.capacity
        changed["capacity"] = [locked.capacity, cap]
        locked.capacity = cap
        # The same rule as the bookings service: full is "sold out", a free seat is not.
        if locked.status == OccurrenceStatus.SOLD_OUT and cap > taken:
            locked.status = OccurrenceStatus.SCHEDULED
        elif locked.status == OccurrenceStatus.SCHEDULED and cap == taken and taken > 0:
            locked.status = OccurrenceStatus.SOLD_OUT
    if new_start != locked.starts_at:
        changed["starts_at"] = [locked.starts_at.isoformat(), new_start.isoformat()]
        locked.starts_at = new_start
    if new_end != locked.ends_at:
        changed["ends_at"] = [locked.ends_at.isoformat(), new_end.isoformat()]
        locked.ends_at = new_end
    if not changed:
        return locked
    locked.save(update_fields=["starts_at", "ends_at", "capacity", "status", "updated_at"])
    audit_log(
        organisation,
        "programme.occurrence.updated",
        actor=actor,
        token=token,
        obj=locked,
        data={"item_id": locked.item_id, "changed": changed},
    )
    if more_seats:
        occurrence_id = locked.pk

        def offer() -> None:
            from publikum.bookings import tasks

            tasks.offer_waitlist_seats.enqueue(occurrence_id=occurrence_id)

        transaction.on_commit(offer)
    return locked


def _after_commit_date_cancelled(occurrence_id: int) -> None:
    """The hook for the bookings module: it tells the people who booked, if it has a job
    for that (`bookings.tasks.notify_date_cancelled`); the programme enqueues nothing else."""

    def notify() -> None:
        from publikum.bookings import tasks

        job = getattr(tasks, "notify_date_cancelled", None)
        if job is not None:
            job.enqueue(occurrence_id=occurrence_id)

    transaction.on_commit(notify)


@transaction.atomic
def occurrence_cancel(
    *, occurrence: Occurrence, actor: User | None = None, token: ApiToken | None = None
) -> Occurrence:
    """Cancel a date that has not begun. Its confirmed bookings stay as they are; the
    bookings module tells the people who booked (see `_after_commit_date_cancelled`)."""
    locked = _locked(occurrence)
    if locked.status == OccurrenceStatus.CANCELLED:
        raise Conflict("This date has already been cancelled.", fields={"status": ["cancelled"]})
    if locked.starts_at <= timezone.now():
        raise Conflict(
            "This date has already begun or is over and cannot be cancelled.",
            fields={"starts_at": ["in the past"]},
        )
    locked.status = OccurrenceStatus.CANCELLED
    locked.save(update_fields=["status", "updated_at"])
    from publikum.bookings.selectors import seats_of

    audit_log(
        locked.organisation,
        "programme.occurrence.cancelled",
        actor=actor,
        token=token,
        obj=locked,
        data={"item_id": locked.item_id, "seats_sold": seats_of(locked).sold},
    )
    _after_commit_date_cancelled(locked.pk)
    return locked


# --- venues ----------------------------------------------------------------------------------


def _only_main(venue: Venue) -> None:
    if venue.is_main:
        Venue.objects.filter(organisation_id=venue.organisation_id, is_main=True).exclude(
            pk=venue.pk
        ).update(is_main=False)


@transaction.atomic
def venue_create(
    *, organisation: Organisation, data: dict[str, Any], actor: User | None = None
) -> Venue:
    """Create a venue; `name_de` is required and unique. Marking it the main venue (the
    house's own address) takes the mark from the previous one."""
    fields = venue_changes(organisation, data, None)
    venue = Venue.objects.create(organisation=organisation, **fields)
    _only_main(venue)
    audit_log(
        organisation,
        "programme.venue.created",
        actor=actor,
        obj=venue,
        data={"name": venue.name_de},
    )
    return venue


@transaction.atomic
def venue_update(*, venue: Venue, data: dict[str, Any], actor: User | None = None) -> Venue:
    """Change the keys present in `data`."""
    fields = venue_changes(venue.organisation, data, venue)
    for name, value in fields.items():
        setattr(venue, name, value)
    venue.save()
    _only_main(venue)
    audit_log(
        venue.organisation,
        "programme.venue.updated",
        actor=actor,
        obj=venue,
        data={"fields": sorted(fields)},
    )
    return venue


# --- themes ----------------------------------------------------------------------------------


@transaction.atomic
def theme_create(
    *,
    organisation: Organisation,
    name_de: str,
    name_en: str = "",
    slug: str = "",
    actor: User | None = None,
) -> Theme:
    """Add a theme to the organisation's vocabulary; the slug is made from the German name
    when not given and must be unique."""
    errors: dict[str, list[str]] = {}
    name_de = " ".join((name_de or "").split())
    name_en = " ".join((name_en or "").split())
    if not name_de:
        errors["name_de"] = ["required"]
    elif len(name_de) > 100:
        errors["name_de"] = ["at most 100 characters"]
    if len(name_en) > 100:
        errors["name_en"] = ["at most 100 characters"]
    themes = Theme.objects.filter(organisation=organisation)
    if slug:
        try:
            slug = check_slug(slug, 60)
        except FieldError as exc:
            errors["slug"] = [str(exc)]
    raise_errors("The theme could not be saved", errors)
    if slug and themes.filter(slug=slug).exists():
        raise Conflict(
            f"There is already a theme with the slug '{slug}'.",
            fields={"slug": ["already used by another theme"]},
        )
    if themes.filter(name_de__iexact=name_de).exists():
        raise Conflict(
            f"There is already a theme called '{name_de}'.",
            fields={"name_de": ["already used by another theme"]},
        )
    theme = Theme.objects.create(
        organisation=organisation,
        name_de=name_de,
        name_en=name_en or name_de,
        slug=slug or unique_slug(themes, name_de, max_length=60),
    )
    audit_log(
        organisation, "programme.theme.created", actor=actor, obj=theme, data={"slug": theme.slug}
    )
    return theme
