"""What the programme import reads from a file, before anything is written.

Both readers (iCalendar in `import_ics.py`, CSV in `import_csv.py`) turn a file into
`ItemRecord`s with their `DateRecord`s, plus `Problem`s: rejected events or rows (with the
reason) and notes (skipped past dates and the like, which are not errors). `importing.py`
writes the records through the programme services.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from django.utils.translation import get_language

from publikum.programme.models import AccessibilityFeature, ItemKind, TargetGroup

# The external_id column holds at most this many characters; longer keys are hashed.
MAX_KEY_LENGTH = 255


@dataclass
class DateRecord:
    """One date of an item; `ref` is the row (CSV) or line (iCalendar) it comes from."""

    ref: int
    starts_at: datetime
    ends_at: datetime
    cancelled: bool = False
    # None: the default capacity of the import (iCalendar has no capacity).
    capacity: int | None = None


@dataclass
class VenueRecord:
    name: str
    street: str = ""
    postcode: str = ""
    city: str = ""
    latitude: str = ""
    longitude: str = ""
    # Other spellings the venue may already be known by (the full LOCATION text).
    aliases: list[str] = field(default_factory=list)


@dataclass
class ItemRecord:
    """One programme item: `key` is stored as ProgrammeItem.external_id to find it again."""

    ref: int
    key: str
    label: str
    # Fields for the item service: kind, title_de/en, summary_de/en, description_de/en,
    # target_groups, accessibility, bookable, published.
    data: dict[str, Any]
    venue: VenueRecord | None = None
    themes: list[str] = field(default_factory=list)
    # [{"name_de", "name_en", "price_eur"}]; empty: the item's prices are left alone.
    prices: list[dict[str, Any]] = field(default_factory=list)
    dates: list[DateRecord] = field(default_factory=list)


@dataclass
class Problem:
    """A rejected event or row (`errors`), or a note about it that is not an error."""

    ref: int
    label: str
    errors: list[str]

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.ref, "label": self.label, "errors": self.errors}


@dataclass
class ParsedFile:
    format: str  # "ics" or "csv"
    encoding: str
    delimiter: str = ""
    items: list[ItemRecord] = field(default_factory=list)
    rejected: list[Problem] = field(default_factory=list)
    notes: list[Problem] = field(default_factory=list)
    # Notes about the whole file (its encoding, ignored components, ...).
    file_notes: list[str] = field(default_factory=list)
    # Events (iCalendar) or data rows (CSV) read.
    total: int = 0
    # Dates in the past, not imported.
    skipped_past: int = 0

    def reject(self, ref: int, label: str, *errors: str) -> None:
        self.rejected.append(Problem(ref, label, list(errors)))

    def note(self, ref: int, label: str, *messages: str) -> None:
        self.notes.append(Problem(ref, label, list(messages)))


def external_key(prefix: str, value: str) -> str:
    """`prefix:value`, hashed when it would not fit the external_id column."""
    key = f"{prefix}:{value}"
    if len(key) <= MAX_KEY_LENGTH:
        return key
    return f"{prefix}:sha256:{hashlib.sha256(value.encode()).hexdigest()}"


def folded(text: str) -> str:
    """Lower case without accents and extra spaces: how names are compared."""
    text = unicodedata.normalize("NFKD", text.casefold().replace("ß", "ss"))
    text = "".join(c for c in text if not unicodedata.combining(c))
    return " ".join(re.sub(r"[^\w]+", " ", text).split())


# --- kinds, target groups, accessibility from words ----------------------------------------

# Words (folded) that name a kind. A German compound ends with its head noun, so a word
# that ends with one of the longer German words counts too ("Familienkonzert").
KIND_WORDS: dict[str, tuple[str, ...]] = {
    ItemKind.EXHIBITION: (
        "ausstellung", "exhibition", "exhibit", "schau", "exposition", "vernissage",
    ),
    ItemKind.CONCERT: ("konzert", "concert", "liederabend", "recital", "gig"),
    ItemKind.TOUR: (
        "fuhrung", "fuehrung", "tour", "guided tour", "rundgang", "stadtrundgang",
        "besichtigung",
    ),
    ItemKind.WORKSHOP: ("workshop", "werkstatt", "kurs", "course", "atelier", "mitmachen"),
    ItemKind.TALK: (
        "vortrag", "talk", "lecture", "lesung", "reading", "gesprach", "podium",
        "podiumsdiskussion", "diskussion", "panel", "symposium",
    ),
    ItemKind.PERFORMANCE: (
        "theater", "theatre", "auffuhrung", "auffuehrung", "performance", "vorstellung",
        "schauspiel", "oper", "opera", "tanz", "dance", "ballett", "ballet", "show",
        "kabarett", "film", "kino",
    ),
}  # fmt: skip
_KIND_BY_WORD = {word: kind for kind, words in KIND_WORDS.items() for word in words}
_COMPOUND_MIN = 5


def kind_of(word: str) -> str | None:
    """The kind a category or column value names ("Konzert", "Guided tour", "talk")."""
    text = folded(word)
    if not text:
        return None
    if text in ItemKind.values:
        return text
    if text in _KIND_BY_WORD:
        return str(_KIND_BY_WORD[text])
    for candidate, kind in _KIND_BY_WORD.items():
        if len(candidate) >= _COMPOUND_MIN and " " not in text and text.endswith(candidate):
            return str(kind)
    return None


TARGET_WORDS: dict[str, tuple[str, ...]] = {
    TargetGroup.CHILDREN: ("children", "kinder", "kids", "kind", "child"),
    TargetGroup.FAMILIES: ("families", "familien", "family", "familie"),
    TargetGroup.SENIORS: ("seniors", "senioren", "seniorinnen", "senior", "60"),
    TargetGroup.SCHOOLS: (
        "schools", "schulen", "schule", "school", "schulklassen", "school classes", "klassen",
    ),
    TargetGroup.GROUPS: ("groups", "gruppen", "gruppe", "group"),
    TargetGroup.ADULTS: ("adults", "erwachsene", "adult", "erwachsen"),
}  # fmt: skip
ACCESS_WORDS: dict[str, tuple[str, ...]] = {
    AccessibilityFeature.WHEELCHAIR: (
        "wheelchair", "wheelchair accessible", "rollstuhl", "rollstuhlgerecht",
        "rollstuhlgeeignet", "barrierefrei", "stufenlos", "step free",
    ),
    AccessibilityFeature.INDUCTION_LOOP: (
        "induction loop", "induction_loop", "induktionsschleife", "horschleife",
        "hoerschleife", "hearing loop",
    ),
    AccessibilityFeature.SIGN_LANGUAGE: (
        "sign language", "sign_language", "gebardensprache", "gebaerdensprache", "dgs",
        "mit dgs", "in dgs",
    ),
    AccessibilityFeature.EASY_LANGUAGE: (
        "easy language", "easy_language", "leichte sprache", "einfache sprache",
    ),
}  # fmt: skip


def _codes_from_words(words: list[str], table: dict[str, tuple[str, ...]]) -> list[str | None]:
    lookup = {folded(w): str(code) for code, ws in table.items() for w in (*ws, code)}
    return [lookup.get(folded(w)) for w in words]


def target_groups_of(words: list[str]) -> tuple[list[str], list[str]]:
    """(codes, words not understood)."""
    codes = _codes_from_words(words, TARGET_WORDS)
    known = [c for c in codes if c]
    return list(dict.fromkeys(known)), [w for w, c in zip(words, codes, strict=True) if not c]


def accessibility_of(words: list[str]) -> tuple[list[str], list[str]]:
    codes = _codes_from_words(words, ACCESS_WORDS)
    known = [c for c in codes if c]
    return list(dict.fromkeys(known)), [w for w, c in zip(words, codes, strict=True) if not c]


def split_words(value: str) -> list[str]:
    """A cell or property listing several things: "Kinder, Familien; Schulen"."""
    return [p.strip() for p in re.split(r"[,;|/]", value) if p.strip()]


# --- how dates appear in messages -----------------------------------------------------------


def when(moment: datetime) -> str:
    """A date and time as people of the active language write it."""
    language = (get_language() or "de")[:2]
    return moment.strftime("%d.%m.%Y %H:%M" if language == "de" else "%Y-%m-%d %H:%M")


def day(value: date) -> str:
    language = (get_language() or "de")[:2]
    return value.strftime("%d.%m.%Y" if language == "de" else "%Y-%m-%d")


def clock(moment: datetime) -> str:
    return moment.strftime("%H:%M")
