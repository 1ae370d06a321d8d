"""Personal-data rights and retention: export one person, erase one person, delete the stale.

Erasure keeps the contact row and its timeline for aggregate figures (visits per month,
lifecycle movement) but nothing that identifies the person. Other modules that keep
personal data about a contact add themselves with `register_personal_data`, so that export
and erasure reach every table. See docs/personal-data.md.
"""

from __future__ import annotations

import calendar
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Exists, OuterRef, ProtectedError, QuerySet
from django.utils import timezone

from publikum.audience import activity
from publikum.audience.models import (
    AudienceSettings,
    Consent,
    Contact,
    EmailStatus,
    Interaction,
    LifecycleChange,
    SubscriptionRequest,
)
from publikum.core.errors import Conflict, ValidationFailed
from publikum.core.models import ApiToken, Organisation, ReceivedMail, User
from publikum.core.services import audit_log

logger = logging.getLogger("publikum.audience.privacy")

EXPORT_FORMAT = "publikum.contact-export/1"
MAX_RETENTION_MONTHS = 240
RETENTION_BATCH = 500


# --- other modules' personal data ----------------------------------------------------------


@dataclass(frozen=True)
class PersonalDataHandler:
    """How one module exports and erases what it keeps about a contact."""

    name: str
    export: Callable[[Contact], Any]
    erase: Callable[[Contact], None]


_HANDLERS: dict[str, PersonalDataHandler] = {}


def register_personal_data(
    name: str, *, export: Callable[[Contact], Any], erase: Callable[[Contact], None]
) -> None:
    """Call in AppConfig.ready(): `export` returns JSON-serialisable data about the contact,
    `erase` removes it (it runs inside the erasure's transaction, before the contact's own
    fields are cleared)."""
    _HANDLERS[name] = PersonalDataHandler(name=name, export=export, erase=erase)


# --- export --------------------------------------------------------------------------------


