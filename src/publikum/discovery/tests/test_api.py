"""GET /api/v1/recommendations over real HTTP, as an integration would call it."""

from __future__ import annotations

from datetime import datetime

import pytest

from conftest import make_token
from publikum.audience.services import contact_create
from publikum.core.models import Role
from publikum.discovery.tests.house import House, build_house


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
        "items": [],
    }
