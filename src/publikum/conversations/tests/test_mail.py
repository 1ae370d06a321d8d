"""Replies by mail and in the chat, and mail coming back: over real SMTP on loopback."""

from __future__ import annotations

import base64
import json
import smtplib
import threading
import time
from datetime import timedelta
from email.message import EmailMessage
from email.utils import getaddresses, parseaddr
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from conftest import free_port
from publikum.conversations.inbound import MAX_SCAN, cut_quote, html_text, inbound_mail
from publikum.conversations.inbound_smtp import start_inbound
from publikum.conversations.mails import IDEMPOTENCY_HEADER, organisation_address, reply_address
from publikum.conversations.models import (
    Author,
    Conversation,
    ConversationChannel,
    ConversationStatus,
    Delivery,
    Message,
)
from publikum.conversations.services import MailNotSent, staff_reply
from publikum.conversations.tests.conftest import logged_in, make_conversation
from publikum.core.errors import ValidationFailed
from publikum.core.mailsink import ORG_HEADER
from publikum.core.models import Role

pytestmark = pytest.mark.django_db

PAYLOADS = Path(__file__).parent / "esp_payloads"
SECRET = "inbound-hook:4c1f0e9b7a"


def visitor_mail(
    *,
    to: str,
    text: str,
    sender: str = "Ada Guest <ada@example.org>",
    subject: str = "Re: Ihre Nachricht",
    message_id: str = "<reply-1@mail.example.org>",
    in_reply_to: str = "",
    html: str = "",
) -> bytes:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = message_id
    if in_reply_to:
        message["In-Reply-To"] = in_reply_to
        message["References"] = in_reply_to
    message.set_content(text)
    if html:
        message.add_alternative(html, subtype="html")
    return message.as_bytes()


QUOTED_REPLY = (
    "Prima, dann kommen wir am Samstag mit zwei Rollstühlen.\n"
    "\n"
    "Am 12.03.2026 um 10:00 schrieb Stadtmuseum Test <noreply@publikum.localhost>:\n"
    "> Ja, Sie können zwei Rollstühle an der Kasse leihen.\n"
    "> Herzliche Grüße\n"
)


def test_a_staff_reply_arrives_by_smtp_and_the_visitors_answer_lands_in_the_same_conversation(
    organisation, member_factory, smtp_server
):
    conversation = make_conversation(
        organisation, text="Kann ich Rollstühle leihen?", email="ada@example.org", name="Ada Guest"
    )
    # The visitor's first mail, so that the reply threads under it.
    Message.objects.filter(conversation=conversation, author=Author.VISITOR).update(
        mail_message_id="<first@mail.example.org>"
    )
    staff = member_factory(organisation, Role.FRONT_DESK)
    staff.name = "Peter Kowalski"
    staff.save()

    response = logged_in(staff).post(
        reverse(
            "inbox_reply", kwargs={"org": organisation.slug, "conversation_id": conversation.pk}
        ),
        {"text": "Ja, Sie können zwei Rollstühle an der Kasse leihen."},
    )

    assert response.status_code == 302
    [received] = smtp_server.messages
    mail = received.message
    assert received.recipients == ["ada@example.org"]
    assert parseaddr(str(mail["From"]))[0] == organisation.name
    assert "Ja, Sie können zwei Rollstühle an der Kasse leihen." in received.text
    assert "Peter Kowalski" in received.text
    reply_to = getaddresses([str(mail["Reply-To"])])[0][1]
    assert (
        reply_to == f"inbox+{organisation.slug}.{conversation.mail_token}@inbox.publikum.localhost"
    )
    assert mail["In-Reply-To"] == "<first@mail.example.org>"
    assert "<first@mail.example.org>" in str(mail["References"])
    assert mail[ORG_HEADER] == organisation.slug
    assert mail[IDEMPOTENCY_HEADER]
    conversation.refresh_from_db()
    assert conversation.status == ConversationStatus.WAITING
    assert conversation.awaiting_since is None
    assert conversation.first_response_at is not None
    first_response = conversation.first_response_at
    staff_message = Message.objects.get(conversation=conversation, author=Author.STAFF)
    assert staff_message.delivery == Delivery.EMAIL
    assert staff_message.mail_message_id == str(mail["Message-ID"])

    # The visitor answers from their mail program: to the Reply-To, quoting the reply.
    filed = inbound_mail(
        visitor_mail(to=reply_to, text=QUOTED_REPLY, in_reply_to=str(mail["Message-ID"]))
    )

    assert filed == conversation
    answer = Message.objects.filter(conversation=conversation).order_by("-pk").first()
    assert answer.author == Author.VISITOR
    assert answer.text == "Prima, dann kommen wir am Samstag mit zwei Rollstühlen."
    conversation.refresh_from_db()
    assert conversation.status == ConversationStatus.OPEN
    assert conversation.awaiting_since is not None
    # The first response stays the first one.
    assert conversation.first_response_at == first_response


