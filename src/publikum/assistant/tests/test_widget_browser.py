"""The widget in Chromium: a visitor opens it on the organisation's page, asks, books,
sees a staff reply arrive, and a script typed into it stays text."""

from __future__ import annotations

import re
from typing import Any

import pytest

from publikum.assistant.tests.engine_house import build_house
from publikum.bookings.models import Booking
from publikum.conversations.models import Author, Conversation
from publikum.conversations.services import message_add
from publikum.core.models import Organisation

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PAYLOAD = '<script>window.__pwned = 1</script><b>fett</b><img src=x onerror="window.__pwned=2">'


def _send(page: Any, text: str) -> None:
    box = page.locator(".pka-input")
    box.fill(text)
    box.press("Enter")


def test_a_visitor_asks_books_and_reads_a_staff_reply_in_the_widget(
    page: Any, live_server: Any, organisation: Organisation, tmp_path: Any
) -> None:
    from playwright.sync_api import expect

    build_house(organisation)
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(f"{live_server.url}/{organisation.slug}/")

    launcher = page.locator(".pka-launcher")
    expect(launcher).to_have_attribute("aria-expanded", "false")
    launcher.focus()
    page.keyboard.press("Enter")  # keyboard only
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    expect(launcher).to_have_attribute("aria-expanded", "true")
    expect(page.locator(".pka-input")).to_be_focused()
    log = page.locator("[role=log]")
    expect(log).to_have_attribute("aria-live", "polite")
    expect(log).to_contain_text("digitale Assistent")

    _send(page, "Wann habt ihr heute geöffnet?")
    expect(log.locator(".pka-assistant").last).to_have_text(
        re.compile(r"Heute, \w+, \d+\. \w+, haben wir (von 10 bis 18 Uhr geöffnet|geschlossen)")
    )

    _send(page, "Ich möchte 2 Karten für die Führung in Gebärdensprache buchen")
    expect(log.locator(".pka-assistant").last).to_contain_text("Rundgang in Gebärdensprache")
    expect(log.locator(".pka-assistant").last).to_contain_text("Auf welchen Namen")
    _send(page, "Greta Gast")
    _send(page, "greta@example.org")
    page.locator(".pka-option", has_text="Nein").click()
    expect(log.locator(".pka-assistant").last).to_contain_text("Soll ich verbindlich buchen?")
    page.locator(".pka-option", has_text="Ja").click()
    expect(log.locator(".pka-assistant").last).to_contain_text("Ihr Buchungscode:")
    booking = Booking.objects.get()
    assert booking.quantity == 2
    assert booking.email == "greta@example.org"
    expect(log.locator(".pka-assistant").last).to_contain_text(booking.code)
    page.screenshot(path=str(tmp_path / "booked.png"))

    _send(page, PAYLOAD)
    expect(log.locator(".pka-visitor .pka-text").last).to_have_text(PAYLOAD)
    expect(log.locator(".pka-assistant")).to_have_count(8)  # greeting + 7 replies
    assert page.evaluate("window.__pwned") is None
    assert log.locator("b, img, script").count() == 0

    # A colleague answers in the inbox: the open widget shows it within a poll or two.
    conversation = Conversation.objects.get()
    message_add(conversation, author=Author.STAFF, text="Hier ist Jana, ich helfe gern weiter.")
    expect(log.locator(".pka-staff .pka-text")).to_have_text(
        re.compile("Hier ist Jana, ich helfe gern weiter."), timeout=15_000
    )

    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(launcher).to_be_focused()

    # The conversation survives a page change in the same tab.
    page.goto(f"{live_server.url}/{organisation.slug}/programme/")
    page.locator(".pka-launcher").click()
    expect(page.locator("[role=log]")).to_contain_text(booking.code)

    assert all(url.startswith(live_server.url) for url in requests), requests


def test_the_full_page_is_always_open(
    page: Any, live_server: Any, organisation: Organisation
) -> None:
    from playwright.sync_api import expect

    build_house(organisation)
    page.goto(f"{live_server.url}/{organisation.slug}/assistant/")

    region = page.get_by_role("region", name=re.compile("."))
    expect(page.locator(".pka-launcher")).to_have_count(0)
    expect(page.locator("#assistant-embed .pka-panel")).to_be_visible()
    assert region.count() >= 1
    _send(page, "Is there a café?")
    expect(page.locator(".pka-assistant").last).to_contain_text("museum café")


def test_a_staff_reply_stored_just_before_the_visitors_message_still_appears(
    page: Any, live_server: Any, organisation: Organisation
) -> None:
    """The staff reply gets a lower id than the assistant's answer to the next message: the
    widget must not move its poll cursor past it without showing it."""
    from playwright.sync_api import expect

    build_house(organisation)
    page.goto(f"{live_server.url}/{organisation.slug}/assistant/")
    log = page.locator("[role=log]")
    _send(page, "Is there a café?")
    expect(log.locator(".pka-assistant").last).to_contain_text("museum café")

    # No poll gets through until the visitor's next message has been answered.
    polls = "**/assistant/conversations/**"
    page.route(polls, lambda route: route.abort())
    conversation = Conversation.objects.get()
    message_add(conversation, author=Author.STAFF, text="Jana here, the café opens at ten.")
    _send(page, "Thank you")
    expect(log.locator(".pka-assistant")).to_have_count(3)  # greeting + 2 replies
    expect(log.locator(".pka-staff")).to_have_count(0)

    page.unroute(polls)
    expect(log.locator(".pka-staff .pka-text")).to_have_text(
        "Jana here, the café opens at ten.", timeout=15_000
    )
    # Polling again shows nothing twice.
    page.wait_for_timeout(6_000)
    expect(log.locator(".pka-staff")).to_have_count(1)
    expect(log.locator(".pka-assistant")).to_have_count(3)
    expect(log.locator(".pka-visitor")).to_have_count(2)
