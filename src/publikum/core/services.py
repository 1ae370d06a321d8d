"""Writes of the core: organisations, users, memberships, tokens, audit entries."""

from __future__ import annotations

import secrets
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone

from publikum.core.errors import Conflict, NotFound, ValidationFailed
from publikum.core.models import (
    RESERVED_SLUGS,
    ApiToken,
    AuditEntry,
    Membership,
    Organisation,
    Role,
    User,
    slug_validator,
)


def audit_log(
    organisation: Organisation | None,
    action: str,
    *,
    actor: User | None = None,
    token: ApiToken | None = None,
    label: str = "",
    obj: Any = None,
    data: dict[str, Any] | None = None,
) -> AuditEntry:
    """Record a state change. `data` must not contain personal data of contacts."""
    if not label:
        if actor is not None:
            label = actor.email
        elif token is not None:
            label = f"token {token.prefix}"
        else:
            label = "system"
    return AuditEntry.objects.create(
        organisation=organisation,
        action=action,
        actor_user=actor,
        actor_token=token,
        actor_label=label,
        object_type=obj._meta.label_lower if obj is not None else "",
        object_id=str(obj.pk) if obj is not None else "",
        data=data or {},
    )


def _check_slug(slug: str) -> None:
    try:
        slug_validator(slug)
    except ValidationError as exc:
        raise ValidationFailed(str(exc.messages[0]), fields={"slug": list(exc.messages)}) from exc
    if slug in RESERVED_SLUGS:
        raise ValidationFailed(
            f"'{slug}' is reserved; choose another slug.", fields={"slug": ["reserved"]}
        )


def _check_timezone(name: Any) -> None:
    # The model field is free text; an unknown zone would break every later ZoneInfo(...).
    try:
        ZoneInfo(str(name))
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise ValidationFailed(
            f"'{name}' is not a known time zone (e.g. 'Europe/Berlin').",
            fields={"timezone": ["unknown time zone"]},
        ) from exc


def organisation_create(
    *, slug: str, name: str, actor: User | None = None, label: str = "", **fields: Any
) -> Organisation:
    slug = slug.strip().lower()
    _check_slug(slug)
    name = name.strip()
    if not name:
        raise ValidationFailed("The organisation needs a name.", fields={"name": ["required"]})
    try:
        with transaction.atomic():
            org = Organisation.objects.create(slug=slug, name=name, **fields)
            audit_log(
                org,
                "core.organisation.created",
                actor=actor,
                label=label,
                obj=org,
                data={"slug": slug},
            )
    except IntegrityError as exc:
        raise Conflict(f"An organisation with the slug '{slug}' exists already.") from exc
    return org


ORGANISATION_EDITABLE = (
    "name",
    "kind",
    "language",
    "timezone",
    "city",
    "website",
    "region",
    "description_de",
    "description_en",
    "reply_to_email",
)


@transaction.atomic
def organisation_update(
    *,
    organisation: Organisation,
    actor: User | None = None,
    token: ApiToken | None = None,
    **changes: Any,
) -> Organisation:
    unknown = set(changes) - set(ORGANISATION_EDITABLE)
    if unknown:
        raise ValidationFailed("Unknown fields.", fields={f: ["unknown field"] for f in unknown})
    if "timezone" in changes:
        _check_timezone(changes["timezone"])
    for field, value in changes.items():
        setattr(organisation, field, value)
    try:
        organisation.full_clean()
    except ValidationError as exc:
        raise ValidationFailed(
            "The organisation could not be saved.", fields=exc.message_dict
        ) from exc
    organisation.save()
    audit_log(
        organisation,
        "core.organisation.updated",
        actor=actor,
        token=token,
        obj=organisation,
        data={"fields": sorted(changes)},
    )
    return organisation


