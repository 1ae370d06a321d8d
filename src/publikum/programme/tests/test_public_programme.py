"""The public programme at /<org>/programme/: what a visitor finds, filters and pages through."""

from __future__ import annotations

import html
import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from publikum.core.models import Organisation
from publikum.programme.models import ItemKind, OccurrenceStatus
from publikum.programme.selectors import quick_ranges, today_in
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


def programme_url(organisation: Organisation, query: str = "") -> str:
    url = reverse("public_programme", kwargs={"org": organisation.slug})
    return f"{url}?{query}" if query else url


def entry_titles(response) -> list[str]:  # type: ignore[no-untyped-def]
    page = response.content.decode()
    found = re.findall(
        r'data-testid="programme-entry">.*?<h3><a href="[^"]+">([^<]+)</a>', page, re.S
    )
    return [html.unescape(title) for title in found]


def date_states(page: str) -> dict[str, str]:
    """The state shown beside each date, by the date's start."""
    states = {}
    for entry in re.findall(r'<span class="date-when.*?</li>', page, re.S):
        start = re.search(r'<time datetime="([^"]+)"', entry)
        state = re.search(r'class="state state-(\w+)"', entry)
        assert start
        states[start.group(1)] = state.group(1) if state else ""
    return states


def test_programme_lists_upcoming_published_items_with_their_next_dates(
    organisation: Organisation, other_organisation: Organisation
) -> None:
    # given a tour with two dates, a past talk, a draft and another house's concert
    tour = make_item(organisation, "stadtfuehrung", title_en="Walk through the old town")
    add_date(tour, local(organisation, days=3, hour=11))
    add_date(tour, local(organisation, days=10, hour=11))
    past = make_item(organisation, "vortrag-alt", kind=ItemKind.TALK, title_en="An old talk")
    add_date(past, local(organisation, days=-2))
    draft = make_item(organisation, "entwurf", title_en="Secret draft", published=False)
    add_date(draft, local(organisation, days=4))
    elsewhere = make_item(other_organisation, "konzert", title_en="Another house's concert")
    add_date(elsewhere, local(other_organisation, days=4))

    # when a visitor opens the programme
    response = visitor("en").get(programme_url(organisation))

    # then they see the tour with both dates, and nothing else
    assert response.status_code == 200
    assert entry_titles(response) == ["Walk through the old town"]
    page = text(response)
    assert "1 event found" in page
    day3 = local(organisation, days=3, hour=11)
    assert response.content.decode().count(f'datetime="{day3.isoformat()}"') == 1
    assert "Secret draft" not in page
    assert "An old talk" not in page
    assert "Another house" not in page
    assert response["Cache-Control"] == "public, max-age=60"


def test_a_running_exhibition_is_listed_before_what_comes_next(organisation: Organisation) -> None:
    show = make_item(
        organisation, "ausstellung", kind=ItemKind.EXHIBITION, title_en="On show", bookable=False
    )
    add_date(show, local(organisation, days=-20, hour=10), hours=24 * 60, capacity=400)
    talk = make_item(organisation, "vortrag", kind=ItemKind.TALK, title_en="Tomorrow's talk")
    add_date(talk, local(organisation, days=1))

    response = visitor("en").get(programme_url(organisation))

    assert entry_titles(response) == ["On show", "Tomorrow's talk"]


def test_the_page_speaks_the_visitors_language(organisation: Organisation) -> None:
    item = make_item(organisation, "fuehrung", title_de="Rundgang", title_en="Walk")
    add_date(item, local(organisation, days=2))

    german = visitor("de").get(programme_url(organisation))
    english = visitor("en").get(programme_url(organisation))

    assert '<html lang="de">' in german.content.decode()
    assert entry_titles(german) == ["Rundgang"]
    assert '<html lang="en">' in english.content.decode()
    assert entry_titles(english) == ["Walk"]


def test_filters_by_kind_theme_target_group_and_accessibility(organisation: Organisation) -> None:
    history = make_theme(organisation, "stadtgeschichte", "Stadtgeschichte", "City history")
    photo = make_theme(organisation, "fotografie", "Fotografie", "Photography")
    kids = make_item(
        organisation,
        "kinder",
        kind=ItemKind.WORKSHOP,
        title_en="Kids' workshop",
        themes=[photo],
        target_groups=["children", "families"],
    )
    tour = make_item(
        organisation,
        "tour",
        title_en="History tour",
        themes=[history],
        target_groups=["adults"],
        accessibility=["wheelchair", "induction_loop"],
    )
    signed = make_item(
        organisation,
        "gebaerden",
        kind=ItemKind.TALK,
        title_en="Talk in sign language",
        themes=[history, photo],
        accessibility=["sign_language"],
    )
    for n, item in enumerate((kids, tour, signed)):
        add_date(item, local(organisation, days=2 + n))
    client = visitor("en")

    def titles(query: str) -> list[str]:
        return entry_titles(client.get(programme_url(organisation, query)))

    assert titles("kind=workshop") == ["Kids' workshop"]
    assert titles("theme=stadtgeschichte") == ["History tour", "Talk in sign language"]
    assert titles("group=children") == ["Kids' workshop"]
    assert titles("access=induction_loop") == ["History tour"]
    assert titles("theme=fotografie&kind=talk") == ["Talk in sign language"]
    # an unknown value is an error on its field, not a crash, and does not filter
    response = client.get(programme_url(organisation, "kind=circus"))
    assert response.status_code == 200
    assert "Select a valid choice" in text(response)
    assert len(entry_titles(response)) == 3


