"""The demo museum's knowledge: what Stadtmuseum Beispielstadt tells its visitors.

Opening hours (Tuesday to Sunday 10-18, Thursday until 20, Monday closed), the exceptions
of the year (Christmas Eve and New Year's Eve closed, New Year's Day from noon, one day
closed for setting up an exhibition), admission prices, the assistant's settings
(greetings, reply times, the house's synonyms, public holidays with Sunday hours), the
personal topics staff answer themselves (complaints, donations, press) and the question
and answer entries in German and English, each with a stable key that the evaluation
cases name.

`populate` converges: it writes by key (entries), label (prices), name (topics), date
(exceptions) and replaces the regular week, so a second run changes nothing.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import IO, Any

from django.db import transaction
from django.utils import timezone

from publikum.assistant.models import (
    AssistantSettings,
    HolidayRule,
    KnowledgeEntry,
    OpeningException,
    OpeningHours,
    PersonalTopic,
    PriceEntry,
    Topic,
)
from publikum.core.demo import progress
from publikum.core.models import Organisation

# Regular week: weekday (0 = Monday) -> spans. Monday closed.
WEEK: dict[int, tuple[tuple[time, time], ...]] = {
    1: ((time(10), time(18)),),
    2: ((time(10), time(18)),),
    3: ((time(10), time(20)),),
    4: ((time(10), time(18)),),
    5: ((time(10), time(18)),),
    6: ((time(10), time(18)),),
}

GREETING_DE = (
    "Hallo! Ich bin der digitale Assistent des Stadtmuseums Beispielstadt. Fragen Sie mich "
    "nach Öffnungszeiten, Preisen, Anfahrt, Barrierefreiheit oder Veranstaltungen – oder "
    "buchen Sie gleich Ihre Tickets."
)
GREETING_EN = (
    "Hello! I am the digital assistant of Stadtmuseum Beispielstadt. Ask me about opening "
    "hours, prices, directions, accessibility or events – or book your tickets right away."
)

SYNONYMS = "\n".join(
    (
        "Kasse, Ticketschalter, Ticketkasse, Museumskasse, Info, Infotheke",
        "Garderobe, Kleiderablage, Mantel, Jacke",
        "Schließfach, Spind, Locker, Schliessfach, Gepäckaufbewahrung",
        "Rollstuhl, Rolli, Rollator",
        "Café, Cafe, Kaffee, Bistro, Museumscafé",
        "Toilette, WC, Klo, Toiletten, Sanitär",
        "Kinderwagen, Buggy, Kinderkarre",
        "Führung, Fuehrung, Rundgang, Tour",
        "Eintritt, Ticket, Karte, Eintrittskarte, Eintrittspreis",
        "Gutschein, Geschenkgutschein, Geschenkkarte",
        "Fahrrad, Rad, Bike, Fahrradständer",
        "Audioguide, Audio-Guide, Hörführung, Mediaguide",
        "WLAN, WiFi, Wi-Fi, Internet",
        "Hund, Hunde, Haustier",
        "Fundsachen, Fundbüro, verloren, vergessen",
        "Leichte Sprache, einfache Sprache",
        "Großer Saal, Saal, Veranstaltungssaal",
        "ticket office, box office, ticket desk, front desk",
        "cloakroom, coat check, wardrobe",
        "locker, lockers, luggage",
        "stroller, pram, buggy, pushchair",
        "toilet, toilets, restroom, bathroom, loo, wc",
        "cafe, café, coffee, bistro",
    )
)

PERSONAL_TOPICS: tuple[tuple[str, str, str], ...] = (
    (
        "Beschwerde",
        "Complaint",
        "beschwerde\nbeschweren\nbeschwere mich\nunzufrieden\nenttäuscht\nenttaeuscht\n"
        "ärgerlich\naergerlich\nunverschämt\nunverschaemt\nunfreundlich\nfrechheit\n"
        "reklamation\ncomplaint\ncomplain\nrude\ndisappointed\nunacceptable\nunfriendly",
    ),
    (
        "Spenden",
        "Donations",
        "spende\nspenden\nvermächtnis\nvermaechtnis\nnachlass\nerbschaft\nstiften\nstiftung\n"
        "schenkung\nsponsoring\nsponsor\ndonate\ndonation\nlegacy\nbequest\nsponsorship",
    ),
    (
        "Presse",
        "Press",
        # Not the bare word "Presse": "Wo finde ich Pressefotos?" is answered from the
        # press_contact entry; an enquiry of a journalist goes to a person.
        "presseanfrage\njournalist\njournalistin\ninterview\ndrehgenehmigung\n"
        "dreharbeiten\nfilmaufnahmen\nredaktion\npress enquiry\npress inquiry\n"
        "filming permit\nfilm crew\nreporter",
    ),
)


@dataclass(frozen=True)
class Price:
    label_de: str
    label_en: str
    amount: Decimal
    note_de: str = ""
    note_en: str = ""


PRICES: tuple[Price, ...] = (
    Price("Erwachsene", "Adults", Decimal("9.00")),
    Price(
        "Ermäßigt",
        "Reduced",
        Decimal("6.00"),
        "Studierende, Auszubildende, Freiwilligendienstleistende, Menschen mit "
        "Schwerbehinderung (ab GdB 50), Inhaber*innen des Beispielstadt-Passes; bitte "
        "Nachweis zeigen",
        "Students, apprentices, volunteers in a voluntary service year, people with a "
        "severe disability (50 % or more), holders of the Beispielstadt pass; please show "
        "proof",
    ),
    Price(
        "Kinder und Jugendliche bis 18 Jahre",
        "Children and young people under 18",
        Decimal("0.00"),
        "freier Eintritt",
        "free admission",
    ),
    Price(
        "Begleitperson (Merkzeichen B)",
        "Companion (pass marked B)",
        Decimal("0.00"),
        "eine Begleitperson frei",
        "one companion free",
    ),
    Price(
        "Familienkarte",
        "Family ticket",
        Decimal("18.00"),
        "zwei Erwachsene mit ihren Kindern",
        "two adults with their children",
    ),
    Price(
        "Gruppen ab 10 Personen",
        "Groups of 10 or more",
        Decimal("7.00"),
        "pro Person, bitte vorher anmelden",
        "per person, please register in advance",
    ),
    Price(
        "Jahreskarte",
        "Annual pass",
        Decimal("35.00"),
        "zwölf Monate ab Kauf, beliebig oft",
        "twelve months from purchase, unlimited visits",
    ),
    Price(
        "Donnerstags ab 17 Uhr",
        "Thursdays from 5 pm",
        Decimal("0.00"),
        "freier Eintritt für alle",
        "free admission for everyone",
    ),
)


@dataclass(frozen=True)
class Entry:
    key: str
    topic: str
    question_de: str
    question_en: str
    answer_de: str
    answer_en: str
    phrases_de: str
    phrases_en: str


ENTRIES: tuple[Entry, ...] = (
    # Address and directions
    Entry(
        "address",
        Topic.ADDRESS,
        "Wo ist das Museum?",
        "Where is the museum?",
        "Das Stadtmuseum Beispielstadt liegt am Fluss im ehemaligen Kornspeicher: "
        "Museumsplatz 1, 12345 Beispielstadt. Der Eingang ist am Museumsplatz.",
        "Stadtmuseum Beispielstadt is in the former granary by the river: Museumsplatz 1, "
        "12345 Beispielstadt. The entrance faces Museumsplatz.",
        "Wie ist die Adresse?\nWo finde ich euch?\nWo seid ihr?\nAnschrift des Museums\n"
        "Wo genau liegt das Museum\nIn welcher Straße ist das Museum?\nIn welcher Strasse "
        "seid ihr\nwo is das museum",
        "What is the address?\nWhere are you located?\nWhere can I find you?\n"
        "museum location\nwhat street is the museum on",
    ),
    Entry(
        "public_transport",
        Topic.ADDRESS,
        "Wie komme ich mit Bus und Bahn zum Museum?",
        "How do I get to the museum by public transport?",
        "Mit der Straßenbahn 3 oder 7 bis zur Haltestelle Museumsplatz, von dort sind es "
        "2 Minuten zu Fuß. Vom Hauptbahnhof fahren beide Linien alle 10 Minuten "
        "(Fahrzeit etwa 8 Minuten); zu Fuß sind es rund 15 Minuten am Fluss entlang.",
        "Take tram 3 or 7 to the stop Museumsplatz, then it is a 2-minute walk. Both lines "
        "leave the main station every 10 minutes (about 8 minutes' ride); on foot it is "
        "about 15 minutes along the river.",
        "Anfahrt mit ÖPNV\nAnfahrt mit OEPNV\nWelche Straßenbahn fährt zum Museum?\n"
        "Welche Strassenbahn faehrt zu euch\nWelche Haltestelle?\nWie komme ich vom "
        "Bahnhof zu euch?\nWie komm ich da hin\nAnfahrt Bus und Bahn\nMit der Tram zum "
        "Museum",
        "How do I get there?\nWhich tram goes to the museum?\nHow to get from the train "
        "station to the museum\nnearest stop\ndirections by bus\nhow far from the main "
        "station",
    ),
    Entry(
        "parking",
        Topic.ADDRESS,
        "Wo kann ich parken?",
        "Where can I park?",
        "Das Museum hat keinen eigenen Parkplatz. Am nächsten liegt das Parkhaus "
        "Altstadt (Flussstraße 10, 300 m, 2 € pro Stunde). Zwei Behindertenparkplätze "
        "gibt es direkt vor dem Eingang am Museumsplatz. Wir empfehlen die Anreise mit "
        "der Straßenbahn.",
        "The museum has no car park of its own. The nearest is the Altstadt multi-storey "
        "car park (Flussstraße 10, 300 m, €2 per hour). There are two disabled parking "
        "spaces right in front of the entrance on Museumsplatz. We recommend coming by "
        "tram.",
        "Gibt es Parkplätze?\nParkhaus in der Nähe\nParkhaus in der Naehe\nKann man beim "
        "Museum parken\nAnfahrt mit dem Auto\nBehindertenparkplatz\nwo parke ich am besten",
        "Is there parking?\ncar park nearby\nparking garage\ncoming by car\ndisabled parking",
    ),
    Entry(
        "bike_parking",
        Topic.ADDRESS,
        "Kann ich mein Fahrrad am Museum abstellen?",
        "Can I leave my bike at the museum?",
        "Ja, überdachte Fahrradbügel für 20 Räder stehen im Innenhof, Zugang über das Tor "
        "links vom Haupteingang. Eine Lademöglichkeit für E-Bikes gibt es dort auch.",
        "Yes, there are covered bike stands for 20 bikes in the courtyard, reached through "
        "the gate left of the main entrance. You can charge an e-bike there too.",
        "Fahrradständer\nFahrradstaender\nWo kann ich mein Rad abschließen?\n"
        "Fahrradparkplatz\nE-Bike laden\nmit dem Fahrrad kommen",
        "bike rack\nbicycle parking\nwhere can I lock my bike\ncharge e-bike",
    ),
    # Accessibility
    Entry(
        "wheelchair",
        Topic.ACCESSIBILITY,
        "Ist das Museum für Rollstuhlfahrer zugänglich?",
        "Is the museum wheelchair accessible?",
        "Ja, alle Ausstellungsräume, der Große Saal und das Café sind stufenlos erreichbar. "
        "Der Eingang liegt über die Rampe links vom Hauptportal; ein Aufzug fährt in alle "
        "Etagen. An der Kasse leihen wir kostenlos zwei Rollstühle und Klapphocker aus. "
        "Eine Begleitperson mit Merkzeichen B hat freien Eintritt.",
        "Yes, every exhibition room, the Great Hall and the café are step-free. The "
        "entrance is by the ramp to the left of the main door; a lift serves every floor. "
        "The ticket desk lends two wheelchairs and folding stools free of charge. One "
        "companion (pass marked B) gets in free.",
        "barrierefrei\nBarrierefreiheit\nrollstuhlgerecht\nKomme ich mit dem Rollstuhl "
        "rein?\nGibt es einen Aufzug?\nAufzug\nFahrstuhl\nstufenlos\nmit dem Rolli ins "
        "Museum\nmit Rollator\nRollstuhl ausleihen\nbarrierefrei zugaenglich",
        "accessible\naccessibility\nwheelchair access\nis there a lift\nelevator\n"
        "step-free\nborrow a wheelchair\nmobility impaired",
    ),
    Entry(
        "accessible_toilet",
        Topic.ACCESSIBILITY,
        "Gibt es eine barrierefreie Toilette?",
        "Is there an accessible toilet?",
        "Ja, barrierefreie Toiletten gibt es im Erdgeschoss neben der Garderobe und im "
        "ersten Obergeschoss am Aufzug. Sie sind mit dem Euroschlüssel zu öffnen; "
        "einen Schlüssel bekommen Sie auch an der Kasse.",
        "Yes, there are accessible toilets on the ground floor next to the cloakroom and "
        "on the first floor by the lift. They open with the Euro key; the ticket desk also "
        "has a key.",
        "Behindertentoilette\nbehindertengerechtes WC\nRollstuhl Toilette\nEuroschlüssel\n"
        "Euroschluessel\nbarrierefreies Klo",
        "disabled toilet\nwheelchair accessible restroom\naccessible bathroom\nEuro key",
    ),
    Entry(
        "induction_loop",
        Topic.ACCESSIBILITY,
        "Gibt es eine Induktionsschleife für Hörgeräte?",
        "Is there a hearing loop?",
        "Ja, der Große Saal und die Kasse haben eine induktive Höranlage. Für Führungen "
        "leihen wir an der Kasse mobile Höranlagen mit Halsringschleife aus, kostenlos.",
        "Yes, the Great Hall and the ticket desk have an induction loop. For guided tours "
        "the ticket desk lends portable receivers with a neck loop, free of charge.",
        "Induktionsschleife\nHöranlage\nHoeranlage\nHörgerät\nHoergeraet\nschwerhörig\n"
        "schwerhoerig\nHörschleife",
        "induction loop\nhearing loop\nhearing aid\nhard of hearing\nT-coil",
    ),
    Entry(
        "sign_language",
        Topic.ACCESSIBILITY,
        "Gibt es Führungen in Gebärdensprache?",
        "Are there tours in sign language?",
        "Ja. Einmal im Monat gibt es eine öffentliche Führung in Deutscher Gebärdensprache "
        "(DGS), die Termine stehen im Programm. Private Führungen mit "
        "Gebärdensprachdolmetschung buchen Sie auf Anfrage mindestens drei Wochen vorher "
        "unter fuehrungen@stadtmuseum.example.",
        "Yes. Once a month there is a public tour in German Sign Language (DGS); the dates "
        "are in the programme. Private tours with a sign language interpreter can be booked "
        "on request at least three weeks ahead at fuehrungen@stadtmuseum.example.",
        "Gebärdensprache\nGebaerdensprache\nDGS Führung\nDGS Fuehrung\nGebärdendolmetscher\n"
        "gehörlos\ngehoerlos\nFührung für Gehörlose\nfuer gehoerlose",
        "sign language\nsign language interpreter\ndeaf visitors\ntour for deaf people",
    ),
    Entry(
        "assistance_dogs",
        Topic.ACCESSIBILITY,
        "Darf ich meinen Assistenzhund mitbringen?",
        "Can I bring my assistance dog?",
        "Ja, Assistenz- und Blindenführhunde sind in allen Räumen des Museums willkommen.",
        "Yes, assistance dogs and guide dogs are welcome in every part of the museum.",
        "Assistenzhund\nBlindenhund\nBlindenführhund\nBlindenfuehrhund\nFührhund\n"
        "Fuehrhund\nTherapiehund",
        "assistance dog\nguide dog\nservice dog\nseeing eye dog",
    ),
    Entry(
        "easy_language",
        Topic.ACCESSIBILITY,
        "Gibt es Informationen in Leichter Sprache?",
        "Is there information in easy-to-read language?",
        "Ja. Zur Dauerausstellung gibt es ein Heft in Leichter Sprache, kostenlos an der "
        "Kasse, und den Audioguide mit einer Spur in Leichter Sprache. Für Gruppen bieten "
        "wir Führungen in Leichter Sprache an.",
        "Yes. For the permanent exhibition there is a free booklet in easy-to-read German at "
        "the ticket desk and an audio guide track in easy-to-read German. Groups can book "
        "tours in easy-to-read language.",
        "Leichte Sprache\neinfache Sprache\nFührung in leichter Sprache\nHeft in leichter "
        "Sprache\nfür Menschen mit Lernschwierigkeiten",
        "easy language\neasy-to-read\nplain language\nlearning disabilities",
    ),
    Entry(
        "blind_visitors",
        Topic.ACCESSIBILITY,
        "Gibt es Angebote für blinde und sehbehinderte Menschen?",
        "Is there anything for blind and partially sighted visitors?",
        "Ja. Ein taktiles Leitsystem führt vom Eingang zur Kasse und zum Aufzug. In der "
        "Dauerausstellung gibt es acht Taststationen, der Audioguide hat eine "
        "beschreibende Spur, und auf Anfrage bieten wir Tastführungen an.",
        "Yes. A tactile guidance path leads from the entrance to the ticket desk and the "
        "lift. The permanent exhibition has eight touch stations, the audio guide has a "
        "descriptive track, and touch tours are available on request.",
        "blind\nsehbehindert\nTastführung\nTastfuehrung\nBlindenleitsystem\nAudiodeskription\n"
        "zum Anfassen",
        "blind visitors\nvisually impaired\ntouch tour\naudio description\ntactile",
    ),
    # Facilities
    Entry(
        "cafe",
        Topic.FACILITIES,
        "Gibt es ein Café im Museum?",
        "Is there a café in the museum?",
        "Ja, das Museumscafé im Erdgeschoss mit Terrasse zum Innenhof hat zu den "
        "Öffnungszeiten des Museums geöffnet. Es gibt Kaffee, Kuchen, Suppen und kleine "
        "Gerichte, auch vegetarisch und vegan. Für das Café brauchen Sie kein Ticket.",
        "Yes, the museum café on the ground floor, with a terrace on the courtyard, is open "
        "during museum hours. It serves coffee, cake, soups and light meals, also vegetarian "
        "and vegan. You do not need a ticket for the café.",
        "Habt ihr ein Cafe?\nKann man bei euch Kaffee trinken?\nGibt es was zu essen?\n"
        "Museumscafe\nwo kann ich einen Kaffee trinken\nKuchen\nMittagessen im Museum\n"
        "Bistro",
        "Do you have a cafe?\nwhere can I get coffee\nis there a restaurant\nlunch at the "
        "museum\ncoffee shop",
    ),
    Entry(
        "shop",
        Topic.FACILITIES,
        "Gibt es einen Museumsshop?",
        "Is there a museum shop?",
        "Ja, der Museumsshop im Foyer hat Kataloge, Bücher zur Stadtgeschichte, Postkarten, "
        "Geschenke und Spiele für Kinder. Er hat zu den Öffnungszeiten des Museums offen; "
        "für den Shop brauchen Sie kein Ticket. Kataloge gibt es auch per Post.",
        "Yes, the museum shop in the foyer has catalogues, books on the town's history, "
        "postcards, gifts and games for children. It is open during museum hours; no ticket "
        "needed. Catalogues can also be sent by post.",
        "Museumsshop\nMuseumsladen\nKann ich einen Katalog kaufen?\nPostkarten\nSouvenirs\n"
        "Geschenke kaufen\nAusstellungskatalog",
        "gift shop\nbuy a catalogue\nsouvenirs\npostcards\nbookshop",
    ),
    Entry(
        "lockers",
        Topic.FACILITIES,
        "Gibt es Schließfächer?",
        "Are there lockers?",
        "Ja, im Untergeschoss gibt es 80 Schließfächer (Pfand 1 €, Sie bekommen die Münze "
        "zurück), auch große Fächer für Rucksäcke und Koffer bis Handgepäckgröße. Große "
        "Taschen und Rucksäcke dürfen nicht in die Ausstellung.",
        "Yes, there are 80 lockers downstairs (€1 coin deposit, returned), including large "
        "ones for backpacks and cabin-size suitcases. Large bags and backpacks are not "
        "allowed in the exhibition.",
        "Schliessfach\nSchließfächer\nSchliessfaecher\nSpind\nWo kann ich meinen Rucksack "
        "lassen?\nKoffer abgeben\nGepäck\nGepaeck\nDarf ich meinen Rucksack mitnehmen?",
        "lockers\nwhere can I leave my backpack\nluggage storage\ncan I bring a suitcase\nbig bags",
    ),
    Entry(
        "cloakroom",
        Topic.FACILITIES,
        "Gibt es eine Garderobe?",
        "Is there a cloakroom?",
        "Ja, die Garderobe im Untergeschoss ist kostenlos und unbeaufsichtigt, mit Bügeln "
        "und Schirmständer. Bei Veranstaltungen im Großen Saal ist die Garderobe "
        "beaufsichtigt.",
        "Yes, the cloakroom downstairs is free and self-service, with hangers and an "
        "umbrella stand. During events in the Great Hall it is staffed.",
        "Garderobe\nWo kann ich meine Jacke lassen?\nMantel abgeben\nJacke abgeben\n"
        "Kleiderablage\nRegenschirm",
        "cloakroom\ncoat check\nwhere can I leave my coat\nwardrobe\numbrella",
    ),
    Entry(
        "strollers",
        Topic.FACILITIES,
        "Kann ich mit dem Kinderwagen ins Museum?",
        "Can I bring a stroller?",
        "Ja, Kinderwagen dürfen mit in die Ausstellung, alle Etagen erreichen Sie mit dem "
        "Aufzug. Wer lieber trägt: An der Kasse leihen wir kostenlos Babytragen aus.",
        "Yes, strollers and prams are allowed in the exhibition and the lift reaches every "
        "floor. If you prefer to carry your baby, the ticket desk lends baby carriers free "
        "of charge.",
        "Kinderwagen\nBuggy mitnehmen\nDarf der Kinderwagen mit rein?\nmit Baby ins "
        "Museum\nBabytrage",
        "stroller\npram\npushchair\nbuggy\nvisiting with a baby",
    ),
    Entry(
        "photography",
        Topic.FACILITIES,
        "Darf ich im Museum fotografieren?",
        "Can I take photos in the museum?",
        "Ja, für private Zwecke dürfen Sie in der Dauerausstellung ohne Blitz und ohne "
        "Stativ fotografieren und filmen. In manchen Wechselausstellungen ist das "
        "Fotografieren wegen der Leihgeber nicht erlaubt; das steht dann am Eingang. Für "
        "gewerbliche Aufnahmen fragen Sie bitte presse@stadtmuseum.example.",
        "Yes, for private use you may take photos and videos in the permanent exhibition, "
        "without flash or tripod. Some temporary exhibitions do not allow photography "
        "because of the lenders; a sign at the entrance says so. For commercial shoots "
        "please ask presse@stadtmuseum.example.",
        "fotografieren\nFotos machen\nDarf man Fotos machen?\nfilmen\nHandyfotos\n"
        "Fotografieren erlaubt\nBlitz\nSelfie",
        "photography\ntake pictures\nphotos allowed\nfilming\nflash\nselfie",
    ),
    Entry(
        "dogs",
        Topic.FACILITIES,
        "Darf ich meinen Hund mitbringen?",
        "Can I bring my dog?",
        "Hunde dürfen leider nicht in die Ausstellung; Assistenz- und Blindenführhunde "
        "sind ausgenommen. Im Café und auf der Terrasse im Innenhof sind Hunde an der "
        "Leine willkommen.",
        "Unfortunately dogs are not allowed in the exhibition; assistance and guide dogs "
        "are the exception. Dogs on a lead are welcome in the café and on the courtyard "
        "terrace.",
        "Hund mitnehmen\nSind Hunde erlaubt?\nDarf mein Hund mit rein\nHaustiere\nHunde im Museum",
        "dog\ndogs allowed\npets\nbring my dog",
    ),
    Entry(
        "wifi",
        Topic.FACILITIES,
        "Gibt es WLAN?",
        "Is there wifi?",
        "Ja, im ganzen Haus gibt es kostenloses WLAN: Netz „Stadtmuseum-Gast“, ohne "
        "Passwort; einmal die Nutzungsbedingungen bestätigen.",
        'Yes, there is free wifi throughout the building: network "Stadtmuseum-Gast", no '
        "password; just accept the terms of use once.",
        "WLAN\nWiFi\nInternet im Museum\nWLAN Passwort\nGibt es freies WLAN?\nHotspot",
        "wifi\nwi-fi\ninternet access\nwifi password\nfree wifi",
    ),
    Entry(
        "food_drink",
        Topic.FACILITIES,
        "Darf ich Essen und Trinken mitbringen?",
        "Can I bring food and drink?",
        "In den Ausstellungsräumen dürfen Sie nicht essen und trinken. Mitgebrachtes "
        "Essen können Sie im Innenhof und bei schlechtem Wetter im Pausenraum der "
        "Werkstatt essen (für Schulklassen bitte vorher anmelden). Wasserflaschen dürfen "
        "im Rucksack im Schließfach bleiben.",
        "Eating and drinking are not allowed in the exhibition rooms. You can eat your own "
        "food in the courtyard or, in bad weather, in the break room by the workshop "
        "(school classes please book it in advance). Water bottles can stay in your bag in "
        "the locker.",
        "Essen mitbringen\nDarf ich was zu trinken mitnehmen\nPicknick\nPausenraum\n"
        "Wasserflasche\nwo koennen wir unser Pausenbrot essen\nVesper",
        "bring food\npacked lunch\npicnic\ndrinks in the museum\nwater bottle",
    ),
    Entry(
        "toilets",
        Topic.FACILITIES,
        "Wo sind die Toiletten? Gibt es einen Wickelraum?",
        "Where are the toilets? Is there a baby changing room?",
        "Toiletten finden Sie im Untergeschoss bei der Garderobe und im ersten "
        "Obergeschoss. Einen Wickeltisch gibt es in der barrierefreien Toilette im "
        "Erdgeschoss; ein ruhiger Stillraum ist neben der Werkstatt.",
        "Toilets are downstairs by the cloakroom and on the first floor. There is a baby "
        "changing table in the accessible toilet on the ground floor; a quiet nursing room "
        "is next to the workshop.",
        "Toilette\nWo ist das Klo?\nWC\nWickeltisch\nWickelraum\nStillraum\nwo kann ich "
        "wickeln\nToiletten",
        "toilets\nwhere is the restroom\nbathroom\nbaby changing\nnursing room\nbreastfeeding",
    ),
    Entry(
        "audio_guide",
        Topic.FACILITIES,
        "Gibt es einen Audioguide?",
        "Is there an audio guide?",
        "Ja, der Audioguide zur Dauerausstellung kostet 2 € an der Kasse (Pfand: ein "
        "Ausweis). Es gibt ihn auf Deutsch, Englisch, Französisch, Niederländisch und "
        "Türkisch, mit einer Kinderspur und einer Spur in Leichter Sprache. Kostenlos gibt "
        "es ihn auch als Web-App für das eigene Smartphone (Kopfhörer mitbringen).",
        "Yes, the audio guide to the permanent exhibition costs €2 at the ticket desk "
        "(deposit: an ID). It is available in German, English, French, Dutch and Turkish, "
        "with a children's track and one in easy-to-read German. It is also free as a web "
        "app on your own phone (bring headphones).",
        "Audioguide\nAudio-Guide\nHörführung\nHoerfuehrung\nMediaguide\nGibt es was zum "
        "Anhören?\nAudioguide auf englisch",
        "audio guide\naudioguide\naudio tour\nheadphones\naudio guide languages",
    ),
    # Groups
    Entry(
        "group_visits",
        Topic.GROUPS,
        "Wie melde ich eine Gruppe an?",
        "How do I register a group?",
        "Gruppen ab 10 Personen zahlen 7 € pro Person. Bitte melden Sie Ihre Gruppe "
        "mindestens zwei Wochen vorher an: über das Formular auf unserer Website, per "
        "E-Mail an fuehrungen@stadtmuseum.example oder telefonisch unter "
        "0123 45678-20 (Di–Fr 10–13 Uhr). Eine Gruppenführung dauert 60 Minuten und "
        "kostet 60 € zuzüglich Eintritt, bis 25 Personen.",
        "Groups of 10 or more pay €7 per person. Please register your group at least two "
        "weeks ahead: through the form on our website, by e-mail to "
        "fuehrungen@stadtmuseum.example or by phone on 0123 45678-20 (Tue–Fri 10 am–1 pm). "
        "A group tour lasts 60 minutes and costs €60 plus admission, for up to 25 people.",
        "Gruppenanmeldung\nWir kommen mit einer Gruppe\nGruppenbesuch\nVereinsausflug\n"
        "Betriebsausflug\nGruppe anmelden\nmit 15 Leuten ins Museum\nGruppentarif",
        "group visit\ngroup booking\nwe are a group of 20\ngroup rates\ncompany outing",
    ),
    Entry(
        "school_classes",
        Topic.GROUPS,
        "Was bietet das Museum für Schulklassen?",
        "What do you offer school classes?",
        "Schulklassen haben freien Eintritt. Wir bieten Führungen und Workshops für alle "
        "Schulstufen an (90 Minuten, 50 € pro Klasse), zum Beispiel „Leben im "
        "Mittelalter“ oder „Kohle, Stoff und Dampf“. Buchung bitte mindestens drei Wochen "
        "vorher unter fuehrungen@stadtmuseum.example; Unterrichtsmaterial gibt es zum "
        "Download auf unserer Website.",
        "School classes get in free. We offer tours and workshops for every school level "
        '(90 minutes, €50 per class), for example "Life in the Middle Ages" or "Coal, '
        'cloth and steam". Please book at least three weeks ahead at '
        "fuehrungen@stadtmuseum.example; teaching material can be downloaded from our "
        "website.",
        "Schulklasse\nKlassenfahrt\nWandertag\nmit der Klasse ins Museum\nSchulführung\n"
        "Angebote für Schulen\nLehrer\nUnterrichtsmaterial\nKita Gruppe",
        "school class\nschool trip\nteachers\neducational programme\nschool group",
    ),
    Entry(
        "guided_tours",
        Topic.GROUPS,
        "Wie kann ich eine Führung buchen?",
        "How can I book a guided tour?",
        "Öffentliche Führungen gibt es jeden Sonntag um 15 Uhr und donnerstags um 18 Uhr "
        "(3 € zuzüglich Eintritt, ohne Anmeldung, Treffpunkt Foyer). Eine private "
        "Führung für Ihre Gruppe buchen Sie mindestens zwei Wochen vorher unter "
        "fuehrungen@stadtmuseum.example oder 0123 45678-20; sie kostet 60 € für 60 "
        "Minuten zuzüglich Eintritt.",
        "Public tours take place every Sunday at 3 pm and on Thursdays at 6 pm (€3 plus "
        "admission, no registration, meet in the foyer). A private tour for your group can "
        "be booked at least two weeks ahead at fuehrungen@stadtmuseum.example or "
        "0123 45678-20; it costs €60 for 60 minutes plus admission.",
        "Führung buchen\nFuehrung buchen\nGibt es Führungen?\nöffentliche Führung\n"
        "private Führung\nRundgang mit Guide\nwann ist die nächste Führung\nFührung "
        "anfragen",
        "guided tour\nbook a tour\nprivate tour\nare there tours\npublic tour",
    ),
    Entry(
        "tour_languages",
        Topic.GROUPS,
        "In welchen Sprachen gibt es Führungen?",
        "In which languages are tours available?",
        "Öffentliche Führungen sind auf Deutsch, am ersten Sonntag im Monat um 12 Uhr auch "
        "auf Englisch. Private Führungen bieten wir auf Deutsch, Englisch, Französisch, "
        "Niederländisch, Türkisch und Polnisch an, dazu in Deutscher Gebärdensprache und "
        "Leichter Sprache.",
        "Public tours are in German; on the first Sunday of the month there is one in "
        "English at noon. Private tours are available in German, English, French, Dutch, "
        "Turkish and Polish, as well as in German Sign Language and easy-to-read German.",
        "Führung auf Englisch\nFuehrung auf englisch\nFührung in anderen Sprachen\n"
        "fremdsprachige Führung\nFührung auf Französisch",
        "tour in English\nEnglish guided tour\ndo you have tours in English\ntour languages\n"
        "English speaking guide",
    ),
    Entry(
        "kids_birthday",
        Topic.GROUPS,
        "Kann man im Museum Kindergeburtstag feiern?",
        "Can we celebrate a child's birthday at the museum?",
        "Ja! Für Kinder von 6 bis 12 Jahren bieten wir samstags und sonntags "
        "Geburtstagsfeiern an: zwei Stunden mit Entdeckertour und Werkstatt (z. B. "
        "Ritterwappen oder Stoffdruck), bis 12 Kinder, 150 €. Kuchen dürfen Sie "
        "mitbringen. Anfragen bitte an fuehrungen@stadtmuseum.example.",
        "Yes! For children aged 6 to 12 we host birthday parties on Saturdays and Sundays: "
        "two hours with an explorers' tour and a workshop (e.g. coats of arms or fabric "
        "printing), up to 12 children, €150. You may bring a cake. Please ask at "
        "fuehrungen@stadtmuseum.example.",
        "Kindergeburtstag\nGeburtstag feiern\nGeburtstagsfeier im Museum\nKinder "
        "Geburtstag\nGeburtstagsparty",
        "birthday party\nkids birthday\nchildren's party\ncelebrate a birthday",
    ),
    # Tickets and prices
    Entry(
        "annual_pass",
        Topic.PRICES,
        "Gibt es eine Jahreskarte?",
        "Is there an annual pass?",
        "Ja, die Jahreskarte kostet 35 € und gilt zwölf Monate ab Kauf für beliebig viele "
        "Besuche aller Ausstellungen, dazu 10 % Rabatt im Museumsshop. Sie ist persönlich "
        "und an der Kasse erhältlich.",
        "Yes, the annual pass costs €35 and is valid for twelve months from purchase, for "
        "unlimited visits to all exhibitions, plus 10% off in the museum shop. It is "
        "personal and sold at the ticket desk.",
        "Jahreskarte\nJahresticket\nDauerkarte\nJahrespass\nlohnt sich eine Jahreskarte",
        "annual pass\nyearly ticket\nseason ticket\nmembership card",
    ),
    Entry(
        "free_admission",
        Topic.PRICES,
        "Wann ist der Eintritt frei?",
        "When is admission free?",
        "Donnerstags ab 17 Uhr ist der Eintritt für alle frei. Kinder und Jugendliche "
        "unter 18 und Schulklassen haben immer freien Eintritt, ebenso eine Begleitperson "
        "mit Merkzeichen B. Am Internationalen Museumstag im Mai ist der Eintritt den "
        "ganzen Tag frei.",
        "Admission is free for everyone on Thursdays from 5 pm. Children and young people "
        "under 18 and school classes always get in free, as does one companion with a pass "
        "marked B. On International Museum Day in May admission is free all day.",
        "freier Eintritt\nkostenloser Eintritt\nGibt es einen Tag mit freiem Eintritt?\n"
        "Eintritt frei\numsonst ins Museum\ngratis\nkostenlos",
        "free admission\nfree entry\nfree day\nis it free\nno charge",
    ),
    Entry(
        "vouchers",
        Topic.TICKETS,
        "Gibt es Gutscheine?",
        "Do you sell gift vouchers?",
        "Ja, Geschenkgutscheine gibt es an der Kasse und im Museumsshop über jeden Betrag "
        "ab 10 €. Sie gelten drei Jahre für Eintritt, Führungen, Workshops, Veranstaltungen "
        "und den Shop.",
        "Yes, gift vouchers are sold at the ticket desk and in the shop for any amount from "
        "€10. They are valid for three years for admission, tours, workshops, events and "
        "the shop.",
        "Gutschein\nGeschenkgutschein\nGutschein kaufen\nGutschein verschenken\n"
        "Geschenkidee\nGutschein einlösen\nGutschein einloesen",
        "gift voucher\ngift card\nvoucher\ngift certificate\nredeem a voucher",
    ),
    Entry(
        "refund",
        Topic.TICKETS,
        "Kann ich ein Ticket zurückgeben?",
        "Can I get a refund for my ticket?",
        "Veranstaltungstickets können Sie bis 48 Stunden vor Beginn kostenlos stornieren, "
        "über den Link in Ihrer Buchungsbestätigung oder an der Kasse; der Betrag wird "
        "erstattet. Danach ist keine Erstattung möglich, Sie dürfen das Ticket aber "
        "weitergeben. Fällt eine Veranstaltung aus, erstatten wir automatisch.",
        "You can cancel event tickets free of charge up to 48 hours before the start, via "
        "the link in your booking confirmation or at the ticket desk; the amount is "
        "refunded. After that there is no refund, but you may pass the ticket on. If an "
        "event is cancelled we refund automatically.",
        "stornieren\nStornierung\nTicket zurückgeben\nTicket zurueckgeben\nGeld zurück\n"
        "Erstattung\nKann ich meine Buchung stornieren\nich kann nicht kommen",
        "refund\ncancel my booking\ncancellation\nmoney back\nI can't come",
    ),
    Entry(
        "tickets_advance",
        Topic.TICKETS,
        "Muss ich Tickets vorher kaufen?",
        "Do I need to buy tickets in advance?",
        "Für die Ausstellungen nicht: Tickets gibt es an der Kasse, letzter Einlass ist 30 "
        "Minuten vor Schluss. Für Veranstaltungen, Workshops und Konzerte empfehlen wir "
        "die Buchung vorab, online oder hier im Chat.",
        "Not for the exhibitions: tickets are sold at the ticket desk, last admission is 30 "
        "minutes before closing. For events, workshops and concerts we recommend booking in "
        "advance, online or here in the chat.",
        "Tickets im Voraus\nMuss ich reservieren?\nbraucht man eine Reservierung\n"
        "Tickets an der Tageskasse\nletzter Einlass\nKarten vorher kaufen",
        "tickets in advance\ndo I need to reserve\nlast admission\ntickets at the door",
    ),
    Entry(
        "payment",
        Topic.TICKETS,
        "Kann ich mit Karte bezahlen?",
        "Can I pay by card?",
        "Ja, an der Kasse, im Shop und im Café können Sie bar, mit Girocard, Kreditkarte "
        "und mit dem Smartphone bezahlen.",
        "Yes, at the ticket desk, in the shop and in the café you can pay cash, by debit or "
        "credit card or with your phone.",
        "Kartenzahlung\nEC-Karte\nKreditkarte\nbar zahlen\nApple Pay\nkann man mit karte zahlen",
        "pay by card\ncredit card\ncontactless\ncash only",
    ),
    # Other
    Entry(
        "lost_found",
        Topic.OTHER,
        "Ich habe etwas im Museum verloren.",
        "I lost something at the museum.",
        "Fundsachen bewahren wir vier Wochen an der Kasse auf, danach gehen sie an das "
        "Fundbüro der Stadt. Fragen Sie an der Kasse oder schreiben Sie an "
        "info@stadtmuseum.example, was Sie wann verloren haben.",
        "We keep lost property at the ticket desk for four weeks, then it goes to the "
        "town's lost property office. Ask at the ticket desk or write to "
        "info@stadtmuseum.example with what you lost and when.",
        "verloren\nFundsachen\nFundbüro\nFundbuero\nvergessen\nich hab meine Mütze liegen "
        "lassen\nSchal vergessen",
        "lost and found\nlost property\nI forgot my\nleft my umbrella",
    ),
    Entry(
        "membership",
        Topic.OTHER,
        "Wie werde ich Mitglied im Förderverein?",
        "How can I join the friends' association?",
        "Der Förderverein „Freunde des Stadtmuseums“ unterstützt Ankäufe und "
        "Vermittlungsprojekte. Mitglieder (40 € im Jahr, Paare 60 €, unter 27 Jahren 15 €) "
        "haben freien Eintritt, Einladungen zu Eröffnungen und exklusive Führungen. Den "
        "Antrag gibt es an der Kasse und unter foerderverein@stadtmuseum.example.",
        'The friends\' association "Freunde des Stadtmuseums" supports acquisitions and '
        "education projects. Members (€40 a year, couples €60, under 27 €15) get free "
        "admission, invitations to openings and exclusive tours. The form is at the ticket "
        "desk and from foerderverein@stadtmuseum.example.",
        "Förderverein\nFoerderverein\nMitglied werden\nMitgliedschaft\nFreundeskreis\n"
        "Freunde des Museums",
        "friends of the museum\nmembership\nbecome a member\njoin the association",
    ),
    Entry(
        "volunteering",
        Topic.OTHER,
        "Kann ich ehrenamtlich im Museum mitarbeiten?",
        "Can I volunteer at the museum?",
        "Gern! Ehrenamtliche helfen bei Veranstaltungen, in der Bibliothek, im Archiv und "
        "als Lesepaten bei Familienangeboten. Schreiben Sie an "
        "ehrenamt@stadtmuseum.example; wir laden zweimal im Jahr zu einem Kennenlerntreffen "
        "ein. Praktika vergeben wir ebenfalls über diese Adresse.",
        "Gladly! Volunteers help at events, in the library and archive and as reading "
        "buddies at family events. Write to ehrenamt@stadtmuseum.example; twice a year we "
        "invite to a meeting to get to know each other. Internships go through the same "
        "address.",
        "Ehrenamt\nehrenamtlich helfen\nmithelfen\nPraktikum\nfreiwillig mitarbeiten\n"
        "Ich möchte helfen\nJob im Museum",
        "volunteer\nvolunteering\ninternship\nhelp out\nwork at the museum",
    ),
    Entry(
        "hall_rental",
        Topic.OTHER,
        "Kann man den Großen Saal mieten?",
        "Can I rent the Great Hall for an event?",
        "Ja, den Großen Saal (bis 200 Personen), das Studio (bis 40) und den Innenhof "
        "vermieten wir für Tagungen, Empfänge und Feiern, auch mit Führung und Catering "
        "durch das Museumscafé. Anfragen bitte mit Datum und Personenzahl an "
        "vermietung@stadtmuseum.example.",
        "Yes, we rent out the Great Hall (up to 200 people), the studio (up to 40) and the "
        "courtyard for conferences, receptions and celebrations, with a tour and catering "
        "by the museum café if you like. Please send your date and number of guests to "
        "vermietung@stadtmuseum.example.",
        "Saal mieten\nRaum mieten\nVermietung\nLocation für Hochzeit\nFirmenfeier im "
        "Museum\nVeranstaltung im Museum ausrichten\nTagungsraum\nSaalmiete",
        "rent a room\nvenue hire\nevent space\nhire the hall\nwedding venue\ncorporate event",
    ),
    Entry(
        "press_contact",
        Topic.OTHER,
        "Wer ist der Pressekontakt des Museums?",
        "Who is the museum's press contact?",
        "Pressestelle: Miriam Scholz, presse@stadtmuseum.example, 0123 45678-30. "
        "Pressebilder und -mitteilungen stehen im Pressebereich unserer Website.",
        "Press office: Miriam Scholz, presse@stadtmuseum.example, 0123 45678-30. Press "
        "images and releases are in the press area of our website.",
        "Pressekontakt\nPressestelle\nPressebilder\nPressemitteilung\nAnsprechpartner Presse",
        "press contact\npress office\npress images\npress release",
    ),
    Entry(
        "contact",
        Topic.OTHER,
        "Wie erreiche ich das Museum?",
        "How can I contact the museum?",
        "Sie erreichen uns per E-Mail an info@stadtmuseum.example und telefonisch unter "
        "0123 45678-0 (Di–So 10–17 Uhr). Oder schreiben Sie hier im Chat; wenn ich nicht "
        "weiterweiß, antwortet Ihnen eine Kollegin oder ein Kollege.",
        "You can reach us by e-mail at info@stadtmuseum.example and by phone on "
        "0123 45678-0 (Tue–Sun 10 am–5 pm). Or write here in the chat; if I cannot help, a "
        "colleague will answer.",
        "Telefonnummer\nE-Mail Adresse\nKontakt\nwie kann ich euch anrufen\nTelefon\nEmail",
        "phone number\ncontact details\nemail address\nhow can I call you",
    ),
    Entry(
        "collection",
        Topic.OTHER,
        "Was gibt es im Museum zu sehen?",
        "What is there to see at the museum?",
        "Die Dauerausstellung erzählt auf drei Etagen die Geschichte der Stadt vom "
        "Mittelalter über Bergbau und Textilindustrie bis heute, mit Stadtmodell, "
        "Webstuhl und Grubenlampe zum Anfassen. Dazu kommen Wechselausstellungen zu "
        "Fotografie, Design und Kunst; was gerade läuft, steht im Programm.",
        "The permanent exhibition tells the town's story on three floors, from the Middle "
        "Ages through mining and the textile industry to today, with a town model, a loom "
        "and a miner's lamp you can touch. Temporary exhibitions show photography, design "
        "and art; what is on now is in the programme.",
        "Was kann man bei euch sehen?\nDauerausstellung\nWas gibt es im Museum?\nworum "
        "geht es im Museum\nSammlung",
        "what can I see\npermanent exhibition\nwhat is the museum about\ncollection",
    ),
    Entry(
        "visit_duration",
        Topic.OTHER,
        "Wie viel Zeit sollte ich für den Besuch einplanen?",
        "How long does a visit take?",
        "Für die Dauerausstellung planen Sie etwa 90 Minuten ein, mit einer "
        "Wechselausstellung gut zwei Stunden. Eine Pause im Museumscafé lohnt sich.",
        "Allow about 90 minutes for the permanent exhibition, a good two hours with a "
        "temporary exhibition. A break in the museum café is worth it.",
        "Wie lange dauert der Besuch?\nwie lange braucht man\nwieviel Zeit\n"
        "Besuchsdauer\nreicht eine Stunde",
        "how long does it take\nhow much time do I need\nvisit duration\nis one hour enough",
    ),
)

# A closed day for setting up an exhibition: the first Wednesday at least three weeks
# ahead, so the demo always has one upcoming.
SETUP_NOTE_DE = "Geschlossen wegen Aufbau der neuen Wechselausstellung"
SETUP_NOTE_EN = "Closed while the new temporary exhibition is installed"


def exceptions(today: date) -> list[tuple[date, time | None, time | None, str, str]]:
    """The exceptions of this year and the next: (date, opens, closes, note de, note en);
    no times means closed."""
    rows: list[tuple[date, time | None, time | None, str, str]] = []
    for year in (today.year, today.year + 1):
        rows.append((date(year, 1, 1), time(12), time(18), "Neujahr", "New Year's Day"))
        rows.append((date(year, 12, 24), None, None, "Heiligabend", "Christmas Eve"))
        rows.append((date(year, 12, 31), None, None, "Silvester", "New Year's Eve"))
    taken = {row[0] for row in rows}
    setup = today + timedelta(days=21)
    while setup.weekday() != 2 or setup in taken:
        setup += timedelta(days=1)
    rows.append((setup, None, None, SETUP_NOTE_DE, SETUP_NOTE_EN))
    return sorted(rows)


def populate(
    *,
    organisation: Organisation,
    rng: random.Random,
    now: datetime,
    contacts: int,
    stdout: IO[str] | Any | None,
) -> None:
    """The demo museum's complete knowledge base."""
    today = timezone.localtime(now).date()
    with transaction.atomic():
        AssistantSettings.objects.update_or_create(
            organisation=organisation,
            defaults={
                "enabled": True,
                "greeting_de": GREETING_DE,
                "greeting_en": GREETING_EN,
                "reply_time_de": "innerhalb eines Werktags",
                "reply_time_en": "within one working day",
                "synonyms": SYNONYMS,
                "holiday_rule": HolidayRule.SUNDAY,
            },
        )
        OpeningHours.objects.filter(organisation=organisation).delete()
        OpeningHours.objects.bulk_create(
            OpeningHours(organisation=organisation, weekday=day, opens=opens, closes=closes)
            for day, spans in WEEK.items()
            for opens, closes in spans
        )
        for day, opens, closes, note_de, note_en in exceptions(today):
            OpeningException.objects.update_or_create(
                organisation=organisation,
                date=day,
                defaults={
                    "closed": opens is None,
                    "opens": opens,
                    "closes": closes,
                    "note_de": note_de,
                    "note_en": note_en,
                },
            )
        for position, price in enumerate(PRICES):
            PriceEntry.objects.update_or_create(
                organisation=organisation,
                label_de=price.label_de,
                defaults={
                    "label_en": price.label_en,
                    "amount_eur": price.amount,
                    "note_de": price.note_de,
                    "note_en": price.note_en,
                    "position": position,
                },
            )
        for name_de, name_en, phrases in PERSONAL_TOPICS:
            PersonalTopic.objects.update_or_create(
                organisation=organisation,
                name_de=name_de,
                defaults={"name_en": name_en, "phrases": phrases},
            )
        for entry in ENTRIES:
            KnowledgeEntry.objects.update_or_create(
                organisation=organisation,
                key=entry.key,
                defaults={
                    "topic": entry.topic,
                    "question_de": entry.question_de,
                    "question_en": entry.question_en,
                    "answer_de": entry.answer_de,
                    "answer_en": entry.answer_en,
                    "phrases_de": entry.phrases_de,
                    "phrases_en": entry.phrases_en,
                    "active": True,
                },
            )
    progress(
        stdout,
        f"  assistant: {len(ENTRIES)} knowledge entries, {len(PRICES)} prices, "
        f"{len(PERSONAL_TOPICS)} personal topics, opening hours and exceptions",
    )
