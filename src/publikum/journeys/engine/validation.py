"""Validation before a journey is switched on: every problem, in the UI language."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.utils.translation import gettext as _

from publikum.audience.models import (
    LifecycleStage,
    Purpose,
)
from publikum.core.errors import ValidationFailed
from publikum.journeys.engine.definition import (
    HHMM,
    MAX_STEPS,
    MAX_TAG_LENGTH,
    MAX_WAIT_DAYS,
    STEP_ID,
    STEP_TYPES,
    TARGETS,
    assignee_of,
    duration_of,
    public_config,
    segment_of,
    steps_of,
    targets_of,
)
from publikum.journeys.engine.webhooks import webhook_url_problem
from publikum.journeys.models import (
    EmailTemplate,
    Journey,
    Reentry,
    Trigger,
)
from publikum.programme.models import Theme


@dataclass(frozen=True)
class Problem:
    """Something that keeps a journey from being switched on, in the UI language."""

    message: str
    step: str = ""  # the step's id; "" for the journey as a whole

    def __str__(self) -> str:
        if self.step:
            return _("Step '%(step)s': %(message)s") % {"step": self.step, "message": self.message}
        return self.message


def journey_validate(journey: Journey) -> list[Problem]:
    """Everything wrong with a journey: its steps, their targets, loops, templates, rules,
    webhook addresses and the trigger's settings. An empty list: it may be switched on."""
    problems: list[Problem] = []
    steps = _check_structure(journey.definition, problems)
    if steps:
        for step_id, step in steps.items():
            kind = step.get("type")
            if kind not in STEP_TYPES:
                problems.append(
                    Problem(
                        _("unknown step type '%(type)s'; one of %(types)s")
                        % {"type": kind, "types": ", ".join(STEP_TYPES)},
                        step_id,
                    )
                )
                continue
            problems.extend(Problem(m, step_id) for m in _target_problems(step, steps))
            problems.extend(Problem(m, step_id) for m in _CHECKS[kind](journey, step))
        problems.extend(_graph_problems(journey.definition, steps))
    problems.extend(_trigger_problems(journey))
    return problems


def _check_structure(definition: Any, problems: list[Problem]) -> dict[str, dict[str, Any]]:
    if not isinstance(definition, dict) or not isinstance(definition.get("steps"), list):
        problems.append(Problem(_("The journey has no steps yet.")))
        return {}
    raw = definition["steps"]
    if not raw:
        problems.append(Problem(_("The journey has no steps yet.")))
        return {}
    if len(raw) > MAX_STEPS:
        problems.append(Problem(_("A journey has at most %(max)d steps.") % {"max": MAX_STEPS}))
        return {}
    steps: dict[str, dict[str, Any]] = {}
    for number, step in enumerate(raw, start=1):
        if not isinstance(step, dict):
            problems.append(Problem(_("Step %(n)d is not a step object.") % {"n": number}))
            continue
        step_id = step.get("id")
        if not isinstance(step_id, str) or not STEP_ID.match(step_id):
            problems.append(
                Problem(
                    _("Step %(n)d needs an id of 1 to 40 letters, digits, hyphens or underscores.")
                    % {"n": number}
                )
            )
            continue
        if step_id in steps:
            problems.append(Problem(_("Two steps have the id '%(id)s'.") % {"id": step_id}))
            continue
        steps[step_id] = step
    start = definition.get("start")
    if not isinstance(start, str) or not start:
        problems.append(Problem(_("The journey does not say which step comes first.")))
    elif start not in steps:
        problems.append(Problem(_("The first step '%(id)s' does not exist.") % {"id": start}))
    return steps


def _target_problems(step: dict[str, Any], steps: dict[str, dict[str, Any]]) -> list[str]:
    problems = []
    for key in TARGETS[step["type"]]:
        target = step.get(key)
        if target in (None, ""):
            if key != "next":  # a missing "next" is the end; a branch needs both ways
                problems.append(_("'%(key)s' must name the step that follows") % {"key": key})
        elif not isinstance(target, str) or target not in steps:
            problems.append(
                _("'%(key)s' leads to step '%(target)s', which does not exist")
                % {"key": key, "target": target}
            )
        elif target == step["id"] and step["type"] != "wait":
            problems.append(_("the step leads to itself without a wait"))
    return problems


