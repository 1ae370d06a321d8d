"""Evaluation cases: loading and checking a YAML file.

A file is a list of cases (or a mapping with the list under `cases:`). A case that is not
understood is reported with its position and id and skipped; the others run. The format is
described in docs/assistant-evaluation.md.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from publikum.assistant.evaluation import dates
from publikum.assistant.nlu import intents as nlu_intents
from publikum.conversations.models import HandoffReason
from publikum.programme.models import AccessibilityFeature, ItemKind, TargetGroup

LANGUAGES = ("de", "en", "other")
# The engine's and the programme's own lists: a case file names the same values.
INTENTS = nlu_intents.INTENTS
HANDOFF_REASONS = tuple(reason for reason in HandoffReason.values if reason)
KINDS = tuple(ItemKind.values)
TARGET_GROUPS = tuple(TargetGroup.values)
ACCESSIBILITY = tuple(AccessibilityFeature.values)

QUESTION_KEYS = {"id", "language", "text", "before", "expect", "category", "note"}
DIALOGUE_KEYS = {"id", "language", "turns", "pick", "expect_booking", "category", "note"}
EXPECT_KINDS = ("knowledge", "intent", "events", "handoff")
EVENT_FILTER_KEYS = {"kind", "target_group", "accessibility", "theme", "weekday", "when", "none"}
PICK_KEYS = {"kind", "target_group", "accessibility", "theme", "title_contains", "when", "weekday"}
BOOKING_KEYS = {"item", "kind", "date", "weekday", "quantity", "categories", "email", "name"}
# Placeholders a dialogue turn may use when the case picks a real date (`pick:`).
PLACEHOLDERS = {"title", "date_de", "date_en", "time_de", "time_en", "day", "category"}


class CaseFileError(Exception):
    """The file as a whole cannot be read (missing, not YAML, not a list of cases)."""


@dataclass
class Case:
    id: str
    language: str
    category: str
    position: int  # 1-based position in the file

    @property
    def is_dialogue(self) -> bool:
        return isinstance(self, DialogueCase)

    @property
    def wants_handoff(self) -> bool:
        return False


@dataclass
class QuestionCase(Case):
    text: str
    expect: dict[str, Any]
    before: list[str] = field(default_factory=list)

    @property
    def expect_kind(self) -> str:
        return next(k for k in EXPECT_KINDS if k in self.expect)

    @property
    def wants_handoff(self) -> bool:
        return bool(self.expect.get("handoff"))


@dataclass
class DialogueCase(Case):
    turns: list[str]
    expect_booking: dict[str, Any] | None
    pick: dict[str, Any] | None = None


@dataclass(frozen=True)
class CaseError:
    position: int
    case_id: str
    message: str

    def __str__(self) -> str:
        name = f" ({self.case_id})" if self.case_id else ""
        return f"case {self.position}{name}: {self.message}"


class _Invalid(Exception):
    pass


def load(path: Path) -> tuple[list[Case], list[CaseError]]:
    """The valid cases of the file and one error per invalid case; CaseFileError when the
    file cannot be read at all."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CaseFileError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CaseFileError(f"{path}: cannot be read ({exc})") from None
    return parse(text, source=str(path))


def parse(text: str, *, source: str = "<cases>") -> tuple[list[Case], list[CaseError]]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        where = ""
        mark = getattr(exc, "problem_mark", None)
        if mark is not None:
            where = f" at line {mark.line + 1}, column {mark.column + 1}"
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise CaseFileError(f"{source}: not valid YAML{where}: {problem}") from None
    if isinstance(data, dict) and set(data) <= {"cases"} and "cases" in data:
        data = data["cases"]
    if not isinstance(data, list):
        raise CaseFileError(
            f"{source}: expected a list of cases (or a mapping with 'cases:'), "
            f"found {type(data).__name__}"
        )
    cases: list[Case] = []
    errors: list[CaseError] = []
    seen: set[str] = set()
    for position, raw in enumerate(data, start=1):
        case_id = str(raw.get("id", "")) if isinstance(raw, dict) else ""
        try:
            case = _case(raw, position)
            if case.id in seen:
                raise _Invalid(f"the id {case.id!r} is used by an earlier case")
            seen.add(case.id)
            cases.append(case)
        except _Invalid as exc:
            errors.append(CaseError(position, case_id, str(exc)))
    return cases, errors


