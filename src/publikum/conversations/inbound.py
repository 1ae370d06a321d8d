"""Incoming mail: a visitor writes to the house or answers a staff reply.

Mail arrives by SMTP at the built-in receiver (`conversations.inbound_smtp`, started by
`publikum serve --smtp-inbound PORT`) or by an e-mail service's inbound webhook (anymail's
`inbound` signal, received below). Both hand the raw message to `inbound_mail`:

- `inbox+<org>.<token>@<domain>`: the conversation with that token (a reply to staff);
- `inbox+<org>@<domain>`: a new conversation (channel e-mail), unless In-Reply-To or
  References name a mail of one of the organisation's conversations;
- any other address: only In-Reply-To / References can place it; else it is dropped.

The visitor's text is the plain part (or the HTML part without tags) with the quoted earlier
mails cut off. A mail seen before (same Message-ID) is not stored twice. Unknown addresses,
auto-replies and unparsable mails are dropped with a log line, never with an exception.
"""

from __future__ import annotations

import html
import logging
import re
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import getaddresses, parseaddr
from typing import Any

from anymail.inbound import AnymailInboundMessage
from anymail.signals import AnymailInboundEvent, inbound
from django.db import transaction
from django.dispatch import receiver
from django.utils import timezone
from django.utils.html import strip_tags

from publikum.conversations.mails import INBOX_LOCAL_PART, inbound_domain
from publikum.conversations.models import (
    MAX_TEXT,
    Author,
    Conversation,
    ConversationChannel,
    ConversationStatus,
    Message,
)
from publikum.conversations.services import conversation_start, link_visitor, message_add
from publikum.core.models import Organisation

logger = logging.getLogger("publikum.conversations.inbound")

ADDRESS = re.compile(
    rf"^{INBOX_LOCAL_PART}\+(?P<slug>[a-z0-9_-]+)(?:\.(?P<token>[0-9a-f]{{4,20}}))?@(?P<domain>.+)$",
    re.IGNORECASE,
)
# Where a mail program starts quoting the mail answered.
QUOTE_HEADERS = (
    re.compile(r"^\s*On\b.*\bwrote:\s*$", re.IGNORECASE),
    re.compile(r"^\s*Am\b.*\bschrieb\b.*:\s*$", re.IGNORECASE),
    re.compile(r"^\s*-{2,}\s*(Original Message|Ursprüngliche Nachricht)\s*-{2,}\s*$", re.I),
    re.compile(r"^\s*_{10,}\s*$"),
)
# Two-line variants ("On Mon, 5 Dec 2026 at 10:00, Name <addr>\nwrote:").
QUOTE_START = re.compile(r"^\s*(On|Am)\s", re.IGNORECASE)
QUOTE_END = re.compile(r"\b(wrote|schrieb)\b.*:\s*$", re.IGNORECASE)
EMPTY_TEXT = "(-)"
# Only this much of a mail body is read (4,000 characters are kept): the patterns below
# never run over more, whatever a crafted mail holds.
MAX_SCAN = 200_000
# A quote header is one short line; longer lines are never matched against the patterns.
MAX_HEADER_LINE = 300
# Mails that answer by themselves: holiday notices, lists, bounces.
AUTO_PRECEDENCE = {"bulk", "junk", "auto_reply", "list"}
BLOCK_OPEN = re.compile(r"<(script|style|head)\b", re.IGNORECASE)


@dataclass(frozen=True)
class InboxAddress:
    slug: str
    token: str


def parse_address(address: str) -> InboxAddress | None:
    """`inbox+<slug>[.<token>]@<inbound domain>` -> its parts; None for other addresses."""
    found = ADDRESS.match(address.strip())
    if found is None or found["domain"].lower() != inbound_domain():
        return None
    return InboxAddress(slug=found["slug"].lower(), token=(found["token"] or "").lower())


def _addresses(message: EmailMessage, recipients: list[str]) -> list[str]:
    values = [
        str(v)
        for name in ("To", "Cc", "Delivered-To", "X-Original-To")
        for v in (message.get_all(name) or [])
    ]
    return [*recipients, *(addr for _, addr in getaddresses(values) if addr)]


def _message_ids(value: str) -> list[str]:
    return re.findall(r"<[^<>\s]+>", value or "")


