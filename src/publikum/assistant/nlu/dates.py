"""The day and time a visitor means: "übermorgen Abend", "am 5. Dezember um 19 Uhr",
"this Friday", "Ostermontag", "next weekend".

Own rules over the folded text (`text.normalise`), German and English alike (visitors mix
them). They beat dateparser and ctparse on the expressions visitors of a cultural house use
(measured in bench/assistant_dates.py); both libraries miss holiday names, weekends, parts
of the day and German relative words.

Choices where usage is ambiguous:

- A weekday alone ("am Samstag", "Saturday", "this Friday", "on Friday") is the coming one,
  today if today is that day.
- "nächsten Samstag", "kommenden Samstag", "next Saturday" is the coming one too, but never
  today (then a week later); "übernächsten Samstag" / "Saturday after next" adds a week.
  German speakers use "nächsten Samstag" for both the coming and the following Saturday;
  the coming one is the more frequent meaning, and the answer always names the date, so a
  visitor who meant the other one sees it at once.
- "Wochenende"/"weekend" is Saturday to Sunday; "dieses/am Wochenende", "this weekend" the
  coming one (Sunday alone when today is Sunday); "nächstes Wochenende", "next weekend" the
  coming one from Monday to Thursday and the one after from Friday on.
- "nächste Woche", "next week": Monday to Sunday of the following week; "diese Woche",
  "this week": today to Sunday.
- A date without a year ("5.12.", "am 5. Dezember", "Dec 5") is the next one on or after
  today. Numeric dates are day first ("5/12" is 5 December), as in Germany.
- A holiday name is its next date on or after today; "Weihnachten"/"Christmas" is 25 to 26
  December, "Ostern"/"Easter" Sunday to Monday, "Pfingsten"/"Whitsun" Sunday to Monday.
- A clock hour from 1 to 7 without am/pm or a part of the day is taken as afternoon or
  evening ("um 7" = 19:00): events start then, nothing opens at 3 at night. An hour below
  12 with "abends"/"evening"/"pm" or "nachmittags"/"afternoon" gets 12 added.
- Only a time or a part of the day ("um 19 Uhr", "heute Abend" aside) means today.
- The first day expression wins when there are several ("Samstag oder Sonntag").
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, time, timedelta

from publikum.assistant.nlu.text import fold_word


@dataclass(frozen=True)
class When:
    start: date  # first day meant
    end: date  # last day meant (== start for one day; Sat..Sun for "weekend")
    at: time | None  # a clock time when given
    part: str | None  # 'morning' | 'afternoon' | 'evening' when given
    text: str  # the words that were understood


# --- folding with a map back to the original text ---------------------------------------

_TRANSLIT = {"ä": "a", "ö": "o", "ü": "u", "ß": "ss", "’": "'", "`": "'"}


def _fold(text: str) -> tuple[str, list[int]]:
    """`text.normalise`'s folding without collapsing spaces, with each folded character's
    index in the original (to quote the understood words as the visitor wrote them)."""
    out: list[str] = []
    where: list[int] = []
    lower = text.lower()
    i = 0
    while i < len(lower):
        c = lower[i]
        rep = _TRANSLIT.get(c)
        if rep is None:
            rep = "".join(
                ch for ch in unicodedata.normalize("NFKD", c) if not unicodedata.combining(ch)
            )
        if (
            rep in {"a", "o", "u"}
            and i + 1 < len(lower)
            and lower[i + 1] == "e"
            and not (out and out[-1] in "aeiouq")
        ):
            out.append(rep)
            where.append(i)
            i += 2
            continue
        for ch in rep:
            out.append(ch)
            where.append(i)
        i += 1
    return "".join(out), where


def _f(words: str) -> list[str]:
    return [fold_word(w) for w in words.split()]


# --- vocabularies (folded) ---------------------------------------------------------------

_WEEKDAYS: dict[str, int] = {}
for _i, _names in enumerate(
    (
        "montag mo monday mon",
        "dienstag di tuesday tue tues",
        "mittwoch mi wednesday wed",
        "donnerstag do thursday thu thurs",
        "freitag fr friday fri",
        "samstag sonnabend sa saturday sat",
        "sonntag so sunday sun",
    )
):
    for _n in _f(_names):
        _WEEKDAYS[_n] = _i
# Abbreviations only count with a dot or before a date; full names always.
_WEEKDAY_FULL = {n: i for n, i in _WEEKDAYS.items() if len(n) > 3 or n in {"mon", "fri"}}

_MONTHS: dict[str, int] = {}
for _i, _names in enumerate(
    (
        "januar jan january janner",
        "februar feb february feber",
        "marz maerz mar march",
        "april apr",
        "mai may",
        "juni jun june",
        "juli jul july",
        "august aug",
        "september sep sept",
        "oktober okt oct october",
        "november nov",
        "dezember dez dec december",
    ),
    start=1,
):
    for _n in _f(_names):
        _MONTHS[_n] = _i

_NUMBER_WORDS: dict[str, int] = {}
for _i, _names in enumerate(
    (
        "null zero",
        "eins ein eine einer einem einen one a an",
        "zwei zwo two",
        "drei three",
        "vier four",
        "funf five",
        "sechs six",
        "sieben seven",
        "acht eight",
        "neun nine",
        "zehn ten",
        "elf eleven",
        "zwolf twelve",
    )
):
    for _n in _f(_names):
        _NUMBER_WORDS[_n] = _i

_ORDINAL_WORDS = {
    w: n
    for n, names in {
        1: "first erste ersten",
        2: "second zweite zweiten",
        3: "third dritte dritten",
        4: "fourth vierte vierten",
        5: "fifth funfte funften",
        6: "sixth sechste sechsten",
        7: "seventh siebte siebten",
        8: "eighth achte achten",
        9: "ninth neunte neunten",
        10: "tenth zehnte zehnten",
        11: "eleventh elfte elften",
        12: "twelfth zwolfte zwolften",
    }.items()
    for w in _f(names)
}

_PARTS = {
    "morning": _f(
        "morgens vormittag vormittags fruh fruh morgen-fruh morning mornings früh am-vormittag"
    ),
    "afternoon": _f("nachmittag nachmittags afternoon afternoons mittag mittags"),
    "evening": _f("abend abends evening evenings night nacht nachts tonight heute-abend"),
}


def _alt(words: list[str] | dict[str, int]) -> str:
    return "|".join(sorted({re.escape(w) for w in words}, key=len, reverse=True))


_WD = _alt(_WEEKDAYS)
_MON = _alt(_MONTHS)
_NUM = _alt(_NUMBER_WORDS)
_B = r"(?<![a-z0-9])"  # word start
_E = r"(?![a-z0-9])"  # word end


def easter(year: int) -> date:
    """Easter Sunday of the Gregorian calendar (the anonymous algorithm, Meeus/Jones/Butcher)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    g = (8 * b + 13) // 25
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    l = (32 + 2 * e + 2 * i - h - k) % 7  # noqa: E741 - the algorithm's name
    m = (a + 11 * h + 19 * l) // 433
    month = (h + l - 7 * m + 90) // 25
    day = (h + l - 7 * m + 33 * month + 19) % 32
    return date(year, month, day)


