"""schema.org JSON-LD for the public pages: events of an item, and the organisation itself.

Types and properties follow schema.org 12.0 and are checked against its vocabulary by the
tests (`programme/tests/schemaorg_check.py`): every property is used on a type in its
domain, with a value of a type in its range. Accessibility is not a property of an Event
in schema.org (`accessibilityFeature` belongs to CreativeWork), so the features of a date
are said on its place, as `amenityFeature` LocationFeatureSpecifications; sign language is
also said as a language of the event (`inLanguage`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext, override

from publikum.bookings.selectors import free_seats
from publikum.core.models import Organisation, OrganisationKind
from publikum.programme.models import (
    AccessibilityFeature,
    ItemKind,
    Occurrence,
    OccurrenceStatus,
    PriceCategory,
    ProgrammeItem,
    TargetGroup,
    Venue,
)
from publikum.programme.public_links import PublicLinks
from publikum.programme.selectors import DateState, date_state, zone_of

CONTEXT = "https://schema.org"
SCHEMA = "https://schema.org/"

EVENT_TYPES: dict[str, str] = {
    ItemKind.EXHIBITION: "ExhibitionEvent",
    ItemKind.PERFORMANCE: "TheaterEvent",
    ItemKind.CONCERT: "MusicEvent",
    # schema.org has no type for a guided tour; EducationEvent would claim a course.
    ItemKind.TOUR: "Event",
    ItemKind.WORKSHOP: "EducationEvent",
    ItemKind.TALK: "EducationEvent",
}

ORGANISATION_TYPES: dict[str, str] = {
    OrganisationKind.MUSEUM: "Museum",
    OrganisationKind.THEATRE: "PerformingArtsTheater",
    OrganisationKind.ORCHESTRA: "MusicGroup",
    OrganisationKind.LIBRARY: "Library",
    OrganisationKind.VENUE: "EventVenue",
    # A festival organisation is not the Festival (an event) itself.
    OrganisationKind.FESTIVAL: "Organization",
    OrganisationKind.OTHER: "Organization",
}

AVAILABILITY: dict[DateState, str] = {
    DateState.AVAILABLE: "InStock",
    DateState.OPEN: "InStock",
    DateState.FEW: "LimitedAvailability",
    DateState.SOLD_OUT: "SoldOut",
}

# Sign language as a language of the event (BCP 47), by the organisation's country.
SIGN_LANGUAGES = {"DE": "gsg", "AT": "asq", "CH": "sgg"}


def script(data: dict[str, Any] | list[Any]) -> SafeString:
    """The <script type="application/ld+json"> element. `<`, `>` and `&` become \\u escapes,
    so no text (a title with "</script>") can end the element early."""
    text = (
        json.dumps(data, ensure_ascii=False, separators=(",", ":"))
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
    )
    return mark_safe(f'<script type="application/ld+json">{text}</script>')  # noqa: S308


def _iso(value: datetime, organisation: Organisation) -> str:
    return timezone.localtime(value, zone_of(organisation)).isoformat()


def _number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


def _address(venue: Venue | None, organisation: Organisation) -> dict[str, Any]:
    address: dict[str, Any] = {"@type": "PostalAddress"}
    if venue is not None:
        if venue.street:
            address["streetAddress"] = venue.street
        if venue.postcode:
            address["postalCode"] = venue.postcode
        address["addressLocality"] = venue.city or organisation.city
        address["addressCountry"] = venue.country or organisation.country
    else:
        address["addressLocality"] = organisation.city
        address["addressCountry"] = organisation.country
    return {k: v for k, v in address.items() if v}


def _geo(venue: Venue | None) -> dict[str, Any] | None:
    if venue is None or venue.latitude is None or venue.longitude is None:
        return None
    return {
        "@type": "GeoCoordinates",
        "latitude": float(venue.latitude),
        "longitude": float(venue.longitude),
    }


def place(
    venue: Venue | None,
    *,
    organisation: Organisation,
    language: str,
    accessibility: Iterable[str] = (),
) -> dict[str, Any]:
    """A Place with its address and coordinates; without a venue, the organisation's town."""
    node: dict[str, Any] = {
        "@type": "Place",
        "name": venue.name(language) if venue is not None else organisation.name,
        "address": _address(venue, organisation),
    }
    geo = _geo(venue)
    if geo:
        node["geo"] = geo
    labels = dict(AccessibilityFeature.choices)
    features = [
        {"@type": "LocationFeatureSpecification", "name": str(labels[code]), "value": True}
        for code in accessibility
        if code in labels
    ]
    if features:
        node["amenityFeature"] = features
    return node


def organizer(organisation: Organisation, links: PublicLinks) -> dict[str, Any]:
    node: dict[str, Any] = {"@type": "Organization", "name": organisation.name, "url": links.home}
    if organisation.website:
        node["sameAs"] = organisation.website
    return node


def _audience(codes: Iterable[str]) -> list[dict[str, Any]]:
    labels = dict(TargetGroup.choices)
    nodes: list[dict[str, Any]] = []
    for code in codes:
        if code not in labels:
            continue
        name = str(labels[code])
        if code == TargetGroup.SCHOOLS:
            nodes.append(
                {"@type": "EducationalAudience", "audienceType": name, "educationalRole": "student"}
            )
        elif code == TargetGroup.GROUPS:
            nodes.append({"@type": "Audience", "audienceType": name})
        else:
            node: dict[str, Any] = {"@type": "PeopleAudience", "audienceType": name}
            if code == TargetGroup.ADULTS:
                node["suggestedMinAge"] = 18
            nodes.append(node)
    return nodes


