"""Programme services: items, prices, dates, series across daylight saving time, venues, themes."""

from __future__ import annotations

import io
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from django_tasks_db.models import DBTaskResult
from PIL import Image

from publikum.bookings.services import booking_create
from publikum.core.errors import Conflict, ValidationFailed
from publikum.core.models import AuditEntry
from publikum.programme import services
from publikum.programme.models import (
    Occurrence,
    OccurrenceStatus,
    PriceCategory,
    ProgrammeItem,
    Theme,
    Venue,
)
from publikum.programme.services import RecurrenceRule

BERLIN = ZoneInfo("Europe/Berlin")


def in_days(days: int, hour: int = 18) -> datetime:
    day = timezone.localtime(timezone.now(), BERLIN).date() + timedelta(days=days)
    return datetime.combine(day, time(hour), tzinfo=BERLIN)


@pytest.fixture
def theme(organisation) -> Theme:
    return services.theme_create(organisation=organisation, name_de="Stadtgeschichte")


@pytest.fixture
def venue(organisation) -> Venue:
    return services.venue_create(
        organisation=organisation, data={"name_de": "Großer Saal", "city": "Beispielstadt"}
    )


@pytest.fixture
def item(organisation, theme, venue) -> ProgrammeItem:
    return services.item_create(
        organisation=organisation,
        data={
            "kind": "tour",
            "title_de": "Führung durch die Altstadt",
            "title_en": "Old town tour",
            "themes": [theme.slug],
            "venue_id": venue.pk,
            "target_groups": ["adults", "seniors"],
            "accessibility": ["wheelchair"],
            "price_categories": [
                {"name_de": "Regulär", "name_en": "Regular", "price_eur": "12.50"},
                {"name_de": "Ermäßigt", "name_en": "Reduced", "price_eur": 8},
            ],
        },
    )


def png_bytes(size: tuple[int, int] = (40, 30), fmt: str = "PNG") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, format=fmt)
    return out.getvalue()


# --- items -------------------------------------------------------------------------------------


def test_an_item_is_created_with_themes_prices_and_a_slug_from_its_title(
    organisation, item, theme, venue, owner
) -> None:
    assert item.slug == "fuehrung-durch-die-altstadt"
    assert item.kind == "tour"
    assert list(item.themes.all()) == [theme]
    assert item.venue == venue
    assert [(c.name_de, c.price_eur) for c in item.price_categories.all()] == [
        ("Regulär", Decimal("12.50")),
        ("Ermäßigt", Decimal("8.00")),
    ]
    again = services.item_create(
        organisation=organisation, data={"title_de": "Führung durch die Altstadt"}, actor=owner
    )
    assert again.slug == "fuehrung-durch-die-altstadt-2"
    entry = AuditEntry.objects.filter(action="programme.item.created").latest("pk")
    assert entry.actor_user == owner
    assert entry.object_id == str(again.pk)


def test_bad_item_input_names_every_bad_field_and_writes_nothing(organisation, theme) -> None:
    with pytest.raises(ValidationFailed) as caught:
        services.item_create(
            organisation=organisation,
            data={
                "kind": "circus",
                "title_de": "",
                "themes": [theme.slug, "astrologie"],
                "target_groups": ["aliens"],
                "accessibility": ["teleport"],
                "venue_id": 999_999,
                "price_categories": [{"name_de": "Regulär", "price_eur": -1}],
                "colour": "blue",
            },
        )
    fields = caught.value.fields
    assert set(fields) == {
        "kind",
        "title_de",
        "themes",
        "target_groups",
        "accessibility",
        "venue_id",
        "price_categories",
        "colour",
    }
    assert "astrologie" in fields["themes"][0]
    assert "aliens" in fields["target_groups"][0]
    assert "negative" in fields["price_categories"][0]
    assert not ProgrammeItem.objects.exists()


def test_a_venue_of_another_organisation_is_unknown(organisation, other_organisation) -> None:
    foreign = services.venue_create(organisation=other_organisation, data={"name_de": "Fremd"})
    with pytest.raises(ValidationFailed) as caught:
        services.item_create(
            organisation=organisation, data={"title_de": "X", "venue_id": foreign.pk}
        )
    assert "venue_id" in caught.value.fields


def test_price_names_must_be_unique(organisation) -> None:
    with pytest.raises(ValidationFailed) as caught:
        services.item_create(
            organisation=organisation,
            data={
                "title_de": "Konzert",
                "price_categories": [
                    {"name_de": "Regulär", "price_eur": 10},
                    {"name_de": "regulär", "price_eur": 12},
                ],
            },
        )
    assert "twice" in caught.value.fields["price_categories"][0]
    assert not ProgrammeItem.objects.exists()