def test_a_second_reply_keeps_the_first_response_time_and_done_closes(
    organisation, owner, smtp_server
):
    conversation = make_conversation(
        organisation, channel=ConversationChannel.EMAIL, email="ada@example.org"
    )
    start = timezone.now()
    staff_reply(conversation=conversation, user=owner, text="Erste Antwort", now=start)
    staff_reply(
        conversation=conversation,
        user=owner,
        text="Zweite Antwort",
        now=start + timedelta(hours=1),
        done=True,
    )

    conversation.refresh_from_db()
    assert conversation.first_response_at == start
    assert conversation.status == ConversationStatus.DONE
    assert len(smtp_server.messages) == 2
    # The second reply references the first in its thread.
    second = smtp_server.messages[1].message
    assert str(smtp_server.messages[0].message["Message-ID"]) in str(second["References"])


def test_a_reply_goes_to_the_chat_while_the_visitor_is_there(organisation, owner, smtp_server):
    conversation = make_conversation(organisation, email="ada@example.org")
    Conversation.objects.filter(pk=conversation.pk).update(
        visitor_seen_at=timezone.now() - timedelta(seconds=5)
    )
    conversation.refresh_from_db()

    message = staff_reply(conversation=conversation, user=owner, text="Ich bin gleich da!")

    assert message.delivery == Delivery.WEB
    assert smtp_server.messages == []
    assert Message.objects.filter(conversation=conversation, author=Author.STAFF).count() == 1

    # Ten minutes later the chat window is closed: the next reply goes by mail.
    later = timezone.now() + timedelta(minutes=10)
    mailed = staff_reply(conversation=conversation, user=owner, text="Noch eine Info", now=later)
    assert mailed.delivery == Delivery.EMAIL
    assert len(smtp_server.messages) == 1


def test_without_an_address_and_out_of_the_chat_staff_get_a_clear_error(
    organisation, owner_client, smtp_server
):
    conversation = make_conversation(organisation)
    url = reverse(
        "inbox_reply", kwargs={"org": organisation.slug, "conversation_id": conversation.pk}
    )

    response = owner_client.post(url, {"text": "Hallo?"})

    assert response.status_code == 422
    html = response.content.decode()
    assert "there is no e-mail address" in html or "keine E-Mail-Adresse" in html
    # The typed text is kept in the form.
    assert "Hallo?</textarea>" in html
    assert not Message.objects.filter(author=Author.STAFF).exists()
    assert smtp_server.messages == []
    with pytest.raises(ValidationFailed):
        staff_reply(conversation=conversation, user=None, text="x")


