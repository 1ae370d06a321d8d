"""Writes of the audience: contacts, the timeline (one service for all modules), consent."""

from __future__ import annotations

import contextlib
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from publikum.audience import activity
from publikum.audience.models import (
    Channel,
    Consent,
    Contact,
    ContactKind,
    Interaction,
    InteractionKind,
    Purpose,
)
from publikum.core.errors import Conflict, ValidationFailed
from publikum.core.models import ApiToken, Organisation, User
from publikum.core.services import audit_log
from publikum.programme.models import Occurrence, ProgrammeItem, Theme

CONTACT_FIELDS = (
    "kind",
    "first_name",
    "last_name",
    "organisation_name",
    "email",
    "phone",
    "language",
    "postcode",
    "birthday",
    "tags",
    "notes",
)
MAX_TAGS = 50


def normalise_email(value: str) -> str:
    value = (value or "").strip()
    if not value:
        return ""
    try:
        validate_email(value)
    except ValidationError as exc:
        raise ValidationFailed(
            f"'{value}' is not a valid e-mail address.", fields={"email": ["invalid e-mail"]}
        ) from exc
    local, _, domain = value.rpartition("@")
    return f"{local}@{domain.lower()}"


class _FieldError(Exception):
    pass


def _clean_kind(value: Any) -> str:
    if value not in ContactKind.values:
        raise _FieldError(f"one of {', '.join(ContactKind.values)}")
    return str(value)


def _clean_language(value: Any) -> str:
    if value not in ("de", "en"):
        raise _FieldError("'de' or 'en'")
    return str(value)


def _clean_birthday(value: Any) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError as exc:
        raise _FieldError("a date as YYYY-MM-DD") from exc


def _clean_tags(value: Any) -> list[str]:
    tags = sorted({str(t).strip()[:50] for t in (value or []) if str(t).strip()})
    if len(tags) > MAX_TAGS:
        raise _FieldError(f"at most {MAX_TAGS} tags")
    return tags


def _clean_email(value: Any) -> str:
    try:
        return normalise_email(value or "")
    except ValidationFailed as exc:
        raise _FieldError("invalid e-mail") from exc


def _clean_text(value: Any) -> Any:
    return (value or "").strip() if isinstance(value, str) or value is None else value


_CLEANERS: dict[str, Any] = {
    "email": _clean_email,
    "kind": _clean_kind,
    "language": _clean_language,
    "birthday": _clean_birthday,
    "tags": _clean_tags,
}
_LENGTH_LIMITS = {
    "first_name": 100,
    "last_name": 100,
    "organisation_name": 200,
    "phone": 40,
    "postcode": 10,
}


def _clean_contact_fields(organisation: Organisation, data: dict[str, Any]) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    cleaned: dict[str, Any] = {}
    for name, value in data.items():
        if name == "interests":
            continue
        if name not in CONTACT_FIELDS:
            errors[name] = ["unknown field"]
            continue
        try:
            cleaned[name] = _CLEANERS.get(name, _clean_text)(value)
        except _FieldError as exc:
            errors[name] = [str(exc)]
            continue
        limit = _LENGTH_LIMITS.get(name)
        if limit is not None and len(cleaned[name] or "") > limit:
            errors[name] = [f"at most {limit} characters"]
    if errors:
        summary = "; ".join(f"{k}: {', '.join(v)}" for k, v in errors.items())
        raise ValidationFailed(f"The contact could not be saved ({summary}).", fields=errors)
    return cleaned


def _resolve_interests(organisation: Organisation, slugs: list[str]) -> list[Theme]:
    themes = list(Theme.objects.filter(organisation=organisation, slug__in=slugs))
    missing = sorted(set(slugs) - {t.slug for t in themes})
    if missing:
        raise ValidationFailed(
            f"Unknown interests: {', '.join(missing)}.",
            fields={"interests": [f"unknown theme '{m}'" for m in missing]},
        )
    return themes


def _check_email_free(
    organisation: Organisation, email: str, exclude_pk: int | None = None
) -> None:
    if not email:
        return
    clash = Contact.objects.filter(
        organisation=organisation, email__iexact=email, erased_at__isnull=True
    )
    if exclude_pk is not None:
        clash = clash.exclude(pk=exclude_pk)
    existing = clash.values_list("pk", flat=True).first()
    if existing is not None:
        raise Conflict(
            f"A contact with this e-mail address exists already (id {existing}).",
            fields={"email": [f"already used by contact {existing}"]},
        )


@transaction.atomic
def contact_create(
    *,
    organisation: Organisation,
    actor: User | None = None,
    token: ApiToken | None = None,
    source: str = "staff",
    **data: Any,
) -> Contact:
    interests = data.pop("interests", None)
    cleaned = _clean_contact_fields(organisation, data)
    if not any(
        cleaned.get(f) for f in ("email", "first_name", "last_name", "organisation_name", "phone")
    ):
        raise ValidationFailed(
            "A contact needs at least a name, an e-mail address or a phone number.",
            fields={"email": ["required without a name"]},
        )
    _check_email_free(organisation, cleaned.get("email", ""))
    contact = Contact.objects.create(organisation=organisation, **cleaned)
    if interests:
        contact.interests.set(_resolve_interests(organisation, interests))
    audit_log(
        organisation,
        "audience.contact.created",
        actor=actor,
        token=token,
        obj=contact,
        data={"source": source},
    )
    return contact


