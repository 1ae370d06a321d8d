"""The demo's journeys run: after the worker's first round, their mails are in the Outbox,
and so is the newsletter with personal recommendations it sends at the start."""

from __future__ import annotations

from html import unescape

import pytest
from django.test import Client
from django.urls import reverse

from conftest import free_port, run_worker_burst
from publikum.core.demo import DEMO_LOGIN, build_demo
from publikum.core.mailsink import start_sink
from publikum.core.models import ReceivedMail, User
from publikum.discovery.models import Offer
from publikum.journeys.demo import SENT_NAME
from publikum.journeys.models import (
    Journey,
    JourneyRun,
    JourneyStatus,
    Message,
    MessageStatus,
    Newsletter,
)


@pytest.mark.django_db(transaction=True)
def test_the_ready_made_journeys_send_their_mails_into_the_outbox(keep_signal_handlers, settings):
    port = free_port()
    sink = start_sink("127.0.0.1", port)
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    try:
        demo = build_demo(contacts=500)
        journeys = Journey.objects.filter(organisation=demo)
        assert journeys.count() == 6
        assert set(journeys.values_list("status", flat=True)) == {JourneyStatus.ACTIVE}
        assert JourneyRun.objects.filter(journey__organisation=demo).exists()
        # The December letter is a draft; the volunteers' letter goes out at the start.
        assert Newsletter.objects.filter(organisation=demo).count() == 2

        run_worker_burst()
    finally:
        sink.stop()

    sent = Message.objects.filter(organisation=demo, status=MessageStatus.SENT)
    assert sent.exists()
    subjects = set(ReceivedMail.objects.filter(organisation=demo).values_list("subject", flat=True))
    # The welcome series' first mail, in German or English by the person's language.
    assert subjects & {
        "Willkommen! Schön, dass Sie dabei sind",
        "Welcome, and thank you for signing up",
    }
    # Every mail recorded as sent arrived in the Outbox, once.
    assert ReceivedMail.objects.filter(organisation=demo).count() == sent.count()

    # The volunteers' letter: each mail recommends in its reader's language, the Outbox
    # shows it so, and what it recommended is recorded as offers of that mail.
    staff = Client()
    staff.force_login(User.objects.get(email=DEMO_LOGIN[0]))
    letter = Newsletter.objects.get(organisation=demo, name=SENT_NAME)
    letters = sent.filter(newsletter=letter)
    assert letters.exists()
    for message in letters:
        offers = Offer.objects.filter(message=message).order_by("rank")
        assert offers.exists()
        assert {o.channel for o in offers} == {"newsletter"}
        received = ReceivedMail.objects.get(organisation=demo, message_id=message.message_id)
        page = staff.get(
            reverse("outbox_detail", kwargs={"org": demo.slug, "mail_id": received.pk})
        ).content.decode()
        shown = unescape(page.split('class="card mail-text">')[1].split("</pre>")[0])
        assert ("Für Sie" if message.language == "de" else "For you") in shown
        for offer in offers:
            assert offer.item.title(message.language) in shown