def cut_quote(text: str) -> str:
    """The new part of a reply: everything before the quoted mail it answers."""
    lines = text[:MAX_SCAN].replace("\r\n", "\n").replace("\r", "\n").split("\n")
    kept: list[str] = []
    for i, line in enumerate(lines):
        short = len(line) <= MAX_HEADER_LINE
        if short and any(p.match(line) for p in QUOTE_HEADERS):
            break
        following = lines[i + 1] if i + 1 < len(lines) else ""
        if (
            short
            and len(following) <= MAX_HEADER_LINE
            and QUOTE_START.match(line)
            and QUOTE_END.search(following)
            and "@" in line + following
        ):
            break
        if line.lstrip().startswith(">"):
            continue
        kept.append(line)
    return "\n".join(kept).strip()


def body_text(message: EmailMessage) -> str:
    """The plain text of a mail (its HTML without tags when it has no plain part)."""
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    try:
        content = part.get_content()
    except (LookupError, ValueError, AssertionError):
        payload = part.get_payload(decode=True)
        content = payload.decode("utf-8", errors="replace") if isinstance(payload, bytes) else ""
    if not isinstance(content, str):
        return ""
    if part.get_content_subtype() == "html":
        return html_text(content)
    return content[:MAX_SCAN].replace("\x00", "")


def _drop_blocks(content: str) -> str:
    """The HTML without its script, style and head elements, in one pass (an opening tag
    that is never closed is dropped alone)."""
    lower = content.lower()
    unclosed: set[str] = set()
    kept: list[str] = []
    pos = 0
    while (found := BLOCK_OPEN.search(content, pos)) is not None:
        kept.append(content[pos : found.start()])
        name = found[1].lower()
        end = -1 if name in unclosed else lower.find(f"</{name}", found.end())
        if end == -1:
            unclosed.add(name)  # no closing tag further on: never look for it again
            pos = found.end()
            continue
        close = lower.find(">", end)
        pos = len(content) if close == -1 else close + 1
        kept.append(" ")
    kept.append(content[pos:])
    return "".join(kept)


def html_text(content: str) -> str:
    """The text of an HTML body (its first MAX_SCAN characters) without tags."""
    content = _drop_blocks(content[:MAX_SCAN])
    content = re.sub(r"(?i)<br\s*/?>|</p>|</div>|</li>|</tr>", "\n", content)
    content = html.unescape(strip_tags(content))
    content = "\n".join(" ".join(line.split()) for line in content.split("\n"))
    return content.replace("\x00", "")


def _visitor_text(message: EmailMessage) -> str:
    text = cut_quote(body_text(message))
    text = re.sub(r"\n{3,}", "\n\n", text).strip()
    if len(text) > MAX_TEXT:
        text = text[: MAX_TEXT - 1] + "…"
    return text or EMPTY_TEXT


def _by_references(message: EmailMessage, organisation: Organisation | None) -> Conversation | None:
    ids = _message_ids(str(message.get("In-Reply-To", ""))) + _message_ids(
        str(message.get("References", ""))
    )
    if not ids:
        return None
    found = Message.objects.filter(mail_message_id__in=ids[-50:]).select_related(
        "conversation", "conversation__organisation"
    )
    if organisation is not None:
        found = found.filter(conversation__organisation=organisation)
    hit = found.order_by("-created_at", "-pk").first()
    return hit.conversation if hit is not None else None


def _language(text: str, organisation: Organisation) -> str:
    try:
        from publikum.assistant.nlu.language import detect_language
    except ImportError:  # the assistant's understanding is optional here
        return organisation.language
    try:
        language = detect_language(text, previous=organisation.language)
    except Exception:
        return organisation.language
    return language if language in {"de", "en"} else "en"


def _parse(raw: bytes) -> EmailMessage | None:
    try:
        message = BytesParser(policy=policy.default).parsebytes(raw)
    except Exception as exc:
        logger.warning("inbound mail dropped: cannot parse it (%s)", exc)
        return None
    if not isinstance(message, EmailMessage):
        return None
    return message


def _header(message: EmailMessage, name: str) -> str:
    try:
        return str(message.get(name, "") or "")
    except (ValueError, TypeError, IndexError):  # a malformed header the policy rejects
        return ""


def inbound_mail(
    raw: bytes, *, recipients: list[str] | None = None, now: datetime | None = None
) -> Conversation | None:
    """File one incoming mail; returns its conversation, or None when it was dropped.

    `recipients` are the SMTP envelope's (RCPT TO), when known: they name the inbox address
    also when the visitor's mail program put it in Bcc.
    """
    message = _parse(raw)
    if message is None:
        return None
    try:
        return _file(message, recipients or [], now or timezone.now())
    except (ValueError, TypeError, LookupError, UnicodeError) as exc:
        logger.warning("inbound mail dropped: %s", exc)
        return None


