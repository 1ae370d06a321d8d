"""Programme titles named in a message, and what a message says about wanting to book.

A title is matched by its terms (`nlu.text.terms`, German and English), each weighted by
how rare it is among the organisation's titles (inverse document frequency): "Rezepte
erzählen Geschichten" is named by "rezepte erzählen geschichten" (every term, full
coverage), not by "Führung" (a word most tour titles share, little weight). The weighted
share of a title's terms found in the message is its coverage, 0..1.

The titles of an organisation are read once and kept in memory until its items change
(cache key: number of items and the latest `updated_at`, one small query per message).
"""

from __future__ import annotations

import math
import re
import threading
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache

from django.db.models import Count, Max

from publikum.assistant.engine.base import Turn
from publikum.assistant.models import PriceEntry
from publikum.assistant.nlu import intent_examples
from publikum.assistant.nlu.slots import find_count
from publikum.assistant.nlu.text import STOPWORDS, normalise, terms
from publikum.programme.models import ProgrammeItem

# A title counts as named when this share of its (weighted) terms is in the message,
# its rarest term among them ("Opening: Moments" is not named by "open on Friday", nor
# "Tour for school classes: Finds from the Roman period" by "tours for school classes").
TITLE_STRONG = 0.45
FEW_TITLES = 3
# ... or be at least this many words ("Town walk: the town's gardens and parks").
SEVERAL_WORDS = 3
# The weight of a title word that everyday questions use too ("open", "time", "day").
ORDINARY_WEIGHT = 0.25
# The most a title scores that is touched only by words it shares with many others.
WEAK_SHARE = 0.3
# Items whose coverage is this close to the best one's are named together (the same
# title used by several items: one per season).
TITLE_TIE = 0.999

_BOOKING_WORDS = re.compile(
    r"\b(buch\w*|gebucht|reservier\w*|reservation|reserve|reserving|book|books|booking|"
    r"anmeld\w*|angemeldet|kaufen|kaufe|buy|purchase)\b"
)
_TICKETS_FOR = re.compile(
    r"\b(karten?|tickets?|eintrittskarten?|platze?|seats?)\s+(fur|for|zu|to|zum|zur)\b"
)
_TICKET_WORD = re.compile(
    r"\b(karten?|tickets?|eintrittskarten?|platze?|personen|person|leute|people|persons|"
    r"seats?|places|erwachsene?r?|kinder|adults?|children|kids)\b"
)
# A wish rather than a question: "ich möchte", "wir würden gern", "I'd like", "we want".
_WISH = re.compile(
    r"\b(ich|wir)\s+(mochte|mochten|will|wollen|wurde|wurden|hatte|hatten|komme|kommen)\b|"
    r"\b(mochte|mochten|wurden|wurde|hatte|hatten)\s+(ich|wir)\b|"
    r"\b(i|we)\s*('d|would|want|wanna|will|'ll)\b|"
    r"\b(i|we)\s+('?d\s+)?(love|like)\s+to\b|"
    r"\b(gern|gerne)\b.*\b(kommen|besuchen|teilnehmen|dabei)\b|"
    r"\b(please book|book me|book us|buchen sie|bitte buchen)\b"
)


@dataclass(frozen=True)
class _Title:
    item_id: int
    title_de: str
    title_en: str
    # (terms, their total weight) per way of reading the title.
    readings: tuple[tuple[frozenset[str], str], ...]


@dataclass
class _Index:
    titles: list[_Title] = field(default_factory=list)
    weights: dict[str, float] = field(default_factory=dict)
    # The words found must weigh at least this much together: as much as a word found in
    # only a few titles ("open" alone does not name "Opening: From above"), unless they
    # are several.
    least: float = 0.0
    # Per language, which titles (positions in `titles`) have a reading with the term.
    postings: dict[str, dict[str, set[int]]] = field(default_factory=dict)
    # Per title and reading: its total weight and the weight of its rarest term.
    sizes: dict[tuple[int, int], tuple[float, float]] = field(default_factory=dict)


_cache: dict[int, tuple[tuple[int, datetime | None], _Index]] = {}
_lock = threading.Lock()


@lru_cache(maxsize=1)
def _ordinary() -> frozenset[str]:
    """Terms of everyday questions (the classifier's examples, per language): in a title
    they say little ("Opening: Signs of the times" is not named by "opening times")."""
    found: set[str] = set()
    for by_language in intent_examples.EXAMPLES.values():
        for phrases in by_language.values():
            for phrase in phrases:
                # Both ways of stemming: titles are read both ways too.
                found.update(terms(phrase, "de"))
                found.update(terms(phrase, "en"))
    return frozenset(found)


