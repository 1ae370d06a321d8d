"""The filter-bubble meter on a small house whose figures are worked out by hand
(meter_house.py lists every offer and booking)."""

from __future__ import annotations

from datetime import date

import pytest

from publikum.audience.privacy import contact_erase
from publikum.discovery import meter
from publikum.discovery.meter.common import gini
from publikum.discovery.tests.meter_house import NOW, build_meter_house, build_other_house


@pytest.fixture
def house(organisation, other_organisation):
    built = build_meter_house(organisation)
    build_other_house(other_organisation)
    return built


def test_gini_of_known_distributions():
    assert gini([5, 5, 5, 5]) == 0.0
    # One item took every offer among four: (n - 1) / n.
    assert gini([0, 0, 0, 8]) == pytest.approx(0.75)
    # [0, 1, 1, 1, 3]: the sum of |x_i - x_j| over all ordered pairs is 24, the mean 1.2,
    # so G = 24 / (2 * 5^2 * 1.2) = 0.4.
    assert gini([3, 1, 0, 1, 1]) == pytest.approx(0.4)
    assert gini([]) is None
    assert gini([0, 0]) is None


def test_the_last_quarter_of_the_small_house(house):
    figures = meter.house_meter(organisation=house.organisation, now=NOW)

    # (a) Anna and Ben got something outside their usual themes, Clara did not.
    assert (figures.contacts_outside, figures.contacts_offered) == (2, 3)
    assert figures.outside_share == pytest.approx(2 / 3)
    assert round(100 * figures.outside_share, 1) == 66.7
    assert (figures.offers, figures.outside_offers) == (6, 3)
    # (b) b1 and b2 of six bookings (the voucher without an item is no booking of anything).
    assert (figures.conversions, figures.bookings) == (2, 6)
    assert figures.conversion_share == pytest.approx(1 / 3)
    # (c) A 3, B 1, C 1, D 1 and E never offered: [0, 1, 1, 1, 3].
    assert (figures.gini_items, figures.offered_items) == (5, 4)
    assert figures.gini == pytest.approx(0.4)
    # (d) Themes offered: Anna 3, Ben 2, Clara 1; attended: Anna 2, Ben 2, Clara 3.
    assert figures.breadth_offered == pytest.approx(6 / 3)
    assert figures.contacts_attending == 3
    assert figures.breadth_attended == pytest.approx(7 / 3)


def test_by_channel(house):
    figures = meter.house_meter(organisation=house.organisation, now=NOW)

    by_channel = {c.channel: c for c in figures.channels}
    assert set(by_channel) == {"newsletter", "website"}
    newsletter, website = by_channel["newsletter"], by_channel["website"]
    assert (newsletter.offers, newsletter.contacts, newsletter.outside_offers) == (4, 2, 2)
    assert newsletter.conversions == 2
    # o6 came after Anna's booking of D: no conversion for the website.
    assert (website.offers, website.contacts, website.outside_offers) == (2, 2, 1)
    assert website.conversions == 0


def test_month_by_month(house):
    months = {
        m.month: m for m in meter.house_meter_by_month(organisation=house.organisation, now=NOW)
    }

    assert len(months) == 12
    assert min(months) == date(2023, 7, 1)
    assert max(months) == date(2024, 6, 1)
    february, march, april, may, june = (months[date(2024, n, 1)] for n in (2, 3, 4, 5, 6))
    assert (february.offers, february.contacts_offered, february.outside_share) == (1, 1, 1.0)
    assert (march.offers, march.outside_share, march.bookings, march.conversion_share) == (
        0,
        None,
        1,
        0.0,
    )
    assert (april.offers, april.outside_offers, april.contacts_offered) == (3, 2, 1)
    assert april.outside_share == 1.0
    assert april.breadth_offered == pytest.approx(3.0)
    assert april.breadth_attended == pytest.approx(1.0)
    assert (may.offers, may.contacts_offered, may.contacts_outside) == (3, 2, 1)
    assert (may.bookings, may.conversions) == (4, 2)
    assert may.breadth_offered == pytest.approx(1.5)
    assert may.breadth_attended == pytest.approx(4 / 3)
    # May's population: A (2 offers), C (1), and B and E with dates ahead: [0, 0, 1, 2].
    assert may.gini == pytest.approx(7 / 12)
    assert may.by_channel == {"newsletter": 2, "website": 1}
    assert (june.offers, june.bookings, june.gini) == (0, 0, None)


