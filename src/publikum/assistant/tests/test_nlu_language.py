"""Language detection: German, English, anything else, and short text keeping the last."""

from __future__ import annotations

import pytest

from publikum.assistant.nlu.language import detect_language

CASES = [
    ("Oeffnungszeiten?", "de"),
    ("Öffnungszeiten?", "de"),
    ("offnungszeiten", "de"),
    ("Wann habt ihr offen", "de"),
    ("Was kostet der Eintritt fuer Kinder", "de"),
    ("Ich möchte mit einem Menschen sprechen", "de"),
    ("Kann ich mit dem Rollstuhl rein", "de"),
    ("Habt ihr am Ostermontag auf?", "de"),
    ("Eintrittspreise", "de"),
    ("Tschüss", "de"),
    ("danke", "de"),
    ("zwei karten bitte", "de"),
    ("Barrierefrei?", "de"),
    ("Kinderwagen erlaubt", "de"),
    ("Familienkarte", "de"),
    ("opening hours?", "en"),
    ("Is the museum wheelchair accessible?", "en"),
    ("can I talk to someone", "en"),
    ("How much is it?", "en"),
    ("Do you have a café?", "en"),
    ("Easter Monday", "en"),
    ("two tickets please", "en"),
    ("thx", "en"),
    ("hello", "en"),
    ("Group tours", "en"),
    ("School visits", "en"),
    ("Accessible?", "en"),
    ("Bonjour, quand êtes-vous ouverts?", "other"),
    ("Quanto costa il biglietto?", "other"),
    ("¿Cuánto cuesta la entrada?", "other"),
    ("Müze saat kaçta açılıyor?", "other"),
    ("Hoe laat gaat het museum open?", "other"),
    ("Czy muzeum jest otwarte w niedzielę?", "other"),
    ("merci", "other"),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_language(text: str, expected: str) -> None:
    assert detect_language(text) == expected
    # a clear message decides whatever came before
    assert detect_language(text, previous="en" if expected == "de" else "de") == expected


@pytest.mark.parametrize("text", ["ok", "2", "max@example.org", "", "  ", "?!", "Anna", "12:30"])
def test_text_without_evidence_keeps_the_previous_language(text: str) -> None:
    assert detect_language(text, previous="en") == "en"
    assert detect_language(text, previous="de") == "de"
    assert detect_language(text) == "de"


def test_an_email_address_with_words_counts_the_words() -> None:
    assert detect_language("my email is max.mustermann@example.org", previous="de") == "en"
    assert detect_language("meine Adresse ist max@example.org", previous="en") == "de"
