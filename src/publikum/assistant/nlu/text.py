"""Text normalisation, terms and synonyms for the assistant's understanding.

Folding (one rule for index and query alike): lowercase, `ß` -> `ss`, umlauts to their
base vowel (`ä` -> `a`), the spelled-out umlauts `ae`/`oe`/`ue` to the base vowel too, and
any other accent stripped (`é` -> `e`). So "Öffnungszeiten", "Oeffnungszeiten" and
"Offnungszeiten" all become "offnungszeiten". The digraph rule spares `ue` after `e`, `a`
and `q` ("teuer", "Dauer", "Quelle") and `oe`/`ae` after a vowel, so the common German
words keep their shape; the few English words it touches ("blue" -> "blu") are folded
the same way on both sides, which is all matching needs.

Terms: tokens of the folded text, stopwords removed (function words and the fillers of
questions: "kommen", "machen", "sowas", "allowed", "somewhere"), stemmed with Snowball
(PyStemmer, German or English); a German stem also loses a verb's final -t after h, m, l
or n ("kommt" -> "komm", like "kommen"). German compounds are split into known parts (see
`split_compound`; parts that are stopwords are dropped) and the whole word is kept as
well, so "Familienführung" gives `familienfuhr`, `famili`, `fuhrung`; a verb with a
separable prefix gives its verb ("anhören" -> `hor`). The splitter is dictionary-based:
a part is known when it is in the small lexicon below or in the vocabulary the caller
passes (retrieval passes the words of the organisation's knowledge base), which is what
matters for finding an entry.

Synonyms: `AssistantSettings.synonyms` holds one group per line, comma-separated; a term
of a group adds the other members' terms.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Iterable
from functools import lru_cache

import Stemmer

_UMLAUTS = str.maketrans({"ä": "a", "ö": "o", "ü": "u", "ß": "ss", "æ": "ae", "œ": "oe"})
# ae/oe/ue spelled out for a missing umlaut: not after a vowel or q (teuer, Dauer, Quelle,
# Poet's "oe" after a vowel is rare enough to leave).
_DIGRAPH = re.compile(r"(?<![aeiouq])([aou])e")
_TOKEN = re.compile(r"[a-z0-9]+")
_SPACES = re.compile(r"\s+")


def fold_word(word: str) -> str:
    """The folding of `normalise` for one lowercase word without accents."""
    return _DIGRAPH.sub(r"\1", word)


def normalise(text: str) -> str:
    """Lowercase, umlauts and accents folded, `ae`/`oe`/`ue` folded, spaces collapsed."""
    text = unicodedata.normalize("NFKC", text).lower().translate(_UMLAUTS)
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    text = _DIGRAPH.sub(r"\1", text)
    return _SPACES.sub(" ", text).strip()


def tokens(text: str) -> list[str]:
    """Words and numbers of the normalised text."""
    return _TOKEN.findall(normalise(text))


# --- stopwords (folded like `normalise`) -------------------------------------------------

_STOP_DE_RAW = """
aber alle allem allen aller alles als also am an ander andere anderem anderen anderer
anderes auch auf aus bei beim bin bis bist da dabei dadurch dafur dagegen daher dahin
damals damit danach dann daran darauf daraus darf darfst darin daruber darum darunter
das dass dasselbe dazu dein deine deinem deinen deiner dem demselben den denn denselben
der derer derselbe derselben des deshalb desselben dessen dich die dies diese dieselbe
dieselben diesem diesen dieser dieses dir doch dort du durch ein eine einem einen einer
eines einfach einige einigem einigen einiger einiges einmal er es etwas euch euer eure
eurem euren eurer fur gegen gewesen gibt gibts hab habe haben habt hallo hat hatte hatten
hier hin hinter ich ihm ihn ihnen ihr ihre ihrem ihren ihrer ihres im in indem ins ist ja
jede jedem jeden jeder jedes jene jenem jenen jener jenes jetzt kann kannst konnen konnt
konnte konnten kein keine keinem keinen keiner keines man manche manchem manchen mancher
manches mal mein meine meinem meinen meiner meines mich mir mit mochte mochten muss musst
nach nicht nichts noch nun nur ob oder ohne sehr sein seine seinem seinen seiner seines
selbst sich sie sind so solche solchem solchen solcher solches soll sollte sondern sonst
uber um und uns unsere unserem unseren unser unseres unter viel vom von vor wahrend war
waren warst was weg weil weiter welche welchem welchen welcher welches wenn wer werde
werden wie wieder will wir wird wirst wo wollen wollte wurde wurden zu zum zur zwar
zwischen bitte danke gerne mal eigentlich denn kurz frage fragen wissen weiss sagen
euch ihr bei eurem eurer gern hi hey moin servus guten tag wann warum wieso weshalb
welchen gibts
ne nen nem ner so sowas sowat irgendwas irgendwo irgendwie irgendein irgendeine oft
ganz ganze ganzen ganzes alles immer schon bald demnachst genau wirklich vielleicht
eventuell ungefahr etwa bisschen bissel paar kommen komme kommt kommst gehen gehe geht
machen mache macht brauchen brauche braucht brauch bekommen bekomme bekommt kriegen
kriege kriegt tun tut lassen lasst finde finden findet gucken schauen rein raus hin
her drin dran drauf wohin woher angebot angebote ding dinge sache sachen leute
erlaubt erlauben drinnen nehmen nehme nimmt nehmt
euren uns unsere
"""
_STOP_EN_RAW = """
a about above again against all am an and any are as at be because been
being below between both but by can could did do does doing down during each few for from
further had has have having he her here hers herself him himself his how i if in into is
it its itself just me more most my myself no nor not now of off on once only or other our
ours ourselves out over own same she should so some such than that the their theirs them
themselves then there these they this those through to too under until up very was we were
what when where which while who whom why will with would you your yours yourself
yourselves please thanks thank hi hello hey tell know want like get got im ive id youre
dont cant there's what's whats any anything something do you u ur pls plz
come coming go going make making need needs take also really actually still soon
somewhere anywhere anyone someone kind sort thing things stuff lot lots much many
whole entire there allowed allow permitted inside
"""


def _fold_list(raw: str) -> frozenset[str]:
    return frozenset(fold_word(w) for w in _TOKEN.findall(raw))


STOPWORDS: dict[str, frozenset[str]] = {
    "de": _fold_list(_STOP_DE_RAW),
    "en": _fold_list(_STOP_EN_RAW),
}

# --- compound splitting -------------------------------------------------------------------

# Parts that German visitor questions about a cultural house are made of (folded). The
# caller's vocabulary (the knowledge base's words) extends this per index.
_LEXICON_RAW = (
    """
