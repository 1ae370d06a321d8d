"""Double opt-in, the preference centre and the signed links that every mail carries.

Three kinds of link, each signed with Django's signing (HMAC-SHA256 over SECRET_KEY) under
its own salt, so that a token of one kind is worthless as another:

* confirmation (`/<org>/subscribe/confirm/<token>`): organisation id, subscription request
  id, the request's random nonce and a keyed mark of the address it was mailed to, with a
  timestamp; valid for seven days, once.
* preference centre (`/<org>/preferences/<token>`) and one-click unsubscribe
  (`/<org>/unsubscribe/<token>`): organisation id, contact id and a keyed fingerprint of the
  contact (id, creation time, e-mail address). They never expire, because people open old
  mails, but they stop working when the person is erased or their address changes (the
  fingerprint no longer matches), and all of them at once when SECRET_KEY is rotated.

See docs/personal-data.md for the reasoning.
"""

from __future__ import annotations

import logging
import re
import secrets
import smtplib
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from email.utils import formataddr, parseaddr
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.translation import gettext

from publikum.audience.models import (
    Channel,
    Consent,
    Contact,
    InteractionKind,
    Purpose,
    SubscriptionRequest,
)
from publikum.audience.services import (
    consent_set,
    contact_create,
    interaction_record,
    normalise_email,
)
from publikum.core.errors import Conflict, DomainError, ValidationFailed
from publikum.core.mailsink import ORG_HEADER
from publikum.core.models import Organisation
from publikum.core.services import audit_log

logger = logging.getLogger("publikum.audience.consent")

CONFIRM_SALT = "publikum.audience.subscribe-confirm"
PREFERENCES_SALT = "publikum.audience.preferences"
UNSUBSCRIBE_SALT = "publikum.audience.unsubscribe"
FINGERPRINT_SALT = "publikum.audience.contact-fingerprint"
ADDRESS_SALT = "publikum.audience.confirmation-address"
CONFIRM_MAX_AGE = timedelta(days=7)
SUBSCRIBE_SOURCE = "subscribe form"
MAX_MAILS_PER_MONTH = 100
MAX_PAUSE_DAYS = 2 * 366
LANGUAGES = ("de", "en")

_PURPOSE_LINE = re.compile(r"^\[(?P<purpose>[a-z_]+)\] (?P<text>.*)$")


class LinkInvalid(DomainError):
    """A forged, tampered or revoked link, or one of another organisation."""

    code = "invalid_link"
    status = 400


class LinkExpired(DomainError):
    """A genuine confirmation link that is older than CONFIRM_MAX_AGE."""

    code = "link_expired"
    status = 410


class MailNotSent(DomainError):
    code = "mail_not_sent"
    status = 503


# --- the wording people see -------------------------------------------------------------


def consent_intro(organisation: Organisation) -> str:
    """The sentence above the purposes, in the active language."""
    return gettext(
        "Yes, %(organisation)s may send me e-mails for what I tick below. I can withdraw "
        "this consent at any time with the link in every e-mail."
    ) % {"organisation": organisation.name}


def purpose_texts() -> dict[str, str]:
    """The wording shown for each purpose, in the active language."""
    return {
        Purpose.NEWSLETTER: gettext(
            "Newsletter: news about our programme, exhibitions and events, about once a month."
        ),
        Purpose.OFFERS: gettext("Personal offers: invitations and offers chosen for my interests."),
        Purpose.FEEDBACK: gettext(
            "Feedback requests: a few short questions after a visit, about how it was."
        ),
    }


def subscription_wording(*, organisation: Organisation, purposes: list[str], language: str) -> str:
    """The text a person agreed to, as stored: the intro, then one line per purpose.

    Each purpose line starts with "[purpose]" so that confirmation can hand every consent
    exactly the words that were shown for it.
    """
    with translation.override(language):
        texts = purpose_texts()
        lines = [consent_intro(organisation)]
        lines += [f"[{p}] {texts[p]}" for p in purposes]
    return "\n".join(lines)


def wording_for(wording: str, purpose: str) -> str:
    """The words shown for one purpose, taken from a stored subscription wording."""
    intro: list[str] = []
    for line in wording.splitlines():
        match = _PURPOSE_LINE.match(line)
        if match is None:
            intro.append(line)
        elif match.group("purpose") == purpose:
            return "\n".join([*intro, match.group("text")])
    return wording


# --- signed links ------------------------------------------------------------------------


