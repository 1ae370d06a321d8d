"""Segments: a JSON rule tree, validated, compiled to one SQL query over the contacts.

The format is documented in docs/segments.md and in the OpenAPI document. In short:

    {"all": [rule, ...]}   every rule holds        {"any": [rule, ...]}   at least one holds
    {"not": rule}          the rule does not hold
    {"field": "language", "op": "eq", "value": "en"}         a contact field
    {"tag": "vip"}   {"interest": "fotografie"}   {"has_email": true}
    {"consent": {"channel": "email", "purpose": "newsletter"}}
    {"activity": "visit", "min": 3, "months": 12}             at least 3 visits in 12 months
    {"activity": "visit", "none_since": "2026-01-01"}         no visit since that day
    {"activity": "visit", "none_in_months": 6}                no visit in the last 6 months
    {"attended_theme": "fotografie", "months": 24}            visited an event of the theme
    {"in_segment": 12}                                        member of another segment

A tree compiles to a Django `Q` over `Contact` whose every part is SQL: EXISTS subqueries
for interests, consent and activity, `GROUP BY ... HAVING` for "N times", so that a count
is one query however many contacts there are. Nothing here loads contacts into Python.

The two rules that would read the whole timeline of a large audience read stored figures
instead (docs/segments.md, "Speed"): visits and bookings in the last 12 months come from
`visits_12m` / `bookings_12m`, "attended a theme" from `ContactThemeActivity`. Both are
counted up as visits and bookings are recorded and corrected by the daily recompute.

This module holds the rule engine and the services and selectors of segments; views and
the API call them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connections, transaction
from django.db.models import Count, Exists, OuterRef, Q, QuerySet, RestrictedError, Subquery
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from publikum.audience.models import (
    Channel,
    Consent,
    Contact,
    ContactKind,
    ContactThemeActivity,
    EmailStatus,
    Interaction,
    InteractionKind,
    LifecycleStage,
    Purpose,
    Segment,
)
from publikum.audience.selectors import has_tag_q
from publikum.core.errors import Conflict, ValidationFailed
from publikum.core.models import ApiToken, Organisation, User
from publikum.core.services import audit_log
from publikum.programme.models import Theme

MAX_DEPTH = 6  # groups nested in each other, the outermost counting as one
MAX_LEAVES = 100  # rules in one tree
MAX_EXPANDED_LEAVES = 500  # rules once the segments it refers to are inlined
MAX_LIST_ITEMS = 500  # values of one "in" rule
MAX_MONTHS = 1200
MAX_ERRORS = 20
PREVIEW_SIZE = 50

GROUP_KEYS = ("all", "any", "not")
LEAF_KEYS = (
    "field",
    "tag",
    "interest",
    "consent",
    "activity",
    "attended_theme",
    "in_segment",
    "has_email",
)
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


# --- the fields a `{"field": ..., "op": ..., "value": ...}` rule can name -----------------


@dataclass(frozen=True)
class FieldSpec:
    """One contact field: the operators it allows and the type of its value."""

    name: str
    column: str
    ops: tuple[str, ...]
    kind: str  # choice | text | int | number | date
    choices: tuple[str, ...] = ()
    minimum: int = 0
    maximum: int = 0
    max_length: int = 0


FIELDS: dict[str, FieldSpec] = {
    spec.name: spec
    for spec in (
        FieldSpec("kind", "kind", ("eq", "ne", "in"), "choice", tuple(ContactKind.values)),
        FieldSpec("language", "language", ("eq", "ne", "in"), "choice", ("de", "en")),
        FieldSpec("postcode", "postcode", ("eq", "prefix", "in"), "text", max_length=10),
        FieldSpec("birthday_month", "birthday__month", ("eq", "in"), "int", minimum=1, maximum=12),
        FieldSpec(
            "email_status", "email_status", ("eq", "ne", "in"), "choice", tuple(EmailStatus.values)
        ),
        FieldSpec("created_at", "created_at", ("before", "after"), "date"),
        FieldSpec("last_visit_at", "last_visit_at", ("before", "after"), "date"),
        FieldSpec(
            "lifecycle_stage",
            "lifecycle_stage",
            ("eq", "ne", "in"),
            "choice",
            tuple(LifecycleStage.values),
        ),
        FieldSpec("rfm_recency", "rfm_recency", ("eq", "gte", "lte"), "int", maximum=5),
        FieldSpec("rfm_frequency", "rfm_frequency", ("eq", "gte", "lte"), "int", maximum=5),
        FieldSpec("rfm_monetary", "rfm_monetary", ("eq", "gte", "lte"), "int", maximum=5),
        FieldSpec("visits_12m", "visits_12m", ("eq", "gte", "lte"), "int", maximum=1_000_000),
        FieldSpec("bookings_12m", "bookings_12m", ("eq", "gte", "lte"), "int", maximum=1_000_000),
        FieldSpec("spend_12m", "spend_12m", ("gte", "lte"), "number"),
    )
}
ACTIVITY_KINDS = tuple(InteractionKind.values)
ACTIVITY_KEYS = {"activity", "min", "months", "none_since", "none_in_months"}
# Activity counted over exactly this many months is read from the figure stored on each
# contact (docs/segments.md: "fresh to the day").
STORED_MONTHS = 12
STORED_COUNTS = {InteractionKind.VISIT: "visits_12m", InteractionKind.BOOKING: "bookings_12m"}


# --- checking the tree (no database) -------------------------------------------------------


@dataclass
class RuleRefs:
    """What a structurally valid tree refers to, with the paths of the referring nodes."""

    themes: dict[str, list[str]] = field(default_factory=dict)
    segments: dict[int, list[str]] = field(default_factory=dict)
    leaves: int = 0


class _Checker:
    """Walks a tree once, collecting every error with the path of its node."""

    def __init__(self) -> None:
        self.errors: dict[str, list[str]] = {}
        self.refs = RuleRefs()

    def fail(self, path: str, message: str) -> None:
        if sum(len(v) for v in self.errors.values()) < MAX_ERRORS:
            self.errors.setdefault(path, []).append(message)

    def node(self, node: Any, path: str, depth: int) -> Any:
        if not isinstance(node, dict):
            self.fail(path, _("a rule must be a JSON object, not %(type)s") % _type(node))
            return None
        kinds = [k for k in (*GROUP_KEYS, *LEAF_KEYS) if k in node]
        if len(kinds) != 1:
            if kinds:
                self.fail(
                    path,
                    _("a rule has exactly one of %(keys)s; this one has %(found)s")
                    % {"keys": _keys(), "found": ", ".join(kinds)},
                )
            else:
                self.fail(
                    path,
                    _("unknown rule %(rule)s; a rule has one of the keys %(keys)s")
                    % {"rule": _short(node), "keys": _keys()},
                )
            return None
        kind = kinds[0]
        if kind in GROUP_KEYS:
            return self.group(node, kind, path, depth + 1)
        self.refs.leaves += 1
        if self.refs.leaves == MAX_LEAVES + 1:
            self.fail(
                path,
                _("more than %(n)d rules in one segment; split it into segments and combine them")
                % {"n": MAX_LEAVES},
            )
        return getattr(self, f"leaf_{kind}")(node, path)

    def group(self, node: dict[str, Any], kind: str, path: str, depth: int) -> Any:
        if extra := sorted(set(node) - {kind}):
            self.fail(path, _("unknown key %(keys)s next to '%(kind)s'") % _extra(extra, kind))
        if depth > MAX_DEPTH:
            self.fail(
                path,
                _("groups nest deeper than %(n)d levels here; flatten the rules")
                % {"n": MAX_DEPTH},
            )
            return None
        inner = node[kind]
        if kind == "not":
            child = self.node(inner, f"{path}.not", depth)
            return {"not": child}
        if not isinstance(inner, list):
            self.fail(
                path,
                _("'%(kind)s' takes a list of rules, not %(type)s")
                % {"kind": kind, "type": _type(inner)["type"]},
            )
            return None
        return {kind: [self.node(c, f"{path}.{kind}[{i}]", depth) for i, c in enumerate(inner)]}

    def _only(self, node: dict[str, Any], path: str, allowed: set[str], kind: str) -> None:
        if extra := sorted(set(node) - allowed):
            self.fail(path, _("unknown key %(keys)s in a '%(kind)s' rule") % _extra(extra, kind))

    def leaf_field(self, node: dict[str, Any], path: str) -> Any:
        self._only(node, path, {"field", "op", "value"}, "field")
        name, op = node.get("field"), node.get("op")
        spec = FIELDS.get(name) if isinstance(name, str) else None
        if spec is None:
            self.fail(
                path,
                _("unknown field %(name)s; known fields: %(known)s")
                % {"name": _short(name), "known": ", ".join(FIELDS)},
            )
            return None
        if op not in spec.ops:
            self.fail(
                path,
                _("unknown operator %(op)s for the field '%(field)s'; use one of %(ops)s")
                % {"op": _short(op), "field": name, "ops": ", ".join(spec.ops)},
            )
            return None
        if "value" not in node:
            self.fail(path, _("the rule on '%(field)s' has no 'value'") % {"field": name})
            return None
        value = node["value"]
        if op == "in":
            if not isinstance(value, list) or not value or len(value) > MAX_LIST_ITEMS:
                self.fail(
                    path,
                    _("'in' takes a list of 1 to %(n)d values for '%(field)s'")
                    % {"n": MAX_LIST_ITEMS, "field": name},
                )
                return None
            cleaned = [self.value(spec, v, path) for v in value]
            return {"field": name, "op": op, "value": cleaned}
        return {"field": name, "op": op, "value": self.value(spec, value, path)}

    def value(self, spec: FieldSpec, value: Any, path: str) -> Any:
        if spec.kind == "choice":
            if value not in spec.choices:
                self.fail(
                    path,
                    _("%(value)s is not a value of '%(field)s'; use one of %(choices)s")
                    % {
                        "value": _short(value),
                        "field": spec.name,
                        "choices": ", ".join(spec.choices),
                    },
                )
            return value
        if spec.kind == "text":
            if not isinstance(value, str) or not value.strip() or len(value) > spec.max_length:
                self.fail(
                    path,
                    _("'%(field)s' takes a text of 1 to %(n)d characters, not %(value)s")
                    % {"field": spec.name, "n": spec.max_length, "value": _short(value)},
                )
                return value
            return value.strip()
        if spec.kind == "int":
            if not _is_int(value) or not spec.minimum <= value <= spec.maximum:
                self.fail(
                    path,
                    _("'%(field)s' takes a whole number from %(lo)d to %(hi)d, not %(value)s")
                    % {
                        "field": spec.name,
                        "lo": spec.minimum,
                        "hi": spec.maximum,
                        "value": _short(value),
                    },
                )
            return value
        if spec.kind == "number":
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                self.fail(
                    path,
                    _("'%(field)s' takes a number of 0 or more, not %(value)s")
                    % {"field": spec.name, "value": _short(value)},
                )
            return value
        return self.date(value, path, spec.name)

    def date(self, value: Any, path: str, what: str) -> Any:
        if isinstance(value, str) and _DATE.match(value):
            try:
                date.fromisoformat(value)
            except ValueError:
                pass
            else:
                return value
        self.fail(
            path,
            _("'%(what)s' takes a date as YYYY-MM-DD, not %(value)s")
            % {"what": what, "value": _short(value)},
        )
        return value

    def months(self, value: Any, path: str, what: str) -> Any:
        if not _is_int(value) or not 1 <= value <= MAX_MONTHS:
            self.fail(
                path,
                _("'%(what)s' takes a number of months from 1 to %(n)d, not %(value)s")
                % {"what": what, "n": MAX_MONTHS, "value": _short(value)},
            )
        return value

    def leaf_tag(self, node: dict[str, Any], path: str) -> Any:
        self._only(node, path, {"tag"}, "tag")
        tag = node["tag"]
        if not isinstance(tag, str) or not tag.strip() or len(tag.strip()) > 50:
            self.fail(path, _("'tag' takes a tag of 1 to 50 characters, not %s") % _short(tag))
            return None
        return {"tag": tag.strip()}

    def leaf_interest(self, node: dict[str, Any], path: str) -> Any:
        self._only(node, path, {"interest"}, "interest")
        slug = node["interest"]
        if not isinstance(slug, str) or not slug:
            self.fail(path, _("'interest' takes the slug of a theme, not %s") % _short(slug))
            return None
        self.refs.themes.setdefault(slug, []).append(path)
        return {"interest": slug}

    def leaf_consent(self, node: dict[str, Any], path: str) -> Any:
        self._only(node, path, {"consent"}, "consent")
        consent = node["consent"]
        if (
            not isinstance(consent, dict)
            or set(consent) != {"channel", "purpose"}
            or consent["channel"] not in Channel.values
            or consent["purpose"] not in Purpose.values
        ):
            self.fail(
                path,
                _(
                    '\'consent\' takes {"channel": ..., "purpose": ...} with a channel of '
                    "%(channels)s and a purpose of %(purposes)s, not %(value)s"
                )
                % {
                    "channels": ", ".join(Channel.values),
                    "purposes": ", ".join(Purpose.values),
                    "value": _short(consent),
                },
            )
            return None
        return {"consent": {"channel": consent["channel"], "purpose": consent["purpose"]}}

    def leaf_activity(self, node: dict[str, Any], path: str) -> Any:
        self._only(node, path, ACTIVITY_KEYS, "activity")
        kind = node["activity"]
        if kind not in ACTIVITY_KINDS:
            self.fail(
                path,
                _("unknown activity %(kind)s; use one of %(kinds)s")
                % {"kind": _short(kind), "kinds": ", ".join(ACTIVITY_KINDS)},
            )
            return None
        forms = [k for k in ("none_since", "none_in_months") if k in node]
        counted = [k for k in ("min", "months") if k in node]
        if len(forms) > 1 or (forms and counted):
            self.fail(
                path,
                _(
                    "an 'activity' rule takes either 'min' with 'months', or 'none_since', or "
                    "'none_in_months'"
                ),
            )
            return None
        if forms == ["none_since"]:
            return {
                "activity": kind,
                "none_since": self.date(node["none_since"], path, "none_since"),
            }
        if forms == ["none_in_months"]:
            months = self.months(node["none_in_months"], path, "none_in_months")
            return {"activity": kind, "none_in_months": months}
        cleaned: dict[str, Any] = {"activity": kind}
        if "min" in node:
            cleaned["min"] = node["min"]
            if not _is_int(node["min"]) or not 1 <= node["min"] <= 100_000:
                self.fail(
                    path,
                    _("'min' takes a whole number from 1 to 100000, not %s") % _short(node["min"]),
                )
        if node.get("months") is not None:
            cleaned["months"] = self.months(node["months"], path, "months")
        return cleaned

    def leaf_attended_theme(self, node: dict[str, Any], path: str) -> Any:
        self._only(node, path, {"attended_theme", "months"}, "attended_theme")
        slug = node["attended_theme"]
        if not isinstance(slug, str) or not slug:
            self.fail(path, _("'attended_theme' takes the slug of a theme, not %s") % _short(slug))
            return None
        self.refs.themes.setdefault(slug, []).append(path)
        cleaned: dict[str, Any] = {"attended_theme": slug}
        if node.get("months") is not None:
            cleaned["months"] = self.months(node["months"], path, "months")
        return cleaned

    def leaf_in_segment(self, node: dict[str, Any], path: str) -> Any:
        self._only(node, path, {"in_segment"}, "in_segment")
        segment_id = node["in_segment"]
        if not _is_int(segment_id) or segment_id < 1:
            self.fail(
                path, _("'in_segment' takes the id of a segment, not %s") % _short(segment_id)
            )
            return None
        self.refs.segments.setdefault(segment_id, []).append(path)
        return {"in_segment": segment_id}

    def leaf_has_email(self, node: dict[str, Any], path: str) -> Any:
        self._only(node, path, {"has_email"}, "has_email")
        if not isinstance(node["has_email"], bool):
            self.fail(
                path, _("'has_email' takes true or false, not %s") % _short(node["has_email"])
            )
            return None
        return {"has_email": node["has_email"]}


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _type(value: Any) -> dict[str, str]:
    names = {list: "a list", str: "a text", bool: "true/false", int: "a number", float: "a number"}
    return {"type": "null" if value is None else names.get(type(value), type(value).__name__)}


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def _keys() -> str:
    return ", ".join(f"'{k}'" for k in (*GROUP_KEYS, *LEAF_KEYS))


def _extra(extra: list[str], kind: str) -> dict[str, str]:
    return {"keys": ", ".join(f"'{k}'" for k in extra), "kind": kind}


def _raise(errors: dict[str, list[str]]) -> None:
    first = [f"{path}: {msg}" for path, msgs in errors.items() for msg in msgs]
    more = len(first) - 3
    summary = "; ".join(first[:3]) + (f" (and {more} more)" if more > 0 else "")
    raise ValidationFailed(_("The rules are not valid: %s.") % summary, fields=errors)


def check_rules(rules: Any) -> tuple[dict[str, Any], RuleRefs]:
    """Check the structure of a tree without the database; return it cleaned, and its refs.

    Raises ValidationFailed whose `fields` map the path of every bad node ("rules.all[2]")
    to what is wrong with it.
    """
    checker = _Checker()
    cleaned = checker.node(rules, "rules", 0)
    if checker.errors:
        _raise(checker.errors)
    return cleaned, checker.refs


# --- checking what the tree refers to (themes, segments, cycles) ---------------------------


def _references(rules: Any) -> set[int]:
    """Ids of the segments a stored tree names, read leniently (stored trees were checked)."""
    found: set[int] = set()
    stack = [rules]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if _is_int(node.get("in_segment")):
                found.add(node["in_segment"])
            stack.extend(v for k, v in node.items() if k in GROUP_KEYS)
        elif isinstance(node, list):
            stack.extend(node)
    return found


def _load_graph(organisation: Organisation, start: Iterable[int]) -> dict[int, tuple[str, Any]]:
    """The segments reachable from `start` by references: id → (name, rules).

    One query per level of references; segments of other organisations are never loaded.
    """
    graph: dict[int, tuple[str, Any]] = {}
    frontier = set(start)
    while frontier:
        rows = Segment.objects.filter(organisation=organisation, pk__in=frontier).values_list(
            "pk", "name", "rules"
        )
        frontier = set()
        for pk, name, rules in rows:
            graph[pk] = (name, rules)
            frontier |= _references(rules)
        frontier -= set(graph)
        if len(graph) > 1000:  # a guard against a runaway graph; cycles stop by themselves
            break
    return graph


def _find_cycle(
    graph: dict[int, tuple[str, Any]], start: int, own_id: int | None
) -> list[int] | None:
    """A path of references from `start` back to `own_id` (or around any loop), if any."""
    path: list[int] = []
    done: set[int] = set()

    def visit(node: int) -> list[int] | None:
        if node == own_id or node in path:
            return [*path, node]
        if node in done or node not in graph:
            return None
        path.append(node)
        for ref in sorted(_references(graph[node][1])):
            if found := visit(ref):
                return found
        path.pop()
        done.add(node)
        return None

    return visit(start)


def validate_rules(
    *, organisation: Organisation, rules: Any, segment: Segment | None = None
) -> dict[str, Any]:
    """Check a tree fully: structure, limits, themes and segments of this organisation, cycles.

    `segment` is the segment the tree is meant for, so that a reference back to it is found.
    Returns the cleaned tree; raises ValidationFailed naming the path of each bad node.
    """
    cleaned, refs = check_rules(rules)
    errors = _theme_errors(organisation, refs)
    if refs.segments:
        own_id = segment.pk if segment is not None else None
        errors.update(_segment_errors(organisation, refs, own_id))
    if errors:
        _raise(errors)
    return cleaned


def _theme_errors(organisation: Organisation, refs: RuleRefs) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if not refs.themes:
        return errors
    known = set(
        Theme.objects.filter(organisation=organisation, slug__in=refs.themes).values_list(
            "slug", flat=True
        )
    )
    for slug, paths in refs.themes.items():
        if slug not in known:
            for path in paths:
                errors.setdefault(path, []).append(_("unknown theme '%(slug)s'") % {"slug": slug})
    return errors


def _segment_errors(
    organisation: Organisation, refs: RuleRefs, own_id: int | None
) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    graph = _load_graph(organisation, refs.segments)
    for segment_id, paths in refs.segments.items():
        if segment_id == own_id:
            message = _("a segment cannot contain itself")
        elif segment_id not in graph:
            message = _("unknown segment %(id)d") % {"id": segment_id}
        elif cycle := _find_cycle(graph, segment_id, own_id):
            names = [_("this segment") if pk == own_id else f"'{graph[pk][0]}'" for pk in cycle]
            message = _(
                "segment '%(name)s' leads back in a circle (%(cycle)s); a segment cannot "
                "contain itself"
            ) % {"name": graph[segment_id][0], "cycle": " → ".join(names)}
        else:
            continue
        for path in paths:
            errors.setdefault(path, []).append(message)
    if not errors:
        expanded = refs.leaves + _expanded_leaves(graph, refs.segments)
        if expanded > MAX_EXPANDED_LEAVES:
            errors["rules"] = [
                _(
                    "together with the segments it refers to this tree has %(n)d rules; "
                    "at most %(max)d are allowed"
                )
                % {"n": expanded, "max": MAX_EXPANDED_LEAVES}
            ]
    return errors


def _count_leaves(rules: Any) -> int:
    if isinstance(rules, list):
        return sum(_count_leaves(r) for r in rules)
    if isinstance(rules, dict):
        groups = [v for k, v in rules.items() if k in GROUP_KEYS]
        return sum(_count_leaves(g) for g in groups) if groups else 1
    return 0


def _expanded_leaves(graph: dict[int, tuple[str, Any]], ids: Iterable[int]) -> int:
    total = 0
    for pk in ids:
        if pk in graph:
            rules = graph[pk][1]
            total += _count_leaves(rules) + _expanded_leaves(graph, _references(rules))
        if total > MAX_EXPANDED_LEAVES:
            break
    return total


# --- compiling to SQL ----------------------------------------------------------------------

EVERYONE = Q(pk__isnull=False)
NOBODY = Q(pk__isnull=True)


@dataclass
class _Compiler:
    organisation: Organisation
    now: datetime
    tz: ZoneInfo
    graph: dict[int, tuple[str, Any]]
    stack: list[int] = field(default_factory=list)
    leaves: int = 0

    def rule(self, node: dict[str, Any]) -> Q:
        if "all" in node:
            parts = [self.rule(c) for c in node["all"]]
            return _combine(parts, Q.__and__) if parts else EVERYONE
        if "any" in node:
            parts = [self.rule(c) for c in node["any"]]
            return _combine(parts, Q.__or__) if parts else NOBODY
        if "not" in node:
            return ~self.rule(node["not"])
        self.leaves += 1
        if self.leaves > MAX_EXPANDED_LEAVES:
            raise ValidationFailed(
                _("Together with the segments it refers to, this segment has too many rules.")
            )
        kind = next(k for k in LEAF_KEYS if k in node)
        return getattr(self, f"leaf_{kind}")(node)  # type: ignore[no-any-return]

    def start_of(self, day: str) -> datetime:
        return datetime.combine(date.fromisoformat(day), time.min, tzinfo=self.tz)

    def months_ago(self, months: int) -> datetime:
        local = self.now.astimezone(self.tz)
        index = local.year * 12 + local.month - 1 - months
        year, month = divmod(index, 12)
        day = min(local.day, _days_in_month(year, month + 1))
        return local.replace(year=year, month=month + 1, day=day)

    def leaf_field(self, node: dict[str, Any]) -> Q:
        spec = FIELDS[node["field"]]
        op, value, column = node["op"], node["value"], spec.column
        if spec.kind == "date":
            value = self.start_of(value)
        elif spec.kind == "number":
            value = Decimal(str(value))
        lookups: dict[str, Callable[[], Q]] = {
            "eq": lambda: Q(**{column: value}),
            "ne": lambda: ~Q(**{column: value}),
            "in": lambda: Q(**{f"{column}__in": value}),
            "prefix": lambda: Q(**{f"{column}__startswith": value}),
            "gte": lambda: Q(**{f"{column}__gte": value}),
            "lte": lambda: Q(**{f"{column}__lte": value}),
            "before": lambda: Q(**{f"{column}__lt": value}),
            "after": lambda: Q(**{f"{column}__gte": value}),
        }
        return lookups[op]()

    def leaf_tag(self, node: dict[str, Any]) -> Q:
        return has_tag_q(node["tag"])

    def leaf_interest(self, node: dict[str, Any]) -> Q:
        through = Contact.interests.through.objects.filter(
            contact_id=OuterRef("pk"),
            theme__organisation_id=self.organisation.pk,
            theme__slug=node["interest"],
        )
        return Q(Exists(through))

    def leaf_consent(self, node: dict[str, Any]) -> Q:
        consents = Consent.objects.filter(
            contact_id=OuterRef("pk"),
            channel=node["consent"]["channel"],
            purpose=node["consent"]["purpose"],
            granted=True,
        )
        return Q(Exists(consents))

    def leaf_activity(self, node: dict[str, Any]) -> Q:
        stored = STORED_COUNTS.get(node["activity"])
        if stored and node.get("none_in_months") == STORED_MONTHS:
            return Q(**{stored: 0})
        if stored and node.get("months") == STORED_MONTHS:
            return Q(**{f"{stored}__gte": max(1, node.get("min", 1))})
        base = Interaction.objects.filter(
            organisation_id=self.organisation.pk, kind=node["activity"]
        )
        if "none_since" in node or "none_in_months" in node:
            since = (
                self.start_of(node["none_since"])
                if "none_since" in node
                else self.months_ago(node["none_in_months"])
            )
            return ~Q(Exists(base.filter(contact_id=OuterRef("pk"), occurred_at__gte=since)))
        if node.get("months") is not None:
            base = base.filter(occurred_at__gte=self.months_ago(node["months"]))
        minimum = node.get("min", 1)
        if minimum <= 1:
            return Q(Exists(base.filter(contact_id=OuterRef("pk"))))
        # SELECT contact_id ... GROUP BY contact_id HAVING COUNT(*) >= min
        frequent = (
            base.order_by()
            .values("contact_id")
            .annotate(times=Count("pk"))
            .filter(times__gte=minimum)
            .values("contact_id")
        )
        return Q(pk__in=frequent)

    def leaf_attended_theme(self, node: dict[str, Any]) -> Q:
        # The summary of the timeline: one row per contact and theme with the last visit.
        # The theme as a scalar subquery, not a join: PostgreSQL then knows that a contact
        # has one row per theme and estimates the rows of that theme from its statistics.
        theme = Theme.objects.filter(
            organisation_id=self.organisation.pk, slug=node["attended_theme"]
        ).values("pk")[:1]
        attended = ContactThemeActivity.objects.filter(
            contact_id=OuterRef("pk"), theme_id=Subquery(theme)
        )
        if node.get("months") is not None:
            attended = attended.filter(last_attended_at__gte=self.months_ago(node["months"]))
        return Q(Exists(attended))

    def leaf_in_segment(self, node: dict[str, Any]) -> Q:
        segment_id = node["in_segment"]
        if segment_id in self.stack:
            raise ValidationFailed(
                _("Segment %(id)d refers back to itself through other segments.")
                % {"id": segment_id}
            )
        if segment_id not in self.graph:
            raise ValidationFailed(
                _("The rules refer to segment %(id)d, which no longer exists.")
                % {"id": segment_id},
                fields={"rules": [_("unknown segment %(id)d") % {"id": segment_id}]},
            )
        rules, _refs = check_rules(self.graph[segment_id][1])
        self.stack.append(segment_id)
        try:
            return self.rule(rules)
        finally:
            self.stack.pop()

    def leaf_has_email(self, node: dict[str, Any]) -> Q:
        return ~Q(email="") if node["has_email"] else Q(email="")


def _combine(parts: list[Q], op: Callable[[Q, Q], Q]) -> Q:
    result = parts[0]
    for part in parts[1:]:
        result = op(result, part)
    return result


def _days_in_month(year: int, month: int) -> int:
    nxt = date(year + month // 12, month % 12 + 1, 1)
    return (nxt - date(year, month, 1)).days


def _zone(organisation: Organisation) -> ZoneInfo:
    try:
        return ZoneInfo(organisation.timezone or settings.TIME_ZONE)
    except (KeyError, ValueError):
        return ZoneInfo(settings.TIME_ZONE)


def rules_q(
    *,
    organisation: Organisation,
    rules: Any,
    segment: Segment | None = None,
    now: datetime | None = None,
) -> Q:
    """Compile a tree to a Q over Contact. Checks structure, not themes (an unknown theme
    matches nobody); loads the segments it refers to, one query per level of references."""
    cleaned, refs = check_rules(rules)
    graph = _load_graph(organisation, refs.segments) if refs.segments else {}
    compiler = _Compiler(
        organisation=organisation,
        now=now or timezone.now(),
        tz=_zone(organisation),
        graph=graph,
        stack=[segment.pk] if segment is not None and segment.pk else [],
    )
    return compiler.rule(cleaned)


def _audience(organisation: Organisation) -> QuerySet[Contact]:
    return Contact.objects.filter(organisation=organisation, erased_at__isnull=True)


# --- selectors -----------------------------------------------------------------------------


def segment_list(*, organisation: Organisation) -> QuerySet[Segment]:
    return Segment.objects.filter(organisation=organisation).order_by("name", "id")


def segment_get(*, organisation: Organisation, segment_id: int) -> Segment:
    segment = Segment.objects.filter(organisation=organisation, pk=segment_id).first()
    if segment is None:
        raise Http404("No segment with this id.")
    return segment


def rules_contacts(
    *, organisation: Organisation, rules: Any, segment: Segment | None = None
) -> QuerySet[Contact]:
    """The contacts an (unsaved) tree matches: not erased, of this organisation only."""
    return _audience(organisation).filter(
        rules_q(organisation=organisation, rules=rules, segment=segment)
    )


def segment_contacts(*, segment: Segment) -> QuerySet[Contact]:
    return rules_contacts(organisation=segment.organisation, rules=segment.rules, segment=segment)


def _counting(queryset: QuerySet[Contact], count: Callable[[], Any]) -> Any:
    """Run `count` (a COUNT over the audience) so that PostgreSQL joins by hashing.

    A count visits every contact that passes the column rules and asks each rule's
    subquery about them. The planner underestimates how many pass (rules on one person
    correlate: who visits often also attended a theme) and picks a nested loop, one index
    probe per contact, which took twice as long as hashing both sides on a million
    contacts (docs/segments.md, "Speed"). Previews and exports keep the default.
    """
    connection = connections[queryset.db]
    if connection.vendor != "postgresql":
        return count()
    with transaction.atomic(using=queryset.db), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_nestloop = off")
        return count()


def segment_count(*, segment: Segment) -> int:
    """One COUNT query (plus one per level of segments it refers to)."""
    contacts = segment_contacts(segment=segment)
    return int(_counting(contacts, contacts.count))


def rules_count(*, organisation: Organisation, rules: Any, segment: Segment | None = None) -> int:
    """The live count of a tree being edited; checks it fully first (themes, cycles)."""
    cleaned = validate_rules(organisation=organisation, rules=rules, segment=segment)
    contacts = rules_contacts(organisation=organisation, rules=cleaned, segment=segment)
    return int(_counting(contacts, contacts.count))


def segment_preview(*, segment: Segment, limit: int = PREVIEW_SIZE) -> list[Contact]:
    return list(
        segment_contacts(segment=segment)
        .only(
            "id",
            "kind",
            "first_name",
            "last_name",
            "organisation_name",
            "email",
            "postcode",
            "lifecycle_stage",
            "last_visit_at",
        )
        .order_by("last_name", "first_name", "id")[:limit]
    )


def segment_counts(*, segments: Iterable[Segment]) -> dict[int, int | None]:
    """Counts of many segments of one organisation in one query; None for broken rules."""
    segments = list(segments)
    if not segments:
        return {}
    result: dict[int, int | None] = {}
    aggregates: dict[str, Count] = {}
    for segment in segments:
        try:
            q = rules_q(organisation=segment.organisation, rules=segment.rules, segment=segment)
        except ValidationFailed:
            result[segment.pk] = None
            continue
        aggregates[f"s{segment.pk}"] = Count("pk", filter=q)
    if aggregates:
        audience = _audience(segments[0].organisation).order_by()
        row = _counting(audience, lambda: audience.aggregate(**aggregates))
        result.update({int(k[1:]): v for k, v in row.items()})
    return result


def segments_referring_to(*, segment: Segment) -> list[Segment]:
    """Other segments of the organisation whose rules use this one."""
    return [
        other
        for other in segment_list(organisation=segment.organisation).exclude(pk=segment.pk)
        if segment.pk in _references(other.rules)
    ]


# --- services ------------------------------------------------------------------------------


def _clean_name(organisation: Organisation, name: Any, exclude_pk: int | None = None) -> str:
    name = (name or "").strip() if isinstance(name, str) or name is None else name
    if not isinstance(name, str) or not name:
        raise ValidationFailed(_("A segment needs a name."), fields={"name": [_("required")]})
    if len(name) > 200:
        raise ValidationFailed(
            _("The name is too long (at most 200 characters)."),
            fields={"name": [_("at most 200 characters")]},
        )
    clash = Segment.objects.filter(organisation=organisation, name__iexact=name)
    if exclude_pk is not None:
        clash = clash.exclude(pk=exclude_pk)
    if clash.exists():
        raise Conflict(
            _("A segment named '%(name)s' exists already.") % {"name": name},
            fields={"name": [_("already used by another segment")]},
        )
    return name


def _clean_description(description: Any) -> str:
    if not isinstance(description, str) or len(description) > 2000:
        raise ValidationFailed(
            _("The description is a text of at most 2000 characters."),
            fields={"description": [_("at most 2000 characters")]},
        )
    return description.strip()


@transaction.atomic
def segment_create(
    *,
    organisation: Organisation,
    name: str,
    rules: Any,
    description: str = "",
    actor: User | None = None,
    token: ApiToken | None = None,
) -> Segment:
    name = _clean_name(organisation, name)
    description = _clean_description(description)
    cleaned = validate_rules(organisation=organisation, rules=rules)
    segment = Segment.objects.create(
        organisation=organisation,
        name=name,
        description=description,
        rules=cleaned,
        created_by=actor,
    )
    audit_log(
        organisation,
        "audience.segment.created",
        actor=actor,
        token=token,
        obj=segment,
        data={"rules": _count_leaves(cleaned)},
    )
    return segment


@transaction.atomic
def segment_update(
    *,
    segment: Segment,
    name: str | None = None,
    description: str | None = None,
    rules: Any = None,
    actor: User | None = None,
    token: ApiToken | None = None,
) -> Segment:
    """Change what is given (None leaves a part as it is). New rules are checked for cycles
    through the segments that refer to this one."""
    organisation = segment.organisation
    changed: list[str] = []
    if name is not None:
        segment.name = _clean_name(organisation, name, exclude_pk=segment.pk)
        changed.append("name")
    if description is not None:
        segment.description = _clean_description(description)
        changed.append("description")
    if rules is not None:
        segment.rules = validate_rules(organisation=organisation, rules=rules, segment=segment)
        changed.append("rules")
    segment.save()
    audit_log(
        organisation,
        "audience.segment.updated",
        actor=actor,
        token=token,
        obj=segment,
        data={"fields": changed},
    )
    return segment


@transaction.atomic
def segment_delete(
    *, segment: Segment, actor: User | None = None, token: ApiToken | None = None
) -> None:
    """Delete a segment no other segment refers to."""
    users = segments_referring_to(segment=segment)
    if users:
        names = ", ".join(f"'{s.name}'" for s in users)
        raise Conflict(
            _("This segment is used by the segments %(names)s; change them first.")
            % {"names": names},
            fields={"segment": [_("used by %(names)s") % {"names": names}]},
        )
    organisation, segment_id = segment.organisation, segment.pk
    try:
        segment.delete()
    except RestrictedError as exc:  # a newsletter sends to it
        raise Conflict(
            _("A newsletter uses this segment; delete or change the newsletter first."),
            fields={"segment": [_("used by a newsletter")]},
        ) from exc
    audit_log(
        organisation,
        "audience.segment.deleted",
        actor=actor,
        token=token,
        data={"segment_id": segment_id},
    )


def segment_exported(
    *, segment: Segment, actor: User | None = None, token: ApiToken | None = None
) -> None:
    """Record that the segment's contacts left the system as a file (no personal data)."""
    audit_log(
        segment.organisation,
        "audience.segment.exported",
        actor=actor,
        token=token,
        obj=segment,
        data={"format": "csv"},
    )