abend adresse anfahrt angebot anmeldung ansage aufzug ausgang ausstellung ausweis auto
bahn bahnhof band bank barriere beschwerde besuch besucher bild blind buch buchung buhne
bus cafe dauer ecke eingang eintritt ende erwachsene familie fahrer fahrrad fahrstuhl feier
feiertag ferien film foto fach frei fuhrung fuss galerie garderobe gast gebuhr geld geschenk
gruppe gutschein halt haltestelle haus hund information jahr jahres jugend jugendliche
kamera karte kasse kind kinder kino klasse konzert kunst kurs laden lesung lift mitglied
mittag monat morgen museum musik nacht nummer offnung ort park parkplatz platz plan
preis presse programm rabatt rad rampe raum rentner reservierung restaurant rollstuhl saal
saison sammlung schalter schliess schliessfach schule schuler senior sitz sonder spende
stadt stelle strasse student stufe stunde tag tasche telefon termin theater ticket tisch
toilette tour treff tur veranstaltung verkauf vortrag wagen weg werk wickel woche wochen
workshop zeit zeiten zimmer zug zugang ermassigung ermassigt audio guide hor horer
gebarde sprache leichte einfache blinde fuhrer hunde fuhrhund fundsache fund essen trinken
getrank garten dach bibliothek archiv depot vermittlung padagogik geburtstag feier kita
gerecht freundlich tauglich frei gerat anlage dolmetscher sprach gebarden rucksack koffer
abo pass schein ausweis behindert behinderte behinderung leih hor foto bild wickel still
raum zahlung fuhrer begleit person tisch schluessel schlussel
"""
    + "offnungs eintritts familien gruppen kinder schul jahres wochen senioren studenten"
)


def _lexicon() -> frozenset[str]:
    return _fold_list(_LEXICON_RAW)


LEXICON: frozenset[str] = _lexicon()
# Linking elements between the parts of a German compound (Fugenelemente), longest first.
_LINKS = ("ens", "es", "en", "er", "s", "n", "e", "")
_MIN_PART = 3


@lru_cache(maxsize=64)
def _stems_of(words: frozenset[str]) -> frozenset[str]:
    return frozenset(stem(w, "de") for w in words if len(w) >= _MIN_PART)


def _known(part: str, vocabulary: frozenset[str]) -> bool:
    if part in LEXICON or part in vocabulary:
        return True
    stemmed = stem(part, "de")
    return stemmed in _stems_of(LEXICON) or stemmed in _stems_of(vocabulary)


@lru_cache(maxsize=20_000)
def _split(word: str, vocabulary: frozenset[str]) -> tuple[str, ...]:
    """The known parts of `word` (folded), left to right; () when it does not split.

    Tries every cut with a known head (right part, longest first) and a modifier that is
    known after removing a linking element, or itself splits; the split with the fewest,
    longest parts wins.
    """
    best: tuple[str, ...] = ()
    for cut in range(_MIN_PART, len(word) - _MIN_PART + 1):
        head = word[cut:]
        if not _known(head, vocabulary):
            continue
        left = word[:cut]
        for link in _LINKS:
            if link and not left.endswith(link):
                continue
            stem = left[: len(left) - len(link)] if link else left
            if len(stem) < _MIN_PART:
                continue
            if _known(stem, vocabulary):
                candidate: tuple[str, ...] = (stem, head)
            else:
                inner = _split(stem, vocabulary)
                if not inner:
                    continue
                candidate = (*inner, head)
            if not best or len(candidate) < len(best):
                best = candidate
            break
        if best and len(best) == 2:
            return best  # leftmost cut = longest head with two parts
    return best


def split_compound(word: str, vocabulary: Iterable[str] = ()) -> list[str]:
    """Parts of a German compound (folded), or [] when it is not one we can split."""
    folded = normalise(word)
    if len(folded) < 2 * _MIN_PART or not folded.isalpha():
        return []
    vocab = vocabulary if isinstance(vocabulary, frozenset) else frozenset(vocabulary)
    return list(_split(folded, vocab))


# --- stemming and terms --------------------------------------------------------------------

# PyStemmer objects must not be shared between threads: one per thread and language.
_local = threading.local()


def _stemmer(language: str) -> Stemmer.Stemmer:
    lang = "english" if language == "en" else "german"
    stemmers: dict[str, Stemmer.Stemmer] | None = getattr(_local, "stemmers", None)
    if stemmers is None:
        stemmers = _local.stemmers = {}
    if lang not in stemmers:
        stemmers[lang] = Stemmer.Stemmer(lang)
    return stemmers[lang]


# German verb endings Snowball keeps: "kommt", "braucht", "macht", "erzählt" end in -t
# after a consonant; dropping it joins them with "kommen", "brauchen" ("komm", "brauch").
_VERB_T = re.compile(r"(?<=[hmln])t$")


@lru_cache(maxsize=50_000)
def stem(word: str, language: str) -> str:
    """Snowball stem of one folded word (cached); German stems also lose a verb's final
    -t after a consonant ("braucht" -> "brauch", like "brauchen")."""
    stemmed = str(_stemmer(language).stemWord(word))
    if language != "en" and len(stemmed) >= 5:
        stemmed = _VERB_T.sub("", stemmed)
    return stemmed


# Separable verb prefixes: "anhören" also gives "hören", "ausleihen" "leihen".
_PREFIXES = (
    "zuruck",
    "durch",
    "heraus",
    "herein",
    "hinein",
    "mit",
    "aus",
    "auf",
    "vor",
    "ein",
    "an",
    "ab",
    "zu",
    "nach",
    "weg",
    "um",
)


def _parts(token: str, vocabulary: frozenset[str], stop: frozenset[str]) -> list[str]:
    """The known parts of a German word (folded), without stopwords: compound parts, or
    the verb after a separable prefix."""
    parts = [p for p in _split(token, vocabulary) if p not in stop and p not in _PREFIXES]
    if not parts:
        for prefix in _PREFIXES:
            rest = token[len(prefix) :]
            if token.startswith(prefix) and len(rest) >= 4 and _known(rest, vocabulary):
                return [rest]
    return parts


def term_groups(
    text: str,
    language: str,
    *,
    vocabulary: frozenset[str] = frozenset(),
    keep_stopwords: bool = False,
) -> list[tuple[str, tuple[str, ...]]]:
    """Each word of `text` as (stemmed term, stemmed parts); see `terms`."""
    lang = "en" if language == "en" else "de"
    stop = STOPWORDS[lang]
    skip = frozenset() if keep_stopwords else stop
    out: list[tuple[str, tuple[str, ...]]] = []
    for token in tokens(text):
        if token in skip:
            continue
        if token.isdigit():
            out.append((token, ()))
            continue
        if len(token) < 2:
            continue
        whole = stem(token, lang)
        parts: tuple[str, ...] = ()
        if lang == "de" and len(token) >= 2 * _MIN_PART:
            found = dict.fromkeys(stem(p, lang) for p in _parts(token, vocabulary, stop))
            found.pop(whole, None)
            parts = tuple(found)
        out.append((whole, parts))
    return out


def terms(
    text: str,
    language: str,
    *,
    vocabulary: frozenset[str] = frozenset(),
    keep_stopwords: bool = False,
) -> list[str]:
    """Stemmed terms of `text`: stopwords removed, German compounds split (whole word kept).

    `language` is 'de' or 'en' ('other' is treated as German, the house's language).
    `vocabulary` (folded words) extends the compound splitter's lexicon. `keep_stopwords`
    keeps every word (for phrases where "nicht"/"not" matter).
    """
    out: list[str] = []
    for whole, parts in term_groups(
        text, language, vocabulary=vocabulary, keep_stopwords=keep_stopwords
    ):
        out.append(whole)
        out.extend(parts)
    return out


# --- synonyms ------------------------------------------------------------------------------


def parse_synonyms(text: str) -> list[set[str]]:
    """Groups of words that mean the same, one group per line, comma-separated.

    Members are normalised; lines with fewer than two members are ignored; `#` starts a
    comment line.
    """
    groups: list[set[str]] = []
    for raw_line in (text or "").splitlines():
        line = raw_line.strip()
        if not line or line.startswith("#"):
            continue
        members = {normalise(m) for m in re.split(r"[,;]", line)}
        members.discard("")
        if len(members) >= 2:
            groups.append(members)
    return groups


@lru_cache(maxsize=4096)
def _member_terms(member: str) -> tuple[frozenset[str], ...]:
    """A synonym member's terms, once per language (a member matches when all are there)."""
    out = []
    for lang in ("de", "en"):
        found = frozenset(terms(member, lang))
        if found:
            out.append(found)
    return tuple(out)


def expand_synonyms(terms: list[str], groups: list[set[str]]) -> list[str]:
    """`terms` plus the terms of the other members of every group one of them is in.

    `groups` come from `parse_synonyms` (words or short phrases). A member is present when
    all its terms (German or English stemming) are among `terms`; a group with a present
    member adds the German and English terms of all its members. Order: the original terms
    first, then the added ones, each once.
    """
    present = set(terms)
    added: list[str] = []
    seen = set(present)
    for group in groups:
        variants = [(m, _member_terms(m)) for m in sorted(group)]
        if not any(any(v <= present for v in vs) for _, vs in variants):
            continue
        for _, vs in variants:
            for v in vs:
                for term in sorted(v):
                    if term not in seen:
                        seen.add(term)
                        added.append(term)
    return [*terms, *added]
