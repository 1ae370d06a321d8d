"""Answers from the programme: what is on, narrowed by the asked days, kind, target group,
accessibility and theme; and the search for the dates a visitor wants to book.

Words are matched on the folded text (`nlu.text.normalise`: "Führung", "Fuehrung" and
"Fuhrung" are one word); a keyword matches at the start of a word or inside a German
compound ("Familienführung" is a tour).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Any

from django.db.models import Case, Q, Value, When

from publikum.assistant.engine import titles
from publikum.assistant.engine.base import Reply, Turn
from publikum.assistant.engine.phrases import date_words, datetime_words, say, short_datetime
from publikum.assistant.models import KnowledgeEntry
from publikum.assistant.nlu.text import normalise
from publikum.bookings.selectors import free_seats
from publikum.programme import selectors as programme_selectors
from publikum.programme.models import (
    AccessibilityFeature,
    ItemKind,
    Occurrence,
    OccurrenceStatus,
    TargetGroup,
    Theme,
)

# How many dates an answer lists; the default span of "what is on".
LIST_LIMIT = 5
DEFAULT_DAYS = 7
# How far ahead the booking dialogue looks for the dates a visitor names.
BOOKING_HORIZON_DAYS = 120
BOOKING_SCAN_LIMIT = 400
FEW_SEATS = 5
# The share of a title's (weighted) terms that names it when the visitor picks a date to
# book: lower than `titles.TITLE_STRONG`, since the dialogue already knows it is a booking.
TITLE_NAMED = 0.34

_KIND_WORDS: dict[str, tuple[str, ...]] = {
    ItemKind.CONCERT: ("konzert", "concert", "musik", "music", "gig"),
    ItemKind.TOUR: ("führung", "fuehrung", "tour", "rundgang", "guided", "guide"),
    ItemKind.WORKSHOP: ("workshop", "werkstatt", "kurs", "mitmach", "basteln", "class"),
    ItemKind.EXHIBITION: ("ausstellung", "exhibition", "exhibit", "schau"),
    ItemKind.TALK: ("vortrag", "vorträge", "talk", "lecture", "lesung", "reading", "gespräch"),
    ItemKind.PERFORMANCE: (
        "aufführung",
        "theater",
        "theatre",
        "tanz",
        "dance",
        "ballett",
        "ballet",
        "vorstellung",
        "performance",
        "show",
        "stück",
        "play",
    ),
}
_TARGET_WORDS: dict[str, tuple[str, ...]] = {
    TargetGroup.CHILDREN: ("kinder", "kind ", "kids", "children", "child"),
    TargetGroup.FAMILIES: ("familie", "family", "families"),
    TargetGroup.SENIORS: ("senior", "ältere"),
    TargetGroup.SCHOOLS: ("schule", "schulklasse", "school", "klasse"),
    TargetGroup.GROUPS: ("gruppe", "group"),
    TargetGroup.ADULTS: ("erwachsene", "adult"),
}
_ACCESS_WORDS: dict[str, tuple[str, ...]] = {
    AccessibilityFeature.SIGN_LANGUAGE: ("gebärdensprach", "dgs", "sign language", "signed"),
    AccessibilityFeature.WHEELCHAIR: ("rollstuhl", "wheelchair", "barrierefrei", "step-free"),
    AccessibilityFeature.INDUCTION_LOOP: (
        "induktion",
        "hörschleife",
        "höranlage",
        "hörgerät",
        "induction loop",
        "hearing loop",
        "hearing aid",
    ),
    AccessibilityFeature.EASY_LANGUAGE: (
        "leichte sprache",
        "leichter sprache",
        "einfache sprache",
        "einfacher sprache",
        "easy language",
        "plain language",
        "easy read",
    ),
}
_GERMAN_ONLY = frozenset({"kind "})
# Words that ask for the programme as such ("Welche Veranstaltungen sind rollstuhlgerecht?").
# "Programme" (plural, "programmes for schools") is an offer of the house; "das Programm"
# and "in the programme" are the dates. Singular "event"/"Veranstaltung" is often the
# visitor's own ("can we hire the hall for a company event").
_EVENT_WORDS = re.compile(
    r"\b(veranstaltungen|events|termine|programm|programme|program|spielplan|"
    r"was lauft|what'?s on|what is on)\b"
)
_COMPOUND_KINDS = {ItemKind.TOUR, ItemKind.CONCERT, ItemKind.WORKSHOP, ItemKind.EXHIBITION}


@lru_cache(maxsize=1)
def _folded_tables() -> dict[str, dict[str, tuple[str, ...]]]:
    def fold(table: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        return {
            code: tuple(normalise(w) + (" " if w.endswith(" ") else "") for w in words)
            for code, words in table.items()
        }

    return {
        "kind": fold(_KIND_WORDS),
        "target": fold(_TARGET_WORDS),
        "access": fold(_ACCESS_WORDS),
    }


def _mentions(folded: str, word: str, *, inside: bool) -> bool:
    if inside:
        return word in folded
    return re.search(r"(?<![a-z0-9])" + re.escape(word), folded) is not None


@dataclass
class Wish:
    """What the visitor narrowed the programme to."""

    kinds: list[str] = field(default_factory=list)
    targets: list[str] = field(default_factory=list)
    access: list[str] = field(default_factory=list)
    themes: list[int] = field(default_factory=list)
    # Items whose title the visitor named.
    items: list[int] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.kinds or self.targets or self.access or self.themes or self.items)


def wish_of(turn: Turn) -> Wish:
    """What the message narrows the programme to (worked out once per turn; a copy)."""
    cached = turn.memo.get("wish")
    if not isinstance(cached, Wish):
        cached = _wish_of(turn)
        turn.memo["wish"] = cached
    return replace(
        cached,
        kinds=list(cached.kinds),
        targets=list(cached.targets),
        access=list(cached.access),
        themes=list(cached.themes),
        items=list(cached.items),
    )


def _wish_of(turn: Turn) -> Wish:
    folded = " " + normalise(turn.text) + " "
    tables = _folded_tables()
    wish = Wish()
    for code, words in tables["kind"].items():
        if any(_mentions(folded, w, inside=code in _COMPOUND_KINDS) for w in words):
            wish.kinds.append(code)
    for code, words in tables["target"].items():
        # "what kind of exhibits" is no child.
        asked = [w for w in words if turn.language != "en" or w not in _GERMAN_ONLY]
        if any(_mentions(folded, w, inside=True) for w in asked):
            wish.targets.append(code)
    for code, words in tables["access"].items():
        if any(_mentions(folded, w, inside=True) for w in words):
            wish.access.append(code)
    for theme in Theme.objects.filter(organisation=turn.organisation).only(
        "pk", "slug", "name_de", "name_en"
    ):
        names = {normalise(theme.name_de), normalise(theme.name_en), theme.slug.replace("-", " ")}
        if any(n and len(n) >= 3 and _mentions(folded, n, inside=False) for n in names):
            wish.themes.append(theme.pk)
    return wish


def asks_for_events(turn: Turn) -> bool:
    return bool(_EVENT_WORDS.search(normalise(turn.text).replace("’", "'")))


def _fits(occurrence: Occurrence, wish: Wish, theme_items: set[int] | None) -> bool:
    item = occurrence.item
    if wish.kinds and item.kind not in wish.kinds:
        return False
    if wish.targets and not _audiences(wish.targets) & set(item.target_groups or []):
        return False
    if wish.access and not set(wish.access) <= set(item.accessibility or []):
        return False
    if wish.items and item.pk not in wish.items:
        return False
    return theme_items is None or item.pk in theme_items


def _audiences(targets: list[str]) -> set[str]:
    """Children are welcome where families are, and families where children are."""
    wanted = set(targets)
    if wanted & {TargetGroup.CHILDREN, TargetGroup.FAMILIES}:
        wanted |= {TargetGroup.CHILDREN, TargetGroup.FAMILIES}
    return wanted


def _in_part(moment: datetime, part: str | None, at: time | None) -> bool:
    if at is not None:
        return abs((moment.hour * 60 + moment.minute) - (at.hour * 60 + at.minute)) <= 60
    if part == "morning":
        return moment.hour < 12
    if part == "afternoon":
        return 12 <= moment.hour < 18
    if part == "evening":
        return moment.hour >= 17
    return True


def _theme_items(turn: Turn, wish: Wish) -> set[int] | None:
    if not wish.themes:
        return None
    through = Theme.items.through.objects.filter(theme_id__in=wish.themes)
    return set(through.values_list("programmeitem_id", flat=True))


def find_dates(
    turn: Turn,
    *,
    start: date,
    end: date,
    wish: Wish,
    bookable_only: bool = False,
    limit: int = 200,
    at_asked_time: bool = True,
    upcoming_first: bool = False,
) -> list[Occurrence]:
    """Published dates between `start` and `end` (local days, inclusive) that fit the wish
    (and the asked time of day unless `at_asked_time` is off), soonest first, each with
    its item and seats; one query for the dates."""
    filters = programme_selectors.ProgrammeFilters(date_from=start, date_to=end)
    qs = programme_selectors.public_dates_queryset(
        organisation=turn.organisation, filters=filters, now=turn.now
    ).select_related("item")
    if bookable_only:
        qs = qs.filter(item__bookable=True, starts_at__gt=turn.now).exclude(
            status=OccurrenceStatus.CANCELLED
        )
    theme_items = _theme_items(turn, wish)
    # The wish narrows in SQL too (fewer rows to read); `_fits` below stays the judge.
    if wish.kinds:
        qs = qs.filter(item__kind__in=wish.kinds)
    if wish.items:
        qs = qs.filter(item_id__in=wish.items)
    if theme_items is not None:
        qs = qs.filter(item_id__in=theme_items)
    for feature in wish.access:
        qs = qs.filter(item__accessibility__icontains=f'"{feature}"')
    if wish.targets:
        audience = Q()
        for target in _audiences(wish.targets):
            audience |= Q(item__target_groups__icontains=f'"{target}"')
        qs = qs.filter(audience)
    when = turn.when if at_asked_time else None
    if upcoming_first:
        # Dates still to begin first, then those running already (an exhibition).
        began = Case(When(starts_at__lt=turn.now, then=Value(1)), default=Value(0))
        qs = qs.order_by(began, "starts_at", "pk")
    # The wish is in SQL; only a time of day is judged here, which needs more rows.
    timed = when is not None and (when.part is not None or when.at is not None)
    found = []
    for occurrence in qs[: max(limit, BOOKING_SCAN_LIMIT) if timed else limit]:
        if not _fits(occurrence, wish, theme_items):
            continue
        if when is not None and not _in_part(turn.local(occurrence.starts_at), when.part, when.at):
            continue
        found.append(occurrence)
        if len(found) >= limit:
            break
    return found


def date_line(turn: Turn, occurrence: Occurrence, *, number: int | None = None) -> str:
    """ "1. Samstag, 28. November, 15:00 Uhr: Familienführung (ausgebucht)"."""
    lang = turn.language
    if occurrence.starts_at < turn.now:
        # A running exhibition: when it ends matters, not when it began.
        until = date_words(turn.local(occurrence.ends_at).date(), lang, today=turn.today)
        line = f"{occurrence.item.title(lang)}, " + (
            f"on until {until}" if lang == "en" else f"noch bis {until}"
        )
    else:
        line = (
            f"{datetime_words(turn.local(occurrence.starts_at), lang, today=turn.today)}: "
            f"{occurrence.item.title(lang)}"
        )
    free = free_seats(occurrence) if occurrence.item.bookable else None
    if occurrence.status == OccurrenceStatus.CANCELLED:
        line += " (" + ("cancelled" if lang == "en" else "abgesagt") + ")"
    elif occurrence.status == OccurrenceStatus.SOLD_OUT or free == 0:
        line += " (" + say("sold_out_tag", lang) + ")"
    elif free is not None and free <= FEW_SEATS:
        line += " (" + say("few_tag", lang) + ")"
    return f"{number}. {line}" if number is not None else line


def option_for(turn: Turn, occurrence: Occurrence, number: int) -> dict[str, str]:
    label = (
        f"{number}: {short_datetime(turn.local(occurrence.starts_at), turn.language)} "
        f"{occurrence.item.title(turn.language)}"
    )
    return {"label": label[:80], "text": str(number)}


def bookable_now(occurrence: Occurrence) -> bool:
    return (
        occurrence.item.bookable
        and occurrence.status == OccurrenceStatus.SCHEDULED
        and free_seats(occurrence) > 0
    )


def _listed(turn: Turn, *, start: date, end: date, wish: Wish) -> list[Occurrence]:
    """Up to LIST_LIMIT dates; those still to begin first, then what is running already
    (an exhibition that opened months ago), unless exhibitions are what was asked for."""
    return find_dates(
        turn,
        start=start,
        end=end,
        wish=wish,
        limit=LIST_LIMIT,
        upcoming_first=wish.kinds != [ItemKind.EXHIBITION],
    )


def programme(turn: Turn, *, confidence: float, entry: KnowledgeEntry | None = None) -> Reply:
    """Up to LIST_LIMIT dates for the asked days (default: the next seven) and wish; when
    nothing fits, what is on next instead. Bookable dates are offered for booking. A
    title the message names narrows the list to that item. `entry` (what the house says
    about an accessibility feature asked for) is added to the answer."""
    lang = turn.language
    when = turn.when
    start = when.start if when else turn.today
    end = when.end if when else turn.today + timedelta(days=DEFAULT_DAYS - 1)
    start = max(start, turn.today)
    end = max(end, start)
    wish = wish_of(turn)
    title = titles.title_match(turn)
    if title.strong:
        wish.items = sorted(title.items)
    if when is None and not wish.empty:
        # "Gibt es Führungen in Gebärdensprache?" is not about this week only.
        end = turn.today + timedelta(days=BOOKING_HORIZON_DAYS)
    dates = _listed(turn, start=start, end=end, wish=wish)
    parts: list[str] = []
    fitting = bool(dates)
    if dates:
        parts.append(say("programme_intro", lang))
    else:
        parts.append(say("programme_none", lang))
        horizon = turn.today + timedelta(days=BOOKING_HORIZON_DAYS)
        if not wish.empty and when is not None:
            dates = _listed(turn, start=turn.today, end=horizon, wish=wish)
        if not dates:
            dates = _listed(turn, start=start, end=horizon, wish=Wish())
        parts.append(say("programme_instead", lang) if dates else say("programme_empty", lang))
    lines = [date_line(turn, occ, number=n) for n, occ in enumerate(dates, start=1)]
    offered = [occ.pk for occ in dates if bookable_now(occ) and occ.starts_at > turn.now]
    options: list[dict[str, str]] = []
    if offered:
        turn.state["offer"] = {"kind": "book", "dates": [occ.pk for occ in dates]}
        lines.append(say("offer_booking", lang))
        options = [
            option_for(turn, occ, n) for n, occ in enumerate(dates, start=1) if occ.pk in offered
        ]
    text = parts[0] + ("\n" + parts[1] if len(parts) > 1 else "") + "\n" + "\n".join(lines)
    sources: list[dict[str, Any]] = [
        {"type": "event", "id": item_id} for item_id in dict.fromkeys(occ.item_id for occ in dates)
    ]
    sources += [{"type": "date", "id": occ.pk} for occ in dates]
    if entry is not None:
        # After the dates that fit; first when none does (then it is the answer).
        told = entry.answer(lang)
        text = f"{text.strip()}\n\n{told}" if fitting else f"{told}\n\n{text.strip()}"
        sources.insert(0, {"type": "knowledge", "id": entry.pk})
    return Reply(
        text=text.strip(),
        language=lang,
        intent="programme",
        confidence=confidence,
        sources=sources,
        options=options,
    )


# --- dates named in the booking dialogue ---------------------------------------------------


def dates_named(
    turn: Turn, *, within: list[int] | None = None, item_id: int | None = None
) -> tuple[list[Occurrence], bool]:
    """Bookable upcoming dates the text points at (by title words, kind, target group,
    day and time), and whether the text named anything at all."""
    when = turn.when
    wish = wish_of(turn)
    start = max(when.start, turn.today) if when else turn.today
    end = max(when.end, start) if when else turn.today + timedelta(days=BOOKING_HORIZON_DAYS)
    title = titles.title_match(turn)
    by_title = Wish(items=sorted(title.items)) if title.strong and item_id is None else Wish()
    dates = find_dates(turn, start=start, end=end, wish=by_title, bookable_only=True, limit=400)
    if within is not None:
        dates = [occ for occ in dates if occ.pk in within]
    if item_id is not None:
        dates = [occ for occ in dates if occ.item_id == item_id]
    named = when is not None
    horizon = timedelta(days=BOOKING_HORIZON_DAYS)
    if title.strong and item_id is None:
        # The title decides, whatever else is on that day ("zu {title} am Sonntag").
        mine = [occ for occ in dates if occ.item_id in title.items]
        if not mine and when is not None and within is None:
            # Not at that time ("übermorgen abend" for one at 10:00): that day's dates of
            # it; not on that day at all: its other dates to choose from.
            for first, last in ((start, end), (turn.today, turn.today + horizon)):
                mine = find_dates(
                    turn,
                    start=first,
                    end=last,
                    wish=Wish(items=sorted(title.items)),
                    bookable_only=True,
                    limit=50,
                    at_asked_time=False,
                )
                if mine:
                    break
        return mine, True
    shares = titles.coverages(turn)
    best = max((shares.get(occ.item_id, 0.0) for occ in dates), default=0.0)
    if best >= TITLE_NAMED:
        named = True
        dates = [occ for occ in dates if shares.get(occ.item_id, 0.0) >= best * titles.TITLE_TIE]
    if not wish.empty:
        theme_items = _theme_items(turn, wish)
        narrowed = [occ for occ in dates if _fits(occ, wish, theme_items)]
        if narrowed or best == 0:
            named = True
            dates = narrowed
    return dates, named
