"""Folding, terms, German compounds and synonyms."""

from __future__ import annotations

from publikum.assistant.nlu.text import (
    expand_synonyms,
    normalise,
    parse_synonyms,
    split_compound,
    terms,
)


def test_umlaut_spellings_fold_to_one_form() -> None:
    forms = {normalise(w) for w in ("Öffnungszeiten", "Oeffnungszeiten", "offnungszeiten")}
    assert forms == {"offnungszeiten"}
    assert normalise("Straße") == normalise("Strasse") == "strasse"
    assert normalise("Café  Crème") == "cafe creme"
    # ue after a vowel or q stays: teuer, Dauer, Quelle
    assert normalise("teuer Dauer Quelle") == "teuer dauer quelle"


def test_terms_are_stemmed_without_stopwords() -> None:
    assert terms("Wann habt ihr die Öffnungszeiten?", "de")[0] == "offnungszeit"
    assert "ihr" not in terms("Habt ihr ein Café?", "de")
    assert terms("What are the opening hours?", "en") == ["open", "hour"]
    assert terms("Öffnungszeit", "de")[0] == terms("Oeffnungszeiten", "de")[0]


def test_compounds_are_split_and_kept_whole() -> None:
    found = terms("Familienführung", "de")
    assert found[0] == "familienfuhr"
    assert "famili" in found
    assert "fuhrung" in found
    assert split_compound("Rollstuhlfahrer") == ["rollstuhl", "fahrer"]
    assert split_compound("Eintrittspreise") == ["eintritt", "preise"]
    assert split_compound("Museum") == []
    # the caller's vocabulary extends the lexicon
    assert split_compound("Skulpturengarten", {"skulptur"}) == ["skulptur", "garten"]
    assert split_compound("Skulpturengarten") == []


def test_english_words_are_not_split() -> None:
    assert terms("wheelchair", "en") == ["wheelchair"]


def test_synonym_groups_parse_and_expand() -> None:
    groups = parse_synonyms("Kasse, Ticketschalter\n# a comment\nalone\naudio guide; Audioguide\n")
    assert groups == [{"kasse", "ticketschalter"}, {"audio guide", "audioguide"}]
    expanded = expand_synonyms(terms("Wo ist der Ticketschalter?", "de"), groups)
    assert "kass" in expanded
    assert expanded[: len(terms("Wo ist der Ticketschalter?", "de"))] == terms(
        "Wo ist der Ticketschalter?", "de"
    )
    english = expand_synonyms(terms("Do you have an audio guide?", "en"), groups)
    assert "audioguid" in english
    unrelated = terms("Gibt es ein Café?", "de")
    assert expand_synonyms(unrelated, groups) == unrelated
    assert parse_synonyms("") == []


def test_verb_forms_share_a_stem() -> None:
    # Snowball keeps the -t of "kommt"/"braucht"; our terms drop it after h, m, l or n
    assert terms("spielt", "de") == terms("spielen", "de") == ["spiel"]
    assert terms("erzählt", "de") == terms("erzählen", "de")
    assert terms("Rabatt", "de") == ["rabatt"]  # -tt stays


def test_compound_parts_are_never_stopwords_and_prefix_verbs_give_their_verb() -> None:
    found = terms("ausleihen", "de", vocabulary=frozenset({"aus", "leihen"}))
    assert "aus" not in found
    assert "leih" in found
    assert terms("demnächst Vorträge", "de") == ["vortrag"]  # not "dem" + "nach"
    assert "hor" in terms("anhören", "de")


def test_filler_words_are_not_terms() -> None:
    assert terms("ich komme oft, gibts sowas wie ein Jahresabo", "de")[0] == "jahresabo"
    assert terms("can we get in somewhere", "en") == []
