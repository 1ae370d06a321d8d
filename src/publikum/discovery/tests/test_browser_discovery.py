"""A manager in Chromium: opens the discovery dashboard, reads the figures and the charts,
turns the house's dial (and mistypes it once), then looks at a person's meter."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from conftest import TIMEOUT_MS, make_user
from publikum.core.models import Role
from publikum.core.services import membership_set
from publikum.discovery.services import house_horizon
from publikum.discovery.tests.test_dashboard import build_small_house


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_read_the_meter_turn_the_dial_and_see_a_persons_meter(browser, live_server, organisation):
    house = build_small_house(organisation)
    manager = make_user("manager.discovery@example.org")
    membership_set(organisation=organisation, user=manager, role=Role.MANAGER)
    context = browser.new_context(locale="en-GB", viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    try:
        page.goto(f"{live_server.url}/accounts/login/?next=/o/{organisation.slug}/")
        page.locator("#id_username").fill("manager.discovery@example.org")
        page.locator("#id_password").fill("a-long-test-password")
        page.get_by_role("button", name="Log in").click()
        page.get_by_role("navigation", name="Main navigation").get_by_role(
            "link", name="Discovery"
        ).click()
        expect(page.locator("h1")).to_have_text("Discovery")

        expect(page.get_by_test_id("figure-outside")).to_contain_text("50.0 %")
        expect(page.get_by_test_id("figure-outside")).to_contain_text(
            "1 of the 2 who were offered anything"
        )
        expect(page.get_by_test_id("figure-conversions")).to_contain_text("100.0 %")
        reach = page.get_by_role("img", name="Reach beyond the usual themes, per month (%)")
        expect(reach).to_be_visible()
        expect(reach.locator("polyline").first).to_be_attached()
        expect(
            page.get_by_role("img", name="Concentration of offers over items (Gini), per month")
        ).to_be_visible()
        # The values of a chart as a table, one click away.
        page.get_by_text("Show as table").first.click()
        expect(page.locator("figure table").first).to_be_visible()
        expect(page.get_by_test_id("top-items")).to_contain_text("Jazznacht")

        dial = page.get_by_role("spinbutton", name="Horizon")
        expect(dial).to_have_value("0.3")
        dial.fill("0.6")
        page.get_by_role("button", name="Save the dial").click()
        expect(page.locator(".msg")).to_contain_text("The dial is now at 0.60.")
        expect(page.get_by_test_id("dial-value")).to_have_text("0.60")

        page.get_by_role("spinbutton", name="Horizon").fill("1.5")
        page.get_by_role("button", name="Save the dial").click()
        expect(page.get_by_test_id("dial-error")).to_contain_text("less than or equal to 1")
        expect(page.get_by_test_id("dial-value")).to_have_text("0.60")

        page.goto(f"{live_server.url}/o/{organisation.slug}/contacts/{house.anna.pk}/")
        bubble = page.get_by_test_id("bubble-meter")
        expect(bubble.get_by_test_id("usual-themes")).to_have_text("Music, Photography")
        expect(bubble.get_by_test_id("outside-share")).to_have_text(re.compile(r"1 of 2 \(50 %\)"))
        expect(
            bubble.get_by_role("img", name="Distinct themes offered and attended per quarter")
        ).to_be_visible()
    finally:
        context.close()
    assert house_horizon(organisation=organisation) == pytest.approx(0.6)
