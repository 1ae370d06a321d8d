"""What brings contacts into journeys: events of other modules, the API, periodic scans.

Entering (`enter_many`) is the one door: it honours the journey's re-entry rule (once,
again after N days, always), skips erased contacts and contacts of other houses, and never
lets the same cause in twice: a run's context names what entered it (`"cause":
"booking:12"`, `"change:881"`, `"birthday:2026"`), and a contact who has a run of the journey
with that cause is not entered for it again. That makes every scan safe to run twice and
safe to overlap. The rows of the contacts being entered are locked (in id order) while
their runs are checked and written, so two triggers for the same person at the same moment
cannot both let them into a journey they may enter only once.

Event triggers (subscription confirmed, booking made, checked in, tag added) are called by
the services of other modules inside their transaction and act after it commits: a rolled
back booking enters nobody, and a journey problem never undoes a booking. If entering fails
then, the same work is queued as a job that retries. New runs are advanced by a job queued
after their commit, so the first step runs within seconds (docs/journeys.md, "Timing").

Scanning triggers run as periodic jobs (`engine_tasks`): stage changes (a cursor over
`LifecycleChange` ids, kept in the journey's `trigger_config["_cursor"]`), birthdays, the day
after a visit, a booked date ahead, segment membership. A new programme item is matched to
interested contacts in a job, never in the request that published it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.db import transaction
from django.db.models import F, Max, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from publikum.audience.models import Contact, Interaction, InteractionKind, LifecycleChange
from publikum.core.errors import Conflict, NotFound, ValidationFailed
from publikum.core.models import Organisation
from publikum.journeys.engine import organisation_zone, schedule_advance
from publikum.journeys.engine.definition import public_config, segment_of
from publikum.journeys.models import (
    Journey,
    JourneyRun,
    JourneyStatus,
    Reentry,
    RunStatus,
    StepEvent,
    Trigger,
)

logger = logging.getLogger("publikum.journeys.triggers")

# Contacts entered per transaction by a scan, and transactions per scan and journey: a scan
# that finds more (a first import moved a million contacts) continues at its next run.
CHUNK = 1000
MAX_CHUNKS = 50
# Runs advanced by their own job when entered together; more wait for the periodic pass.
ADVANCE_DIRECTLY = 100
# "The day after a visit": visits up to this many days older are still caught up (a
# worker that was down over a weekend), but never from before the journey was switched on.
CATCH_UP_DAYS = 2
# A booking made this shortly before its date gets no "date ahead" journey: the booking
# confirmation has just told the person everything.
MIN_NOTICE = timedelta(hours=24)
MAX_API_CONTEXT_BYTES = 2000


@dataclass(frozen=True)
class Entry:
    """One contact to enter, with the small JSON context of what entered them."""

    contact_id: int
    context: dict[str, Any]


# --- entering --------------------------------------------------------------------------------


def _may_enter(journey: Journey, last_entered: datetime | None, now: datetime) -> bool:
    if last_entered is None or journey.reentry == Reentry.ALWAYS:
        return True
    if journey.reentry == Reentry.EVERY:
        return last_entered <= now - timedelta(days=max(1, journey.reentry_days))
    return False  # once


def enter_many(
    journey: Journey, entries: Sequence[Entry], *, now: datetime | None = None
) -> list[JourneyRun]:
    """Enter contacts into an active journey; returns the runs made (others were refused
    by the re-entry rule, by a run with the same cause, or are erased / of another house).
    The runs are due at once; a job moves them on after commit."""
    if journey.status != JourneyStatus.ACTIVE or not entries:
        return []
    start = journey.definition.get("start") if isinstance(journey.definition, dict) else None
    if not isinstance(start, str) or not start:
        logger.warning("journey %s has no start step; nobody entered", journey.pk)
        return []
    now = now or timezone.now()
    with transaction.atomic():
        live = set(
            Contact.objects.select_for_update()
            .filter(
                organisation_id=journey.organisation_id,
                pk__in={e.contact_id for e in entries},
                erased_at__isnull=True,
            )
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        if not live:
            return []
        earlier = JourneyRun.objects.filter(journey=journey, contact_id__in=live)
        last: dict[int, datetime] = dict(
            earlier.values("contact_id")
            .annotate(last=Max("entered_at"))
            .values_list("contact_id", "last")
        )
        causes = sorted({str(e.context["cause"]) for e in entries if e.context.get("cause")})
        seen: set[tuple[int, str]] = set()
        if causes:
            seen = {
                (contact_id, str(cause))
                for contact_id, cause in earlier.filter(context__cause__in=causes).values_list(
                    "contact_id", "context__cause"
                )
            }
        fresh: list[JourneyRun] = []
        for entry in entries:
            cause = str(entry.context.get("cause") or "")
            if entry.contact_id not in live or (cause and (entry.contact_id, cause) in seen):
                continue
            if not _may_enter(journey, last.get(entry.contact_id), now):
                continue
            fresh.append(
                JourneyRun(
                    organisation_id=journey.organisation_id,
                    journey=journey,
                    contact_id=entry.contact_id,
                    entered_at=now,
                    step_id=start,
                    status=RunStatus.WAITING,
                    due_at=now,
                    context=dict(entry.context),
                )
            )
            last[entry.contact_id] = now
            if cause:
                seen.add((entry.contact_id, cause))
        if not fresh:
            return []
        runs = JourneyRun.objects.bulk_create(fresh)
        StepEvent.objects.bulk_create(
            StepEvent(
                organisation_id=journey.organisation_id,
                journey=journey,
                run=run,
                step_id=start,
                event="entered",
                detail=str(run.context.get("cause", ""))[:300],
                at=now,
            )
            for run in runs
        )
        schedule_advance([r.pk for r in runs] if len(runs) <= ADVANCE_DIRECTLY else None)
    return runs


def enter(
    journey: Journey,
    contact: Contact,
    context: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> JourneyRun | None:
    """Enter one contact; None if the re-entry rule (or erasure) keeps them out."""
    runs = enter_many(journey, [Entry(contact.pk, dict(context or {}))], now=now)
    return runs[0] if runs else None


def _matches(journey: Journey, context: dict[str, Any]) -> bool:
    """Whether an event fits the trigger's settings (the tag, the purpose)."""
    config = public_config(journey)
    if journey.trigger == Trigger.TAG_ADDED:
        wanted = str(config.get("tag") or "").strip().casefold()
        return bool(wanted) and wanted == str(context.get("tag", "")).strip().casefold()
    if journey.trigger == Trigger.SUBSCRIBED and config.get("purpose"):
        return config["purpose"] in (context.get("purposes") or [])
    return True