def _fingerprint(contact: Contact) -> str:
    """Keyed, so that the readable token payload tells nothing about the address."""
    created = contact.created_at.astimezone(UTC).strftime("%Y%m%d%H%M%S%f")
    value = f"{contact.pk}|{created}|{(contact.email or '').lower()}"
    return salted_hmac(FINGERPRINT_SALT, value, algorithm="sha256").hexdigest()[:24]


def _contact_token(contact: Contact, salt: str) -> str:
    payload = {"o": contact.organisation_id, "c": contact.pk, "f": _fingerprint(contact)}
    return signing.Signer(salt=salt).sign_object(payload)


def preference_token(contact: Contact) -> str:
    return _contact_token(contact, PREFERENCES_SALT)


def unsubscribe_token(contact: Contact) -> str:
    return _contact_token(contact, UNSUBSCRIBE_SALT)


def preference_link(contact: Contact) -> str:
    """Absolute path of the contact's preference centre, for every mail to them."""
    return reverse(
        "public_preferences",
        kwargs={"org": contact.organisation.slug, "token": preference_token(contact)},
    )


def unsubscribe_link(contact: Contact) -> str:
    """Absolute path of the RFC 8058 one-click unsubscribe (for List-Unsubscribe)."""
    return reverse(
        "public_unsubscribe_oneclick",
        kwargs={"org": contact.organisation.slug, "token": unsubscribe_token(contact)},
    )


def _invalid() -> LinkInvalid:
    return LinkInvalid("This link is not valid.")


def _contact_from_token(organisation: Organisation, token: str, salt: str) -> Contact:
    try:
        payload = signing.Signer(salt=salt).unsign_object(token)
    except (signing.BadSignature, ValueError, TypeError) as exc:
        raise _invalid() from exc
    if not isinstance(payload, dict) or payload.get("o") != organisation.pk:
        raise _invalid()
    contact_id = payload.get("c")
    if not isinstance(contact_id, int):
        raise _invalid()
    contact = Contact.objects.filter(
        organisation=organisation, pk=contact_id, erased_at__isnull=True
    ).first()
    if contact is None or not constant_time_compare(
        str(payload.get("f", "")), _fingerprint(contact)
    ):
        raise _invalid()
    return contact


def contact_from_preference_token(*, organisation: Organisation, token: str) -> Contact:
    """The contact a preference-centre link belongs to; LinkInvalid for anything else."""
    return _contact_from_token(organisation, token, PREFERENCES_SALT)


def contact_from_unsubscribe_token(*, organisation: Organisation, token: str) -> Contact:
    return _contact_from_token(organisation, token, UNSUBSCRIBE_SALT)


def _address_mark(email: str) -> str:
    return salted_hmac(ADDRESS_SALT, email.lower(), algorithm="sha256").hexdigest()[:24]


def confirmation_token(subscription: SubscriptionRequest) -> str:
    """Bound to the address the mail goes to: if staff change the contact's address before
    the link is opened, the link no longer grants consent for the new one."""
    payload = {
        "o": subscription.organisation_id,
        "r": subscription.pk,
        "n": subscription.nonce,
        "a": _address_mark(subscription.contact.email),
    }
    return signing.dumps(payload, salt=CONFIRM_SALT)


def confirmation_link(subscription: SubscriptionRequest) -> str:
    return reverse(
        "public_subscribe_confirm",
        kwargs={"org": subscription.organisation.slug, "token": confirmation_token(subscription)},
    )


def _confirmation_payload(organisation: Organisation, token: str) -> dict[str, Any]:
    try:
        payload = signing.loads(token, salt=CONFIRM_SALT, max_age=CONFIRM_MAX_AGE)
    except signing.SignatureExpired as exc:
        raise LinkExpired(
            "This confirmation link has expired: links are valid for seven days. "
            "Please subscribe again."
        ) from exc
    except (signing.BadSignature, ValueError, TypeError) as exc:
        raise _invalid() from exc
    if (
        not isinstance(payload, dict)
        or payload.get("o") != organisation.pk
        or not isinstance(payload.get("r"), int)
    ):
        raise _invalid()
    return payload


# --- double opt-in -------------------------------------------------------------------------


