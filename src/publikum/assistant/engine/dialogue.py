"""The booking dialogue: which date, how many tickets of which category, name, e-mail,
newsletter, confirmation; then `bookings.services.booking_create`.

The state lives in `conversation.state["booking"]`:

    {"step": "date"|"tickets"|"name"|"email"|"newsletter"|"confirm",
     "candidates": [date ids offered], "occurrence": id|None, "quantity": int|None,
     "split": {"<category id>": n}|None, "name": str, "email": str, "newsletter": bool|None,
     "key": the idempotency key of the summary shown last (a repeated "yes" books once)}

Every message is read for everything it may say, not only for the asked step, so that the
visitor can answer several things at once ("2 Karten für die Familienführung am Samstag")
and change an earlier answer at any time ("doch 3 Karten", "lieber Sonntag", "andere
E-Mail: x@y.de", "change the date"). "abbrechen"/"cancel" ends the dialogue. After each
message the next missing answer is asked; when all are there, a summary is confirmed.
"""

from __future__ import annotations

import re
import secrets
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.utils import translation

from publikum.assistant.engine import programme as programme_answers
from publikum.assistant.engine.answers import hand_over
from publikum.assistant.engine.base import Reply, Turn
from publikum.assistant.engine.phrases import and_words, datetime_words, money, say
from publikum.assistant.engine.titles import text_without_dates, ticket_count
from publikum.assistant.nlu.slots import find_email, is_cancel, is_no, is_yes
from publikum.assistant.nlu.text import STOPWORDS, normalise
from publikum.bookings.explain import explain
from publikum.bookings.idempotency import fingerprint_of
from publikum.bookings.models import BookingSource
from publikum.bookings.selectors import with_seats
from publikum.bookings.services import Busy, DateNotBookable, SoldOut, booking_create
from publikum.conversations.models import HandoffReason
from publikum.conversations.services import link_visitor
from publikum.core.errors import DomainError, ValidationFailed
from publikum.programme.models import Occurrence, PriceCategory

MAX_CHOICES = 5
# A message the classifier is this sure is a question is not taken as a name.
NAME_QUESTION_P = 0.8
_QUESTION_INTENTS = frozenset(
    {"opening_hours", "prices", "address", "accessibility", "facilities", "programme", "human"}
)

