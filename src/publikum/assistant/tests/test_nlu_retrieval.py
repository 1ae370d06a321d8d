"""Retrieval over real KnowledgeEntry rows: the right entry first, scores 0..1 that mean
something, synonyms, typos, compounds, the cache following edits, personal topics."""

from __future__ import annotations

from typing import Any

import pytest

from conftest import make_organisation
from publikum.assistant.models import AssistantSettings, KnowledgeEntry, PersonalTopic, Topic
from publikum.assistant.nlu.retrieval import matching_personal_topic, search
from publikum.core.models import Organisation

ENTRIES = [
    (
        "cafe",
        Topic.FACILITIES,
        "Gibt es ein Café?",
        "Is there a café?",
        "Unser Museumscafé im Erdgeschoss hat zu den Öffnungszeiten geöffnet; Kuchen und Kaffee.",
        "Our museum café on the ground floor is open during opening hours; cake and coffee.",
        "Kann man bei euch Kaffee trinken?\nGibt es was zu essen?",
        "Can I get coffee?\nWhere can I eat?",
    ),
    (
        "lockers",
        Topic.FACILITIES,
        "Gibt es Schließfächer?",
        "Are there lockers?",
        "Schließfächer für Taschen und Rucksäcke stehen im Foyer (1-Euro-Pfand).",
        "Lockers for bags and backpacks are in the foyer (1 euro deposit).",
        "Wo kann ich meinen Rucksack lassen?\nGarderobe",
        "Where can I leave my bag?\ncloakroom",
    ),
    (
        "wheelchair",
        Topic.ACCESSIBILITY,
        "Ist das Museum barrierefrei?",
        "Is the museum accessible?",
        "Alle Ausstellungsräume sind stufenlos mit dem Aufzug erreichbar; ein Rollstuhl "
        "kann an der Kasse ausgeliehen werden.",
        "All galleries are step-free via the lift; a wheelchair can be borrowed at the desk.",
        "Kann ich mit dem Rollstuhl kommen?\nGibt es einen Aufzug?",
        "Can I come in a wheelchair?\nIs there an elevator?",
    ),
    (
        "photos",
        Topic.OTHER,
        "Darf man fotografieren?",
        "Can I take photos?",
        "Fotografieren ohne Blitz und Stativ ist für private Zwecke erlaubt.",
        "Photography without flash or tripod is allowed for private use.",
        "Fotos erlaubt?\nDarf ich Bilder machen?",
        "Is photography allowed?",
    ),
    (
        "dogs",
        Topic.OTHER,
        "Darf ich meinen Hund mitbringen?",
        "Can I bring my dog?",
        "Hunde dürfen leider nicht mit hinein, Assistenzhunde sind willkommen.",
        "Dogs are not allowed inside, assistance dogs are welcome.",
        "Sind Hunde erlaubt?",
        "Are dogs allowed?",
    ),
    (
        "family-tour",
        Topic.GROUPS,
        "Gibt es Führungen für Familien?",
        "Are there tours for families?",
        "Jeden Sonntag um 14 Uhr gibt es eine Familienführung für Kinder ab 6 Jahren.",
        "Every Sunday at 2 pm there is a family tour for children aged 6 and up.",
        "Familienführung\nFührung mit Kindern",
        "family tour\ntour with kids",
    ),
    (
        "parking",
        Topic.ADDRESS,
        "Wo kann ich parken?",
        "Where can I park?",
        "Das Parkhaus am Markt ist 200 m entfernt; vor dem Haus sind zwei Behindertenparkplätze.",
        "The Markt car park is 200 m away; there are two disabled parking spaces in front.",
        "Parkplatz\nParkhaus in der Nähe",
        "parking\ncar park nearby",
    ),
    (
        "vouchers",
        Topic.TICKETS,
        "Kann ich einen Gutschein kaufen?",
        "Can I buy a gift voucher?",
        "Geschenkgutscheine gibt es an der Kasse und im Museumsshop.",
        "Gift vouchers are sold at the desk and in the museum shop.",
        "Geschenkgutschein\nGutschein verschenken",
        "gift card\nvoucher",
    ),
]


