"""E-mail, ticket counts, yes, no and cancel in German and English."""

from __future__ import annotations

import pytest

from publikum.assistant.nlu.slots import find_count, find_email, is_cancel, is_no, is_yes


def test_find_email() -> None:
    assert find_email("Meine Mail: Max.Mustermann@Example.ORG.") == "Max.Mustermann@example.org"
    assert find_email("anna+museum@mail.example.de bitte") == "anna+museum@mail.example.de"
    assert find_email("kein at zeichen") is None
    assert find_email("foo@bar") is None
    assert find_email("") is None


@pytest.mark.parametrize(
    ("text", "language", "count"),
    [
        ("2 Karten", "de", 2),
        ("zwei bitte", "de", 2),
        ("Drei Erwachsene", "de", 3),
        ("eine Karte", "de", 1),
        ("zwölf", "de", 12),
        ("zwoelf Tickets", "de", 12),
        ("elf", "de", 11),
        ("um 19 Uhr zwei Karten", "de", 2),
        ("am 5.12. für 3 Personen", "de", 3),
        ("for two", "en", 2),
        ("a pair", "en", 2),
        ("a ticket please", "en", 1),
        ("twelve", "en", 12),
        ("me and my wife, two please", "en", 2),
        ("4", "en", 4),
    ],
)
def test_find_count(text: str, language: str, count: int) -> None:
    assert find_count(text, language) == count


@pytest.mark.parametrize(
    "text",
    [
        "Ich möchte um halb acht kommen",
        "ein paar Fragen hätte ich noch",
        "morgen um 19 Uhr",
        "0",
        "",
    ],
)
def test_no_count_where_there_is_none(text: str) -> None:
    assert find_count(text, "de") is None


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("ja", "de"),
        ("Ja bitte", "de"),
        ("genau", "de"),
        ("passt so", "de"),
        ("yes please", "en"),
        ("sure", "en"),
        ("go ahead", "en"),
        ("ok", "en"),
    ],
)
def test_yes(text: str, language: str) -> None:
    assert is_yes(text, language)
    assert not is_no(text, language)


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("nein", "de"),
        ("nee danke", "de"),
        ("lieber nicht", "de"),
        ("no", "en"),
        ("nope", "en"),
        ("no thanks", "en"),
    ],
)
def test_no(text: str, language: str) -> None:
    assert is_no(text, language)
    assert not is_yes(text, language)


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("abbrechen", "de"),
        ("Vergiss es", "de"),
        ("stopp", "de"),
        ("cancel", "en"),
        ("never mind", "en"),
        ("nevermind", "en"),
        ("forget it", "en"),
    ],
)
def test_cancel(text: str, language: str) -> None:
    assert is_cancel(text, language)
    assert not is_yes(text, language)


@pytest.mark.parametrize(
    "text", ["Wann habt ihr offen?", "2 Karten", "jahr", "Nordsee", "knowledge"]
)
def test_ordinary_text_is_neither(text: str) -> None:
    assert not is_yes(text, "de")
    assert not is_no(text, "de")
    assert not is_cancel(text, "de")
