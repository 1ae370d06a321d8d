"""Staff pages of the programme: what editors change and viewers only read, through real forms."""

from __future__ import annotations

import io
import re
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone
from PIL import Image

from publikum.bookings.services import booking_create
from publikum.core.models import AuditEntry, Role
from publikum.programme import services
from publikum.programme.models import Occurrence, OccurrenceStatus, ProgrammeItem

BERLIN = ZoneInfo("Europe/Berlin")


def in_days(days: int, hour: int = 18) -> datetime:
    day = timezone.localtime(timezone.now(), BERLIN).date() + timedelta(days=days)
    return datetime.combine(day, time(hour), tzinfo=BERLIN)


def local(value: datetime) -> str:
    return value.astimezone(BERLIN).strftime("%Y-%m-%dT%H:%M")


def client_for(user, *, csrf: bool = False, lang: str = "en") -> Client:
    client = Client(enforce_csrf_checks=csrf)
    client.force_login(user)
    client.cookies["django_language"] = lang
    return client


@pytest.fixture
def editor(organisation, member_factory):
    return member_factory(organisation, Role.EDITOR)


@pytest.fixture
def viewer(organisation, member_factory):
    return member_factory(organisation, Role.VIEWER)


@pytest.fixture
def item(organisation):
    services.theme_create(organisation=organisation, name_de="Fotografie", name_en="Photography")
    return services.item_create(
        organisation=organisation,
        data={
            "kind": "tour",
            "title_de": "Kuratorenführung",
            "title_en": "Curator's tour",
            "themes": ["fotografie"],
            "price_categories": [{"name_de": "Regulär", "name_en": "Regular", "price_eur": 9}],
        },
    )


def base(organisation) -> str:
    return f"/o/{organisation.slug}/programme/"


def item_post(**overrides) -> dict:
    data = {
        "kind": "concert",
        "title_de": "Kammerkonzert im Großen Saal",
        "title_en": "Chamber concert",
        "summary_de": "Streichquartett",
        "themes": ["fotografie"],
        "target_groups": ["adults", "seniors"],
        "accessibility": ["wheelchair"],
        "venue_id": "",
        "bookable": "on",
        "published": "on",
        "prices-TOTAL_FORMS": "2",
        "prices-INITIAL_FORMS": "0",
        "prices-MIN_NUM_FORMS": "0",
        "prices-MAX_NUM_FORMS": "20",
        "prices-0-name_de": "Regulär",
        "prices-0-name_en": "Regular",
        "prices-0-price_eur": "18,50",
        "prices-1-name_de": "Ermäßigt",
        "prices-1-price_eur": "12",
    }
    data.update(overrides)
    return data


def test_the_programme_is_in_the_navigation_and_lists_items_with_their_next_date(
    organisation, item, viewer
) -> None:
    occurrence = services.occurrence_create(
        item=item, starts_at=in_days(3, 11), ends_at=in_days(3, 12), capacity=20
    )
    booking_create(
        organisation=organisation,
        occurrence_id=occurrence.pk,
        name="Grace Hopper",
        email="grace@example.org",
        quantity=3,
    )
    services.item_create(
        organisation=organisation, data={"title_de": "Entwurf", "published": False}
    )
    client = client_for(viewer)
    page = client.get(f"/o/{organisation.slug}/").content.decode()
    assert f'href="{base(organisation)}"' in page

    page = client.get(base(organisation)).content.decode()
    row = re.search(r"<tr><td><a[^>]*>Kuratorenführung</a>.*?</tr>", page, re.S)
    assert row is not None
    assert "3 / 20" in row.group(0)
    assert in_days(3, 11).strftime("%d.%m.%Y 11:00") in row.group(0)
    assert "New programme item" not in page  # a viewer cannot create

    drafts = client.get(base(organisation), {"when": "drafts"}).content.decode()
    assert "Entwurf" in drafts
    assert "Kuratorenführung" not in drafts
    found = client.get(base(organisation), {"q": "kurator", "kind": "tour"}).content.decode()
    assert "Kuratorenführung" in found
    assert "Entwurf" not in found