def _graph_problems(definition: Any, steps: dict[str, dict[str, Any]]) -> list[Problem]:
    problems: list[Problem] = []
    edges = {sid: [t for t in targets_of(step) if t in steps] for sid, step in steps.items()}
    start = definition.get("start") if isinstance(definition, dict) else None
    if isinstance(start, str) and start in steps:
        reached = _reachable(start, edges)
        problems.extend(
            Problem(_("no path from the first step leads here"), sid)
            for sid in steps
            if sid not in reached
        )
    for cycle in _loops_without_wait(steps, edges):
        problems.append(
            Problem(
                _(
                    "These steps form a loop without a wait: %(loop)s. A loop needs a wait "
                    "step, or contacts would go round it at once."
                )
                % {"loop": " → ".join([*cycle, cycle[0]])}
            )
        )
    return problems


def _reachable(start: str, edges: dict[str, list[str]]) -> set[str]:
    seen = {start}
    stack = [start]
    while stack:
        for target in edges.get(stack.pop(), []):
            if target not in seen:
                seen.add(target)
                stack.append(target)
    return seen


def _loops_without_wait(
    steps: dict[str, dict[str, Any]], edges: dict[str, list[str]]
) -> list[list[str]]:
    """Each loop made only of steps that are not waits, once (as the path around it)."""
    instant = {sid for sid, step in steps.items() if step.get("type") != "wait"}
    found: list[list[str]] = []
    seen: set[frozenset[str]] = set()
    for origin in sorted(instant):
        # Depth-first from `origin` through instant steps, looking for the way back to it.
        stack: list[tuple[str, list[str]]] = [(origin, [origin])]
        visited: set[str] = set()
        while stack:
            node, path = stack.pop()
            for target in edges.get(node, []):
                if target == origin and target != node:
                    key = frozenset(path)
                    if key not in seen:
                        seen.add(key)
                        found.append(path)
                elif target in instant and target not in visited and target != node:
                    visited.add(target)
                    stack.append((target, [*path, target]))
    return found


def check_wait(journey: Journey, step: dict[str, Any]) -> list[str]:  # noqa: PLR0911
    has_duration, has_until = "duration" in step, "until" in step
    if has_duration == has_until:
        return [_("a wait needs either a duration or a day and time ('until'), not both")]
    if has_duration:
        duration = step["duration"]
        if not isinstance(duration, dict) or not duration:
            return [_("the duration must say days, hours or minutes")]
        unknown = sorted(set(duration) - {"days", "hours", "minutes"})
        if unknown:
            return [_("the duration knows days, hours and minutes, not %s") % ", ".join(unknown)]
        values = list(duration.values())
        if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in values):
            return [_("days, hours and minutes must be whole numbers of zero or more")]
        total = duration_of(duration)
        if total < timedelta(minutes=1):
            return [_("a wait lasts at least one minute")]
        if total > timedelta(days=MAX_WAIT_DAYS):
            return [_("a wait lasts at most %(days)d days") % {"days": MAX_WAIT_DAYS}]
        return []
    until = step["until"]
    if not isinstance(until, dict):
        return [_("'until' must give a time and, if wanted, a weekday")]
    problems = []
    weekday = until.get("weekday")
    if weekday is not None and (
        not isinstance(weekday, int) or isinstance(weekday, bool) or not 0 <= weekday <= 6
    ):
        problems.append(_("the weekday is a number from 0 (Monday) to 6 (Sunday), or empty"))
    if not isinstance(until.get("time"), str) or not HHMM.match(until["time"]):
        problems.append(_("the time must be written as HH:MM, e.g. 09:30"))
    return problems


