"""Recommendations from a house's own data, through the real services (discovery.services)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from publikum.audience.services import contact_create, interaction_record
from publikum.bookings.services import booking_create
from publikum.core.errors import NotFound, ValidationFailed
from publikum.discovery import services
from publikum.discovery.tests.house import THEMES, House, build_house, days
from publikum.programme import services as programme
from publikum.programme.models import Occurrence


@pytest.fixture
def house(organisation) -> House:
    return build_house(organisation)


def recommend(house: House, name: str, **kwargs: Any) -> services.ContactRecommendations:
    return services.contact_recommendations(
        organisation=house.organisation, contact_id=house.contacts[name].pk, **kwargs
    )


def visited_ids(house: House, name: str) -> set[int]:
    return set(
        house.contacts[name].interactions.filter(kind="visit").values_list("item_id", flat=True)
    )


def test_only_upcoming_published_bookable_items_are_recommended_each_for_its_next_date(
    house,
) -> None:
    upcoming = {item.pk: slug for slug, item in house.upcoming.items()}
    for name in ("Anna", "Ben", "Clara", "Foto0", "Musik1", "Geschichte2"):
        for horizon in (0.0, 0.5, 1.0):
            result = recommend(house, name, limit=10, horizon=horizon)
            assert result.items, (name, horizon)
            for rec in result.items:
                assert rec.item_id in upcoming, (name, horizon, rec.title)
                slug = upcoming[rec.item_id]
                assert rec.occurrence_id == house.next_date[slug].pk
                assert rec.starts_at == house.next_date[slug].starts_at
                assert rec.text


def test_a_photography_visitor_gets_photography_first_because_of_what_she_visited(
    house,
) -> None:
    result = recommend(house, "Anna", limit=3, horizon=0.0)

    assert result.basis == "history"
    assert result.note == ""
    first = result.items[0]
    assert first.item_id == house.upcoming["neue-fotografie"].pk
    assert first.title == "Neue Fotografie aus Sachsen"  # Anna reads German
    (part,) = first.explanation.parts
    assert part.kind == "because_visited"
    (anchor,) = part.item_ids
    assert int(anchor) in visited_ids(house, "Anna")
    anchor_item = next(i for i in house.past.values() if i.pk == int(anchor))
    assert first.text == f"Weil Sie „{anchor_item.title_de}“ besucht haben."
    assert first.explanation.texts["en"] == f"Because you visited “{anchor_item.title_en}”."


def test_a_wide_horizon_brings_a_theme_she_has_not_attended_and_says_so(house) -> None:
    familiar = recommend(house, "Anna", limit=1, horizon=0.0).items[0]
    wide = recommend(house, "Anna", limit=1, horizon=1.0).items[0]

    assert familiar.item_id == house.upcoming["neue-fotografie"].pk
    assert wide.item_id == house.upcoming["fotografische-stadtgeschichte"].pk
    new = next(p for p in wide.explanation.parts if p.kind == "new_for_you")
    assert "stadtgeschichte" in new.themes
    # Still tied to what she did: people who liked one of her exhibitions came to such tours.
    assert {int(i) for i in new.item_ids} <= visited_ids(house, "Anna")
    assert wide.text.startswith("Neu für Sie: Stadtgeschichte und Führung.")
    assert wide.novelty > familiar.novelty


def test_without_history_the_stated_interests_lead_and_the_list_says_so(house) -> None:
    result = recommend(house, "Ben", limit=3, horizon=0.0)  # Ben reads English

    assert result.basis == "interests"
    assert result.note == "No visits or bookings yet: chosen from the stated interests."
    first = result.items[0]
    assert first.title == "Jazz Night"
    assert first.text == "Because you are interested in Music."
    assert [p.kind for p in first.explanation.parts] == ["interest"]
    # The rest lies outside his interests; nothing claims we know nothing of him.
    assert all("do not know your interests" not in r.text for r in result.items)
    assert {r.text for r in result.items[1:]} == {"Also popular with our audience."}


def test_without_history_or_interests_a_varied_popular_choice(house) -> None:
    result = recommend(house, "Clara", limit=4, horizon=0.0, language="en")

    assert result.basis == "popular"
    assert result.note == (
        "No visits, bookings or stated interests yet: a varied choice of what is popular."
    )
    assert {r.text for r in result.items} == {
        "We do not know your interests yet: a varied choice of what is popular."
    }
    assert {r.explanation.texts["de"] for r in result.items} == {
        "Wir kennen Ihre Interessen noch nicht: eine abwechslungsreiche Auswahl dessen, "
        "was gefragt ist."
    }
    themes = [
        frozenset(next(i for i in house.upcoming.values() if i.pk == r.item_id).themes.all())
        for r in result.items
    ]
    assert len(set(themes)) == len(themes)  # four different theme mixes, not four of one


def test_bad_requests_are_named_errors(house, other_organisation) -> None:
    with pytest.raises(ValidationFailed, match="horizon"):
        recommend(house, "Anna", horizon=1.5)
    with pytest.raises(ValidationFailed, match="horizon"):
        recommend(house, "Anna", horizon=-0.1)
    for limit in (0, 51):
        with pytest.raises(ValidationFailed, match="limit") as caught:
            recommend(house, "Anna", limit=limit)
        assert caught.value.fields == {"limit": ["between 1 and 50"]}
    with pytest.raises(NotFound):
        recommend(house, "Eva")  # erased
    with pytest.raises(NotFound):
        services.contact_recommendations(
            organisation=other_organisation, contact_id=house.contacts["Anna"].pk
        )
    with pytest.raises(NotFound):
        services.contact_recommendations(organisation=house.organisation, contact_id=10**9)


def test_an_empty_programme_gives_an_empty_list_with_the_reason(organisation) -> None:
    programme.theme_create(organisation=organisation, name_de="Musik", slug="musik")
    item = programme.item_create(
        organisation=organisation, data={"title_de": "Konzert", "themes": ["musik"]}
    )
    Occurrence.objects.create(
        organisation=organisation,
        item=item,
        starts_at=days(-10),
        ends_at=days(-10) + timedelta(hours=2),
        capacity=10,
    )
    guest = contact_create(organisation=organisation, email="gast@example.org")
    interaction_record(contact=guest, kind="visit", item=item, occurred_at=days(-10))

    result = services.contact_recommendations(
        organisation=organisation, contact_id=guest.pk, language="en"
    )

    assert result.items == []
    assert result.basis == "history"
    assert result.note == "There are no upcoming bookable dates to recommend."


def test_the_model_learns_only_from_people_who_were_not_erased(house) -> None:
    inputs = services.house_inputs(organisation=house.organisation)

    users = {i.user for i in inputs.interactions}
    assert str(house.contacts["Anna"].pk) in users
    assert str(house.contacts["Eva"].pk) not in users
    assert {c.id for c in inputs.candidates} == {str(i.pk) for i in house.upcoming.values()}


def test_a_cancelled_booking_is_no_history(house) -> None:
    clara = house.contacts["Clara"]
    tour = house.upcoming["stadtgeschichte-zu-fuss"]
    interaction_record(contact=clara, kind="booking", item=tour)
    interaction_record(contact=clara, kind="booking_cancelled", item=tour)

    inputs = services.house_inputs(organisation=house.organisation)

    assert str(clara.pk) not in {i.user for i in inputs.interactions}
    assert recommend(house, "Clara").basis == "popular"


def test_a_visit_or_booking_after_the_fit_counts_at_once_without_refitting(house) -> None:
    before = recommend(house, "Clara", limit=3)
    fitted = services.fitted_house(organisation=house.organisation)
    assert before.basis == "popular"

    # Clara visits an exhibition; Anna books the tour she was offered.
    interaction_record(
        contact=house.contacts["Clara"],
        kind="visit",
        item=house.past["portraets"],
        occurred_at=days(-1),
    )
    tour = house.upcoming["fotografische-stadtgeschichte"]
    assert tour.pk in {r.item_id for r in recommend(house, "Anna", limit=3).items}
    booking_create(
        organisation=house.organisation,
        occurrence_id=house.next_date["fotografische-stadtgeschichte"].pk,
        name="Anna Test",
        email="anna@example.org",
        quantity=1,
    )

    clara = recommend(house, "Clara", limit=3, horizon=0.0)
    anna = recommend(house, "Anna", limit=3)
    assert services.fitted_house(organisation=house.organisation) is fitted  # no refit yet
    assert clara.basis == "history"
    assert clara.items[0].text == "Weil Sie „Porträts aus Leipzig“ besucht haben."
    assert tour.pk not in {r.item_id for r in anna.items}


def test_a_programme_change_refits_at_once(house) -> None:
    fitted = services.fitted_house(organisation=house.organisation)
    talk = programme.item_create(
        organisation=house.organisation,
        data={"title_de": "Vortrag über Fotografie", "kind": "talk", "themes": ["fotografie"]},
    )
    date = programme.occurrence_create(
        item=talk, starts_at=days(3), ends_at=days(3) + timedelta(hours=1), capacity=20
    )

    refitted = services.fitted_house(organisation=house.organisation)

    assert refitted is not fitted
    assert refitted.dates[str(talk.pk)].occurrence_id == date.pk


# --- the contact page -----------------------------------------------------------------------


def contact_page(client: Client, house: House, name: str) -> str:
    url = reverse(
        "contact_detail",
        kwargs={"org": house.organisation.slug, "contact_id": house.contacts[name].pk},
    )
    response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


def test_the_contact_page_shows_what_to_offer_and_why_in_the_staff_language(
    house, owner_client
) -> None:
    page = contact_page(owner_client, house, "Anna")
    assert 'data-testid="for-you"' in page
    assert "Neue Fotografie aus Sachsen" in page
    assert "Weil Sie „Licht und Schatten“ besucht haben." in page
    assert page.count('data-testid="recommendation"') <= services.PAGE_LIMIT

    owner_client.cookies["django_language"] = "en"
    page = contact_page(owner_client, house, "Anna")
    assert "New Photography from Saxony" in page
    assert "Because you visited “Light and Shadow”." in page
    # Ben reads English, but the staff member's language decides the page.
    owner_client.cookies["django_language"] = "de"
    page = contact_page(owner_client, house, "Ben")
    assert "Weil Sie sich für Musik interessieren." in page


def test_the_contact_page_says_when_there_is_nothing_to_recommend(
    organisation, owner_client
) -> None:
    guest = contact_create(organisation=organisation, email="gast@example.org")
    owner_client.cookies["django_language"] = "en"
    url = reverse("contact_detail", kwargs={"org": organisation.slug, "contact_id": guest.pk})

    page = owner_client.get(url).content.decode()

    assert 'data-testid="for-you-empty"' in page
    assert "There are no upcoming bookable dates to recommend." in page


def test_the_page_of_an_erased_person_recommends_nothing(house, owner_client) -> None:
    owner_client.cookies["django_language"] = "en"
    page = contact_page(owner_client, house, "Eva")
    assert "This person was erased: nothing to recommend." in page
    assert 'data-testid="recommendation"' not in page


def test_theme_names_come_from_the_house_vocabulary(house) -> None:
    wide = recommend(house, "Anna", limit=1, horizon=1.0, language="en").items[0]
    assert THEMES["stadtgeschichte"][1] in wide.text  # "City history"
