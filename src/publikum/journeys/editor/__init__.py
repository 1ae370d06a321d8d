"""The journey editor: a form per step type, the journey's settings form, and the edits of a
definition (add a step, change it, delete it).

The edits are pure functions on the definition's JSON, so that the views stay thin and each
rule (where a new step goes, what deleting a branch keeps) is tested without a request. The
forms judge a step with the engine's own checks (`journey_validate` on the step alone:
durations, webhook addresses, segment rules, ...), never with rules of their own, so a step
the editor accepts is a step the engine accepts. What only the whole journey can tell (a way
that leads nowhere, a loop without a wait, a template that cannot be rendered) is shown on
the editor page after every save; a draft may be saved with such problems, switching on
refuses them (docs/journeys.md, "Editing a journey").

Step ids are made here (s1, s2, ...) and never typed by people.

Modules: `edits` (the definition edits, pure), `forms` (a form per step type, the settings
form), `services` (the writes, with the journey's row locked).
"""

from __future__ import annotations

from publikum.journeys.editor.edits import (
    Position,
    blank_definition,
    deletion_preview,
    must_choose_way,
    new_step_ids,
    reachable,
    step_add,
    step_delete,
    step_update,
    target_at,
    ways_of,
)
from publikum.journeys.editor.forms import (
    STEP_CHOICES,
    STEP_FORMS,
    STEP_LABELS,
    TRIGGER_SETTINGS,
    JourneySettingsForm,
    StepForm,
    step_problems,
)
from publikum.journeys.editor.services import (
    engine_state,
    journey_json_save,
    journey_settings_save,
    journey_step_add,
    journey_step_delete,
    journey_step_update,
)

__all__ = [
    "STEP_CHOICES",
    "STEP_FORMS",
    "STEP_LABELS",
    "TRIGGER_SETTINGS",
    "JourneySettingsForm",
    "Position",
    "StepForm",
    "blank_definition",
    "deletion_preview",
    "engine_state",
    "journey_json_save",
    "journey_settings_save",
    "journey_step_add",
    "journey_step_delete",
    "journey_step_update",
    "must_choose_way",
    "new_step_ids",
    "reachable",
    "step_add",
    "step_delete",
    "step_problems",
    "step_update",
    "target_at",
    "ways_of",
]