def add_entries(organisation: Organisation) -> dict[str, int]:
    ids: dict[str, int] = {}
    for key, topic, q_de, q_en, a_de, a_en, p_de, p_en in ENTRIES:
        entry = KnowledgeEntry.objects.create(
            organisation=organisation,
            key=key,
            topic=topic,
            question_de=q_de,
            question_en=q_en,
            answer_de=a_de,
            answer_en=a_en,
            phrases_de=p_de,
            phrases_en=p_en,
        )
        ids[key] = entry.id
    return ids


@pytest.fixture
def house(db: None) -> tuple[Organisation, dict[str, int]]:
    organisation = make_organisation()
    return organisation, add_entries(organisation)


@pytest.mark.parametrize(
    ("text", "language", "key"),
    [
        ("Habt ihr ein Cafe?", "de", "cafe"),
        ("wo kann man kaffee trinken", "de", "cafe"),
        ("Gibt es Schliessfaecher?", "de", "lockers"),
        ("Wohin mit meinem Rucksack?", "de", "lockers"),
        ("Kann ich mit Rollstuhl rein?", "de", "wheelchair"),
        ("Gibts einen Fahrstuhl oder Aufzug?", "de", "wheelchair"),
        ("Darf ich Fotos machen?", "de", "photos"),
        ("Darf mein Hund mit?", "de", "dogs"),
        ("Gibt es eine Familienfuehrung?", "de", "family-tour"),
        ("Parkhaus?", "de", "parking"),
        ("Gutscheine zum Verschenken?", "de", "vouchers"),
        ("Is there a cafe?", "en", "cafe"),
        ("where can I leave my backpack", "en", "lockers"),
        ("wheelchair access?", "en", "wheelchair"),
        ("can I take pictures or photos", "en", "photos"),
        ("are dogs allowed inside", "en", "dogs"),
        ("tours for families with kids?", "en", "family-tour"),
        ("is there a car park", "en", "parking"),
        ("do you sell gift vouchers", "en", "vouchers"),
    ],
)
def test_the_right_entry_comes_first(
    house: tuple[Organisation, dict[str, int]], text: str, language: str, key: str
) -> None:
    organisation, ids = house
    hits = search(organisation, text, language)
    assert hits, text
    assert hits[0].entry_id == ids[key], (text, hits)
    assert 0.0 < hits[0].score <= 1.0


def test_scores_are_high_for_a_clear_question_and_low_for_off_topic(
    house: tuple[Organisation, dict[str, int]],
) -> None:
    organisation, _ = house
    clear = search(organisation, "Darf man fotografieren?", "de")[0].score
    assert clear >= 0.7
    off_topic = search(organisation, "Wie wird das Wetter morgen?", "de")
    assert not off_topic or off_topic[0].score < 0.3
    assert search(organisation, "und oder aber", "de") == []
    assert search(organisation, "", "de") == []


def test_typos_and_missing_umlauts_still_find_the_entry(
    house: tuple[Organisation, dict[str, int]],
) -> None:
    organisation, ids = house
    assert search(organisation, "Schliesfächer?", "de")[0].entry_id == ids["lockers"]
    assert search(organisation, "fotografiern erlaubt?", "de")[0].entry_id == ids["photos"]
    assert search(organisation, "wheelchiar", "en")[0].entry_id == ids["wheelchair"]


def test_hits_are_sorted_and_limited(house: tuple[Organisation, dict[str, int]]) -> None:
    organisation, _ = house
    hits = search(organisation, "Führung Kinder Rollstuhl Hund Café", "de", k=2)
    assert len(hits) == 2
    assert hits[0].score >= hits[1].score


