"""Which language a visitor writes: 'de', 'en' or 'other'.

Two kinds of evidence are combined:

1. Function and key words of German and English (folded like `text.normalise`, so
   "Oeffnungszeiten", "Öffnungszeiten" and "offnungszeiten" all count as German). Each hit
   counts one point for its language; domain words that only one language uses
   ("Eintritt", "Karten", "tickets", "opening") count as well.
2. py3langid restricted to German, English and the languages tourists most often write in
   otherwise (French, Italian, Spanish, Dutch, Turkish, Polish, ...). Its normalised
   probability decides when the word lists do not, and it is the only way to say 'other'.

Text with no evidence (a number, "ok", an e-mail address, a name) keeps `previous`
(or 'de', the house's language, at the start).
"""

from __future__ import annotations

import re
import threading
from typing import Any

from publikum.assistant.nlu.text import fold_word, normalise


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_OTHERS = ("fr", "it", "es", "nl", "tr", "pl", "pt", "ru", "uk", "ar", "zh", "ja", "da", "sv", "cs")
_LANGS = ("de", "en", *_OTHERS)

_DE_WORDS = frozenset(
    fold_word(w)
    for w in _words(
        """
    der die das und ist ich du ihr wir sie es nicht auch ein eine einen einem einer wie was
    wann wo warum wer gibt gibts habt hat haben bin bitte danke dank hallo moin servus tschuss
    tschuess guten tag morgen abend heute ubermorgen uebermorgen mit fur fuer von zu zum zur
    am im bei auf aus nach kann konnen koennen mochte moechte mochten wurde wuerde gern gerne
    oder aber noch schon sehr viel wieviel wie viel kostet kosten eintritt karten karte
    offnungszeiten oeffnungszeiten offnungszeit geoffnet geoeffnet offen auf zu
    museum ausstellung fuhrung fuehrung rollstuhl parkplatz kinder erwachsene ermassigt
    ermaessigt preise preis adresse anfahrt wochenende samstag sonntag montag dienstag
    mittwoch donnerstag freitag nachste naechste nachsten naechsten buchen reservieren mensch
    menschen sprechen mitarbeiter jemand jemandem ja nein nee genau stimmt richtig ok okay
    ostern ostermontag karfreitag pfingsten pfingstmontag weihnachten heiligabend silvester
    neujahr feiertag feiertagen ferien kasse garderobe toilette toiletten eintrittspreise
    abbrechen vergiss tschus wiedersehen erlaubt verboten moglich notig hilfe bargeld
    kinderwagen barrierefrei ermassigung schliessfach schliessfacher fuhrungen gruppen
    """
    )
)
_EN_WORDS = _words(
    """
    the and is are you your we i it of to for on in at what when where how much many does do
    can could would please thanks thank hello hi hey bye goodbye open opening hours closed
    ticket tickets price prices cost costs admission entry museum exhibition tour guided
    wheelchair parking children kids adults address directions weekend saturday sunday monday
    tuesday wednesday thursday friday today tomorrow tonight next this book booking reserve
    talk speak someone person human staff there here have has with without get yes no yeah thx
    thanx ty stroller pram easter christmas eve day new year holiday holidays cancel never
    mind goodbye toilets nope sure right great cheers which want need like is there any also
    too my me our us an a group groups school visit visits accessible allowed help cash free
    lockers cloakroom restroom restrooms discount discounts family families
    """
)
# Greetings and thanks of other languages that tourists write alone.
_OTHER_WORDS = _words(
    """
    merci bonjour bonsoir gracias hola grazie buongiorno obrigado ola dziekuje dzien dobry
    tesekkurler merhaba bedankt goedemorgen tak
    """
)
# Words both languages share or that say nothing ("ok", "hi", "tour", "museum").
_SHARED = _words("ok okay hi museum tour tickets ticket so in an am man die")
_TOKEN = re.compile(r"[a-z]+")
_EMAIL = re.compile(r"\S+@\S+\.\S+")

_identifier: Any = None
_lock = threading.Lock()


def _langid() -> Any:
    global _identifier  # noqa: PLW0603 - one identifier per process, built lazily
    if _identifier is None:
        with _lock:
            if _identifier is None:
                from py3langid.langid import MODEL_FILE, LanguageIdentifier

                ident = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
                ident.set_languages(list(_LANGS))
                _identifier = ident
    return _identifier


def _word_votes(words: list[str]) -> tuple[int, int]:
    de = sum(1 for w in words if w in _DE_WORDS and w not in _SHARED)
    en = sum(1 for w in words if w in _EN_WORDS and w not in _SHARED)
    return de, en


_GERMAN_ENDINGS = (
    "ung", "ungen", "zeit", "zeiten", "keit", "heit", "lich", "chen", "schaft", "karte",
    "karten", "wagen", "platz", "preis", "preise", "frei", "raum", "geld", "fach", "facher",
    "stelle", "haus", "tag", "nahme",
)  # fmt: skip


def _german_shape(words: list[str]) -> int:
    """Endings and letter groups typical of German words (zeit, ung, sch, ...)."""
    score = 0
    for w in words:
        if len(w) >= 6 and (w.endswith(_GERMAN_ENDINGS) or "sch" in w):
            score += 1
    return score


_FOREIGN_LETTERS = re.compile(r"[çşğıñéèêàâîôûœãõåøł¿¡]")


def detect_language(text: str, *, previous: str | None = None) -> str:  # noqa: PLR0911
    """'de', 'en' or 'other'. Short text without evidence keeps `previous` (else 'de')."""
    fallback = previous if previous in {"de", "en", "other"} else "de"
    raw = _EMAIL.sub(" ", text or "")
    lowered = raw.lower()
    folded = normalise(raw)
    words = _TOKEN.findall(folded)
    letters = sum(len(w) for w in words)
    if not words or letters < 2:
        return fallback
    de, en = _word_votes(words)
    foreign = bool(_FOREIGN_LETTERS.search(lowered))
    if re.search(r"[äöüß]", lowered) and not foreign:
        de += 2
    de += _german_shape(words)
    if letters < 4:
        if max(de, en) == 0 and any(w in _OTHER_WORDS for w in words):
            return "other"
        if de > en:
            return "de"
        if en > de:
            return "en"
        return fallback

    other = sum(1 for w in words if w in _OTHER_WORDS)
    if other > max(de, en):
        return "other"
    lang, prob = _langid().rank(lowered)[0]
    if lang not in {"de", "en"} and prob >= 0.95 and max(de, en) <= 1:
        return "other"
    if de > en:
        return "de"
    if en > de:
        return "en"
    if lang in {"de", "en"} and prob >= 0.3:
        return str(lang)
    if lang not in {"de", "en"} and prob >= 0.8 and (letters >= 8 or foreign):
        return "other"
    return fallback
