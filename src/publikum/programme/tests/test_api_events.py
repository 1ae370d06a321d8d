"""The events API over real HTTP: create with prices and dates, read, change, series, cancel."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from publikum.bookings.services import booking_create
from publikum.core.models import AuditEntry, Role
from publikum.programme import services
from publikum.programme.models import Occurrence, OccurrenceStatus, ProgrammeItem

BERLIN = ZoneInfo("Europe/Berlin")


def in_days(days: int, hour: int = 18) -> datetime:
    day = timezone.localtime(timezone.now(), BERLIN).date() + timedelta(days=days)
    return datetime.combine(day, time(hour), tzinfo=BERLIN)


@pytest.fixture
def editor_api(api, organisation, token_factory):
    return api(token_factory(organisation, Role.EDITOR))


@pytest.fixture
def viewer_api(api, organisation, token_factory):
    return api(token_factory(organisation, Role.VIEWER))


@pytest.fixture
def venue(organisation):
    services.theme_create(organisation=organisation, name_de="Musik", name_en="Music")
    return services.venue_create(organisation=organisation, data={"name_de": "Großer Saal"})


def event_body(venue, **overrides) -> dict:
    body = {
        "kind": "concert",
        "title_de": "Frühlingskonzert",
        "title_en": "Spring concert",
        "themes": ["musik"],
        "target_groups": ["adults"],
        "accessibility": ["wheelchair", "induction_loop"],
        "venue_id": venue.pk,
        "price_categories": [
            {"name_de": "Regulär", "name_en": "Regular", "price_eur": "24.00"},
            {"name_de": "Ermäßigt", "name_en": "Reduced", "price_eur": "15.50"},
        ],
        "dates": [
            {
                "starts_at": in_days(10, 19).isoformat(),
                "ends_at": in_days(10, 21).isoformat(),
                "capacity": 120,
            },
            {
                # Without an offset: the organisation's local time.
                "starts_at": in_days(11, 19).replace(tzinfo=None).isoformat(),
                "ends_at": in_days(11, 21).replace(tzinfo=None).isoformat(),
                "capacity": 100,
            },
        ],
    }
    body.update(overrides)
    return body


def test_an_editor_creates_an_event_with_prices_and_dates_in_one_call(
    editor_api, organisation, venue
) -> None:
    response = editor_api.post("/events", json=event_body(venue))
    assert response.status_code == 201, response.text
    event = response.json()
    assert event["slug"] == "fruehlingskonzert"
    assert event["themes"] == ["musik"]
    assert event["venue"]["name_de"] == "Großer Saal"
    assert [(p["name_de"], p["price_eur"]) for p in event["price_categories"]] == [
        ("Regulär", "24.00"),
        ("Ermäßigt", "15.50"),
    ]
    assert [d["capacity"] for d in event["dates"]] == [120, 100]
    assert event["dates"][0]["free"] == 120
    second = datetime.fromisoformat(event["dates"][1]["starts_at"])
    assert second == in_days(11, 19)
    assert second.utcoffset() == in_days(11, 19).utcoffset()  # shown in local time
    entry = AuditEntry.objects.get(action="programme.item.created")
    assert entry.actor_token is not None


def test_a_bad_date_rolls_back_the_whole_event(editor_api, organisation, venue) -> None:
    body = event_body(venue)
    body["dates"][1]["ends_at"] = in_days(9).isoformat()
    response = editor_api.post("/events", json=body)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert "dates.1.ends_at" in error["fields"]
    assert not ProgrammeItem.objects.exists()
    assert not Occurrence.objects.exists()


def test_unknown_fields_and_codes_are_rejected_with_their_names(editor_api, venue) -> None:
    response = editor_api.post("/events", json=event_body(venue, colour="red"))
    assert response.status_code == 422
    assert response.json()["error"]["fields"] == {"colour": ["unknown field"]}
    response = editor_api.post("/events", json=event_body(venue, themes=["astrologie"]))
    assert response.status_code == 422
    assert "astrologie" in response.json()["error"]["fields"]["themes"][0]
    response = editor_api.post("/events", json=event_body(venue, target_groups=["aliens"]))
    assert response.status_code == 422
    assert "target_groups.0" in response.json()["error"]["fields"]
    response = editor_api.post("/events", json=event_body(venue, venue_id=999_999))
    assert response.status_code == 422
    assert "venue_id" in response.json()["error"]["fields"]
    assert not ProgrammeItem.objects.exists()


def test_a_viewer_reads_but_cannot_write(viewer_api, organisation, venue) -> None:
    item = services.item_create(organisation=organisation, data={"title_de": "Lesung"})
    occurrence = services.occurrence_create(
        item=item, starts_at=in_days(3), ends_at=in_days(3, 20), capacity=30
    )
    assert viewer_api.get("/events").status_code == 200
    assert viewer_api.get(f"/events/{item.pk}").status_code == 200
    for method, path, body in [
        ("POST", "/events", event_body(venue)),
        ("PATCH", f"/events/{item.pk}", {"title_en": "Reading"}),
        ("POST", f"/events/{item.pk}/dates", {"dates": []}),
        ("PATCH", f"/occurrences/{occurrence.pk}", {"capacity": 5}),
        ("POST", f"/occurrences/{occurrence.pk}/cancel", None),
    ]:
        response = viewer_api.request(method, path, json=body)
        assert response.status_code == 403, (method, path)
        assert response.json()["error"]["code"] == "forbidden"
    occurrence.refresh_from_db()
    assert (occurrence.capacity, occurrence.status) == (30, OccurrenceStatus.SCHEDULED)


def test_the_list_filters_by_kind_theme_time_and_publication(
    viewer_api, organisation, venue
) -> None:
    concert = services.item_create_with_dates(
        organisation=organisation,
        data={"kind": "concert", "title_de": "Konzert", "themes": ["musik"]},
        dates=[{"starts_at": in_days(20), "ends_at": in_days(20, 20), "capacity": 50}],
    )
    services.item_create_with_dates(
        organisation=organisation,
        data={"kind": "tour", "title_de": "Führung", "published": False},
        dates=[{"starts_at": in_days(2), "ends_at": in_days(2, 19), "capacity": 15}],
    )
    every = viewer_api.get("/events").json()
    assert every["count"] == 2
    assert [e["title_de"] for e in every["items"]] == ["Führung", "Konzert"]
    concert_row = every["items"][1]
    assert datetime.fromisoformat(concert_row["next_start"]) == in_days(20)
    assert concert_row["upcoming_dates"] == 1

    def titles(**params) -> list[str]:
        response = viewer_api.get("/events", params=params)
        assert response.status_code == 200, response.text
        return [e["title_de"] for e in response.json()["items"]]

    assert titles(kind="concert") == ["Konzert"]
    assert titles(theme="musik") == ["Konzert"]
    assert titles(published="false") == ["Führung"]
    assert titles(**{"from": in_days(10).date().isoformat()}) == ["Konzert"]
    assert titles(to=in_days(10).date().isoformat()) == ["Führung"]
    assert titles(**{"from": in_days(20).date().isoformat(), "to": in_days(20).date()}) == [
        "Konzert"
    ]
    assert titles(limit=1, offset=1) == ["Konzert"]
    assert viewer_api.get("/events", params={"kind": "circus"}).status_code == 422
    assert concert.pk


def test_patch_changes_only_what_is_sent_and_replaces_the_prices(
    editor_api, organisation, venue
) -> None:
    created = editor_api.post("/events", json=event_body(venue)).json()
    regular_id = created["price_categories"][0]["id"]
    response = editor_api.patch(
        f"/events/{created['id']}",
        json={
            "summary_en": "Strings in spring",
            "price_categories": [{"name_de": "Regulär", "price_eur": "26.00"}],
            "published": False,
        },
    )
    assert response.status_code == 200, response.text
    event = response.json()
    assert event["title_de"] == "Frühlingskonzert"
    assert event["summary_en"] == "Strings in spring"
    assert event["published"] is False
    assert [(p["id"], p["price_eur"]) for p in event["price_categories"]] == [(regular_id, "26.00")]
    assert len(event["dates"]) == 2
    response = editor_api.patch(f"/events/{created['id']}", json={"title_de": None})
    assert response.status_code == 422


def test_dates_and_a_weekly_series_are_added_and_stay_at_local_time_across_dst(
    editor_api, organisation
) -> None:
    item = services.item_create(organisation=organisation, data={"title_de": "Sonntagsführung"})
    first = date(timezone.now().year + 1, 3, 1)
    first += timedelta(days=(6 - first.weekday()) % 7)  # the first Sunday of March next year
    response = editor_api.post(
        f"/events/{item.pk}/dates",
        json={
            "recurrence": {
                "first_start": f"{first.isoformat()}T11:00:00",
                "duration_minutes": 60,
                "freq": "weekly",
                "weekdays": [6],
                "until": date(first.year, 4, 30).isoformat(),
                "capacity": 25,
            }
        },
    )
    assert response.status_code == 201, response.text
    dates = response.json()
    starts = [datetime.fromisoformat(d["starts_at"]) for d in dates]
    assert {(s.hour, s.minute, s.weekday()) for s in starts} == {(11, 0, 6)}
    assert {s.utcoffset() for s in starts} == {timedelta(hours=1), timedelta(hours=2)}
    assert {d["free"] for d in dates} == {25}

    response = editor_api.post(
        f"/events/{item.pk}/dates",
        json={
            "dates": [
                {
                    "starts_at": in_days(3).isoformat(),
                    "ends_at": in_days(3, 19).isoformat(),
                    "capacity": 10,
                }
            ]
        },
    )
    assert response.status_code == 201
    assert len(response.json()) == 1

    too_many = editor_api.post(
        f"/events/{item.pk}/dates",
        json={
            "recurrence": {
                "first_start": in_days(1).replace(tzinfo=None).isoformat(),
                "duration_minutes": 60,
                "freq": "daily",
                "until": in_days(500).date().isoformat(),
                "capacity": 5,
            }
        },
    )
    assert too_many.status_code == 422
    assert "366" in too_many.json()["error"]["message"]
    neither = editor_api.post(f"/events/{item.pk}/dates", json={})
    assert neither.status_code == 422
    assert Occurrence.objects.filter(item=item).count() == len(dates) + 1


def test_capacity_below_the_seats_sold_is_a_conflict_and_a_cancelled_date_stays(
    editor_api, organisation
) -> None:
    item = services.item_create(organisation=organisation, data={"title_de": "Workshop"})
    occurrence = services.occurrence_create(
        item=item, starts_at=in_days(6), ends_at=in_days(6, 20), capacity=12
    )
    booking_create(
        organisation=organisation,
        occurrence_id=occurrence.pk,
        name="Ada Lovelace",
        email="ada@example.org",
        quantity=5,
    )
    response = editor_api.patch(f"/occurrences/{occurrence.pk}", json={"capacity": 4})
    assert response.status_code == 409
    assert response.json()["error"]["fields"] == {"capacity": ["at least 5 (seats sold)"]}

    response = editor_api.patch(
        f"/occurrences/{occurrence.pk}",
        json={"capacity": 20, "starts_at": in_days(7, 18).isoformat()},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["capacity"], body["sold"], body["free"]) == (20, 5, 15)
    assert datetime.fromisoformat(body["starts_at"]) == in_days(7, 18)
    bad = editor_api.patch(f"/occurrences/{occurrence.pk}", json={"capacity": -1})
    assert bad.status_code == 422

    response = editor_api.post(f"/occurrences/{occurrence.pk}/cancel")
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    assert response.json()["sold"] == 5  # the bookings stay
    again = editor_api.post(f"/occurrences/{occurrence.pk}/cancel")
    assert again.status_code == 409
    changed = editor_api.patch(f"/occurrences/{occurrence.pk}", json={"capacity": 30})
    assert changed.status_code == 409


def test_the_openapi_document_describes_the_events_api(viewer_api) -> None:
    schema = viewer_api.get("/openapi.json").json()
    create = schema["paths"]["/api/v1/events"]["post"]
    assert "one transaction" in create["description"]
    body = schema["components"]["schemas"]["EventIn"]
    assert body["examples"][0]["title_de"] == "Führung durch die Altstadt"
    assert "recurrence" in schema["components"]["schemas"]["DatesIn"]["properties"]
    assert {"/api/v1/occurrences/{occurrence_id}", "/api/v1/events/{event_id}/dates"} <= set(
        schema["paths"]
    )