def test_a_mail_server_that_is_down_stores_nothing(organisation, owner, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port()
    conversation = make_conversation(organisation, email="ada@example.org")

    with pytest.raises(MailNotSent):
        staff_reply(conversation=conversation, user=owner, text="Antwort")

    conversation.refresh_from_db()
    assert conversation.status == ConversationStatus.OPEN
    assert conversation.first_response_at is None
    assert not Message.objects.filter(author=Author.STAFF).exists()


def test_empty_and_too_long_replies_are_refused(organisation, owner):
    conversation = make_conversation(organisation, email="ada@example.org")
    for text in ("", "   ", "x" * 4001):
        with pytest.raises(ValidationFailed):
            staff_reply(conversation=conversation, user=owner, text=text)


# --- inbound mail --------------------------------------------------------------------------------


def test_a_mail_to_the_houses_address_starts_a_conversation_linked_to_the_contact(organisation):
    filed = inbound_mail(
        visitor_mail(
            to=organisation_address(organisation),
            subject="Kindergeburtstag im Museum?",
            text="Hallo, kann man bei Ihnen einen Kindergeburtstag feiern?",
        )
    )

    assert filed is not None
    assert filed.organisation == organisation
    assert filed.channel == ConversationChannel.EMAIL
    assert filed.subject == "Kindergeburtstag im Museum?"
    assert filed.status == ConversationStatus.OPEN
    assert filed.awaiting_since is not None
    assert filed.contact is not None
    assert filed.contact.email == "ada@example.org"
    assert filed.visitor_name == "Ada Guest"
    [message] = filed.messages.all()
    assert message.text == "Hallo, kann man bei Ihnen einen Kindergeburtstag feiern?"


def test_the_same_mail_twice_is_stored_once(organisation):
    raw = visitor_mail(to=organisation_address(organisation), text="Einmal bitte")
    first = inbound_mail(raw)
    second = inbound_mail(raw)
    assert first == second
    assert Message.objects.filter(author=Author.VISITOR).count() == 1


def test_a_reply_found_by_its_references_when_sent_to_another_address(organisation, owner):
    conversation = make_conversation(
        organisation, channel=ConversationChannel.EMAIL, email="ada@example.org"
    )
    Message.objects.create(
        conversation=conversation,
        author=Author.STAFF,
        text="Antwort",
        mail_message_id="<staff-1@inbox.publikum.localhost>",
    )

    filed = inbound_mail(
        visitor_mail(
            to="info@stadtmuseum.example",
            text="Danke!",
            in_reply_to="<staff-1@inbox.publikum.localhost>",
        )
    )

    assert filed == conversation


def test_html_only_mail_is_read_without_tags_and_scripts(organisation):
    message = EmailMessage()
    message["From"] = "ada@example.org"
    message["To"] = organisation_address(organisation)
    message["Subject"] = "HTML"
    message["Message-ID"] = "<html-1@mail.example.org>"
    message.set_content(
        "<html><head><style>p{color:red}</style></head><body><p>Guten Tag,</p>"
        "<p>gibt es <b>Führungen</b> &amp; Workshops?</p><script>alert(1)</script></body></html>",
        subtype="html",
    )

    filed = inbound_mail(message.as_bytes())

    text = filed.messages.get().text
    assert "Führungen & Workshops?" in text
    assert "Guten Tag," in text
    assert "<" not in text
    assert "alert" not in text
    assert "color" not in text


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\x00\xff\xfe garbage",
        b"From: a@example.org\r\nTo: somebody@example.org\r\nSubject: hi\r\n\r\nHello",
        b"From: a@example.org\r\nTo: inbox+no-such-house@inbox.publikum.localhost\r\n\r\nHallo",
        b"From: a@example.org\r\nTo: inbox+ORG.0000000000000000@inbox.publikum.localhost\r\n\r\nx",
        b"From: a@example.org\r\nTo: inbox+ORG@elsewhere.example\r\n\r\nx",
        b"From: a@example.org\r\nTo: inbox+ORG@inbox.publikum.localhost\r\n"
        b"Auto-Submitted: auto-replied\r\n\r\nIch bin im Urlaub.",
        b"From: a@example.org\r\nTo: inbox+ORG@inbox.publikum.localhost\r\n"
        b"Precedence: bulk\r\n\r\nNewsletter",
        b"From: a@example.org\r\nTo: inbox+ORG@inbox.publikum.localhost\r\n"
        b"Precedence: auto_reply\r\n\r\nIch bin im Urlaub.",
        b"From: a@example.org\r\nTo: inbox+ORG@inbox.publikum.localhost\r\n"
        b"Precedence: list\r\n\r\nListe",
        b"From: a@example.org\r\nTo: inbox+ORG@inbox.publikum.localhost\r\n"
        b"Precedence: junk\r\n\r\nJunk",
        b"From: a@example.org\r\nTo: inbox+ORG@inbox.publikum.localhost\r\n"
        b"X-Autoreply: yes\r\n\r\nIch bin im Urlaub.",
        b"From: a@example.org\r\nTo: inbox+ORG@inbox.publikum.localhost\r\n"
        b"X-Autorespond: Out of office\r\n\r\nAway.",
        b"From: MAILER-DAEMON@example.org\r\nTo: inbox+ORG@inbox.publikum.localhost\r\n"
        b"MIME-Version: 1.0\r\n"
        b'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n'
        b"\r\n--b\r\nContent-Type: text/plain\r\n\r\nDelivery failed.\r\n"
        b"--b\r\nContent-Type: message/delivery-status\r\n\r\n"
        b"Reporting-MTA: dns; example.org\r\n\r\n"
        b"Final-Recipient: rfc822; x@example.org\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        b"--b--\r\n",
    ],
)
def test_unknown_addresses_auto_replies_and_garbage_are_dropped(organisation, raw):
    raw = raw.replace(b"ORG", organisation.slug.encode())
    assert inbound_mail(raw) is None
    assert not Conversation.objects.exists()