def test_a_partial_update_changes_only_the_given_keys_and_replaces_the_price_list(
    item, owner
) -> None:
    regular = item.price_categories.get(name_de="Regulär")
    services.item_update(
        item=item,
        data={
            "title_en": "Walk through the old town",
            "price_categories": [
                {"name_de": "Regulär", "name_en": "Regular", "price_eur": "14"},
                {"name_de": "Kinder", "name_en": "Children", "price_eur": "0"},
            ],
        },
        actor=owner,
    )
    item.refresh_from_db()
    assert item.title_de == "Führung durch die Altstadt"
    assert item.title_en == "Walk through the old town"
    assert item.themes.count() == 1
    prices = list(item.price_categories.all())
    assert [(c.name_de, c.price_eur) for c in prices] == [
        ("Regulär", Decimal("14.00")),
        ("Kinder", Decimal("0.00")),
    ]
    # The category that stayed keeps its identity (bookings point to it).
    assert prices[0].pk == regular.pk
    entry = AuditEntry.objects.get(action="programme.item.updated")
    assert entry.data == {"fields": ["price_categories", "title_en"]}


def test_a_slug_taken_by_another_item_is_refused(organisation, item) -> None:
    other = services.item_create(organisation=organisation, data={"title_de": "Anderes"})
    with pytest.raises(ValidationFailed) as caught:
        services.item_update(item=other, data={"slug": item.slug})
    assert caught.value.fields["slug"] == ["already used by another programme item"]


def test_an_image_needs_alt_text_in_both_languages_and_a_real_image_type(
    organisation, settings, tmp_path
) -> None:
    settings.MEDIA_ROOT = tmp_path
    upload = SimpleUploadedFile("bild.png", png_bytes(), content_type="image/png")
    with pytest.raises(ValidationFailed) as caught:
        services.item_create(
            organisation=organisation, data={"title_de": "Ausstellung", "image": upload}
        )
    assert set(caught.value.fields) == {"image_alt_de", "image_alt_en"}

    fake = SimpleUploadedFile("bild.jpg", b"GIF89a not really", content_type="image/jpeg")
    with pytest.raises(ValidationFailed) as caught:
        services.item_create(
            organisation=organisation,
            data={"title_de": "A", "image": fake, "image_alt_de": "x", "image_alt_en": "x"},
        )
    assert caught.value.fields["image"] == ["not a JPEG, PNG or WebP image"]

    gif = SimpleUploadedFile("bild.gif", png_bytes(fmt="GIF"), content_type="image/gif")
    with pytest.raises(ValidationFailed):
        services.item_create(
            organisation=organisation,
            data={"title_de": "A", "image": gif, "image_alt_de": "x", "image_alt_en": "x"},
        )
    big = SimpleUploadedFile("gross.png", b"\0" * (5 * 1024 * 1024 + 1))
    with pytest.raises(ValidationFailed) as caught:
        services.item_create(
            organisation=organisation,
            data={"title_de": "A", "image": big, "image_alt_de": "x", "image_alt_en": "x"},
        )
    assert caught.value.fields["image"] == ["larger than 5 MB"]
    assert not ProgrammeItem.objects.exists()

    upload.seek(0)
    item = services.item_create(
        organisation=organisation,
        data={
            "title_de": "Ausstellung",
            "image": SimpleUploadedFile("x y.webp", png_bytes(fmt="WEBP")),
            "image_alt_de": "Ein rotes Rechteck",
            "image_alt_en": "A red rectangle",
        },
    )
    assert item.image.name.endswith("ausstellung.webp")
    assert (tmp_path / item.image.name).exists()


def test_duplicate_copies_themes_and_prices_but_no_dates_as_an_unpublished_draft(
    item, owner
) -> None:
    services.occurrence_create(item=item, starts_at=in_days(3), ends_at=in_days(3, 20), capacity=9)
    copy = services.item_duplicate(item=item, actor=owner)
    assert copy.pk != item.pk
    assert copy.title_de == "Führung durch die Altstadt (Kopie)"
    assert copy.title_en == "Old town tour (copy)"
    assert copy.slug == "fuehrung-durch-die-altstadt-kopie"
    assert copy.published is False
    assert list(copy.themes.all()) == list(item.themes.all())
    assert [(c.name_de, c.price_eur) for c in copy.price_categories.all()] == [
        (c.name_de, c.price_eur) for c in item.price_categories.all()
    ]
    assert not copy.occurrences.exists()
    second = services.item_duplicate(item=item, actor=owner)
    assert second.slug == "fuehrung-durch-die-altstadt-kopie-2"
    assert AuditEntry.objects.filter(action="programme.item.duplicated").count() == 2


