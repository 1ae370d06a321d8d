"""Reads of the core, scoped to an organisation."""

from __future__ import annotations

from django.db.models import QuerySet

from publikum.core.models import (
    ApiToken,
    AuditEntry,
    FailedJob,
    Membership,
    Organisation,
    ReceivedMail,
    User,
)


def membership_for(*, user: User, organisation_slug: str) -> Membership | None:
    if not user.is_authenticated:
        return None
    return (
        Membership.objects.select_related("organisation")
        .filter(user=user, organisation__slug=organisation_slug)
        .first()
    )


def memberships_of(*, user: User) -> QuerySet[Membership]:
    return (
        Membership.objects.select_related("organisation")
        .filter(user=user)
        .order_by("organisation__name")
    )


def member_list(*, organisation: Organisation) -> QuerySet[Membership]:
    return (
        Membership.objects.select_related("user")
        .filter(organisation=organisation)
        .order_by("user__email")
    )


def token_list(*, organisation: Organisation) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(organisation=organisation).order_by("-created_at")


def audit_list(*, organisation: Organisation) -> QuerySet[AuditEntry]:
    return AuditEntry.objects.filter(organisation=organisation).select_related("actor_user")


def failed_job_list(*, organisation: Organisation) -> QuerySet[FailedJob]:
    return FailedJob.objects.filter(organisation=organisation, resolved_at__isnull=True)


def outbox_list(*, organisation: Organisation) -> QuerySet[ReceivedMail]:
    return ReceivedMail.objects.filter(organisation=organisation)
