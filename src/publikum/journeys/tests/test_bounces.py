"""Bounce, complaint and unsubscribe webhooks of e-mail services (django-anymail).

The services cannot run here, so their webhook posts are replayed at the HTTP boundary: the
documented example payloads of Postmark and Mailgun (esp_payloads/, see its README) go
through Django's test client to anymail's real webhook views under /anymail/, with the
basic auth of the webhook secret. Mails leave through anymail's own test backend, which
records what a service's backend would send (the metadata that names our message), and the
delivery run is the real one: the next mail to a marked contact is suppressed.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from anymail.signals import AnymailTrackingEvent
from django.core import mail
from django.test import Client

from conftest import make_organisation
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
from publikum.core.models import AuditEntry, Organisation
from publikum.journeys.bounces import BOUNCED, COMPLAINED, event_outcome
from publikum.journeys.delivery import message_queue, messages_deliver
from publikum.journeys.models import Message, MessageStatus, SuppressionReason
from publikum.journeys.tests.test_delivery import NOON, person, template

pytestmark = pytest.mark.django_db

PAYLOADS = Path(__file__).parent / "esp_payloads"
SECRET = "postmark-hook:7f3a9c1e5b2d4f60"
MAILGUN_SIGNING_KEY = "key-3ax6xnjp29jd6fds4gc373sgvjxteol0"
POSTMARK = "/anymail/postmark/tracking/"
MAILGUN = "/anymail/mailgun/tracking/"


@pytest.fixture(autouse=True)
def _service(settings: Any) -> None:
    """An e-mail service as the backend, and the webhook secret the service is told."""
    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
    settings.ANYMAIL = {
        "WEBHOOK_SECRET": SECRET,
        "MAILGUN_WEBHOOK_SIGNING_KEY": MAILGUN_SIGNING_KEY,
    }


# --- helpers ---------------------------------------------------------------------------------
def payload(name: str) -> dict[str, Any]:
    return json.loads((PAYLOADS / f"{name}.json").read_text())


def postmark(name: str, *, recipient: str, metadata: Mapping[str, str] | None) -> dict[str, Any]:
    """The documented Postmark payload, about our recipient, echoing our metadata."""
    data = payload(name)
    data["Email" if "Email" in data else "Recipient"] = recipient
    if metadata is None:
        data.pop("Metadata", None)
    else:
        data["Metadata"] = dict(metadata)
    return data


def mailgun(name: str, *, recipient: str, metadata: Mapping[str, str] | None) -> dict[str, Any]:
    """The documented Mailgun payload, signed as Mailgun signs it (HMAC-SHA256 of timestamp
    and token with the webhook signing key)."""
    data = payload(name)
    event = data["event-data"]
    event["recipient"] = recipient
    event["message"]["headers"]["to"] = recipient
    event["user-variables"] = dict(metadata or {})
    signature = data["signature"]
    signature["signature"] = hmac.new(
        MAILGUN_SIGNING_KEY.encode(),
        f"{signature['timestamp']}{signature['token']}".encode(),
        hashlib.sha256,
    ).hexdigest()
    return data


def basic(credentials: str) -> str:
    return "Basic " + base64.b64encode(credentials.encode()).decode()


def post(url: str, data: dict[str, Any], *, auth: str | None = SECRET) -> int:
    headers = {"HTTP_AUTHORIZATION": basic(auth)} if auth is not None else {}
    response = Client().post(url, data=json.dumps(data), content_type="application/json", **headers)
    return response.status_code


def sent_mail(organisation: Organisation, contact: Contact) -> tuple[Message, dict[str, str]]:
    """A marketing mail sent to `contact` through the service; returns the message and the
    metadata the service was given with it (which it echoes in its webhooks)."""
    message = message_queue(
        organisation=organisation,
        contact=contact,
        template=template(organisation),
        key=f"newsletter:1:{contact.pk}",
    )
    before = len(mail.outbox)
    report = messages_deliver(now=NOON)
    assert report.sent == 1
    assert len(mail.outbox) == before + 1
    metadata = mail.outbox[-1].anymail_test_params["metadata"]  # type: ignore[attr-defined]
    return Message.objects.get(pk=message.pk), metadata


def next_mail(organisation: Organisation, contact: Contact) -> Message:
    """Another marketing mail to the contact, through the real delivery run."""
    message = message_queue(
        organisation=organisation,
        contact=contact,
        template=template(organisation),
        key=f"newsletter:2:{contact.pk}",
    )
    messages_deliver(now=NOON)
    return Message.objects.get(pk=message.pk)


def status(contact: Contact) -> str:
    return Contact.objects.get(pk=contact.pk).email_status


def audit(action: str) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(action=action))


# --- the metadata of outgoing mail ----------------------------------------------------------
def test_each_mail_tells_the_service_which_message_it_is(organisation):
    contact = person(organisation)

    message, metadata = sent_mail(organisation, contact)

    assert message.status == MessageStatus.SENT
    assert metadata == {"publikum": message.key, "org": organisation.slug}
    assert mail.outbox[-1].to == [contact.email]


# --- Postmark --------------------------------------------------------------------------------
def test_a_postmark_hard_bounce_marks_the_contact_and_the_next_mail_is_suppressed(organisation):
    contact = person(organisation)
    message, metadata = sent_mail(organisation, contact)

    answer = post(
        POSTMARK, postmark("postmark_bounce_hard", recipient=contact.email, metadata=metadata)
    )

    assert answer == 200
    assert status(contact) == EmailStatus.BOUNCED
    [entry] = audit("audience.contact.bounced")
    assert entry.organisation_id == organisation.pk
    assert (entry.object_type, entry.object_id) == ("journeys.message", str(message.pk))
    assert entry.data == {
        "contact_id": contact.pk,
        "message": message.pk,
        "via": "Postmark webhook",
    }
    assert contact.email not in json.dumps(entry.data)
    sent_before = len(mail.outbox)
    following = next_mail(organisation, contact)
    assert (following.status, following.reason) == (
        MessageStatus.SUPPRESSED,
        SuppressionReason.BOUNCED,
    )
    assert len(mail.outbox) == sent_before


def test_a_postmark_spam_complaint_marks_the_contact_complained(organisation):
    contact = person(organisation)
    message, metadata = sent_mail(organisation, contact)

    answer = post(
        POSTMARK, postmark("postmark_spam_complaint", recipient=contact.email, metadata=metadata)
    )

    assert answer == 200
    assert status(contact) == EmailStatus.COMPLAINED
    [entry] = audit("audience.contact.complained")
    assert entry.data == {
        "contact_id": contact.pk,
        "message": message.pk,
        "via": "Postmark webhook",
    }
    following = next_mail(organisation, contact)
    assert (following.status, following.reason) == (
        MessageStatus.SUPPRESSED,
        SuppressionReason.COMPLAINED,
    )


def test_a_postmark_soft_bounce_marks_nobody_and_mail_goes_on(organisation):
    contact = person(organisation)
    _, metadata = sent_mail(organisation, contact)

    answer = post(
        POSTMARK, postmark("postmark_bounce_soft", recipient=contact.email, metadata=metadata)
    )

    assert answer == 200
    assert status(contact) == EmailStatus.OK
    assert not audit("audience.contact.bounced")
    assert next_mail(organisation, contact).status == MessageStatus.SENT


def test_unsubscribing_at_the_service_withdraws_every_consent(organisation):
    contact = person(organisation, consents=(Purpose.NEWSLETTER, Purpose.OFFERS))
    message, metadata = sent_mail(organisation, contact)

    data = postmark("postmark_subscription_change", recipient=contact.email, metadata=metadata)
    assert post(POSTMARK, data) == 200
    assert post(POSTMARK, data) == 200  # the service retries: nothing more happens

    assert not Consent.objects.filter(contact=contact, channel=Channel.EMAIL, granted=True).exists()
    assert (
        Interaction.objects.filter(contact=contact, kind=InteractionKind.UNSUBSCRIBED).count() == 1
    )
    assert len(audit("audience.contact.unsubscribed")) == 1
    assert Message.objects.get(pk=message.pk).unsubscribed_at is not None
    assert status(contact) == EmailStatus.OK  # the address itself is fine
    following = next_mail(organisation, contact)
    assert (following.status, following.reason) == (
        MessageStatus.SUPPRESSED,
        SuppressionReason.UNSUBSCRIBED,
    )


# --- Mailgun ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "expected", "reason"),
    [
        ("mailgun_failed_permanent", EmailStatus.BOUNCED, SuppressionReason.BOUNCED),
        ("mailgun_complained", EmailStatus.COMPLAINED, SuppressionReason.COMPLAINED),
    ],
)
def test_mailgun_permanent_failure_and_complaint_mark_the_contact(
    organisation, name, expected, reason
):
    contact = person(organisation)
    _, metadata = sent_mail(organisation, contact)

    answer = post(MAILGUN, mailgun(name, recipient=contact.email, metadata=metadata))

    assert answer == 200
    assert status(contact) == expected
    following = next_mail(organisation, contact)
    assert (following.status, following.reason) == (MessageStatus.SUPPRESSED, reason)


def test_a_mailgun_temporary_failure_marks_nobody(organisation):
    contact = person(organisation)
    _, metadata = sent_mail(organisation, contact)

    answer = post(
        MAILGUN, mailgun("mailgun_failed_temporary", recipient=contact.email, metadata=metadata)
    )

    assert answer == 200
    assert status(contact) == EmailStatus.OK
    assert next_mail(organisation, contact).status == MessageStatus.SENT


def test_a_mailgun_post_with_a_forged_signature_is_refused(organisation):
    contact = person(organisation)
    _, metadata = sent_mail(organisation, contact)
    data = mailgun("mailgun_complained", recipient=contact.email, metadata=metadata)
    data["signature"]["signature"] = "0" * 64

    assert post(MAILGUN, data) == 400
    assert status(contact) == EmailStatus.OK


# --- who may post ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "auth", [None, "postmark-hook:wrong-password", "someone:7f3a9c1e5b2d4f60"], ids=str
)
def test_a_post_without_the_secret_is_refused_and_marks_nothing(organisation, auth):
    contact = person(organisation)
    _, metadata = sent_mail(organisation, contact)

    answer = post(
        POSTMARK,
        postmark("postmark_bounce_hard", recipient=contact.email, metadata=metadata),
        auth=auth,
    )

    assert answer == 400  # anymail: AnymailWebhookValidationFailure, a SuspiciousOperation
    assert status(contact) == EmailStatus.OK
    assert not audit("audience.contact.bounced")


def test_without_a_configured_secret_the_webhooks_refuse_everything(organisation, settings):
    # As configured from the environment without PUBLIKUM_ANYMAIL_WEBHOOK_SECRET: a random
    # secret nobody knows (anymail itself would accept every post without one).
    from publikum import settings as project_settings

    settings.ANYMAIL = copy.deepcopy(project_settings.ANYMAIL)
    assert settings.ANYMAIL["WEBHOOK_SECRET"].startswith("unset:")
    contact = person(organisation)
    _, metadata = sent_mail(organisation, contact)
    data = postmark("postmark_spam_complaint", recipient=contact.email, metadata=metadata)

    for auth in (None, "unset:", SECRET):
        assert post(POSTMARK, data, auth=auth) == 400
    assert status(contact) == EmailStatus.OK


# --- identifying the contact -----------------------------------------------------------------
def test_an_unknown_recipient_is_answered_200_and_nothing_changes(organisation):
    contact = person(organisation)
    sent_mail(organisation, contact)

    for name in ("postmark_bounce_hard", "postmark_spam_complaint"):
        data = postmark(name, recipient="nobody-we-know@example.net", metadata=None)
        assert post(POSTMARK, data) == 200
    assert (
        post(
            MAILGUN,
            mailgun("mailgun_failed_permanent", recipient="ghost@example.net", metadata=None),
        )
        == 200
    )

    assert status(contact) == EmailStatus.OK
    assert (
        not AuditEntry.objects.filter(action__startswith="audience.contact.")
        .exclude(action="audience.contact.created")
        .exists()
    )


def test_a_replayed_webhook_changes_nothing_more(organisation):
    contact = person(organisation)
    _, metadata = sent_mail(organisation, contact)
    bounce = postmark("postmark_bounce_hard", recipient=contact.email, metadata=metadata)

    assert [post(POSTMARK, bounce) for _ in range(3)] == [200, 200, 200]

    assert status(contact) == EmailStatus.BOUNCED
    assert len(audit("audience.contact.bounced")) == 1


def test_a_hard_bounce_without_metadata_marks_the_address_in_every_house(organisation):
    other = make_organisation("theater-drei", "Theater Drei")
    here = person(organisation, email="Karla.Kolumna@example.org")
    there = person(other, email="karla.kolumna@EXAMPLE.org")
    erased = person(other, email="karla.kolumna@example.org")
    contact_erase(contact=erased)
    neighbour = person(organisation, email="karla@example.org")

    data = postmark("postmark_bounce_hard", recipient="karla.kolumna@example.org", metadata=None)
    assert post(POSTMARK, data) == 200

    assert status(here) == status(there) == EmailStatus.BOUNCED
    assert status(neighbour) == EmailStatus.OK
    assert Contact.objects.get(pk=erased.pk).email == ""  # untouched, still erased
    entries = audit("audience.contact.bounced")
    assert {(e.organisation_id, e.data["contact_id"]) for e in entries} == {
        (organisation.pk, here.pk),
        (other.pk, there.pk),
    }
    assert all(e.data["message"] is None for e in entries)


def test_a_complaint_without_an_identified_message_marks_nobody(organisation):
    # A complaint is about one house's mail: the same address elsewhere stays deliverable.
    contact = person(organisation)
    sent_mail(organisation, contact)

    data = postmark("postmark_spam_complaint", recipient=contact.email, metadata=None)
    assert post(POSTMARK, data) == 200

    assert status(contact) == EmailStatus.OK
    assert not audit("audience.contact.complained")


def test_metadata_naming_a_message_of_another_house_identifies_nothing(
    organisation, other_organisation
):
    contact = person(organisation)
    message, _ = sent_mail(organisation, contact)
    forged = {"publikum": message.key, "org": other_organisation.slug}

    data = postmark("postmark_spam_complaint", recipient=contact.email, metadata=forged)
    assert post(POSTMARK, data) == 200

    assert status(contact) == EmailStatus.OK


def test_a_bounce_of_an_address_the_contact_no_longer_has_leaves_the_new_one_alone(organisation):
    contact = person(organisation, email="old.address@example.org")
    _, metadata = sent_mail(organisation, contact)
    Contact.objects.filter(pk=contact.pk).update(email="new.address@example.org")

    data = postmark("postmark_bounce_hard", recipient="old.address@example.org", metadata=metadata)
    assert post(POSTMARK, data) == 200

    assert status(contact) == EmailStatus.OK


def test_a_complaint_overrides_a_bounce_but_a_bounce_never_overrides_a_complaint(organisation):
    bounced = person(organisation, email_status=EmailStatus.BOUNCED)
    complained = person(organisation)
    message = message_queue(
        organisation=organisation,
        contact=bounced,
        template=template(organisation),
        key="newsletter:9:1",
    )
    sent_mail(organisation, complained)
    metadata_b = {"publikum": message.key, "org": organisation.slug}
    metadata_c = {"publikum": f"newsletter:1:{complained.pk}", "org": organisation.slug}

    posts = [
        ("postmark_spam_complaint", bounced.email, metadata_b),
        ("postmark_spam_complaint", complained.email, metadata_c),
        ("postmark_bounce_hard", complained.email, metadata_c),
    ]
    for name, recipient, metadata in posts:
        assert post(POSTMARK, postmark(name, recipient=recipient, metadata=metadata)) == 200

    assert status(bounced) == EmailStatus.COMPLAINED
    assert status(complained) == EmailStatus.COMPLAINED


# --- hard and soft bounces of other services -------------------------------------------------
def event(event_type: str, reject_reason: str | None, raw: dict[str, Any]) -> AnymailTrackingEvent:
    return AnymailTrackingEvent(
        event_type=event_type,
        reject_reason=reject_reason,
        esp_event=raw,
        recipient="a@example.org",
    )


@pytest.mark.parametrize(
    ("esp", "raw", "expected"),
    [
        ("Brevo", {"event": "hard_bounce"}, BOUNCED),
        ("Brevo", {"event": "soft_bounce"}, ""),
        ("Mandrill", {"event": "hard_bounce"}, BOUNCED),
        ("Mandrill", {"event": "soft_bounce"}, ""),
        ("MailerSend", {"data": {"type": "hard_bounced"}}, BOUNCED),
        ("MailerSend", {"data": {"type": "soft_bounced"}}, ""),
        ("Mailjet", {"event": "bounce", "hard_bounce": True}, BOUNCED),
        ("Mailjet", {"event": "bounce", "hard_bounce": False}, ""),
        (
            "SparkPost",
            {"msys": {"message_event": {"type": "bounce", "bounce_class": "10"}}},
            BOUNCED,
        ),
        ("SparkPost", {"msys": {"message_event": {"type": "bounce", "bounce_class": "22"}}}, ""),
        ("Amazon SES", {"bounce": {"bounceType": "Permanent"}}, BOUNCED),
        ("Amazon SES", {"bounce": {"bounceType": "Transient"}}, ""),
        ("Postmark", {"RecordType": "Bounce", "Type": "HardBounce"}, BOUNCED),
        ("Postmark", {"RecordType": "Bounce", "Type": "SoftBounce"}, ""),
    ],
)
def test_only_hard_bounces_count(esp, raw, expected):
    assert event_outcome(event("bounced", "bounced", raw), esp) == expected


def test_what_else_an_event_can_mean():
    assert event_outcome(event("rejected", "invalid", {}), "Postmark") == BOUNCED
    assert event_outcome(event("rejected", "blocked", {}), "Postmark") == ""
    assert event_outcome(event("bounced", "other", {"Type": "HardBounce"}), "Postmark") == ""
    assert event_outcome(event("complained", "spam", {"Type": "SpamComplaint"}), "Postmark") == (
        COMPLAINED
    )
    # Postmark's SpamNotification: the receiving server's filter, not the person.
    assert (
        event_outcome(event("complained", "spam", {"Type": "SpamNotification"}), "Postmark") == ""
    )
    assert event_outcome(event("delivered", None, {}), "Postmark") == ""
    assert event_outcome(event("deferred", None, {}), "Mailgun") == ""
