"""What enters contacts into journeys: real service calls (subscription confirmed, booking,
check-in, tag, published item), the API, and the periodic scans, which never enter twice.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from django.utils import translation

from publikum.audience import consent
from publikum.audience.models import Contact, InteractionKind, LifecycleChange, Segment
from publikum.audience.services import contact_update, interaction_record
from publikum.bookings.models import Booking, BookingStatus
from publikum.bookings.services import SoldOut, booking_check_in
from publikum.bookings.tests.factories import book, immediate_tasks, make_date
from publikum.core.errors import Conflict, NotFound, ValidationFailed
from publikum.journeys import triggers
from publikum.journeys.engine import advance_due, journey_pause
from publikum.journeys.models import Journey, JourneyRun, Reentry, RunStatus, Trigger
from publikum.journeys.tests.test_engine import BERLIN, NOW, make_journey, person
from publikum.programme.models import Occurrence, Theme
from publikum.programme.services import item_create, item_update

pytestmark = pytest.mark.django_db

__all__ = ["immediate_tasks"]

TAG_IT = [{"id": "mark", "type": "tag", "add": "erreicht"}]


@pytest.fixture(autouse=True)
def _english() -> Iterator[None]:
    with translation.override("en"):
        yield


def runs_of(journey: Journey) -> list[JourneyRun]:
    return list(JourneyRun.objects.filter(journey=journey).order_by("pk"))


def entered(journey: Journey) -> list[Contact]:
    return [run.contact for run in runs_of(journey)]


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=BERLIN)


# --- events of other modules ----------------------------------------------------------------------


def test_confirming_a_subscription_enters_the_matching_journeys_within_the_request(
    organisation, other_organisation, immediate_tasks, django_capture_on_commit_callbacks
):
    welcome = make_journey(organisation, TAG_IT, trigger=Trigger.SUBSCRIBED, reentry=Reentry.ONCE)
    offers_only = make_journey(
        organisation, TAG_IT, trigger=Trigger.SUBSCRIBED, config={"purpose": "offers"}
    )
    paused = make_journey(organisation, TAG_IT, trigger=Trigger.SUBSCRIBED)
    journey_pause(journey=paused)
    elsewhere = make_journey(other_organisation, TAG_IT, trigger=Trigger.SUBSCRIBED)
    on_booking = make_journey(organisation, TAG_IT, trigger=Trigger.BOOKING_MADE)
    subscription = consent.subscription_create(
        organisation=organisation, email="ida@example.org", purposes=["newsletter"], language="de"
    )
    token = consent.confirmation_token(subscription)

    with django_capture_on_commit_callbacks(execute=True):
        consent.subscription_confirm(organisation=organisation, token=token)
    with django_capture_on_commit_callbacks(execute=True):
        consent.subscription_confirm(organisation=organisation, token=token)  # opened twice

    [run] = runs_of(welcome)
    assert run.contact.email == "ida@example.org"
    assert run.context == {
        "cause": f"subscription:{subscription.pk}",
        "subscription": subscription.pk,
        "purposes": ["newsletter"],
    }
    # The advance job ran after the commit: the first step is done already.
    assert run.status == RunStatus.DONE
    assert run.contact.tags == ["erreicht"]
    assert (
        runs_of(offers_only) == runs_of(paused) == runs_of(elsewhere) == runs_of(on_booking) == []
    )


def test_a_booking_and_its_check_in_enter_their_journeys(
    organisation, immediate_tasks, django_capture_on_commit_callbacks
):
    on_booking = make_journey(organisation, TAG_IT, trigger=Trigger.BOOKING_MADE)
    on_visit = make_journey(organisation, TAG_IT, trigger=Trigger.CHECKED_IN)
    occurrence = make_date(organisation, starts_in=timedelta(days=1))

    with django_capture_on_commit_callbacks(execute=True):
        booking = book(occurrence, email="gast@example.org", quantity=2)
    [run] = runs_of(on_booking)
    assert run.contact == booking.contact
    assert run.context == {
        "cause": f"booking:{booking.pk}",
        "booking": booking.pk,
        "occurrence": occurrence.pk,
        "item": occurrence.item_id,
    }
    assert run.status == RunStatus.DONE
    assert runs_of(on_visit) == []

    with django_capture_on_commit_callbacks(execute=True):
        booking_check_in(organisation=organisation, code=booking.code, now=occurrence.starts_at)
    with django_capture_on_commit_callbacks(execute=True):
        booking_check_in(organisation=organisation, code=booking.code, now=occurrence.starts_at)

    [visit] = runs_of(on_visit)
    assert visit.context["cause"] == f"checkin:{booking.pk}"
    assert visit.contact == booking.contact
    assert len(runs_of(on_booking)) == 1


def test_a_booking_that_is_refused_enters_nobody(
    organisation, immediate_tasks, django_capture_on_commit_callbacks
):
    on_booking = make_journey(organisation, TAG_IT, trigger=Trigger.BOOKING_MADE)
    occurrence = make_date(organisation, capacity=1)

    with django_capture_on_commit_callbacks(execute=True):
        book(occurrence, email="first@example.org")
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(SoldOut):
        book(occurrence, email="second@example.org")

    assert [c.email for c in entered(on_booking)] == ["first@example.org"]


def test_adding_a_tag_enters_the_journey_of_that_tag(
    organisation, immediate_tasks, django_capture_on_commit_callbacks
):
    press = make_journey(
        organisation,
        [{"id": "e", "type": "end"}],
        trigger=Trigger.TAG_ADDED,
        config={"tag": "presse"},
    )
    anna = person(organisation, tags=["vip"])

    def tags(*values: str) -> None:
        with django_capture_on_commit_callbacks(execute=True):
            contact_update(contact=anna, tags=list(values))

    tags("vip", "Presse")  # added: enters (tags compare without case)
    tags("vip", "Presse", "lokal")  # not added again
    tags("vip")  # removed
    tags("vip", "presse")  # added again: enters again (re-entry "always")

    assert [run.context for run in runs_of(press)] == [{"tag": "Presse"}, {"tag": "presse"}]


def test_publishing_a_programme_item_enters_interested_contacts_in_a_job(
    organisation, immediate_tasks, django_capture_on_commit_callbacks
):
    photo = Theme.objects.create(
        organisation=organisation, slug="fotografie", name_de="Fotografie", name_en="Photography"
    )
    Theme.objects.create(organisation=organisation, slug="musik", name_de="Musik", name_en="Music")
    news = make_journey(organisation, [{"id": "e", "type": "end"}], trigger=Trigger.NEW_ITEM)
    fan, other, erased = person(organisation), person(organisation), person(organisation)
    fan.interests.add(photo)
    erased.interests.add(photo)
    Contact.objects.filter(pk=erased.pk).update(erased_at=NOW)
    other.interests.set(Theme.objects.filter(slug="musik"))

    with django_capture_on_commit_callbacks(execute=True):
        item = item_create(
            organisation=organisation,
            data={"title_de": "Licht und Schatten", "themes": ["fotografie"], "published": False},
        )
    assert runs_of(news) == []  # a draft is not news
    with django_capture_on_commit_callbacks(execute=True):
        item_update(item=item, data={"published": True})
    with django_capture_on_commit_callbacks(execute=True):
        item_update(item=item, data={"title_de": "Licht und Schatten!"})  # still the same item

    [run] = runs_of(news)
    assert (run.contact, run.context) == (fan, {"cause": f"item:{item.pk}", "item": item.pk})


def test_the_api_trigger_enters_once_per_key(organisation, other_organisation):
    api = make_journey(organisation, [{"id": "e", "type": "end"}], trigger=Trigger.API)
    anna = person(organisation)

    first = triggers.trigger_api(journey=api, contact=anna, context={"source": "crm"}, key="k1")
    again = triggers.trigger_api(journey=api, contact=anna, context={"source": "crm"}, key="k1")

    assert first is not None
    assert first.context == {"source": "crm", "cause": "api:k1"}
    assert again is None
    with pytest.raises(NotFound):
        triggers.trigger_api(journey=api, contact=person(other_organisation))
    with pytest.raises(ValidationFailed):
        triggers.trigger_api(journey=api, contact=anna, context={"_attempts": 9})
    tagged = make_journey(organisation, TAG_IT, trigger=Trigger.TAG_ADDED, config={"tag": "x"})
    with pytest.raises(Conflict, match="does not start by API call"):
        triggers.trigger_api(journey=tagged, contact=anna)
    journey_pause(journey=api)
    with pytest.raises(Conflict, match="not switched on"):
        triggers.trigger_api(journey=api, contact=anna, key="k2")


# --- scans ----------------------------------------------------------------------------------------


def change(contact: Contact, old: str, new: str, at: datetime) -> LifecycleChange:
    return LifecycleChange.objects.create(
        organisation_id=contact.organisation_id,
        contact=contact,
        from_stage=old,
        to_stage=new,
        changed_at=at,
    )


def test_the_stage_change_scan_enters_each_change_once(organisation):
    win_back = make_journey(
        organisation,
        TAG_IT,
        trigger=Trigger.STAGE_CHANGED,
        config={"from": "loyal", "to": "lapsing"},
        reentry=Reentry.EVERY,
        reentry_days=180,
    )
    anna, ben, cem, dora = (person(organisation) for _ in range(4))
    change(dora, "loyal", "lapsing", NOW - timedelta(days=2))  # before it was switched on
    first = change(anna, "loyal", "lapsing", NOW - timedelta(hours=1))
    change(ben, "regular", "lapsing", NOW - timedelta(hours=1))  # from another stage
    last = change(cem, "loyal", "lapsing", NOW - timedelta(hours=1))

    assert triggers.scan_stage_changes(now=NOW) == 2
    assert triggers.scan_stage_changes(now=NOW) == 0

    assert entered(win_back) == [anna, cem]
    assert runs_of(win_back)[0].context == {
        "cause": f"change:{first.pk}",
        "change": first.pk,
        "from": "loyal",
        "to": "lapsing",
    }
    win_back.refresh_from_db()
    assert win_back.trigger_config["_cursor"] == last.pk
    # Lost cursor (an editor saved the old settings): the causes still keep anyone out.
    win_back.trigger_config = {"from": "loyal", "to": "lapsing"}
    win_back.save()
    assert triggers.scan_stage_changes(now=NOW) == 0
    # A new change of the same person within 180 days: re-entry says no.
    change(anna, "loyal", "lapsing", NOW + timedelta(days=10))
    assert triggers.scan_stage_changes(now=NOW + timedelta(days=10)) == 0
    assert len(runs_of(win_back)) == 2


def test_the_birthday_scan_uses_the_house_calendar_and_enters_once_a_year(organisation):
    birthday = make_journey(
        organisation, TAG_IT, trigger=Trigger.BIRTHDAY, reentry=Reentry.EVERY, reentry_days=300
    )
    march = person(organisation, birthday=date(1980, 2, 28))
    leap = person(organisation, birthday=date(1992, 2, 29))
    person(organisation, birthday=date(1980, 3, 1))
    person(organisation)  # no birthday known
    person(organisation, birthday=date(1970, 2, 28), erased_at=NOW)

    # 00:30 on 28 February 2027 in Berlin (still the 27th in UTC); 2027 has no 29 February.
    just_after_midnight = datetime(2027, 2, 27, 23, 30, tzinfo=UTC)
    assert triggers.scan_birthdays(now=just_after_midnight) == 2
    assert triggers.scan_birthdays(now=just_after_midnight + timedelta(hours=5)) == 0
    assert sorted(c.pk for c in entered(birthday)) == sorted([march.pk, leap.pk])
    assert {r.context["cause"] for r in runs_of(birthday)} == {"birthday:2027"}

    # 2028 is a leap year: each on their own day.
    assert triggers.scan_birthdays(now=local(date(2028, 2, 28), 10)) == 1
    assert triggers.scan_birthdays(now=local(date(2028, 2, 29), 10)) == 1
    assert len(runs_of(birthday)) == 4


def test_the_day_after_a_visit_scan_enters_yesterdays_visitors_once(organisation):
    thanks = make_journey(
        organisation, TAG_IT, trigger=Trigger.DATE_PASSED, reentry=Reentry.EVERY, reentry_days=30
    )
    today = NOW.date()
    occurrence = make_date(organisation, starts_at=local(today - timedelta(days=1), 11))
    yesterday, just_now, long_ago = (person(organisation) for _ in range(3))
    visit = interaction_record(
        contact=yesterday,
        kind=InteractionKind.VISIT,
        occurrence=occurrence,
        occurred_at=local(today - timedelta(days=1), 23, 30),
    )
    interaction_record(
        contact=just_now, kind=InteractionKind.VISIT, occurred_at=local(today, 0, 30)
    )
    interaction_record(
        contact=long_ago,
        kind=InteractionKind.VISIT,
        occurred_at=local(today - timedelta(days=6), 12),
    )

    assert triggers.scan_dates(now=NOW) == 1
    assert triggers.scan_dates(now=NOW + timedelta(minutes=15)) == 0

    [run] = runs_of(thanks)
    assert run.contact == yesterday
    assert run.context == {
        "cause": f"visit:{visit.pk}",
        "interaction": visit.pk,
        "occurrence": occurrence.pk,
        "item": occurrence.item_id,
    }
    assert triggers.scan_dates(now=NOW + timedelta(days=1)) == 1  # today's visitor, tomorrow


def test_the_day_after_a_booked_date_scan_can_count_bookings(organisation):
    thanks = make_journey(
        organisation, TAG_IT, trigger=Trigger.DATE_PASSED, config={"after": "booking"}
    )
    past = make_date(organisation, starts_at=local(NOW.date() - timedelta(days=1), 19))
    guest, cancelled = person(organisation), person(organisation)
    booked = past_booking(past, guest)
    past_booking(past, cancelled, status=BookingStatus.CANCELLED)

    assert triggers.scan_dates(now=NOW) == 1
    assert triggers.scan_dates(now=NOW) == 0

    assert [(r.contact, r.context["booking"]) for r in runs_of(thanks)] == [(guest, booked.pk)]


_codes = iter(range(10**6, 10**7))


def past_booking(occurrence: Occurrence, contact: Contact, **fields: Any) -> Booking:
    """A booking as it stands in the database (bookings of past dates cannot be made)."""
    values: dict[str, Any] = {
        "organisation": occurrence.organisation,
        "occurrence": occurrence,
        "code": f"T{next(_codes)}",
        "contact": contact,
        "name": contact.first_name,
        "email": contact.email,
        "quantity": 1,
        "source": "web",
        **fields,
    }
    return Booking.objects.create(**values)


def test_the_date_ahead_scan_enters_bookings_two_days_before_their_date(organisation):
    reminder = make_journey(
        organisation,
        [
            {
                "id": "morning",
                "type": "wait",
                "until": {"weekday": None, "time": "09:00"},
                "next": "t",
            },
            {"id": "t", "type": "tag", "add": "erinnert"},
        ],
        trigger=Trigger.BOOKED_DATE_AHEAD,
        config={"days_before": 2},
    )
    in_two_days = make_date(organisation, starts_at=local(NOW.date() + timedelta(days=2), 22))
    in_three_days = make_date(organisation, starts_at=local(NOW.date() + timedelta(days=3), 10))
    tonight = make_date(organisation, starts_at=local(NOW.date(), 20))
    early, later, last_minute, dropped = (person(organisation) for _ in range(4))
    week_ago = NOW - timedelta(days=7)
    booking = past_booking(in_two_days, early, created_at=week_ago)
    past_booking(in_three_days, later, created_at=week_ago)
    past_booking(tonight, last_minute, created_at=NOW - timedelta(hours=2))
    past_booking(in_two_days, dropped, created_at=week_ago, status=BookingStatus.CANCELLED)

    assert triggers.scan_dates(now=NOW) == 1
    assert triggers.scan_dates(now=NOW) == 0
    [run] = runs_of(reminder)
    assert run.contact == early
    assert run.context["booking"] == booking.pk

    # Cancelled while waiting: the run leaves instead of reminding.
    advance_due(now=NOW)
    Booking.objects.filter(pk=booking.pk).update(
        status=BookingStatus.CANCELLED, cancelled_at=NOW + timedelta(hours=1)
    )
    advance_due(now=NOW + timedelta(days=1))
    run.refresh_from_db()
    assert run.status == RunStatus.EXITED
    assert run.events.order_by("pk").last().detail == "the booking was cancelled"
    early.refresh_from_db()
    assert early.tags == []


def test_the_segment_scan_enters_members_who_may_enter(organisation):
    vips = Segment.objects.create(organisation=organisation, name="VIP", rules={"tag": "vip"})
    journey = make_journey(
        organisation,
        TAG_IT,
        trigger=Trigger.ENTERED_SEGMENT,
        config={"segment": vips.pk},
        reentry=Reentry.ONCE,
    )
    first, second = person(organisation, tags=["vip"]), person(organisation, tags=["VIP"])
    person(organisation, tags=["presse"])

    assert triggers.scan_segments(now=NOW) == 2
    assert triggers.scan_segments(now=NOW) == 0
    newcomer = person(organisation, tags=["vip"])
    assert triggers.scan_segments(now=NOW) == 1

    assert sorted(c.pk for c in entered(journey)) == sorted([first.pk, second.pk, newcomer.pk])
    assert runs_of(journey)[0].context == {"segment": vips.pk}


def test_scans_skip_journeys_that_are_not_on(organisation, other_organisation):
    paused = make_journey(
        organisation, TAG_IT, trigger=Trigger.STAGE_CHANGED, config={"to": "lapsing"}
    )
    journey_pause(journey=paused)
    anna = person(organisation)
    change(anna, "loyal", "lapsing", NOW)

    assert triggers.scan_stage_changes(now=NOW) == 0
    assert runs_of(paused) == []