_NUMBER_WORDS = {
    "ein": 1, "eine": 1, "einen": 1, "einer": 1, "eins": 1, "zwei": 2, "zwo": 2, "drei": 3,
    "vier": 4, "funf": 5, "sechs": 6, "sieben": 7, "acht": 8, "neun": 9, "zehn": 10,
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10,
}  # fmt: skip
_ORDINALS = {
    "erste": 1, "ersten": 1, "erster": 1, "zweite": 2, "zweiten": 2, "dritte": 3, "dritten": 3,
    "vierte": 4, "vierten": 4, "funfte": 5, "funften": 5, "first": 1, "second": 2,
    "third": 3, "fourth": 4, "fifth": 5, "1st": 1, "2nd": 2, "3rd": 3, "4th": 4, "5th": 5,
    "letzte": -1, "letzten": -1, "last": -1,
}  # fmt: skip
_TICKET_WORD = re.compile(
    r"\b(karten?|tickets?|eintrittskarten?|platze?|personen|person|leute|people|persons|"
    r"seats?|places)\b"
)
_CHANGE_WORD = re.compile(
    r"\b(andern|andere|anderen|anderer|anderes|anders|lieber|doch|statt|stattdessen|"
    r"korrigier\w*|falsch|change|different|another|other|instead|rather|wrong|actually)\b"
)
_FIELD_WORDS: dict[str, re.Pattern[str]] = {
    "date": re.compile(r"\b(datum|termin|tag|zeit|uhrzeit|date|day|time|veranstaltung|event)\b"),
    "tickets": re.compile(r"\b(anzahl|karten|tickets|number|kategorie|category)\b"),
    "name": re.compile(r"\b(name|namen)\b"),
    "email": re.compile(r"\b(e ?mail|mail|adresse|address)\b"),
    "newsletter": re.compile(r"\bnewsletter\b"),
}
_NAME_PREFIX = re.compile(
    r"^(ich hei(ss|ß)e|mein name ist|my name is|i am|i'm|name ?:|auf den namen|"
    r"unter dem namen|under the name|it's|es ist|für|for)\s+",
    re.IGNORECASE,
)
_EXPLICIT_NAME = re.compile(r"(?i)^(ich hei(ss|ß)e|mein name ist|my name is|name ?:)\s*")
# "mein Name ist Lea Wolf" in a longer message: the words after the introduction up to a
# comma, a full stop, an address or "und"/"and".
_NAME_WORD = r"[^\W\d_][\w'’.-]*"
_NAME_INSIDE = re.compile(
    r"(?i)(?:\bmein name ist|\bmein name:|\bich hei(?:ss|ß)e|\bmy name is|\bmy name'?s|"
    r"\bname\s*:|\bauf den namen|\bunter dem namen|\bunder the name)\s+"
    r"(?P<name>" + _NAME_WORD + r"(?:[ \t]+" + _NAME_WORD + r"){0,3})"
)
# "I'm Lea Wolf": only capitalised words ("I'm looking for ..." is no name).
_NAME_CAPITALISED = re.compile(
    r"(?:\b[Ii]['’]m|\b[Ii] am|\b[Ii]ch bin|\b[Hh]ier ist|\b[Tt]his is)\s+"
    r"(?P<name>[A-ZÄÖÜ][\w'’-]+(?:[ \t]+(?:von|van|de|der|zu|[A-ZÄÖÜ][\w'’-]+)){1,3})"
)
_NAME_STOP = frozenset(
    {"und", "and", "mit", "with", "bitte", "please", "danke", "thanks", "meine", "my", "e",
     "email", "mail", "e-mail", "und meine", "ich", "i"}
)  # fmt: skip
_ALIAS_GROUPS: tuple[frozenset[str], ...] = (
    frozenset({"erwachsene", "erwachsener", "adult", "adults", "regular",
               "normal", "vollpreis", "full"}),
    frozenset({"kind", "kinder", "child", "children", "kids", "kid", "jugendliche"}),
    frozenset({"ermassigt", "ermassigte", "ermassigung", "reduced", "concession",
               "concessions", "student", "students", "schuler", "studierende"}),
    frozenset({"senior", "seniors", "senioren", "rentner", "pensioner"}),
    frozenset({"familie", "family", "familienkarte", "familien"}),
)  # fmt: skip
_DIGIT_CHOICE = re.compile(r"^\s*(?:nr\.?|nummer|number|no\.?|option|#)?\s*(\d{1,2})\s*[.)!]?\s*$")


def active(turn: Turn) -> bool:
    return isinstance(turn.state.get("booking"), dict)


def _new_state(turn: Turn, candidates: list[int] | None) -> dict[str, Any]:
    return {
        "step": "date",
        "candidates": candidates or [],
        "occurrence": None,
        "quantity": None,
        "split": None,
        "name": turn.conversation.visitor_name or "",
        "email": turn.conversation.visitor_email or "",
        "newsletter": None,
    }


def start(turn: Turn, *, candidates: list[int] | None = None, confidence: float) -> Reply:
    """Begin a booking; the message may already name the date, count, address."""
    booking = _new_state(turn, candidates)
    turn.state["booking"] = booking
    notes: list[str] = []
    _absorb(turn, booking, notes, starting=True)
    if booking["occurrence"] is None and len(booking["candidates"]) == 1:
        only = _load(booking["candidates"][0])
        if only is not None:
            _choose(turn, booking, only, notes)
    return _next(turn, booking, notes, confidence=confidence)