# --- describing a tree in words, for the segment page ----------------------------------------


@dataclass
class RuleText:
    text: str
    children: list[RuleText] = field(default_factory=list)


def describe_rules(
    rules: Any, *, themes: dict[str, str] | None = None, segments: dict[int, str] | None = None
) -> RuleText:
    """The tree as nested sentences, for people who do not read JSON."""
    themes, segments = themes or {}, segments or {}
    if not isinstance(rules, dict):
        return RuleText(_short(rules))
    if "all" in rules or "any" in rules:
        kind = "all" if "all" in rules else "any"
        children = rules[kind] if isinstance(rules[kind], list) else []
        label = _("All of these:") if kind == "all" else _("Any of these:")
        if not children:
            label = _("Everyone") if kind == "all" else _("Nobody")
        return RuleText(
            label, [describe_rules(c, themes=themes, segments=segments) for c in children]
        )
    if "not" in rules:
        return RuleText(_("Not:"), [describe_rules(rules["not"], themes=themes, segments=segments)])
    return RuleText(_describe_leaf(rules, themes, segments))


def _describe_leaf(  # noqa: PLR0911
    leaf: dict[str, Any], themes: dict[str, str], segments: dict[int, str]
) -> str:
    if "field" in leaf:
        value = leaf.get("value")
        values = value if isinstance(value, list) else [value]
        shown = ", ".join(_value_label(str(leaf["field"]), v) for v in values)
        op = field_op_label(str(leaf.get("op")))
        return f"{field_label(str(leaf['field']))} {op} {shown}"
    if "tag" in leaf:
        return _("has the tag “%(tag)s”") % {"tag": leaf["tag"]}
    if "interest" in leaf:
        return _("is interested in %(theme)s") % {
            "theme": themes.get(leaf["interest"], leaf["interest"])
        }
    if "consent" in leaf:
        consent = leaf["consent"] if isinstance(leaf["consent"], dict) else {}
        return _("has consented to %(purpose)s by %(channel)s") % {
            "purpose": _choice_label(Purpose, consent.get("purpose")),
            "channel": _choice_label(Channel, consent.get("channel")),
        }
    if "has_email" in leaf:
        return _("has an e-mail address") if leaf["has_email"] else _("has no e-mail address")
    if "in_segment" in leaf:
        name = segments.get(leaf["in_segment"], f"#{leaf['in_segment']}")
        return _("is in the segment “%(name)s”") % {"name": name}
    if "attended_theme" in leaf:
        theme = themes.get(leaf["attended_theme"], leaf["attended_theme"])
        if leaf.get("months"):
            return _("visited an event of the theme %(theme)s in the last %(m)d months") % {
                "theme": theme,
                "m": leaf["months"],
            }
        return _("visited an event of the theme %(theme)s") % {"theme": theme}
    if "activity" in leaf:
        return _describe_activity(leaf)
    return _short(leaf)


