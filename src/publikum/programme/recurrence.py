"""Series of dates: a recurrence rule, expanded with python-dateutil in local time.

The rule is expanded on the wall clock of the organisation's time zone and each date is
given that zone afterwards, so that "every Sunday at 11:00" stays 11:00 local time across
a change to or from daylight saving time (its UTC time moves by an hour instead).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from itertools import islice
from typing import Any
from zoneinfo import ZoneInfo

from dateutil import rrule as du  # type: ignore[import-untyped]

from publikum.core.errors import ValidationFailed

# A rule that yields more dates than this is almost certainly a typo ("until 2062").
MAX_DATES_PER_RULE = 366
MAX_INTERVAL = 52

FREQUENCIES = {"daily": du.DAILY, "weekly": du.WEEKLY, "monthly": du.MONTHLY}


@dataclass(frozen=True)
class RecurrenceRule:
    """How dates repeat: `freq` "daily", "weekly" or "monthly", every `interval` days,
    weeks or months; for weekly rules on `weekdays` (0 = Monday ... 6 = Sunday; empty: the
    weekday of the first date); ending on `until` (a date, inclusive, local time) or after
    `count` dates. Exactly one of `until` and `count` is given."""

    freq: str
    interval: int = 1
    weekdays: list[int] = field(default_factory=list)
    until: date | None = None
    count: int | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RecurrenceRule:
        """Build a rule from plain values (API bodies, forms); `until` may be ISO text."""
        until = data.get("until")
        if isinstance(until, str) and until:
            try:
                until = date.fromisoformat(until)
            except ValueError as exc:
                raise ValidationFailed(
                    "The end of the series is not a date (YYYY-MM-DD).",
                    fields={"until": ["a date as YYYY-MM-DD"]},
                ) from exc
        return cls(
            freq=str(data.get("freq", "")),
            interval=data.get("interval") or 1,
            weekdays=list(data.get("weekdays") or []),
            until=until or None,
            count=data.get("count"),
        )


def _check_rule(rule: RecurrenceRule, first_local: datetime) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if rule.freq not in FREQUENCIES:
        errors["freq"] = [f"one of {', '.join(FREQUENCIES)}"]
    interval = rule.interval
    if isinstance(interval, bool) or not isinstance(interval, int) or interval < 1:
        errors["interval"] = ["a whole number of at least 1"]
    elif interval > MAX_INTERVAL:
        errors["interval"] = [f"at most {MAX_INTERVAL}"]
    bad_days = [d for d in rule.weekdays if isinstance(d, bool) or d not in range(7)]
    if bad_days:
        errors["weekdays"] = ["weekdays are 0 (Monday) to 6 (Sunday)"]
    elif rule.weekdays and rule.freq != "weekly":
        errors["weekdays"] = ["weekdays only go with a weekly rule"]
    if (rule.until is None) == (rule.count is None):
        errors["until"] = ["give either an end date or a number of dates"]
    elif rule.until is not None:
        if not isinstance(rule.until, date) or isinstance(rule.until, datetime):
            errors["until"] = ["a date"]
        elif rule.until < first_local.date():
            errors["until"] = ["before the first date"]
    else:
        count = rule.count
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            errors["count"] = ["a whole number of at least 1"]
        elif count > MAX_DATES_PER_RULE:
            errors["count"] = [f"at most {MAX_DATES_PER_RULE} dates per series"]
    return errors


def expand(
    *, first_start: datetime, duration: timedelta, rule: RecurrenceRule, zone: ZoneInfo
) -> list[tuple[datetime, datetime]]:
    """The (start, end) pairs of a series, aware in `zone`; raise ValidationFailed for a
    bad rule or one that yields more than MAX_DATES_PER_RULE dates."""
    if first_start.tzinfo is None:
        first_start = first_start.replace(tzinfo=zone)
    first_local = first_start.astimezone(zone).replace(tzinfo=None)
    errors = _check_rule(rule, first_local)
    if duration < timedelta(0):
        errors["duration"] = ["cannot be negative"]
    if errors:
        summary = "; ".join(f"{k}: {', '.join(v)}" for k, v in errors.items())
        raise ValidationFailed(f"The series of dates is not valid ({summary}).", fields=errors)
    weekdays = sorted(set(rule.weekdays)) if rule.freq == "weekly" and rule.weekdays else None
    starts = du.rrule(
        FREQUENCIES[rule.freq],
        dtstart=first_local,
        interval=rule.interval,
        byweekday=weekdays,
        until=datetime.combine(rule.until, time.max) if rule.until else None,
        count=rule.count,
    )
    local_starts = list(islice(starts, MAX_DATES_PER_RULE + 1))
    if len(local_starts) > MAX_DATES_PER_RULE:
        raise ValidationFailed(
            f"This series would create more than {MAX_DATES_PER_RULE} dates; "
            "choose an earlier end date or split it into several series.",
            fields={"until": [f"at most {MAX_DATES_PER_RULE} dates per series"]},
        )
    pairs = []
    for local in local_starts:
        # Attach the zone to the wall-clock time; a time that does not exist (the hour
        # skipped in spring) is normalised by the round trip through UTC.
        start = local.replace(tzinfo=zone).astimezone(ZoneInfo("UTC")).astimezone(zone)
        end = (local + duration).replace(tzinfo=zone)
        end = end.astimezone(ZoneInfo("UTC")).astimezone(zone)
        pairs.append((start, max(start, end)))
    return pairs
