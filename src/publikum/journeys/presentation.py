"""A journey as people read it: its steps in order, branches indented, each in words.

The staff pages show this instead of JSON: "Wait 3 days", "Send “Welcome” (newsletter)",
"If the previous mail was clicked: ... otherwise: ...". Steps the walk from the start does
not reach are listed at the end, marked, so that nothing in the definition is hidden.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import ngettext


@dataclass(frozen=True)
class FlowRow:
    step_id: str
    kind: str
    text: str
    depth: int
    # "yes"/"no"/"a"/"b" for the first step of a branch; "" otherwise.
    via: str = ""
    # The step was already shown above (a loop or two ways meeting): only a reference.
    seen: bool = False
    unreachable: bool = False


def _duration(duration: dict[str, Any]) -> str:
    parts = []
    days, hours, minutes = (int(duration.get(k) or 0) for k in ("days", "hours", "minutes"))
    if days:
        parts.append(ngettext("%(n)d day", "%(n)d days", days) % {"n": days})
    if hours:
        parts.append(ngettext("%(n)d hour", "%(n)d hours", hours) % {"n": hours})
    if minutes:
        parts.append(ngettext("%(n)d minute", "%(n)d minutes", minutes) % {"n": minutes})
    return ", ".join(parts) or _("no time")


def _weekday(value: Any) -> str:
    names = [
        _("Monday"),
        _("Tuesday"),
        _("Wednesday"),
        _("Thursday"),
        _("Friday"),
        _("Saturday"),
        _("Sunday"),
    ]
    return names[value] if isinstance(value, int) and 0 <= value < len(names) else ""


def _wait(step: dict[str, Any], _templates: dict[int, str]) -> str:
    until = step.get("until")
    if isinstance(until, dict):
        day = _weekday(until.get("weekday"))
        time = str(until.get("time") or "")
        if day:
            return _("Wait until the next %(day)s at %(time)s") % {"day": day, "time": time}
        return _("Wait until %(time)s") % {"time": time}
    return _("Wait %(duration)s") % {"duration": _duration(step.get("duration") or {})}


def _email(step: dict[str, Any], templates: dict[int, str]) -> str:
    name = templates.get(step.get("template") or 0, _("a missing template"))
    return _("Send the mail “%(name)s”") % {"name": name}


def _branch(step: dict[str, Any], _templates: dict[int, str]) -> str:
    previous = (step.get("condition") or {}).get("previous_mail")
    if previous == "clicked":
        return _("Did they click a link in the previous mail?")
    if previous == "opened":
        return _("Did they open the previous mail?")
    return _("Do they match the rules?")


def _tag(step: dict[str, Any], _templates: dict[int, str]) -> str:
    if step.get("add"):
        return _("Add the tag “%(tag)s”") % {"tag": step["add"]}
    return _("Remove the tag “%(tag)s”") % {"tag": step.get("remove", "")}


def _interest(step: dict[str, Any], _templates: dict[int, str]) -> str:
    if step.get("add"):
        return _("Add the interest “%(theme)s”") % {"theme": step["add"]}
    return _("Remove the interest “%(theme)s”") % {"theme": step.get("remove", "")}


def _split(step: dict[str, Any], _templates: dict[int, str]) -> str:
    share = int(step.get("percent_a") or 50)
    return _("A/B test: %(a)d %% take way A, %(b)d %% way B") % {"a": share, "b": 100 - share}


_DESCRIBE: dict[str, Any] = {
    "wait": _wait,
    "email": _email,
    "branch": _branch,
    "tag": _tag,
    "interest": _interest,
    "split": _split,
    "task": lambda step, _t: (
        _("Create a task for the team: “%(title)s”") % {"title": step.get("title", "")}
    ),
    "webhook": lambda step, _t: (
        _("Notify another system (webhook) at %(url)s") % {"url": step.get("url", "")}
    ),
    "end": lambda _step, _t: _("End"),
}


def describe_step(step: dict[str, Any], templates: dict[int, str]) -> str:
    """One step in words, in the active language."""
    describe = _DESCRIBE.get(str(step.get("type")))
    if describe is None:
        return _("Unknown step “%(type)s”") % {"type": step.get("type")}
    return str(describe(step, templates))


def _targets(step: dict[str, Any]) -> list[tuple[str, str]]:
    kind = step.get("type")
    if kind == "branch":
        return [("yes", str(step.get("yes") or "")), ("no", str(step.get("no") or ""))]
    if kind == "split":
        return [("a", str(step.get("a") or "")), ("b", str(step.get("b") or ""))]
    if kind == "end":
        return []
    return [("", str(step.get("next") or ""))]


def flow(definition: dict[str, Any], templates: dict[int, str]) -> list[FlowRow]:
    """The rows of the readable flow, walking from the start."""
    steps = {
        str(s.get("id")): s
        for s in definition.get("steps") or []
        if isinstance(s, dict) and s.get("id")
    }
    rows: list[FlowRow] = []
    shown: set[str] = set()

    def walk(step_id: str, depth: int, via: str) -> None:
        # Iterative along "next", recursive only into branches (bounded by the step count).
        while step_id and step_id in steps:
            step = steps[step_id]
            if step_id in shown:
                rows.append(
                    FlowRow(
                        step_id,
                        "ref",
                        _("continue at step %(id)s") % {"id": step_id},
                        depth,
                        via,
                        seen=True,
                    )
                )
                return
            shown.add(step_id)
            rows.append(
                FlowRow(step_id, str(step.get("type")), describe_step(step, templates), depth, via)
            )
            targets = _targets(step)
            if len(targets) == 2:
                for label, target in targets:
                    walk(target, depth + 1, label)
                return
            step_id, via = (targets[0][1] if targets else ""), ""

    walk(str(definition.get("start") or ""), 0, "")
    for step_id, step in steps.items():
        if step_id not in shown:
            rows.append(
                FlowRow(
                    step_id,
                    str(step.get("type")),
                    describe_step(step, templates),
                    0,
                    unreachable=True,
                )
            )
    return rows