def proceed(turn: Turn) -> Reply | None:
    """The next message of a running dialogue; None when it is a question on the side
    (answered by the caller, which then repeats the open question)."""
    booking: dict[str, Any] = turn.state["booking"]
    lang = turn.language
    if is_cancel(turn.text, lang):
        turn.state.pop("booking", None)
        return Reply(text=say("book_cancelled", lang), language=lang, intent="book", confidence=1.0)
    step = booking["step"]
    if step == "confirm" and is_yes(turn.text, lang) and not find_email(turn.text):
        return _book(turn, booking)
    notes: list[str] = []
    understood = _absorb(turn, booking, notes, starting=False)
    if not understood:
        if step == "confirm" and is_no(turn.text, lang):
            return Reply(
                text=say("book_what_change", lang),
                language=lang,
                intent="book",
                confidence=1.0,
                options=[{"label": say("cancel", lang), "text": say("cancel", lang)}],
            )
        side = turn.intent
        if side == "human" and turn.intent_p >= 0.5:
            return hand_over(
                turn,
                reason=HandoffReason.ASKED_FOR_PERSON,
                intro="handover_person",
                intent="human",
                confidence=turn.intent_p,
            )
        if side not in {"book", "unknown", "greeting", "thanks"} and turn.intent_p >= 0.5:
            return None
        notes.append(
            "Das habe ich nicht ganz verstanden." if lang != "en" else "I did not quite get that."
        )
    return _next(turn, booking, notes, confidence=1.0 if understood else 0.5)


def open_question(turn: Turn) -> tuple[str, list[dict[str, str]]]:
    """The question the dialogue waits for, to repeat after a question on the side."""
    reply = _next(turn, turn.state["booking"], [], confidence=1.0)
    return reply.text, reply.options


# --- reading a message ---------------------------------------------------------------------


def meaningful_when(turn: Turn) -> bool:
    """A date or day in the text: not a bare number, which is a count or a choice."""
    when = turn.when
    return when is not None and bool(re.search(r"[^\d\s]", when.text or "x"))


def choice(turn: Turn, candidates: list[int]) -> int | None:
    """The offered date the message picks: "2", "Nr. 2", "die zweite", "the last"."""
    if not candidates:
        return None
    folded = normalise(turn.text)
    match = _DIGIT_CHOICE.match(folded)
    number = int(match.group(1)) if match else None
    if number is None:
        words = re.findall(r"[a-z0-9]+", folded)
        for word in words:
            if word in _ORDINALS:
                number = _ORDINALS[word]
                break
        if number is None and len(words) <= 2:
            number = next((_NUMBER_WORDS[w] for w in words if w in _NUMBER_WORDS), None)
    if number is None:
        return None
    if number == -1:
        number = len(candidates)
    if 1 <= number <= len(candidates):
        return candidates[number - 1]
    return None


def _categories(occurrence_id: int) -> list[PriceCategory]:
    return list(
        PriceCategory.objects.filter(item__occurrences=occurrence_id).order_by("position", "pk")
    )


def _keys_of(category: PriceCategory) -> set[str]:
    words = set(re.findall(r"[a-z]+", normalise(f"{category.name_de} {category.name_en}")))
    keys = {w for w in words if len(w) >= 3 and w not in STOPWORDS["de"] | STOPWORDS["en"]}
    for group in _ALIAS_GROUPS:
        if any(_same_word(k, member) for k in keys for member in group):
            keys |= group
    return keys


def _same_word(token: str, key: str) -> bool:
    if token == key:
        return True
    need = min(len(key), len(token), 5)
    if need < 4:
        return False
    common = 0
    for a, b in zip(token, key, strict=False):
        if a != b:
            break
        common += 1
    return common >= need


def _category_of(token: str, keyed: list[tuple[PriceCategory, set[str]]]) -> PriceCategory | None:
    found = [c for c, keys in keyed if any(_same_word(token, k) for k in keys)]
    return found[0] if len(found) == 1 else None