def test_an_editor_creates_an_item_through_the_real_form_with_csrf(
    organisation, editor, item
) -> None:
    client = client_for(editor, csrf=True)
    form = client.get(f"{base(organisation)}new/")
    assert form.status_code == 200
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.content.decode())
    assert token is not None

    refused = client.post(f"{base(organisation)}new/", item_post())
    assert refused.status_code == 403  # no CSRF token
    response = client.post(
        f"{base(organisation)}new/", item_post(csrfmiddlewaretoken=token.group(1))
    )
    created = ProgrammeItem.objects.exclude(pk=item.pk).get(organisation=organisation)
    assert response.status_code == 302
    assert response["Location"] == f"{base(organisation)}{created.pk}/"
    assert created.kind == "concert"
    assert created.target_groups == ["adults", "seniors"]
    assert [(c.name_de, str(c.price_eur)) for c in created.price_categories.all()] == [
        ("Regulär", "18.50"),
        ("Ermäßigt", "12.00"),
    ]
    assert [t.slug for t in created.themes.all()] == ["fotografie"]
    page = client.get(response["Location"]).content.decode()
    assert "Kammerkonzert im Großen Saal" in page
    assert "18.50 €" in page
    entry = AuditEntry.objects.get(action="programme.item.created", object_id=str(created.pk))
    assert entry.actor_user == editor


def test_the_item_form_shows_clear_errors_and_saves_nothing(organisation, editor, item) -> None:
    client = client_for(editor)
    page = client.post(
        f"{base(organisation)}new/",
        item_post(
            title_de="",
            **{"prices-1-name_de": "Regulär", "prices-1-price_eur": "-3"},
        ),
    ).content.decode()
    assert "This field is required." in page
    assert "Ensure this value is greater than or equal to 0." in page
    assert ProgrammeItem.objects.count() == 1


def test_an_image_needs_descriptions_and_must_be_a_real_image(
    organisation, editor, item, settings, tmp_path
) -> None:
    settings.MEDIA_ROOT = tmp_path
    client = client_for(editor)
    out = io.BytesIO()
    Image.new("RGB", (30, 20), (10, 120, 40)).save(out, format="JPEG")
    url = f"{base(organisation)}{item.pk}/edit/"
    page = client.post(
        url,
        item_post(image=SimpleUploadedFile("foto.jpg", out.getvalue(), "image/jpeg")),
    ).content.decode()
    assert "Describe the image for people who cannot see it." in page
    text = SimpleUploadedFile("foto.png", b"%PDF-1.4 not an image", "image/png")
    page = client.post(
        url, item_post(image=text, image_alt_de="Foto", image_alt_en="Photo")
    ).content.decode()
    assert "Upload a valid image" in page
    gif = io.BytesIO()
    Image.new("RGB", (30, 20)).save(gif, format="GIF")
    page = client.post(
        url,
        item_post(
            image=SimpleUploadedFile("foto.gif", gif.getvalue(), "image/gif"),
            image_alt_de="Foto",
            image_alt_en="Photo",
        ),
    ).content.decode()
    assert "Please upload a JPEG, PNG or WebP image." in page
    item.refresh_from_db()
    assert not item.image

    response = client.post(
        url,
        item_post(
            image=SimpleUploadedFile("foto.jpg", out.getvalue(), "image/jpeg"),
            image_alt_de="Eine grüne Fläche",
            image_alt_en="A green area",
        ),
    )
    assert response.status_code == 302
    item.refresh_from_db()
    assert item.image.name.endswith(".jpg")
    page = client.get(response["Location"]).content.decode()
    assert 'alt="Eine grüne Fläche"' in page


