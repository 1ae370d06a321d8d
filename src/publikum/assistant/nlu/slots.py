"""Small things the booking dialogue needs from a message: an e-mail address, a number of
tickets, yes, no, cancel. German and English, folded like `text.normalise`."""

from __future__ import annotations

import re

from publikum.assistant.nlu.text import normalise

_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}")

_NUMBERS_DE = {
    "ein": 1,
    "eine": 1,
    "einen": 1,
    "einer": 1,
    "eins": 1,
    "zwei": 2,
    "zwo": 2,
    "drei": 3,
    "vier": 4,
    "funf": 5,
    "sechs": 6,
    "sieben": 7,
    "acht": 8,
    "neun": 9,
    "zehn": 10,
    "elf": 11,
    "zwolf": 12,
    "paar": 2,
    "einzel": 1,
    "allein": 1,
}
_NUMBERS_EN = {
    "a": 1,
    "an": 1,
    "one": 1,
    "single": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "pair": 2,
    "couple": 2,
    "myself": 1,
    "alone": 1,
    "both": 2,
    "twice": 2,
}
_TICKET_WORDS = (
    r"(?:karten?|tickets?|eintrittskarten?|platze?|personen|person|erwachsene?|leute|"
    r"kinder|kind|seats?|people|persons|adults?|of us|places|mal|x|stuck)"
)
_DIGITS = re.compile(r"(?<![\d.:,/])(\d{1,3})(?![\d.:/]|,\d)")
_CLOCK = re.compile(r"\d{1,2}[:.]\d{2}|\d{1,2}\s*(?:uhr|h\b|am\b|pm\b)|\d{1,2}\.\d{1,2}\.")
_WORD = re.compile(r"[a-z]+")


def find_email(text: str) -> str | None:
    """The first e-mail address in `text`, lowercased domain, or None."""
    match = _EMAIL.search(text or "")
    if not match:
        return None
    local, domain = match.group(0).rsplit("@", 1)
    return f"{local}@{domain.lower()}"


def find_count(text: str, language: str) -> int | None:
    """How many tickets the text asks for: "2 Karten", "zwei", "for two", "a pair", "3".

    Digits win over number words; clock times and dates ("um 19 Uhr", "5.12.") and e-mail
    addresses are ignored. Single articles ("a", "ein") count only next to a ticket word
    ("a ticket", "eine Karte"). Returns None when nothing is found or the count is 0 or
    above 99.
    """
    cleaned = _EMAIL.sub(" ", text or "")
    folded = normalise(cleaned)
    without_times = _CLOCK.sub(" ", folded)
    digits = _DIGITS.findall(without_times)
    if digits:
        value = int(digits[0])
        return value if 0 < value < 100 else None
    words = _WORD.findall(folded)
    table = {**_NUMBERS_EN, **_NUMBERS_DE} if language != "en" else {**_NUMBERS_DE, **_NUMBERS_EN}
    articles = {"a", "an", "ein", "eine", "einen", "einer"}
    for i, word in enumerate(words):
        if word not in table:
            continue
        if word in articles:
            following = " ".join(words[i + 1 : i + 3])
            if not re.match(_TICKET_WORDS, following):
                continue
        if word in {"paar", "pair", "couple"} and len(words) > 3:
            following = " ".join(words[i + 1 : i + 4])
            if not re.search(_TICKET_WORDS, following):
                continue
        if word == "acht" and i > 0 and words[i - 1] in {"halb", "um", "gegen"}:
            continue  # "um halb acht" is a time
        return table[word]
    return None


_YES = {
    "de": r"(ja|jo|jap|jawohl|genau|richtig|stimmt|klar|sicher|gerne?|passt|ok|okay|einverstanden|"
    r"bestatigen|bestatige|buchen|mach das|machen wir|gut|super|perfekt|korrekt|yes|yep)",
    "en": r"(yes|yeah|yep|yup|sure|ok|okay|correct|right|confirm|confirmed|fine|great|perfect|"
    r"please do|go ahead|book it|sounds good|absolutely|of course|ja)",
}
_NO = {
    "de": r"(nein|ne|nee|noe|nicht|falsch|lieber nicht|auf keinen fall|no|nope|kein)",
    "en": r"(no|nope|nah|not|wrong|incorrect|don'?t|dont|rather not|no thanks|nein)",
}
_CANCEL = {
    "de": r"(abbrechen|abbruch|vergiss es|vergiss das|lass es|lass mal|doch nicht|stopp?|"
    r"aufhoren|beenden|egal|storno|stornieren|abbrechen bitte|nicht mehr|cancel)",
    "en": r"(cancel|never ?mind|nevermind|forget it|forget about it|stop|quit|abort|"
    r"don'?t bother|abbrechen|no longer)",
}


def _matches(table: dict[str, str], text: str, language: str) -> bool:
    folded = normalise(text).replace("’", "'")
    patterns = [table["en"], table["de"]] if language == "en" else [table["de"], table["en"]]
    return any(re.search(rf"(?<![a-z']){p}(?![a-z])", folded) for p in patterns)


def is_cancel(text: str, language: str) -> bool:
    """ "abbrechen", "vergiss es", "cancel", "never mind", "stop"."""
    return _matches(_CANCEL, text, language)


def is_no(text: str, language: str) -> bool:
    """A no: "nein", "nee", "no", "nope", "lieber nicht". A cancel counts as no as well."""
    folded = normalise(text)
    if not folded:
        return False
    return _matches(_NO, folded, language) or is_cancel(folded, language)


def is_yes(text: str, language: str) -> bool:
    """A yes: "ja", "ja bitte", "genau", "yes", "sure", "go ahead"; never when it says no."""
    folded = normalise(text)
    if not folded or is_no(folded, language):
        return False
    return _matches(_YES, folded, language)
