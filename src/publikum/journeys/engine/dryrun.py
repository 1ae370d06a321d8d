"""The dry run ("test with contact X"): what would happen to one contact, and when.

Nothing is written: steps are described, not carried out. Conditions are judged on today's
data, and the dry run cannot know the future: a mail in it has never been opened or
clicked, so a branch on the previous mail takes "no".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.utils import timezone
from django.utils.translation import gettext as _

from publikum.audience.models import Channel, Consent, Contact, EmailStatus, Purpose
from publikum.core.errors import ValidationFailed
from publikum.journeys.engine.definition import (
    organisation_zone,
    steps_of,
    template_of,
    wait_until,
)
from publikum.journeys.engine.steps import StepFailed, branch_holds
from publikum.journeys.engine.validation import check_wait
from publikum.journeys.models import EmailTemplate, Journey, JourneyRun, MessageKind, Reentry

# Lines of one dry run; a journey that loops (through waits) is cut off after them.
SIMULATION_LIMIT = 40


@dataclass(frozen=True)
class SimulatedStep:
    """One line of the dry run: when, which step, what would happen."""

    when: datetime | None
    step_id: str
    what: str


@dataclass
class _Walk:
    journey: Journey
    contact: Contact
    zone: ZoneInfo
    at: datetime
    mail_sent: bool = False


def _date(value: datetime | Any) -> str:
    return value.strftime("%d.%m.%Y")


def suppression_reason(contact: Contact, template: EmailTemplate, when: datetime) -> str:  # noqa: PLR0911
    """Why a mail of `template` would not reach `contact` at `when` ("" if it would).

    The guardrails of the delivery service that depend on the contact alone, in its order
    (docs/delivery.md): erased, no address, bounced, complained, consent (marketing only),
    paused. The frequency cap and quiet hours depend on the other mails and the hour of
    sending; they are applied when the mail is sent.
    """
    if contact.erased_at is not None:
        return _("the contact was erased")
    if not contact.email:
        return _("the contact has no e-mail address")
    if contact.email_status == EmailStatus.BOUNCED:
        return _("the address bounced")
    if contact.email_status == EmailStatus.COMPLAINED:
        return _("the contact complained about a mail")
    if template.kind != MessageKind.TRANSACTIONAL:
        consent = Consent.objects.filter(
            contact=contact, channel=Channel.EMAIL, purpose=template.purpose
        ).first()
        label = Purpose(template.purpose).label if template.purpose in Purpose.values else "-"
        if consent is None or not consent.granted:
            if consent is not None and consent.withdrawn_at is not None:
                return _("the contact unsubscribed from %(purpose)s") % {"purpose": label}
            return _("no consent for %(purpose)s") % {"purpose": label}
    if contact.paused_until is not None and contact.paused_until >= when.date():
        return _("the contact paused mails until %(date)s") % {"date": _date(contact.paused_until)}
    return ""


def _refusal(journey: Journey, contact: Contact, now: datetime) -> str:
    """Why the contact would not enter now ("" if they would)."""
    if contact.erased_at is not None:
        return _("The contact was erased and enters no journey.")
    last = (
        JourneyRun.objects.filter(journey=journey, contact=contact)
        .order_by("-entered_at")
        .values_list("entered_at", flat=True)
        .first()
    )
    if last is None or journey.reentry == Reentry.ALWAYS:
        return ""
    if journey.reentry == Reentry.ONCE:
        return _("The contact entered this journey on %(date)s and enters it only once.") % {
            "date": _date(last)
        }
    if last > now - timedelta(days=journey.reentry_days):
        return _("The contact entered on %(date)s and may enter again after %(days)d days.") % {
            "date": _date(last),
            "days": journey.reentry_days,
        }
    return ""


def simulate(
    *, journey: Journey, contact: Contact, now: datetime | None = None
) -> list[SimulatedStep]:
    """What would happen if `contact` entered `journey` at `now`, step by step with the
    time of each, without writing anything."""
    now = now or timezone.now()
    if contact.organisation_id != journey.organisation_id:
        raise ValidationFailed(_("This contact belongs to another organisation."))
    refusal = _refusal(journey, contact, now)
    if refusal:
        return [SimulatedStep(None, "", refusal)]
    walk = _Walk(journey, contact, organisation_zone(journey.organisation), now)
    steps = steps_of(journey.definition)
    start = journey.definition.get("start") if isinstance(journey.definition, dict) else None
    step_id = start if isinstance(start, str) else ""
    lines: list[SimulatedStep] = []
    for _n in range(SIMULATION_LIMIT):
        step = steps.get(step_id)
        if step is None:
            if step_id:
                lines.append(
                    SimulatedStep(
                        walk.at, step_id, _("the step '%(id)s' is missing") % {"id": step_id}
                    )
                )
            return lines
        describe = _DESCRIBE.get(str(step.get("type")), _describe_unknown)
        when = walk.at
        what, following = describe(walk, step)
        lines.append(SimulatedStep(when, step_id, what))
        if not following:
            return lines
        step_id = following
    lines.append(SimulatedStep(walk.at, "", _("… and so on: the journey goes round a loop.")))
    return lines


def _next(step: dict[str, Any]) -> str | None:
    value = step.get("next")
    return value if isinstance(value, str) and value else None


def _describe_wait(walk: _Walk, step: dict[str, Any]) -> tuple[str, str | None]:
    problems = check_wait(walk.journey, step)
    if problems:
        return problems[0], None
    walk.at = wait_until(step, walk.at, walk.zone)
    local = walk.at.astimezone(walk.zone)
    return _("wait until %(when)s") % {"when": local.strftime("%d.%m.%Y %H:%M")}, _next(step)


def _describe_email(walk: _Walk, step: dict[str, Any]) -> tuple[str, str | None]:
    template = template_of(walk.journey.organisation_id, step)
    if template is None:
        return _("the mail template is missing: nothing would be sent"), _next(step)
    walk.mail_sent = True
    reason = suppression_reason(walk.contact, template, walk.at)
    if reason:
        return _("would not send '%(name)s': %(reason)s") % {
            "name": template.name,
            "reason": reason,
        }, _next(step)
    english = walk.contact.language == "en" and bool(template.subject_en)
    return _("would send '%(name)s' (%(language)s)") % {
        "name": template.name,
        "language": _("English") if english else _("German"),
    }, _next(step)


def _describe_branch(walk: _Walk, step: dict[str, Any]) -> tuple[str, str | None]:
    condition = step.get("condition") or {}
    if "previous_mail" in condition:
        why = (
            _("a mail of a dry run is never opened or clicked")
            if walk.mail_sent
            else _("no mail was sent before")
        )
        return _("branch: no, because %(why)s") % {"why": why}, step.get("no")
    try:
        holds = branch_holds(walk.journey.organisation, walk.contact, condition, walk.at)
    except StepFailed as exc:
        return _("branch: the rules are not valid (%(error)s)") % {"error": exc}, None
    if holds:
        return _("branch: yes, because the contact matches the rules today"), step.get("yes")
    return _("branch: no, because the contact does not match the rules today"), step.get("no")


def _describe_tag(walk: _Walk, step: dict[str, Any]) -> tuple[str, str | None]:
    if "add" in step:
        return _("would add the tag '%(tag)s'") % {"tag": step["add"]}, _next(step)
    return _("would remove the tag '%(tag)s'") % {"tag": step.get("remove")}, _next(step)


def _describe_interest(walk: _Walk, step: dict[str, Any]) -> tuple[str, str | None]:
    if "add" in step:
        return _("would add the interest '%(slug)s'") % {"slug": step["add"]}, _next(step)
    return _("would remove the interest '%(slug)s'") % {"slug": step.get("remove")}, _next(step)


def _describe_task(walk: _Walk, step: dict[str, Any]) -> tuple[str, str | None]:
    who = step.get("assignee") or _("the team")
    return _("would create the task '%(title)s' for %(who)s") % {
        "title": step.get("title"),
        "who": who,
    }, _next(step)


def _describe_webhook(walk: _Walk, step: dict[str, Any]) -> tuple[str, str | None]:
    return _("would call the webhook %(url)s") % {"url": step.get("url")}, _next(step)


def _describe_split(walk: _Walk, step: dict[str, Any]) -> tuple[str, str | None]:
    return _(
        "split: way A for %(a)s %% of contacts, way B for the others; the dry run follows way A"
    ) % {"a": step.get("percent_a", 50)}, step.get("a")


def _describe_end(walk: _Walk, step: dict[str, Any]) -> tuple[str, str | None]:
    return _("the journey ends"), None


def _describe_unknown(walk: _Walk, step: dict[str, Any]) -> tuple[str, str | None]:
    return _("unknown step type '%(type)s'") % {"type": step.get("type")}, None


_DESCRIBE: dict[str, Callable[[_Walk, dict[str, Any]], tuple[str, str | None]]] = {
    "wait": _describe_wait,
    "email": _describe_email,
    "branch": _describe_branch,
    "tag": _describe_tag,
    "interest": _describe_interest,
    "task": _describe_task,
    "webhook": _describe_webhook,
    "split": _describe_split,
    "end": _describe_end,
}
