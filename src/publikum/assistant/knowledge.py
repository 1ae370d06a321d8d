"""Writes to the assistant's knowledge, shared by the staff pages and the API.

Every write checks its input here (clear messages per field, `ValidationFailed`), keeps
to one organisation (404 for another house's ids) and leaves an audit entry.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, time
from decimal import Decimal, InvalidOperation
from itertools import pairwise
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.http import Http404

from publikum.assistant.models import (
    AssistantSettings,
    HolidayRule,
    KnowledgeEntry,
    OpeningException,
    OpeningHours,
    PersonalTopic,
    PriceEntry,
    Topic,
)
from publikum.core.errors import Conflict, ValidationFailed
from publikum.core.models import ApiToken, Organisation, User
from publikum.core.services import audit_log

MAX_SPANS_PER_DAY = 3
MAX_ANSWER = 4000
MAX_PHRASE_LINES = 100
MAX_PHRASE_LINE = 200
MAX_SYNONYM_LINES = 500
MAX_SYNONYM_WORD = 60
MAX_PRICE = Decimal("99999.99")
KEY_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-_")

ENTRY_FIELDS = (
    "key",
    "topic",
    "question_de",
    "question_en",
    "answer_de",
    "answer_en",
    "phrases_de",
    "phrases_en",
    "active",
)


@dataclass(frozen=True)
class Actor:
    """Who writes: a staff user or an API token (or nobody: the system)."""

    user: User | None = None
    token: ApiToken | None = None


def _log(organisation: Organisation, action: str, actor: Actor, obj: Any, **data: Any) -> None:
    audit_log(organisation, action, actor=actor.user, token=actor.token, obj=obj, data=data)


class _Errors:
    """Collects field errors; `raise_if_any` raises one `ValidationFailed` naming them all."""

    def __init__(self) -> None:
        self.fields: dict[str, list[str]] = {}

    def add(self, field: str, message: str) -> None:
        self.fields.setdefault(field, []).append(message)

    def raise_if_any(self) -> None:
        if self.fields:
            summary = "; ".join(f"{k}: {' '.join(v)}" for k, v in self.fields.items())
            raise ValidationFailed(f"Please check: {summary}", fields=self.fields)


def _text(
    errors: _Errors,
    data: dict[str, Any],
    name: str,
    *,
    max_length: int,
    required: bool = False,
) -> str:
    value = data.get(name, "")
    if value is None:
        value = ""
    if not isinstance(value, str):
        errors.add(name, "Must be text.")
        return ""
    value = value.replace("\r\n", "\n").replace("\r", "\n").strip()
    if "\x00" in value:
        errors.add(name, "Contains a character that is not allowed.")
    if required and not value:
        errors.add(name, "This field is required.")
    if len(value) > max_length:
        errors.add(name, f"At most {max_length} characters (this has {len(value)}).")
    return value


def _lines(errors: _Errors, name: str, text: str, *, max_lines: int, max_line: int) -> str:
    lines = [line.strip() for line in text.splitlines()]
    lines = [line for line in lines if line]
    if len(lines) > max_lines:
        errors.add(name, f"At most {max_lines} lines (this has {len(lines)}).")
    for number, line in enumerate(lines, start=1):
        if len(line) > max_line:
            errors.add(name, f"Line {number} is longer than {max_line} characters.")
    return "\n".join(lines)


# --- knowledge entries ---------------------------------------------------------------------


def entry_list(
    *, organisation: Organisation, topic: str = "", query: str = "", active: bool | None = None
) -> QuerySet[KnowledgeEntry]:
    entries = KnowledgeEntry.objects.filter(organisation=organisation)
    if topic:
        entries = entries.filter(topic=topic)
    if active is not None:
        entries = entries.filter(active=active)
    for word in query.split()[:8]:
        entries = entries.filter(
            Q(question_de__icontains=word)
            | Q(question_en__icontains=word)
            | Q(answer_de__icontains=word)
            | Q(answer_en__icontains=word)
            | Q(phrases_de__icontains=word)
            | Q(phrases_en__icontains=word)
            | Q(key__icontains=word)
        )
    return entries.order_by("topic", "question_de", "pk")


def entry_get(*, organisation: Organisation, entry_id: int) -> KnowledgeEntry:
    entry = KnowledgeEntry.objects.filter(organisation=organisation, pk=entry_id).first()
    if entry is None:
        raise Http404("No such knowledge entry.")
    return entry


def _entry_field(errors: _Errors, data: dict[str, Any], name: str) -> Any:
    if name == "active":
        value = data.get("active", True)
        if not isinstance(value, bool):
            errors.add("active", "Must be true or false.")
        return bool(value)
    if name == "topic":
        topic = data.get("topic") or Topic.OTHER
        if topic not in Topic.values:
            errors.add("topic", f"Unknown topic; one of: {', '.join(Topic.values)}.")
        return topic
    if name == "key":
        key = _text(errors, data, "key", max_length=60).lower()
        if key and not set(key) <= KEY_CHARS:
            errors.add("key", "Use only lowercase letters, digits, hyphens and underscores.")
        return key
    if name.startswith("question"):
        return _text(errors, data, name, max_length=300, required=name.endswith("de"))
    if name.startswith("answer"):
        return _text(errors, data, name, max_length=MAX_ANSWER, required=name.endswith("de"))
    text = _text(errors, data, name, max_length=MAX_PHRASE_LINES * MAX_PHRASE_LINE)
    return _lines(errors, name, text, max_lines=MAX_PHRASE_LINES, max_line=MAX_PHRASE_LINE)


def entry_changes(
    organisation: Organisation, data: dict[str, Any], entry: KnowledgeEntry | None
) -> dict[str, Any]:
    """The checked values of the fields present in `data` (all of them for a new entry)."""
    errors = _Errors()
    fields: dict[str, Any] = {}
    creating = entry is None
    for name in ENTRY_FIELDS:
        if name in data or creating:
            fields[name] = _entry_field(errors, data, name)
    errors.raise_if_any()
    key = fields.get("key")
    if key:
        clash = KnowledgeEntry.objects.filter(organisation=organisation, key=key)
        if entry is not None:
            clash = clash.exclude(pk=entry.pk)
        if clash.exists():
            raise Conflict(
                f"Another entry has the key '{key}'.",
                fields={"key": ["Another entry has this key."]},
            )
    return fields


def _save_unique(obj: Any, message: str, field: str) -> None:
    try:
        with transaction.atomic():
            obj.save()
    except IntegrityError as exc:
        raise Conflict(message, fields={field: [message]}) from exc


@transaction.atomic
def entry_create(
    *, organisation: Organisation, data: dict[str, Any], actor: Actor = Actor()
) -> KnowledgeEntry:
    fields = entry_changes(organisation, data, None)
    entry = KnowledgeEntry(organisation=organisation, **fields)
    _save_unique(entry, "Another entry has this key.", "key")
    _log(organisation, "assistant.entry.created", actor, entry, key=entry.key, topic=entry.topic)
    return entry


@transaction.atomic
def entry_update(
    *, entry: KnowledgeEntry, data: dict[str, Any], actor: Actor = Actor()
) -> KnowledgeEntry:
    fields = entry_changes(entry.organisation, data, entry)
    for name, value in fields.items():
        setattr(entry, name, value)
    _save_unique(entry, "Another entry has this key.", "key")
    _log(entry.organisation, "assistant.entry.updated", actor, entry, fields=sorted(fields))
    return entry


@transaction.atomic
def entry_delete(*, entry: KnowledgeEntry, actor: Actor = Actor()) -> None:
    _log(entry.organisation, "assistant.entry.deleted", actor, entry, key=entry.key)
    entry.delete()


# --- opening hours -------------------------------------------------------------------------


def week_of(organisation: Organisation) -> list[list[tuple[time, time]]]:
    """The regular week: seven lists (Monday first) of (opens, closes) spans."""
    week: list[list[tuple[time, time]]] = [[] for _ in range(7)]
    for row in OpeningHours.objects.filter(organisation=organisation).order_by("weekday", "opens"):
        week[row.weekday].append((row.opens, row.closes))
    return week


def _check_spans(errors: _Errors, name: str, spans: list[tuple[time, time]]) -> None:
    if len(spans) > MAX_SPANS_PER_DAY:
        errors.add(name, f"At most {MAX_SPANS_PER_DAY} opening spans per day.")
    for opens, closes in spans:
        if closes <= opens:
            errors.add(name, f"Closes ({closes:%H:%M}) must be after opens ({opens:%H:%M}).")
    ordered = sorted(spans)
    for (_, first_closes), (second_opens, _) in pairwise(ordered):
        if second_opens < first_closes:
            errors.add(name, "The opening spans of a day overlap.")
            break


@transaction.atomic
def week_set(
    *,
    organisation: Organisation,
    week: list[list[tuple[time, time]]],
    actor: Actor = Actor(),
) -> list[list[tuple[time, time]]]:
    """Replace the regular week: `week` has seven lists (Monday first); empty = closed."""
    errors = _Errors()
    if len(week) != 7:
        errors.add("days", "Give exactly seven days, Monday first.")
        errors.raise_if_any()
    for day, spans in enumerate(week):
        _check_spans(errors, f"days.{day}", list(spans))
    errors.raise_if_any()
    OpeningHours.objects.filter(organisation=organisation).delete()
    OpeningHours.objects.bulk_create(
        OpeningHours(organisation=organisation, weekday=day, opens=opens, closes=closes)
        for day, spans in enumerate(week)
        for opens, closes in sorted(spans)
    )
    _log(
        organisation,
        "assistant.hours.updated",
        actor,
        organisation,
        days=[[f"{o:%H:%M}-{c:%H:%M}" for o, c in sorted(spans)] for spans in week],
    )
    return week_of(organisation)


# --- exceptions ----------------------------------------------------------------------------


def exception_get(*, organisation: Organisation, exception_id: int) -> OpeningException:
    row = OpeningException.objects.filter(organisation=organisation, pk=exception_id).first()
    if row is None:
        raise Http404("No such opening exception.")
    return row


def _exception_fields(data: dict[str, Any]) -> dict[str, Any]:
    errors = _Errors()
    day = data.get("date")
    if not isinstance(day, date):
        errors.add("date", "A date is required.")
    closed = bool(data.get("closed", True))
    opens, closes = data.get("opens"), data.get("closes")
    if closed:
        opens = closes = None
    else:
        if not isinstance(opens, time):
            errors.add("opens", "Give the opening time, or mark the day as closed.")
        if not isinstance(closes, time):
            errors.add("closes", "Give the closing time, or mark the day as closed.")
        if isinstance(opens, time) and isinstance(closes, time) and closes <= opens:
            errors.add("closes", "Must be after the opening time.")
    fields = {
        "date": day,
        "closed": closed,
        "opens": opens,
        "closes": closes,
        "note_de": _text(errors, data, "note_de", max_length=300),
        "note_en": _text(errors, data, "note_en", max_length=300),
    }
    errors.raise_if_any()
    return fields


_EXCEPTION_TAKEN = "There is already an exception for this date."


@transaction.atomic
def exception_create(
    *, organisation: Organisation, data: dict[str, Any], actor: Actor = Actor()
) -> OpeningException:
    fields = _exception_fields(data)
    if OpeningException.objects.filter(organisation=organisation, date=fields["date"]).exists():
        raise Conflict(_EXCEPTION_TAKEN, fields={"date": [_EXCEPTION_TAKEN]})
    row = OpeningException(organisation=organisation, **fields)
    _save_unique(row, _EXCEPTION_TAKEN, "date")
    _log(organisation, "assistant.exception.created", actor, row, date=row.date.isoformat())
    return row


@transaction.atomic
def exception_update(
    *, row: OpeningException, data: dict[str, Any], actor: Actor = Actor()
) -> OpeningException:
    merged = {
        "date": row.date,
        "closed": row.closed,
        "opens": row.opens,
        "closes": row.closes,
        "note_de": row.note_de,
        "note_en": row.note_en,
        **data,
    }
    fields = _exception_fields(merged)
    clash = OpeningException.objects.filter(organisation=row.organisation, date=fields["date"])
    if clash.exclude(pk=row.pk).exists():
        raise Conflict(_EXCEPTION_TAKEN, fields={"date": [_EXCEPTION_TAKEN]})
    for name, value in fields.items():
        setattr(row, name, value)
    _save_unique(row, _EXCEPTION_TAKEN, "date")
    _log(row.organisation, "assistant.exception.updated", actor, row, date=row.date.isoformat())
    return row


@transaction.atomic
def exception_delete(*, row: OpeningException, actor: Actor = Actor()) -> None:
    _log(row.organisation, "assistant.exception.deleted", actor, row, date=row.date.isoformat())
    row.delete()


# --- prices --------------------------------------------------------------------------------


def price_get(*, organisation: Organisation, price_id: int) -> PriceEntry:
    row = PriceEntry.objects.filter(organisation=organisation, pk=price_id).first()
    if row is None:
        raise Http404("No such price.")
    return row


def _amount(errors: _Errors, raw: Any) -> Decimal | None:
    try:
        amount = Decimal(str(raw)) if raw is not None and raw != "" else None
    except InvalidOperation:
        amount = None
    if amount is None or not amount.is_finite():
        errors.add("amount_eur", "Give the amount in euros, e.g. 9 or 6.50 (0 for free).")
    elif amount < 0:
        errors.add("amount_eur", "The amount cannot be negative.")
    elif amount > MAX_PRICE:
        errors.add("amount_eur", f"At most {MAX_PRICE} euros.")
    elif amount != amount.quantize(Decimal("0.01")):
        errors.add("amount_eur", "At most two decimal places.")
    else:
        return amount.quantize(Decimal("0.01"))
    return None


def _price_fields(data: dict[str, Any], *, partial: bool) -> dict[str, Any]:
    errors = _Errors()
    fields: dict[str, Any] = {}
    for name, length, required in (
        ("label_de", 200, True),
        ("label_en", 200, False),
        ("note_de", 300, False),
        ("note_en", 300, False),
    ):
        if name in data or not partial:
            fields[name] = _text(errors, data, name, max_length=length, required=required)
    if "amount_eur" in data or not partial:
        amount = _amount(errors, data.get("amount_eur"))
        if amount is not None:
            fields["amount_eur"] = amount
    if "position" in data or not partial:
        position = data.get("position", 0)
        if position is None:
            position = 0
        if not isinstance(position, int) or isinstance(position, bool) or not 0 <= position <= 9999:
            errors.add("position", "A whole number from 0 to 9999.")
        else:
            fields["position"] = position
    errors.raise_if_any()
    return fields


@transaction.atomic
def price_create(
    *, organisation: Organisation, data: dict[str, Any], actor: Actor = Actor()
) -> PriceEntry:
    fields = _price_fields(data, partial=False)
    row = PriceEntry.objects.create(organisation=organisation, **fields)
    _log(organisation, "assistant.price.created", actor, row, label=row.label_de)
    return row


@transaction.atomic
def price_update(*, row: PriceEntry, data: dict[str, Any], actor: Actor = Actor()) -> PriceEntry:
    fields = _price_fields(data, partial=True)
    for name, value in fields.items():
        setattr(row, name, value)
    row.save()
    _log(row.organisation, "assistant.price.updated", actor, row, fields=sorted(fields))
    return row


@transaction.atomic
def price_delete(*, row: PriceEntry, actor: Actor = Actor()) -> None:
    _log(row.organisation, "assistant.price.deleted", actor, row, label=row.label_de)
    row.delete()


# --- personal topics -----------------------------------------------------------------------


def topic_get(*, organisation: Organisation, topic_id: int) -> PersonalTopic:
    row = PersonalTopic.objects.filter(organisation=organisation, pk=topic_id).first()
    if row is None:
        raise Http404("No such personal topic.")
    return row


def _topic_fields(data: dict[str, Any]) -> dict[str, Any]:
    errors = _Errors()
    fields = {
        "name_de": _text(errors, data, "name_de", max_length=100, required=True),
        "name_en": _text(errors, data, "name_en", max_length=100),
    }
    phrases = _text(errors, data, "phrases", max_length=20000, required=True)
    fields["phrases"] = _lines(errors, "phrases", phrases, max_lines=200, max_line=100)
    errors.raise_if_any()
    return fields


@transaction.atomic
def topic_create(
    *, organisation: Organisation, data: dict[str, Any], actor: Actor = Actor()
) -> PersonalTopic:
    row = PersonalTopic.objects.create(organisation=organisation, **_topic_fields(data))
    _log(organisation, "assistant.topic.created", actor, row, name=row.name_de)
    return row


@transaction.atomic
def topic_update(
    *, row: PersonalTopic, data: dict[str, Any], actor: Actor = Actor()
) -> PersonalTopic:
    for name, value in _topic_fields(data).items():
        setattr(row, name, value)
    row.save()
    _log(row.organisation, "assistant.topic.updated", actor, row, name=row.name_de)
    return row


@transaction.atomic
def topic_delete(*, row: PersonalTopic, actor: Actor = Actor()) -> None:
    _log(row.organisation, "assistant.topic.deleted", actor, row, name=row.name_de)
    row.delete()


# --- settings ------------------------------------------------------------------------------


def settings_of(organisation: Organisation) -> AssistantSettings:
    settings, _ = AssistantSettings.objects.get_or_create(organisation=organisation)
    return settings


SYNONYM_PROBLEMS = {
    "lines": "At most %(max)s lines.",
    "empty": "Line %(line)s: an empty word between commas.",
    "single": "Line %(line)s: a group needs at least two words, separated by commas.",
    "long": "Line %(line)s: a word is longer than %(max)s characters.",
    "twice": "Line %(line)s: a word appears twice.",
}


def synonym_problems(text: str) -> list[tuple[str, dict[str, int]]]:
    """Problems of a synonyms text as (code, values), one per bad line; codes index
    `SYNONYM_PROBLEMS`. One group per line, words separated by commas, at least two words;
    lines starting with # are comments."""
    problems: list[tuple[str, dict[str, int]]] = []
    lines = text.splitlines()
    if len([line for line in lines if line.strip()]) > MAX_SYNONYM_LINES:
        problems.append(("lines", {"max": MAX_SYNONYM_LINES}))
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        words = [w.strip() for w in line.split(",")]
        if any(not w for w in words):
            problems.append(("empty", {"line": number}))
        elif len(words) < 2:
            problems.append(("single", {"line": number}))
        elif any(len(w) > MAX_SYNONYM_WORD for w in words):
            problems.append(("long", {"line": number, "max": MAX_SYNONYM_WORD}))
        elif len({w.casefold() for w in words}) < len(words):
            problems.append(("twice", {"line": number}))
    return problems


