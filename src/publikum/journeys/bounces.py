"""Bounces, complaints and unsubscribes reported by an e-mail service (django-anymail).

With an e-mail service as `EMAIL_BACKEND`, a mail can fail after the service accepted it: the
recipient's server refuses it later (a bounce), the person marks it as spam (a complaint) or
unsubscribes on the service's own page. The service posts these to anymail's webhook URLs
(`/anymail/<service>/tracking/`, basic auth from PUBLIKUM_ANYMAIL_WEBHOOK_SECRET); anymail
turns each post into a normalised `AnymailTrackingEvent` and sends its `tracking` signal. The
receiver here only hands the event to `tracking_event_record`, which marks the contact; the
delivery guardrails then suppress further mail to it (docs/delivery.md, "E-mail services,
bounces and complaints").

Each outgoing mail carries `metadata = {"publikum": <message key>, "org": <slug>}`, which
anymail's backends send along and the services echo back in their events: that names the
message, and so the contact, exactly.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from anymail.signals import AnymailTrackingEvent, EventType, RejectReason, tracking
from django.db import transaction
from django.dispatch import receiver
from django.utils import timezone

from publikum.audience.consent import unsubscribe_everything
from publikum.audience.models import Contact, EmailStatus
from publikum.core.models import Organisation
from publikum.core.services import audit_log
from publikum.journeys.models import Message

logger = logging.getLogger("publikum.journeys.bounces")

# The metadata keys every outgoing mail carries (delivery._compose).
METADATA_KEY = "publikum"
METADATA_ORG = "org"

BOUNCED = "bounced"
COMPLAINED = "complained"
UNSUBSCRIBED = "unsubscribed"


def _dig(raw: Any, *path: str) -> Any:
    for name in path:
        if not isinstance(raw, Mapping):
            return None
        raw = raw.get(name)
    return raw


def _sparkpost_class(raw: Mapping[str, Any]) -> Any:
    # {"msys": {"message_event": {"type": "bounce", "bounce_class": "10", ...}}}
    inner = next(iter((_dig(raw, "msys") or {}).values()), None)
    return _dig(inner, "bounce_class")


# Services whose anymail mapping reports a soft (temporary) bounce as "bounced" too: how to
# recognise the soft ones in the service's own event. Anymail already reports Mailgun's
# temporary failures, Postal's SoftFail, Mailtrap's and Unisender Go's soft bounces as
# "deferred", which never mark anyone.
_SOFT_BOUNCE: dict[str, Callable[[Mapping[str, Any]], bool]] = {
    # Postmark: "SoftBounce", "Transient", "DnsError", ...; only "HardBounce" is permanent
    # (a SubscriptionChange names it in SuppressionReason instead of Type).
    "Postmark": lambda raw: (raw.get("Type") or raw.get("SuppressionReason")) != "HardBounce",
    "Mailgun": lambda raw: _dig(raw, "event-data", "severity") == "temporary",
    "Brevo": lambda raw: raw.get("event") == "soft_bounce",
    "SendinBlue": lambda raw: raw.get("event") == "soft_bounce",
    "Mandrill": lambda raw: (raw.get("event") or raw.get("type")) == "soft_bounce",
    "MailerSend": lambda raw: _dig(raw, "data", "type") == "soft_bounced",
    "Mailjet": lambda raw: not raw.get("hard_bounce", False),
    # SparkPost's hard classes: 10 invalid recipient, 30 no RCPT (20-24, 40, 70: soft).
    "SparkPost": lambda raw: _sparkpost_class(raw) not in {"10", "30"},
    "Amazon SES": lambda raw: _dig(raw, "bounce", "bounceType") != "Permanent",
    "Resend": lambda raw: _dig(raw, "data", "bounce", "type") not in {None, "Permanent"},
}

# Complaint events that are not the person's complaint: Postmark's "SpamNotification" says
# the receiving server filtered the mail as spam, not that the person reported it.
_NOT_A_COMPLAINT: dict[str, Callable[[Mapping[str, Any]], bool]] = {
    "Postmark": lambda raw: raw.get("Type") == "SpamNotification",
}


def event_outcome(event: AnymailTrackingEvent, esp_name: str) -> str:
    """What an event of an e-mail service means for the contact: BOUNCED (the address is
    dead: a hard bounce, or refused as invalid), COMPLAINED (marked as spam), UNSUBSCRIBED
    (unsubscribed at the service), or "" (nothing: delivered, opened, a soft bounce, ...).

    Only hard bounces count: a full mailbox or a server that is down today says nothing about
    the address tomorrow, and anymail reports some services' soft bounces as "bounced" too,
    so the service's own event is read as well (`_SOFT_BOUNCE`).
    """
    raw = event.esp_event if isinstance(event.esp_event, Mapping) else {}
    kind = event.event_type
    if kind == EventType.COMPLAINED:
        not_a_complaint = _NOT_A_COMPLAINT.get(esp_name)
        return "" if not_a_complaint is not None and not_a_complaint(raw) else COMPLAINED
    if kind == EventType.UNSUBSCRIBED:
        return UNSUBSCRIBED
    if kind == EventType.REJECTED:
        return BOUNCED if event.reject_reason == RejectReason.INVALID else ""
    if kind == EventType.BOUNCED and event.reject_reason in {
        RejectReason.BOUNCED,
        RejectReason.INVALID,
    }:
        soft = _SOFT_BOUNCE.get(esp_name)
        return "" if soft is not None and soft(raw) else BOUNCED
    return ""


def _same_address(a: str, b: str) -> bool:
    return a.strip().casefold() == b.strip().casefold()


def _message_of(event: AnymailTrackingEvent) -> Message | None:
    """The message the event names through its metadata, or None (a mail sent before the
    metadata existed, a service that drops it, or metadata that names nothing of ours)."""
    metadata = event.metadata if isinstance(event.metadata, Mapping) else {}
    key, slug = metadata.get(METADATA_KEY), metadata.get(METADATA_ORG)
    if not (isinstance(key, str) and key and isinstance(slug, str) and slug):
        return None
    organisation = Organisation.objects.filter(slug=slug).first()
    if organisation is None:
        return None
    return (
        Message.objects.filter(organisation=organisation, key=key)
        .select_related("organisation", "contact", "contact__organisation")
        .first()
    )


def _contact_of(message: Message | None, recipient: str) -> Contact | None:
    """The message's contact, if the event is about the address the contact has now: one who
    changed the address since the mail left is not marked for the old one."""
    if message is None or message.contact is None or message.contact.erased_at is not None:
        return None
    contact = message.contact
    if recipient and not _same_address(contact.email, recipient):
        return None
    return contact


def _contacts_with_address(recipient: str) -> list[Contact]:
    """Every contact that is not erased with this address, in every organisation (a dead
    address is dead for every house). One query per step: the organisations, then their
    contacts by (organisation, UPPER(email)), the index an address lookup uses."""
    organisations = list(Organisation.objects.values_list("pk", flat=True))
    return list(
        Contact.objects.filter(
            organisation_id__in=organisations, email__iexact=recipient, erased_at__isnull=True
        )
        .select_related("organisation")
        .order_by("organisation_id", "pk")
    )


def _mark(contact: Contact, status: str, message: Message | None, esp_name: str) -> bool:
    """Set the contact's e-mail status with an audit entry; False when it already had it.

    A bounce only changes a deliverable address; a complaint also overrides "bounced" (the
    person received the mail, and said no). The conditional update makes a replayed webhook
    change nothing.
    """
    before = [EmailStatus.OK]
    if status == EmailStatus.COMPLAINED:
        before.append(EmailStatus.BOUNCED)
    changed = Contact.objects.filter(
        organisation_id=contact.organisation_id,
        pk=contact.pk,
        erased_at__isnull=True,
        email_status__in=before,
    ).update(email_status=status, updated_at=timezone.now())
    if not changed:
        return False
    contact.email_status = status
    # Ids only: the audit log holds no personal data of contacts (no address).
    audit_log(
        contact.organisation,
        f"audience.contact.{status}",
        obj=message if message is not None else contact,
        data={
            "contact_id": contact.pk,
            "message": message.pk if message is not None else None,
            "via": f"{esp_name} webhook",
        },
    )
    return True


def tracking_event_record(*, event: AnymailTrackingEvent, esp_name: str) -> list[int]:
    """Act on one event of an e-mail service; returns the ids of the contacts it changed.

    - Hard bounce: the message's contact becomes "bounced". Without metadata naming a
      message, every contact with that address (any case) in every organisation does.
    - Complaint: the message's contact becomes "complained"; without an identified message
      nothing happens (a complaint is about one house's mail, not about the address).
    - Unsubscribed at the service: every consent of the message's contact is withdrawn
      (as the one-click unsubscribe does); without an identified message nothing happens.

    Safe to repeat: services resend webhooks, and a second delivery changes nothing.
    """
    outcome = event_outcome(event, esp_name)
    if not outcome:
        return []
    recipient = event.recipient.strip() if isinstance(event.recipient, str) else ""
    with transaction.atomic():
        message = _message_of(event)
        contact = _contact_of(message, recipient)
        if outcome == BOUNCED:
            if contact is not None:
                targets = [contact]
            elif "@" in recipient:
                targets = _contacts_with_address(recipient)
            else:
                targets = []
            changed = [c.pk for c in targets if _mark(c, EmailStatus.BOUNCED, message, esp_name)]
        elif contact is None:
            changed = []
        elif outcome == COMPLAINED:
            marked = _mark(contact, EmailStatus.COMPLAINED, message, esp_name)
            changed = [contact.pk] if marked else []
        else:
            changed = _unsubscribe(contact, message, esp_name)
    if not changed:
        logger.info(
            "%s %s event changed nothing (message %s, contact %s)",
            esp_name,
            outcome,
            message.pk if message is not None else "not identified",
            contact.pk if contact is not None else "not identified",
        )
    return changed


def _unsubscribe(contact: Contact, message: Message | None, esp_name: str) -> list[int]:
    at = timezone.now()
    withdrawn = unsubscribe_everything(contact=contact, via=f"unsubscribe at {esp_name}", at=at)
    if message is not None:
        Message.objects.filter(
            organisation_id=message.organisation_id, pk=message.pk, unsubscribed_at__isnull=True
        ).update(unsubscribed_at=at)
    return [contact.pk] if withdrawn else []


@receiver(tracking, dispatch_uid="publikum.journeys.bounces")
def _tracking_received(
    sender: Any, event: AnymailTrackingEvent, esp_name: str, **kwargs: Any
) -> None:
    # Anymail's signal is the extension point; the work is the service above. An exception
    # answers 500, and the service posts the event again later.
    tracking_event_record(event=event, esp_name=esp_name)