def _offers(
    occurrence: Occurrence,
    organisation: Organisation,
    prices: list[PriceCategory],
    state: DateState,
    *,
    language: str,
    links: PublicLinks,
) -> list[dict[str, Any]]:
    availability = AVAILABILITY.get(state)
    if availability is None:  # cancelled, or begun and no longer bookable
        return []
    url = links.book(occurrence) if state != DateState.OPEN else links.item(occurrence.item)
    return [
        {
            "@type": "Offer",
            "name": price.name(language),
            "price": _number(price.price_eur),
            "priceCurrency": "EUR",
            "availability": SCHEMA + availability,
            "url": url,
            "validFrom": _iso(occurrence.created_at, organisation),
        }
        for price in prices
    ]


def _languages(item: ProgrammeItem, organisation: Organisation) -> str | list[str]:
    if AccessibilityFeature.SIGN_LANGUAGE in (item.accessibility or []):
        return [organisation.language, SIGN_LANGUAGES.get(organisation.country, "sgn")]
    return organisation.language


def event(
    occurrence: Occurrence,
    *,
    organisation: Organisation,
    item: ProgrammeItem,
    venue: Venue | None,
    language: str,
    links: PublicLinks,
    now: datetime | None = None,
) -> dict[str, Any]:
    """One date of an item as a schema.org Event (of the type of the item's kind).

    `occurrence` is annotated by `with_seats`; the item's themes and price categories are
    prefetched; `venue` is the item's venue, or the house's main venue when it has none."""
    with override(language):
        return _event(
            occurrence,
            organisation=organisation,
            item=item,
            venue=venue,
            language=language,
            links=links,
            now=now,
        )


def _event(
    occurrence: Occurrence,
    *,
    organisation: Organisation,
    item: ProgrammeItem,
    venue: Venue | None,
    language: str,
    links: PublicLinks,
    now: datetime | None,
) -> dict[str, Any]:
    state = date_state(occurrence, now=now)
    prices = list(item.price_categories.all())
    description = item.description(language) or item.summary(language)
    node: dict[str, Any] = {
        "@type": EVENT_TYPES.get(item.kind, "Event"),
        "@id": links.date(occurrence),
        "name": item.title(language),
        "url": links.item(item),
        "startDate": _iso(occurrence.starts_at, organisation),
        "endDate": _iso(occurrence.ends_at, organisation),
        "eventStatus": SCHEMA
        + (
            "EventCancelled"
            if occurrence.status == OccurrenceStatus.CANCELLED
            else "EventScheduled"
        ),
        "eventAttendanceMode": SCHEMA + "OfflineEventAttendanceMode",
        "location": place(
            venue, organisation=organisation, language=language, accessibility=item.accessibility
        ),
        "organizer": organizer(organisation, links),
        "inLanguage": _languages(item, organisation),
    }
    if description:
        node["description"] = description
    if item.image:
        node["image"] = links.image(item)
    audience = _audience(item.target_groups or [])
    if audience:
        node["audience"] = audience
    themes = [{"@type": "DefinedTerm", "name": theme.name(language)} for theme in item.themes.all()]
    if themes:
        node["about"] = themes
    offers = _offers(occurrence, organisation, prices, state, language=language, links=links)
    if offers:
        node["offers"] = offers
    if prices:
        node["isAccessibleForFree"] = all(price.price_eur == 0 for price in prices)
    if state in (DateState.AVAILABLE, DateState.FEW, DateState.SOLD_OUT):
        node["remainingAttendeeCapacity"] = free_seats(occurrence)
    return node


def item_document(
    item: ProgrammeItem,
    dates: list[Occurrence],
    *,
    venue: Venue | None,
    language: str,
    links: PublicLinks,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The JSON-LD of an item page: one Event per upcoming date, in an @graph."""
    graph = [
        event(
            occ,
            organisation=links.organisation,
            item=item,
            venue=venue,
            language=language,
            links=links,
            now=now,
        )
        for occ in dates
    ]
    return {"@context": CONTEXT, "@graph": graph}


def organisation_document(
    organisation: Organisation,
    *,
    main_venue: Venue | None,
    events: list[dict[str, Any]],
    language: str,
    links: PublicLinks,
) -> dict[str, Any]:
    """The organisation page's JSON-LD: the house (a Museum, a theatre, ...), its address,
    its programme page, and the events coming up."""
    with override(language):
        node: dict[str, Any] = {
            "@context": CONTEXT,
            "@type": ORGANISATION_TYPES.get(organisation.kind, "Organization"),
            "@id": f"{links.home}#organisation",
            "name": organisation.name,
            "url": links.home,
            "address": _address(main_venue, organisation),
            "subjectOf": {
                "@type": "CollectionPage",
                "name": gettext("Programme"),
                "url": links.programme,
            },
        }
        description = organisation.description(language)
        if description:
            node["description"] = description
        if organisation.website:
            node["sameAs"] = organisation.website
        geo = _geo(main_venue)
        # GeoCoordinates belong to a Place; MusicGroup and Organization are no places.
        if geo and node["@type"] not in ("MusicGroup", "Organization"):
            node["geo"] = geo
        if events:
            node["event"] = events
    return node