def _holidays(year: int) -> dict[str, tuple[date, date]]:
    e = easter(year)
    d = date
    table: dict[str, tuple[date, date]] = {}

    def add(names: str, start: date, end: date | None = None) -> None:
        for name in names.split("|"):
            table[" ".join(_f(name))] = (start, end or start)

    add("neujahr|neujahrstag|new year's day|new years day|new year", d(year, 1, 1))
    add(
        "heilige drei konige|heilige drei koenige|dreikonigstag|epiphany|three kings day",
        d(year, 1, 6),
    )
    add("grundonnerstag|maundy thursday|holy thursday", e - timedelta(days=3))
    add("karfreitag|good friday", e - timedelta(days=2))
    add("karsamstag|holy saturday|easter saturday", e - timedelta(days=1))
    add("ostersonntag|easter sunday|easter day", e)
    add("ostermontag|easter monday", e + timedelta(days=1))
    add("ostern|easter|osterfeiertage|ostertage", e, e + timedelta(days=1))
    add("tag der arbeit|erster mai|1 mai|labour day|labor day|may day", d(year, 5, 1))
    add(
        "christi himmelfahrt|himmelfahrt|vatertag|ascension day|ascension",
        e + timedelta(days=39),
    )
    add("pfingstsonntag|whit sunday|whitsunday|pentecost sunday", e + timedelta(days=49))
    add("pfingstmontag|whit monday|whitmonday|pentecost monday", e + timedelta(days=50))
    add("pfingsten|whitsun|pentecost", e + timedelta(days=49), e + timedelta(days=50))
    add("fronleichnam|corpus christi", e + timedelta(days=60))
    add("mariä himmelfahrt|maria himmelfahrt|assumption day", d(year, 8, 15))
    add(
        "tag der deutschen einheit|deutsche einheit|german unity day|day of german unity",
        d(year, 10, 3),
    )
    add("reformationstag|reformation day", d(year, 10, 31))
    add("halloween", d(year, 10, 31))
    add("allerheiligen|all saints day|all saints' day", d(year, 11, 1))
    add("nikolaus|nikolaustag", d(year, 12, 6))
    add("heiligabend|heiliger abend|heiligen abend|christmas eve|xmas eve", d(year, 12, 24))
    add(
        "1 weihnachtstag|erster weihnachtstag|ersten weihnachtstag|1 weihnachtsfeiertag|"
        "erster weihnachtsfeiertag|ersten weihnachtsfeiertag|christmas day|xmas day",
        d(year, 12, 25),
    )
    add(
        "2 weihnachtstag|zweiter weihnachtstag|zweiten weihnachtstag|2 weihnachtsfeiertag|"
        "zweiter weihnachtsfeiertag|zweiten weihnachtsfeiertag|boxing day|stephanstag|"
        "st stephen's day",
        d(year, 12, 26),
    )
    add(
        "weihnachten|weihnachtsfeiertage|weihnachtsfeiertagen|christmas|xmas|x-mas",
        d(year, 12, 25),
        d(year, 12, 26),
    )
    add("silvester|sylvester|new year's eve|new years eve", d(year, 12, 31))
    add(
        "zwischen den jahren|between christmas and new year|between christmas and new years",
        d(year, 12, 27),
        d(year, 12, 30),
    )
    # Advent Sundays: the fourth is the last Sunday before 25 December.
    fourth = d(year, 12, 24) - timedelta(days=(d(year, 12, 24).weekday() + 1) % 7)
    for n, names in enumerate(
        (
            "1 advent|erster advent|ersten advent|first advent|first sunday of advent",
            "2 advent|zweiter advent|zweiten advent|second advent|second sunday of advent",
            "3 advent|dritter advent|dritten advent|third advent|third sunday of advent",
            "4 advent|vierter advent|vierten advent|fourth advent|fourth sunday of advent",
        )
    ):
        add(names, fourth - timedelta(days=7 * (3 - n)))
    return table