def _destination(
    message: EmailMessage, recipients: list[str]
) -> tuple[Organisation | None, Conversation | None]:
    """The organisation and conversation an inbound mail belongs to (by address, then by
    the mails it answers)."""
    addresses = [a for a in (parse_address(x) for x in _addresses(message, recipients)) if a]
    conversation: Conversation | None = None
    organisation: Organisation | None = None
    # An organisation named with an unknown thread: its mails may still be found by their
    # references, but only its own (never another organisation's), and no new one opens.
    scope: Organisation | None = None
    for address in addresses:
        named = Organisation.objects.filter(slug=address.slug).first()
        if named is None:
            continue
        if not address.token:
            organisation = named
            break
        conversation = Conversation.objects.filter(
            organisation=named, mail_token=address.token
        ).first()
        if conversation is not None:
            organisation = named
            break
        scope = scope or named
    if conversation is None:
        conversation = _by_references(message, organisation or scope)
    return organisation, conversation


def _automatic(message: EmailMessage) -> str:
    """Why the mail was sent by a program (auto-reply, list, bounce); "" for a person's."""
    auto = _header(message, "Auto-Submitted").strip().lower()
    if auto and auto != "no":
        return auto
    precedence = _header(message, "Precedence").strip().lower()
    if precedence in AUTO_PRECEDENCE:
        return f"precedence {precedence}"
    for name in ("X-Autoreply", "X-Autorespond"):
        value = _header(message, name).strip().lower()
        if value and value != "no":
            return name.lower()
    if message.get_content_type() == "multipart/report":
        return "delivery report"
    return ""


def _file(message: EmailMessage, recipients: list[str], now: datetime) -> Conversation | None:
    message_id = _header(message, "Message-ID").strip()[:300]
    auto = _automatic(message)
    if auto:
        logger.info("inbound mail %s dropped: automatic (%s)", message_id, auto)
        return None
    sender_name, sender = parseaddr(_header(message, "From"))
    if "@" not in sender:
        logger.info("inbound mail %s dropped: no sender address", message_id)
        return None
    organisation, conversation = _destination(message, recipients)
    if conversation is None and organisation is None:
        logger.info(
            "inbound mail %s dropped: no inbox address of a known organisation among %s",
            message_id,
            recipients or _header(message, "To"),
        )
        return None
    org = conversation.organisation if conversation is not None else organisation
    assert org is not None
    if message_id:
        seen = (
            Message.objects.filter(conversation__organisation=org, mail_message_id=message_id)
            .select_related("conversation")
            .first()
        )
        if seen is not None:
            logger.info("inbound mail %s dropped: seen before", message_id)
            return seen.conversation
    text = _visitor_text(message)
    subject = " ".join(_header(message, "Subject").split())[:300]
    with transaction.atomic():
        if conversation is None:
            conversation = conversation_start(
                organisation=org,
                channel=ConversationChannel.EMAIL,
                language=_language(f"{subject}\n{text}", org),
                subject=subject,
                status=ConversationStatus.OPEN,
                now=now,
            )
        conversation = Conversation.objects.select_for_update().get(pk=conversation.pk)
        message_add(
            conversation,
            author=Author.VISITOR,
            text=text,
            now=now,
            language=conversation.language,
            mail_message_id=message_id,
        )
        if conversation.status != ConversationStatus.OPEN or conversation.awaiting_since is None:
            conversation.status = ConversationStatus.OPEN
            conversation.awaiting_since = conversation.awaiting_since or now
            conversation.save(update_fields=["status", "awaiting_since"])
        if conversation.contact_id is None:
            link_visitor(conversation, email=sender, name=sender_name)
    logger.info("inbound mail %s filed in conversation %s", message_id, conversation.pk)
    return conversation


@receiver(inbound, dispatch_uid="publikum.conversations.inbound")
def _inbound_received(
    sender: Any, event: AnymailInboundEvent, esp_name: str, **kwargs: Any
) -> None:
    """An e-mail service's inbound webhook (anymail): the same path as SMTP."""
    message: AnymailInboundMessage | None = event.message
    if message is None:
        return
    recipient = getattr(message, "envelope_recipient", None)
    inbound_mail(message.as_bytes(), recipients=[recipient] if recipient else [])
