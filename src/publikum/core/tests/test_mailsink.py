"""The local SMTP sink stores what it receives for the Outbox, linked to the organisation."""

from __future__ import annotations

import os
import smtplib
import subprocess
import sys
from email.message import EmailMessage
from urllib.parse import quote

import pytest
from django.db import connections

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


STORE_ON_PG = """
import sys
import django
django.setup()
from publikum.core.mailsink import store_message
print(store_message("noreply@example.org", ["ada@example.org"], sys.stdin.buffer.read()))
"""


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, databases=["default", "pg"])
def test_mail_with_nul_bytes_is_stored_on_postgresql(tmp_path):
    # PostgreSQL text cannot hold NUL; a mail that carries one must still reach the Outbox.
    db = connections["pg"].settings_dict
    auth = quote(db["USER"]) + (f":{quote(db['PASSWORD'])}" if db["PASSWORD"] else "")
    url = f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "PUBLIKUM_TASK_QUEUE"}}
    env |= {
        "DJANGO_SETTINGS_MODULE": "publikum.settings",
        "PUBLIKUM_DATA_DIR": str(tmp_path),
        "DATABASE_URL": url,
    }
    raw = b"To: ada@example.org\r\nSubject: Null\x00Byte\r\n\r\nBinary \x00 junk\r\n"

    result = subprocess.run(
        [sys.executable, "-c", STORE_ON_PG],
        input=raw,
        env=env,
        capture_output=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stderr.decode()
    mail = ReceivedMail.objects.using("pg").get(pk=int(result.stdout))
    assert mail.subject.startswith("Null")
    assert "Binary" in mail.raw
    assert "junk" in mail.raw