def _case(raw: Any, position: int) -> Case:
    if not isinstance(raw, dict):
        raise _Invalid(f"expected a mapping with id, language and text or turns, not {raw!r}")
    dialogue = "turns" in raw or "expect_booking" in raw
    allowed = DIALOGUE_KEYS if dialogue else QUESTION_KEYS
    unknown = sorted(set(map(str, raw)) - allowed)
    if unknown:
        raise _Invalid(
            f"unknown key{'s' if len(unknown) > 1 else ''} {', '.join(unknown)} "
            f"(a {'dialogue' if dialogue else 'question'} case has {', '.join(sorted(allowed))})"
        )
    case_id = raw.get("id")
    if not isinstance(case_id, str | int) or not str(case_id).strip():
        raise _Invalid("missing id")
    case_id = str(case_id).strip()
    language = raw.get("language")
    if language not in LANGUAGES:
        raise _Invalid(f"language must be one of {', '.join(LANGUAGES)}, not {language!r}")
    category = raw.get("category")
    if category is not None and not isinstance(category, str):
        raise _Invalid("category must be a text")
    if dialogue:
        return _dialogue(raw, case_id, language, category, position)
    return _question(raw, case_id, language, category, position)


def _text(value: Any, what: str) -> str:
    bad_type = not isinstance(value, str | int | float) or isinstance(value, bool)
    if bad_type or not str(value).strip():
        raise _Invalid(f"missing {what}")
    return str(value)


def _choice(value: Any, allowed: tuple[str, ...], what: str) -> str:
    if value not in allowed:
        raise _Invalid(f"{what} must be one of {', '.join(allowed)}, not {value!r}")
    return str(value)


def _weekday(value: Any, what: str) -> str:
    text = str(value).strip().lower()
    if text not in dates.WEEKDAYS:
        raise _Invalid(f"{what} must be a weekday name (monday .. sunday), not {value!r}")
    return text


def _expression(value: Any, what: str) -> str:
    if not isinstance(value, str | int) and not hasattr(value, "isoformat"):
        raise _Invalid(f"{what} must be a date or a date expression, not {value!r}")
    text = value.isoformat() if hasattr(value, "isoformat") else str(value)
    problem = dates.check(text)
    if problem:
        raise _Invalid(f"{what}: {problem}")
    return text


def _question(
    raw: dict[str, Any], case_id: str, language: str, category: str | None, position: int
) -> QuestionCase:
    text = _text(raw.get("text"), "text")
    before = raw.get("before") or []
    if not isinstance(before, list) or not all(isinstance(t, str) and t.strip() for t in before):
        raise _Invalid("before must be a list of texts sent earlier in the conversation")
    expect = raw.get("expect")
    if not isinstance(expect, dict) or not expect:
        raise _Invalid(
            "missing expect (one of knowledge: KEY, intent: NAME, events: {...}, handoff: true)"
        )
    kinds = [k for k in EXPECT_KINDS if k in expect]
    if len(kinds) != 1:
        raise _Invalid(
            "expect needs exactly one of knowledge, intent, events, handoff; found "
            + (", ".join(kinds) or "none")
        )
    kind = kinds[0]
    allowed = {"knowledge": {"knowledge"}, "intent": {"intent", "day"}, "events": {"events"}}
    allowed["handoff"] = {"handoff", "reason"}
    extra = sorted(set(map(str, expect)) - allowed[kind])
    if extra:
        raise _Invalid(f"expect: unknown key {', '.join(extra)} with {kind}")
    clean: dict[str, Any] = {}
    if kind == "knowledge":
        clean["knowledge"] = _text(expect["knowledge"], "knowledge entry key")
    elif kind == "intent":
        clean["intent"] = _choice(expect["intent"], INTENTS, "expect intent")
        if "day" in expect:
            if clean["intent"] != "opening_hours":
                raise _Invalid("expect day is only checked with intent opening_hours")
            clean["day"] = _expression(expect["day"], "expect day")
    elif kind == "events":
        clean["events"] = _event_filter(expect["events"])
    else:
        if expect["handoff"] is not True:
            raise _Invalid("expect handoff must be true (a case that needs a person)")
        clean["handoff"] = True
        if "reason" in expect:
            clean["reason"] = _choice(expect["reason"], HANDOFF_REASONS, "expect reason")
    return QuestionCase(
        id=case_id,
        language=language,
        category=category or _category(clean),
        position=position,
        text=text,
        expect=clean,
        before=[str(t) for t in before],
    )


def _category(expect: dict[str, Any]) -> str:
    if "knowledge" in expect:
        return "knowledge"
    if "events" in expect:
        return "programme"
    if "handoff" in expect:
        return "handoff"
    intent = str(expect["intent"])
    return "opening_hours" if intent == "opening_hours" else intent


