"""Edits of a journey definition, as pure functions: add a step at a place, change a step,
delete a step (reconnecting what led to it). They take a definition and return a new one;
the engine's validation judges the result."""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _

from publikum.core.errors import ValidationFailed
from publikum.journeys.engine.definition import TARGETS, steps_of, targets_of

# Where a new step can go: after a step, on one of its ways ("next", "yes", "no", "a", "b"),
# or at the start of the journey.
START = "start"
_NUMBERED = re.compile(r"^s(\d{1,9})$")


@dataclass(frozen=True)
class Position:
    """A place in the journey: on way `way` of step `after`, or at the start (`after` = "")."""

    after: str = ""
    way: str = START

    @classmethod
    def parse(cls, after: str, way: str) -> Position:
        return cls(after=after or "", way=way or ("next" if after else START))


def blank_definition() -> dict[str, Any]:
    """The definition of a new journey: no steps yet."""
    return {"start": "", "steps": []}


def _copy(definition: Any) -> dict[str, Any]:
    """A deep copy with "start" and a list of step objects, whatever was stored."""
    if not isinstance(definition, dict):
        return blank_definition()
    out = copy.deepcopy(definition)
    if not isinstance(out.get("steps"), list):
        out["steps"] = []
    out.setdefault("start", "")
    return out


def reachable(definition: dict[str, Any]) -> set[str]:
    """The ids of the steps a walk from the first step reaches."""
    steps = steps_of(definition)
    start = definition.get("start")
    if not isinstance(start, str) or start not in steps:
        return set()
    seen, todo = {start}, [start]
    while todo:
        for target in targets_of(steps[todo.pop()]):
            if target in steps and target not in seen:
                seen.add(target)
                todo.append(target)
    return seen


def new_step_ids(definition: dict[str, Any], taken: Iterable[str], count: int = 1) -> list[str]:
    """Fresh ids s<n>, numbered after every id in the definition and in `taken` (ids that
    runs and results of this journey still name), so a deleted step's figures never
    reappear under a new step."""
    numbers = [
        int(match.group(1))
        for step_id in [*steps_of(definition), *taken]
        if (match := _NUMBERED.match(step_id))
    ]
    first = max(numbers, default=0) + 1
    return [f"s{n}" for n in range(first, first + count)]


def target_at(definition: dict[str, Any], position: Position) -> str:
    """The id of the step that is now at `position` ("" for none)."""
    if position.way == START and not position.after:
        return str(definition.get("start") or "")
    step = steps_of(definition).get(position.after)
    if step is None or position.way not in TARGETS.get(str(step.get("type")), ()):
        raise ValidationFailed(
            _("This place in the journey no longer exists. Open the editor again.")
        )
    value = step.get(position.way)
    return value if isinstance(value, str) else ""


def step_add(
    definition: Any, *, position: Position, fields: dict[str, Any], taken: Iterable[str] = ()
) -> tuple[dict[str, Any], str]:
    """The definition with a new step at `position`; returns it and the new step's id.

    The new step leads on to the step that was there before, so nothing is cut off. A
    branch or split takes that step on both ways; where nothing followed, each way gets an
    end step of its own, so that both ways are there to add to. An end step only goes
    where a way ends (else the steps after it would be lost).
    """
    out = _copy(definition)
    follower = target_at(out, position)
    kind = str(fields.get("type"))
    if kind not in TARGETS:
        raise ValidationFailed(_("Unknown step type."))
    if kind == "end" and follower:
        raise ValidationFailed(
            _(
                "An end can only go where a way ends: here, further steps follow. Delete "
                "them first, or add the end after the last step."
            )
        )
    ways = TARGETS[kind]
    ends = 2 if len(ways) == 2 and not follower else 0
    new_id, *end_ids = new_step_ids(out, taken, 1 + ends)
    step: dict[str, Any] = {"id": new_id, **{k: v for k, v in fields.items() if k != "id"}}
    for number, way in enumerate(ways):
        if follower:
            step[way] = follower
        elif end_ids:
            step[way] = end_ids[number]
    added = [step, *({"id": end_id, "type": "end"} for end_id in end_ids)]
    index = len(out["steps"])
    if position.way == START and not position.after:
        out["start"] = new_id
        index = 0
    else:
        for number, other in enumerate(out["steps"]):
            if isinstance(other, dict) and other.get("id") == position.after:
                other[position.way] = new_id
                index = number + 1
                break
    out["steps"][index:index] = added
    return out, new_id