def _build(organisation_id: int) -> _Index:
    rows = list(
        ProgrammeItem.objects.filter(organisation_id=organisation_id).values_list(
            "pk", "title_de", "title_en"
        )
    )
    titles: list[_Title] = []
    seen_in: dict[str, set[str]] = {}
    # Function words of either language ("für" read as English is no title word).
    stop = STOPWORDS["de"] | STOPWORDS["en"]

    def read(text: str, lang: str) -> frozenset[str]:
        return frozenset(t for t in terms(text, lang) if t not in stop)

    for pk, title_de, title_en in rows:
        readings: list[tuple[frozenset[str], str]] = []
        de_terms = read(title_de or "", "de")
        if de_terms:
            readings.append((de_terms, "de"))
            # An English visitor typing the German title: stemmed the English way.
            readings.append((read(title_de or "", "en"), "en"))
        if title_en:
            readings.append((read(title_en, "en"), "en"))
        readings = [(reading, lang) for reading, lang in readings if reading]
        titles.append(_Title(pk, title_de or "", title_en or "", tuple(readings)))
        for reading, _lang in readings:
            for term in reading:
                seen_in.setdefault(term, set()).add(normalise(title_de or title_en or ""))
    distinct = max(1, len({normalise(t.title_de or t.title_en) for t in titles}))
    everyday = _ordinary()
    weights = {
        term: math.log(1 + distinct / len(found)) * (ORDINARY_WEIGHT if term in everyday else 1)
        for term, found in seen_in.items()
        if found
    }
    postings: dict[str, dict[str, set[int]]] = {"de": {}, "en": {}}
    sizes: dict[tuple[int, int], tuple[float, float]] = {}
    for position, title in enumerate(titles):
        for n, (reading, lang) in enumerate(title.readings):
            for term in reading:
                postings[lang].setdefault(term, set()).add(position)
            term_weights = [weights.get(t, 1.0) for t in reading]
            sizes[(position, n)] = (sum(term_weights) or 1.0, max(term_weights))
    return _Index(
        titles=titles,
        weights=weights,
        least=math.log(1 + distinct / FEW_TITLES),
        postings=postings,
        sizes=sizes,
    )


def _index(organisation_id: int) -> _Index:
    key_row = ProgrammeItem.objects.filter(organisation_id=organisation_id).aggregate(
        n=Count("pk"), latest=Max("updated_at")
    )
    key = (int(key_row["n"] or 0), key_row["latest"])
    with _lock:
        cached = _cache.get(organisation_id)
        if cached is not None and cached[0] == key:
            return cached[1]
    built = _build(organisation_id)
    with _lock:
        _cache[organisation_id] = (key, built)
    return built


@dataclass(frozen=True)
class TitleMatch:
    """The items whose title the message names best, and how well (0..1)."""

    items: frozenset[int]
    coverage: float
    # The titles as written (to blank them before reading a count from the text).
    texts: tuple[str, ...] = ()

    @property
    def strong(self) -> bool:
        return bool(self.items) and self.coverage >= TITLE_STRONG


NO_TITLE = TitleMatch(frozenset(), 0.0)


def _turn_index(turn: Turn) -> _Index:
    if "title_index" not in turn.memo:
        turn.memo["title_index"] = _index(turn.organisation.pk)
    index: _Index = turn.memo["title_index"]
    return index


def coverages(turn: Turn) -> dict[int, float]:
    """Every item's coverage by the message (items it does not touch are left out),
    computed once per turn."""
    cached = turn.memo.get("title_coverages")
    if isinstance(cached, dict):
        return cached
    found = _coverages(turn)
    turn.memo["title_coverages"] = found
    return found


def _coverages(turn: Turn) -> dict[int, float]:
    index = _turn_index(turn)
    query = {"de": set(terms(turn.text, "de")), "en": set(terms(turn.text, "en"))}
    found: dict[int, float] = {}
    weights = index.weights
    touched: set[int] = set()
    for lang, asked in query.items():
        for term in asked:
            touched |= index.postings.get(lang, {}).get(term, set())
    for position in touched:
        title = index.titles[position]
        best = 0.0
        for n, (reading, lang) in enumerate(title.readings):
            matched = reading & query[lang]
            if not matched:
                continue
            total, rarest = index.sizes[(position, n)]
            found_weight = sum(weights.get(t, 1.0) for t in matched)
            share = found_weight / total
            specific = found_weight >= index.least or len(matched) >= SEVERAL_WORDS
            if max(weights.get(t, 1.0) for t in matched) < rarest or not specific:
                # Only the words a title shares with others: at most a weak hint.
                share = min(share, WEAK_SHARE)
            best = max(best, share)
        if best > 0:
            found[title.item_id] = max(best, found.get(title.item_id, 0.0))
    return found