def test_a_mail_with_broken_headers_and_charset_does_not_raise(organisation):
    raw = (
        b"From: =?utf-8?q?broken <ada@example.org>\r\n"
        + f"To: {organisation_address(organisation)}\r\n".encode()
        + b"Subject: =?unknown-8bit?q?Gr=FC=DFe?=\r\n"
        b"Message-ID: <<<>>>\r\n"
        b"Content-Type: text/plain; charset=no-such-charset\r\n"
        b"\r\n"
        b"Sch\xf6ne Gr\xfc\xdfe\r\n"
    )
    filed = inbound_mail(raw)
    assert filed is not None
    assert "Sch" in filed.messages.get().text


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("Danke!\n\nOn Mon, 5 Dec 2026 at 10:00, Stadtmuseum wrote:\n> Hallo", "Danke!"),
        (
            "Thanks!\n\nOn Mon, 5 Dec 2026 at 10:00, Stadtmuseum <inbox+x@example.org>\n"
            "wrote:\n\n> Hello",
            "Thanks!",
        ),
        ("Gut.\n\n-----Ursprüngliche Nachricht-----\nVon: Museum", "Gut."),
        ("Oben\n> zitiert\nUnten", "Oben\nUnten"),
    ],
)
def test_quoted_text_is_cut(text, kept):
    assert cut_quote(text) == kept


@pytest.mark.django_db(transaction=True)
def test_mail_through_the_built_in_smtp_receiver_lands_in_the_conversation(organisation):
    conversation = make_conversation(
        organisation, channel=ConversationChannel.EMAIL, email="ada@example.org"
    )
    port = free_port()
    receiver = start_inbound("127.0.0.1", port)
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
            address = reply_address(conversation)
            smtp.sendmail(
                "ada@example.org",
                [address],
                visitor_mail(to=address, text="Per SMTP: passt der Termin am Freitag?"),
            )
            # An address that is not an inbox address is refused at once.
            with pytest.raises(smtplib.SMTPRecipientsRefused):
                smtp.sendmail("x@example.org", ["postmaster@example.org"], b"Subject: x\r\n\r\nx")
            # Garbage to an inbox address is accepted and dropped, the server keeps running.
            smtp.sendmail("x@example.org", [address], b"\x00\x01 not a mail")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if conversation.messages.filter(text__startswith="Per SMTP").exists():
                break
            time.sleep(0.05)
    finally:
        receiver.stop()

    latest = conversation.messages.order_by("-pk").first()
    assert latest.text == "Per SMTP: passt der Termin am Freitag?"
    assert Conversation.objects.count() == 1