def user_create(
    *,
    email: str,
    password: str | None,
    name: str = "",
    language: str = "de",
    is_superuser: bool = False,
) -> User:
    email = email.strip().lower()
    try:
        validate_email(email)
    except ValidationError as exc:
        raise ValidationFailed(
            f"'{email}' is not a valid e-mail address.", fields={"email": ["invalid"]}
        ) from exc
    if User.objects.filter(email=email).exists():
        raise Conflict(f"A user with the e-mail address {email} exists already.")
    if password is not None:
        from django.contrib.auth.password_validation import validate_password

        try:
            validate_password(password, User(email=email, name=name))
        except ValidationError as exc:
            raise ValidationFailed(
                " ".join(exc.messages), fields={"password": exc.messages}
            ) from exc
    if password is None:
        # Unknown to anyone: the user chooses a password through a reset link. (An unusable
        # password would make Django's reset form ignore the account.)
        password = secrets.token_urlsafe(32)
    if is_superuser:
        return User.objects.create_superuser(email, password, name=name, language=language)
    return User.objects.create_user(email, password, name=name, language=language)


def _check_role(role: str) -> None:
    if role not in Role.values:
        raise ValidationFailed(
            f"Unknown role '{role}'. Choose one of: {', '.join(Role.values)}.",
            fields={"role": ["unknown"]},
        )


@transaction.atomic
def membership_set(
    *, organisation: Organisation, user: User, role: str, actor: User | None = None, label: str = ""
) -> Membership:
    """Give `user` the `role` in `organisation`, creating the membership if needed."""
    _check_role(role)
    membership, created = Membership.objects.select_for_update().get_or_create(
        organisation=organisation, user=user, defaults={"role": role}
    )
    if not created and membership.role != role:
        if membership.role == Role.OWNER and role != Role.OWNER:
            _ensure_another_owner(organisation, membership)
        membership.role = role
        membership.save(update_fields=["role", "updated_at"])
    audit_log(
        organisation,
        "core.membership.set",
        actor=actor,
        label=label,
        obj=membership,
        data={"user_id": user.pk, "role": role, "created": created},
    )
    return membership


def _ensure_another_owner(organisation: Organisation, membership: Membership) -> None:
    others = Membership.objects.filter(organisation=organisation, role=Role.OWNER).exclude(
        pk=membership.pk
    )
    if not others.exists():
        raise Conflict("An organisation keeps at least one owner.")


@transaction.atomic
def membership_remove(*, membership: Membership, actor: User | None = None) -> None:
    if membership.role == Role.OWNER:
        _ensure_another_owner(membership.organisation, membership)
    audit_log(
        membership.organisation,
        "core.membership.removed",
        actor=actor,
        obj=membership,
        data={"user_id": membership.user_id},
    )
    membership.delete()


@transaction.atomic
def token_create(
    *,
    organisation: Organisation,
    name: str,
    role: str = Role.VIEWER,
    actor: User | None = None,
    label: str = "",
) -> tuple[ApiToken, str]:
    """Create an API token; returns the token row and its plain text (shown only once)."""
    _check_role(role)
    name = name.strip() or "API token"
    plain, prefix, key_hash = ApiToken.generate()
    token = ApiToken.objects.create(
        organisation=organisation,
        name=name[:100],
        role=role,
        prefix=prefix,
        key_hash=key_hash,
        created_by=actor,
    )
    audit_log(
        organisation,
        "core.token.created",
        actor=actor,
        label=label,
        obj=token,
        data={"name": token.name, "role": role, "prefix": prefix},
    )
    return token, plain


@transaction.atomic
def token_revoke(*, token: ApiToken, actor: User | None = None) -> ApiToken:
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at", "updated_at"])
        audit_log(
            token.organisation,
            "core.token.revoked",
            actor=actor,
            obj=token,
            data={"prefix": token.prefix},
        )
    return token


def token_authenticate(plain: str) -> ApiToken | None:
    """The active token for this plain text, or None. Updates `last_used_at` at most per minute."""
    if not plain.startswith("pk_") or len(plain) > 100:
        return None
    token = (
        ApiToken.objects.select_related("organisation")
        .filter(key_hash=ApiToken.hash(plain), revoked_at__isnull=True)
        .first()
    )
    if token is None:
        return None
    now = timezone.now()
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token


def organisation_by_slug(slug: str) -> Organisation:
    try:
        return Organisation.objects.get(slug=slug)
    except Organisation.DoesNotExist as exc:
        raise NotFound(f"There is no organisation '{slug}'.") from exc