def test_most_offered_items(house):
    top = meter.most_offered_items(organisation=house.organisation, now=NOW, limit=2)

    assert [(t.title_de, t.offers, t.contacts, t.outside_offers) for t in top] == [
        ("Licht und Schatten", 3, 3, 0),
        # B, C and D have one offer each; the lowest id comes first.
        ("Jazznacht", 1, 1, 1),
    ]


def test_another_houses_offers_and_bookings_never_count(organisation, other_organisation):
    build_meter_house(organisation)
    alone = meter.house_meter(organisation=organisation, now=NOW)
    build_other_house(other_organisation)
    together = meter.house_meter(organisation=organisation, now=NOW)

    assert together == alone
    other = meter.house_meter(organisation=other_organisation, now=NOW)
    assert (other.offers, other.contacts_offered, other.conversions, other.bookings) == (3, 1, 1, 1)
    assert meter.most_offered_items(organisation=other_organisation, now=NOW)[0].offers == 3


def test_a_house_without_offers_says_no_data_not_zero(organisation):
    figures = meter.house_meter(organisation=organisation, now=NOW)

    assert figures.offers == 0
    assert figures.outside_share is None
    assert figures.conversion_share is None
    assert figures.gini is None
    assert figures.breadth_offered is None
    assert meter.has_offers(organisation=organisation) is False


def test_the_meter_of_one_contact(house):
    anna = house.contacts["Anna"]
    found = meter.contact_meter(
        organisation=house.organisation, contact=anna, language="en", now=NOW
    )

    assert [q.label for q in found.quarters] == ["Q3 2023", "Q4 2023", "Q1 2024", "Q2 2024"]
    first, _q4, q1, q2 = found.quarters
    assert (first.offers, first.attended) == (0, 0)
    # Q1: her visit of A (photography, an exhibition).
    assert (q1.offers, q1.attended, q1.themes_attended, q1.kinds_attended) == (0, 1, 1, 1)
    # Q2: offered A, B and D (three themes, three kinds); booked B and D, visited B.
    assert (q2.offers, q2.themes_offered, q2.kinds_offered) == (3, 3, 3)
    assert (q2.attended, q2.themes_attended, q2.kinds_attended) == (3, 2, 2)
    assert (found.offers, found.outside_offers, found.new_kind_offers) == (3, 2, 2)
    assert round(found.outside_percent) == 67
    assert (found.conversions, found.bookings) == (1, 2)
    assert found.usual_from_history is True
    assert found.usual_themes == ["History", "Music", "Photography"]


def test_a_contact_without_history_has_stated_interests_as_usual_themes(house):
    from publikum.audience.services import contact_create

    newcomer = contact_create(
        organisation=house.organisation,
        first_name="Neu",
        email="neu.meter@example.org",
        interests=["musik"],
    )
    found = meter.contact_meter(
        organisation=house.organisation, contact=newcomer, language="de", now=NOW
    )

    assert found.usual_themes == ["Musik"]
    assert found.usual_from_history is False
    assert (found.offers, found.outside_share, found.bookings) == (0, None, 0)


def test_the_contact_page_section_of_an_erased_person_is_a_message(house):
    clara = house.contacts["Clara"]
    contact_erase(contact=clara)
    clara.refresh_from_db()

    section = meter.contact_meter_section(
        organisation=house.organisation, contact=clara, language="en"
    )

    assert section.meter is None
    assert "erased" in section.message