def trigger(
    organisation: Organisation,
    trigger: str,
    contact: Contact,
    context: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> list[JourneyRun]:
    """Enter `contact` into every active journey of the organisation that starts with this
    trigger and whose settings match the event; returns the new runs."""
    if contact.organisation_id != organisation.pk:
        return []
    context = dict(context or {})
    runs: list[JourneyRun] = []
    journeys = Journey.objects.filter(
        organisation=organisation, trigger=trigger, status=JourneyStatus.ACTIVE
    ).order_by("pk")
    for journey in journeys:
        if _matches(journey, context):
            runs.extend(enter_many(journey, [Entry(contact.pk, context)], now=now))
    return runs


def fire_event(
    *, organisation_id: int, trigger_name: str, contact_id: int, context: dict[str, Any]
) -> list[int]:
    """`trigger` by ids (for jobs and after-commit hooks); the ids of the new runs."""
    organisation = Organisation.objects.filter(pk=organisation_id).first()
    contact = Contact.objects.filter(organisation_id=organisation_id, pk=contact_id).first()
    if organisation is None or contact is None:
        return []
    return [run.pk for run in trigger(organisation, trigger_name, contact, context)]


def trigger_api(
    *,
    journey: Journey,
    contact: Contact,
    context: dict[str, Any] | None = None,
    key: str = "",
) -> JourneyRun | None:
    """Enter a contact into a journey that starts by API call. `key` (the request's
    idempotency key) makes a repeated call enter nobody again. None: the re-entry rule
    keeps the contact out. Conflict if the journey is not on or starts otherwise."""
    if contact.organisation_id != journey.organisation_id:
        raise NotFound(_("There is no such contact in this organisation."))
    if journey.trigger != Trigger.API:
        raise Conflict(_("This journey does not start by API call."))
    if journey.status != JourneyStatus.ACTIVE:
        raise Conflict(_("This journey is not switched on."))
    context = dict(context or {})
    try:
        size = len(json.dumps(context))
    except (TypeError, ValueError) as exc:
        raise ValidationFailed(
            _("The context must be JSON."), fields={"context": [_("not JSON")]}
        ) from exc
    if size > MAX_API_CONTEXT_BYTES or any(str(k).startswith("_") for k in context):
        message = _("The context holds at most %(n)d bytes and no keys starting with '_'.") % {
            "n": MAX_API_CONTEXT_BYTES
        }
        raise ValidationFailed(message, fields={"context": [message]})
    context.pop("cause", None)
    if key:
        context["cause"] = f"api:{key[:150]}"
    return enter(journey, contact, context)


# --- event hooks (called by other modules' services, inside their transaction) ----------------


def _after_commit(
    organisation_id: int, trigger_name: str, contact_id: int, context: dict[str, Any]
) -> None:
    def fire() -> None:
        try:
            fire_event(
                organisation_id=organisation_id,
                trigger_name=trigger_name,
                contact_id=contact_id,
                context=context,
            )
        except Exception:
            logger.exception(
                "journeys: %s of contact %s not entered now; a job will retry",
                trigger_name,
                contact_id,
            )
            from publikum.journeys import engine_tasks

            engine_tasks.fire_event_job.enqueue(
                organisation_id=organisation_id,
                trigger_name=trigger_name,
                contact_id=contact_id,
                context=context,
            )

    transaction.on_commit(fire, robust=True)


def _booking_context(booking: Any, cause: str) -> dict[str, Any]:
    occurrence = booking.occurrence
    return {
        "cause": f"{cause}:{booking.pk}",
        "booking": booking.pk,
        "occurrence": occurrence.pk,
        "item": occurrence.item_id,
    }


def subscription_confirmed(subscription: Any) -> None:
    """Hook: a double opt-in was confirmed (`audience.consent.subscription_confirm`)."""
    _after_commit(
        subscription.organisation_id,
        Trigger.SUBSCRIBED,
        subscription.contact_id,
        {
            "cause": f"subscription:{subscription.pk}",
            "subscription": subscription.pk,
            "purposes": list(subscription.purposes),
        },
    )


def booking_made(booking: Any) -> None:
    """Hook: a booking was made (`bookings.services.booking_create`)."""
    if booking.contact_id is not None:
        _after_commit(
            booking.organisation_id,
            Trigger.BOOKING_MADE,
            booking.contact_id,
            _booking_context(booking, "booking"),
        )


def checked_in(booking: Any) -> None:
    """Hook: a visitor was checked in at the door (`bookings.services.booking_check_in`)."""
    if booking.contact_id is not None:
        _after_commit(
            booking.organisation_id,
            Trigger.CHECKED_IN,
            booking.contact_id,
            _booking_context(booking, "checkin"),
        )


def tags_changed(contact: Contact, *, before: Iterable[str]) -> None:
    """Hook: a contact's tags were written (`audience.services.contact_update`); each tag
    that is new (compared without case, as segments compare tags) is a "tag added"."""
    had = {str(t).casefold() for t in before}
    added = sorted({str(t) for t in contact.tags or [] if str(t).casefold() not in had})
    for tag in added:
        _after_commit(contact.organisation_id, Trigger.TAG_ADDED, contact.pk, {"tag": tag})


def item_published(item: Any) -> None:
    """Hook: a programme item became public. The interested contacts are found in a job."""
    from publikum.journeys import engine_tasks

    item_id = item.pk
    transaction.on_commit(lambda: engine_tasks.enter_new_item.enqueue(item_id=item_id), robust=True)


# --- scans -------------------------------------------------------------------------------------


def _active(trigger_name: str) -> list[int]:
    return list(
        Journey.objects.filter(trigger=trigger_name, status=JourneyStatus.ACTIVE)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def _journey(journey_id: int, *, lock: bool = False) -> Journey | None:
    journeys = Journey.objects.select_related("organisation")
    if lock:
        journeys = journeys.select_for_update(of=("self",))
    return journeys.filter(pk=journey_id, status=JourneyStatus.ACTIVE).first()


def _day_start(day: date, zone: Any) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def _local_today(journey: Journey, now: datetime) -> tuple[date, Any]:
    zone = organisation_zone(journey.organisation)
    return now.astimezone(zone).date(), zone


def scan_stage_changes(*, now: datetime | None = None) -> int:
    """Enter contacts whose lifecycle stage changed as a journey asks ("loyal" → "lapsing").
    Reads `LifecycleChange` rows after the journey's cursor (the first time: since it was
    switched on). Returns how many runs were made."""
    now = now or timezone.now()
    return sum(_scan_stage_journey(pk, now) for pk in _active(Trigger.STAGE_CHANGED))


def _scan_stage_journey(journey_id: int, now: datetime) -> int:
    entered = 0
    for _chunk in range(MAX_CHUNKS):
        with transaction.atomic():
            journey = _journey(journey_id, lock=True)  # the cursor is written under the lock
            if journey is None:
                return entered
            config = public_config(journey)
            if not config.get("to"):
                return entered
            changes = LifecycleChange.objects.filter(
                organisation_id=journey.organisation_id, to_stage=config["to"]
            )
            if config.get("from"):
                changes = changes.filter(from_stage=config["from"])
            cursor = (journey.trigger_config or {}).get("_cursor")
            if isinstance(cursor, int):
                changes = changes.filter(pk__gt=cursor)
            elif journey.activated_at is not None:
                changes = changes.filter(changed_at__gte=journey.activated_at)
            rows = list(
                changes.order_by("pk").values_list("pk", "contact_id", "from_stage", "to_stage")[
                    :CHUNK
                ]
            )
            if not rows:
                return entered
            entries = [
                Entry(contact_id, {"cause": f"change:{pk}", "change": pk, "from": old, "to": new})
                for pk, contact_id, old, new in rows
            ]
            entered += len(enter_many(journey, entries, now=now))
            journey.trigger_config = {**(journey.trigger_config or {}), "_cursor": rows[-1][0]}
            Journey.objects.filter(pk=journey.pk).update(trigger_config=journey.trigger_config)
        if len(rows) < CHUNK:
            return entered
    return entered


def _chunks(queryset: Any, fields: tuple[str, ...]) -> Iterable[list[tuple[Any, ...]]]:
    """Rows of `queryset` in primary-key order, CHUNK at a time (keyset, no OFFSET)."""
    after = 0
    for _chunk in range(MAX_CHUNKS):
        rows = list(queryset.filter(pk__gt=after).order_by("pk").values_list("pk", *fields)[:CHUNK])
        if not rows:
            return
        yield rows
        after = rows[-1][0]
        if len(rows) < CHUNK:
            return


def scan_birthdays(*, now: datetime | None = None) -> int:
    """Enter contacts whose birthday is today in the house's time zone (29 February counts
    on the 28th in other years), once per journey and day."""
    now = now or timezone.now()
    entered = 0
    for journey_id in _active(Trigger.BIRTHDAY):
        journey = _journey(journey_id)
        if journey is None:
            continue
        today, _zone = _local_today(journey, now)
        if (journey.trigger_config or {}).get("_day") == today.isoformat():
            continue
        born = Q(birthday__month=today.month, birthday__day=today.day)
        if today.month == 2 and today.day == 28 and not _leap(today.year):
            born |= Q(birthday__month=2, birthday__day=29)
        contacts = Contact.objects.filter(
            born, organisation_id=journey.organisation_id, erased_at__isnull=True
        )
        cause = {"cause": f"birthday:{today.year}"}
        complete = True
        for number, rows in enumerate(_chunks(contacts, ()), start=1):
            entered += len(enter_many(journey, [Entry(pk, dict(cause)) for (pk,) in rows], now=now))
            complete = number < MAX_CHUNKS or len(rows) < CHUNK
        if complete:
            _remember(journey.pk, "_day", today.isoformat())
    return entered


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def _remember(journey_id: int, key: str, value: Any) -> None:
    with transaction.atomic():
        journey = Journey.objects.select_for_update().filter(pk=journey_id).first()
        if journey is not None:
            journey.trigger_config = {**(journey.trigger_config or {}), key: value}
            Journey.objects.filter(pk=journey_id).update(trigger_config=journey.trigger_config)


def scan_dates(*, now: datetime | None = None) -> int:
    """The date triggers: the day after a visit (or a booked date that is over), and a
    booked date ahead. Returns how many runs were made."""
    now = now or timezone.now()
    entered = sum(_scan_date_passed(pk, now) for pk in _active(Trigger.DATE_PASSED))
    entered += sum(_scan_date_ahead(pk, now) for pk in _active(Trigger.BOOKED_DATE_AHEAD))
    return entered


def _compact(context: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in context.items() if v is not None}


def _scan_date_passed(journey_id: int, now: datetime) -> int:
    journey = _journey(journey_id)
    if journey is None:
        return 0
    config = public_config(journey)
    days_after = int(config.get("days_after", 1))
    today, zone = _local_today(journey, now)
    target = today - timedelta(days=days_after)  # the day of the visits due today
    first = target - timedelta(days=CATCH_UP_DAYS)
    if journey.activated_at is not None:
        switched_on = journey.activated_at.astimezone(zone).date()
        first = max(first, switched_on - timedelta(days=days_after))
    if first > target:
        return 0
    since, until = _day_start(first, zone), _day_start(target + timedelta(days=1), zone)
    entered = 0
    if config.get("after", "visit") == "booking":
        from publikum.bookings.models import Booking, BookingStatus
        from publikum.programme.models import OccurrenceStatus

        bookings = Booking.objects.filter(
            organisation_id=journey.organisation_id,
            status=BookingStatus.CONFIRMED,
            contact__isnull=False,
            occurrence__starts_at__gte=since,
            occurrence__starts_at__lt=until,
        ).exclude(occurrence__status=OccurrenceStatus.CANCELLED)
        for rows in _chunks(bookings, ("contact_id", "occurrence_id", "occurrence__item_id")):
            entries = [
                Entry(c, {"cause": f"booking:{pk}", "booking": pk, "occurrence": o, "item": i})
                for pk, c, o, i in rows
            ]
            entered += len(enter_many(journey, entries, now=now))
        return entered
    visits = Interaction.objects.filter(
        organisation_id=journey.organisation_id,
        kind=InteractionKind.VISIT,
        occurred_at__gte=since,
        occurred_at__lt=until,
    )
    for rows in _chunks(visits, ("contact_id", "occurrence_id", "item_id")):
        entries = [
            Entry(
                c,
                _compact({"cause": f"visit:{pk}", "interaction": pk, "occurrence": o, "item": i}),
            )
            for pk, c, o, i in rows
        ]
        entered += len(enter_many(journey, entries, now=now))
    return entered


def _scan_date_ahead(journey_id: int, now: datetime) -> int:
    from publikum.bookings.models import Booking, BookingStatus
    from publikum.programme.models import OccurrenceStatus

    journey = _journey(journey_id)
    if journey is None:
        return 0
    days_before = int(public_config(journey).get("days_before", 2))
    today, zone = _local_today(journey, now)
    horizon = _day_start(today + timedelta(days=days_before + 1), zone)
    bookings = Booking.objects.filter(
        organisation_id=journey.organisation_id,
        status=BookingStatus.CONFIRMED,
        contact__isnull=False,
        occurrence__starts_at__gt=now,
        occurrence__starts_at__lt=horizon,
        created_at__lte=F("occurrence__starts_at") - MIN_NOTICE,
    ).exclude(occurrence__status=OccurrenceStatus.CANCELLED)
    entered = 0
    for rows in _chunks(bookings, ("contact_id", "occurrence_id", "occurrence__item_id")):
        entries = [
            Entry(c, {"cause": f"booking:{pk}", "booking": pk, "occurrence": o, "item": i})
            for pk, c, o, i in rows
        ]
        entered += len(enter_many(journey, entries, now=now))
    return entered


def scan_segments(*, now: datetime | None = None) -> int:
    """Enter the members of a journey's segment who may enter (not in it already, or not
    within the re-entry days). Everyone in the segment when the journey is switched on
    enters too, as in Mautic: a segment says who is in it, not since when."""
    from publikum.audience.segments import segment_contacts

    now = now or timezone.now()
    entered = 0
    for journey_id in _active(Trigger.ENTERED_SEGMENT):
        journey = _journey(journey_id)
        if journey is None:
            continue
        segment = segment_of(journey)
        if segment is None:
            logger.warning("journey %s: its segment is gone; nobody entered", journey.pk)
            continue
        taken = JourneyRun.objects.filter(journey=journey)
        if journey.reentry != Reentry.ONCE:
            days = max(1, journey.reentry_days)
            taken = taken.filter(
                Q(status=RunStatus.WAITING) | Q(entered_at__gt=now - timedelta(days=days))
            )
        members = segment_contacts(segment=segment).exclude(pk__in=taken.values("contact_id"))
        context = {"segment": segment.pk}
        for rows in _chunks(members, ()):
            entries = [Entry(pk, dict(context)) for (pk,) in rows]
            entered += len(enter_many(journey, entries, now=now))
    return entered


def enter_new_item(*, item_id: int, now: datetime | None = None) -> int:
    """Enter the contacts interested in a theme of a newly published item into the
    house's "new programme item" journeys, once per item."""
    from publikum.programme.models import ProgrammeItem

    item = ProgrammeItem.objects.filter(pk=item_id, published=True).first()
    if item is None:
        return 0
    themes = list(item.themes.values_list("pk", flat=True))
    if not themes:
        return 0
    now = now or timezone.now()
    entered = 0
    journeys = Journey.objects.filter(
        organisation_id=item.organisation_id,
        trigger=Trigger.NEW_ITEM,
        status=JourneyStatus.ACTIVE,
    ).order_by("pk")
    for journey in journeys:
        interested = Contact.objects.filter(
            organisation_id=item.organisation_id,
            erased_at__isnull=True,
            pk__in=Contact.interests.through.objects.filter(theme_id__in=themes).values(
                "contact_id"
            ),
        )
        context = {"cause": f"item:{item.pk}", "item": item.pk}
        for rows in _chunks(interested, ()):
            entered += len(
                enter_many(journey, [Entry(pk, dict(context)) for (pk,) in rows], now=now)
            )
    return entered