@transaction.atomic
def contact_update(
    *, contact: Contact, actor: User | None = None, token: ApiToken | None = None, **data: Any
) -> Contact:
    if contact.erased_at is not None:
        raise Conflict("This contact was erased and cannot be changed.")
    interests = data.pop("interests", None)
    cleaned = _clean_contact_fields(contact.organisation, data)
    if "email" in cleaned:
        _check_email_free(contact.organisation, cleaned["email"], exclude_pk=contact.pk)
    tags_before = list(contact.tags or [])
    for name, value in cleaned.items():
        setattr(contact, name, value)
    # Only the fields given: the figures on the row (visits_12m, ...) are counted up by
    # other transactions meanwhile and must not be written back as they were read.
    contact.save(update_fields=[*cleaned, "updated_at"])
    if interests is not None:
        contact.interests.set(_resolve_interests(contact.organisation, interests))
    if "tags" in cleaned:
        from publikum.journeys import triggers as journey_triggers  # acts after commit

        journey_triggers.tags_changed(contact, before=tags_before)
    audit_log(
        contact.organisation,
        "audience.contact.updated",
        actor=actor,
        token=token,
        obj=contact,
        data={"fields": sorted([*cleaned, *(["interests"] if interests is not None else [])])},
    )
    return contact


@transaction.atomic
def contact_delete(
    *, contact: Contact, actor: User | None = None, token: ApiToken | None = None
) -> None:
    """Delete a contact with its timeline and consents (erasure keeps aggregates instead)."""
    organisation = contact.organisation
    contact_id = contact.pk
    contact.delete()
    audit_log(
        organisation,
        "audience.contact.deleted",
        actor=actor,
        token=token,
        data={"contact_id": contact_id},
    )


def interaction_record(
    *,
    contact: Contact,
    kind: str,
    occurred_at: datetime | None = None,
    item: ProgrammeItem | None = None,
    occurrence: Occurrence | None = None,
    quantity: int = 1,
    amount_eur: Decimal | int = 0,
    summary: str = "",
    data: dict[str, Any] | None = None,
) -> Interaction:
    """Write one entry into a contact's timeline. Every module goes through this service.

    A visit or booking counts at once in the figures segments read (`visits_12m`,
    `bookings_12m`, the themes attended; see `audience.activity`).
    """
    if kind not in InteractionKind.values:
        raise ValidationFailed(f"Unknown interaction kind '{kind}'.", fields={"kind": ["unknown"]})
    if occurrence is not None and item is None:
        item = occurrence.item
    # Inside the caller's transaction the entry and its counting simply join it (no
    # savepoint: a mail sent is one short transaction per mail, where every statement
    # counts); on its own, the two writes are one transaction.
    joined = transaction.get_connection().in_atomic_block
    with contextlib.nullcontext() if joined else transaction.atomic():
        return _interaction_write(
            contact, kind, occurred_at, item, occurrence, quantity, amount_eur, summary, data
        )


def _interaction_write(  # noqa: PLR0917
    contact: Contact,
    kind: str,
    occurred_at: datetime | None,
    item: ProgrammeItem | None,
    occurrence: Occurrence | None,
    quantity: int,
    amount_eur: Decimal | int,
    summary: str,
    data: dict[str, Any] | None,
) -> Interaction:
    interaction = Interaction.objects.create(
        organisation_id=contact.organisation_id,
        contact=contact,
        kind=kind,
        occurred_at=occurred_at or timezone.now(),
        item=item,
        occurrence=occurrence,
        quantity=quantity,
        amount_eur=Decimal(amount_eur),
        summary=summary[:300],
        data=data or {},
    )
    if contact.erased_at is None:
        activity.count_entries(
            [
                activity.Entry(
                    organisation_id=contact.organisation_id,
                    contact_id=contact.pk,
                    kind=kind,
                    occurred_at=interaction.occurred_at,
                    item_id=interaction.item_id,
                )
            ]
        )
    return interaction


def check_channel_purpose(channel: str, purpose: str) -> None:
    errors: dict[str, list[str]] = {}
    if channel not in Channel.values:
        errors["channel"] = [f"unknown channel '{channel}'; one of {', '.join(Channel.values)}"]
    if purpose not in Purpose.values:
        errors["purpose"] = [f"unknown purpose '{purpose}'; one of {', '.join(Purpose.values)}"]
    if errors:
        raise ValidationFailed(
            "; ".join(m for ms in errors.values() for m in ms).capitalize() + ".", fields=errors
        )


@transaction.atomic
def consent_set(
    *,
    contact: Contact,
    channel: str,
    purpose: str,
    granted: bool,
    source: str,
    wording: str = "",
    at: datetime | None = None,
    actor: User | None = None,
    token: ApiToken | None = None,
) -> Consent:
    """Record a grant or withdrawal of consent. A grant needs its source."""
    check_channel_purpose(channel, purpose)
    source = (source or "").strip()
    if granted and not source:
        raise ValidationFailed(
            "Consent needs its source (where and how it was given).",
            fields={"source": ["required"]},
        )
    at = at or timezone.now()
    consent, _ = Consent.objects.select_for_update().get_or_create(
        contact=contact,
        channel=channel,
        purpose=purpose,
        defaults={"organisation_id": contact.organisation_id, "source": source[:200]},
    )
    consent.granted = granted
    if granted:
        # The row keeps where the grant came from; a withdrawal's source is in the audit log.
        consent.source = source[:200]
        consent.wording = wording or consent.wording
        consent.granted_at = at
        consent.withdrawn_at = None
    else:
        consent.withdrawn_at = at
    consent.save()
    audit_log(
        contact.organisation,
        "audience.consent.granted" if granted else "audience.consent.withdrawn",
        actor=actor,
        token=token,
        obj=consent,
        data={
            "contact_id": contact.pk,
            "channel": channel,
            "purpose": purpose,
            "source": source[:200],
        },
    )
    return consent