def _check_subscription_input(
    email: str, language: str, purposes: list[str]
) -> tuple[str, list[str]]:
    errors: dict[str, list[str]] = {}
    try:
        email = normalise_email(email)
    except ValidationFailed as exc:
        errors.update(exc.fields)
    else:
        if not email:
            errors["email"] = ["required"]
    unknown = sorted(set(purposes) - set(Purpose.values))
    if unknown:
        errors["purposes"] = [f"unknown purpose '{p}'" for p in unknown]
    elif not purposes:
        errors["purposes"] = ["choose at least one"]
    if language not in LANGUAGES:
        errors["language"] = ["'de' or 'en'"]
    if errors:
        summary = "; ".join(f"{k}: {', '.join(v)}" for k, v in errors.items())
        raise ValidationFailed(
            f"The subscription could not be recorded ({summary}).", fields=errors
        )
    return email, [p for p in Purpose.values if p in purposes]


def _find_or_create_contact(
    organisation: Organisation, email: str, first_name: str, language: str
) -> Contact:
    """The person with this address in this house; a new contact for an unknown address.

    Nothing of a known contact is changed: anyone can type any address into the form.
    """
    existing = (
        Contact.objects.filter(
            organisation=organisation, email__iexact=email, erased_at__isnull=True
        )
        .order_by("pk")
        .first()
    )
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            return contact_create(
                organisation=organisation,
                email=email,
                first_name=first_name[:100],
                language=language,
                source=SUBSCRIBE_SOURCE,
            )
    except Conflict:  # the same address was just submitted twice at once
        return Contact.objects.get(
            organisation=organisation, email__iexact=email, erased_at__isnull=True
        )


def subscription_create(
    *,
    organisation: Organisation,
    email: str,
    purposes: list[str],
    language: str,
    first_name: str = "",
    shown_in: str | None = None,
    link_base: str = "",
) -> SubscriptionRequest:
    """Record a pending double opt-in and mail the confirmation link; grants nothing.

    `shown_in` is the language the form was shown in: the stored wording is the text the
    person saw. `link_base` is the scheme and host that the link in the mail starts with.
    The mail is sent after the rows are committed; MailNotSent if the server refused it.
    """
    email, purposes = _check_subscription_input(email, language, purposes)
    first_name = (first_name or "").strip()
    wording = subscription_wording(
        organisation=organisation,
        purposes=purposes,
        language=shown_in or translation.get_language() or language,
    )
    with transaction.atomic():
        contact = _find_or_create_contact(organisation, email, first_name, language)
        subscription = SubscriptionRequest.objects.create(
            organisation=organisation,
            contact=contact,
            purposes=purposes,
            wording=wording,
            source=SUBSCRIBE_SOURCE,
            nonce=secrets.token_urlsafe(24),
        )
        audit_log(
            organisation,
            "audience.subscription.requested",
            obj=subscription,
            data={"contact_id": contact.pk, "purposes": purposes},
        )
    send_confirmation_mail(subscription=subscription, link_base=link_base)
    return subscription


def _sender(organisation: Organisation) -> str:
    _, address = parseaddr(settings.DEFAULT_FROM_EMAIL)
    return formataddr((organisation.name, address))


def send_confirmation_mail(*, subscription: SubscriptionRequest, link_base: str = "") -> None:
    """Mail the confirmation link to the contact, in the contact's language."""
    contact = subscription.contact
    organisation = subscription.organisation
    link = link_base.rstrip("/") + confirmation_link(subscription)
    with translation.override(contact.language):
        texts = purpose_texts()
        context = {
            "organisation": organisation,
            "first_name": contact.first_name,
            "purposes": [texts[p] for p in subscription.purposes if p in texts],
            "link": link,
            "days": CONFIRM_MAX_AGE.days,
        }
        subject = " ".join(
            render_to_string("audience/email/subscribe_confirm_subject.txt", context).split()
        )
        text = render_to_string("audience/email/subscribe_confirm.txt", context)
        html = render_to_string("audience/email/subscribe_confirm.html", context)
    message = EmailMultiAlternatives(
        subject,
        text,
        _sender(organisation),
        [contact.email],
        reply_to=[organisation.reply_to_email] if organisation.reply_to_email else None,
        headers={
            ORG_HEADER: organisation.slug,
            "Auto-Submitted": "auto-generated",
            # Lets a receiving system drop a duplicate of the same confirmation.
            "X-Publikum-Idempotency-Key": f"subscribe-confirm-{subscription.pk}",
        },
    )
    message.attach_alternative(html, "text/html")
    try:
        message.send()
    except (smtplib.SMTPException, OSError) as exc:
        logger.exception("confirmation mail for subscription %s not sent", subscription.pk)
        raise MailNotSent(
            "The confirmation mail could not be sent. Please try again in a few minutes."
        ) from exc