def _split(
    turn: Turn, categories: list[PriceCategory]
) -> tuple[dict[str, int], PriceCategory | None]:
    """Counts per category ("2 Erwachsene und 1 Kind"), and a category named without a
    count ("Erwachsene")."""
    keyed = [(c, _keys_of(c)) for c in categories]
    text = re.sub(r"\S+@\S+", " ", text_without_dates(turn))
    words = re.findall(r"[a-z]+|\d+", normalise(text))
    split: dict[str, int] = {}
    used: set[int] = set()
    for i, word in enumerate(words):
        number = int(word) if word.isdigit() else _NUMBER_WORDS.get(word)
        if number is None or not 0 < number < 100:
            continue
        for j in range(i + 1, min(i + 3, len(words))):
            category = _category_of(words[j], keyed)
            if category is not None:
                key = str(category.pk)
                split[key] = split.get(key, 0) + number
                used.add(j)
                break
    named = None
    if not split:
        mentioned = {
            c.pk: c
            for j, w in enumerate(words)
            if j not in used
            for c in [_category_of(w, keyed)]
            if c
        }
        if len(mentioned) == 1:
            named = next(iter(mentioned.values()))
    return split, named


def _mentions_tickets(turn: Turn, categories: list[PriceCategory]) -> bool:
    folded = normalise(turn.text)
    if _TICKET_WORD.search(folded):
        return True
    keyed = [(c, _keys_of(c)) for c in categories]
    return any(_category_of(w, keyed) for w in re.findall(r"[a-z]+", folded))


def _looks_like_name(text: str) -> str | None:
    name = _NAME_PREFIX.sub("", text.strip()).strip(" .,!")
    if not 2 <= len(name) <= 100 or "@" in name or "?" in name or re.search(r"\d", name):
        return None
    if len(name.split()) > 6 or not re.search(r"[^\W\d_]", name):
        return None
    return " ".join(name.split())


def _choose(turn: Turn, booking: dict[str, Any], occurrence: Occurrence, notes: list[str]) -> None:
    if booking.get("occurrence") != occurrence.pk:
        if booking.get("item") not in (None, occurrence.item_id):
            booking["split"] = None  # another item has other price categories
        booking["occurrence"] = occurrence.pk
        booking["item"] = occurrence.item_id
        notes.append(say("book_chosen", turn.language, date=_date_words(turn, occurrence)))
    booking["candidates"] = []


def _date_words(turn: Turn, occurrence: Occurrence) -> str:
    moment = datetime_words(turn.local(occurrence.starts_at), turn.language, today=turn.today)
    return f"{moment}: {occurrence.item.title(turn.language)}"


def _take_dates(
    turn: Turn, booking: dict[str, Any], dates: list[Occurrence], notes: list[str]
) -> None:
    """One date: chosen; several: offered as numbered choices."""
    if len(dates) == 1:
        _choose(turn, booking, dates[0], notes)
    elif dates:
        booking["occurrence"] = None
        booking["candidates"] = [d.pk for d in dates[:MAX_CHOICES]]


def _absorb_date(turn: Turn, booking: dict[str, Any], notes: list[str], *, starting: bool) -> bool:
    if booking["step"] == "date" or starting:
        return _absorb_date_choice(turn, booking, notes)
    if booking.get("occurrence") is not None:
        return _absorb_date_change(turn, booking, notes)
    return False


def _absorb_date_choice(turn: Turn, booking: dict[str, Any], notes: list[str]) -> bool:
    """A number from the offered dates, or dates named by title, kind, day and time."""
    if not _TICKET_WORD.search(normalise(turn.text)):
        chosen = choice(turn, booking["candidates"])
        occurrence = _load(chosen) if chosen is not None else None
        if occurrence is not None:
            _choose(turn, booking, occurrence, notes)
            return True
    within = booking["candidates"] or None
    dates, named = programme_answers.dates_named(turn, within=within)
    if within and named and not dates:
        dates, named = programme_answers.dates_named(turn)
    if not named:
        return False
    _take_dates(turn, booking, dates, notes)
    if not dates:
        notes.append(say("book_none_found", turn.language))
        booking["candidates"] = []
    return True


