"""The demo's year of "for you" offers: after the build, the meter and the dashboard show
real figures."""

from __future__ import annotations

import pytest
from django.test import Client

from publikum.core.demo import build_demo
from publikum.core.models import User
from publikum.discovery import meter
from publikum.discovery.demo import FIRST_HORIZON, LAST_HORIZON
from publikum.discovery.models import Offer, OfferChannel
from publikum.discovery.services import house_horizon


@pytest.mark.django_db
def test_the_demo_has_a_year_of_offers_and_the_dashboard_shows_them():
    demo = build_demo(contacts=500)

    offers = Offer.objects.filter(organisation=demo, channel=OfferChannel.NEWSLETTER)
    first, last = offers.order_by("offered_at").first(), offers.order_by("offered_at").last()
    assert first is not None
    assert last is not None
    # The dial went up over the year, and the house's dial is where it ended.
    assert (first.horizon, last.horizon) == (FIRST_HORIZON, LAST_HORIZON)
    assert house_horizon(organisation=demo) == LAST_HORIZON
    # Every offered item belongs to the house and was offered with its date.
    assert not offers.exclude(item__organisation=demo).exists()
    assert not offers.filter(occurrence__isnull=True).exists()

    months = meter.house_meter_by_month(organisation=demo)
    assert sum(1 for m in months if m.offers) >= 11  # a newsletter a month
    assert sum(m.conversions for m in months) > 0
    quarter = meter.house_meter(organisation=demo)
    assert quarter.offers > 0
    assert 0 < quarter.contacts_outside < quarter.contacts_offered
    assert quarter.bookings > 0
    assert quarter.gini is not None
    assert 0 < quarter.gini < 1
    assert quarter.breadth_offered is not None
    assert quarter.breadth_offered > 1

    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(User.objects.get(email="viewer@publikum.example"))
    html = client.get(f"/o/{demo.slug}/discovery/").content.decode()
    assert 'data-testid="discovery-empty"' not in html
    shown = html.split('data-testid="figure-outside"><span class="value">', 1)[1].split("<", 1)[0]
    assert shown == f"{100 * quarter.outside_share:.1f} %"
    assert 'data-testid="top-items"' in html