def test_a_viewer_reads_but_cannot_change_anything(organisation, item, viewer) -> None:
    occurrence = services.occurrence_create(
        item=item, starts_at=in_days(2), ends_at=in_days(2, 20), capacity=10
    )
    client = client_for(viewer)
    assert client.get(f"{base(organisation)}{item.pk}/").status_code == 200
    assert client.get(f"{base(organisation)}venues/").status_code == 200
    assert client.get(f"{base(organisation)}themes/").status_code == 200
    forbidden = [
        f"{base(organisation)}new/",
        f"{base(organisation)}{item.pk}/edit/",
        f"{base(organisation)}{item.pk}/duplicate/",
        f"{base(organisation)}{item.pk}/cancel/",
        f"{base(organisation)}{item.pk}/dates/add/",
        f"{base(organisation)}dates/{occurrence.pk}/edit/",
        f"{base(organisation)}dates/{occurrence.pk}/cancel/",
        f"{base(organisation)}venues/new/",
    ]
    for url in forbidden:
        assert client.get(url).status_code == 403, url
        assert client.post(url, {}).status_code == 403, url
    assert client.post(f"{base(organisation)}themes/", {"name_de": "Neu"}).status_code == 403
    page = client.get(f"{base(organisation)}{item.pk}/").content.decode()
    assert "Add dates" not in page
    occurrence.refresh_from_db()
    assert occurrence.status == OccurrenceStatus.SCHEDULED
    assert ProgrammeItem.objects.count() == 1


def test_a_single_date_is_added_in_the_house_time_zone(organisation, editor, item) -> None:
    client = client_for(editor)
    url = f"{base(organisation)}{item.pk}/dates/add/"
    start = in_days(10, 19)
    response = client.post(
        url,
        {
            "form": "single",
            "single-starts_at": local(start),
            "single-ends_at": local(start + timedelta(hours=2)),
            "single-capacity": "80",
        },
    )
    assert response.status_code == 302
    occurrence = Occurrence.objects.get(item=item)
    assert occurrence.starts_at == start
    assert occurrence.capacity == 80

    page = client.post(
        url,
        {
            "form": "single",
            "single-starts_at": local(in_days(-1)),
            "single-ends_at": local(in_days(-2)),
            "single-capacity": "-1",
        },
    ).content.decode()
    assert "A new date must lie in the future." in page
    assert "The date cannot end before it starts." in page
    assert Occurrence.objects.filter(item=item).count() == 1


def test_a_series_is_previewed_before_it_is_created(organisation, editor, item) -> None:
    client = client_for(editor)
    url = f"{base(organisation)}{item.pk}/dates/add/"
    first = in_days(7, 11)
    post = {
        "form": "series",
        "series-first_start": local(first),
        "series-duration_minutes": "60",
        "series-freq": "weekly",
        "series-interval": "1",
        "series-weekdays": [str(first.weekday())],
        "series-count": "4",
        "series-capacity": "25",
        "action": "preview",
    }
    page = client.post(url, post).content.decode()
    assert "This creates 4 dates:" in page
    for week in range(4):
        assert (first + timedelta(weeks=week)).strftime("%d.%m.%Y 11:00") in page
    assert not Occurrence.objects.exists()

    response = client.post(url, {**post, "action": "create"})
    assert response.status_code == 302
    dates = list(Occurrence.objects.filter(item=item))
    assert [timezone.localtime(o.starts_at, BERLIN).time() for o in dates] == [time(11)] * 4
    assert {o.capacity for o in dates} == {25}

    page = client.post(
        url, {**post, "series-count": "", "series-until": "", "action": "preview"}
    ).content.decode()
    assert "Give an end date or a number of dates." in page


def test_editing_a_date_keeps_capacity_above_the_seats_sold(organisation, editor, item) -> None:
    occurrence = services.occurrence_create(
        item=item, starts_at=in_days(5), ends_at=in_days(5, 20), capacity=10
    )
    booking_create(
        organisation=organisation,
        occurrence_id=occurrence.pk,
        name="Ada",
        email="ada@example.org",
        quantity=6,
    )
    client = client_for(editor)
    url = f"{base(organisation)}dates/{occurrence.pk}/edit/"
    form = client.get(url).content.decode()
    assert local(occurrence.starts_at) in form
    page = client.post(
        url,
        {
            "starts_at": local(occurrence.starts_at),
            "ends_at": local(occurrence.ends_at),
            "capacity": "5",
        },
    ).content.decode()
    assert "6 seats are already sold or held for the waiting list" in page
    occurrence.refresh_from_db()
    assert occurrence.capacity == 10
    response = client.post(
        url,
        {
            "starts_at": local(in_days(5, 19)),
            "ends_at": local(in_days(5, 21)),
            "capacity": "6",
        },
    )
    assert response.status_code == 302
    occurrence.refresh_from_db()
    assert (occurrence.capacity, occurrence.status) == (6, OccurrenceStatus.SOLD_OUT)
    assert occurrence.starts_at == in_days(5, 19)