def title_match(turn: Turn) -> TitleMatch:
    """The best-named items (computed once per turn)."""
    cached = turn.memo.get("title_match")
    if isinstance(cached, TitleMatch):
        return cached
    found = coverages(turn)
    match = NO_TITLE
    if found:
        best = max(found.values())
        items = frozenset(pk for pk, share in found.items() if share >= best * TITLE_TIE)
        index = _turn_index(turn)
        texts = tuple(
            dict.fromkeys(
                text
                for t in index.titles
                if t.item_id in items
                for text in (t.title_de, t.title_en)
                if text
            )
        )
        match = TitleMatch(items, best, texts)
    turn.memo["title_match"] = match
    return match


def without_spans(text: str, spans: list[str]) -> str:
    """The text with each span (a date the visitor wrote, a title) blanked out, matched
    case-insensitively; a span that is not found as written is also looked for in the
    folded text (the result is then folded)."""
    result = text
    for span in sorted((s for s in spans if s and s.strip()), key=len, reverse=True):
        pattern = re.compile(re.escape(span), re.IGNORECASE)
        if pattern.search(result):
            result = pattern.sub(" ", result)
            continue
        folded_span = normalise(span)
        folded = normalise(result)
        if folded_span and folded_span in folded:
            result = folded.replace(folded_span, " ")
    return result


@dataclass(frozen=True)
class BookingWords:
    explicit: bool  # "buchen", "reservieren", "book", "Karten für"
    wish: bool  # "ich möchte", "we'd like", "wir würden gern ... kommen"
    ticket_word: bool  # "Karten", "tickets", "Personen", "2 adults"
    # Nothing but booking and ticket words ("kann ich Tickets buchen?"): no question about
    # a policy ("... vorher online kaufen", "... a private guided tour").
    bare: bool


_POLITE = frozenset({"bitte", "please", "gern", "gerne", "hi", "hallo", "hello", "auch", "also"})


def booking_words(text: str) -> BookingWords:
    folded = normalise(text).replace("’", "'")
    explicit = bool(_BOOKING_WORDS.search(folded) or _TICKETS_FOR.search(folded))
    stop = STOPWORDS["de"] | STOPWORDS["en"]
    rest = [
        word
        for word in re.findall(r"[a-z]+", folded)
        if word not in stop
        and word not in _POLITE
        and not _BOOKING_WORDS.fullmatch(word)
        and not _TICKET_WORD.fullmatch(word)
    ]
    return BookingWords(
        explicit=explicit,
        wish=bool(_WISH.search(folded)),
        ticket_word=bool(_TICKET_WORD.search(folded)),
        bare=explicit and not rest,
    )


def text_without_dates(turn: Turn) -> str:
    """The message without the date and time it names and without the named titles: what
    is left to read a count from ("Dienstag, 24. November, 1 Ticket" is one ticket)."""
    spans: list[str] = []
    when = turn.when
    # A bare number ("2") is an answer to "how many", not a date.
    if when is not None and when.text and re.search(r"[^\d\s]", when.text):
        spans.append(when.text)
    match = title_match(turn)
    if match.strong:
        spans.extend(match.texts)
    return without_spans(turn.text, spans)


def ticket_count(turn: Turn) -> int | None:
    """The number of tickets the message asks for, never a number of its date, time or
    title (computed once per turn)."""
    if "ticket_count" not in turn.memo:
        turn.memo["ticket_count"] = find_count(text_without_dates(turn), turn.language)
    found = turn.memo["ticket_count"]
    return found if isinstance(found, int) else None


@lru_cache(maxsize=256)
def _price_terms(rows: tuple[tuple[str, str, str, str], ...]) -> frozenset[str]:
    everyday = _ordinary()
    found: set[str] = set()
    for label_de, label_en, note_de, note_en in rows:
        for text, lang in ((label_de, "de"), (note_de, "de"), (label_en, "en"), (note_en, "en")):
            found.update(t for t in terms(text or "", lang) if len(t) >= 4)
    return frozenset(found - everyday)


def price_named(turn: Turn) -> bool:
    """The message names one of the house's prices or reductions ("Familienkarte",
    "Schwerbehindertenausweis", "family ticket") by a word of its label or note that
    everyday questions do not use."""
    rows = tuple(
        PriceEntry.objects.filter(organisation=turn.organisation)
        .order_by("pk")
        .values_list("label_de", "label_en", "note_de", "note_en")
    )
    if not rows:
        return False
    known = _price_terms(rows)
    asked = set(terms(turn.text, "de")) | set(terms(turn.text, "en"))
    return bool(asked & known)
