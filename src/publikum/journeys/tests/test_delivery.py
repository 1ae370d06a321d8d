"""Delivery: guardrails at send time, headers, one-click unsubscribe, click tracking, retries.

Real parts throughout: the database, a real SMTP server (aiosmtpd) on loopback that Django's
SMTP backend talks to, real HTTP requests through Django's test client. Time is a fixed
`now` handed to the delivery run; nothing sleeps.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest
from aiosmtpd.controller import Controller
from django.db import transaction
from django.test import Client
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from conftest import free_port
from publikum.audience.consent import unsubscribe_everything
from publikum.audience.models import (
    Channel,
    Consent,
    Contact,
    EmailStatus,
    Interaction,
    InteractionKind,
    Purpose,
)
from publikum.audience.privacy import contact_erase
from publikum.audience.services import consent_set
from publikum.core.errors import ValidationFailed
from publikum.core.mailsink import ORG_HEADER
from publikum.core.models import AuditEntry, Organisation
from publikum.journeys import delivery
from publikum.journeys.delivery import claims_reap, message_queue, messages_deliver
from publikum.journeys.models import (
    DeliverySettings,
    EmailTemplate,
    Message,
    MessageKind,
    MessageStatus,
    SuppressionReason,
)

pytestmark = pytest.mark.django_db

BERLIN = ZoneInfo("Europe/Berlin")
PROGRAMME_URL = "https://museum.example/programm?tag=kinder&sort=neu"


# --- a real SMTP server on loopback, with scripted answers -----------------------------------
class Sink:
    """aiosmtpd handler: stores what it accepts; answers from a script when given one."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.rcpt_replies: list[str] = []  # next answers to RCPT TO (then "250 OK")
        self.data_replies: list[str] = []  # next answers to the end of DATA
        self.lock = threading.Lock()

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        with self.lock:
            reply = self.rcpt_replies.pop(0) if self.rcpt_replies else ""
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            reply = self.data_replies.pop(0) if self.data_replies else ""
            if reply:
                return reply
            self.messages.append(
                message_from_bytes(envelope.original_content, policy=policy.default)  # type: ignore[arg-type]
            )
        return "250 Message accepted"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if str(m["To"]) == address]


def use_smtp(settings: Any, port: int) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = port
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_TIMEOUT = 5


@pytest.fixture
def sink(settings: Any) -> Iterator[Sink]:
    handler = Sink()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    use_smtp(settings, port)
    try:
        yield handler
    finally:
        controller.stop()


@pytest.fixture(autouse=True)
def _public_url(settings: Any) -> None:
    settings.PUBLIC_URL = "https://publikum.example"


# --- data ------------------------------------------------------------------------------------
def berlin(days: int, hour: int, minute: int = 0) -> datetime:
    """A wall-clock time in Berlin, `days` after today: a fixed `now` for a delivery run."""
    day = timezone.localdate(timezone.now(), BERLIN) + timedelta(days=days)
    return datetime.combine(day, time(hour, minute), tzinfo=BERLIN)


NOON = berlin(1, 12)  # tomorrow at noon: outside the default quiet hours (21:00 to 08:00)

_n = iter(range(1, 10**9))


def person(
    organisation: Organisation, *, consents: tuple[str, ...] = (Purpose.NEWSLETTER,), **fields: Any
) -> Contact:
    n = next(_n)
    values: dict[str, Any] = {"first_name": f"Ada{n}", "email": f"ada{n}@example.org", **fields}
    contact = Contact.objects.create(organisation=organisation, **values)
    for purpose in consents:
        consent_set(
            contact=contact,
            channel=Channel.EMAIL,
            purpose=purpose,
            granted=True,
            source="test form",
            at=timezone.now() - timedelta(days=30),
        )
    return contact