def test_cancelling_a_date_asks_first(organisation, editor, item) -> None:
    occurrence = services.occurrence_create(
        item=item, starts_at=in_days(5), ends_at=in_days(5, 20), capacity=10
    )
    client = client_for(editor)
    url = f"{base(organisation)}dates/{occurrence.pk}/cancel/"
    page = client.get(url).content.decode()
    assert "Cancel the date" in page
    occurrence.refresh_from_db()
    assert occurrence.status == OccurrenceStatus.SCHEDULED
    assert client.post(url).status_code == 302
    occurrence.refresh_from_db()
    assert occurrence.status == OccurrenceStatus.CANCELLED
    page = client.get(f"{base(organisation)}{item.pk}/").content.decode()
    assert "Cancelled" in page
    page = client.post(url).content.decode()
    assert "already been cancelled" in page


def test_duplicate_and_cancel_an_item(organisation, editor, item) -> None:
    for d in (3, 4):
        services.occurrence_create(
            item=item, starts_at=in_days(d), ends_at=in_days(d, 20), capacity=10
        )
    client = client_for(editor)
    response = client.post(f"{base(organisation)}{item.pk}/duplicate/")
    copy = ProgrammeItem.objects.exclude(pk=item.pk).get()
    assert response["Location"] == f"{base(organisation)}{copy.pk}/edit/"
    assert copy.title_de == "Kuratorenführung (Kopie)"
    assert not copy.published

    page = client.get(f"{base(organisation)}{item.pk}/cancel/").content.decode()
    assert "Cancel all 2 upcoming dates" in page
    client.post(f"{base(organisation)}{item.pk}/cancel/")
    assert set(item.occurrences.values_list("status", flat=True)) == {OccurrenceStatus.CANCELLED}


def test_venues_and_themes_are_created_and_edited(organisation, editor) -> None:
    client = client_for(editor)
    response = client.post(
        f"{base(organisation)}venues/new/",
        {"name_de": "Studiobühne", "city": "Beispielstadt", "country": "de", "latitude": "51.1"},
    )
    assert response.status_code == 302
    page = client.get(f"{base(organisation)}venues/").content.decode()
    assert "Studiobühne" in page
    venue = organisation.venues.get()
    assert venue.country == "DE"
    page = client.post(
        f"{base(organisation)}venues/{venue.pk}/", {"name_de": "Studiobühne", "country": "Germany"}
    ).content.decode()
    assert "Ensure this value has at most 2 characters" in page
    client.post(f"{base(organisation)}venues/new/", {"name_de": "Foyer", "country": "DE"})
    page = client.post(
        f"{base(organisation)}venues/new/", {"name_de": "foyer", "country": "DE"}
    ).content.decode()
    assert "There is already a venue with this name." in page

    response = client.post(f"{base(organisation)}themes/", {"name_de": "Design", "name_en": ""})
    assert response.status_code == 302
    page = client.get(f"{base(organisation)}themes/").content.decode()
    assert '<code class="small">design</code>' in page
    page = client.post(f"{base(organisation)}themes/", {"name_de": "design"}).content.decode()
    assert "There is already a theme with this name or slug." in page


def test_another_organisation_sees_nothing(organisation, other_organisation, item, member_factory):
    stranger = client_for(member_factory(other_organisation, Role.OWNER))
    assert stranger.get(f"{base(organisation)}{item.pk}/").status_code == 404
    assert stranger.get(f"{base(other_organisation)}{item.pk}/").status_code == 404
    page = stranger.get(base(other_organisation)).content.decode()
    assert "Kuratorenführung" not in page
