"""What each step type does to a run: one function per type, safe to run twice."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.utils import translation
from django.utils.translation import gettext as _

from publikum.audience.models import (
    Contact,
    Interaction,
    InteractionKind,
)
from publikum.core.errors import DomainError, ValidationFailed
from publikum.core.mailsink import ORG_HEADER
from publikum.core.models import Organisation
from publikum.core.services import audit_log
from publikum.journeys.engine.definition import (
    END,
    assignee_of,
    organisation_zone,
    public_context,
    step_horizon,
    template_of,
    wait_until,
)
from publikum.journeys.engine.webhooks import WebhookRefused, webhook_post, webhook_secret
from publikum.journeys.models import (
    JourneyRun,
    Message,
    StaffTask,
)
from publikum.programme.models import Theme

logger = logging.getLogger("publikum.journeys")


@dataclass
class Outcome:
    """What a step did: its event for the results, where the run goes, until when it waits."""

    event: str
    detail: str = ""
    next: str | None = None
    wait_until: datetime | None = None


class StepFailed(Exception):
    """A step that cannot succeed by trying again (a template gone, a theme deleted)."""


def _key(run: JourneyRun, step_id: str) -> str:
    return f"run:{run.pk}:{step_id}:{run.steps_taken}"


def execute_step(run: JourneyRun, step: dict[str, Any], now: datetime) -> Outcome:
    """Carry out one step for one run; call inside a transaction. Safe to call twice for
    the same run and step count: what it writes carries the key of the step."""
    return _STEPS[str(step.get("type"))](run, step, now)


def _step_wait(run: JourneyRun, step: dict[str, Any], now: datetime) -> Outcome:
    until = wait_until(step, now, organisation_zone(run.journey.organisation))
    return Outcome("waited", until.isoformat(), next=step.get("next") or END, wait_until=until)


def _step_email(run: JourneyRun, step: dict[str, Any], now: datetime) -> Outcome:
    from publikum.journeys.delivery import message_queue

    template = template_of(run.organisation_id, step)
    if template is None:
        raise StepFailed(
            _("the mail template %(id)s no longer exists") % {"id": step.get("template")}
        )
    # The "for you" blocks of the mail recommend at the step's horizon, else at the
    # house's: never at one that came in with the trigger's context.
    context = public_context(run.context)
    context.pop("horizon", None)
    horizon = step_horizon(step)
    if horizon is not None:
        context["horizon"] = horizon
    message_queue(
        organisation=run.journey.organisation,
        contact=run.contact,
        template=template,
        key=_key(run, step["id"]),
        context=context,
        journey=run.journey,
        run=run,
        step_id=step["id"],
    )
    return Outcome("queued", template.name, next=step.get("next"))


def previous_mail_reacted(run: JourneyRun, how: str) -> tuple[bool, str]:
    """Whether the run's last mail was clicked (or opened: a click counts as an opening,
    and so does an `email_opened` timeline entry naming the message)."""
    message = Message.objects.filter(run=run).order_by("-pk").first()
    if message is None:
        return False, _("no mail was sent in this journey")
    if message.clicked_at is not None:
        return True, _("the mail was clicked")
    if (
        how == "opened"
        and Interaction.objects.filter(
            contact_id=run.contact_id, kind=InteractionKind.EMAIL_OPENED, data__message=message.pk
        ).exists()
    ):
        return True, _("the mail was opened")
    if how == "opened":
        return False, _("the mail was not opened")
    return False, _("the mail was not clicked")


def branch_holds(
    organisation: Organisation, contact: Contact, condition: dict[str, Any], now: datetime
) -> bool:
    """Whether a contact matches the segment rules of a branch, asked of the database."""
    from publikum.audience.segments import rules_q

    try:
        q = rules_q(organisation=organisation, rules=condition["rules"], now=now)
    except ValidationFailed as exc:
        raise StepFailed(exc.message) from exc
    return Contact.objects.filter(organisation=organisation, pk=contact.pk).filter(q).exists()


def _step_branch(run: JourneyRun, step: dict[str, Any], now: datetime) -> Outcome:
    condition = step.get("condition") or {}
    if "previous_mail" in condition:
        holds, why = previous_mail_reacted(run, str(condition["previous_mail"]))
    else:
        holds = branch_holds(run.journey.organisation, run.contact, condition, now)
        why = _("the rules hold") if holds else _("the rules do not hold")
    return Outcome(
        "branched_yes" if holds else "branched_no",
        why,
        next=step.get("yes") if holds else step.get("no"),
    )


def _step_tag(run: JourneyRun, step: dict[str, Any], now: datetime) -> Outcome:
    contact = Contact.objects.select_for_update().get(pk=run.contact_id)
    tags = [str(t) for t in contact.tags or []]
    if "add" in step:
        tag = str(step["add"]).strip()
        if any(t.casefold() == tag.casefold() for t in tags):
            return Outcome(
                "tagged", _("+%(tag)s (had it already)") % {"tag": tag}, step.get("next")
            )
        _write_tags(contact, [*tags, tag])
        return Outcome("tagged", f"+{tag}", step.get("next"))
    tag = str(step["remove"]).strip()
    kept = [t for t in tags if t.casefold() != tag.casefold()]
    if kept != tags:
        _write_tags(contact, kept)
    return Outcome("tagged", f"-{tag}", step.get("next"))


def _write_tags(contact: Contact, tags: list[str]) -> None:
    """Through the audience service (audit entry, "tag added" triggers); a refusal (too
    many tags) does not get better by trying again."""
    from publikum.audience.services import contact_update

    try:
        contact_update(contact=contact, tags=tags)
    except DomainError as exc:
        raise StepFailed(exc.message) from exc


def _step_interest(run: JourneyRun, step: dict[str, Any], now: datetime) -> Outcome:
    adding = "add" in step
    slug = str(step["add"] if adding else step["remove"])
    theme = Theme.objects.filter(organisation_id=run.organisation_id, slug=slug).first()
    if theme is None:
        raise StepFailed(_("there is no theme '%(slug)s' any more") % {"slug": slug})
    contact = Contact.objects.select_for_update().get(pk=run.contact_id)
    if adding:
        contact.interests.add(theme)
    else:
        contact.interests.remove(theme)
    audit_log(
        run.journey.organisation,
        "audience.contact.updated",
        label=f"journey {run.journey_id}",
        obj=contact,
        data={"fields": ["interests"], "journey_id": run.journey_id},
    )
    return Outcome("tagged", f"{'+' if adding else '-'}{slug}", step.get("next"))


def _step_task(run: JourneyRun, step: dict[str, Any], now: datetime) -> Outcome:
    assignee = assignee_of(run.organisation_id, step.get("assignee"))
    due_days = step.get("due_days")
    zone = organisation_zone(run.journey.organisation)
    task, created = StaffTask.objects.get_or_create(
        key=_key(run, step["id"]),
        defaults={
            "organisation_id": run.organisation_id,
            "contact_id": run.contact_id,
            "journey_id": run.journey_id,
            "title": str(step.get("title", ""))[:300],
            "notes": str(step.get("notes", "") or ""),
            "assignee": assignee,
            "due_on": (
                now.astimezone(zone).date() + timedelta(days=due_days)
                if isinstance(due_days, int)
                else None
            ),
        },
    )
    if created and step.get("notify") and assignee is not None:
        from publikum.journeys import engine_tasks

        task_id = task.pk
        transaction.on_commit(
            lambda: engine_tasks.notify_task.enqueue(task_id=task_id), robust=True
        )
    return Outcome("task", task.title, step.get("next"))


def task_notify(*, task_id: int) -> bool:
    """Mail a new task to its assignee, in their language. False if there is nobody."""
    task = (
        StaffTask.objects.select_related("assignee", "contact", "journey", "organisation")
        .filter(pk=task_id)
        .first()
    )
    if task is None or task.assignee is None or not task.assignee.is_active:
        return False
    organisation = task.organisation
    with translation.override(task.assignee.language):
        subject = _("New task: %(title)s") % {"title": task.title}
        lines = [_("A journey has created a task for you."), "", task.title]
        if task.notes:
            lines += ["", task.notes]
        lines.append("")
        if task.contact is not None and task.contact.erased_at is None:
            lines.append(_("Contact: %(name)s") % {"name": task.contact.display_name})
        if task.journey is not None:
            lines.append(_("Journey: %(name)s") % {"name": task.journey.name})
        if task.due_on is not None:
            lines.append(_("Due on: %(date)s") % {"date": task.due_on.strftime("%d.%m.%Y")})
    EmailMessage(
        subject,
        "\n".join(lines) + "\n",
        settings.DEFAULT_FROM_EMAIL,
        [task.assignee.email],
        headers={
            ORG_HEADER: organisation.slug,
            "Auto-Submitted": "auto-generated",
            "X-Publikum-Idempotency-Key": f"task-{task.pk}",
        },
    ).send()
    return True


def _webhook_payload(run: JourneyRun, step_id: str, now: datetime) -> dict[str, Any]:
    contact = run.contact
    return {
        "event": "journey.step",
        "journey": {"id": run.journey_id, "name": run.journey.name},
        "run": run.pk,
        "step": step_id,
        "contact": {
            "id": contact.pk,
            "email": contact.email,
            "first_name": contact.first_name,
            "last_name": contact.last_name,
            "language": contact.language,
        },
        "context": public_context(run.context),
        "at": now.isoformat(),
    }


def _step_webhook(run: JourneyRun, step: dict[str, Any], now: datetime) -> Outcome:
    url = str(step.get("url", ""))
    try:
        status = webhook_post(
            url=url,
            secret=webhook_secret(run.journey, step),
            payload=_webhook_payload(run, step["id"], now),
            delivery=_key(run, step["id"]),
        )
    except WebhookRefused as exc:
        raise StepFailed(str(exc)) from exc
    return Outcome("webhook", f"HTTP {status}", step.get("next"))


def split_side(run_id: int, step_id: str, percent_a: int) -> str:
    """Which way of a split a run takes ("a" or "b"): a hash of the run and the step, so the
    same run always takes the same way and the shares come out as set."""
    digest = hashlib.sha256(f"split:{run_id}:{step_id}".encode()).digest()
    return "a" if int.from_bytes(digest[:4], "big") % 100 < percent_a else "b"


def _step_split(run: JourneyRun, step: dict[str, Any], now: datetime) -> Outcome:
    side = split_side(run.pk, step["id"], int(step.get("percent_a", 50)))
    return Outcome(f"split_{side}", str(step.get("metric", "")), next=step.get(side))


def _step_end(run: JourneyRun, step: dict[str, Any], now: datetime) -> Outcome:
    return Outcome("ended")


_STEPS = {
    "wait": _step_wait,
    "email": _step_email,
    "branch": _step_branch,
    "tag": _step_tag,
    "interest": _step_interest,
    "task": _step_task,
    "webhook": _step_webhook,
    "split": _step_split,
    "end": _step_end,
}