def _check_horizon(step: dict[str, Any]) -> list[str]:
    """An email step's optional horizon: a number from 0 to 1."""
    value = step.get("horizon")
    if value is None:
        return []
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not 0 <= value <= 1  # also refuses NaN
    ):
        return [
            _(
                "the horizon is a number from 0 (only the familiar) to 1 (mostly new), "
                "or left out to use the house's setting"
            )
        ]
    return []


def _check_email(journey: Journey, step: dict[str, Any]) -> list[str]:
    horizon = _check_horizon(step)
    template_id = step.get("template")
    if not isinstance(template_id, int) or isinstance(template_id, bool):
        return [_("choose the mail template to send"), *horizon]
    template = EmailTemplate.objects.filter(
        organisation_id=journey.organisation_id, pk=template_id
    ).first()
    if template is None:
        return [_("the mail template %(id)s does not exist") % {"id": template_id}, *horizon]
    from publikum.journeys.content import template_problems

    found = template_problems(template)
    return [
        *horizon,
        *(
            _("the template '%(name)s' cannot be sent: %(problem)s")
            % {"name": template.name, "problem": problem}
            for problem in found
        ),
    ]


def _check_branch(journey: Journey, step: dict[str, Any]) -> list[str]:
    condition = step.get("condition")
    if not isinstance(condition, dict) or len(condition) != 1:
        return [_("a branch needs one condition: rules, or the previous mail")]
    if "previous_mail" in condition:
        if condition["previous_mail"] not in ("opened", "clicked"):
            return [_("the previous mail can be 'opened' or 'clicked'")]
        return _check_mail_before(journey, step)
    if "rules" not in condition:
        return [_("a branch needs one condition: rules, or the previous mail")]
    from publikum.audience.segments import validate_rules

    try:
        validate_rules(organisation=journey.organisation, rules=condition["rules"])
    except ValidationFailed as exc:
        return [exc.message]
    return []


def _check_mail_before(journey: Journey, step: dict[str, Any]) -> list[str]:
    steps = steps_of(journey.definition)
    edges = {sid: targets_of(s) for sid, s in steps.items()}
    for sid, other in steps.items():
        if other.get("type") == "email" and step["id"] in _reachable(sid, edges) - {sid}:
            return []
    return [_("no mail is sent before this branch, so there is no previous mail to look at")]


def _check_tag(journey: Journey, step: dict[str, Any]) -> list[str]:
    actions = [k for k in ("add", "remove") if k in step]
    if len(actions) != 1:
        return [_("say either which tag to add or which tag to remove")]
    tag = step[actions[0]]
    if not isinstance(tag, str) or not tag.strip() or len(tag.strip()) > MAX_TAG_LENGTH:
        return [_("a tag is a text of 1 to %(max)d characters") % {"max": MAX_TAG_LENGTH}]
    return []


def _check_interest(journey: Journey, step: dict[str, Any]) -> list[str]:
    actions = [k for k in ("add", "remove") if k in step]
    if len(actions) != 1:
        return [_("say either which interest to add or which interest to remove")]
    slug = step[actions[0]]
    if (
        not isinstance(slug, str)
        or not Theme.objects.filter(organisation_id=journey.organisation_id, slug=slug).exists()
    ):
        return [_("there is no theme '%(slug)s'") % {"slug": slug}]
    return []


def _check_task(journey: Journey, step: dict[str, Any]) -> list[str]:
    problems = []
    title = step.get("title")
    if not isinstance(title, str) or not title.strip() or len(title) > 300:
        problems.append(_("a task needs a title of at most 300 characters"))
    if not isinstance(step.get("notes", ""), str):
        problems.append(_("the notes of a task are a text"))
    assignee = step.get("assignee")
    if assignee is not None and assignee_of(journey.organisation_id, assignee) is None:
        problems.append(_("'%(who)s' is not a member of staff of this house") % {"who": assignee})
    if step.get("notify") and assignee is None:
        problems.append(_("to send a notification, say whom the task is for"))
    if not isinstance(step.get("notify", False), bool):
        problems.append(_("'notify' is true or false"))
    due_days = step.get("due_days")
    if due_days is not None and (
        not isinstance(due_days, int) or isinstance(due_days, bool) or not 0 <= due_days <= 365
    ):
        problems.append(_("the task is due in 0 to 365 days"))
    return problems