_HOLIDAY_NAMES = sorted(_holidays(2026), key=len, reverse=True)
_HOLIDAY_RE = re.compile(
    _B + "(" + "|".join(re.escape(n).replace(r"\ ", r"[\s.'-]*") for n in _HOLIDAY_NAMES) + ")" + _E
)


def _holiday(name: str, today: date) -> tuple[date, date] | None:
    key = re.sub(r"[\s.'-]+", " ", name).strip()
    key = re.sub(r"(\d) ", r"\1 ", key)
    for year in (today.year, today.year + 1):
        table = _holidays(year)
        found = table.get(key) or table.get(key.replace(" ", ""))
        if found is None:
            for k, v in table.items():
                if k.replace(" ", "").replace("'", "") == key.replace(" ", "").replace("'", ""):
                    found = v
                    break
        if found and found[1] >= today:
            return found
    return None


# --- the parser ------------------------------------------------------------------------


@dataclass
class _Found:
    start: date | None = None
    end: date | None = None
    at: time | None = None
    part: str | None = None
    pm: bool | None = None  # am/pm given with the time
    spans: list[tuple[int, int]] | None = None


def _coming(today: date, weekday: int, *, not_today: bool = False) -> date:
    ahead = (weekday - today.weekday()) % 7
    if ahead == 0 and not_today:
        ahead = 7
    return today + timedelta(days=ahead)


