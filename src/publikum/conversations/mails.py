"""Mails of the inbox: a staff reply to a visitor, and the notice of an overdue conversation.

A staff reply is transactional: it answers a message the visitor wrote to the house, so it
needs no marketing consent (docs/inbox.md). It comes from the organisation's name, and its
Reply-To is the conversation's own inbound address (`inbox+<org>.<token>@<domain>`), so that
the visitor's answer lands in the same conversation; In-Reply-To and References thread it in
the visitor's mail program. Every mail carries the organisation header the mail sink files
it under and an idempotency key.
"""

from __future__ import annotations

from email.utils import formataddr, make_msgid, parseaddr

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.urls import reverse
from django.utils import translation
from django.utils.html import escape, linebreaks
from django.utils.translation import gettext

from publikum.conversations.models import Author, Conversation, Message
from publikum.core.mailsink import ORG_HEADER
from publikum.core.models import Organisation, User

IDEMPOTENCY_HEADER = "X-Publikum-Idempotency-Key"
INBOX_LOCAL_PART = "inbox"
# References keeps the thread together; mail programs cope with a handful of ids.
MAX_REFERENCES = 10


def inbound_domain() -> str:
    return str(settings.PUBLIKUM_INBOUND_DOMAIN).strip().lower()


def organisation_address(organisation: Organisation) -> str:
    """Where visitors write to the house: every mail starts a new conversation."""
    return f"{INBOX_LOCAL_PART}+{organisation.slug}@{inbound_domain()}"


def reply_address(conversation: Conversation) -> str:
    """The conversation's own address: a mail to it joins this conversation."""
    slug = conversation.organisation.slug
    return f"{INBOX_LOCAL_PART}+{slug}.{conversation.mail_token}@{inbound_domain()}"


def new_message_id() -> str:
    return make_msgid(domain=inbound_domain())


def _sender(organisation: Organisation) -> str:
    _, address = parseaddr(settings.DEFAULT_FROM_EMAIL)
    return formataddr((organisation.name, address))


def _thread_ids(conversation: Conversation) -> tuple[str, list[str]]:
    """In-Reply-To (the visitor's last mail) and References (the thread's mails)."""
    ids = list(
        Message.objects.filter(conversation=conversation)
        .exclude(mail_message_id="")
        .order_by("created_at", "pk")
        .values_list("author", "mail_message_id")
    )
    inbound = [mid for author, mid in ids if author == Author.VISITOR]
    references = [mid for _, mid in ids][-MAX_REFERENCES:]
    return (inbound[-1] if inbound else ""), references


def reply_subject(conversation: Conversation) -> str:
    """The subject of a reply, in the conversation's language (call inside it)."""
    subject = " ".join(conversation.subject.split())
    if subject:
        return subject if subject.lower().startswith(("re:", "aw:")) else f"Re: {subject}"
    return gettext("Your message to %(name)s") % {"name": conversation.organisation.name}


def send_staff_reply(
    *, conversation: Conversation, message: Message, user: User | None, message_id: str
) -> None:
    """Send `message` (a stored staff reply) to the visitor's address over SMTP.

    Raises OSError / smtplib.SMTPException when the mail server refuses; the caller rolls
    the reply back then.
    """
    organisation = conversation.organisation
    in_reply_to, references = _thread_ids(conversation)
    with translation.override(conversation.language):
        subject = reply_subject(conversation)
        signature_name = (user.name if user is not None else "") or organisation.name
        greeting = gettext("Kind regards")
        footer = gettext("Simply reply to this e-mail to answer.")
    text = f"{message.text}\n\n{greeting}\n{signature_name}\n{organisation.name}\n\n-- \n{footer}\n"
    html = (
        f"{linebreaks(escape(message.text))}"
        f"<p>{escape(greeting)}<br>{escape(signature_name)}<br>{escape(organisation.name)}</p>"
        f'<p style="color:#666;font-size:90%">{escape(footer)}</p>'
    )
    headers = {
        ORG_HEADER: organisation.slug,
        IDEMPOTENCY_HEADER: f"conversation-reply-{message.pk}",
        "Message-ID": message_id,
    }
    if in_reply_to:
        headers["In-Reply-To"] = in_reply_to
    if references:
        headers["References"] = " ".join(references)
    mail = EmailMultiAlternatives(
        subject,
        text,
        _sender(organisation),
        [formataddr((conversation.visitor_name, conversation.visitor_email))],
        reply_to=[reply_address(conversation)],
        headers=headers,
    )
    mail.attach_alternative(html, "text/html")
    mail.send()


def conversation_link(conversation: Conversation) -> str:
    path = reverse(
        "inbox_conversation",
        kwargs={"org": conversation.organisation.slug, "conversation_id": conversation.pk},
    )
    return f"{str(settings.PUBLIC_URL).rstrip('/')}{path}"


def send_overdue_notice(*, conversation: Conversation, to: str, hours: int) -> None:
    """Tell the house's notify address that a conversation waits longer than `hours`."""
    organisation = conversation.organisation
    since = int(conversation.awaiting_since.timestamp()) if conversation.awaiting_since else 0
    with translation.override(organisation.language):
        subject = gettext("Inbox: a conversation waits for an answer (%(id)s)") % {
            "id": conversation.pk
        }
        text = gettext(
            "A conversation in the inbox of %(name)s has waited for an answer longer than "
            "the overdue time (%(hours)s h).\n\nOpen it: %(link)s\n"
        ) % {"name": organisation.name, "hours": hours, "link": conversation_link(conversation)}
    mail = EmailMultiAlternatives(
        subject,
        text,
        _sender(organisation),
        [to],
        headers={
            ORG_HEADER: organisation.slug,
            IDEMPOTENCY_HEADER: f"conversation-overdue-{conversation.pk}-{since}",
            "Auto-Submitted": "auto-generated",
        },
    )
    mail.send()