@dataclass(frozen=True)
class Confirmation:
    subscription: SubscriptionRequest
    already: bool


@transaction.atomic
def subscription_confirm(
    *, organisation: Organisation, token: str, at: datetime | None = None
) -> Confirmation:
    """Grant the consents of a subscription request: the mailed link was opened.

    A second opening grants nothing again (`already`); LinkExpired after seven days,
    LinkInvalid for a forged link, one of another house, of an erased person, or one sent
    to an address the contact no longer has.
    """
    payload = _confirmation_payload(organisation, token)
    subscription = (
        SubscriptionRequest.objects.select_for_update()
        .select_related("contact")
        .filter(organisation=organisation, pk=payload["r"])
        .first()
    )
    if (
        subscription is None
        or not constant_time_compare(subscription.nonce, str(payload.get("n", "")))
        or subscription.contact.erased_at is not None
        or not constant_time_compare(
            _address_mark(subscription.contact.email), str(payload.get("a", ""))
        )
    ):
        raise _invalid()
    if subscription.confirmed_at is not None:
        return Confirmation(subscription=subscription, already=True)
    at = at or timezone.now()
    contact = subscription.contact
    source = f"double opt-in {timezone.localdate(at).isoformat()}"
    for purpose in subscription.purposes:
        consent_set(
            contact=contact,
            channel=Channel.EMAIL,
            purpose=purpose,
            granted=True,
            source=source,
            wording=wording_for(subscription.wording, purpose),
            at=at,
        )
    subscription.confirmed_at = at
    subscription.save(update_fields=["confirmed_at", "updated_at"])
    interaction_record(
        contact=contact,
        kind=InteractionKind.SUBSCRIBED,
        occurred_at=at,
        summary=_purposes_summary(organisation, subscription.purposes, "double opt-in"),
        data={"purposes": list(subscription.purposes), "source": source},
    )
    audit_log(
        organisation,
        "audience.subscription.confirmed",
        obj=subscription,
        data={"contact_id": contact.pk, "purposes": list(subscription.purposes)},
    )
    from publikum.journeys import triggers as journey_triggers  # acts after commit

    journey_triggers.subscription_confirmed(subscription)
    return Confirmation(subscription=subscription, already=False)


def _purposes_summary(organisation: Organisation, purposes: list[str], how: str) -> str:
    # The timeline is read by staff: labels in the house's language.
    with translation.override(organisation.language):
        labels = [str(Purpose(p).label) for p in purposes if p in Purpose.values]
    return f"{', '.join(labels)} ({how})"


def _everything_summary(organisation: Organisation, via: str) -> str:
    with translation.override(organisation.language):
        return f"{gettext('All consents withdrawn')} ({via})"


# --- preference centre ---------------------------------------------------------------------


def granted_pairs(*, contact: Contact) -> set[tuple[str, str]]:
    return set(
        Consent.objects.filter(contact=contact, granted=True).values_list("channel", "purpose")
    )


def _check_preferences(
    wanted: dict[tuple[str, str], bool],
    max_mails_per_month: int,
    paused_until: date | None,
    granted: set[tuple[str, str]],
) -> None:
    errors: dict[str, list[str]] = {}
    for (channel, purpose), want in wanted.items():
        if channel not in Channel.values or purpose not in Purpose.values:
            errors[f"{channel}:{purpose}"] = ["unknown channel or purpose"]
        elif want and channel != Channel.EMAIL and (channel, purpose) not in granted:
            # The preference centre proves control of the mailbox, nothing else.
            errors[f"{channel}:{purpose}"] = ["only e-mail consent can be given here"]
    if not 0 <= max_mails_per_month <= MAX_MAILS_PER_MONTH:
        errors["max_mails_per_month"] = [f"between 0 and {MAX_MAILS_PER_MONTH}"]
    today = timezone.localdate()
    if paused_until is not None and paused_until < today:
        errors["paused_until"] = ["a date from today on"]
    elif paused_until is not None and paused_until > today + timedelta(days=MAX_PAUSE_DAYS):
        errors["paused_until"] = ["at most two years ahead"]
    if errors:
        summary = "; ".join(f"{k}: {', '.join(v)}" for k, v in errors.items())
        raise ValidationFailed(f"The preferences could not be saved ({summary}).", fields=errors)