def test_filters_by_date_range_and_quick_choices(organisation: Organisation) -> None:
    today = today_in(organisation)
    soon = make_item(organisation, "heute", title_en="Today at eight")
    add_date(soon, local(organisation, days=0, hour=23, minute=30), hours=0.25)
    later = make_item(organisation, "spaeter", title_en="In three weeks")
    add_date(later, local(organisation, days=21))
    client = visitor("en")

    start = today + timedelta(days=20)
    end = today + timedelta(days=22)
    response = client.get(programme_url(organisation, f"from={start}&to={end}"))
    assert entry_titles(response) == ["In three weeks"]

    # the quick choices are links that set the dates and keep the other filters
    response = client.get(programme_url(organisation, "kind=tour"))
    page = response.content.decode()
    first, last = quick_ranges(today)["week"]
    assert f'href="?from={first}&amp;to={last}&amp;kind=tour"' in page
    response = client.get(programme_url(organisation, f"from={first}&to={last}&kind=tour"))
    assert entry_titles(response) == ["Today at eight"]
    assert 'aria-current="true"' in response.content.decode()

    # an end before the start is explained, and the start still filters
    response = client.get(programme_url(organisation, f"from={start}&to={today}"))
    assert "The end date must not be before the start date." in text(response)
    page = response.content.decode()
    assert re.search(r'<input[^>]*aria-describedby="id_to_error"[^>]*id="id_to"', page)
    assert 'id="id_to_error"' in page
    assert entry_titles(response) == ["In three weeks"]


def test_weekend_is_the_coming_saturday_and_sunday() -> None:
    from datetime import date

    wednesday = date(2026, 5, 6)
    assert quick_ranges(wednesday)["weekend"] == (date(2026, 5, 9), date(2026, 5, 10))
    saturday = date(2026, 5, 9)
    assert quick_ranges(saturday)["weekend"] == (saturday, date(2026, 5, 10))
    sunday = date(2026, 5, 10)
    assert quick_ranges(sunday)["weekend"] == (sunday, sunday)


def test_each_date_shows_sold_out_few_seats_or_cancelled(organisation: Organisation) -> None:
    item = make_item(organisation, "fuehrung", title_en="Tour")
    free = add_date(item, local(organisation, days=1), capacity=20)
    few = add_date(item, local(organisation, days=2), capacity=20)
    full = add_date(item, local(organisation, days=3), capacity=2)
    add_date(item, local(organisation, days=5), capacity=20)
    concert = make_item(organisation, "konzert", kind=ItemKind.CONCERT, title_en="Concert")
    cancelled = add_date(
        concert, local(organisation, days=4), capacity=20, status=OccurrenceStatus.CANCELLED
    )
    book(few, 18)
    book(full, 2)

    response = visitor("en").get(programme_url(organisation))

    page = response.content.decode()
    assert date_states(page) == {
        local(organisation, days=1).isoformat(): "",
        local(organisation, days=2).isoformat(): "few",
        local(organisation, days=3).isoformat(): "sold_out",
        local(organisation, days=4).isoformat(): "cancelled",
    }
    assert "Few seats left" in text(response)
    assert "Sold out" in text(response)
    assert "Cancelled" in text(response)
    book_url = reverse("public_book", kwargs={"org": organisation.slug, "occurrence_id": free.pk})
    assert f'href="{book_url}"' in page
    full_url = reverse("public_book", kwargs={"org": organisation.slug, "occurrence_id": full.pk})
    assert re.search(rf'href="{re.escape(full_url)}">Join the waiting list', page)
    gone = reverse("public_book", kwargs={"org": organisation.slug, "occurrence_id": cancelled.pk})
    assert gone not in page
    # three dates are listed per item; the fourth is on the item page
    assert "and 1 more date" in text(response)


def test_pages_through_many_items_keeping_the_filters(organisation: Organisation) -> None:
    for n in range(55):
        item = make_item(organisation, f"tour-{n:02d}", title_en=f"Tour {n:02d}", prices=())
        add_date(item, local(organisation, days=1, hour=8) + timedelta(minutes=n))
    client = visitor("en")

    first = client.get(programme_url(organisation, "kind=tour"))
    assert len(entry_titles(first)) == 50
    assert "55 events found" in text(first)
    assert 'href="?kind=tour&amp;page=2"' in first.content.decode()
    second = client.get(programme_url(organisation, "kind=tour&page=2"))
    assert entry_titles(second) == [f"Tour {n}" for n in range(50, 55)]


def _make_programme(organisation: Organisation, count: int, start: int = 0) -> None:
    venue = make_venue(organisation, name_de=f"Saal {start}")
    theme = make_theme(organisation, f"thema-{start}", f"Thema {start}", f"Theme {start}")
    for n in range(start, start + count):
        item = make_item(organisation, f"item-{n}", venue=venue, themes=[theme], prices=())
        for day in (1, 2, 3, 4):
            add_date(item, local(organisation, days=day) + timedelta(minutes=n))


def test_the_number_of_queries_does_not_grow_with_the_programme(
    organisation: Organisation, django_assert_max_num_queries
) -> None:  # type: ignore[no-untyped-def]
    # given a small programme, counted
    _make_programme(organisation, 3)
    client = visitor("en")
    url = programme_url(organisation)
    client.get(url)  # warm up: session, translations
    with CaptureQueriesContext(connection) as small:
        assert client.get(url).status_code == 200

    # when the programme grows to 500 upcoming items with four dates each
    _make_programme(organisation, 497, start=3)

    # then the page costs the same number of queries
    with django_assert_max_num_queries(len(small.captured_queries)):
        response = client.get(url)
    assert len(entry_titles(response)) == 50
    assert "500 events found" in text(response)