def _next_date(today: date, month: int, day: int, year: int | None) -> date | None:
    try:
        if year is not None:
            if year < 100:
                year += 2000
            return date(year, month, day)
        candidate = date(today.year, month, day)
        if candidate < today:
            candidate = date(today.year + 1, month, day)
        return candidate
    except ValueError:
        return None


def _number(token: str) -> int | None:
    if token.isdigit():
        return int(token)
    return _NUMBER_WORDS.get(token)


_DAY_PATTERNS: list[tuple[str, str]] = [
    # ISO date
    ("iso", r"(\d{4})-(\d{1,2})-(\d{1,2})"),
    # 05.12.2026 / 5.12.26 / 5.12. / 5/12/2026 / 5/12
    ("numeric", r"(\d{1,2})\s?[./]\s?(\d{1,2})(?:\s?[./]\s?(\d{4}|\d{2}))?\.?(?![\d:])"),
    # 5. Dezember (2026) / 5 dec / 5th of December / the 5th December
    (
        "day_month",
        r"(\d{1,2})(?:\.|st|nd|rd|th)?\s*(?:of\s+)?(" + _MON + r")\.?(?:\s+(\d{4}))?" + _E,
    ),
    # December 5th (2026) / Dec. 5
    (
        "month_day",
        r"(" + _MON + r")\.?\s+(?:the\s+)?(\d{1,2})(?:st|nd|rd|th)?(?:,?\s+(\d{4}))?" + _E,
    ),
    # ordinal word + month: "fifth of december", "am ersten Dezember"
    (
        "word_month",
        r"(" + _alt(_ORDINAL_WORDS) + r")\s+(?:of\s+)?(" + _MON + r")" + _E,
    ),
    # "on the 5th", "am 5.", "the 4th" (no month: the next such day)
    (
        "ordinal_day",
        r"(?:on the|on|the|am|den|zum|vom)\s+(\d{1,2})(?:st|nd|rd|th|\.)"
        r"(?!\s*(?:of\s+)?(?:" + _MON + r"|\d|[a-z]*(?:weihnacht|feiertag|advent|mai\b)))",
    ),
    ("holiday", _HOLIDAY_RE.pattern[len(_B) : -len(_E)]),
    ("month", r"(?:im|in|in the month of|during|ab|from)\s+(" + _MON + r")(?:\s+(\d{4}))?"),
    ("day_after_tomorrow", r"ubermorgen|the day after tomorrow|day after tomorrow"),
    (
        "from_day",
        r"(heute|morgen|today|tomorrow)\s+in\s+(\d{1,2}|" + _NUM + r")\s+(tagen|wochen|woche)",
    ),
    (
        "from_day_en",
        r"(\d{1,2}|" + _NUM + r")\s+(days?|weeks?)\s+from\s+(today|tomorrow|now)",
    ),
    ("in_period", r"in\s+(\d{1,2}|" + _NUM + r")\s+(tagen|tag|days?|wochen|woche|weeks?)"),
    (
        "weekend",
        r"(uber)?(nachste[sn]?|kommende[sn]?|diese[sn]?|next|this|coming|am|at the|on the|"
        r"the)?\s*(wochenende|weekend)",
    ),
    ("week", r"(nachste|kommende|diese|next|this|coming)\s+(woche|week)"),
    (
        "weekday",
        r"(ubernachste[ns]?|nachste[ns]?|kommende[ns]?|diese[ns]?|next|this|coming|am|on)?\s*"
        r"(" + _WD + r")(abend|nachmittag|vormittag|morgen|mittag|nacht|s)?"
        r"(\s+after\s+next|\s+in\s+einer\s+woche|\s+week)?",
    ),
    ("tonight", r"tonight|tonite"),
    ("today", r"heute|today|heut"),
    ("tomorrow", r"morgen|tomorrow|tmrw|tomorow"),
]
_DAY_RE = [(kind, re.compile(_B + "(?:" + pattern + ")" + _E)) for kind, pattern in _DAY_PATTERNS]
# An explicit date wins over a weekday or a relative word in the same message ("am Montag,
# den 7.12."); among the others the first in the text wins.
_EXPLICIT = {"iso", "numeric", "day_month", "month_day", "word_month", "ordinal_day", "holiday"}
_ABBREVIATED = set(_f("so mo do fr sa mi di tue tues wed thu thurs sat sun"))

