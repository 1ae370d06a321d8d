"""The intent of a visitor's message: a small scikit-learn classifier.

Features: TF-IDF of character n-grams (2 to 5, within word boundaries, on the folded text,
so typos and missing umlauts still share most n-grams) and of words (1 to 2). Before
that, the text gets a marker word for each word family it uses (`CUES`: kinds of events,
prices, tickets, a person, accessibility, "soon") and for a day or time, a number and an
e-mail address, so a word the examples lack still counts like its family ("Tanz" like
"Konzert"). Model:
logistic regression (multinomial, saga, C=10, balanced class weights). Trained once per
process at first use from the phrases in `intent_examples.py` (German and English together; the
language is not a feature, visitors mix), behind a lock; training takes well under a
second.

`classify` returns the probabilities of all intents, best first. `human` hands the
conversation over, so a false one is costly: without a word of the person family
("Mitarbeiter", "jemand", "sprechen", "staff", "call", ...) its probability is scaled by
`HUMAN_WITHOUT_EVIDENCE` and the rest renormalised ("wohin mit meinem Rucksack" is a
question about lockers, not a request for a person). The engine combines them
with retrieval: `faq` is the intent of questions about the house that are not opening
hours, prices, address, accessibility, facilities or programme; its entry comes from
`retrieval.search`.
"""

from __future__ import annotations

import re
import threading
import warnings
from datetime import date
from typing import Any

from publikum.assistant.nlu.dates import parse_when
from publikum.assistant.nlu.text import normalise

INTENTS: tuple[str, ...] = (
    "greeting",
    "thanks",
    "goodbye",
    "opening_hours",
    "prices",
    "address",
    "accessibility",
    "facilities",
    "programme",
    "book",
    "human",
    "faq",
    "unknown",
)

_model: Any = None
_lock = threading.Lock()


# Word families that point to an intent, as extra words ("qqkind") added to the text
# before features are made: the model learns what the family means from the examples that
# use some of its words, and then knows the others too ("Tanz" is a kind of event like
# "Konzert", "Schwerbehinderte" asks for a reduction like "Studenten"). Folded word starts;
# a word of the text belongs to a family when it starts with one of them, or (for starts
# of five letters or more) ends with one ("Jazzkonzert", "Familienkarte").
CUES: dict[str, tuple[str, ...]] = {
    "qqkind": (
        "konzert",
        "lesung",
        "vortrag",
        "vortrage",
        "workshop",
        "theater",
        "tanz",
        "film",
        "kino",
        "vernissage",
        "finissage",
        "performance",
        "festival",
        "kurs",
        "seminar",
        "auffuhrung",
        "vorstellung",
        "jazz",
        "ballett",
        "kabarett",
        "comedy",
        "slam",
        "matinee",
        "diskussion",
        "podium",
        "concert",
        "reading",
        "lecture",
        "talks",
        "theatre",
        "dance",
        "screening",
        "course",
        "storytelling",
    ),
    "qqsoon": (
        "bald",
        "demnachst",
        "nachstens",
        "kommend",
        "upcoming",
        "soon",
        "coming up",
        "geplant",
        "planned",
    ),
    "qqprice": (
        "preis",
        "kost",
        "euro",
        "rabatt",
        "ermassig",
        "vergunstig",
        "gunstig",
        "billig",
        "teuer",
        "gratis",
        "umsonst",
        "price",
        "cost",
        "discount",
        "cheap",
        "expensive",
        "fee",
        "concession",
        "reduced",
        "reduziert",
        "tarif",
        "bezahl",
        "zahl",
        "pay",
    ),
    "qqticket": (
        "karte",
        "ticket",
        "eintritt",
        "admission",
        "entry",
        "pass",
        "familienkarte",
        "jahreskarte",
        "tageskarte",
        "kombi",
        "abo",
    ),
    "qqperson": (
        "mensch",
        "mitarbeit",
        "person",
        "jemand",
        "kolleg",
        "ansprechpartner",
        "verwaltung",
        "sprech",
        "rede",
        "anruf",
        "ruckruf",
        "zuruckruf",
        "verbind",
        "weiterleit",
        "kontakt",
        "bot",
        "team",
        "echt",
        "erreich",
        "telefonier",
        "leitung",
        "chat",
        "human",
        "someone",
        "somebody",
        "staff",
        "agent",
        "operator",
        "colleague",
        "management",
        "talk",
        "speak",
        "call",
        "real",
        "contact",
        "reach",
        "forward",
        "connect",
        "representative",
        "live",
        "member",
        "anybody",
        "anyone",
        "personal",
        "office",
    ),
    "qqaccess": (
        "rollstuhl",
        "rolli",
        "barriere",
        "blind",
        "sehbehindert",
        "gehorlos",
        "taub",
        "horgerat",
        "schwerhorig",
        "gebarde",
        "leichte sprache",
        "behindert",
        "rampe",
        "aufzug",
        "fahrstuhl",
        "wheelchair",
        "deaf",
        "accessib",
        "step free",
        "hearing",
        "sign language",
        "easy language",
        "disab",
        "impaired",
        "mobility",
    ),
}
# `human` hands the conversation over: without a word of the person family it is not
# trusted (its probability is scaled by this and the rest renormalised).
HUMAN_WITHOUT_EVIDENCE = 0.2
_WORD = re.compile(r"[a-z0-9]+")
_PHRASES = {cue: tuple(w for w in words if " " in w) for cue, words in CUES.items()}
_STARTS = {cue: tuple(w for w in words if " " not in w) for cue, words in CUES.items()}
_ENDS = {
    cue: tuple(w for w in words if " " not in w and len(w) >= 5) for cue, words in CUES.items()
}
_EMAIL = re.compile(r"\S+@\S+\.\S+")


