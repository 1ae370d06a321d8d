"""GET /api/v1/recommendations and POST /api/v1/recommendations/offers over real HTTP, as
a website would call them."""

from __future__ import annotations

from datetime import datetime

import pytest

from conftest import make_token
from publikum.audience.services import contact_create
from publikum.core.models import Organisation, Role
from publikum.discovery.meter.house import house_meter
from publikum.discovery.models import Offer, OfferChannel
from publikum.discovery.tests.house import House, build_house
from publikum.programme import services as programme
from publikum.programme.models import ProgrammeItem


@pytest.fixture
def house(organisation) -> House:
    return build_house(organisation)


def test_a_viewer_reads_recommendations_with_dates_scores_and_explanations(api, house) -> None:
    client = api(make_token(house.organisation, Role.VIEWER))
    anna = house.contacts["Anna"]

    response = client.get("/recommendations", params={"contact": anna.pk, "limit": 2, "horizon": 0})

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["contact"] == anna.pk
    assert body["horizon"] == 0
    assert body["basis"] == "history"
    assert len(body["items"]) == 2
    first = body["items"][0]
    photo = house.upcoming["neue-fotografie"]
    assert (first["item"], first["slug"], first["title"]) == (
        photo.pk,
        "neue-fotografie",
        "Neue Fotografie aus Sachsen",
    )
    date = house.next_date["neue-fotografie"]
    assert first["date"]["id"] == date.pk
    assert datetime.fromisoformat(first["date"]["starts_at"]) == date.starts_at
    assert first["date"]["starts_at"].endswith(("+01:00", "+02:00"))  # the house's time zone
    assert first["relevance"] == 1.0
    assert 0.0 <= first["novelty"] <= 1.0
    explanation = first["explanation"]
    (part,) = explanation["parts"]
    assert part["kind"] == "because_visited"
    visited = {i.pk: i for i in house.past.values()}
    anchor = visited[part["item_ids"][0]]
    assert explanation["language"] == "de"
    assert explanation["text"] == explanation["text_de"]
    assert explanation["text"] == f"Weil Sie „{anchor.title_de}“ besucht haben."
    assert explanation["text_en"] == f"Because you visited “{anchor.title_en}”."


def test_fallbacks_are_named_in_the_contacts_language(api, house) -> None:
    client = api(make_token(house.organisation, Role.VIEWER))

    ben = client.get("/recommendations", params={"contact": house.contacts["Ben"].pk}).json()
    clara = client.get("/recommendations", params={"contact": house.contacts["Clara"].pk}).json()

    assert ben["basis"] == "interests"
    assert ben["items"][0]["title"] == "Jazz Night"
    assert ben["items"][0]["explanation"]["text"] == "Because you are interested in Music."
    assert ben["items"][0]["explanation"]["parts"][0]["themes"] == ["musik"]
    assert clara["basis"] == "popular"
    assert clara["note"]
    assert {i["explanation"]["parts"][0]["kind"] for i in clara["items"]} == {"popular"}


def test_bad_requests_get_json_errors_and_never_a_500(api, house, other_organisation) -> None:
    client = api(make_token(house.organisation, Role.VIEWER))
    anna = house.contacts["Anna"].pk
    cases = {
        "horizon 1.5": ({"contact": anna, "horizon": 1.5}, 422, "horizon"),
        "horizon -1": ({"contact": anna, "horizon": -1}, 422, "horizon"),
        "horizon text": ({"contact": anna, "horizon": "weit"}, 422, "horizon"),
        "horizon nan": ({"contact": anna, "horizon": "nan"}, 422, "horizon"),
        "limit 0": ({"contact": anna, "limit": 0}, 422, "limit"),
        "limit 51": ({"contact": anna, "limit": 51}, 422, "limit"),
        "no contact": ({}, 422, "contact"),
        "unknown contact": ({"contact": 10**9}, 404, None),
        "erased contact": ({"contact": house.contacts["Eva"].pk}, 404, None),
    }
    for case, (params, status, field) in cases.items():
        response = client.get("/recommendations", params=params)
        assert response.status_code == status, (case, response.text)
        error = response.json()["error"]
        assert set(error) == {"code", "message", "fields"}, case
        assert error["message"], case
        if field:
            assert error["code"] == "validation_error", case
            assert field in error["fields"], (case, error)
        else:
            assert error["code"] == "not_found", case

    # A contact of another house is as unknown as one that does not exist.
    stranger = api(make_token(other_organisation, Role.OWNER))
    response = stranger.get("/recommendations", params={"contact": anna})
    assert response.status_code == 404
    assert "Anna" not in response.text