def template(
    organisation: Organisation,
    *,
    kind: str = MessageKind.MARKETING,
    purpose: str = Purpose.NEWSLETTER,
    **fields: Any,
) -> EmailTemplate:
    values: dict[str, Any] = {
        "name": f"Vorlage {next(_n)}",
        "kind": kind,
        "purpose": purpose if kind == MessageKind.MARKETING else "",
        "subject_de": "Hallo {{ contact.first_name }}",
        "subject_en": "Hello {{ contact.first_name }}",
        "blocks": [
            {
                "type": "text",
                "markdown_de": "Neues aus dem Haus.",
                "markdown_en": "News from the house.",
            },
            {
                "type": "button",
                "label_de": "Zum Programm",
                "label_en": "Programme",
                "url": PROGRAMME_URL,
            },
        ],
        **fields,
    }
    return EmailTemplate.objects.create(organisation=organisation, **values)


def queue(
    organisation: Organisation, contact: Contact, tpl: EmailTemplate, key: str = ""
) -> Message:
    return message_queue(
        organisation=organisation, contact=contact, template=tpl, key=key or f"test:{next(_n)}"
    )


def already_sent(contact: Contact, *, kind: str, at: datetime, count: int = 1) -> None:
    """Mails the contact received before the test (they count against the cap)."""
    for _ in range(count):
        Message.objects.create(
            organisation_id=contact.organisation_id,
            contact=contact,
            key=f"earlier:{next(_n)}",
            kind=kind,
            purpose=Purpose.NEWSLETTER if kind == MessageKind.MARKETING else "",
            created_at=at,
            due_at=at,
            status=MessageStatus.SENT,
            sent_at=at,
            to_email=contact.email,
        )


def unsubscribe_url(mail: EmailMessage) -> str:
    return str(mail["List-Unsubscribe"]).strip().removeprefix("<").removesuffix(">")


def state(message: Message) -> Message:
    return Message.objects.get(pk=message.pk)


# --- queueing --------------------------------------------------------------------------------
def test_queueing_twice_with_one_key_makes_one_message(organisation):
    contact = person(organisation)
    tpl = template(organisation)

    first = queue(organisation, contact, tpl, key="run:1:s1:1")
    second = queue(organisation, contact, tpl, key="run:1:s1:1")

    assert second.pk == first.pk
    assert Message.objects.filter(key="run:1:s1:1").count() == 1
    assert first.status == MessageStatus.QUEUED
    assert (first.kind, first.purpose) == (MessageKind.MARKETING, Purpose.NEWSLETTER)


def test_queueing_starts_one_delivery_run_after_commit(
    organisation, django_capture_on_commit_callbacks
):
    tpl = template(organisation)
    contacts = [person(organisation) for _ in range(3)]
    jobs_before = DBTaskResult.objects.count()

    with django_capture_on_commit_callbacks(execute=True) as callbacks, transaction.atomic():
        for contact in contacts:
            queue(organisation, contact, tpl)
        assert DBTaskResult.objects.count() == jobs_before  # nothing before the commit

    assert len(callbacks) == 1
    assert DBTaskResult.objects.count() == jobs_before + 1
    enqueued = DBTaskResult.objects.order_by("-enqueued_at").first()
    assert enqueued is not None
    assert enqueued.task_path.endswith("deliver_due")


def test_a_message_queued_now_is_sent_when_the_transaction_commits(
    organisation, sink, settings, django_capture_on_commit_callbacks
):
    # With the task backend that runs jobs at once, the delivery job runs on commit: no
    # cron, no tick in between.
    settings.TASKS = {
        "default": {
            "BACKEND": "django_tasks.backends.immediate.ImmediateBackend",
            "QUEUES": ["default", "mail", "periodic"],
        }
    }
    contact = person(organisation)
    tpl = template(organisation, kind=MessageKind.TRANSACTIONAL)

    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        message = queue(organisation, contact, tpl)

    assert len(sink.to(contact.email)) == 1
    assert state(message).status == MessageStatus.SENT


def test_queueing_refuses_a_contact_of_another_house(organisation, other_organisation):
    stranger = person(other_organisation)
    with pytest.raises(ValidationFailed) as caught:
        queue(organisation, stranger, template(organisation))
    assert "contact" in caught.value.fields
    assert not Message.objects.exists()