def _json(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def _profile(contact: Contact) -> dict[str, Any]:
    fields = (
        "id",
        "kind",
        "first_name",
        "last_name",
        "organisation_name",
        "email",
        "phone",
        "language",
        "postcode",
        "birthday",
        "notes",
        "email_status",
        "max_mails_per_month",
        "paused_until",
        "lifecycle_stage",
        "stage_changed_at",
        "first_visit_at",
        "last_visit_at",
        "visits_12m",
        "bookings_12m",
        "spend_12m",
        "rfm_recency",
        "rfm_frequency",
        "rfm_monetary",
        "created_at",
        "updated_at",
        "erased_at",
    )
    return {name: _json(getattr(contact, name)) for name in fields}


def _timeline(contact: Contact) -> list[dict[str, Any]]:
    rows = (
        Interaction.objects.filter(contact=contact)
        .select_related("item")
        .order_by("occurred_at", "id")
    )
    return [
        {
            "kind": i.kind,
            "occurred_at": _json(i.occurred_at),
            "item": (
                {"id": i.item.pk, "title_de": i.item.title_de, "title_en": i.item.title_en}
                if i.item is not None
                else None
            ),
            "occurrence_id": i.occurrence_id,
            "quantity": i.quantity,
            "amount_eur": _json(i.amount_eur),
            "summary": i.summary,
            "data": i.data,
        }
        for i in rows.iterator(chunk_size=2000)
    ]


def contact_export(
    *, contact: Contact, actor: User | None = None, token: ApiToken | None = None
) -> dict[str, Any]:
    """Everything kept about one person, as JSON-serialisable data (GDPR art. 15 and 20).

    Leaves an audit entry "audience.contact.exported" with the contact id only.
    """
    organisation = contact.organisation
    consents = Consent.objects.filter(contact=contact).order_by("channel", "purpose")
    requests = SubscriptionRequest.objects.filter(contact=contact).order_by("created_at", "id")
    changes = LifecycleChange.objects.filter(contact=contact).order_by("changed_at", "id")
    data = {
        "format": EXPORT_FORMAT,
        "exported_at": timezone.now().isoformat(),
        "organisation": {"slug": organisation.slug, "name": organisation.name},
        "profile": _profile(contact),
        "interests": [
            {"slug": t.slug, "name_de": t.name_de, "name_en": t.name_en}
            for t in contact.interests.order_by("slug")
        ],
        "tags": list(contact.tags or []),
        "consents": [
            {
                "channel": c.channel,
                "purpose": c.purpose,
                "granted": c.granted,
                "source": c.source,
                "wording": c.wording,
                "granted_at": _json(c.granted_at),
                "withdrawn_at": _json(c.withdrawn_at),
                "recorded_at": _json(c.created_at),
                "changed_at": _json(c.updated_at),
            }
            for c in consents
        ],
        "timeline": _timeline(contact),
        "subscription_requests": [
            {
                "purposes": list(r.purposes),
                "wording": r.wording,
                "source": r.source,
                "requested_at": _json(r.created_at),
                "confirmed_at": _json(r.confirmed_at),
            }
            for r in requests
        ],
        "lifecycle_history": [
            {"from_stage": c.from_stage, "to_stage": c.to_stage, "changed_at": _json(c.changed_at)}
            for c in changes
        ],
        "other_modules": {name: h.export(contact) for name, h in sorted(_HANDLERS.items())},
    }
    audit_log(
        organisation,
        "audience.contact.exported",
        actor=actor,
        token=token,
        obj=contact,
        data={"contact_id": contact.pk},
    )
    return data


# --- erasure -------------------------------------------------------------------------------

ERASED_BLANKS: dict[str, Any] = {
    "first_name": "",
    "last_name": "",
    "organisation_name": "",
    "email": "",
    "phone": "",
    "postcode": "",
    "birthday": None,
    "notes": "",
    "tags": [],
    "email_status": EmailStatus.OK,
    "max_mails_per_month": 0,
    "paused_until": None,
}


def _erase_outbox(organisation: Organisation, email: str) -> int:
    """Mails to the person caught by the local sink (demo, development) hold the address."""
    candidates = ReceivedMail.objects.filter(
        organisation=organisation, recipients__icontains=email
    ).only("id", "recipients")
    ids = [m.pk for m in candidates if email in {str(r).lower() for r in (m.recipients or [])}]
    ReceivedMail.objects.filter(pk__in=ids).delete()
    return len(ids)


@transaction.atomic
def contact_erase(
    *,
    contact: Contact,
    actor: User | None = None,
    token: ApiToken | None = None,
    at: datetime | None = None,
) -> Contact:
    """Remove every piece of personal data of one person (GDPR art. 17); keep aggregates.

    Cleared: names, e-mail, phone, postcode, birthday, notes, tags, interests, preferences;
    deleted: consents, subscription requests, mails to the address in the outbox, the
    themes attended and the search entry; kept:
    the row with its lifecycle figures and the timeline with summary and data emptied.
    The signed links of the person stop working (their fingerprint includes the address).
    """
    contact = Contact.objects.select_for_update().get(pk=contact.pk)
    if contact.erased_at is not None:
        raise Conflict("This contact was erased already.")
    organisation = contact.organisation
    email = (contact.email or "").lower()
    for handler in _HANDLERS.values():
        handler.erase(contact)
    Consent.objects.filter(contact=contact).delete()
    SubscriptionRequest.objects.filter(contact=contact).delete()
    Interaction.objects.filter(contact=contact).update(summary="", data={})
    # Which themes the person attended, read by segments; the search entry goes with the
    # names (the database triggers remove it once `erased_at` is set).
    activity.erase_theme_activity(contact=contact)
    if email:
        _erase_outbox(organisation, email)
    contact.interests.clear()
    for name, value in ERASED_BLANKS.items():
        setattr(contact, name, value)
    contact.erased_at = at or timezone.now()
    contact.save()
    audit_log(
        organisation,
        "audience.contact.erased",
        actor=actor,
        token=token,
        obj=contact,
        data={"contact_id": contact.pk},
    )
    return contact


# --- retention -----------------------------------------------------------------------------


def months_before(moment: datetime, months: int) -> datetime:
    """The same moment `months` calendar months earlier (31 March - 1 month = 28/29 Feb)."""
    total = moment.year * 12 + moment.month - 1 - months
    year, month0 = divmod(total, 12)
    day = min(moment.day, calendar.monthrange(year, month0 + 1)[1])
    return moment.replace(year=year, month=month0 + 1, day=day)


def retention_months_of(*, organisation: Organisation) -> int:
    value = (
        AudienceSettings.objects.filter(organisation=organisation)
        .values_list("retention_months", flat=True)
        .first()
    )
    return int(value or 0)


def retention_candidates(
    *, organisation: Organisation, months: int, now: datetime | None = None
) -> QuerySet[Contact]:
    """Contacts the rule would delete, as one SQL query.

    Without a granted consent (any channel), without an interaction and without a
    subscription request in the last `months` months, and created before that. Erased
    contacts stay: they hold no personal data, only aggregates.
    """
    if months <= 0:
        return Contact.objects.none()
    cutoff = months_before(now or timezone.now(), months)
    granted = Consent.objects.filter(contact=OuterRef("pk"), granted=True)
    recent = Interaction.objects.filter(contact=OuterRef("pk"), occurred_at__gte=cutoff)
    asked = SubscriptionRequest.objects.filter(contact=OuterRef("pk"), created_at__gte=cutoff)
    return (
        Contact.objects.filter(
            organisation=organisation, erased_at__isnull=True, created_at__lt=cutoff
        )
        .exclude(Exists(granted))
        .exclude(Exists(recent))
        .exclude(Exists(asked))
    )


def retention_dry_run(
    *, organisation: Organisation, months: int | None = None, now: datetime | None = None
) -> int:
    """How many contacts the rule (the saved one, or `months`) would delete now."""
    if months is None:
        months = retention_months_of(organisation=organisation)
    return retention_candidates(organisation=organisation, months=months, now=now).count()


def retention_set(
    *,
    organisation: Organisation,
    months: int,
    actor: User | None = None,
    token: ApiToken | None = None,
) -> AudienceSettings:
    if not 0 <= months <= MAX_RETENTION_MONTHS:
        raise ValidationFailed(
            f"Retention takes 0 (off) to {MAX_RETENTION_MONTHS} months.",
            fields={"retention_months": [f"between 0 and {MAX_RETENTION_MONTHS}"]},
        )
    with transaction.atomic():
        settings_row, _ = AudienceSettings.objects.select_for_update().get_or_create(
            organisation=organisation
        )
        previous = settings_row.retention_months
        if previous != months:
            settings_row.retention_months = months
            settings_row.save(update_fields=["retention_months"])
            audit_log(
                organisation,
                "audience.retention.changed",
                actor=actor,
                token=token,
                obj=settings_row,
                data={"from_months": previous, "to_months": months},
            )
    return settings_row


def retention_apply(
    *,
    organisation: Organisation,
    actor: User | None = None,
    token: ApiToken | None = None,
    now: datetime | None = None,
    batch_size: int = RETENTION_BATCH,
) -> int:
    """Delete the contacts the saved rule names; returns how many went.

    Works in batches, each in its own transaction, so memory stays bounded and a large
    house does not hold a long write lock. Contacts that another module protects from
    deletion are skipped. Safe to run twice: a second run finds nothing left.
    """
    months = retention_months_of(organisation=organisation)
    if months <= 0:
        return 0
    now = now or timezone.now()
    candidates = retention_candidates(organisation=organisation, months=months, now=now)
    deleted = 0
    skipped: set[int] = set()
    while True:
        ids = list(candidates.exclude(pk__in=skipped).values_list("pk", flat=True)[:batch_size])
        if not ids:
            break
        with transaction.atomic():
            try:
                # Filtering through the candidates again: a consent granted meanwhile wins.
                _, per_model = candidates.filter(pk__in=ids).delete()
                deleted += per_model.get(Contact._meta.label, 0)
            except ProtectedError:
                for pk in ids:
                    try:
                        with transaction.atomic():
                            _, per_model = candidates.filter(pk=pk).delete()
                            deleted += per_model.get(Contact._meta.label, 0)
                    except ProtectedError:
                        skipped.add(pk)
        # Rows that stopped matching are not returned again by the next query.
    if deleted or actor is not None or token is not None:
        audit_log(
            organisation,
            "audience.retention.applied",
            actor=actor,
            token=token,
            data={"months": months, "deleted": deleted, "skipped": len(skipped)},
        )
    if skipped:
        logger.warning(
            "retention of %s skipped %d protected contacts", organisation.slug, len(skipped)
        )
    return deleted