def test_an_empty_programme_is_an_empty_list_with_a_note(api, organisation) -> None:
    guest = contact_create(organisation=organisation, email="gast@example.org", language="en")
    client = api(make_token(organisation, Role.VIEWER))

    response = client.get("/recommendations", params={"contact": guest.pk, "horizon": 0.3})

    assert response.status_code == 200
    assert response.json() == {
        "contact": guest.pk,
        "horizon": 0.3,
        "basis": "popular",
        "note": "There are no upcoming bookable dates to recommend.",
        "source": "live",
        "items": [],
    }


# --- POST /recommendations/offers: what a website showed ---------------------------------


def build_foreign_item(organisation: Organisation) -> ProgrammeItem:
    return programme.item_create(
        organisation=organisation,
        data={"slug": "fremd", "title_de": "Fremdes Konzert", "kind": "concert", "themes": []},
    )


def _shown(client, house: House, contact_id: int, horizon: float = 0.3) -> dict:
    """The website's flow: fetch a list, show it, report what was shown."""
    answer = client.get(
        "/recommendations", params={"contact": contact_id, "limit": 3, "horizon": horizon}
    ).json()
    return {
        "contact": contact_id,
        "horizon": answer["horizon"],
        "items": [
            {"item": i["item"], "occurrence": i["date"]["id"], "relevance": i["relevance"]}
            for i in answer["items"]
        ],
    }


def test_reading_recommendations_records_nothing(api, house) -> None:
    client = api(make_token(house.organisation, Role.OWNER))

    response = client.get("/recommendations", params={"contact": house.contacts["Anna"].pk})

    assert response.status_code == 200
    assert not Offer.objects.exists()


def test_a_website_records_the_list_it_showed_and_the_meter_counts_it(api, house) -> None:
    client = api(make_token(house.organisation, Role.FRONT_DESK))
    anna = house.contacts["Anna"]
    shown = _shown(client, house, anna.pk, horizon=0.6)
    # The website shows the reading (literature, a talk: new for Anna) first.
    reading = house.upcoming["lesung"]
    shown["items"] = [
        {"item": reading.pk, "occurrence": house.next_date["lesung"].pk},
        *[i for i in shown["items"] if i["item"] != reading.pk][:2],
    ]

    response = client.post("/recommendations/offers", json=shown)

    assert response.status_code == 201, response.text
    body = response.json()
    assert body["contact"] == anna.pk
    assert body["channel"] == "website"
    assert body["horizon"] == 0.6
    assert body["offered_at"].endswith(("+01:00", "+02:00"))  # the house's time zone
    assert [(o["item"], o["occurrence"], o["rank"]) for o in body["offers"]] == [
        (i["item"], i["occurrence"], n) for n, i in enumerate(shown["items"], start=1)
    ]
    assert (body["offers"][0]["outside_usual"], body["offers"][0]["new_kind"]) == (True, True)
    stored = list(Offer.objects.filter(contact=anna).order_by("rank"))
    assert [(o.item_id, o.occurrence_id, o.rank) for o in stored] == [
        (i["item"], i["occurrence"], n) for n, i in enumerate(shown["items"], start=1)
    ]
    assert {o.channel for o in stored} == {OfferChannel.WEBSITE}
    assert {o.horizon for o in stored} == {0.6}
    assert [o.relevance for o in stored] == [i.get("relevance", 0.0) for i in shown["items"]]
    assert stored[0].outside_usual
    assert stored[0].new_kind

    meter = house_meter(organisation=house.organisation)
    assert (meter.offers, meter.contacts_offered, meter.contacts_outside) == (3, 1, 1)
    (website,) = [c for c in meter.channels if c.offers]
    assert (website.channel, website.offers, website.contacts) == ("website", 3, 1)