# --- guardrails ------------------------------------------------------------------------------
def test_each_guardrail_suppresses_with_its_reason_and_only_the_fine_contact_gets_mail(
    organisation, sink
):
    tpl = template(organisation)
    fine = person(organisation)
    erased = person(organisation)
    contact_erase(contact=erased)
    no_address = person(organisation, email="")
    bounced = person(organisation, email_status=EmailStatus.BOUNCED)
    complained = person(organisation, email_status=EmailStatus.COMPLAINED)
    never_asked = person(organisation, consents=())
    offers_only = person(organisation, consents=(Purpose.OFFERS,))
    withdrew = person(organisation)
    unsubscribe_everything(contact=withdrew, via="test")
    paused = person(organisation, paused_until=NOON.date())
    capped = person(organisation)
    already_sent(capped, kind=MessageKind.MARKETING, at=NOON - timedelta(days=2), count=2)
    own_limit = person(organisation, max_mails_per_month=1)
    # Outside the house's 7-day window, inside the person's own month.
    already_sent(own_limit, kind=MessageKind.MARKETING, at=NOON - timedelta(days=20))
    cases = {
        fine: "",
        erased: SuppressionReason.ERASED,
        no_address: SuppressionReason.NO_ADDRESS,
        bounced: SuppressionReason.BOUNCED,
        complained: SuppressionReason.COMPLAINED,
        never_asked: SuppressionReason.NO_CONSENT,
        offers_only: SuppressionReason.NO_CONSENT,
        withdrew: SuppressionReason.UNSUBSCRIBED,
        paused: SuppressionReason.PAUSED,
        capped: SuppressionReason.FREQUENCY_CAP,
        own_limit: SuppressionReason.FREQUENCY_CAP,
    }
    messages = {contact: queue(organisation, contact, tpl) for contact in cases}

    report = messages_deliver(now=NOON)

    for contact, reason in cases.items():
        message = state(messages[contact])
        expected = MessageStatus.SENT if not reason else MessageStatus.SUPPRESSED
        assert (message.status, message.reason) == (expected, reason), contact.first_name
    assert [str(m["To"]) for m in sink.messages] == [fine.email]
    assert report.sent == 1
    assert report.suppressed == len(cases) - 1


def test_consent_withdrawn_between_queueing_and_sending_stops_the_mail(organisation, sink):
    contact = person(organisation)
    message = queue(organisation, contact, template(organisation))

    unsubscribe_everything(contact=contact, via="preference centre")
    messages_deliver(now=NOON)

    message = state(message)
    assert (message.status, message.reason) == (
        MessageStatus.SUPPRESSED,
        SuppressionReason.UNSUBSCRIBED,
    )
    assert sink.messages == []


def test_the_frequency_cap_counts_marketing_mails_only(organisation, sink):
    DeliverySettings.objects.create(organisation=organisation, cap_mails=2, cap_days=7)
    contact = person(organisation)
    already_sent(contact, kind=MessageKind.TRANSACTIONAL, at=NOON - timedelta(days=1), count=5)
    tpl = template(organisation)

    first, second = queue(organisation, contact, tpl), queue(organisation, contact, tpl)
    messages_deliver(now=NOON)
    third = queue(organisation, contact, tpl)
    messages_deliver(now=NOON + timedelta(hours=1))

    assert state(first).status == state(second).status == MessageStatus.SENT
    assert (state(third).status, state(third).reason) == (
        MessageStatus.SUPPRESSED,
        SuppressionReason.FREQUENCY_CAP,
    )
    assert len(sink.to(contact.email)) == 2


def test_the_cap_window_passes(organisation, sink):
    contact = person(organisation)
    already_sent(contact, kind=MessageKind.MARKETING, at=NOON - timedelta(days=8), count=2)

    message = queue(organisation, contact, template(organisation))
    messages_deliver(now=NOON)

    assert state(message).status == MessageStatus.SENT


