"""The demo's journeys run: after the worker's first round, their mails are in the Outbox."""

from __future__ import annotations

import pytest

from conftest import free_port, run_worker_burst
from publikum.core.demo import build_demo
from publikum.core.mailsink import start_sink
from publikum.core.models import ReceivedMail
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
        assert Newsletter.objects.filter(organisation=demo).count() == 1

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