def _absorb_date_change(turn: Turn, booking: dict[str, Any], notes: list[str]) -> bool:
    """ "lieber Sonntag" (another day of the same item) or "change the date"."""
    folded = normalise(turn.text)
    occurrence = _load(booking["occurrence"])
    if occurrence is None:
        return False
    if meaningful_when(turn):
        dates, _named = programme_answers.dates_named(turn, item_id=occurrence.item_id)
        same = [d for d in dates if d.item_id == occurrence.item_id]
        _take_dates(turn, booking, same, notes)
        if not same:
            notes.append(
                say("book_no_date_that_day", turn.language, date=_date_words(turn, occurrence))
            )
        return True
    if _CHANGE_WORD.search(folded) and _FIELD_WORDS["date"].search(folded):
        others = _item_dates(turn, occurrence.item_id, exclude=occurrence.pk)
        booking["occurrence"] = None
        booking["candidates"] = [d.pk for d in others[:MAX_CHOICES]]
        return True
    return False


def _absorb(turn: Turn, booking: dict[str, Any], notes: list[str], *, starting: bool) -> bool:
    """Take what the message says into the state; True when it said anything useful."""
    email = find_email(turn.text)
    if email:
        booking["email"] = email
    found = [
        bool(email),
        _absorb_date(turn, booking, notes, starting=starting),
        _absorb_tickets(turn, booking, starting=starting),
        _absorb_name(turn, booking, has_email=bool(email)),
        _absorb_newsletter(turn, booking),
    ]
    return any(found) or _absorb_field_to_change(turn, booking)


def _absorb_tickets(turn: Turn, booking: dict[str, Any], *, starting: bool) -> bool:
    occurrence_id = booking.get("occurrence")
    categories = _categories(occurrence_id) if occurrence_id else []
    step = booking["step"]
    if not (step == "tickets" or starting or _mentions_tickets(turn, categories)):
        return False
    split, named = _split(turn, categories) if len(categories) > 1 else ({}, None)
    if split:
        booking["split"] = split
        booking["quantity"] = sum(split.values())
        return True
    if named is not None and booking.get("quantity"):
        booking["split"] = {str(named.pk): booking["quantity"]}
        return True
    count = ticket_count(turn)  # never from an address (find_count skips those)
    if count is None or not (step == "tickets" or _TICKET_WORD.search(normalise(turn.text))):
        return False
    if count != booking.get("quantity"):
        booking["quantity"] = count
        if sum((booking.get("split") or {}).values()) != count:
            booking["split"] = None
    return True


def _name_inside(text: str) -> str | None:
    """A name introduced anywhere in a longer message: "…, mein Name ist Lea Wolf,
    lea.wolf@example.org", "I'm Lea Wolf", "Name: Lea Wolf"."""
    match = _NAME_INSIDE.search(text)
    if match is None:
        match = _NAME_CAPITALISED.search(text)
    if match is None:
        return None
    words = match.group("name").split()
    while words and words[-1].lower() in _NAME_STOP:
        words.pop()
    name = " ".join(words).strip(" .,;:!-")
    if not 2 <= len(name) <= 100 or _CHANGE_WORD.search(normalise(name)):
        return None
    return name


def _absorb_name(turn: Turn, booking: dict[str, Any], *, has_email: bool) -> bool:
    lang = turn.language
    inside = _name_inside(turn.text)
    if inside and not _EXPLICIT_NAME.match(turn.text.strip()):
        booking["name"] = inside
        return True
    if booking["step"] == "name" and not has_email:
        if is_yes(turn.text, lang) or is_no(turn.text, lang):
            return False
    elif not _EXPLICIT_NAME.match(turn.text.strip()):
        return False
    if turn.intent in _QUESTION_INTENTS and turn.intent_p >= NAME_QUESTION_P:
        return False  # "Wann habt ihr morgen offen" is a question, not a name
    name = _looks_like_name(turn.text)
    if name:
        booking["name"] = name
    return bool(name)


def _absorb_newsletter(turn: Turn, booking: dict[str, Any]) -> bool:
    if booking["step"] != "newsletter":
        return False
    if is_no(turn.text, turn.language):
        booking["newsletter"] = False
    elif is_yes(turn.text, turn.language):
        booking["newsletter"] = True
    else:
        return False
    return True