def test_cancelling_an_item_cancels_its_future_dates_only(item, owner) -> None:
    past = Occurrence.objects.create(
        organisation=item.organisation,
        item=item,
        starts_at=in_days(-3),
        ends_at=in_days(-3, 20),
        capacity=10,
    )
    future = [
        services.occurrence_create(
            item=item, starts_at=in_days(d), ends_at=in_days(d, 20), capacity=10
        )
        for d in (2, 9)
    ]
    assert services.item_cancel(item=item, actor=owner) == 2
    assert {o.status for o in Occurrence.objects.filter(pk__in=[o.pk for o in future])} == {
        OccurrenceStatus.CANCELLED
    }
    past.refresh_from_db()
    assert past.status == OccurrenceStatus.SCHEDULED
    assert services.item_cancel(item=item, actor=owner) == 0
    entry = AuditEntry.objects.get(action="programme.item.cancelled")
    assert sorted(entry.data["occurrence_ids"]) == sorted(o.pk for o in future)


# --- single dates --------------------------------------------------------------------------------


def test_a_date_is_added_and_audited(item, owner) -> None:
    occurrence = services.occurrence_create(
        item=item, starts_at=in_days(5), ends_at=in_days(5, 20), capacity=25, actor=owner
    )
    assert occurrence.organisation == item.organisation
    assert occurrence.capacity == 25
    assert AuditEntry.objects.filter(
        action="programme.occurrence.created", object_id=str(occurrence.pk)
    ).exists()


@pytest.mark.parametrize(
    ("starts", "ends", "capacity", "field"),
    [
        (-2, -1, 10, "ends_at"),  # over already
        (5, 4, 10, "ends_at"),
        (5, 5, -1, "capacity"),
        (5, 5, "zehn", "capacity"),
    ],
)
def test_bad_dates_are_refused(item, starts, ends, capacity, field) -> None:
    with pytest.raises(ValidationFailed) as caught:
        services.occurrence_create(
            item=item, starts_at=in_days(starts), ends_at=in_days(ends), capacity=capacity
        )
    assert field in caught.value.fields
    assert not Occurrence.objects.exists()


def test_a_running_exhibition_can_be_entered_with_its_opening_in_the_past(item) -> None:
    occurrence = services.occurrence_create(
        item=item, starts_at=in_days(-30), ends_at=in_days(60), capacity=0
    )
    assert occurrence.starts_at < timezone.now() < occurrence.ends_at


@pytest.fixture
def booked(item):
    """A date with 10 seats of which 4 are sold."""
    occurrence = services.occurrence_create(
        item=item, starts_at=in_days(4), ends_at=in_days(4, 20), capacity=10
    )
    booking_create(
        organisation=item.organisation,
        occurrence_id=occurrence.pk,
        name="Ada Lovelace",
        email="ada@example.org",
        quantity=4,
    )
    return occurrence


def test_capacity_cannot_drop_below_the_seats_sold(booked, owner) -> None:
    with pytest.raises(Conflict) as caught:
        services.occurrence_update(occurrence=booked, capacity=3, actor=owner)
    assert "4 seats" in caught.value.message
    assert caught.value.fields == {"capacity": ["at least 4 (seats sold)"]}
    booked.refresh_from_db()
    assert booked.capacity == 10
    # Exactly the seats sold is allowed: the date is then sold out.
    services.occurrence_update(occurrence=booked, capacity=4, actor=owner)
    booked.refresh_from_db()
    assert (booked.capacity, booked.status) == (4, OccurrenceStatus.SOLD_OUT)


def test_more_seats_reopen_a_sold_out_date_and_go_to_the_waiting_list(
    booked, owner, django_capture_on_commit_callbacks
) -> None:
    services.occurrence_update(occurrence=booked, capacity=4)
    with django_capture_on_commit_callbacks(execute=True):
        services.occurrence_update(occurrence=booked, capacity=12, actor=owner)
    booked.refresh_from_db()
    assert (booked.capacity, booked.status) == (12, OccurrenceStatus.SCHEDULED)
    jobs = DBTaskResult.objects.filter(task_path__endswith="offer_waitlist_seats")
    assert [j.args_kwargs["kwargs"] for j in jobs] == [{"occurrence_id": booked.pk}]
    entry = AuditEntry.objects.filter(action="programme.occurrence.updated").latest("pk")
    assert entry.data["changed"] == {"capacity": [4, 12]}