# --- the e-mail service's inbound webhook (anymail) ----------------------------------------------


def _basic(credentials: str) -> str:
    return "Basic " + base64.b64encode(credentials.encode()).decode()


def _postmark_payload(organisation: Any) -> dict[str, Any]:
    text = (PAYLOADS / "postmark_inbound.json").read_text().replace("ORG", organisation.slug)
    return json.loads(text)


def test_the_email_services_inbound_webhook_files_the_mail(organisation, settings):
    settings.ANYMAIL = {"WEBHOOK_SECRET": SECRET}
    url = "/anymail/postmark/inbound/"

    refused = Client().post(
        url, data=json.dumps(_postmark_payload(organisation)), content_type="application/json"
    )
    assert refused.status_code == 400
    assert not Conversation.objects.exists()

    response = Client().post(
        url,
        data=json.dumps(_postmark_payload(organisation)),
        content_type="application/json",
        HTTP_AUTHORIZATION=_basic(SECRET),
    )

    assert response.status_code == 200
    conversation = Conversation.objects.get(organisation=organisation)
    assert conversation.channel == ConversationChannel.EMAIL
    assert conversation.subject == "Führung für unseren Chor"
    assert conversation.visitor_email == "ada@example.org"
    message = conversation.messages.get()
    assert "wir sind ein Chor mit 30 Leuten" in message.text
    assert message.mail_message_id.startswith("<CAGXpo2W")
    # The service retries a post it got no answer to: the mail is stored once.
    again = Client().post(
        url,
        data=json.dumps(_postmark_payload(organisation)),
        content_type="application/json",
        HTTP_AUTHORIZATION=_basic(SECRET),
    )
    assert again.status_code == 200
    assert Message.objects.count() == 1


def test_serve_refuses_a_bad_or_busy_inbound_port():
    import socket

    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError, match="between 1 and 65535"):
        call_command("serve", "--no-worker", "--smtp-inbound", "70000")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(CommandError, match="cannot receive mail"):
            call_command("serve", "--no-worker", "--smtp-inbound", str(port))


def test_an_unknown_token_never_finds_another_organisations_conversation(
    organisation, other_organisation
):
    theirs = make_conversation(
        other_organisation, channel=ConversationChannel.EMAIL, email="ada@example.org"
    )
    Message.objects.create(
        conversation=theirs,
        author=Author.STAFF,
        text="Antwort",
        mail_message_id="<staff-b@inbox.publikum.localhost>",
    )
    before = theirs.messages.count()

    filed = inbound_mail(
        visitor_mail(
            to=f"inbox+{organisation.slug}.deadbeef00000000@inbox.publikum.localhost",
            text="Geheim",
            in_reply_to="<staff-b@inbox.publikum.localhost>",
        )
    )

    assert filed is None
    assert theirs.messages.count() == before
    assert not Message.objects.filter(text="Geheim").exists()


def test_an_unknown_token_still_finds_the_organisations_own_thread(organisation):
    mine = make_conversation(
        organisation, channel=ConversationChannel.EMAIL, email="ada@example.org"
    )
    Message.objects.create(
        conversation=mine,
        author=Author.STAFF,
        text="Antwort",
        mail_message_id="<staff-a@inbox.publikum.localhost>",
    )
    filed = inbound_mail(
        visitor_mail(
            to=f"inbox+{organisation.slug}.deadbeef00000000@inbox.publikum.localhost",
            text="Danke",
            in_reply_to="<staff-a@inbox.publikum.localhost>",
        )
    )
    assert filed == mine