def _absorb_field_to_change(turn: Turn, booking: dict[str, Any]) -> bool:
    """ "Name ändern", "andere E-Mail" (without the new value): ask for it again."""
    folded = normalise(turn.text)
    if not (_CHANGE_WORD.search(folded) or booking["step"] == "confirm"):
        return False
    for field, pattern in _FIELD_WORDS.items():
        if not pattern.search(folded):
            continue
        if field == "date":
            booking["occurrence"] = None
        elif field == "tickets":
            booking["quantity"] = None
            booking["split"] = None
        elif field == "newsletter":
            booking["newsletter"] = None
        else:
            booking[field] = ""
        return True
    return False


# --- asking the next question --------------------------------------------------------------


def _load(occurrence_id: int) -> Occurrence | None:
    return with_seats(Occurrence.objects.filter(pk=occurrence_id)).select_related("item").first()


def _item_dates(turn: Turn, item_id: int, *, exclude: int | None = None) -> list[Occurrence]:
    dates = programme_answers.find_dates(
        turn,
        start=turn.today,
        end=turn.today + timedelta(days=programme_answers.BOOKING_HORIZON_DAYS),
        wish=programme_answers.Wish(),
        bookable_only=True,
        limit=50,
    )
    return [
        d
        for d in dates
        if d.item_id == item_id and d.pk != exclude and programme_answers.bookable_now(d)
    ]


def _ask(
    turn: Turn,
    booking: dict[str, Any],
    notes: list[str],
    step: str,
    question: str,
    *,
    confidence: float,
    options: list[dict[str, str]] | None = None,
) -> Reply:
    booking["step"] = step
    text = " ".join([*notes, question]).strip()
    return Reply(
        text=text,
        language=turn.language,
        intent="book",
        confidence=confidence,
        options=options or [],
    )


def _yes_no(turn: Turn) -> list[dict[str, str]]:
    lang = turn.language
    return [
        {"label": say("yes", lang), "text": say("yes", lang)},
        {"label": say("no", lang), "text": say("no", lang)},
    ]


def _ask_date(turn: Turn, booking: dict[str, Any], notes: list[str], *, confidence: float) -> Reply:
    lang = turn.language
    dates: list[Occurrence] = []
    if booking["candidates"]:
        loaded = {
            o.pk: o
            for o in with_seats(
                Occurrence.objects.filter(pk__in=booking["candidates"])
            ).select_related("item")
        }
        dates = [loaded[pk] for pk in booking["candidates"] if pk in loaded]
        dates = [d for d in dates if d.starts_at > turn.now]
    intro = say("book_several", lang) if dates else ""
    if not dates:
        dates = programme_answers.find_dates(
            turn,
            start=turn.today,
            end=turn.today + timedelta(days=programme_answers.BOOKING_HORIZON_DAYS),
            wish=programme_answers.Wish(),
            bookable_only=True,
            limit=MAX_CHOICES,
        )
        dates = [d for d in dates if programme_answers.bookable_now(d)]
        intro = say("book_next_dates", lang)
    if not dates:
        turn.state.pop("booking", None)
        return Reply(
            text=" ".join([*notes, say("book_nothing_bookable", lang)]),
            language=lang,
            intent="book",
            confidence=confidence,
        )
    dates = dates[:MAX_CHOICES]
    booking["candidates"] = [d.pk for d in dates]
    lines = "\n".join(
        programme_answers.date_line(turn, d, number=n) for n, d in enumerate(dates, start=1)
    )
    options = [programme_answers.option_for(turn, d, n) for n, d in enumerate(dates, start=1)]
    question = f"{intro}\n{lines}\n{say('book_which', lang)}"
    reply = _ask(turn, booking, notes, "date", question, confidence=confidence, options=options)
    reply.sources = [{"type": "date", "id": d.pk} for d in dates]
    return reply


def _price_list(categories: list[PriceCategory], language: str) -> str:
    return and_words(
        [f"{c.name(language)} {money(c.price_eur, language)}" for c in categories], language
    )


