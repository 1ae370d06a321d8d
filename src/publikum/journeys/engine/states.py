"""Switching a journey on, pausing, resuming and archiving it."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from publikum.core.errors import Conflict, ValidationFailed
from publikum.core.models import User
from publikum.core.services import audit_log
from publikum.journeys.engine.definition import public_config
from publikum.journeys.engine.runner import schedule_advance
from publikum.journeys.engine.validation import Problem, journey_validate
from publikum.journeys.models import (
    Journey,
    JourneyRun,
    JourneyStatus,
    RunStatus,
)


def _locked(journey: Journey) -> Journey:
    return Journey.objects.select_for_update().get(
        pk=journey.pk, organisation_id=journey.organisation_id
    )


def _refuse(problems: list[Problem]) -> ValidationFailed:
    texts = [str(p) for p in problems]
    more = len(texts) - 1
    summary = texts[0] + (
        " " + ngettext("(and %(n)d more problem)", "(and %(n)d more problems)", more) % {"n": more}
        if more > 0
        else ""
    )
    return ValidationFailed(
        _("The journey cannot be switched on: %(problems)s") % {"problems": summary},
        fields={"definition": texts},
    )


def _sync(journey: Journey, locked: Journey) -> Journey:
    journey.status = locked.status
    journey.activated_at = locked.activated_at
    journey.trigger_config = locked.trigger_config
    return locked


@transaction.atomic
def journey_activate(
    *, journey: Journey, actor: User | None = None, now: datetime | None = None
) -> Journey:
    """Switch a draft journey on after validating it; ValidationFailed lists the problems.

    Contacts enter from now on: scans start from this moment (their cursors are reset).
    """
    locked = _locked(journey)
    if locked.status == JourneyStatus.ACTIVE:
        return _sync(journey, locked)
    if locked.status == JourneyStatus.ARCHIVED:
        raise Conflict(_("An archived journey cannot be switched on again; copy it instead."))
    if locked.status == JourneyStatus.PAUSED:
        raise Conflict(_("This journey is paused: resume it instead."))
    problems = journey_validate(locked)
    if problems:
        raise _refuse(problems)
    locked.status = JourneyStatus.ACTIVE
    locked.activated_at = now or timezone.now()
    locked.trigger_config = public_config(locked)
    locked.save(update_fields=["status", "activated_at", "trigger_config", "updated_at"])
    audit_log(locked.organisation, "journeys.journey.activated", actor=actor, obj=locked)
    return _sync(journey, locked)


@transaction.atomic
def journey_pause(*, journey: Journey, actor: User | None = None) -> Journey:
    """Stop moving runs on and letting contacts in; waiting runs keep their place."""
    locked = _locked(journey)
    if locked.status != JourneyStatus.ACTIVE:
        raise Conflict(_("Only a journey that is on can be paused."))
    locked.status = JourneyStatus.PAUSED
    locked.save(update_fields=["status", "updated_at"])
    audit_log(locked.organisation, "journeys.journey.paused", actor=actor, obj=locked)
    return _sync(journey, locked)


@transaction.atomic
def journey_resume(*, journey: Journey, actor: User | None = None) -> Journey:
    """Switch a paused journey on again (validated again: it may have been edited). Runs
    that fell due during the pause move on at the next pass."""
    locked = _locked(journey)
    if locked.status != JourneyStatus.PAUSED:
        raise Conflict(_("Only a paused journey can be resumed."))
    problems = journey_validate(locked)
    if problems:
        raise _refuse(problems)
    locked.status = JourneyStatus.ACTIVE
    locked.save(update_fields=["status", "updated_at"])
    audit_log(locked.organisation, "journeys.journey.resumed", actor=actor, obj=locked)
    schedule_advance(None)
    return _sync(journey, locked)


@transaction.atomic
def journey_archive(
    *, journey: Journey, actor: User | None = None, now: datetime | None = None
) -> Journey:
    """Retire a journey for good: nobody enters any more, waiting runs leave it."""
    locked = _locked(journey)
    if locked.status == JourneyStatus.ARCHIVED:
        return _sync(journey, locked)
    now = now or timezone.now()
    locked.status = JourneyStatus.ARCHIVED
    locked.save(update_fields=["status", "updated_at"])
    exited = JourneyRun.objects.filter(journey=locked, status=RunStatus.WAITING).update(
        status=RunStatus.EXITED, finished_at=now, due_at=None
    )
    audit_log(
        locked.organisation,
        "journeys.journey.archived",
        actor=actor,
        obj=locked,
        data={"runs_exited": exited},
    )
    return _sync(journey, locked)