def test_transactional_mail_passes_where_marketing_is_suppressed_or_waits(organisation, sink):
    # No marketing consent, the cap reached, and late in the evening.
    contact = person(organisation, consents=())
    already_sent(contact, kind=MessageKind.MARKETING, at=NOON - timedelta(days=1), count=3)
    late = berlin(1, 22, 30)
    marketing = queue(organisation, contact, template(organisation))
    reminder = queue(organisation, contact, template(organisation, kind=MessageKind.TRANSACTIONAL))

    messages_deliver(now=late)

    assert (state(marketing).status, state(marketing).reason) == (
        MessageStatus.SUPPRESSED,
        SuppressionReason.NO_CONSENT,
    )
    assert state(reminder).status == MessageStatus.SENT
    assert len(sink.to(contact.email)) == 1


def test_transactional_mail_still_respects_bounces_and_erasure(organisation, sink):
    tpl = template(organisation, kind=MessageKind.TRANSACTIONAL)
    bounced = person(organisation, email_status=EmailStatus.BOUNCED)
    erased = person(organisation)
    contact_erase(contact=erased)
    a, b = queue(organisation, bounced, tpl), queue(organisation, erased, tpl)

    messages_deliver(now=NOON)

    assert state(a).reason == SuppressionReason.BOUNCED
    assert state(b).reason == SuppressionReason.ERASED
    assert sink.messages == []


def test_marketing_mail_waits_for_the_end_of_quiet_hours_in_the_house_time_zone(organisation, sink):
    contact = person(organisation)
    message = queue(organisation, contact, template(organisation))
    late = berlin(1, 23, 30)

    report = messages_deliver(now=late)

    waiting = state(message)
    assert waiting.status == MessageStatus.QUEUED
    assert waiting.due_at == berlin(2, 8)
    assert waiting.claim is None
    assert report.deferred == 1
    assert sink.messages == []

    messages_deliver(now=berlin(2, 7, 59))
    assert state(message).status == MessageStatus.QUEUED
    messages_deliver(now=berlin(2, 8))
    assert state(message).status == MessageStatus.SENT
    assert len(sink.to(contact.email)) == 1


def test_quiet_hours_follow_the_organisation_time_zone_and_its_settings(organisation, sink):
    organisation.timezone = "America/New_York"
    organisation.save(update_fields=["timezone"])
    DeliverySettings.objects.create(
        organisation=organisation, quiet_start=time(13, 0), quiet_end=time(15, 0)
    )
    contact = person(organisation)
    message = queue(organisation, contact, template(organisation))
    new_york = ZoneInfo("America/New_York")
    day = NOON.astimezone(new_york).date()

    messages_deliver(now=datetime.combine(day, time(14, 0), tzinfo=new_york))

    assert state(message).due_at == datetime.combine(day, time(15, 0), tzinfo=new_york)


def test_equal_quiet_start_and_end_mean_no_quiet_hours(organisation, sink):
    DeliverySettings.objects.create(
        organisation=organisation, quiet_start=time(0, 0), quiet_end=time(0, 0)
    )
    contact = person(organisation)
    message = queue(organisation, contact, template(organisation))

    messages_deliver(now=berlin(1, 3))

    assert state(message).status == MessageStatus.SENT


# --- what a sent mail carries ----------------------------------------------------------------
def test_a_sent_mail_is_recorded_with_its_timeline_entry(organisation, sink):
    contact = person(organisation, language="en")
    message = queue(organisation, contact, template(organisation))

    messages_deliver(now=NOON)

    sent = state(message)
    assert sent.status == MessageStatus.SENT
    assert (sent.to_email, sent.subject, sent.language) == (
        contact.email,
        f"Hello {contact.first_name}",
        "en",
    )
    assert sent.sent_at == NOON
    assert sent.attempts == 1
    mail = sink.to(contact.email)[0]
    assert mail["Message-ID"] == sent.message_id
    entry = Interaction.objects.get(contact=contact, kind=InteractionKind.EMAIL_SENT)
    assert entry.summary == sent.subject
    assert entry.data["message"] == sent.pk