def _lines(
    booking: dict[str, Any], categories: list[PriceCategory], language: str
) -> tuple[list[dict[str, Any]], Decimal]:
    by_pk = {c.pk: c for c in categories}
    lines: list[dict[str, Any]] = []
    if len(categories) > 1 and booking.get("split"):
        for key, n in booking["split"].items():
            category = by_pk.get(int(key))
            if category is not None and n:
                lines.append(
                    {
                        "category": category.name(language),
                        "quantity": n,
                        "price": category.price_eur,
                    }
                )
    else:
        category = categories[0] if categories else None
        lines.append(
            {
                "category": category.name(language) if category else "Ticket",
                "quantity": booking["quantity"],
                "price": category.price_eur if category else Decimal(0),
            }
        )
    total = sum((line["price"] * line["quantity"] for line in lines), Decimal(0))
    return lines, total


def _lines_words(lines: list[dict[str, Any]], language: str) -> str:
    return and_words([f"{line['quantity']} × {line['category']}" for line in lines], language)


def _next(  # noqa: PLR0911 (one question per missing answer)
    turn: Turn, booking: dict[str, Any], notes: list[str], *, confidence: float
) -> Reply:
    lang = turn.language
    occurrence = _load(booking["occurrence"]) if booking.get("occurrence") else None
    if occurrence is not None and not programme_answers.bookable_now(occurrence):
        notes.append(say("book_sold_out_date", lang, date=_date_words(turn, occurrence)))
        booking["occurrence"] = None
        booking["candidates"] = [d.pk for d in _item_dates(turn, occurrence.item_id)][:MAX_CHOICES]
        occurrence = None
    if occurrence is None:
        return _ask_date(turn, booking, notes, confidence=confidence)
    categories = _categories(occurrence.pk)
    if not booking.get("quantity"):
        if len(categories) > 1:
            question = say(
                "book_how_many_categories",
                lang,
                prices=_price_list(categories, lang),
                first=categories[0].name(lang),
                second=categories[1].name(lang),
            )
            return _ask(turn, booking, notes, "tickets", question, confidence=confidence)
        options = [{"label": str(n), "text": str(n)} for n in (1, 2, 3, 4)]
        return _ask(
            turn,
            booking,
            notes,
            "tickets",
            say("book_how_many", lang),
            confidence=confidence,
            options=options,
        )
    if len(categories) > 1 and not booking.get("split"):
        question = say(
            "book_which_category",
            lang,
            prices=_price_list(categories, lang),
            n=booking["quantity"],
            first=categories[0].name(lang),
        )
        options = [
            {"label": c.name(lang), "text": f"{booking['quantity']} {c.name(lang)}"}
            for c in categories
        ]
        return _ask(
            turn, booking, notes, "tickets", question, confidence=confidence, options=options
        )
    if not booking.get("name"):
        return _ask(turn, booking, notes, "name", say("book_name", lang), confidence=confidence)
    if not booking.get("email"):
        return _ask(turn, booking, notes, "email", say("book_email", lang), confidence=confidence)
    if booking.get("newsletter") is None:
        return _ask(
            turn,
            booking,
            notes,
            "newsletter",
            say("book_newsletter", lang),
            confidence=confidence,
            options=_yes_no(turn),
        )
    lines, total = _lines(booking, categories, lang)
    summary = say(
        "book_summary",
        lang,
        date=_date_words(turn, occurrence),
        lines=_lines_words(lines, lang),
        total=money(total, lang) if total else say("free", lang),
        name=booking["name"],
        email=booking["email"],
        newsletter=say("newsletter_yes" if booking["newsletter"] else "newsletter_no", lang),
    )
    # A new key with every summary: a "yes" repeated after the state could not be stored
    # gets the booking the first one made (bookings.idempotency), a changed booking a new one.
    booking["key"] = secrets.token_urlsafe(16)
    reply = _ask(
        turn, booking, notes, "confirm", summary, confidence=confidence, options=_yes_no(turn)
    )
    reply.sources = [
        {"type": "event", "id": occurrence.item_id},
        {"type": "date", "id": occurrence.pk},
    ]
    return reply


