"""The editor's writes: settings, the JSON page, adding, changing and deleting steps. Each
locks the journey's row, applies the edit to the definition as it is now (an edit made
meanwhile in another tab is not lost), keeps the engine's keys of trigger_config, and
refuses a change that would add a problem to a journey that is on."""

from __future__ import annotations

import copy
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from publikum.core.errors import Conflict, ValidationFailed
from publikum.core.models import Organisation, User
from publikum.core.services import audit_log
from publikum.journeys.editor.edits import (
    Position,
    blank_definition,
    step_add,
    step_delete,
    step_update,
)
from publikum.journeys.engine.validation import journey_validate
from publikum.journeys.models import Journey, JourneyRun, JourneyStatus, RunStatus, StepEvent


def _locked(journey: Journey) -> Journey:
    return Journey.objects.select_for_update().get(
        pk=journey.pk, organisation_id=journey.organisation_id
    )


def _check_changeable(journey: Journey) -> None:
    if journey.status == JourneyStatus.ARCHIVED:
        raise Conflict(_("An archived journey cannot be changed; copy it instead."))


def engine_state(config: Any) -> dict[str, Any]:
    """The engine's own keys of a trigger_config ("_cursor", "_day"): an edit keeps them."""
    if not isinstance(config, dict):
        return {}
    return {k: v for k, v in config.items() if str(k).startswith("_")}


@transaction.atomic
def journey_settings_save(
    *,
    organisation: Organisation,
    journey: Journey | None,
    actor: User | None,
    name: str,
    description: str,
    trigger: str,
    config: dict[str, Any],
    reentry: str,
    reentry_days: int,
) -> Journey:
    """Create a journey (no steps yet) or change its settings. The engine's keys in
    trigger_config are taken from the row as it is now (locked), so that a scan that moved
    its cursor while the page was open keeps it."""
    if journey is None:
        current = Journey(organisation=organisation, definition=blank_definition())
    else:
        current = _locked(journey)
        _check_changeable(current)
    changed = copy.copy(current)
    changed.name = name
    changed.description = description
    changed.trigger = trigger
    changed.trigger_config = {
        **{k: v for k, v in config.items() if not str(k).startswith("_")},
        **engine_state(current.trigger_config),
    }
    changed.reentry = reentry
    changed.reentry_days = reentry_days
    _keep_live_journey_valid(current, changed)
    changed.save()
    audit_log(organisation, "journeys.saved", actor=actor, data={"id": changed.pk})
    return changed


@transaction.atomic
def journey_json_save(
    *,
    organisation: Organisation,
    journey: Journey | None,
    actor: User | None,
    values: dict[str, Any],
) -> Journey:
    """Save a journey written as JSON (the advanced page): like the settings, the engine's
    keys of trigger_config are kept whatever the JSON says."""
    if journey is None:
        current = Journey(organisation=organisation)
    else:
        current = _locked(journey)
        _check_changeable(current)
    changed = copy.copy(current)
    for name in ("name", "description", "trigger", "reentry", "reentry_days", "definition"):
        setattr(changed, name, values[name])
    changed.trigger_config = {
        **{k: v for k, v in values["trigger_config"].items() if not str(k).startswith("_")},
        **engine_state(current.trigger_config),
    }
    _keep_live_journey_valid(current, changed)
    changed.save()
    audit_log(organisation, "journeys.saved", actor=actor, data={"id": changed.pk})
    return changed


def _used_step_ids(journey: Journey) -> set[str]:
    """Ids that runs and results of this journey name (not to be given to a new step)."""
    used = set(JourneyRun.objects.filter(journey=journey).values_list("step_id", flat=True))
    used |= set(StepEvent.objects.filter(journey=journey).values_list("step_id", flat=True))
    return used


def _keep_live_journey_valid(current: Journey, changed: Journey) -> None:
    """A journey that is on (or paused) takes no change that adds a problem: its contacts
    would fail at the step, or the trigger would stop working. Problems it already had do
    not keep it from being changed (the change may be the fix). A draft may have problems:
    switching on refuses them."""
    if current.status not in (JourneyStatus.ACTIVE, JourneyStatus.PAUSED):
        return
    before = {str(p) for p in journey_validate(current)}
    new = [str(p) for p in journey_validate(changed) if str(p) not in before]
    if new:
        raise ValidationFailed(
            _("This journey is on, so a change must not break it. Not saved: %(problems)s")
            % {"problems": " ".join(new)},
            fields={"definition": new},
        )


def _save_definition(
    locked: Journey, definition: dict[str, Any], *, actor: User | None, action: str, step: str
) -> None:
    """Store an edited definition (see `_keep_live_journey_valid`)."""
    changed = copy.copy(locked)
    changed.definition = definition
    _keep_live_journey_valid(locked, changed)
    locked.definition = definition
    locked.save(update_fields=["definition", "updated_at"])
    audit_log(
        locked.organisation,
        f"journeys.journey.{action}",
        actor=actor,
        obj=locked,
        data={"step": step},
    )


@transaction.atomic
def journey_step_add(
    *, journey: Journey, actor: User | None, position: Position, fields: dict[str, Any]
) -> str:
    """Add a step at `position` (see `step_add`); returns its id."""
    locked = _locked(journey)
    _check_changeable(locked)
    definition, new_id = step_add(
        locked.definition, position=position, fields=fields, taken=_used_step_ids(locked)
    )
    _save_definition(locked, definition, actor=actor, action="step_added", step=new_id)
    journey.definition = locked.definition
    return new_id


@transaction.atomic
def journey_step_update(
    *, journey: Journey, actor: User | None, step_id: str, fields: dict[str, Any]
) -> None:
    """Change a step's settings (see `step_update`)."""
    locked = _locked(journey)
    _check_changeable(locked)
    definition = step_update(locked.definition, step_id=step_id, fields=fields)
    _save_definition(locked, definition, actor=actor, action="step_changed", step=step_id)
    journey.definition = locked.definition


@transaction.atomic
def journey_step_delete(
    *, journey: Journey, actor: User | None, step_id: str, keep: str = ""
) -> list[str]:
    """Delete a step (see `step_delete`); returns the ids of the steps removed.

    Refused while contacts wait at a step that would go: their runs would fail.
    """
    locked = _locked(journey)
    _check_changeable(locked)
    definition, removed = step_delete(locked.definition, step_id=step_id, keep=keep)
    waiting = JourneyRun.objects.filter(
        journey=locked, status=RunStatus.WAITING, step_id__in=removed
    ).count()
    if waiting:
        raise Conflict(
            ngettext(
                "%(n)d contact is waiting at this step. Change the step instead of deleting "
                "it, or delete it when nobody waits there any more.",
                "%(n)d contacts are waiting at this step. Change the step instead of deleting "
                "it, or delete it when nobody waits there any more.",
                waiting,
            )
            % {"n": waiting}
        )
    _save_definition(locked, definition, actor=actor, action="step_deleted", step=step_id)
    journey.definition = locked.definition
    return removed