_PART_AFTER = {
    "abend": "evening",
    "nachmittag": "afternoon",
    "vormittag": "morning",
    "morgen": "morning",
    "mittag": "afternoon",
    "nacht": "evening",
}


def _find_day(folded: str) -> tuple[str, re.Match[str]] | None:  # noqa: PLR0912
    """The day expression that counts: an explicit date first, else the first in the text."""
    best: tuple[int, int, int, str, re.Match[str]] | None = None
    for order, (kind, regex) in enumerate(_DAY_RE):
        for match in regex.finditer(folded):
            if kind == "tomorrow":
                before = folded[: match.start()].rstrip()
                after = folded[match.end() :].lstrip()
                if re.search(r"(heute|gestern|guten|am|jeden|den|ganzen|diesen)$", before):
                    continue  # "heute Morgen", "guten Morgen", "am Morgen": morning
                if re.match(r"(morgen)", after) and before.endswith("morgen"):
                    continue
            if (
                kind == "weekday"
                and match.group(2) in _ABBREVIATED
                and not (match.group(1) or folded[match.end() : match.end() + 1] == ".")
            ):
                continue  # "Sa", "so", "sun": only after am/on/next/this or with a dot
            if kind == "numeric":
                day, month = int(match.group(1)), int(match.group(2))
                if not (1 <= day <= 31 and 1 <= month <= 12):
                    continue
                if match.group(3) is None and "/" not in match.group(0):
                    # "7.12" without the final dot may be a time or a price: not after
                    # um/at/gegen/ab, not before Uhr/h/Euro
                    prefix = folded[: match.start()].rstrip()
                    suffix = folded[match.end() :].lstrip()
                    if not match.group(0).endswith(".") and (
                        re.search(r"(um|at|gegen|ab|by|around|from)$", prefix)
                        or re.match(r"(uhr|h\b|euro|eur|€|am\b|pm\b)", suffix)
                    ):
                        continue
            if kind == "ordinal_day" and not 1 <= int(match.group(1)) <= 31:
                continue
            rank = 0 if kind in _EXPLICIT else 1
            candidate = (rank, match.start(), order, kind, match)
            if best is None or candidate[:3] < best[:3]:
                best = candidate
            break
    if best is None:
        return None
    return best[3], best[4]