def synonym_errors(text: str) -> list[str]:
    """The problems as English messages (the API's language)."""
    return [SYNONYM_PROBLEMS[code] % values for code, values in synonym_problems(text)]


def synonym_groups(text: str) -> Iterable[list[str]]:
    for raw in text.splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            yield [w.strip() for w in line.split(",") if w.strip()]


SETTINGS_TEXT = {
    "greeting_de": (300, False),
    "greeting_en": (300, False),
    "reply_time_de": (200, True),
    "reply_time_en": (200, True),
}
# The fields only managers and owners change: whether the assistant answers, and how it
# greets.
MANAGER_FIELDS = frozenset({"enabled", "greeting_de", "greeting_en"})


@transaction.atomic
def settings_update(
    *, organisation: Organisation, data: dict[str, Any], actor: Actor = Actor()
) -> AssistantSettings:
    """Change the keys present in `data` (enabled, greetings, reply times, synonyms,
    holiday_rule). The threshold is set by the calibration only."""
    settings = settings_of(organisation)
    errors = _Errors()
    fields: dict[str, Any] = {}
    for name, (length, required) in SETTINGS_TEXT.items():
        if name in data:
            fields[name] = _text(errors, data, name, max_length=length, required=required)
    if "synonyms" in data:
        text = _text(errors, data, "synonyms", max_length=50000)
        for problem in synonym_errors(text):
            errors.add("synonyms", problem)
        fields["synonyms"] = "\n".join(line.strip() for line in text.splitlines() if line.strip())
    if "holiday_rule" in data:
        if data["holiday_rule"] not in HolidayRule.values:
            errors.add("holiday_rule", f"One of: {', '.join(HolidayRule.values)}.")
        fields["holiday_rule"] = data["holiday_rule"]
    if "enabled" in data:
        if not isinstance(data["enabled"], bool):
            errors.add("enabled", "Must be true or false.")
        fields["enabled"] = bool(data["enabled"])
    errors.raise_if_any()
    changed = sorted(name for name, value in fields.items() if getattr(settings, name) != value)
    for name, value in fields.items():
        setattr(settings, name, value)
    settings.save()
    if changed:
        _log(organisation, "assistant.settings.updated", actor, settings, fields=changed)
    return settings