def step_update(definition: Any, *, step_id: str, fields: dict[str, Any]) -> dict[str, Any]:
    """The definition with step `step_id` holding `fields` (its type stays, and so do the
    steps it leads to: the flow is changed by adding and deleting steps)."""
    out = _copy(definition)
    for number, old in enumerate(out["steps"]):
        if isinstance(old, dict) and old.get("id") == step_id:
            kind = str(old.get("type"))
            if fields.get("type") != kind:
                raise ValidationFailed(_("A step keeps its type; delete it and add another."))
            ways = {k: old[k] for k in TARGETS.get(kind, ()) if k in old}
            out["steps"][number] = {"id": step_id, **fields, **ways}
            return out
    raise ValidationFailed(_("This step no longer exists. Open the editor again."))


def ways_of(step: dict[str, Any]) -> tuple[str, ...]:
    """The two ways of a branch or split ("yes", "no" / "a", "b"); () for other steps."""
    ways = TARGETS.get(str(step.get("type")), ())
    return ways if len(ways) == 2 else ()


def must_choose_way(step: dict[str, Any]) -> bool:
    """Whether deleting this step needs to know which of its two ways to keep: both ways
    lead somewhere, and not to the same step."""
    ways = ways_of(step)
    if not ways:
        return False
    first, second = (step.get(way) or "" for way in ways)
    return bool(first and second and first != second)


def step_delete(
    definition: Any, *, step_id: str, keep: str = ""
) -> tuple[dict[str, Any], list[str]]:
    """The definition without step `step_id`; returns it and the ids of all steps removed.

    Whatever led to the step leads to its successor instead. For a branch or split whose
    two ways lead to different steps, `keep` names the way that stays ("yes"/"no",
    "a"/"b"); the steps only the other way reached go too (a way that meets the kept one
    again keeps the shared steps). Steps nothing reached before the deletion stay as they
    were: the editor lists them as "never reached".
    """
    out = _copy(definition)
    steps = steps_of(out)
    step = steps.get(step_id)
    if step is None:
        raise ValidationFailed(_("This step no longer exists. Open the editor again."))
    ways = ways_of(step)
    if must_choose_way(step):
        if keep not in ways:
            raise ValidationFailed(
                _("Choose which way to keep."), fields={"keep": [_("Choose which way to keep.")]}
            )
        follower = str(step[keep])
    else:
        follower = next(iter(targets_of(step)), "")
    if follower == step_id:  # a wait that leads back to itself
        follower = ""
    before = reachable(out)
    out["steps"] = [s for s in out["steps"] if not (isinstance(s, dict) and s.get("id") == step_id)]
    if out.get("start") == step_id:
        out["start"] = follower
    for other in out["steps"]:
        if not isinstance(other, dict):
            continue
        for way in TARGETS.get(str(other.get("type")), ()):
            if other.get(way) == step_id:
                if follower or way != "next":
                    other[way] = follower
                else:
                    del other[way]
    orphaned = (before - reachable(out)) - {step_id}
    out["steps"] = [
        s for s in out["steps"] if not (isinstance(s, dict) and s.get("id") in orphaned)
    ]
    removed = [step_id, *(s for s in steps if s in orphaned)]
    return out, removed


def deletion_preview(definition: Any, step_id: str) -> dict[str, list[str]]:
    """For each choice the delete page offers, the ids of the steps that would go: {"": ids}
    for a step without a choice, {"yes": ids, "no": ids} (or "a"/"b") for a branch."""
    step = steps_of(definition).get(step_id)
    if step is None:
        return {}
    if not must_choose_way(step):
        return {"": step_delete(definition, step_id=step_id)[1]}
    return {way: step_delete(definition, step_id=step_id, keep=way)[1] for way in ways_of(step)}
