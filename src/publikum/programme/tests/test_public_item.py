"""One programme item's public page at /<org>/programme/<slug>/."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from publikum.core.models import Organisation
from publikum.programme.models import ItemKind, OccurrenceStatus, ProgrammeItem
from publikum.programme.tests.public_factories import (
    add_date,
    book,
    local,
    make_item,
    make_theme,
    make_venue,
    text,
    visitor,
)

pytestmark = pytest.mark.django_db


def item_url(item: ProgrammeItem) -> str:
    return reverse("public_item", kwargs={"org": item.organisation.slug, "slug": item.slug})


def book_url(organisation: Organisation, occurrence_id: int) -> str:
    return reverse("public_book", kwargs={"org": organisation.slug, "occurrence_id": occurrence_id})


def png() -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 6), (120, 40, 60)).save(buffer, format="PNG")
    return SimpleUploadedFile("plakat.png", buffer.getvalue(), content_type="image/png")


@pytest.fixture
def media(settings: Any, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = tmp_path


def test_item_page_shows_everything_a_visitor_needs(
    organisation: Organisation, media: None
) -> None:
    # given a concert with an image, themes, audiences, accessibility, venue and prices
    theme = make_theme(organisation, "musik", "Musik", "Music")
    venue = make_venue(organisation)
    concert = make_item(
        organisation,
        "kammerkonzert",
        kind=ItemKind.CONCERT,
        title_de="Kammerkonzert im Saal",
        title_en="Chamber concert in the hall",
        summary_en="Strings by candlelight.",
        description_en="First paragraph.\n\nSecond <b>paragraph</b> & more.",
        themes=[theme],
        target_groups=["adults", "seniors"],
        accessibility=["wheelchair", "induction_loop"],
        venue=venue,
        image=png(),
        image_alt_en="Four musicians on a stage",
    )
    date = add_date(concert, local(organisation, days=6, hour=20), capacity=50)

    # when a visitor opens its page in English
    response = visitor("en").get(item_url(concert))

    # then they find all of it, escaped and in their language
    assert response.status_code == 200
    page = response.content.decode()
    readable = text(response)
    assert re.search(r"<h1>Chamber concert in the hall</h1>", page)
    assert page.count("<h1") == 1
    assert re.search(
        r'<img src="/media/programme/[^"]+\.png" alt="Four musicians on a stage">', page
    )
    assert "Strings by candlelight." in readable
    assert "<p>First paragraph.</p>" in page
    assert "<p>Second &lt;b&gt;paragraph&lt;/b&gt; &amp; more.</p>" in page
    assert "Concert" in readable
    assert "Music" in readable
    assert "Adults, Seniors" in readable
    assert "Wheelchair accessible, Induction loop" in readable
    assert "Great Hall Kornmarkt 1 12345 Beispielstadt" in readable
    assert "Entrance by the river." in readable
    assert "Regular: 12.00 €" in readable
    assert "Reduced: 8.50 €" in readable
    osm = re.search(r'href="(https://www\.openstreetmap\.org/[^"]+)"', page)
    assert osm
    assert "mlat=51.123456&amp;mlon=7.654321" in osm.group(1)
    assert f'id="date-{date.pk}"' in page
    assert f'href="{book_url(organisation, date.pk)}"' in page
    assert response["Cache-Control"] == "public, max-age=60"


def test_item_page_in_german(organisation: Organisation) -> None:
    item = make_item(organisation, "rundgang", title_de="Rundgang", title_en="Walk")
    add_date(item, local(organisation, days=2))

    response = visitor("de").get(item_url(item))

    assert '<html lang="de">' in response.content.decode()
    assert "<h1>Rundgang</h1>" in response.content.decode()
    assert "Regulär: 12,00 €" in text(response)


def test_dates_offer_booking_the_waiting_list_or_nothing(organisation: Organisation) -> None:
    item = make_item(organisation, "fuehrung", title_en="Tour")
    free = add_date(item, local(organisation, days=1), capacity=10)
    full = add_date(item, local(organisation, days=2), capacity=2)
    cancelled = add_date(item, local(organisation, days=3), status=OccurrenceStatus.CANCELLED)
    past = add_date(item, local(organisation, days=-3))
    book(full, 2)

    response = visitor("en").get(item_url(item))

    page = response.content.decode()
    assert re.search(rf'href="{book_url(organisation, free.pk)}">Book<', page)
    assert re.search(rf'href="{book_url(organisation, full.pk)}">Join the waiting list<', page)
    assert book_url(organisation, cancelled.pk) not in page
    assert re.search(rf'id="date-{cancelled.pk}">.*?Cancelled', page)
    assert f'id="date-{past.pk}"' not in page


def test_an_exhibition_that_is_not_booked_here_has_no_booking_link(
    organisation: Organisation,
) -> None:
    show = make_item(organisation, "schau", kind=ItemKind.EXHIBITION, bookable=False)
    date = add_date(show, local(organisation, days=-10, hour=10), hours=24 * 90, capacity=0)

    response = visitor("en").get(item_url(show))

    assert f'id="date-{date.pk}"' in response.content.decode()
    assert book_url(organisation, date.pk) not in response.content.decode()
    assert "Sold out" not in text(response)


def test_drafts_unknown_slugs_and_other_houses_items_are_not_found(
    organisation: Organisation, other_organisation: Organisation
) -> None:
    draft = make_item(organisation, "entwurf", published=False)
    add_date(draft, local(organisation, days=2))
    theirs = make_item(other_organisation, "fremd")
    add_date(theirs, local(other_organisation, days=2))
    client = visitor("en")

    assert client.get(item_url(draft)).status_code == 404
    assert client.get(f"/{organisation.slug}/programme/gibt-es-nicht/").status_code == 404
    # the other house's item under this house's address
    assert client.get(f"/{organisation.slug}/programme/fremd/").status_code == 404
    assert client.get(item_url(theirs)).status_code == 200
    assert client.get("/kein-haus/programme/fremd/").status_code == 404
