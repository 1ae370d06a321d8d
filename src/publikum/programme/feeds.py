"""The programme as feeds: iCalendar (RFC 5545) to subscribe to, and JSON Feed 1.1.

Both are built from `selectors.feed_dates`: the upcoming dates of published items, a year
ahead. A date's UID never changes, so a calendar app that subscribed updates the entry
(a new time, a cancellation) instead of adding a second one.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext, override
from icalendar import Calendar
from icalendar import Event as VEvent
from icalendar.enums import STATUS

from publikum.bookings.selectors import free_seats
from publikum.core.models import Organisation
from publikum.programme.models import (
    AccessibilityFeature,
    ItemKind,
    Occurrence,
    OccurrenceStatus,
    ProgrammeItem,
    TargetGroup,
    Venue,
)
from publikum.programme.public_links import PublicLinks
from publikum.programme.selectors import BOOKABLE_STATES, date_state, zone_of

JSON_FEED_VERSION = "https://jsonfeed.org/version/1.1"
ICS_CONTENT_TYPE = "text/calendar; charset=utf-8"
JSON_FEED_CONTENT_TYPE = "application/feed+json; charset=utf-8"
# How often calendar apps should fetch the feed again (also X-PUBLISHED-TTL below).
REFRESH = timedelta(hours=6)


def date_uid(occurrence: Occurrence, organisation: Organisation) -> str:
    """Stable for the life of the date: its id, scoped to the organisation."""
    return f"occurrence-{occurrence.pk}@{organisation.slug}.publikum"


def venue_line(venue: Venue | None, language: str) -> str:
    if venue is None:
        return ""
    town = " ".join(p for p in (venue.postcode, venue.city) if p)
    return ", ".join(p for p in (venue.name(language), venue.street, town) if p)


def _last_modified(occurrence: Occurrence) -> datetime:
    return max(occurrence.updated_at, occurrence.item.updated_at)


def calendar(
    dates: list[Occurrence],
    *,
    organisation: Organisation,
    title: str,
    language: str,
    links: PublicLinks,
    fallback_venue: Venue | None = None,
    now: datetime | None = None,
) -> bytes:
    """An iCalendar file with one VEVENT per date. Times carry their TZID (the
    organisation's zone, with its VTIMEZONE); stamps are UTC."""
    now = now or timezone.now()
    zone = zone_of(organisation)
    with override(language):
        cal = Calendar.new(
            name=title,
            description=organisation.description(language) or None,
            prodid="-//Publikum//Programme//" + language.upper(),
            uid=f"programme@{organisation.slug}.publikum",
            url=links.programme,
            refresh_interval=REFRESH,
            method="PUBLISH",
            calscale="GREGORIAN",
            language=language,
        )
        cal.add("x-wr-timezone", organisation.timezone)
        # The older name of REFRESH-INTERVAL, which Apple and Microsoft calendars read.
        cal.add("x-published-ttl", "PT6H")
        for occurrence in dates:
            cal.add_component(
                _vevent(
                    occurrence,
                    organisation=organisation,
                    language=language,
                    links=links,
                    fallback_venue=fallback_venue,
                    now=now,
                )
            )
        if dates:
            first = min(o.starts_at for o in dates).astimezone(zone).date()
            last = max(o.ends_at for o in dates).astimezone(zone).date()
            cal.add_missing_timezones(
                first_date=first - timedelta(days=1), last_date=last + timedelta(days=366)
            )
    return cal.to_ical()


def _vevent(
    occurrence: Occurrence,
    *,
    organisation: Organisation,
    language: str,
    links: PublicLinks,
    fallback_venue: Venue | None,
    now: datetime,
) -> VEvent:
    item = occurrence.item
    zone = zone_of(organisation)
    venue = item.venue or fallback_venue
    url = links.item(item)
    text = item.summary(language) or item.description(language)
    description = f"{text}\n\n{url}" if text else url
    cancelled = occurrence.status == OccurrenceStatus.CANCELLED
    event = VEvent.new(
        uid=date_uid(occurrence, organisation),
        stamp=now.astimezone(UTC),
        start=timezone.localtime(occurrence.starts_at, zone),
        end=timezone.localtime(occurrence.ends_at, zone),
        summary=(
            gettext("Cancelled: %(title)s") % {"title": item.title(language)}
            if cancelled
            else item.title(language)
        ),
        description=description,
        location=venue_line(venue, language) or None,
        url=url,
        status=STATUS.CANCELLED if cancelled else STATUS.CONFIRMED,
        last_modified=_last_modified(occurrence).astimezone(UTC),
        categories=[theme.name(language) for theme in item.themes.all()],
    )
    if venue is not None and venue.latitude is not None and venue.longitude is not None:
        event.add("geo", (float(venue.latitude), float(venue.longitude)))
    return event


# --- JSON Feed 1.1 -------------------------------------------------------------------------


def json_feed(
    dates: list[Occurrence],
    *,
    organisation: Organisation,
    title: str,
    feed_url: str,
    language: str,
    links: PublicLinks,
    fallback_venue: Venue | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """A JSON Feed 1.1 document: one item per programme item, its dates in `_publikum`."""
    by_item: dict[int, tuple[ProgrammeItem, list[Occurrence]]] = {}
    for occurrence in dates:
        by_item.setdefault(occurrence.item_id, (occurrence.item, []))[1].append(occurrence)
    with override(language):
        feed: dict[str, Any] = {
            "version": JSON_FEED_VERSION,
            "title": title,
            "home_page_url": links.programme,
            "feed_url": feed_url,
            "language": language,
            "authors": [{"name": organisation.name, "url": links.home}],
            "items": [
                _feed_item(
                    item,
                    item_dates,
                    organisation=organisation,
                    language=language,
                    links=links,
                    fallback_venue=fallback_venue,
                    now=now,
                )
                for item, item_dates in by_item.values()
            ],
        }
        description = organisation.description(language)
        if description:
            feed["description"] = description
    return feed


def _local(value: datetime, zone: Any) -> str:
    return timezone.localtime(value, zone).replace(microsecond=0).isoformat()


def _feed_item(
    item: ProgrammeItem,
    dates: list[Occurrence],
    *,
    organisation: Organisation,
    language: str,
    links: PublicLinks,
    fallback_venue: Venue | None,
    now: datetime | None,
) -> dict[str, Any]:
    zone = zone_of(organisation)
    url = links.item(item)
    venue = item.venue or fallback_venue
    themes = list(item.themes.all())
    kinds = dict(ItemKind.choices)
    groups = dict(TargetGroup.choices)
    features = dict(AccessibilityFeature.choices)
    entry: dict[str, Any] = {
        "id": url,
        "url": url,
        "title": item.title(language),
        "content_text": item.description(language)
        or item.summary(language)
        or item.title(language),
        "date_published": _local(item.created_at, zone),
        "date_modified": _local(max(item.updated_at, *(o.updated_at for o in dates)), zone),
        "language": language,
    }
    summary = item.summary(language)
    if summary:
        entry["summary"] = summary
    if item.image:
        entry["image"] = links.image(item)
    if themes:
        entry["tags"] = [theme.name(language) for theme in themes]
    date_entries = []
    for occurrence in dates:
        state = date_state(occurrence, now=now)
        date_entry: dict[str, Any] = {
            "id": occurrence.pk,
            "uid": date_uid(occurrence, organisation),
            "start": _local(occurrence.starts_at, zone),
            "end": _local(occurrence.ends_at, zone),
            "status": occurrence.status,
            "availability": str(state),
            "url": links.date(occurrence),
        }
        if state in BOOKABLE_STATES:
            date_entry["free_seats"] = free_seats(occurrence)
            date_entry["book_url"] = links.book(occurrence)
        date_entries.append(date_entry)
    entry["_publikum"] = {
        "kind": item.kind,
        "kind_label": str(kinds.get(item.kind, item.kind)),
        "themes": [{"slug": t.slug, "name": t.name(language)} for t in themes],
        "target_groups": [
            {"code": code, "name": str(groups[code])}
            for code in item.target_groups
            if code in groups
        ],
        "accessibility": [
            {"code": code, "name": str(features[code])}
            for code in item.accessibility
            if code in features
        ],
        "venue": _venue_entry(venue, language),
        "prices": [
            {"name": price.name(language), "price": str(price.price_eur), "currency": "EUR"}
            for price in item.price_categories.all()
        ],
        "bookable": item.bookable,
        "dates": date_entries,
    }
    return entry


def _venue_entry(venue: Venue | None, language: str) -> dict[str, Any] | None:
    if venue is None:
        return None
    return {
        "name": venue.name(language),
        "street": venue.street,
        "postcode": venue.postcode,
        "city": venue.city,
        "country": venue.country,
        "latitude": float(venue.latitude) if venue.latitude is not None else None,
        "longitude": float(venue.longitude) if venue.longitude is not None else None,
    }