# --- booking -------------------------------------------------------------------------------


def _book(turn: Turn, booking: dict[str, Any]) -> Reply:  # noqa: PLR0911 (one per refusal)
    lang = turn.language
    occurrence = _load(booking["occurrence"])
    if occurrence is None:
        booking["occurrence"] = None
        return _next(turn, booking, [], confidence=1.0)
    categories = _categories(occurrence.pk)
    per_category = (
        {int(k): int(v) for k, v in booking["split"].items()}
        if len(categories) > 1 and booking.get("split")
        else None
    )
    quantity = None if per_category else int(booking["quantity"])
    consents = ["newsletter"] if booking.get("newsletter") else []
    key = booking.get("key") or ""
    try:
        made = booking_create(
            organisation=turn.organisation,
            occurrence_id=occurrence.pk,
            name=booking["name"],
            email=booking["email"],
            language=lang,
            quantity=quantity,
            per_category=per_category,
            consents=consents,
            source=BookingSource.ASSISTANT,
            link_base=turn.link_base,
            request_key=f"assistant-{turn.conversation.public_id}-{key}" if key else "",
            request_fingerprint=fingerprint_of(
                {
                    "occurrence": occurrence.pk,
                    "name": booking["name"],
                    "email": booking["email"],
                    "quantity": quantity,
                    "per_category": per_category,
                    "consents": consents,
                }
            )
            if key
            else "",
        )
    except SoldOut as exc:
        with translation.override(lang):
            detail = explain(exc)
        booking["quantity"] = None
        booking["split"] = None
        return _next(turn, booking, [say("book_sold_out", lang, detail=detail)], confidence=1.0)
    except DateNotBookable as exc:
        with translation.override(lang):
            detail = explain(exc).rstrip(".")
        booking["occurrence"] = None
        booking["candidates"] = [d.pk for d in _item_dates(turn, occurrence.item_id)][:MAX_CHOICES]
        return _next(turn, booking, [say("book_not_bookable", lang, detail=detail)], confidence=1.0)
    except ValidationFailed as exc:
        with translation.override(lang):
            detail = explain(exc)
        for field in ("email", "name"):
            if field in exc.fields:
                booking[field] = ""
        if "quantity" in exc.fields or "per_category" in exc.fields:
            booking["quantity"] = None
            booking["split"] = None
        return _next(turn, booking, [say("book_invalid", lang, detail=detail)], confidence=1.0)
    except Busy:
        return Reply(
            text=say("book_busy", lang),
            language=lang,
            intent="book",
            confidence=1.0,
            options=_yes_no(turn),
        )
    except DomainError:
        return hand_over(
            turn,
            reason=HandoffReason.BOOKING_FAILED,
            intro="handover_booking",
            intent="book",
            confidence=1.0,
        )
    turn.state.pop("booking", None)
    turn.state["last_booking"] = made.code
    link_visitor(turn.conversation, email=made.email, name=made.name)
    lines, _total = _lines(booking, categories, lang)
    text = say(
        "book_done",
        lang,
        code=made.code,
        email=made.email,
        date=_date_words(turn, occurrence),
        lines=_lines_words(lines, lang),
    )
    if booking.get("newsletter"):
        text += " " + say("book_newsletter_done", lang)
    return Reply(
        text=text,
        language=lang,
        intent="book",
        confidence=1.0,
        sources=[
            {"type": "event", "id": occurrence.item_id},
            {"type": "date", "id": occurrence.pk},
        ],
        booking={
            "code": made.code,
            "item": occurrence.item.title(lang),
            "date": turn.local(occurrence.starts_at).isoformat(),
            "quantity": made.quantity,
            "lines": [
                {
                    "category": line["category"],
                    "quantity": line["quantity"],
                    "price_eur": str(line["price"]),
                }
                for line in lines
            ],
            "status": str(made.status),
        },
    )