def test_fewer_seats_enqueue_nothing(booked, django_capture_on_commit_callbacks) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        services.occurrence_update(occurrence=booked, capacity=8)
    assert not DBTaskResult.objects.filter(task_path__endswith="offer_waitlist_seats").exists()


def test_a_date_is_moved_but_not_into_the_past_nor_to_end_before_it_starts(booked) -> None:
    with pytest.raises(ValidationFailed) as caught:
        services.occurrence_update(occurrence=booked, starts_at=in_days(-2))
    assert "starts_at" in caught.value.fields
    with pytest.raises(ValidationFailed) as caught:
        services.occurrence_update(occurrence=booked, ends_at=in_days(4, 17))
    assert "ends_at" in caught.value.fields
    moved = services.occurrence_update(
        occurrence=booked, starts_at=in_days(6, 19), ends_at=in_days(6, 21)
    )
    assert timezone.localtime(moved.starts_at, BERLIN) == in_days(6, 19)
    # A new start alone moves the end with it.
    moved = services.occurrence_update(occurrence=booked, starts_at=in_days(8, 10))
    assert moved.ends_at - moved.starts_at == timedelta(hours=2)


def test_cancelling_a_date_keeps_its_bookings_and_a_cancelled_date_cannot_change(
    booked, owner, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        services.occurrence_cancel(occurrence=booked, actor=owner)
    booked.refresh_from_db()
    assert booked.status == OccurrenceStatus.CANCELLED
    assert booked.bookings.filter(status="confirmed").count() == 1
    entry = AuditEntry.objects.get(action="programme.occurrence.cancelled")
    assert entry.data["seats_sold"] == 4
    with pytest.raises(Conflict):
        services.occurrence_cancel(occurrence=booked, actor=owner)
    with pytest.raises(Conflict):
        services.occurrence_update(occurrence=booked, capacity=20)


def test_a_past_date_cannot_be_cancelled(item) -> None:
    past = Occurrence.objects.create(
        organisation=item.organisation,
        item=item,
        starts_at=in_days(-1),
        ends_at=in_days(-1, 20),
        capacity=10,
    )
    with pytest.raises(Conflict):
        services.occurrence_cancel(occurrence=past)


# --- series --------------------------------------------------------------------------------------


def next_year_sunday_in(month: int, day: int) -> date:
    """A Sunday on or after `day` of `month` next year: always in the future."""
    start = date(timezone.now().year + 1, month, day)
    return start + timedelta(days=(6 - start.weekday()) % 7)


def test_every_sunday_at_11_stays_11_local_time_across_the_change_to_summer_time(
    item, owner
) -> None:
    first = next_year_sunday_in(3, 1)
    until = date(first.year, 4, 30)
    dates = services.occurrences_create_recurring(
        item=item,
        first_start=datetime.combine(first, time(11), tzinfo=BERLIN),
        duration=timedelta(hours=1, minutes=30),
        rule=RecurrenceRule(freq="weekly", weekdays=[6], until=until),
        capacity=20,
        actor=owner,
    )
    local = [timezone.localtime(o.starts_at, BERLIN) for o in dates]
    assert {(d.hour, d.minute, d.weekday()) for d in local} == {(11, 0, 6)}
    assert local[0].date() == first
    assert local[-1].date() <= until
    assert len(dates) == (until - first).days // 7 + 1  # every Sunday up to the end of April
    utc_hours = {o.starts_at.astimezone(ZoneInfo("UTC")).hour for o in dates}
    assert utc_hours == {10, 9}  # winter time: 10:00 UTC, summer time: 09:00 UTC
    ends = {timezone.localtime(o.ends_at, BERLIN).time() for o in dates}
    assert ends == {time(12, 30)}
    entry = AuditEntry.objects.get(action="programme.occurrence.series_created")
    assert entry.data["count"] == len(dates)


def test_a_weekly_series_on_two_weekdays_with_a_count_and_across_the_autumn_change(item) -> None:
    first = next_year_sunday_in(10, 15) - timedelta(days=6)  # a Monday in mid-October
    dates = services.occurrences_create_recurring(
        item=item,
        first_start=datetime.combine(first, time(19, 30), tzinfo=BERLIN),
        duration=timedelta(hours=2),
        rule=RecurrenceRule(freq="weekly", weekdays=[0, 3], count=6),
        capacity=40,
    )
    local = [timezone.localtime(o.starts_at, BERLIN) for o in dates]
    assert [d.weekday() for d in local] == [0, 3, 0, 3, 0, 3]
    assert {d.time() for d in local} == {time(19, 30)}


def test_daily_and_monthly_series(item) -> None:
    first = datetime.combine(next_year_sunday_in(1, 10), time(10), tzinfo=BERLIN)
    daily = services.recurrence_preview(
        organisation=item.organisation,
        first_start=first,
        duration=timedelta(hours=1),
        rule=RecurrenceRule(freq="daily", interval=2, count=3),
    )
    assert [s.date() for s, _ in daily] == [first.date() + timedelta(days=d) for d in (0, 2, 4)]
    monthly = services.recurrence_preview(
        organisation=item.organisation,
        first_start=first,
        duration=timedelta(hours=1),
        rule=RecurrenceRule(freq="monthly", until=date(first.year, 4, 30)),
    )
    assert [s.month for s, _ in monthly] == [1, 2, 3, 4]
    assert {s.day for s, _ in monthly} == {first.day}


@pytest.mark.parametrize(
    ("rule", "field"),
    [
        (RecurrenceRule(freq="hourly", count=3), "freq"),
        (RecurrenceRule(freq="weekly", interval=0, count=3), "interval"),
        (RecurrenceRule(freq="weekly", weekdays=[7], count=3), "weekdays"),
        (RecurrenceRule(freq="weekly"), "until"),
        (RecurrenceRule(freq="weekly", count=3, until=date(2099, 1, 1)), "until"),
        (RecurrenceRule(freq="daily", count=400), "count"),
        (RecurrenceRule(freq="daily", until=date(2099, 12, 31)), "until"),
    ],
)
def test_bad_series_are_refused_with_the_field_named(item, rule, field) -> None:
    with pytest.raises(ValidationFailed) as caught:
        services.occurrences_create_recurring(
            item=item,
            first_start=in_days(2),
            duration=timedelta(hours=1),
            rule=rule,
            capacity=10,
        )
    assert field in caught.value.fields
    assert not Occurrence.objects.exists()


def test_a_series_that_starts_in_the_past_is_refused(item) -> None:
    with pytest.raises(ValidationFailed) as caught:
        services.occurrences_create_recurring(
            item=item,
            first_start=in_days(-7),
            duration=timedelta(hours=1),
            rule=RecurrenceRule(freq="weekly", count=4),
            capacity=10,
        )
    assert "first_start" in caught.value.fields


def test_the_limit_of_dates_per_series_is_explained(item) -> None:
    with pytest.raises(ValidationFailed) as caught:
        services.occurrences_create_recurring(
            item=item,
            first_start=in_days(1),
            duration=timedelta(hours=1),
            rule=RecurrenceRule(freq="daily", until=in_days(400).date()),
            capacity=10,
        )
    assert "more than 366 dates" in caught.value.message
    assert not Occurrence.objects.exists()


# --- venues and themes ---------------------------------------------------------------------------


def test_venues_are_unique_by_name_and_only_one_is_the_main_venue(organisation, venue) -> None:
    with pytest.raises(Conflict):
        services.venue_create(organisation=organisation, data={"name_de": "großer saal"})
    main = services.venue_create(
        organisation=organisation, data={"name_de": "Museum", "is_main": True}
    )
    services.venue_update(venue=venue, data={"is_main": True, "latitude": "51,5"})
    main.refresh_from_db()
    venue.refresh_from_db()
    assert (main.is_main, venue.is_main) == (False, True)
    assert venue.latitude == Decimal("51.500000")
    with pytest.raises(ValidationFailed) as caught:
        services.venue_update(
            venue=venue, data={"name_de": "", "country": "Deutschland", "longitude": 200}
        )
    assert set(caught.value.fields) == {"name_de", "country", "longitude"}
    assert AuditEntry.objects.filter(action__startswith="programme.venue.").count() == 3


def test_themes_get_a_slug_and_duplicates_are_refused(organisation, theme) -> None:
    assert theme.slug == "stadtgeschichte"
    assert theme.name_en == "Stadtgeschichte"
    new = services.theme_create(
        organisation=organisation, name_de="Fotografie & Film", name_en="Photography"
    )
    assert new.slug == "fotografie-film"
    with pytest.raises(Conflict):
        services.theme_create(organisation=organisation, name_de="Stadtgeschichte")
    with pytest.raises(ValidationFailed):
        services.theme_create(organisation=organisation, name_de="X", slug="Nicht gültig")
    assert Theme.objects.filter(organisation=organisation).count() == 2
    assert PriceCategory.objects.count() == 0
