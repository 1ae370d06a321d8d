"""Reading a journey definition: step types, targets, the time a wait ends."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings

from publikum.audience.models import Segment
from publikum.core.models import Membership, Organisation, User
from publikum.journeys.models import EmailTemplate, Journey

STEP_TYPES = ("wait", "branch", "email", "tag", "interest", "task", "webhook", "split", "end")
# The keys of a step that name the step after it; "next" may be left out (= the end).
TARGETS: dict[str, tuple[str, ...]] = {
    "wait": ("next",),
    "email": ("next",),
    "tag": ("next",),
    "interest": ("next",),
    "task": ("next",),
    "webhook": ("next",),
    "branch": ("yes", "no"),
    "split": ("a", "b"),
    "end": (),
}
STEP_ID = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
MAX_STEPS = 200  # in one definition
MAX_WAIT_DAYS = 366
MAX_TAG_LENGTH = 50

# Steps one run may take in one pass without reaching a wait. Validation refuses loops
# without a wait; this guard stops a run of a definition that slipped past it.
MAX_STEPS_PER_PASS = 50
# Runs claimed per transaction: small, so that a slow step (a webhook) holds few rows.
CLAIM_BATCH = 10
# A step that raises is tried again after these delays, then the run fails.
RETRY_DELAYS = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=30))
ATTEMPTS_KEY = "_attempts"  # in the run's context, engine-private (not passed to mails)
END = ""  # step_id of a run whose last wait leads nowhere: it ends when due

WEBHOOK_TIMEOUT = (3.0, 5.0)  # connect, read (seconds)
SIGNATURE_HEADER = "X-Publikum-Signature"
DELIVERY_HEADER = "X-Publikum-Delivery"


def allow_private() -> bool:
    """Whether webhooks may go to http and private addresses (tests, closed networks)."""
    return bool(getattr(settings, "JOURNEYS_WEBHOOK_ALLOW_PRIVATE", False))


def organisation_zone(organisation: Organisation) -> ZoneInfo:
    try:
        return ZoneInfo(organisation.timezone or settings.TIME_ZONE)
    except (KeyError, ValueError):
        return ZoneInfo(settings.TIME_ZONE)


# --- reading a definition --------------------------------------------------------------------


def steps_of(definition: Any) -> dict[str, dict[str, Any]]:
    """The steps of a definition by id, read leniently (validation reports what is wrong)."""
    if not isinstance(definition, dict) or not isinstance(definition.get("steps"), list):
        return {}
    return {
        step["id"]: step
        for step in definition["steps"]
        if isinstance(step, dict) and isinstance(step.get("id"), str)
    }


def targets_of(step: dict[str, Any]) -> list[str]:
    """The ids a step leads to, in the order of its keys."""
    return [
        str(step[key])
        for key in TARGETS.get(str(step.get("type")), ())
        if isinstance(step.get(key), str) and step.get(key)
    ]


def duration_of(duration: dict[str, Any]) -> timedelta:
    """A wait's {"days", "hours", "minutes"} as a plain length of time."""
    return timedelta(
        days=int(duration.get("days", 0) or 0),
        hours=int(duration.get("hours", 0) or 0),
        minutes=int(duration.get("minutes", 0) or 0),
    )


def wait_until(step: dict[str, Any], now: datetime, zone: ZoneInfo) -> datetime:
    """When a wait that starts at `now` ends.

    Days count on the wall clock of the house (a day across a change of summer time is
    23 or 25 hours: "wait a day" from 10:00 ends at 10:00); hours and minutes are
    absolute. "until" is the next moment after `now` at that local time (and weekday).
    A local time that does not exist (skipped by the spring change) ends an hour later.
    """
    if "duration" in step:
        duration = step["duration"]
        local = now.astimezone(zone).replace(tzinfo=None)
        days = timedelta(days=int(duration.get("days", 0) or 0))
        wall = (local + days).replace(tzinfo=zone)
        rest = duration_of({**duration, "days": 0})
        return _normalised(wall) + rest
    until = step["until"]
    hours, minutes = (int(part) for part in str(until["time"]).split(":"))
    weekday = until.get("weekday")
    local_day = now.astimezone(zone).date()
    for offset in range(9):
        day = local_day + timedelta(days=offset)
        if weekday is not None and day.weekday() != weekday:
            continue
        candidate = _normalised(datetime.combine(day, time(hours, minutes), tzinfo=zone))
        if candidate > now:
            return candidate
    raise AssertionError("a weekday recurs within a week")


def _normalised(moment: datetime) -> datetime:
    """A wall-clock time as an instant in UTC. A local time in the gap of the spring change
    (fold=0, PEP 495) takes the offset from before the gap, i.e. it ends an hour later on
    the clock; a time that occurs twice in autumn is the first of the two."""
    return moment.astimezone(UTC)


def public_context(context: Any) -> dict[str, Any]:
    """A run's context without the engine's own keys: what a mail's renderer gets."""
    if not isinstance(context, dict):
        return {}
    return {k: v for k, v in context.items() if not str(k).startswith("_")}


def public_config(journey: Journey) -> dict[str, Any]:
    """The trigger's settings without the engine's own keys ("_cursor", "_day")."""
    config = journey.trigger_config if isinstance(journey.trigger_config, dict) else {}
    return {k: v for k, v in config.items() if not k.startswith("_")}


def assignee_of(organisation_id: int, email: Any) -> User | None:
    """The active member of staff of this house with this address (tasks are for them)."""
    if not isinstance(email, str) or not email:
        return None
    member = (
        Membership.objects.filter(organisation_id=organisation_id, user__email__iexact=email)
        .select_related("user")
        .first()
    )
    return member.user if member is not None and member.user.is_active else None


def _id(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def step_horizon(step: dict[str, Any]) -> float | None:
    """An email step's horizon for the "for you" blocks of its mail (0 = only the familiar,
    1 = mostly new); None when it has none, or one outside 0..1 (validation refuses that;
    a run of a definition that slipped past gets the house's dial)."""
    value = step.get("horizon")
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if 0 <= value <= 1 else None


def template_of(organisation_id: int, step: dict[str, Any]) -> EmailTemplate | None:
    """The mail template an email step names, if it exists in this house."""
    template_id = _id(step.get("template"))
    if template_id is None:
        return None
    return EmailTemplate.objects.filter(organisation_id=organisation_id, pk=template_id).first()


def segment_of(journey: Journey) -> Segment | None:
    """The segment a journey's "entered a segment" trigger names, if it exists in this house."""
    segment_id = _id(public_config(journey).get("segment"))
    if segment_id is None:
        return None
    return Segment.objects.filter(organisation_id=journey.organisation_id, pk=segment_id).first()
