"""The local SMTP sink stores what it receives for the Outbox, linked to the organisation."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage

import pytest

from conftest import free_port
from publikum.core.mailsink import ORG_HEADER, start_sink, store_message
from publikum.core.models import ReceivedMail


def mail_message(*, org_header: str | None, subject: str = "Ihre Buchung") -> EmailMessage:
    message = EmailMessage()
    message["From"] = "Stadtmuseum <noreply@example.org>"
    message["To"] = "Ada Guest <ada@example.org>, bob@example.org"
    message["Subject"] = subject
    message["Message-ID"] = "<booking-17@publikum.localhost>"
    if org_header is not None:
        message[ORG_HEADER] = org_header
    message.set_content("Wir freuen uns auf Ihren Besuch.")
    return message


def raw_mail(*, org_header: str | None) -> bytes:
    return mail_message(org_header=org_header).as_bytes()


@pytest.mark.django_db
def test_mail_is_stored_for_the_organisation_named_in_its_header(organisation, other_organisation):
    pk = store_message(
        "noreply@example.org", ["ada@example.org"], raw_mail(org_header=organisation.slug)
    )

    mail = ReceivedMail.objects.get(pk=pk)
    assert mail.organisation == organisation
    assert mail.subject == "Ihre Buchung"
    assert mail.recipients == ["ada@example.org"]
    assert mail.message_id == "<booking-17@publikum.localhost>"
    assert "Wir freuen uns auf Ihren Besuch." in mail.raw
    assert not other_organisation.received_mails.exists()


@pytest.mark.django_db
def test_mail_without_envelope_recipients_takes_them_from_the_to_header(organisation):
    pk = store_message("noreply@example.org", [], raw_mail(org_header=organisation.slug))

    assert ReceivedMail.objects.get(pk=pk).recipients == ["ada@example.org", "bob@example.org"]


@pytest.mark.django_db
@pytest.mark.parametrize("header", [None, "no-such-house", ""])
def test_mail_with_unknown_or_missing_organisation_is_kept_without_one(organisation, header):
    pk = store_message("noreply@example.org", ["ada@example.org"], raw_mail(org_header=header))

    mail = ReceivedMail.objects.get(pk=pk)
    assert mail.organisation is None
    assert mail.subject == "Ihre Buchung"


@pytest.mark.django_db
def test_mail_with_bytes_that_are_not_utf8_is_stored(organisation):
    raw = (
        b"From: noreply@example.org\r\n"
        b"To: ada@example.org\r\n"
        b"Subject: Gr\xfc\xdfe aus dem Museum\r\n"
        + f"{ORG_HEADER}: {organisation.slug}\r\n".encode()
        + b"Content-Type: text/plain; charset=utf-8\r\n"
        b"\r\n"
        b"Sch\xf6ne Gr\xfc\xdfe \xff\xfe\r\n"
    )

    pk = store_message("noreply@example.org", ["ada@example.org"], raw)

    mail = ReceivedMail.objects.get(pk=pk)
    assert mail.organisation == organisation
    assert "aus dem Museum" in mail.subject
    assert "Sch" in mail.raw
    assert "\ufffd" in mail.raw  # the undecodable bytes, replaced rather than fatal


@pytest.mark.django_db(transaction=True)
def test_sink_receives_mail_over_smtp(organisation):
    port = free_port()
    sink = start_sink("127.0.0.1", port)
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
            smtp.send_message(
                mail_message(org_header=organisation.slug, subject="Über SMTP"),
                from_addr="noreply@example.org",
                to_addrs=["ada@example.org"],
            )
    finally:
        sink.stop()

    # The sink answers 250 only once the mail is stored.
    mail = ReceivedMail.objects.get()
    assert mail.organisation == organisation
    assert mail.subject == "Über SMTP"
    assert mail.mail_from == "noreply@example.org"
    assert mail.recipients == ["ada@example.org"]