def _event_filter(value: Any) -> dict[str, Any]:
    if value is None:
        value = {}
    if not isinstance(value, dict):
        raise _Invalid("expect events must be a mapping (kind, target_group, ...)")
    extra = sorted(set(map(str, value)) - EVENT_FILTER_KEYS)
    if extra:
        raise _Invalid(
            f"expect events: unknown key {', '.join(extra)} "
            f"(allowed: {', '.join(sorted(EVENT_FILTER_KEYS))})"
        )
    out: dict[str, Any] = {}
    # kind, target_group and accessibility take one value or a list (any of them fits).
    for key, allowed in (
        ("kind", KINDS),
        ("target_group", TARGET_GROUPS),
        ("accessibility", ACCESSIBILITY),
    ):
        if key in value:
            given = value[key] if isinstance(value[key], list) else [value[key]]
            if not given:
                raise _Invalid(f"events {key} is empty")
            out[key] = [_choice(v, allowed, f"events {key}") for v in given]
    if "theme" in value:
        out["theme"] = _text(value["theme"], "events theme")
    if "weekday" in value:
        out["weekday"] = _weekday(value["weekday"], "events weekday")
    if "when" in value:
        out["when"] = _expression(value["when"], "events when")
    if "none" in value:
        if not isinstance(value["none"], bool):
            raise _Invalid("events none must be true or false")
        out["none"] = value["none"]
    return out


def _dialogue(
    raw: dict[str, Any], case_id: str, language: str, category: str | None, position: int
) -> DialogueCase:
    turns = raw.get("turns")
    if not isinstance(turns, list) or not turns:
        raise _Invalid("missing turns (the visitor's messages, in order)")
    texts = [_text(t, f"text of turn {n}") for n, t in enumerate(turns, start=1)]
    pick = raw.get("pick")
    if pick is not None:
        if not isinstance(pick, dict):
            raise _Invalid("pick must be a mapping (kind, target_group, when, ...)")
        extra = sorted(set(map(str, pick)) - PICK_KEYS)
        if extra:
            raise _Invalid(
                f"pick: unknown key {', '.join(extra)} (allowed: {', '.join(sorted(PICK_KEYS))})"
            )
        pick = _event_filter({k: v for k, v in pick.items() if k != "title_contains"}) | (
            {"title_contains": _text(pick["title_contains"], "pick title_contains")}
            if "title_contains" in pick
            else {}
        )
    for n, text in enumerate(texts, start=1):
        names = {f for _, f, _, _ in string.Formatter().parse(text) if f is not None}
        unknown = sorted(names - PLACEHOLDERS)
        if unknown:
            raise _Invalid(
                f"turn {n}: unknown placeholder {{{unknown[0]}}} "
                f"(allowed: {', '.join(sorted(PLACEHOLDERS))})"
            )
        if names and pick is None:
            raise _Invalid(f"turn {n} uses {{{sorted(names)[0]}}} but the case has no pick")
    if "expect_booking" not in raw:
        raise _Invalid("missing expect_booking (the booking, or null when it is cancelled)")
    expected = raw["expect_booking"]
    if expected is not None:
        expected = _booking(expected, pick)
    return DialogueCase(
        id=case_id,
        language=language,
        category=category or ("booking" if expected is not None else "booking_cancelled"),
        position=position,
        turns=texts,
        expect_booking=expected,
        pick=pick,
    )


_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$", re.IGNORECASE)


def _booking(value: Any, pick: dict[str, Any] | None) -> dict[str, Any]:  # noqa: PLR0912
    if not isinstance(value, dict):
        raise _Invalid("expect_booking must be a mapping (quantity, email, ...) or null")
    extra = sorted(set(map(str, value)) - BOOKING_KEYS)
    if extra:
        raise _Invalid(
            f"expect_booking: unknown key {', '.join(extra)} "
            f"(allowed: {', '.join(sorted(BOOKING_KEYS))})"
        )
    out: dict[str, Any] = {}
    quantity = value.get("quantity")
    if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 1:
        raise _Invalid(f"expect_booking quantity must be a whole number from 1, not {quantity!r}")
    out["quantity"] = quantity
    email = value.get("email")
    if not isinstance(email, str) or not _EMAIL.match(email):
        raise _Invalid(f"expect_booking email must be an e-mail address, not {email!r}")
    out["email"] = email.lower()
    if "name" in value:
        out["name"] = _text(value["name"], "expect_booking name")
    if "kind" in value:
        out["kind"] = _choice(value["kind"], KINDS, "expect_booking kind")
    if "item" in value:
        out["item"] = _text(value["item"], "expect_booking item")
    if "date" in value:
        out["date"] = (
            "picked" if value["date"] == "picked" else _expression(value["date"], "expect date")
        )
    if "weekday" in value:
        out["weekday"] = _weekday(value["weekday"], "expect_booking weekday")
    if (out.get("item") == "picked" or out.get("date") == "picked") and pick is None:
        raise _Invalid("expect_booking refers to the picked date but the case has no pick")
    categories = value.get("categories")
    if categories is not None:
        if not isinstance(categories, dict) or not categories:
            raise _Invalid("expect_booking categories must map a category name to a number")
        for name, count in categories.items():
            if not isinstance(count, int) or isinstance(count, bool) or count < 1:
                raise _Invalid(f"expect_booking categories: {name!r} needs a number from 1")
        if sum(categories.values()) != quantity:
            raise _Invalid("expect_booking categories do not add up to the quantity")
        out["categories"] = {str(k): int(v) for k, v in categories.items()}
    return out