def test_synonyms_from_the_settings_count(house: tuple[Organisation, dict[str, int]]) -> None:
    organisation, ids = house
    # "Milchbar" is no word of the general lexicon: only the house's group makes it the café
    before = search(organisation, "Wo ist die Milchbar?", "de")
    assert not before or before[0].entry_id != ids["cafe"] or before[0].score < 0.3
    AssistantSettings.objects.create(organisation=organisation, synonyms="Café, Milchbar\n")
    after = search(organisation, "Wo ist die Milchbar?", "de")
    assert after[0].entry_id == ids["cafe"]
    assert after[0].score >= 0.5


def test_the_index_follows_edits_and_only_active_entries_count(
    house: tuple[Organisation, dict[str, int]],
) -> None:
    organisation, ids = house
    assert search(organisation, "Darf ich meinen Hund mitbringen?", "de")[0].entry_id == ids["dogs"]
    KnowledgeEntry.objects.filter(pk=ids["dogs"]).update(active=False)
    # .update() does not touch updated_at; saving through the model does.
    entry = KnowledgeEntry.objects.get(pk=ids["dogs"])
    entry.save()
    hits = search(organisation, "Darf ich meinen Hund mitbringen?", "de")
    assert all(hit.entry_id != ids["dogs"] for hit in hits)
    KnowledgeEntry.objects.create(
        organisation=organisation,
        question_de="Gibt es WLAN?",
        answer_de="Ja, das Netz heißt Museum-Gast.",
    )
    assert search(organisation, "wlan?", "de")[0].score > 0.5


def test_organisations_do_not_see_each_other(house: tuple[Organisation, dict[str, int]]) -> None:
    _, ids = house
    other = make_organisation()
    KnowledgeEntry.objects.create(
        organisation=other, question_de="Gibt es ein Café?", answer_de="Nein."
    )
    hits = search(other, "Gibt es ein Café?", "de")
    assert [hit.entry_id for hit in hits] != [ids["cafe"]]
    assert all(hit.entry_id not in ids.values() for hit in hits)


def test_english_entry_text_answers_english_and_german_falls_back(db: None) -> None:
    organisation = make_organisation()
    only_german = KnowledgeEntry.objects.create(
        organisation=organisation,
        question_de="Gibt es einen Audioguide?",
        answer_de="Ja, an der Kasse.",
    )
    hits = search(organisation, "Audioguide?", "en")
    assert hits[0].entry_id == only_german.id


def test_once_the_index_is_built_a_query_only_checks_its_version(
    house: tuple[Organisation, dict[str, int]], django_assert_max_num_queries: Any
) -> None:
    organisation, ids = house
    search(organisation, "Café", "de")
    # Only the version check (the entries' count and latest edit, the settings' edit): no
    # rebuild, which would read every entry and the synonyms.
    with django_assert_max_num_queries(2):
        hits = search(organisation, "Gibt es Schließfächer für Rucksäcke?", "de")
    assert hits[0].entry_id == ids["lockers"]


def test_personal_topics_match_phrases_and_compounds(db: None) -> None:
    organisation = make_organisation()
    complaint = PersonalTopic.objects.create(
        organisation=organisation,
        name_de="Beschwerden",
        name_en="Complaints",
        phrases="Beschwerde\nbeschweren\ncomplaint\nnicht zufrieden\nnot happy",
    )
    press = PersonalTopic.objects.create(
        organisation=organisation,
        name_de="Presse",
        phrases="Presseanfrage\nJournalist\npress enquiry\ninterview",
    )
    assert matching_personal_topic(organisation, "Ich möchte mich beschweren!", "de") == complaint
    assert matching_personal_topic(organisation, "Ich habe eine Beschwerde", "de") == complaint
    assert (
        matching_personal_topic(organisation, "Beschwerdebrief an die Leitung", "de") == complaint
    )
    assert matching_personal_topic(organisation, "Ich war gar nicht zufrieden", "de") == complaint
    assert matching_personal_topic(organisation, "I want to make a complaint", "en") == complaint
    assert matching_personal_topic(organisation, "I am not happy with the tour", "en") == complaint
    assert matching_personal_topic(organisation, "Ich bin Journalistin", "de") == press
    assert matching_personal_topic(organisation, "Press enquiries please", "en") == press
    assert matching_personal_topic(organisation, "Wann habt ihr offen?", "de") is None
    assert matching_personal_topic(organisation, "I am happy", "en") is None
    assert matching_personal_topic(make_organisation(), "Beschwerde", "de") is None


