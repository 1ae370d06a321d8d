"""The whole way of a hand-over, in Chromium: a visitor asks the widget on the house's
page for a person and leaves an address, the conversation appears in the inbox with its
transcript (a script the visitor typed stays text), a staff member replies there, and the
reply arrives by mail through a real SMTP server, with the conversation's own reply
address."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from publikum.assistant.tests.engine_house import build_house
from publikum.conversations.models import Author, Conversation, ConversationStatus
from publikum.core.models import Organisation, Role
from publikum.web.tests.test_browser import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PAYLOAD = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned=2">'


def _send(page: Any, text: str) -> None:
    box = page.locator(".pka-input")
    box.fill(text)
    box.press("Enter")


def test_a_hand_over_reaches_the_inbox_and_the_staff_reply_arrives_by_mail(
    context: Any,
    live_server: Any,
    organisation: Organisation,
    member_factory: Any,
    smtp_server: Any,
) -> None:
    from playwright.sync_api import expect

    build_house(organisation)
    staff = member_factory(organisation, Role.FRONT_DESK)

    # The visitor, on the house's public page.
    visitor = context.new_page()
    visitor.goto(f"{live_server.url}/{organisation.slug}/")
    visitor.locator(".pka-launcher").click()
    log = visitor.locator("[role=log]")
    _send(visitor, PAYLOAD)
    expect(log.locator(".pka-visitor .pka-text").last).to_have_text(PAYLOAD)
    _send(visitor, "Ich möchte bitte mit einem Menschen sprechen")
    answer = log.locator(".pka-assistant").last
    expect(answer).to_contain_text("innerhalb eines Werktags")
    expect(answer).to_contain_text("E-Mail")
    _send(visitor, "greta.gast@example.org")
    expect(log.locator(".pka-assistant")).to_have_count(4)  # greeting + three replies
    conversation = Conversation.objects.get()
    assert conversation.status == ConversationStatus.OPEN
    assert conversation.visitor_email == "greta.gast@example.org"
    visitor.close()
    # The visitor has left: last seen longer ago than a chat counts as open.
    Conversation.objects.filter(pk=conversation.pk).update(
        visitor_seen_at=timezone.now() - timedelta(minutes=10)
    )

    # A colleague at the front desk finds it in the inbox.
    desk = context.new_page()
    log_in(desk, live_server.url, staff)
    desk.goto(f"{live_server.url}/o/{organisation.slug}/inbox/")
    row = desk.get_by_test_id("conversation-row").filter(has_text="greta.gast@example.org")
    expect(row).to_have_count(1)
    row.get_by_role("link").click()
    transcript = desk.get_by_test_id("transcript")
    expect(transcript).to_contain_text(PAYLOAD)
    expect(transcript).to_contain_text("mit einem Menschen sprechen")
    assert desk.evaluate("window.__pwned") is None
    assert transcript.locator("script, img").count() == 0
    expect(desk.get_by_test_id("reply-route")).to_contain_text("greta.gast@example.org")
    desk.locator("#id_text").fill("Liebe Frau Gast, gern rufe ich Sie morgen zurück. Jana")
    desk.get_by_role("button", name=re.compile("Antwort senden|Send reply")).click()
    expect(desk.get_by_test_id("message-staff")).to_contain_text("gern rufe ich Sie morgen")

    # The reply arrived through SMTP, addressed to the visitor, answerable into the thread.
    [mail] = smtp_server.messages
    assert mail.recipients == ["greta.gast@example.org"]
    assert "gern rufe ich Sie morgen zurück" in mail.text
    conversation.refresh_from_db()
    assert f".{conversation.mail_token}@" in str(mail.message["Reply-To"])
    assert conversation.status == ConversationStatus.WAITING
    assert conversation.first_response_at is not None
    assert conversation.messages.filter(author=Author.STAFF).count() == 1
