"""General synonyms visitors of a cultural house use, German and English, shipped with
Publikum. Retrieval adds them to the organisation's own groups (`AssistantSettings.synonyms`,
same format: one group per line, comma-separated, a member may be a short phrase whose
words must all be there).

Only words whose meaning does not depend on the house: colloquial and plural forms
("Klo", "Klos", "Rolli"), the other language's word ("restroom"), and words for the same
need ("Rucksack" -> lockers and bags). No word that is ambiguous on its own ("Karte" is a
ticket, a map and a means of payment; "frei" is also "barrierefrei").
"""

from __future__ import annotations

from functools import lru_cache

from publikum.assistant.nlu.text import parse_synonyms

GENERAL_SYNONYMS = "\n".join(
    (
        "Toilette, Toiletten, WC, WCs, Klo, Klos, Sanitäranlagen, Waschraum, toilet, toilets, "
        "restroom, restrooms, bathroom, loo, lavatory, washroom",
        "Rollstuhl, Rollstühle, Rolli, Rollis, Rollator, Rollstuhlfahrer, Rollstuhlfahrerin, "
        "wheelchair, wheelchairs, wheelchair user, mobility scooter",
        "barrierefrei, rollstuhlgerecht, behindertengerecht, stufenlos, step-free, accessible",
        "Kinderwagen, Buggy, Kinderkarre, stroller, pram, pushchair, baby carriage",
        "Rucksack, Rucksäcke, Tasche, Taschen, Gepäck, Koffer, backpack, backpacks, rucksack, "
        "bag, bags, luggage, suitcase",
        "Schließfach, Schließfächer, Spind, Spinde, locker, lockers",
        "Garderobe, Jacke, Jacken, Mantel, Mäntel, cloakroom, coat, coats, jacket, coat check",
        "Café, Cafe, Cafeteria, Kaffee, Bistro, Restaurant, Gastronomie, Mittagessen, "
        "Mittagstisch, Kuchen, cafe, coffee, restaurant, lunch, coffee shop",
        "Snack, Snacks, Proviant, Brotzeit, Pausenbrot, Vesper, Picknick, Verpflegung, "
        "mitgebrachtes Essen, snack, snacks, picnic, packed lunch, sandwich, own food",
        "Getränk, Getränke, Wasserflasche, Trinkflasche, drink, drinks, water bottle",
        "Führung, Führungen, Rundgang, Rundgänge, guided tour, guided tours, tour, tours",
        "Audioguide, Audio-Guide, Hörführung, Mediaguide, Kopfhörer, Anhören, audio guide, "
        "audioguide, audio tour, headphones, listen",
        "umsonst, gratis, kostenlos, kostenfrei, freier Eintritt, Eintritt frei, free "
        "admission, free entry, free of charge, for free, no charge",
        "Jahreskarte, Jahresticket, Jahrespass, Jahresabo, Abo, Abonnement, Dauerkarte, "
        "annual pass, annual ticket, season ticket, yearly pass, year pass",
        "Ermäßigung, ermäßigt, Rabatt, Nachlass, vergünstigt, discount, reduced, concession, "
        "concessions",
        "Schwerbehinderung, schwerbehindert, Schwerbehinderte, Schwerbehindertenausweis, "
        "Behindertenausweis, disability, disabled, disability card",
        "gehörlos, Gehörlose, taub, Taube, gehörlose Menschen, deaf, deaf people",
        "Dolmetscher, Dolmetscherin, Dolmetschung, Gebärdendolmetscher, interpreter, interpreting",
        "Hörgerät, Hörgeräte, schwerhörig, Schwerhörige, Höranlage, Induktionsschleife, "
        "hearing aid, hearing aids, hard of hearing, hearing loop, induction loop",
        "blind, Blinde, sehbehindert, Sehbehinderung, schlecht sehen, sehe schlecht, blind "
        "people, visually impaired, partially sighted, poor eyesight",
        "Blindenhund, Führhund, Assistenzhund, Blindenführhund, guide dog, assistance dog, "
        "service dog, seeing eye dog",
        "Hund, Hunde, Haustier, Haustiere, dog, dogs, pet, pets",
        "Fahrrad, Fahrräder, Rad, Räder, Fahrradständer, bike, bikes, bicycle, bicycles, bike rack",
        "Parkplatz, Parkplätze, Parkhaus, parken, car park, parking, parking garage",
        "Straßenbahn, Tram, Bus, Bahn, ÖPNV, Haltestelle, tram, bus, public transport",
        "Telefon, Telefonnummer, anrufen, Rufnummer, phone, telephone, phone number, call",
        "E-Mail, Mail, Mailadresse, email, e-mail, mail address",
        "Fotografieren, Fotos, Foto, Bilder, knipsen, photos, photo, pictures, photography",
        "Kreditkarte, EC-Karte, Girocard, Kartenzahlung, bezahlen, zahlen, credit card, debit "
        "card, card payment, pay",
        "Gutschein, Gutscheine, Geschenkgutschein, voucher, vouchers, gift voucher, gift card",
        "Geburtstag, Kindergeburtstag, Geburtstagsfeier, birthday, birthday party",
        "Schulklasse, Schulklassen, Schule, Schulen, Lehrer, Lehrerin, school, schools, "
        "school class, teacher",
        "Gruppe, Gruppen, Reisegruppe, group, groups, tour group",
        "wie lange, Zeit einplanen, Besuchsdauer, how long, duration",
        "zurückgeben, Erstattung, Geld zurück, stornieren, refund, money back, cancel",
        "vorher, Vorverkauf, im Voraus, vorab, in advance, advance booking, beforehand, before",
        "Sammlung, Exponate, Ausstellungsstücke, sehen, anschauen, ansehen, besichtigen, "
        "angucken, collection, exhibits, see",
        "Presse, Pressefotos, Pressebilder, Journalist, press, press photos, journalist",
        "WLAN, WiFi, Wi-Fi, Internet, wifi, wireless",
    )
)


@lru_cache(maxsize=1)
def general_groups() -> tuple[frozenset[str], ...]:
    """The groups of `GENERAL_SYNONYMS`, parsed once."""
    return tuple(frozenset(g) for g in parse_synonyms(GENERAL_SYNONYMS))