def _check_webhook(journey: Journey, step: dict[str, Any]) -> list[str]:
    problems = []
    problem = webhook_url_problem(step.get("url"))
    if problem:
        problems.append(problem)
    secret = step.get("secret")
    if secret is not None and (not isinstance(secret, str) or len(secret) > 200):
        problems.append(_("the webhook's secret is a text of at most 200 characters"))
    return problems


def _check_split(journey: Journey, step: dict[str, Any]) -> list[str]:
    problems = []
    percent = step.get("percent_a")
    if not isinstance(percent, int) or isinstance(percent, bool) or not 1 <= percent <= 99:
        problems.append(_("the share of way A is a whole percentage from 1 to 99"))
    if step.get("metric") not in ("clicked", "booked"):
        problems.append(_("the winner is measured by 'clicked' or 'booked'"))
    return problems


def _check_nothing(journey: Journey, step: dict[str, Any]) -> list[str]:
    return []


_CHECKS = {
    "wait": check_wait,
    "branch": _check_branch,
    "email": _check_email,
    "tag": _check_tag,
    "interest": _check_interest,
    "task": _check_task,
    "webhook": _check_webhook,
    "split": _check_split,
    "end": _check_nothing,
}


def _small_int(value: Any, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _trigger_problems(journey: Journey) -> list[Problem]:  # noqa: PLR0912
    config = public_config(journey)
    messages: list[str] = []
    trigger = journey.trigger
    if trigger not in Trigger.values:
        messages.append(_("Unknown trigger '%(trigger)s'.") % {"trigger": trigger})
    elif trigger == Trigger.STAGE_CHANGED:
        if config.get("to") not in LifecycleStage.values:
            messages.append(_("Say which lifecycle stage the contacts move to."))
        if config.get("from") not in (None, "", *LifecycleStage.values):
            messages.append(_("The stage they come from is not a lifecycle stage."))
        elif config.get("from") and config.get("from") == config.get("to"):
            messages.append(_("The stages before and after the change must differ."))
    elif trigger == Trigger.ENTERED_SEGMENT:
        if segment_of(journey) is None:
            messages.append(_("Choose the segment that contacts enter."))
        if journey.reentry == Reentry.ALWAYS:
            messages.append(
                _(
                    "A journey started by a segment cannot let contacts in every time (they "
                    "would enter again at every check): choose once, or again after N days."
                )
            )
    elif trigger == Trigger.TAG_ADDED:
        tag = config.get("tag")
        if not isinstance(tag, str) or not tag.strip():
            messages.append(_("Say which tag starts the journey."))
    elif trigger == Trigger.BOOKED_DATE_AHEAD:
        if not _small_int(config.get("days_before", 2), 0, 60):
            messages.append(_("The days before the date are a whole number from 0 to 60."))
    elif trigger == Trigger.DATE_PASSED:
        if not _small_int(config.get("days_after", 1), 0, 60):
            messages.append(_("The days after the visit are a whole number from 0 to 60."))
        if config.get("after", "visit") not in ("visit", "booking"):
            messages.append(_("The journey starts after a 'visit' or a 'booking'."))
    elif trigger == Trigger.SUBSCRIBED:
        if config.get("purpose") not in (None, "", *Purpose.values):
            messages.append(_("Unknown subscription purpose."))
    elif trigger == Trigger.IDEA_STATUS:
        messages.append(_("This trigger is not available yet."))
    if journey.reentry == Reentry.EVERY and journey.reentry_days < 1:
        messages.append(_("Say after how many days a contact may enter again (at least 1)."))
    return [Problem(m) for m in messages]