# Crafted bodies: the old whole-body patterns took minutes (quadratic) on these, so a
# regression shows as a test run that hangs, not as a timing assertion.
def test_an_unclosed_head_tag_repeated_over_megabytes_is_read_quickly():
    text = html_text("<p>Hallo Museum</p>" + "<head " * 900_000)
    assert text.startswith("Hallo Museum")
    assert len(text) <= MAX_SCAN


def test_scripts_are_still_dropped_and_an_unclosed_one_does_not_eat_the_text():
    text = html_text("<p>Oben</p><SCRIPT>alert(1)</script ><style>p{}</style><p>Unten")
    assert text.split() == ["Oben", "Unten"]
    assert "Vorher" in html_text("<p>Vorher</p><script>never closed")


def test_a_long_line_full_of_schrieb_is_cut_quickly():
    text = cut_quote("Am " + "schrieb " * 400_000)
    assert text.startswith("Am schrieb schrieb")
    assert len(text) <= MAX_SCAN
    following = cut_quote("Am Montag x@example.org\n" + "wrote " * 400_000)
    assert following.startswith("Am Montag")


def test_a_huge_html_mail_is_filed_with_its_beginning(organisation):
    message = EmailMessage()
    message["From"] = "ada@example.org"
    message["To"] = organisation_address(organisation)
    message["Subject"] = "Riesig"
    message["Message-ID"] = "<huge-1@mail.example.org>"
    message.set_content("<p>Gibt es Führungen?</p>" + "<head " * 800_000, subtype="html")

    filed = inbound_mail(message.as_bytes())

    assert filed is not None
    assert filed.messages.get().text.startswith("Gibt es Führungen?")


def test_a_second_address_never_moves_the_conversation_to_another_contact(organisation):
    from publikum.audience.models import Interaction
    from publikum.conversations.services import link_visitor

    conversation = make_conversation(organisation, email="ada@example.org", name="Ada")
    ada = conversation.contact

    kept = link_visitor(conversation, email="bob@example.org", name="Bob")

    conversation.refresh_from_db()
    assert kept == ada
    assert conversation.contact == ada
    assert conversation.visitor_email == "ada@example.org"
    assert conversation.visitor_name == "Ada"
    assert not Interaction.objects.exclude(contact=ada).filter(kind="message").exists()
    # The same address again (in other case) is no change either.
    assert link_visitor(conversation, email="ADA@example.org") == ada


class _RefusingPostmark(threading.Thread):
    """A loopback stand-in for an e-mail service's API that refuses every recipient."""

    def __init__(self) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                body = json.dumps(
                    {
                        "ErrorCode": 406,
                        "Message": "You tried to send to a recipient that has been marked as "
                        "inactive.\nFound inactive addresses: ada@example.org.\nInactive "
                        "recipients are ones that have generated a hard bounce or a spam "
                        "complaint.",
                    }
                ).encode()
                self.send_response(422)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        super().__init__(target=self.server.serve_forever, daemon=True)


def test_a_refused_recipient_is_a_clear_error_and_stores_nothing(
    organisation, owner, settings, api, token_factory
):
    service = _RefusingPostmark()
    service.start()
    try:
        settings.EMAIL_BACKEND = "anymail.backends.postmark.EmailBackend"
        settings.ANYMAIL = {
            "POSTMARK_SERVER_TOKEN": "test-token",
            "POSTMARK_API_URL": f"http://127.0.0.1:{service.server.server_port}/",
        }
        conversation = make_conversation(organisation, email="ada@example.org")

        with pytest.raises(MailNotSent):
            staff_reply(conversation=conversation, user=owner, text="Antwort")

        client = api(token_factory(organisation, Role.FRONT_DESK))
        answer = client.post(f"/conversations/{conversation.pk}/reply", json={"text": "Antwort"})
    finally:
        service.server.shutdown()
        service.server.server_close()

    assert answer.status_code == 503
    assert answer.json()["error"]["code"] == "mail_not_sent"
    conversation.refresh_from_db()
    assert conversation.status == ConversationStatus.OPEN
    assert conversation.first_response_at is None
    assert not Message.objects.filter(author=Author.STAFF).exists()
