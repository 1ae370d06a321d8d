"""The programme as feeds: iCalendar to subscribe to, and JSON Feed 1.1."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from icalendar import Calendar

from publikum.core.models import Organisation
from publikum.programme.models import ItemKind, OccurrenceStatus, ProgrammeItem
from publikum.programme.tests.public_factories import (
    add_date,
    book,
    local,
    make_item,
    make_theme,
    make_venue,
    visitor,
)

pytestmark = pytest.mark.django_db

BASE = "http://testserver"


def ics_url(organisation: Organisation, theme: str = "") -> str:
    if theme:
        return reverse("public_theme_feed_ics", kwargs={"org": organisation.slug, "slug": theme})
    return reverse("public_feed_ics", kwargs={"org": organisation.slug})


def json_url(organisation: Organisation) -> str:
    return reverse("public_feed_json", kwargs={"org": organisation.slug})


def item_url(item: ProgrammeItem) -> str:
    return BASE + reverse("public_item", kwargs={"org": item.organisation.slug, "slug": item.slug})


def calendar_of(url: str, language: str = "en") -> tuple[Any, Calendar]:
    response = visitor(language).get(url)
    assert response.status_code == 200
    return response, Calendar.from_ical(response.content)


def events_by_uid(calendar: Calendar) -> dict[str, Any]:
    return {str(event["UID"]): event for event in calendar.walk("VEVENT")}


@pytest.fixture
def programme(organisation: Organisation, other_organisation: Organisation) -> dict[str, Any]:
    """A tour with a cancelled date, a running exhibition, and what no feed may show."""
    history = make_theme(organisation, "stadtgeschichte", "Stadtgeschichte", "City history")
    venue = make_venue(organisation)
    tour = make_item(
        organisation,
        "altstadt",
        title_de="Rundgang Altstadt",
        title_en="Old town walk",
        summary_en="Two hours through the lanes.",
        themes=[history],
        venue=venue,
    )
    walk = add_date(tour, local(organisation, days=3, hour=11), capacity=10)
    called_off = add_date(
        tour, local(organisation, days=4, hour=11), status=OccurrenceStatus.CANCELLED
    )
    add_date(tour, local(organisation, days=-3, hour=11))  # over
    show = make_item(
        organisation, "schau", kind=ItemKind.EXHIBITION, title_en="The show", bookable=False
    )
    running = add_date(show, local(organisation, days=-30, hour=10), hours=24 * 90, capacity=0)
    draft = make_item(organisation, "entwurf", title_en="Draft", published=False)
    add_date(draft, local(organisation, days=3))
    theirs = make_item(other_organisation, "fremd", title_en="Not ours")
    add_date(theirs, local(other_organisation, days=3))
    make_theme(other_organisation, "musik", "Musik", "Music")
    book(walk, 9)
    return {"tour": tour, "walk": walk, "called_off": called_off, "show": show, "running": running}


def test_calendar_feed_has_one_event_per_upcoming_published_date(
    organisation: Organisation, programme: dict[str, Any]
) -> None:
    response, calendar = calendar_of(ics_url(organisation))

    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    assert response["Cache-Control"] == "public, max-age=60"
    assert str(calendar["VERSION"]) == "2.0"
    assert [tz["TZID"] for tz in calendar.walk("VTIMEZONE")] == ["Europe/Berlin"]
    events = events_by_uid(calendar)
    walk, called_off, running = programme["walk"], programme["called_off"], programme["running"]
    slug = organisation.slug
    assert set(events) == {
        f"occurrence-{walk.pk}@{slug}.publikum",
        f"occurrence-{called_off.pk}@{slug}.publikum",
        f"occurrence-{running.pk}@{slug}.publikum",
    }

    event = events[f"occurrence-{walk.pk}@{slug}.publikum"]
    start = event.decoded("DTSTART")
    assert event["DTSTART"].params["TZID"] == "Europe/Berlin"
    assert start == walk.starts_at
    assert start.tzinfo.key == "Europe/Berlin"
    assert start.replace(tzinfo=None) == local(organisation, days=3, hour=11).replace(tzinfo=None)
    assert event.decoded("DTEND") == walk.ends_at
    assert str(event["SUMMARY"]) == "Old town walk"
    assert str(event["DESCRIPTION"]) == (
        f"Two hours through the lanes.\n\n{item_url(programme['tour'])}"
    )
    assert str(event["LOCATION"]) == "Great Hall, Kornmarkt 1, 12345 Beispielstadt"
    assert str(event["URL"]) == item_url(programme["tour"])
    assert str(event["STATUS"]) == "CONFIRMED"
    assert event.decoded("LAST-MODIFIED") >= walk.updated_at.replace(microsecond=0)
    assert event.decoded("LAST-MODIFIED").utcoffset().total_seconds() == 0
    assert event.decoded("DTSTAMP")
    assert event.get("CATEGORIES").cats == ["City history"]

    cancelled = events[f"occurrence-{called_off.pk}@{slug}.publikum"]
    assert str(cancelled["STATUS"]) == "CANCELLED"
    assert "Old town walk" in str(cancelled["SUMMARY"])
    # the running exhibition is still in the calendar
    show = events[f"occurrence-{running.pk}@{slug}.publikum"]
    assert show.decoded("DTSTART") == running.starts_at


def test_a_date_keeps_its_uid_when_it_changes(
    organisation: Organisation, programme: dict[str, Any]
) -> None:
    walk = programme["walk"]
    uid = f"occurrence-{walk.pk}@{organisation.slug}.publikum"
    _, before = calendar_of(ics_url(organisation))

    walk.starts_at = local(organisation, days=3, hour=14)
    walk.ends_at = local(organisation, days=3, hour=16)
    walk.save()
    _, after = calendar_of(ics_url(organisation))

    assert set(events_by_uid(before)) == set(events_by_uid(after))
    moved = events_by_uid(after)[uid]
    assert moved.decoded("DTSTART") == local(organisation, days=3, hour=14)
    assert moved.decoded("LAST-MODIFIED") >= events_by_uid(before)[uid].decoded("LAST-MODIFIED")


def test_calendar_speaks_the_language_asked_for(
    organisation: Organisation, programme: dict[str, Any]
) -> None:
    # a calendar app sends no language cookie: ?lang chooses
    _, german = calendar_of(ics_url(organisation) + "?lang=de", language="en")
    summaries = {str(e["SUMMARY"]) for e in german.walk("VEVENT")}
    assert "Rundgang Altstadt" in summaries


def test_theme_calendar_has_only_that_themes_dates(
    organisation: Organisation, programme: dict[str, Any]
) -> None:
    _, calendar = calendar_of(ics_url(organisation, "stadtgeschichte"))

    assert {str(e["SUMMARY"]) for e in calendar.walk("VEVENT")} == {
        "Old town walk",
        "Cancelled: Old town walk",
    }
    assert "City history" in str(calendar["NAME"])


def test_unknown_themes_are_not_found(
    organisation: Organisation, programme: dict[str, Any]
) -> None:
    client = visitor("en")
    assert client.get(ics_url(organisation, "gibt-es-nicht")).status_code == 404
    # another house's theme
    assert client.get(ics_url(organisation, "musik")).status_code == 404
    assert client.get("/kein-haus/programme.ics").status_code == 404


def test_calendar_feed_follows_the_filters(
    organisation: Organisation, programme: dict[str, Any]
) -> None:
    _, calendar = calendar_of(ics_url(organisation) + "?kind=exhibition")
    assert [str(e["SUMMARY"]) for e in calendar.walk("VEVENT")] == ["The show"]


# --- JSON Feed 1.1 -----------------------------------------------------------------------

# https://jsonfeed.org/version/1.1
FEED_FIELDS = {
    "version",
    "title",
    "home_page_url",
    "feed_url",
    "description",
    "user_comment",
    "next_url",
    "icon",
    "favicon",
    "authors",
    "language",
    "expired",
    "hubs",
    "items",
}
ITEM_FIELDS = {
    "id",
    "url",
    "external_url",
    "title",
    "content_html",
    "content_text",
    "summary",
    "image",
    "banner_image",
    "date_published",
    "date_modified",
    "authors",
    "tags",
    "language",
    "attachments",
}


def json_feed_problems(feed: dict[str, Any]) -> list[str]:
    """What JSON Feed 1.1 requires, and that nothing else appears except extensions (_x)."""
    problems = []
    if feed.get("version") != "https://jsonfeed.org/version/1.1":
        problems.append("version must be https://jsonfeed.org/version/1.1")
    if not isinstance(feed.get("title"), str) or not feed["title"]:
        problems.append("title is required")
    if not isinstance(feed.get("items"), list):
        problems.append("items is required and must be a list")
    problems += [f"unknown field {k}" for k in feed if k not in FEED_FIELDS and k[0] != "_"]
    for author in feed.get("authors", []):
        if not {"name", "url", "avatar"} & set(author):
            problems.append("an author needs name, url or avatar")
    for n, item in enumerate(feed.get("items", [])):
        if not isinstance(item.get("id"), str) or not item["id"]:
            problems.append(f"items[{n}].id must be a non-empty string")
        if not (item.get("content_text") or item.get("content_html")):
            problems.append(f"items[{n}] needs content_text or content_html")
        for key in ("date_published", "date_modified"):
            if key in item:
                value = datetime.fromisoformat(item[key])
                if value.tzinfo is None:
                    problems.append(f"items[{n}].{key} must be RFC 3339 with an offset")
        if "tags" in item and not all(isinstance(t, str) for t in item["tags"]):
            problems.append(f"items[{n}].tags must be strings")
        problems += [
            f"items[{n}]: unknown field {k}" for k in item if k not in ITEM_FIELDS and k[0] != "_"
        ]
    return problems


def test_json_feed_is_valid_json_feed_with_the_programme(
    organisation: Organisation, programme: dict[str, Any]
) -> None:
    response = visitor("en").get(json_url(organisation))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/feed+json; charset=utf-8"
    feed = json.loads(response.content)
    assert json_feed_problems(feed) == []
    assert feed["home_page_url"] == f"{BASE}/{organisation.slug}/programme/"
    assert feed["feed_url"] == BASE + json_url(organisation) + "?lang=en"
    assert feed["language"] == "en"
    items = {item["title"]: item for item in feed["items"]}
    assert set(items) == {"Old town walk", "The show"}

    tour = items["Old town walk"]
    assert tour["id"] == tour["url"] == item_url(programme["tour"])
    assert tour["content_text"] == "Two hours through the lanes."
    assert tour["tags"] == ["City history"]
    extension = tour["_publikum"]
    assert extension["kind"] == "tour"
    assert extension["themes"] == [{"slug": "stadtgeschichte", "name": "City history"}]
    assert extension["venue"]["name"] == "Great Hall"
    assert extension["venue"]["latitude"] == 51.123456
    assert extension["prices"] == [
        {"name": "Regular", "price": "12.00", "currency": "EUR"},
        {"name": "Reduced", "price": "8.50", "currency": "EUR"},
    ]
    walk, called_off = programme["walk"], programme["called_off"]
    zone = ZoneInfo(organisation.timezone)
    assert [
        (d["id"], datetime.fromisoformat(d["start"]), d["status"], d["availability"])
        for d in extension["dates"]
    ] == [
        (walk.pk, walk.starts_at.astimezone(zone), "scheduled", "few"),
        (called_off.pk, called_off.starts_at.astimezone(zone), "cancelled", "cancelled"),
    ]
    assert extension["dates"][0]["free_seats"] == 1
    assert extension["dates"][0]["book_url"] == BASE + reverse(
        "public_book", kwargs={"org": organisation.slug, "occurrence_id": walk.pk}
    )
    assert items["The show"]["_publikum"]["dates"][0]["availability"] == "open"


def test_the_json_feed_check_finds_what_is_missing() -> None:
    assert json_feed_problems({"version": "https://jsonfeed.org/version/1", "items": [{}]}) == [
        "version must be https://jsonfeed.org/version/1.1",
        "title is required",
        "items[0].id must be a non-empty string",
        "items[0] needs content_text or content_html",
    ]


def test_programme_page_links_its_feeds(organisation: Organisation) -> None:
    page = visitor("en").get(f"/{organisation.slug}/programme/?kind=tour").content.decode()

    assert (
        f'<link rel="alternate" type="text/calendar" title="Programme as a calendar (iCalendar)" '
        f'href="/{organisation.slug}/programme.ics?kind=tour">'
    ) in page
    assert f'href="/{organisation.slug}/programme.json?kind=tour"' in page
    assert 'data-testid="feed-ics"' in page