def _describe_activity(leaf: dict[str, Any]) -> str:
    kind = _choice_label(InteractionKind, leaf["activity"])
    if "none_since" in leaf:
        return _("no “%(kind)s” since %(day)s") % {"kind": kind, "day": leaf["none_since"]}
    if "none_in_months" in leaf:
        return _("no “%(kind)s” in the last %(m)d months") % {
            "kind": kind,
            "m": leaf["none_in_months"],
        }
    values = {"kind": kind, "n": leaf.get("min", 1), "m": leaf.get("months")}
    if leaf.get("months"):
        return _("“%(kind)s” at least %(n)d times in the last %(m)d months") % values
    return _("“%(kind)s” at least %(n)d times") % values


def _value_label(field_name: str, value: Any) -> str:
    choices = {
        "kind": ContactKind,
        "email_status": EmailStatus,
        "lifecycle_stage": LifecycleStage,
    }
    if field_name in choices:
        return _choice_label(choices[field_name], value)
    if field_name == "language":
        return {"de": "Deutsch", "en": "English"}.get(value, str(value))
    return str(value)


def _choice_label(choices: Any, value: Any) -> str:
    try:
        return str(choices(value).label)
    except ValueError:
        return str(value)


def field_label(name: str) -> str:
    labels = {
        "kind": _("Kind"),
        "language": _("Language"),
        "postcode": _("Postcode"),
        "birthday_month": _("Birthday month"),
        "email_status": _("E-mail status"),
        "created_at": _("Added on"),
        "last_visit_at": _("Last visit"),
        "lifecycle_stage": _("Lifecycle stage"),
        "rfm_recency": _("RFM recency (1–5)"),
        "rfm_frequency": _("RFM frequency (1–5)"),
        "rfm_monetary": _("RFM monetary (1–5)"),
        "visits_12m": _("Visits in 12 months"),
        "bookings_12m": _("Bookings in 12 months"),
        "spend_12m": _("Spend in 12 months (EUR)"),
    }
    return str(labels.get(name, name))


def field_op_label(op: str) -> str:
    labels = {
        "eq": _("is"),
        "ne": _("is not"),
        "in": _("is one of"),
        "prefix": _("starts with"),
        "gte": _("is at least"),
        "lte": _("is at most"),
        "before": _("is before"),
        "after": _("is on or after"),
    }
    return str(labels.get(op, op))