def test_marketing_mail_carries_one_click_unsubscribe_and_transactional_does_not(
    organisation, sink
):
    contact = person(organisation)
    news = queue(organisation, contact, template(organisation), key="newsletter:7:1")
    reminder = queue(organisation, contact, template(organisation, kind=MessageKind.TRANSACTIONAL))

    messages_deliver(now=NOON)

    by_key = {str(m["X-Publikum-Idempotency-Key"]): m for m in sink.messages}
    marketing, transactional = by_key["newsletter:7:1"], by_key[reminder.key]
    # A long header is folded onto the next line; parsers unfold it.
    unsubscribe = str(marketing["List-Unsubscribe"]).strip()
    assert unsubscribe.startswith("<https://publikum.example/stadtmuseum-test/mail/unsubscribe/")
    assert unsubscribe.endswith(">")
    assert marketing["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert transactional["List-Unsubscribe"] is None
    assert transactional["List-Unsubscribe-Post"] is None
    for mail in (marketing, transactional):
        assert mail[ORG_HEADER] == organisation.slug
    assert marketing["Message-ID"] == delivery.message_id_for(state(news))
    assert marketing["Message-ID"] != transactional["Message-ID"]


def test_one_click_post_from_a_mail_client_unsubscribes_from_everything(organisation, sink):
    contact = person(organisation, consents=(Purpose.NEWSLETTER, Purpose.OFFERS))
    message = queue(organisation, contact, template(organisation))
    messages_deliver(now=NOON)
    url = unsubscribe_url(sink.to(contact.email)[0])
    # A mail client has no session and no CSRF token: it POSTs the RFC 8058 body.
    client = Client(enforce_csrf_checks=True)

    response = client.post(
        urlsplit(url).path,
        "List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    again = client.post(urlsplit(url).path, {"List-Unsubscribe": "One-Click"})

    assert response.status_code == 200
    assert again.status_code == 200
    assert not Consent.objects.filter(contact=contact, granted=True).exists()
    assert state(message).unsubscribed_at is not None
    timeline = Interaction.objects.filter(contact=contact, kind=InteractionKind.UNSUBSCRIBED)
    assert timeline.count() == 1
    assert AuditEntry.objects.filter(action="audience.contact.unsubscribed").count() == 1


def test_opening_the_unsubscribe_link_shows_a_button_and_changes_nothing(organisation, sink):
    contact = person(organisation)
    message = queue(organisation, contact, template(organisation))
    messages_deliver(now=NOON)
    path = urlsplit(unsubscribe_url(sink.to(contact.email)[0])).path

    page = Client().get(path, HTTP_ACCEPT_LANGUAGE="en")

    assert page.status_code == 200
    html = page.content.decode()
    assert 'name="List-Unsubscribe" value="One-Click"' in html
    assert "Unsubscribe from everything" in html
    assert page["Cache-Control"] == "no-store"
    assert Consent.objects.filter(contact=contact, granted=True).count() == 1
    assert state(message).unsubscribed_at is None


def test_a_forged_unsubscribe_link_gets_a_clear_page(organisation, other_organisation, sink):
    contact = person(organisation)
    queue(organisation, contact, template(organisation))
    messages_deliver(now=NOON)
    path = urlsplit(unsubscribe_url(sink.to(contact.email)[0])).path
    token = path.rsplit("/", 1)[1]
    client = Client(HTTP_ACCEPT_LANGUAGE="en")

    forged = client.post(
        f"/{organisation.slug}/mail/unsubscribe/{token[:-2]}xx",
        {"List-Unsubscribe": "One-Click"},
    )
    elsewhere = client.post(
        f"/{other_organisation.slug}/mail/unsubscribe/{token}", {"List-Unsubscribe": "One-Click"}
    )
    no_body = client.post(path, {})

    for response in (forged, elsewhere, no_body):
        assert response.status_code == 400
        assert "This link is not valid" in response.content.decode() or (
            "not a valid unsubscribe request" in response.content.decode()
        )
    assert Consent.objects.filter(contact=contact, granted=True).count() == 1


# --- click tracking --------------------------------------------------------------------------
def tracked_link(mail: EmailMessage) -> str:
    html = mail.get_body(preferencelist=("html",))
    assert html is not None
    content = html.get_content()  # type: ignore[attr-defined]
    start = content.index('href="https://publikum.example/stadtmuseum-test/mail/click/')
    return content[start + len('href="') : content.index('"', start + len('href="'))]


def test_links_go_through_a_signed_redirect_that_records_the_click(organisation, sink):
    contact = person(organisation)
    message = queue(organisation, contact, template(organisation))
    messages_deliver(now=NOON)
    mail = sink.to(contact.email)[0]
    link = tracked_link(mail)
    assert PROGRAMME_URL not in mail.get_body(preferencelist=("html",)).get_content()  # type: ignore[union-attr]

    first = Client().get(urlsplit(link).path)
    second = Client().get(urlsplit(link).path)

    assert first.status_code == second.status_code == 302
    assert first["Location"] == PROGRAMME_URL
    clicked = state(message).clicked_at
    assert clicked is not None
    entries = Interaction.objects.filter(contact=contact, kind=InteractionKind.EMAIL_CLICKED)
    assert entries.count() == 1
    assert entries[0].data["url"] == PROGRAMME_URL


def test_without_click_tracking_links_stay_as_written(organisation, sink):
    DeliverySettings.objects.create(organisation=organisation, click_tracking=False)
    contact = person(organisation)
    queue(organisation, contact, template(organisation))

    messages_deliver(now=NOON)

    html = sink.to(contact.email)[0].get_body(preferencelist=("html",)).get_content()  # type: ignore[union-attr]
    assert "/mail/click/" not in html
    assert "https://museum.example/programm?tag=kinder&amp;sort=neu" in html


def test_a_forged_click_link_redirects_nowhere(organisation, other_organisation, sink):
    contact = person(organisation)
    message = queue(organisation, contact, template(organisation))
    messages_deliver(now=NOON)
    path = urlsplit(tracked_link(sink.to(contact.email)[0])).path
    token = path.rsplit("/", 1)[1]
    # A token signed for one URL, its payload swapped for another: the signature fails.
    evil = delivery.click_path(state(message), organisation, "https://evil.example/")
    evil_payload = evil.rsplit("/", 1)[1].rsplit(":", 1)[0]
    swapped = f"{evil_payload}:{token.rsplit(':', 1)[1]}"
    client = Client(HTTP_ACCEPT_LANGUAGE="en")

    responses = [
        client.get(f"/{organisation.slug}/mail/click/{swapped}"),
        client.get(f"/{organisation.slug}/mail/click/not-a-token"),
        client.get(f"/{other_organisation.slug}/mail/click/{token}"),
    ]

    for response in responses:
        assert response.status_code == 400
        assert "Location" not in response
        assert "This link is not valid" in response.content.decode()
    assert state(message).clicked_at is None


# --- failures and retries --------------------------------------------------------------------
def test_a_temporary_refusal_is_retried_later_and_sent_once(organisation, sink):
    contact = person(organisation)
    message = queue(organisation, contact, template(organisation))
    sink.data_replies = ["451 4.3.0 Please try again later"]

    messages_deliver(now=NOON)

    waiting = state(message)
    assert waiting.status == MessageStatus.QUEUED
    assert waiting.attempts == 1
    assert waiting.due_at == NOON + delivery.retry_delay(1)
    assert "451" in waiting.last_error
    assert sink.messages == []

    messages_deliver(now=NOON + timedelta(minutes=1))  # not due yet
    assert state(message).status == MessageStatus.QUEUED
    messages_deliver(now=waiting.due_at)

    sent = state(message)
    assert (sent.status, sent.attempts, sent.last_error) == (MessageStatus.SENT, 2, "")
    assert len(sink.to(contact.email)) == 1
    assert not sent.interrupted


def test_a_server_that_refuses_connections_leads_to_retries_then_failed(organisation, settings):
    use_smtp(settings, free_port())  # nothing listens there
    contact = person(organisation)
    message = queue(organisation, contact, template(organisation))
    now = NOON

    for attempt in range(1, delivery.MAX_ATTEMPTS):
        report = messages_deliver(now=now)
        current = state(message)
        assert (current.status, current.attempts) == (MessageStatus.QUEUED, attempt)
        assert report.stopped
        now = current.due_at
    messages_deliver(now=now)

    failed = state(message)
    assert failed.status == MessageStatus.FAILED
    assert failed.attempts == delivery.MAX_ATTEMPTS
    assert "cannot connect" in failed.last_error
    assert "Connection refused" in failed.last_error or "ConnectionRefused" in failed.last_error


def test_no_such_user_fails_at_once_and_marks_the_address_bounced(organisation, sink):
    contact = person(organisation)
    other = person(organisation)
    tpl = template(organisation)
    first = queue(organisation, contact, tpl)
    neighbour = queue(organisation, other, tpl)
    sink.rcpt_replies = ["550 5.1.1 <unknown>: Recipient address rejected: no such user"]

    messages_deliver(now=NOON)

    failed = state(first)
    assert (failed.status, failed.attempts) == (MessageStatus.FAILED, 1)
    assert "5.1.1" in failed.last_error
    contact.refresh_from_db()
    assert contact.email_status == EmailStatus.BOUNCED
    assert AuditEntry.objects.get(action="audience.contact.bounced").data == {
        "contact_id": contact.pk
    }
    # The same connection carries on with the next mail.
    assert state(neighbour).status == MessageStatus.SENT

    later = queue(organisation, contact, tpl)
    messages_deliver(now=NOON)
    assert state(later).reason == SuppressionReason.BOUNCED


def test_a_policy_refusal_fails_without_marking_a_bounce(organisation, sink):
    contact = person(organisation)
    message = queue(organisation, contact, template(organisation))
    sink.data_replies = ["554 5.7.1 Message rejected as spam"]

    messages_deliver(now=NOON)

    assert state(message).status == MessageStatus.FAILED
    contact.refresh_from_db()
    assert contact.email_status == EmailStatus.OK


def test_a_template_problem_fails_the_message_without_retry(organisation, sink):
    contact = person(organisation)
    broken = template(organisation, subject_de="Hallo {{ contact.first_name")
    message = queue(organisation, contact, broken)

    messages_deliver(now=NOON)

    failed = state(message)
    assert (failed.status, failed.attempts) == (MessageStatus.FAILED, 1)
    assert failed.last_error.startswith("template:")
    assert sink.messages == []


class SilentServer:
    """A TCP server that accepts connections and never says a word (a hung mail server)."""

    def __init__(self) -> None:
        self.socket = socket.create_server(("127.0.0.1", 0))
        self.port = self.socket.getsockname()[1]

    def close(self) -> None:
        self.socket.close()


def test_a_server_that_never_answers_times_out_and_is_retried(organisation, settings):
    server = SilentServer()
    try:
        use_smtp(settings, server.port)
        settings.EMAIL_TIMEOUT = 0.3
        message = queue(organisation, person(organisation), template(organisation))

        report = messages_deliver(now=NOON)
    finally:
        server.close()

    waiting = state(message)
    assert (waiting.status, waiting.attempts) == (MessageStatus.QUEUED, 1)
    assert "timed out" in waiting.last_error
    assert waiting.due_at == NOON + delivery.retry_delay(1)
    assert report.stopped


class VanishingServer(threading.Thread):
    """Speaks SMTP, takes the whole mail, then drops the connection instead of answering:
    the sender cannot know whether the mail was accepted."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.socket = socket.create_server(("127.0.0.1", 0))
        self.port = self.socket.getsockname()[1]
        self.mails = 0

    def run(self) -> None:
        with contextlib.suppress(OSError):
            connection, _ = self.socket.accept()
            with connection, connection.makefile("rb") as incoming:
                connection.sendall(b"220 vanishing ESMTP\r\n")
                in_data = False
                for line in incoming:
                    if in_data:
                        if line == b".\r\n":
                            self.mails += 1
                            return  # gone, without "250"
                        continue
                    command = line[:4].upper()
                    if command == b"DATA":
                        in_data = True
                        connection.sendall(b"354 go ahead\r\n")
                    elif command == b"QUIT":
                        return
                    else:
                        connection.sendall(b"250 ok\r\n")


def test_a_connection_lost_after_the_data_flags_the_retry_as_interrupted(organisation, settings):
    server = VanishingServer()
    server.start()
    use_smtp(settings, server.port)
    message = queue(organisation, person(organisation), template(organisation))

    messages_deliver(now=NOON)
    server.join(timeout=5)
    server.socket.close()

    retry = state(message)
    assert server.mails == 1
    assert (retry.status, retry.attempts) == (MessageStatus.QUEUED, 1)
    assert retry.interrupted
    assert "connection" in retry.last_error.lower()


def test_a_retry_or_the_end_of_quiet_hours_gets_its_own_delivery_job(organisation, sink):
    message = queue(organisation, person(organisation), template(organisation))
    late = berlin(1, 23, 30)

    messages_deliver(now=late)

    job = DBTaskResult.objects.filter(task_path__endswith="deliver_due").get()
    assert job.run_after == state(message).due_at == berlin(2, 8)


def test_the_sweep_starts_a_run_only_when_something_is_due(organisation):
    queue(organisation, person(organisation), template(organisation))
    Message.objects.update(due_at=NOON)

    assert delivery.delivery_sweep(now=NOON - timedelta(minutes=1)) is False
    assert not DBTaskResult.objects.exists()
    assert delivery.delivery_sweep(now=NOON) is True
    assert DBTaskResult.objects.filter(task_path__endswith="deliver_due").count() == 1


# --- a worker that died: the reaper ----------------------------------------------------------
def test_the_reaper_puts_back_a_dead_claim_and_flags_only_the_mail_in_flight(organisation, sink):
    tpl = template(organisation)
    contacts = [person(organisation) for _ in range(4)]
    messages = [queue(organisation, c, tpl) for c in contacts]
    # A worker claimed all four, recorded the first as sent, then died sending the second.
    claim = delivery._claim(NOON, 10, delivery.LEASE)
    assert claim is not None
    Message.objects.filter(pk=messages[0].pk).update(
        status=MessageStatus.SENT, sent_at=NOON, claim=None
    )

    assert claims_reap(now=NOON + delivery.LEASE / 2) == 0  # the lease still runs
    reaped = claims_reap(now=NOON + delivery.LEASE + timedelta(seconds=1))

    assert reaped == 3
    after = [state(m) for m in messages[1:]]
    assert [m.status for m in after] == [MessageStatus.QUEUED] * 3
    assert [m.interrupted for m in after] == [True, False, False]
    assert [m.attempts for m in after] == [1, 0, 0]

    messages_deliver(now=NOON + delivery.LEASE + timedelta(seconds=2))

    resent = state(messages[1])
    assert resent.status == MessageStatus.SENT
    # The same Message-ID as the copy that may have arrived: providers show one mail.
    assert resent.message_id == delivery.message_id_for(resent)
    assert sorted(str(m["To"]) for m in sink.messages) == sorted(c.email for c in contacts[1:])


def test_quiet_hours_end_across_midnight_and_daylight_saving():
    start, end = time(21, 0), time(8, 0)
    evening = datetime(2031, 3, 29, 22, 0, tzinfo=BERLIN)  # the night clocks go forward
    assert delivery.quiet_hours_end(start=start, end=end, at=evening, zone=BERLIN) == datetime(
        2031, 3, 30, 8, 0, tzinfo=BERLIN
    )
    early = datetime(2031, 3, 30, 5, 0, tzinfo=UTC)  # 07:00 in Berlin (summer time)
    assert delivery.quiet_hours_end(start=start, end=end, at=early, zone=BERLIN) == datetime(
        2031, 3, 30, 8, 0, tzinfo=BERLIN
    )
    day = datetime(2031, 3, 30, 12, 0, tzinfo=BERLIN)
    assert delivery.quiet_hours_end(start=start, end=end, at=day, zone=BERLIN) is None