def test_a_familiar_item_is_not_outside_and_a_date_and_horizon_may_be_left_out(api, house) -> None:
    client = api(make_token(house.organisation, Role.EDITOR))
    photo = house.upcoming["neue-fotografie"]

    response = client.post(
        "/recommendations/offers",
        json={"contact": house.contacts["Anna"].pk, "items": [{"item": photo.pk}]},
    )

    assert response.status_code == 201, response.text
    (offer,) = response.json()["offers"]
    assert offer == {
        "item": photo.pk,
        "occurrence": None,
        "rank": 1,
        "relevance": 0.0,
        "outside_usual": False,
        "new_kind": False,
    }
    assert response.json()["horizon"] is None
    assert Offer.objects.get().horizon is None


def test_a_read_only_token_cannot_record_offers(api, house) -> None:
    client = api(make_token(house.organisation, Role.VIEWER))
    shown = _shown(client, house, house.contacts["Anna"].pk)

    response = client.post("/recommendations/offers", json=shown)

    assert response.status_code == 403
    error = response.json()["error"]
    assert error["code"] == "forbidden"
    assert "front_desk" in error["message"]
    assert not Offer.objects.exists()


def test_offers_that_cannot_be_recorded_get_json_errors_naming_them(
    api, house, other_organisation
) -> None:
    client = api(make_token(house.organisation, Role.FRONT_DESK))
    anna = house.contacts["Anna"].pk
    photo = house.upcoming["neue-fotografie"].pk
    jazz = house.upcoming["jazznacht"].pk
    photo_date = house.next_date["neue-fotografie"].pk
    foreign = build_foreign_item(other_organisation)
    ok = [{"item": photo, "occurrence": photo_date}]
    cases = {
        "unknown contact": ({"contact": 10**9, "items": ok}, 404, {}),
        "erased contact": ({"contact": house.contacts["Eva"].pk, "items": ok}, 404, {}),
        "no items": ({"contact": anna, "items": []}, 422, {"items": "at least one"}),
        "51 items": ({"contact": anna, "items": ok * 51}, 422, {"items": "at most 50"}),
        "unknown item": (
            {"contact": anna, "items": [*ok, {"item": 10**9}]},
            422,
            {"items.1.item": f"no item {10**9}"},
        ),
        "item of another house": (
            {"contact": anna, "items": [{"item": foreign.pk}, *ok]},
            422,
            {"items.0.item": f"no item {foreign.pk}"},
        ),
        "date of another item": (
            {"contact": anna, "items": [{"item": jazz, "occurrence": photo_date}]},
            422,
            {"items.0.occurrence": f"date {photo_date} is not a date of item {jazz}"},
        ),
        "unknown date": (
            {"contact": anna, "items": [{"item": jazz, "occurrence": 10**9}]},
            422,
            {"items.0.occurrence": f"no date {10**9}"},
        ),
        "item twice": (
            {"contact": anna, "items": [*ok, {"item": jazz}, *ok]},
            422,
            {"items.2.item": f"item {photo} is already at index 0"},
        ),
        "horizon 1.5": ({"contact": anna, "items": ok, "horizon": 1.5}, 422, {"horizon": ""}),
        "relevance 2": (
            {"contact": anna, "items": [{"item": photo, "relevance": 2}]},
            422,
            {"items.0.relevance": ""},
        ),
        "huge id": ({"contact": anna, "items": [{"item": 2**64}]}, 422, {"items.0.item": ""}),
        "unknown field": ({"contact": anna, "items": ok, "rank": 1}, 422, {"rank": "unknown"}),
        "no contact": ({"items": ok}, 422, {"contact": ""}),
    }
    for case, (payload, status, fields) in cases.items():
        response = client.post("/recommendations/offers", json=payload)
        assert response.status_code == status, (case, response.text)
        error = response.json()["error"]
        assert error["message"], case
        if status == 404:
            assert error["code"] == "not_found", case
        else:
            assert error["code"] == "validation_error", case
        for field, wording in fields.items():
            assert field in error["fields"], (case, error)
            assert wording in " ".join(error["fields"][field]), (case, error)
    assert (
        "item 1000000000"
        in client.post("/recommendations/offers", json=cases["unknown item"][0]).json()["error"][
            "message"
        ]
    )
    assert not Offer.objects.exists()

    # Another house cannot record offers for this house's contact.
    stranger = api(make_token(other_organisation, Role.OWNER))
    response = stranger.post("/recommendations/offers", json={"contact": anna, "items": ok})
    assert response.status_code == 404
    assert not Offer.objects.exists()