def _day(folded: str, today: date, found: _Found) -> None:  # noqa: PLR0912, PLR0915
    """Fills found.start/end (and the part for "Samstagabend") from the day expression."""
    chosen = _find_day(folded)
    if chosen is None:
        return
    kind, m = chosen
    start: date | None = None
    end: date | None = None
    if kind == "iso":
        start = _safe_date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    elif kind == "numeric":
        year = int(m.group(3)) if m.group(3) else None
        start = _next_date(today, int(m.group(2)), int(m.group(1)), year)
    elif kind == "day_month":
        year = int(m.group(3)) if m.group(3) else None
        start = _next_date(today, _MONTHS[m.group(2)], int(m.group(1)), year)
    elif kind == "month_day":
        year = int(m.group(3)) if m.group(3) else None
        start = _next_date(today, _MONTHS[m.group(1)], int(m.group(2)), year)
    elif kind == "word_month":
        start = _next_date(today, _MONTHS[m.group(2)], _ORDINAL_WORDS[m.group(1)], None)
    elif kind == "ordinal_day":
        day = int(m.group(1))
        month, year = today.month, today.year
        for _ in range(3):
            start = _safe_date(year, month, day)
            if start and start >= today:
                break
            month, year = (1, year + 1) if month == 12 else (month + 1, year)
            start = None
    elif kind == "month":
        month = _MONTHS[m.group(1)]
        year = int(m.group(2)) if m.group(2) else today.year
        if not m.group(2) and month < today.month:
            year += 1
        first = date(year, month, 1)
        last = (date(year + month // 12, month % 12 + 1, 1)) - timedelta(days=1)
        start, end = max(first, today), last
        if end < start:
            return
    elif kind == "holiday":
        span = _holiday(m.group(0), today)
        if span:
            start, end = span
    elif kind == "day_after_tomorrow":
        start = today + timedelta(days=2)
    elif kind in {"from_day", "from_day_en"}:
        base_word, number, unit = (
            (m.group(1), m.group(2), m.group(3))
            if kind == "from_day"
            else (m.group(3), m.group(1), m.group(2))
        )
        n = _number(number)
        if n is not None:
            base = today + timedelta(days=1 if base_word in {"morgen", "tomorrow"} else 0)
            start = base + timedelta(days=n * 7 if unit.startswith(("woche", "week")) else n)
    elif kind == "in_period":
        n = _number(m.group(1))
        if n is not None:
            unit = m.group(2)
            days = n * 7 if unit.startswith(("woche", "week")) else n
            start = today + timedelta(days=days)
    elif kind == "weekend":
        which = (m.group(2) or "").strip()
        after = bool(m.group(1))
        if today.weekday() == 6 and not which.startswith(("nachst", "next", "kommend", "coming")):
            start = end = today
        else:
            saturday = _coming(today, 5)
            if today.weekday() == 6:
                saturday = today + timedelta(days=6)
            if which.startswith(("nachst", "next")) and today.weekday() >= 4:
                saturday += timedelta(days=7) if today.weekday() != 6 else timedelta(days=0)
            if after:
                saturday += timedelta(days=7)
            start, end = saturday, saturday + timedelta(days=1)
    elif kind == "week":
        which = m.group(1)
        if which in {"diese", "this"}:
            start, end = today, today + timedelta(days=6 - today.weekday())
        else:
            monday = today + timedelta(days=7 - today.weekday())
            start, end = monday, monday + timedelta(days=6)
    elif kind == "weekday":
        which = (m.group(1) or "").strip()
        weekday = _WEEKDAYS[m.group(2)]
        if which.startswith("ubernachst") or (m.group(4) or "").strip() in {
            "after next",
            "in einer woche",
        }:
            start = _coming(today, weekday, not_today=True) + timedelta(days=7)
        elif which.startswith(("nachst", "kommend", "next", "coming")):
            start = _coming(today, weekday, not_today=True)
        else:
            start = _coming(today, weekday)
        suffix = m.group(3)
        if suffix in _PART_AFTER:
            found.part = _PART_AFTER[suffix]
    elif kind == "tonight":
        start = today
        found.part = "evening"
    elif kind == "today":
        start = today
    elif kind == "tomorrow":
        start = today + timedelta(days=1)
    if start is None:
        return
    found.start = start
    found.end = end or start
    found.spans = (found.spans or []) + [(m.start(), m.end())]


def _safe_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


_HOUR_WORD = _alt(
    {w: n for w, n in _NUMBER_WORDS.items() if n >= 1 and w not in {"a", "an", "ein", "eine"}}
)
_TIME_PATTERNS: list[tuple[str, str]] = [
    (
        "range",
        r"(?:zwischen|von|from|between)\s+(\d{1,2})(?:[:.](\d{2}))?\s*(?:uhr)?\s*"
        r"(?:und|bis|to|and|-)\s*\d{1,2}(?:[:.]\d{2})?\s*(?:uhr|h|(a\.?m\.?|p\.?m\.?))?",
    ),
    (
        "clock",
        r"(?:um|at|gegen|ab|from|by|around|so gegen)?\s*(\d{1,2})[:.](\d{2})\s*"
        r"(uhr|h|hrs|a\.?m\.?|p\.?m\.?)?",
    ),
    ("ampm", r"(?:um|at|gegen|ab|from|by|around)?\s*(\d{1,2})\s*(a\.?m\.?|p\.?m\.?)"),
    (
        "uhr",
        r"(?:um|at|gegen|ab|from|by|around)?\s*(\d{1,2}|" + _HOUR_WORD + r")\s*(?:uhr|h|o'?clock)",
    ),
    ("halb", r"(?:um|gegen|ab)?\s*halb\s+(\d{1,2}|" + _HOUR_WORD + r")"),
    (
        "viertel",
        r"(?:um|gegen|ab)?\s*(viertel|dreiviertel)\s+(nach|vor)?\s*(\d{1,2}|" + _HOUR_WORD + r")",
    ),
    (
        "quarter",
        r"(?:at|around)?\s*(half|quarter)\s+(past|to|after)\s+(\d{1,2}|" + _HOUR_WORD + r")",
    ),
    ("bare", r"(?:um|at|gegen|ab|from|around)\s+(\d{1,2}|" + _HOUR_WORD + r")(?![.:/\d])"),
    ("noon", r"noon|midday|mittags um zwolf|zwolf uhr mittags"),
]
_TIME_RE = [(k, re.compile(_B + "(?:" + p + ")" + _E)) for k, p in _TIME_PATTERNS]
_PART_RE = [(part, re.compile(_B + "(" + _alt(words) + ")" + _E)) for part, words in _PARTS.items()]
_PART_RE_EXTRA = [
    ("morning", re.compile(_B + r"(heute|morgen|ubermorgen|am)\s+(morgen|fruh|vormittag)" + _E)),
    ("morning", re.compile(_B + r"(in the morning|this morning)" + _E)),
    ("afternoon", re.compile(_B + r"(in the afternoon|this afternoon)" + _E)),
    ("evening", re.compile(_B + r"(in the evening|this evening|at night)" + _E)),
]


def _hour(token: str) -> int | None:
    return _number(token) if token else None


def _time(folded: str, found: _Found) -> None:  # noqa: PLR0912, PLR0915
    for kind, regex in _TIME_RE:
        for m in regex.finditer(folded):
            if any(s <= m.start() < e or s < m.end() <= e for s, e in found.spans or []):
                continue
            hour: int | None
            minute = 0
            pm: bool | None = None
            if kind == "range":
                hour, minute = int(m.group(1)), int(m.group(2) or 0)
                if m.group(3):
                    pm = m.group(3).replace(".", "") == "pm"
            elif kind == "clock":
                hour, minute = int(m.group(1)), int(m.group(2))
                suffix = (m.group(3) or "").replace(".", "")
                if suffix in {"am", "pm"}:
                    pm = suffix == "pm"
                body = m.group(0).strip()
                if (
                    ":" not in body
                    and not suffix
                    and not body.startswith(("um", "at", "gegen", "ab", "from", "by", "around"))
                ):
                    continue  # "12.50" is a price or a date, "12.30 Uhr" / "um 12.30" a time
            elif kind == "ampm":
                hour = int(m.group(1))
                pm = m.group(2).replace(".", "") == "pm"
            elif kind == "uhr":
                hour = _hour(m.group(1))
            elif kind == "halb":
                h = _hour(m.group(1))
                hour, minute = ((h - 1) % 12 or 12, 30) if h else (None, 0)
            elif kind == "viertel":
                h = _hour(m.group(3))
                if h is None:
                    continue
                if m.group(1) == "dreiviertel" or m.group(2) == "vor":
                    hour, minute = (h - 1) % 12 or 12, 45
                elif m.group(2) == "nach":
                    hour, minute = h, 15
                else:  # "viertel acht" (eastern German) = 7:15
                    hour, minute = (h - 1) % 12 or 12, 15
            elif kind == "quarter":
                h = _hour(m.group(3))
                if h is None:
                    continue
                if m.group(1) == "half":
                    hour, minute = h, 30
                elif m.group(2) == "to":
                    hour, minute = (h - 1) % 12 or 12, 45
                else:
                    hour, minute = h, 15
            elif kind == "bare":
                hour = _hour(m.group(1))
            else:  # noon
                hour = 12
            if hour is None or not (0 <= hour <= 24 and 0 <= minute <= 59):
                continue
            if hour == 24:
                hour = 0
            found.at = time(hour, minute)
            found.pm = pm
            found.spans = (found.spans or []) + [(m.start(), m.end())]
            return


def _part(folded: str, found: _Found) -> None:
    if found.part:
        return
    for part, regex in _PART_RE_EXTRA + _PART_RE:
        for m in regex.finditer(folded):
            if part == "morning" and m.group(0) == "morgen":
                continue  # "morgen" alone is tomorrow
            inside = any(s <= m.start() and m.end() <= e for s, e in found.spans or [])
            if inside and not (part == "evening" and m.group(0) in {"tonight", "tonite"}):
                continue
            found.part = part
            found.spans = (found.spans or []) + [(m.start(), m.end())]
            return


def _settle_time(found: _Found) -> None:
    if found.at is None:
        return
    hour, minute = found.at.hour, found.at.minute
    if found.pm is True and hour < 12:
        hour += 12
    elif found.pm is False and hour == 12:
        hour = 0
    elif (
        found.pm is None
        and hour < 12
        and (found.part in {"evening", "afternoon"} or 1 <= hour <= 7)
    ):
        hour += 12
    found.at = time(hour % 24, minute)


# Greetings and wishes that name a part of the day or the weekend without meaning a date.
_GREETINGS = re.compile(
    _B + r"(?:guten\s+(?:morgen|abend|tag)|gute\s+nacht|good\s+(?:morning|afternoon|evening|night)|"
    r"sch[oö]ne[ns]?\s+(?:abend|tag|wochenende|feiertag)(?:\s+noch)?|"
    r"(?:have\s+a\s+)?(?:nice|good|great|lovely)\s+(?:evening|weekend|day))" + _E
)


def parse_when(text: str, language: str, *, today: date) -> When | None:
    """The day(s) and time `text` names, or None (see the module doc for the choices).

    `language` orders nothing today (both languages' words are understood in any message);
    it is part of the signature so that a language-specific rule can use it.
    """
    if not text or not text.strip():
        return None
    folded, where = _fold(text[:500])
    folded = _GREETINGS.sub(lambda m: " " * len(m.group(0)), folded)
    found = _Found(spans=[])
    _day(folded, today, found)
    _time(folded, found)
    _part(folded, found)
    if found.start is None and found.at is None and found.part is None:
        return None
    _settle_time(found)
    start = found.start or today
    end = found.end or start
    merged: list[list[int]] = []
    for s, e in sorted(found.spans or []):
        if s >= e:
            continue
        if merged and s <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], e)
        else:
            merged.append([s, e])
    words = []
    for s, e in merged:
        original = text[where[s] : where[e - 1] + 1].strip()
        if original and original not in words:
            words.append(original)
    return When(start=start, end=end, at=found.at, part=found.part, text=" ".join(words))