def cues(text: str) -> list[str]:
    """The word families (`CUES`) and signs ("qqwhen" for a day or time, "qqnumber",
    "qqemail") found in `text`."""
    folded = normalise(text)
    words = _WORD.findall(folded)
    found: list[str] = []
    for cue in CUES:
        if any(p in folded for p in _PHRASES[cue]) or any(
            w.startswith(_STARTS[cue]) or (len(w) > 5 and w.endswith(_ENDS[cue])) for w in words
        ):
            found.append(cue)
    if any(w.isdigit() for w in words):
        found.append("qqnumber")
    if _EMAIL.search(text):
        found.append("qqemail")
    if parse_when(text[:300], "de", today=date(2026, 1, 5)) is not None:
        found.append("qqwhen")
    return found


def _prepare(text: str) -> str:
    folded = normalise(text)[:500]
    return " ".join((folded, *cues(folded)))


def training_data() -> tuple[list[str], list[str]]:
    """(texts, labels) of all shipped examples, both languages."""
    from publikum.assistant.nlu.intent_examples import EXAMPLES

    texts: list[str] = []
    labels: list[str] = []
    for intent, by_language in EXAMPLES.items():
        for phrases in by_language.values():
            for phrase in phrases:
                texts.append(phrase)
                labels.append(intent)
    return texts, labels


def build_model(texts: list[str], labels: list[str]) -> Any:
    """A fitted pipeline (exposed for the held-out tests and the evaluation)."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import FeatureUnion, Pipeline

    features = FeatureUnion(
        [
            (
                "chars",
                TfidfVectorizer(
                    analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=1
                ),
            ),
            (
                "words",
                TfidfVectorizer(
                    analyzer="word",
                    ngram_range=(1, 2),
                    sublinear_tf=True,
                    token_pattern=r"(?u)\b\w+\b",  # noqa: S106 - a regex, not a password
                ),
            ),
        ]
    )
    model = Pipeline(
        [
            ("features", features),
            (
                "clf",
                LogisticRegression(
                    C=10.0, solver="saga", tol=1e-3, max_iter=300, class_weight="balanced"
                ),
            ),
        ]
    )
    with warnings.catch_warnings():
        # saga with a loose tolerance may stop before sklearn calls it converged; the
        # accuracy is the same as lbfgs to convergence (measured) at a tenth of the time.
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit([_prepare(t) for t in texts], labels)
    return model


def _get_model() -> Any:
    global _model  # noqa: PLW0603 - one model per process, trained lazily
    if _model is None:
        with _lock:
            if _model is None:
                texts, labels = training_data()
                _model = build_model(texts, labels)
    return _model


def classify_with(model: Any, text: str) -> list[tuple[str, float]]:
    prepared = _prepare(text)
    probabilities = model.predict_proba([prepared])[0]
    pairs = [(str(label), float(p)) for label, p in zip(model.classes_, probabilities, strict=True)]
    if "qqperson" not in prepared.split():
        pairs = [(n, p * HUMAN_WITHOUT_EVIDENCE if n == "human" else p) for n, p in pairs]
        total = sum(p for _, p in pairs) or 1.0
        pairs = [(n, p / total) for n, p in pairs]
    pairs.sort(key=lambda pair: -pair[1])
    return pairs


def classify(text: str, language: str) -> list[tuple[str, float]]:
    """Probabilities of all intents for `text`, best first (they sum to 1).

    Empty text is `unknown` with probability 1. `language` is accepted for the interface;
    the model is bilingual.
    """
    if not normalise(text):
        return [("unknown", 1.0)] + [(i, 0.0) for i in INTENTS if i != "unknown"]
    return classify_with(_get_model(), text)