@dataclass(frozen=True)
class PreferenceChanges:
    granted: list[str]
    withdrawn: list[str]
    fields: list[str]

    @property
    def any(self) -> bool:
        return bool(self.granted or self.withdrawn or self.fields)


@transaction.atomic
def preferences_update(
    *,
    contact: Contact,
    wanted: dict[tuple[str, str], bool],
    max_mails_per_month: int,
    paused_until: date | None,
    shown_in: str = "de",
    at: datetime | None = None,
) -> PreferenceChanges:
    """Apply what a person chose in the preference centre.

    `wanted` maps (channel, purpose) to the box's state; pairs not in it stay as they are.
    Only e-mail consent can be given here (the link proves the mailbox, not a postal
    address); any consent can be withdrawn.
    """
    if contact.erased_at is not None:
        raise Conflict("This contact was erased.")
    contact = Contact.objects.select_for_update().get(pk=contact.pk)
    granted = granted_pairs(contact=contact)
    _check_preferences(wanted, max_mails_per_month, paused_until, granted)
    at = at or timezone.now()
    source = f"preference centre {timezone.localdate(at).isoformat()}"
    with translation.override(shown_in if shown_in in LANGUAGES else contact.language):
        intro = consent_intro(contact.organisation)
        texts = purpose_texts()
    gained: list[str] = []
    lost: list[str] = []
    for (channel, purpose), want in sorted(wanted.items()):
        if want == ((channel, purpose) in granted):
            continue
        consent_set(
            contact=contact,
            channel=channel,
            purpose=purpose,
            granted=want,
            source=source,
            wording=f"{intro}\n{texts[purpose]}" if want else "",
            at=at,
        )
        (gained if want else lost).append(f"{channel}:{purpose}")
    fields: list[str] = []
    if contact.max_mails_per_month != max_mails_per_month:
        contact.max_mails_per_month = max_mails_per_month
        fields.append("max_mails_per_month")
    if contact.paused_until != paused_until:
        contact.paused_until = paused_until
        fields.append("paused_until")
    if fields:
        contact.save(update_fields=[*fields, "updated_at"])
    organisation = contact.organisation
    if gained:
        interaction_record(
            contact=contact,
            kind=InteractionKind.SUBSCRIBED,
            occurred_at=at,
            summary=_purposes_summary(
                organisation, [p.split(":")[1] for p in gained], "preference centre"
            ),
            data={"consents": gained, "source": source},
        )
    if lost:
        interaction_record(
            contact=contact,
            kind=InteractionKind.UNSUBSCRIBED,
            occurred_at=at,
            summary=_purposes_summary(
                organisation, [p.split(":")[1] for p in lost], "preference centre"
            ),
            data={"consents": lost, "source": source},
        )
    changes = PreferenceChanges(granted=gained, withdrawn=lost, fields=fields)
    if changes.any:
        audit_log(
            organisation,
            "audience.preferences.updated",
            obj=contact,
            data={"contact_id": contact.pk, "granted": gained, "withdrawn": lost, "fields": fields},
        )
    return changes


@transaction.atomic
def unsubscribe_everything(*, contact: Contact, via: str, at: datetime | None = None) -> int:
    """Withdraw every consent of every channel and purpose; returns how many were withdrawn.

    Safe to repeat (mail clients retry one-click requests): a second call withdraws nothing
    and leaves no second timeline entry.
    """
    if contact.erased_at is not None:
        raise Conflict("This contact was erased.")
    at = at or timezone.now()
    source = f"{via} {timezone.localdate(at).isoformat()}"
    pairs = sorted(granted_pairs(contact=contact))
    for channel, purpose in pairs:
        consent_set(
            contact=contact,
            channel=channel,
            purpose=purpose,
            granted=False,
            source=source,
            at=at,
        )
    if pairs:
        interaction_record(
            contact=contact,
            kind=InteractionKind.UNSUBSCRIBED,
            occurred_at=at,
            summary=_everything_summary(contact.organisation, via),
            data={"consents": [f"{c}:{p}" for c, p in pairs], "source": source},
        )
        audit_log(
            contact.organisation,
            "audience.contact.unsubscribed",
            obj=contact,
            data={"contact_id": contact.pk, "withdrawn": len(pairs), "via": via},
        )
    return len(pairs)