# --- describing ------------------------------------------------------------------------

DAY_NAMES: dict[str, tuple[str, ...]] = {
    "de": ("Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag", "Sonntag"),
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
}
MONTH_NAMES: dict[str, tuple[str, ...]] = {
    "de": (
        "Januar",
        "Februar",
        "März",
        "April",
        "Mai",
        "Juni",
        "Juli",
        "August",
        "September",
        "Oktober",
        "November",
        "Dezember",
    ),
    "en": (
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ),
}
# The old private names, until engine/phrases.py imports the public ones.
_DAY_NAMES = DAY_NAMES
_MONTH_NAMES = MONTH_NAMES
_PART_NAMES = {
    "de": {"morning": "vormittags", "afternoon": "nachmittags", "evening": "abends"},
    "en": {"morning": "morning", "afternoon": "afternoon", "evening": "evening"},
}


def _describe_day(day: date, lang: str) -> str:
    name = DAY_NAMES[lang][day.weekday()]
    month = MONTH_NAMES[lang][day.month - 1]
    if lang == "de":
        return f"{name}, {day.day}. {month}"
    return f"{name}, {day.day} {month}"


def describe_when(when: When, language: str) -> str:
    """ "Samstag, 28. November, 19:00 Uhr" / "Saturday, 28 November, 7:00 pm";
    ranges: "Samstag, 28. November bis Sonntag, 29. November"."""
    lang = "en" if language == "en" else "de"
    text = _describe_day(when.start, lang)
    if when.end != when.start:
        joiner = " bis " if lang == "de" else " to "
        text += joiner + _describe_day(when.end, lang)
    if when.at is not None:
        if lang == "de":
            text += f", {when.at:%H:%M} Uhr"
        else:
            hour = when.at.hour % 12 or 12
            text += f", {hour}:{when.at.minute:02d} {'am' if when.at.hour < 12 else 'pm'}"
    elif when.part:
        text += f", {_PART_NAMES[lang][when.part]}"
    return text