@pytest.mark.parametrize(
    ("text", "language", "key"),
    [
        ("Darf ich mit dem Rolli rein?", "de", "wheelchair"),
        ("wo kann ich mein Gepäck lassen", "de", "lockers"),
        ("is there a restaurant", "en", "cafe"),
        ("Gibt es eine Cafeteria?", "de", "cafe"),
        ("can I bring my pet", "en", "dogs"),
    ],
)
def test_the_general_lexicon_knows_everyday_words(
    house: tuple[Organisation, dict[str, int]], text: str, language: str, key: str
) -> None:
    organisation, ids = house  # no synonyms in the settings
    hits = search(organisation, text, language)
    assert hits, text
    assert hits[0].entry_id == ids[key], (text, hits)
    assert hits[0].score >= 0.5


def _entry(organisation: Organisation, key: str, question: str, answer: str, phrases: str) -> int:
    return KnowledgeEntry.objects.create(
        organisation=organisation,
        key=key,
        question_de=question,
        question_en=question,
        answer_de=answer,
        answer_en=answer,
        phrases_de=phrases,
        phrases_en=phrases,
    ).id


def test_the_entry_with_the_plain_phrase_beats_the_one_with_a_qualifier(db: None) -> None:
    organisation = make_organisation()
    toilets = _entry(
        organisation, "toilets", "Wo sind die Toiletten?", "Im Untergeschoss.", "Wo ist das Klo?"
    )
    accessible = _entry(
        organisation,
        "accessible_toilet",
        "Gibt es eine barrierefreie Toilette?",
        "Ja, im Erdgeschoss, mit Euroschlüssel.",
        "barrierefreies Klo\nBehindertentoilette",
    )
    assert search(organisation, "wo sind die klos", "de")[0].entry_id == toilets
    assert search(organisation, "gibts ein rollstuhlgerechtes WC", "de")[0].entry_id == accessible


def test_a_phrase_counts_as_a_phrase(db: None) -> None:
    organisation = make_organisation()
    dogs = _entry(
        organisation,
        "dogs",
        "Can I bring my dog?",
        "Dogs are not allowed; guide dogs are the exception.",
        "dogs allowed\npets",
    )
    guide = _entry(
        organisation, "assistance_dogs", "Can I bring my assistance dog?", "Yes.", "guide dog"
    )
    assert search(organisation, "is my guide dog allowed inside", "en")[0].entry_id == guide
    assert search(organisation, "are dogs allowed", "en")[0].entry_id == dogs
    # "sehe schlecht" is the general phrase "schlecht sehen", not "sehen" of any entry
    blind = _entry(organisation, "blind", "Angebote für Sehbehinderte?", "Tastführungen.", "blind")
    _entry(organisation, "collection", "Was gibt es zu sehen?", "Die Stadtgeschichte.", "Sammlung")
    assert search(organisation, "ich sehe sehr schlecht", "de")[0].entry_id == blind


def test_weekdays_are_not_typos_of_each_other_and_numbers_do_not_dilute(db: None) -> None:
    organisation = make_organisation()
    _entry(organisation, "late", "Open late on Thursday?", "Until 8 pm.", "thursday evening")
    school = _entry(
        organisation, "school", "Angebote für Schulklassen?", "Workshops.", "Schulklasse\nLehrer"
    )
    assert search(organisation, "tuesday", "en") == []
    hits = search(organisation, "ich bin Lehrerin und komme mit meiner 4. Klasse", "de")
    assert hits[0].entry_id == school
    assert hits[0].score >= 0.7
