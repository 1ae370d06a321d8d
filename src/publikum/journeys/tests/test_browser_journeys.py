"""A marketing person in Chromium: adds a ready-made journey, reads it, switches it on,
tries it with a contact, and looks at the mail template's preview; builds a journey from
scratch in the editor and switches it on."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from conftest import TIMEOUT_MS, make_user
from publikum.audience.services import contact_create
from publikum.core.models import Role
from publikum.core.services import membership_set
from publikum.journeys.models import EmailTemplate, Journey, JourneyStatus, MessageKind


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_add_read_switch_on_and_try_a_ready_made_journey(browser, live_server, organisation):
    editor = make_user("editor.journeys@example.org")
    membership_set(organisation=organisation, user=editor, role=Role.EDITOR)
    contact_create(organisation=organisation, first_name="Anna", email="anna@example.org")
    context = browser.new_context(locale="en-GB", viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    try:
        page.goto(f"{live_server.url}/accounts/login/?next=/o/{organisation.slug}/")
        page.locator("#id_username").fill("editor.journeys@example.org")
        page.locator("#id_password").fill("a-long-test-password")
        page.get_by_role("button", name="Log in").click()
        page.get_by_role("navigation", name="Main navigation").get_by_role(
            "link", name="Journeys"
        ).click()
        expect(page.locator("h1")).to_have_text("Journeys")

        card = page.locator("[data-testid=library] li").filter(has_text="Welcome after")
        card.get_by_role("button", name="Add as draft").click()
        expect(page.locator("[data-testid=journey-status]")).to_have_text("Draft")
        flow = page.locator("[data-testid=flow]")
        expect(flow).to_contain_text("Send the mail “Willkommen 1")
        expect(flow).to_contain_text("Wait 3 days")

        page.get_by_role("button", name="Switch on").click()
        expect(page.locator(".msg")).to_contain_text("The journey is on.")
        expect(page.locator("[data-testid=journey-status]")).to_have_text("Active")

        page.get_by_label("E-mail address or contact number").fill("anna@example.org")
        page.get_by_role("button", name="Try it").click()
        dry_run = page.locator("[data-testid=dry-run]")
        expect(dry_run).to_contain_text("Willkommen 1")

        page.get_by_role("navigation", name="Main navigation").get_by_role(
            "link", name="Mail templates"
        ).click()
        page.get_by_role("link", name="Willkommen 1: Schön, dass Sie da sind").click()
        preview = page.frame_locator("iframe[title='German version']")
        expect(preview.locator("body")).to_contain_text("Schön, dass Sie da sind")
        english = page.frame_locator("iframe[title='English version']")
        expect(english.locator("body")).to_contain_text("We are glad you are here")
    finally:
        context.close()
    journey = Journey.objects.get(organisation=organisation)
    assert journey.status == JourneyStatus.ACTIVE


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_build_a_journey_from_scratch_in_the_editor_and_switch_it_on(
    browser, live_server, organisation
):
    editor = make_user("builder.journeys@example.org")
    membership_set(organisation=organisation, user=editor, role=Role.EDITOR)
    EmailTemplate.objects.create(
        organisation=organisation, name="Hallo und willkommen", kind=MessageKind.MARKETING,
        purpose="newsletter", subject_de="Hallo {{ contact.first_name }}",
        subject_en="Hello {{ contact.first_name }}",
        blocks=[{"type": "text", "markdown_de": "Schön.", "markdown_en": "Nice."}],
    )  # fmt: skip
    context = browser.new_context(locale="en-GB", viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    try:
        page.goto(f"{live_server.url}/accounts/login/?next=/o/{organisation.slug}/journeys/")
        page.locator("#id_username").fill("builder.journeys@example.org")
        page.locator("#id_password").fill("a-long-test-password")
        page.get_by_role("button", name="Log in").click()
        page.get_by_role("link", name="New journey").click()

        page.get_by_label("Name").fill("Hello new subscribers")
        page.get_by_label("Starts when").select_option(label="Subscription confirmed")
        page.get_by_label("Only subscriptions to").select_option(label="Newsletter")
        page.get_by_role("button", name="Create the journey").click()
        expect(page.locator("[data-testid=journey-status]")).to_have_text("Draft")

        page.get_by_role("link", name="Add the first step").click()
        page.get_by_label("Wait", exact=True).check()
        page.get_by_role("button", name="Continue").click()
        page.get_by_label("Days").fill("2")
        page.get_by_role("button", name="Add step").click()
        flow = page.locator("[data-testid=editor-flow]")
        expect(flow).to_contain_text("Wait 2 days")

        page.get_by_role("link", name="Add a step after this one").click()
        page.get_by_label("Send a mail").check()
        page.get_by_role("button", name="Continue").click()
        page.get_by_label("Mail template").select_option(label="Hallo und willkommen")
        page.get_by_role("button", name="Add step").click()
        expect(flow).to_contain_text("Send the mail “Hallo und willkommen”")
        expect(page.locator("[data-testid=no-problems]")).to_be_visible()

        page.get_by_role("link", name="Done: back to the journey").click()
        page.get_by_role("button", name="Switch on").click()
        expect(page.locator(".msg")).to_contain_text("The journey is on.")
        expect(page.locator("[data-testid=journey-status]")).to_have_text("Active")
    finally:
        context.close()
    journey = Journey.objects.get(organisation=organisation, name="Hello new subscribers")
    assert journey.status == JourneyStatus.ACTIVE
    assert journey.trigger_config == {"purpose": "newsletter"}
    assert [step["type"] for step in journey.definition["steps"]] == ["wait", "email"]
