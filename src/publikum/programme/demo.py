"""Programme of the demo institution: themes, two years of past and four months of upcoming items.

Called by `publikum.core.demo.build_demo`. Titles and texts are composed from the content
bank below (German and English), so that every item reads like a real museum programme.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import IO, Any
from zoneinfo import ZoneInfo

from publikum.core.demo import ascii_slug, progress
from publikum.core.models import Organisation
from publikum.programme.models import (
    ItemKind,
    Occurrence,
    OccurrenceStatus,
    PriceCategory,
    ProgrammeItem,
    Theme,
    Venue,
)

# --- content bank -------------------------------------------------------------------------

Pair = tuple[str, str]  # (German, English)


@dataclass(frozen=True)
class ThemeSpec:
    slug: str
    name_de: str
    name_en: str
    # How often the theme comes up in the programme (the museum is a city museum first).
    weight: float
    topics: tuple[Pair, ...]
    # (title de, title en, target groups)
    workshops: tuple[tuple[str, str, tuple[str, ...]], ...]


THEMES: tuple[ThemeSpec, ...] = (
    ThemeSpec(
        "stadtgeschichte",
        "Stadtgeschichte",
        "City history",
        1.6,
        (
            ("Beispielstadt im Mittelalter", "Beispielstadt in the Middle Ages"),
            ("Vom Marktflecken zur Großstadt", "From market town to city"),
            ("Die Altstadt nach 1945", "The old town after 1945"),
            ("Zünfte, Gilden und Handwerk", "Guilds and crafts"),
            ("Das Rathaus und seine Geschichte", "The town hall and its history"),
            ("Beispielstadt in der Weimarer Republik", "Beispielstadt in the Weimar Republic"),
            ("Stadtmauern, Tore und Türme", "City walls, gates and towers"),
            ("Der Kornspeicher am Fluss", "The granary by the river"),
        ),
        (
            (
                "Stadtplan-Werkstatt: Wir zeichnen unsere Altstadt",
                "Map workshop: drawing our old town",
                ("children", "families"),
            ),
            (
                "Schreiben mit Feder und Tinte",
                "Writing with quill and ink",
                ("children", "families", "schools"),
            ),
            (
                "Familienforschung für Einsteiger",
                "Family history research for beginners",
                ("adults", "seniors"),
            ),
        ),
    ),
    ThemeSpec(
        "fotografie",
        "Fotografie",
        "Photography",
        1.1,
        (
            ("Straßenfotografie der 1960er Jahre", "Street photography of the 1960s"),
            ("Das Fotoarchiv der Familie Lindner", "The Lindner family photo archive"),
            ("Porträts aus dem Atelier Hellweg", "Portraits from the Hellweg studio"),
            (
                "Licht und Schatten in der Schwarzweißfotografie",
                "Light and shadow in black-and-white photography",
            ),
            ("Pressefotografie im Wandel", "Press photography in transition"),
            ("Luftbilder der Stadt 1920–2020", "Aerial views of the town 1920–2020"),
        ),
        (
            (
                "Cyanotypie: Bilder aus Sonnenlicht",
                "Cyanotype: pictures made by sunlight",
                ("adults", "families"),
            ),
            (
                "Smartphone-Fotografie im Museum",
                "Smartphone photography in the museum",
                ("adults", "seniors"),
            ),
            ("Lochkamera selbst gebaut", "Build your own pinhole camera", ("children", "schools")),
        ),
    ),
    ThemeSpec(
        "industriekultur",
        "Industriekultur",
        "Industrial heritage",
        1.2,
        (
            ("Arbeit unter Tage auf Zeche Glückauf", "Working underground at Glückauf colliery"),
            ("Textilfabriken am Fluss", "Textile mills on the river"),
            ("Die Eisenbahn kommt nach Beispielstadt", "The railway comes to Beispielstadt"),
            ("Arbeitersiedlungen und Gartenstädte", "Workers' housing and garden cities"),
            ("Strukturwandel nach dem Bergbau", "Structural change after mining"),
            ("Maschinen, die die Stadt veränderten", "Machines that changed the town"),
        ),
        (
            ("Schmieden wie früher", "Blacksmithing the old way", ("families", "adults")),
            ("Maschinen zum Anfassen", "Hands-on machines", ("children", "schools")),
        ),
    ),
    ThemeSpec(
        "moderne-kunst",
        "Moderne Kunst",
        "Modern art",
        1.0,
        (
            ("Abstraktion nach 1945", "Abstraction after 1945"),
            ("Die Künstlergruppe Rote Scheune", "The Rote Scheune artists' group"),
            ("Kunst im öffentlichen Raum", "Art in public space"),
            ("Farbe als Ereignis", "Colour as an event"),
            ("Neuerwerbungen der Sammlung", "New acquisitions of the collection"),
            ("Künstlerinnen der Moderne", "Women artists of modernism"),
        ),
        (
            (
                "Offenes Atelier: Farbe und Form",
                "Open studio: colour and form",
                ("adults", "families"),
            ),
            ("Collage-Werkstatt", "Collage workshop", ("adults", "groups")),
            (
                "Kleine Künstler: Malen wie die Großen",
                "Little artists: painting like the masters",
                ("children", "families"),
            ),
        ),
    ),
    ThemeSpec(
        "design",
        "Design",
        "Design",
        0.8,
        (
            ("Alltagsdesign der 1950er Jahre", "Everyday design of the 1950s"),
            ("Plakatkunst aus Beispielstadt", "Poster art from Beispielstadt"),
            ("Das Bauhaus und die Provinz", "The Bauhaus and the provinces"),
            ("Möbel, die Geschichte machten", "Furniture that made history"),
            ("Schrift im Stadtbild", "Lettering in the cityscape"),
            ("Nachhaltiges Design heute", "Sustainable design today"),
        ),
        (
            ("Siebdruck-Werkstatt", "Screen printing workshop", ("adults", "groups")),
            (
                "Plakate gestalten mit der Handpresse",
                "Designing posters with a hand press",
                ("adults", "schools"),
            ),
            (
                "Upcycling: Neues aus Altem",
                "Upcycling: new things from old",
                ("families", "adults"),
            ),
        ),
    ),
    ThemeSpec(
        "archaeologie",
        "Archäologie",
        "Archaeology",
        0.9,
        (
            ("Funde aus der Römerzeit", "Finds from the Roman period"),
            ("Die Ausgrabungen am Marktplatz", "The excavations on the market square"),
            ("Steinzeit am Fluss", "The Stone Age by the river"),
            ("Der Münzschatz von Beispielstadt", "The Beispielstadt coin hoard"),
            ("Mittelalterliche Keramik", "Medieval pottery"),
            ("Archäologie unter dem Pflaster", "Archaeology beneath the paving stones"),
        ),
        (
            (
                "Ausgraben wie die Profis",
                "Dig like the professionals",
                ("children", "families", "schools"),
            ),
            ("Scherben puzzeln", "Piecing together pottery", ("children", "families")),
            (
                "Steinzeit-Werkstatt: Feuer und Werkzeug",
                "Stone Age workshop: fire and tools",
                ("children", "schools"),
            ),
        ),
    ),
    ThemeSpec(
        "natur-umwelt",
        "Natur und Umwelt",
        "Nature and environment",
        0.9,
        (
            ("Der Fluss im Wandel der Zeit", "The river through the ages"),
            ("Wilde Tiere zwischen den Häusern", "Wild animals among the houses"),
            ("Klimawandel vor der Haustür", "Climate change on our doorstep"),
            ("Heimische Vögel", "Native birds"),
            ("Die Stadtwälder", "The town's forests"),
            ("Gärten und Parks der Stadt", "The town's gardens and parks"),
        ),
        (
            ("Insektenhotel bauen", "Building an insect hotel", ("children", "families")),
            ("Naturfarben selbst herstellen", "Making natural pigments", ("adults", "families")),
        ),
    ),
    ThemeSpec(
        "migration",
        "Migration",
        "Migration",
        0.7,
        (
            ("Gastarbeiter in Beispielstadt", "Guest workers in Beispielstadt"),
            ("Geschichten vom Ankommen", "Stories of arrival"),
            ("Vertriebene und Geflüchtete nach 1945", "Expellees and refugees after 1945"),
            ("Viele Sprachen, eine Stadt", "Many languages, one town"),
            ("Koffer voller Erinnerungen", "Suitcases full of memories"),
        ),
        (
            (
                "Erzählcafé: Meine Geschichte vom Ankommen",
                "Story café: my story of arrival",
                ("adults", "seniors"),
            ),
            ("Rezepte erzählen Geschichten", "Recipes tell stories", ("adults", "families")),
        ),
    ),
    ThemeSpec(
        "musik",
        "Musik",
        "Music",
        1.0,
        (
            ("Die Musikgeschichte der Stadt", "The town's musical history"),
            ("Instrumente aus der Sammlung", "Instruments from the collection"),
            ("Jazz in Beispielstadt 1950–1970", "Jazz in Beispielstadt 1950–1970"),
            ("Die Orgelbauer der Region", "The region's organ builders"),
            ("Popkultur und Jugendzentren", "Pop culture and youth centres"),
        ),
        (
            (
                "Trommelwerkstatt für Familien",
                "Drumming workshop for families",
                ("families", "children"),
            ),
            (
                "Instrumente bauen aus Alltagsdingen",
                "Building instruments from everyday objects",
                ("children", "schools"),
            ),
        ),
    ),
    ThemeSpec(
        "kinder-familie",
        "Kinder und Familie",
        "Children and families",
        1.3,
        (
            ("Wie lebten Kinder früher?", "How did children live in the past?"),
            ("Spielzeug aus drei Jahrhunderten", "Toys from three centuries"),
            ("Schule wie zu Urgroßmutters Zeiten", "School in great-grandmother's day"),
            ("Tiere im Museum", "Animals in the museum"),
            ("Geheimnisse aus dem Depot", "Secrets from the storeroom"),
        ),
        (
            (
                "Museumsdetektive auf Spurensuche",
                "Museum detectives on the trail",
                ("children", "families"),
            ),
            (
                "Ferienwerkstatt: Wir bauen eine Stadt",
                "Holiday workshop: we build a town",
                ("children",),
            ),
            (
                "Kindergeburtstag im Museum: Schatzsuche",
                "Birthday party at the museum: treasure hunt",
                ("children", "groups"),
            ),
        ),
    ),
    ThemeSpec(
        "literatur",
        "Literatur",
        "Literature",
        0.7,
        (
            ("Dichterinnen und Dichter der Stadt", "The town's poets"),
            ("Briefe aus dem Stadtarchiv", "Letters from the town archive"),
            ("Beispielstadt im Roman", "Beispielstadt in the novel"),
            ("Zeitungsgeschichte(n)", "Newspaper stories"),
            ("Märchen und Sagen der Region", "Fairy tales and legends of the region"),
        ),
        (
            (
                "Schreibwerkstatt: Geschichten aus der Stadt",
                "Writing workshop: stories from the town",
                ("adults", "seniors"),
            ),
            ("Buchbinden für Einsteiger", "Bookbinding for beginners", ("adults",)),
            ("Comic-Werkstatt", "Comic workshop", ("children", "schools")),
        ),
    ),
    ThemeSpec(
        "film",
        "Film",
        "Film",
        0.7,
        (
            ("100 Jahre Lichtspielhaus", "100 years of the picture palace"),
            ("Heimatfilm und Wirklichkeit", "Heimatfilm and reality"),
            ("Amateurfilme aus Familienarchiven", "Amateur films from family archives"),
            ("Die Stadt im Dokumentarfilm", "The town in documentary film"),
            ("Die Stummfilmzeit", "The silent film era"),
        ),
        (
            ("Trickfilm selbst gemacht", "Make your own animated film", ("children", "schools")),
            ("Handyfilm-Werkstatt", "Smartphone film workshop", ("adults", "groups")),
        ),
    ),
)


@dataclass(frozen=True)
class ExhibitionSpec:
    title_de: str
    subtitle_de: str
    title_en: str
    subtitle_en: str
    themes: tuple[str, ...]
    blurb_de: str
    blurb_en: str


EXHIBITIONS: tuple[ExhibitionSpec, ...] = (
    ExhibitionSpec(
        "Glück auf!",
        "Bergbau in Beispielstadt 1850–1990",
        "Glück auf!",
        "Mining in Beispielstadt 1850–1990",
        ("industriekultur", "stadtgeschichte"),
        "Grubenlampen, Arbeitskleidung und Erinnerungen ehemaliger Bergleute erzählen von "
        "140 Jahren Kohle, Kameradschaft und harter Arbeit.",
        "Miners' lamps, work clothes and the memories of former miners tell of 140 years of "
        "coal, comradeship and hard work.",
    ),
    ExhibitionSpec(
        "Augenblicke",
        "Fotografien von Hanne Lindner",
        "Moments",
        "Photographs by Hanne Lindner",
        ("fotografie", "stadtgeschichte"),
        "Über vierzig Jahre hat Hanne Lindner das Leben auf den Straßen von Beispielstadt "
        "festgehalten; die Ausstellung zeigt 180 Abzüge, viele davon zum ersten Mal.",
        "For over forty years Hanne Lindner captured life on the streets of Beispielstadt; "
        "the exhibition shows 180 prints, many of them for the first time.",
    ),
    ExhibitionSpec(
        "Angekommen",
        "Geschichten der Einwanderung seit 1955",
        "Arrived",
        "Stories of immigration since 1955",
        ("migration", "stadtgeschichte"),
        "Koffer, Briefe und Interviews mit drei Generationen zeigen, wie Menschen aus vielen "
        "Ländern Beispielstadt zu ihrer Stadt gemacht haben.",
        "Suitcases, letters and interviews with three generations show how people from many "
        "countries made Beispielstadt their home town.",
    ),
    ExhibitionSpec(
        "Unter dem Pflaster",
        "Archäologische Funde aus der Altstadt",
        "Beneath the paving stones",
        "Archaeological finds from the old town",
        ("archaeologie", "stadtgeschichte"),
        "Bei den Bauarbeiten am Marktplatz kamen Brunnen, Keller und tausende Scherben ans "
        "Licht; erstmals sind die wichtigsten Funde zu sehen.",
        "Construction work on the market square brought wells, cellars and thousands of shards "
        "to light; the most important finds are on show for the first time.",
    ),
    ExhibitionSpec(
        "Form folgt Alltag",
        "Design aus Beispielstadt",
        "Form follows everyday life",
        "Design from Beispielstadt",
        ("design",),
        "Vom Kaffeeservice bis zum Küchenstuhl: Produkte aus den Werkstätten und Fabriken der "
        "Stadt, die Generationen begleitet haben.",
        "From coffee sets to kitchen chairs: products from the town's workshops and factories "
        "that have accompanied generations.",
    ),
    ExhibitionSpec(
        "Wildes Beispielstadt",
        "Natur in der Stadt",
        "Wild Beispielstadt",
        "Nature in the town",
        ("natur-umwelt", "kinder-familie"),
        "Füchse am Bahnhof, Falken am Kirchturm, Biber am Fluss: eine Ausstellung zum Staunen "
        "und Mitmachen für die ganze Familie.",
        "Foxes at the station, falcons on the church tower, beavers in the river: an exhibition "
        "to marvel at and join in with for the whole family.",
    ),
    ExhibitionSpec(
        "Farbe bekennen",
        "Malerei der Nachkriegsmoderne",
        "Showing colours",
        "Post-war modernist painting",
        ("moderne-kunst",),
        "Rund sechzig Gemälde aus Sammlung und Privatbesitz zeigen den Aufbruch der Kunst in "
        "der Region nach 1945.",
        "Some sixty paintings from the collection and private owners show how art in the region "
        "set out anew after 1945.",
    ),
    ExhibitionSpec(
        "Lichtspiele",
        "100 Jahre Kino in Beispielstadt",
        "Picture palaces",
        "100 years of cinema in Beispielstadt",
        ("film", "stadtgeschichte"),
        "Projektoren, Filmplakate und Erinnerungen an die großen Kinosäle der Stadt, dazu ein "
        "kleines Kino mit Filmen aus dem Stadtarchiv.",
        "Projectors, film posters and memories of the town's great cinemas, with a small "
        "screening room showing films from the town archive.",
    ),
    ExhibitionSpec(
        "Klangräume",
        "Musikinstrumente aus fünf Jahrhunderten",
        "Spaces of sound",
        "Musical instruments from five centuries",
        ("musik",),
        "Von der Drehleier bis zum Synthesizer: über 120 Instrumente, viele davon an "
        "Hörstationen zu erleben.",
        "From the hurdy-gurdy to the synthesiser: over 120 instruments, many of them to be "
        "heard at listening stations.",
    ),
    ExhibitionSpec(
        "Mit Feder und Tinte",
        "Literarisches Leben in Beispielstadt",
        "With quill and ink",
        "Literary life in Beispielstadt",
        ("literatur", "stadtgeschichte"),
        "Handschriften, Erstausgaben und Briefe erzählen von Dichterinnen, Verlegern und "
        "Lesezirkeln der Stadt.",
        "Manuscripts, first editions and letters tell of the town's poets, publishers and "
        "reading circles.",
    ),
    ExhibitionSpec(
        "Spielzeit",
        "Kindheit in Beispielstadt 1900–2000",
        "Playtime",
        "Childhood in Beispielstadt 1900–2000",
        ("kinder-familie", "stadtgeschichte"),
        "Puppenstuben, Schulranzen und Hinterhofspiele: Wie Kinder in der Stadt gelebt, "
        "gelernt und gespielt haben.",
        "Dolls' houses, school satchels and backyard games: how children in the town lived, "
        "learned and played.",
    ),
    ExhibitionSpec(
        "Stoff und Dampf",
        "Die Textilindustrie am Fluss",
        "Fabric and steam",
        "The textile industry on the river",
        ("industriekultur", "design"),
        "Webstühle, Musterbücher und Fotografien aus den Tuchfabriken, die einst tausenden "
        "Menschen Arbeit gaben.",
        "Looms, pattern books and photographs from the cloth mills that once employed "
        "thousands of people.",
    ),
    ExhibitionSpec(
        "Von oben",
        "Luftbilder der Stadt 1920–2020",
        "From above",
        "Aerial views of the town 1920–2020",
        ("fotografie", "stadtgeschichte"),
        "Hundert Jahre Stadtentwicklung aus der Vogelperspektive, mit einem begehbaren "
        "Luftbild im Maßstab 1:500.",
        "A hundred years of urban development from a bird's-eye view, with a walk-on aerial "
        "photograph at a scale of 1:500.",
    ),
    ExhibitionSpec(
        "Wetterleuchten",
        "Was die Sammlung über das Klima erzählt",
        "Summer lightning",
        "What the collection tells us about the climate",
        ("natur-umwelt", "stadtgeschichte"),
        "Hochwassermarken, Wetterbücher und Messgeräte zeigen, wie sich das Klima der Region "
        "verändert hat und was das für die Stadt bedeutet.",
        "Flood marks, weather diaries and instruments show how the region's climate has "
        "changed and what that means for the town.",
    ),
    ExhibitionSpec(
        "Neue Nachbarn",
        "Zeitgenössische Kunst und Migration",
        "New neighbours",
        "Contemporary art and migration",
        ("moderne-kunst", "migration"),
        "Zwölf Künstlerinnen und Künstler antworten auf die Sammlung des Museums mit Werken "
        "über Herkunft, Sprache und Zugehörigkeit.",
        "Twelve artists respond to the museum's collection with works about origin, language "
        "and belonging.",
    ),
    ExhibitionSpec(
        "Die Römer am Fluss",
        "Ein Militärlager wird entdeckt",
        "Romans by the river",
        "A military camp is discovered",
        ("archaeologie",),
        "Waffen, Werkzeuge und Alltagsgegenstände aus dem römischen Lager, das 2019 beim Bau "
        "der Umgehungsstraße gefunden wurde.",
        "Weapons, tools and everyday objects from the Roman camp found in 2019 during "
        "construction of the bypass.",
    ),
    ExhibitionSpec(
        "Plakativ",
        "Grafikdesign 1920–1980",
        "Plakativ",
        "Graphic design 1920–1980",
        ("design", "moderne-kunst"),
        "Über 200 Plakate für Kinos, Kaufhäuser und Stadtfeste zeigen, wie Grafikerinnen und "
        "Grafiker das Gesicht der Stadt geprägt haben.",
        "Over 200 posters for cinemas, department stores and town festivals show how graphic "
        "designers shaped the face of the town.",
    ),
    ExhibitionSpec(
        "Zeichen der Zeit",
        "Comics und Graphic Novels aus der Region",
        "Signs of the times",
        "Comics and graphic novels from the region",
        ("literatur", "design"),
        "Originalzeichnungen, Skizzenbücher und ein Leseraum mit über 500 Comics laden zum "
        "Blättern und Entdecken ein.",
        "Original drawings, sketchbooks and a reading room with over 500 comics invite you to "
        "browse and discover.",
    ),
)


@dataclass(frozen=True)
class ShowSpec:
    """A concert or performance concept; the same concept can run in several seasons."""

    title_de: str
    title_en: str
    themes: tuple[str, ...]
    targets: tuple[str, ...]
    summary_de: str
    summary_en: str
    venues: tuple[str, ...] = ("Großer Saal",)
    # Who plays a concert; empty for performances (the museum's own productions).
    performers: tuple[str, ...] = ()


CONCERTS: tuple[ShowSpec, ...] = (
    ShowSpec(
        "Jazz im Museum",
        "Jazz at the museum",
        ("musik",),
        ("adults",),
        "Swing, Bebop und eigene Stücke zwischen den Vitrinen.",
        "Swing, bebop and original pieces among the display cases.",
        ("Großer Saal", "Innenhof", "Foyer"),
        ("Trio Hellweg", "Marta Nowak Quintett", "Saxophonquartett Ruhrwind", "Anna Sommer & Band"),
    ),
    ShowSpec(
        "Kammermusik im Großen Saal",
        "Chamber music in the Great Hall",
        ("musik",),
        ("adults", "seniors"),
        "Streichquartette von Haydn bis Schostakowitsch.",
        "String quartets from Haydn to Shostakovich.",
        ("Großer Saal",),
        ("Quartetto Fluviale", "Streichquartett Rheinblick"),
    ),
    ShowSpec(
        "Lieder der Arbeit",
        "Songs of labour",
        ("musik", "industriekultur"),
        ("adults", "seniors"),
        "Bergmannslieder und Lieder aus den Fabriken, neu arrangiert.",
        "Miners' songs and songs from the mills in new arrangements.",
        ("Großer Saal",),
        ("Chor der Bergleute", "Duo Lindner & Şahin"),
    ),
    ShowSpec(
        "Klänge der Welt",
        "Sounds of the world",
        ("musik", "migration"),
        ("adults", "families"),
        "Musik aus den Herkunftsländern unserer Nachbarinnen und Nachbarn.",
        "Music from the countries our neighbours come from.",
        ("Innenhof", "Großer Saal"),
        ("Duo Aksoy", "Ensemble Kornspeicher", "Duo Lindner & Şahin"),
    ),
    ShowSpec(
        "Familienkonzert: Peter und der Wolf",
        "Family concert: Peter and the Wolf",
        ("musik", "kinder-familie"),
        ("children", "families"),
        "Prokofjews musikalisches Märchen zum Zuhören und Mitmachen.",
        "Prokofiev's musical fairy tale to listen to and join in with.",
        ("Großer Saal",),
        ("Kammerorchester Beispielstadt",),
    ),
    ShowSpec(
        "Mittagskonzert",
        "Lunchtime concert",
        ("musik",),
        ("adults", "seniors"),
        "Eine halbe Stunde Musik in der Mittagspause, bei freiem Eintritt.",
        "Half an hour of music in the lunch break, admission free.",
        ("Foyer",),
        ("Studierende der Musikhochschule", "Duo Aksoy", "Streichquartett Rheinblick"),
    ),
    ShowSpec(
        "Filmmusik live",
        "Film music live",
        ("musik", "film"),
        ("adults", "families"),
        "Die großen Melodien des Kinos, live gespielt.",
        "The great melodies of cinema, played live.",
        ("Großer Saal",),
        ("Kammerorchester Beispielstadt", "Big Band der Musikschule"),
    ),
    ShowSpec(
        "Liederabend: Vertonte Gedichte",
        "Song recital: poems set to music",
        ("musik", "literatur"),
        ("adults", "seniors"),
        "Lieder nach Gedichten von Autorinnen und Autoren aus der Region.",
        "Songs to poems by writers from the region.",
        ("Großer Saal", "Studio"),
        ("Duo Lindner & Şahin", "Anna Sommer & Band"),
    ),
    ShowSpec(
        "Barockmusik zwischen den Exponaten",
        "Baroque music among the exhibits",
        ("musik", "stadtgeschichte"),
        ("adults", "seniors"),
        "Musik aus der Zeit, als der Kornspeicher gebaut wurde.",
        "Music from the time the granary was built.",
        ("Ausstellungshalle", "Großer Saal"),
        ("Ensemble Kornspeicher", "Kammerorchester Beispielstadt"),
    ),
    ShowSpec(
        "Sommerkonzert der Musikschule",
        "Summer concert of the music school",
        ("musik", "kinder-familie"),
        ("families", "children"),
        "Junge Musikerinnen und Musiker der Musikschule Beispielstadt stellen sich vor.",
        "Young musicians of the Beispielstadt music school introduce themselves.",
        ("Innenhof",),
        ("Big Band der Musikschule", "Jugendorchester der Musikschule"),
    ),
    ShowSpec(
        "Elektronische Klanglandschaften",
        "Electronic soundscapes",
        ("musik", "moderne-kunst"),
        ("adults",),
        "Live-Elektronik und Raumklang in der Ausstellungshalle.",
        "Live electronics and surround sound in the exhibition hall.",
        ("Ausstellungshalle", "Studio"),
        ("Kollektiv Zeche Null", "Mira Okafor"),
    ),
)

PERFORMANCES: tuple[ShowSpec, ...] = (
    ShowSpec(
        "Stummfilm mit Live-Musik",
        "Silent film with live music",
        ("film", "musik"),
        ("adults", "families"),
        "Ein Klassiker der Stummfilmzeit, live am Klavier begleitet.",
        "A silent film classic with live piano accompaniment.",
    ),
    ShowSpec(
        "Szenische Lesung: Briefe aus dem Archiv",
        "Staged reading: letters from the archive",
        ("literatur", "stadtgeschichte"),
        ("adults", "seniors"),
        "Schauspielerinnen und Schauspieler lesen Briefe aus zwei Jahrhunderten.",
        "Actors read letters from two centuries.",
        ("Studio", "Großer Saal"),
    ),
    ShowSpec(
        "Figurentheater: Der kleine Museumsgeist",
        "Puppet theatre: the little museum ghost",
        ("kinder-familie",),
        ("children", "families"),
        "Ein Gespenst, das nachts durch die Ausstellung spukt, sucht Freunde. Ab 4 Jahren.",
        "A ghost who haunts the exhibition at night is looking for friends. Ages 4 and up.",
        ("Studio",),
    ),
    ShowSpec(
        "Tanz im Ausstellungsraum",
        "Dance in the gallery",
        ("moderne-kunst",),
        ("adults",),
        "Eine Tanzcompagnie antwortet mit Bewegung auf die Werke der Sammlung.",
        "A dance company responds to works in the collection with movement.",
        ("Ausstellungshalle",),
    ),
    ShowSpec(
        "Theaterspaziergang durch die Altstadt",
        "Theatre walk through the old town",
        ("stadtgeschichte",),
        ("adults", "families"),
        "Historische Figuren begegnen dem Publikum an Originalschauplätzen.",
        "Historical figures meet the audience at the original locations.",
        ("Treffpunkt Rathausplatz",),
    ),
    ShowSpec(
        "Poetry Slam im Museum",
        "Poetry slam at the museum",
        ("literatur",),
        ("adults",),
        "Sechs Slammerinnen und Slammer, fünf Minuten, ein Publikum als Jury.",
        "Six poets, five minutes each, the audience is the jury.",
        ("Großer Saal", "Foyer"),
    ),
    ShowSpec(
        "Erzähltheater: Sagen aus der Region",
        "Storytelling theatre: legends of the region",
        ("literatur", "kinder-familie"),
        ("children", "families"),
        "Vom Riesen am Fluss und dem verschwundenen Glockenturm.",
        "Of the giant by the river and the vanished bell tower.",
        ("Studio",),
    ),
    ShowSpec(
        "Improtheater: Geschichten aus dem Depot",
        "Improv theatre: stories from the storeroom",
        ("stadtgeschichte", "kinder-familie"),
        ("adults", "families"),
        "Das Publikum wählt Objekte aus dem Depot, das Ensemble erfindet ihre Geschichten.",
        "The audience picks objects from the storeroom; the ensemble invents their stories.",
    ),
    ShowSpec(
        "Kabarett: Typisch Beispielstadt",
        "Cabaret: typically Beispielstadt",
        ("stadtgeschichte",),
        ("adults",),
        "Ein liebevoll-bissiger Abend über die Eigenheiten unserer Stadt.",
        "An affectionate and biting evening about the quirks of our town.",
    ),
    ShowSpec(
        "Performance: Klang der Maschinen",
        "Performance: the sound of machines",
        ("industriekultur", "musik"),
        ("adults",),
        "Historische Maschinen werden zu Instrumenten.",
        "Historic machines become musical instruments.",
        ("Ausstellungshalle",),
    ),
)


@dataclass(frozen=True)
class FormatSpec:
    """A way to present a topic: a kind of tour or talk, with its typical schedule."""

    de: str
    en: str
    lead_de: str
    lead_en: str
    targets: tuple[str, ...]
    access: tuple[str, ...] = ()
    weekdays: frozenset[int] = frozenset({5, 6})
    times: tuple[tuple[int, int], ...] = ((11, 0), (15, 0))
    venues: tuple[str, ...] = ("Foyer",)


TOUR_FORMATS: tuple[FormatSpec, ...] = (
    FormatSpec(
        "Themenführung",
        "Themed tour",
        "Ein Rundgang durch die Sammlung",
        "A walk through the collection",
        ("adults",),
        weekdays=frozenset({2, 5, 6}),
        times=((11, 0), (14, 0), (15, 0)),
    ),
    FormatSpec(
        "Öffentliche Führung",
        "Public tour",
        "Eine Führung für alle",
        "A tour for everyone",
        ("adults", "seniors"),
    ),
    FormatSpec(
        "Familienführung",
        "Family tour",
        "Eine Entdeckungstour für Groß und Klein",
        "A voyage of discovery for young and old",
        ("families", "children"),
        times=((11, 0), (14, 30)),
    ),
    FormatSpec(
        "Führung am Vormittag",
        "Morning tour",
        "Ein ruhiger Rundgang vor dem großen Andrang",
        "A quiet tour before the crowds",
        ("seniors", "adults"),
        weekdays=frozenset({2, 3}),
        times=((10, 30),),
    ),
    FormatSpec(
        "Führung in Leichter Sprache",
        "Tour in Easy Language",
        "Eine Führung in Leichter Sprache",
        "A tour in Easy Language",
        ("adults", "groups"),
        ("easy_language",),
    ),
    FormatSpec(
        "Führung mit Gebärdensprache",
        "Tour with sign language",
        "Eine Führung mit Übersetzung in Deutsche Gebärdensprache",
        "A tour with German Sign Language interpretation",
        ("adults",),
        ("sign_language",),
        times=((14, 0),),
    ),
    FormatSpec(
        "Stadtrundgang",
        "Town walk",
        "Ein Spaziergang zu den Originalschauplätzen",
        "A walk to the original locations",
        ("adults", "groups"),
        times=((14, 0),),
        venues=("Treffpunkt Rathausplatz",),
    ),
    FormatSpec(
        "Führung für Schulklassen",
        "Tour for school classes",
        "Ein Rundgang für Schulklassen",
        "A tour for school classes",
        ("schools", "groups", "children"),
        weekdays=frozenset({1, 2, 3, 4}),
        times=((9, 0), (10, 30)),
    ),
    FormatSpec(
        "Feierabendführung",
        "After-work tour",
        "Ein entspannter Rundgang nach Feierabend",
        "A relaxed tour after work",
        ("adults",),
        weekdays=frozenset({3}),
        times=((18, 0), (18, 30)),
    ),
)

TALK_FORMATS: tuple[FormatSpec, ...] = (
    FormatSpec(
        "Vortrag",
        "Talk",
        "Ein Abendvortrag",
        "An evening talk",
        ("adults", "seniors"),
        weekdays=frozenset({1, 2, 3}),
        times=((19, 0),),
        venues=("Großer Saal", "Studio"),
    ),
    FormatSpec(
        "Gespräch",
        "Conversation",
        "Ein Gespräch",
        "A conversation",
        ("adults",),
        weekdays=frozenset({2, 3}),
        times=((19, 0), (19, 30)),
        venues=("Studio", "Museumscafé"),
    ),
    FormatSpec(
        "Podiumsdiskussion",
        "Panel discussion",
        "Eine Podiumsdiskussion",
        "A panel discussion",
        ("adults",),
        weekdays=frozenset({3}),
        times=((19, 0),),
        venues=("Großer Saal",),
    ),
    FormatSpec(
        "Mittagspause im Museum",
        "Museum lunch break",
        "Ein Kurzvortrag in der Mittagspause",
        "A short talk in the lunch break",
        ("adults", "seniors"),
        weekdays=frozenset({2, 4}),
        times=((12, 30),),
        venues=("Museumscafé", "Foyer"),
    ),
    FormatSpec(
        "Erzählcafé",
        "Story café",
        "Ein Nachmittag mit Kaffee und Erinnerungen",
        "An afternoon of coffee and memories",
        ("seniors", "adults"),
        weekdays=frozenset({2, 3, 4}),
        times=((15, 0),),
        venues=("Museumscafé",),
    ),
)

# (name, role de, role en, themes they speak on; empty: any theme)
SPEAKERS: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    ("Dr. Miriam Hoffmann", "Kuratorin am Stadtmuseum", "curator at the Stadtmuseum", ()),
    ("Dr. Henrik Vogt", "Museumsdirektor", "museum director", ()),
    (
        "Prof. Dr. Jens Albers",
        "Universität Beispielstadt",
        "University of Beispielstadt",
        ("stadtgeschichte", "industriekultur", "migration", "literatur"),
    ),
    (
        "Dr. Aylin Kaya",
        "Historikerin",
        "historian",
        ("stadtgeschichte", "migration", "industriekultur"),
    ),
    (
        "Thomas Brückner",
        "Stadtarchiv Beispielstadt",
        "Beispielstadt town archive",
        ("stadtgeschichte", "fotografie", "film", "literatur"),
    ),
    ("Dr. Sabine Wolters", "Stadtarchäologin", "town archaeologist", ("archaeologie",)),
    ("Markus Engel", "Fotograf", "photographer", ("fotografie", "film")),
    ("Dr. Katarzyna Nowak", "Kunsthistorikerin", "art historian", ("moderne-kunst", "design")),
    ("Lena Schröder", "Museumspädagogin", "museum educator", ("kinder-familie",)),
    ("Fatma Yıldız", "Journalistin", "journalist", ("migration", "literatur", "film")),
    (
        "Jan Peters",
        "Biologische Station Beispielstadt",
        "Beispielstadt biological station",
        ("natur-umwelt",),
    ),
    ("Prof. Dr. Clara Wendt", "Musikhochschule", "academy of music", ("musik",)),
)
TALK_INTROS: tuple[Pair, ...] = (
    (
        "{speaker}, {role}, stellt neue Forschungsergebnisse zum Thema „{topic}“ vor und zeigt "
        "dabei Objekte und Dokumente, die sonst im Depot liegen.",
        "{speaker}, {role}, presents new research on “{topic}” and shows objects and documents "
        "that are usually kept in the storeroom.",
    ),
    (
        "Was wissen wir eigentlich über „{topic}“? {speaker}, {role}, räumt mit Legenden auf und "
        "erzählt, was Quellen und Sammlung wirklich verraten.",
        "What do we actually know about “{topic}”? {speaker}, {role}, clears up some legends and "
        "tells what the sources and the collection really reveal.",
    ),
    (
        "{speaker}, {role}, spricht über „{topic}“ und darüber, was das Thema mit dem "
        "Beispielstadt von heute zu tun hat.",
        "{speaker}, {role}, talks about “{topic}” and what the subject has to do with "
        "Beispielstadt today.",
    ),
)
TOUR_INTROS: tuple[Pair, ...] = (
    (
        "Anhand ausgewählter Objekte aus der Sammlung erzählen unsere Guides die Geschichten "
        "hinter den Dingen. Fragen sind ausdrücklich erwünscht.",
        "Using selected objects from the collection, our guides tell the stories behind the "
        "things. Questions are very welcome.",
    ),
    (
        "Unterwegs geht es um überraschende Details, bekannte und unbekannte Objekte und die "
        "Menschen, denen sie einmal gehört haben.",
        "Along the way you will discover surprising details, familiar and unfamiliar objects and "
        "the people they once belonged to.",
    ),
    (
        "Der Rundgang verbindet die Dauerausstellung mit Schätzen aus dem Depot; eigene "
        "Erinnerungen und Fragen sind willkommen.",
        "The tour links the permanent exhibition with treasures from the storeroom; your own "
        "memories and questions are welcome.",
    ),
)

TARGET_DE = {
    "children": "Kinder ab 6 Jahren",
    "families": "Familien",
    "seniors": "Seniorinnen und Senioren",
    "schools": "Schulklassen",
    "groups": "Gruppen",
    "adults": "Erwachsene",
}
TARGET_EN = {
    "children": "children aged 6 and over",
    "families": "families",
    "seniors": "senior citizens",
    "schools": "school classes",
    "groups": "groups",
    "adults": "adults",
}
ACCESS_DE = {
    "wheelchair": "rollstuhlgerecht",
    "induction_loop": "mit induktiver Höranlage",
    "sign_language": "mit Übersetzung in Deutsche Gebärdensprache",
    "easy_language": "in Leichter Sprache",
}
ACCESS_EN = {
    "wheelchair": "wheelchair accessible",
    "induction_loop": "induction loop",
    "sign_language": "German Sign Language interpretation",
    "easy_language": "in Easy Language",
}
# Venue names as they read after "im" / "in the"; outdoor meeting points stay as they are.
VENUE_DE = {
    "Großer Saal": "im Großen Saal",
    "Foyer": "im Foyer",
    "Studio": "im Studio",
    "Innenhof": "im Innenhof",
    "Museumscafé": "im Museumscafé",
    "Ausstellungshalle": "in der Ausstellungshalle",
    "Kabinett": "im Kabinett",
    "Werkstatt": "in der Werkstatt",
    "Treffpunkt Rathausplatz": "am Rathausplatz",
}
VENUE_EN = {
    "Großer Saal": "in the Great Hall",
    "Foyer": "in the foyer",
    "Studio": "in the studio",
    "Innenhof": "in the courtyard",
    "Museumscafé": "in the museum café",
    "Ausstellungshalle": "in the exhibition hall",
    "Kabinett": "in the cabinet gallery",
    "Werkstatt": "in the workshop",
    "Treffpunkt Rathausplatz": "at Rathausplatz",
}
VENUE_NAME_EN = {
    "Großer Saal": "Great Hall",
    "Foyer": "Foyer",
    "Studio": "Studio",
    "Innenhof": "Courtyard",
    "Museumscafé": "Museum café",
    "Ausstellungshalle": "Exhibition hall",
    "Kabinett": "Cabinet gallery",
    "Werkstatt": "Workshop",
    "Treffpunkt Rathausplatz": "Meeting point Rathausplatz",
}
# The museum's address; the meeting point lies across the square.
MUSEUM_STREET = "Museumsplatz 1"
MUSEUM_POSTCODE = "12345"
MUSEUM_CITY = "Beispielstadt"
MUSEUM_LAT, MUSEUM_LON = Decimal("51.513400"), Decimal("7.465300")
DIRECTIONS_DE = (
    "Straßenbahn 3 und 7 bis Haltestelle Museumsplatz, von dort 2 Minuten zu Fuß. "
    "Eingang stufenlos über die Rampe links vom Hauptportal; Aufzug zu allen Etagen."
)
DIRECTIONS_EN = (
    "Tram 3 or 7 to the stop Museumsplatz, then a 2-minute walk. Step-free entrance by "
    "the ramp to the left of the main door; a lift serves every floor."
)


def _venues(organisation: Organisation) -> dict[str, Venue]:
    venues = []
    for name_de in VENUE_DE:
        outdoor = name_de == "Treffpunkt Rathausplatz"
        venues.append(
            Venue(
                organisation=organisation,
                name_de=name_de,
                name_en=VENUE_NAME_EN[name_de],
                street="Rathausplatz" if outdoor else MUSEUM_STREET,
                postcode=MUSEUM_POSTCODE,
                city=MUSEUM_CITY,
                latitude=MUSEUM_LAT + (Decimal("0.001800") if outdoor else 0),
                longitude=MUSEUM_LON + (Decimal("-0.002100") if outdoor else 0),
                directions_de=(
                    "Treffpunkt am Brunnen vor dem Rathaus." if outdoor else DIRECTIONS_DE
                ),
                directions_en=(
                    "Meet at the fountain in front of the town hall." if outdoor else DIRECTIONS_EN
                ),
                is_main=name_de == "Foyer",
            )
        )
    return {v.name_de: v for v in Venue.objects.bulk_create(venues)}


def _prices(plan_price: Decimal, targets: Any) -> list[tuple[str, str, Decimal]]:
    """Regular, reduced (students, seniors, people with disabilities), children free."""
    if not plan_price:
        return [("Eintritt frei", "Free admission", Decimal(0))]
    reduced = (plan_price * Decimal("1.2")).quantize(Decimal(1)) / 2  # 60 %, to 50 cents
    prices = [("Regulär", "Regular", plan_price), ("Ermäßigt", "Reduced", reduced)]
    if "children" in targets or "families" in targets:
        prices.append(("Kinder bis 14 Jahre", "Children up to 14", Decimal(0)))
    return prices


MONTHS_EN = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
# Rooms with an induction loop and step-free access; the town walk is on cobblestones.
LOOP_VENUES = frozenset({"Großer Saal", "Studio"})
# Second and third themes come from neighbouring fields, so that an item reads as one whole.
RELATED_THEMES: dict[str, tuple[str, ...]] = {
    "stadtgeschichte": ("industriekultur", "archaeologie", "migration", "fotografie", "literatur"),
    "fotografie": ("stadtgeschichte", "film", "moderne-kunst", "design"),
    "industriekultur": ("stadtgeschichte", "design", "fotografie", "migration"),
    "moderne-kunst": ("design", "fotografie", "musik"),
    "design": ("moderne-kunst", "industriekultur", "fotografie"),
    "archaeologie": ("stadtgeschichte", "natur-umwelt", "kinder-familie"),
    "natur-umwelt": ("kinder-familie", "archaeologie", "stadtgeschichte"),
    "migration": ("stadtgeschichte", "industriekultur", "literatur", "musik"),
    "musik": ("film", "literatur", "migration"),
    "kinder-familie": ("natur-umwelt", "archaeologie", "stadtgeschichte"),
    "literatur": ("stadtgeschichte", "film", "migration"),
    "film": ("fotografie", "musik", "literatur", "stadtgeschichte"),
}
STEP_FREE_VENUES = frozenset(VENUE_DE) - {"Treffpunkt Rathausplatz"}

# How many of each: past items spread over two years, upcoming ones over four months.
PAST_EVENTS = 175
UPCOMING_EVENTS = 48
PAST_DAYS = 730
UPCOMING_DAYS = 120
EVENT_KINDS: tuple[tuple[str, float], ...] = (
    (ItemKind.TOUR, 0.31),
    (ItemKind.WORKSHOP, 0.22),
    (ItemKind.TALK, 0.22),
    (ItemKind.CONCERT, 0.14),
    (ItemKind.PERFORMANCE, 0.11),
)


# --- generation ---------------------------------------------------------------------------


@dataclass
class ItemPlan:
    kind: str
    title_de: str
    title_en: str
    summary_de: str
    summary_en: str
    description_de: str
    description_en: str
    themes: list[str]
    targets: list[str]
    access: list[str]
    venue: str
    price: Decimal
    capacity: int
    # (start, end, status)
    dates: list[tuple[datetime, datetime, str]] = field(default_factory=list)
    created_at: datetime | None = None


def _price_de(price: Decimal) -> str:
    if price == 0:
        return "Eintritt frei"
    text = f"{price:.2f}".replace(".", ",").removesuffix(",00")
    return f"{text} €"


def _price_en(price: Decimal) -> str:
    if price == 0:
        return "free admission"
    return f"€{price:.2f}".removesuffix(".00")


def _date_en(moment: datetime) -> str:
    # Not strftime("%B"): month names would follow the process locale.
    return f"{moment.day} {MONTHS_EN[moment.month - 1]} {moment.year}"


def _join_de(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " und " + words[-1]


def _join_en(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _practical(
    plan: ItemPlan, *, minutes: int | None, extra_de: str = "", extra_en: str = ""
) -> tuple[str, str]:
    """The closing paragraph: who it is for, accessibility, place, price."""
    de = [f"Geeignet für {_join_de([TARGET_DE[t] for t in plan.targets])}."]
    en = [f"Suitable for {_join_en([TARGET_EN[t] for t in plan.targets])}."]
    if plan.access:
        de.append("Barrierefreiheit: " + ", ".join(ACCESS_DE[a] for a in plan.access) + ".")
        en.append("Accessibility: " + ", ".join(ACCESS_EN[a] for a in plan.access) + ".")
    if minutes:
        de.append(f"Dauer: etwa {minutes} Minuten.")
        en.append(f"Duration: about {minutes} minutes.")
    de.append(f"Ort: {plan.venue}. {_price_de(plan.price)}{extra_de}.")
    price_en = _price_en(plan.price)
    en.append(f"Venue: {VENUE_NAME_EN[plan.venue]}. {price_en[0].upper()}{price_en[1:]}{extra_en}.")
    return " ".join(de), " ".join(en)


def _family_aware(slug: str, targets: tuple[str, ...]) -> list[str]:
    """A family tour or workshop belongs to the families' theme too, whatever its topic."""
    if "families" in targets and slug != "kinder-familie":
        return [slug, "kinder-familie"]
    return [slug]


class ProgrammePlanner:
    """Draws the programme from `rng`. Dates are day offsets from the reference day."""

    def __init__(self, rng: random.Random, now: datetime, tz: ZoneInfo) -> None:
        self.rng = rng
        self.now = now
        self.tz = tz
        self.today: date = now.astimezone(tz).date()
        self.theme_specs = {t.slug: t for t in THEMES}
        self.theme_weights = [t.weight for t in THEMES]

    # dates

    def at(self, offset: int, hour: int, minute: int = 0) -> datetime:
        return datetime.combine(
            self.today + timedelta(days=offset), time(hour, minute), tzinfo=self.tz
        )

    def snap(self, offset: int, weekdays: frozenset[int]) -> int:
        """Move forward to the next allowed weekday; no draw, so the stream stays the same."""
        while (self.today + timedelta(days=offset)).weekday() not in weekdays:
            offset += 1
        return offset

    # content helpers

    def theme(self) -> ThemeSpec:
        return self.rng.choices(THEMES, weights=self.theme_weights)[0]

    def extra_themes(self, themes: list[str]) -> list[str]:
        """Most items have one theme, some two or three (a concert about mining songs)."""
        roll = self.rng.random()
        wanted = 1 if roll < 0.55 else 2 if roll < 0.9 else 3
        candidates = [t for t in RELATED_THEMES[themes[0]] if t not in themes]
        while len(themes) < wanted and candidates:
            themes.append(candidates.pop(self.rng.randrange(len(candidates))))
        return themes

    def access_for(self, venue: str, base: tuple[str, ...]) -> list[str]:
        access = list(base)
        if venue in STEP_FREE_VENUES and self.rng.random() < 0.9:
            access.insert(0, "wheelchair")
        if venue in LOOP_VENUES and self.rng.random() < 0.7:
            access.append("induction_loop")
        return access

    def created_at(self, first_start: datetime) -> datetime:
        """Published a few weeks before the first date, never in the future."""
        lead = timedelta(days=self.rng.randint(21, 75))
        fresh = timedelta(hours=self.rng.randint(1, 240))
        return min(first_start - lead, self.now - fresh)

    def schedule(
        self,
        plan: ItemPlan,
        *,
        upcoming: bool,
        count: int,
        weekdays: frozenset[int],
        start: tuple[int, int],
        minutes: int,
    ) -> None:
        """`count` dates a week or two apart, entirely in the past or entirely upcoming."""
        spacing = self.rng.choice((7, 7, 14))
        span = (count - 1) * spacing
        if upcoming:
            first = self.rng.randint(2, UPCOMING_DAYS)
            first = max(2, min(first, UPCOMING_DAYS - span))
        else:
            # Snapping moves a date up to six days forward; keep the last one in the past.
            first = self.rng.randint(-PAST_DAYS, -10)
            first = min(first, -8 - span)
        for i in range(count):
            begins = self.at(self.snap(first + i * spacing, weekdays), *start)
            roll = self.rng.random()
            if upcoming:
                status = (
                    OccurrenceStatus.SOLD_OUT
                    if roll < 0.08
                    else OccurrenceStatus.CANCELLED
                    if roll < 0.1
                    else OccurrenceStatus.SCHEDULED
                )
            else:
                status = OccurrenceStatus.CANCELLED if roll < 0.03 else OccurrenceStatus.SCHEDULED
            plan.dates.append((begins, begins + timedelta(minutes=minutes), status))
        plan.created_at = self.created_at(plan.dates[0][0])

    # items

    def event(self, *, upcoming: bool) -> ItemPlan:
        kind = self.rng.choices([k for k, _ in EVENT_KINDS], weights=[w for _, w in EVENT_KINDS])[0]
        builders: dict[str, Callable[..., ItemPlan]] = {
            ItemKind.TOUR: self.tour,
            ItemKind.TALK: self.talk,
            ItemKind.WORKSHOP: self.workshop,
            ItemKind.CONCERT: self.concert,
            ItemKind.PERFORMANCE: self.performance,
        }
        return builders[kind](upcoming=upcoming)

    def tour(self, *, upcoming: bool) -> ItemPlan:
        theme = self.theme()
        topic_de, topic_en = self.rng.choice(theme.topics)
        fmt = self.rng.choice(TOUR_FORMATS)
        venue = self.rng.choice(fmt.venues)
        minutes = self.rng.choice((60, 60, 90))
        price = Decimal(self.rng.choice((0, 0, 3, 4, 5)))
        plan = ItemPlan(
            kind=ItemKind.TOUR,
            title_de=f"{fmt.de}: {topic_de}",
            title_en=f"{fmt.en}: {topic_en}",
            summary_de=f"{fmt.lead_de} zum Thema „{topic_de}“.",
            summary_en=f"{fmt.lead_en} on “{topic_en}”.",
            description_de="",
            description_en="",
            themes=self.extra_themes(_family_aware(theme.slug, fmt.targets)),
            targets=list(fmt.targets),
            access=self.access_for(venue, fmt.access),
            venue=venue,
            price=price,
            capacity=self.rng.randint(15, 25),
        )
        body_de, body_en = self.rng.choice(TOUR_INTROS)
        intro_de = f"{fmt.lead_de} zum Thema „{topic_de}“. {body_de}"
        intro_en = f"{fmt.lead_en} on “{topic_en}”. {body_en}"
        extra_de = " zzgl. Museumseintritt" if price else ""
        extra_en = " plus museum admission" if price else ""
        de, en = _practical(plan, minutes=minutes, extra_de=extra_de, extra_en=extra_en)
        plan.description_de, plan.description_en = f"{intro_de}\n\n{de}", f"{intro_en}\n\n{en}"
        self.schedule(
            plan,
            upcoming=upcoming,
            count=self.rng.randint(1, 6),
            weekdays=fmt.weekdays,
            start=self.rng.choice(fmt.times),
            minutes=minutes,
        )
        return plan

    def talk(self, *, upcoming: bool) -> ItemPlan:
        theme = self.theme()
        topic_de, topic_en = self.rng.choice(theme.topics)
        fmt = self.rng.choice(TALK_FORMATS)
        speaker, role_de, role_en, _ = self.rng.choice(
            [s for s in SPEAKERS if not s[3] or theme.slug in s[3]]
        )
        venue = self.rng.choice(fmt.venues)
        minutes = 45 if fmt.times[0][0] < 14 else self.rng.choice((60, 90))
        plan = ItemPlan(
            kind=ItemKind.TALK,
            title_de=f"{fmt.de}: {topic_de}",
            title_en=f"{fmt.en}: {topic_en}",
            summary_de=f"{fmt.lead_de} mit {speaker} ({role_de}) über „{topic_de}“.",
            summary_en=f"{fmt.lead_en} with {speaker} ({role_en}) on “{topic_en}”.",
            description_de="",
            description_en="",
            themes=self.extra_themes([theme.slug]),
            targets=list(fmt.targets),
            access=self.access_for(venue, fmt.access),
            venue=venue,
            price=Decimal(self.rng.choice((0, 0, 4, 5, 8))),
            capacity=(
                self.rng.randint(80, 180) if venue == "Großer Saal" else self.rng.randint(40, 60)
            ),
        )
        template_de, template_en = self.rng.choice(TALK_INTROS)
        intro_de = (
            template_de.format(speaker=speaker, role=role_de, topic=topic_de)
            + " Im Anschluss ist Zeit für Fragen und Gespräch."
        )
        intro_en = (
            template_en.format(speaker=speaker, role=role_en, topic=topic_en)
            + " Afterwards there is time for questions and conversation."
        )
        de, en = _practical(plan, minutes=minutes)
        plan.description_de, plan.description_en = f"{intro_de}\n\n{de}", f"{intro_en}\n\n{en}"
        self.schedule(
            plan,
            upcoming=upcoming,
            count=self.rng.choice((1, 1, 1, 2)),
            weekdays=fmt.weekdays,
            start=self.rng.choice(fmt.times),
            minutes=minutes,
        )
        return plan

    def workshop(self, *, upcoming: bool) -> ItemPlan:
        theme = self.theme()
        title_de, title_en, targets = self.rng.choice(theme.workshops)
        venue = self.rng.choice(("Werkstatt", "Werkstatt", "Studio"))
        minutes = self.rng.choice((120, 120, 180))
        for_children = "children" in targets or "families" in targets
        price = Decimal(self.rng.choice((5, 6, 8) if for_children else (8, 12, 15, 18)))
        plan = ItemPlan(
            kind=ItemKind.WORKSHOP,
            title_de=title_de,
            title_en=title_en,
            summary_de=f"Eine Werkstatt zum Mitmachen für "
            f"{_join_de([TARGET_DE[t] for t in targets])}.",
            summary_en=f"A hands-on workshop for {_join_en([TARGET_EN[t] for t in targets])}.",
            description_de="",
            description_en="",
            themes=self.extra_themes(_family_aware(theme.slug, targets)),
            targets=list(targets),
            access=self.access_for(venue, ()),
            venue=venue,
            price=price,
            capacity=self.rng.randint(15, 24),
        )
        intro_de = (
            f"„{title_de}“: Unter Anleitung unseres Vermittlungsteams probieren die "
            "Teilnehmenden selbst aus, was sonst hinter Glas liegt. Alle Materialien "
            "werden gestellt, Vorkenntnisse sind nicht nötig. Die Zahl der Plätze ist "
            "begrenzt, bitte melden Sie sich an."
        )
        intro_en = (
            f"“{title_en}”: guided by our learning team, participants try out for "
            "themselves what is usually behind glass. All materials are provided and no "
            "previous experience is needed. Places are limited, please book ahead."
        )
        weekdays = frozenset({2, 3, 4}) if "schools" in targets else frozenset({5, 6})
        times = ((9, 0), (10, 0)) if "schools" in targets else ((10, 0), (14, 0))
        de, en = _practical(
            plan, minutes=minutes, extra_de=" inkl. Material", extra_en=" including materials"
        )
        plan.description_de, plan.description_en = f"{intro_de}\n\n{de}", f"{intro_en}\n\n{en}"
        self.schedule(
            plan,
            upcoming=upcoming,
            count=self.rng.randint(1, 4),
            weekdays=weekdays,
            start=self.rng.choice(times),
            minutes=minutes,
        )
        return plan

    def concert(self, *, upcoming: bool) -> ItemPlan:
        spec = self.rng.choice(CONCERTS)
        ensemble = self.rng.choice(spec.performers)
        venue = self.rng.choice(spec.venues)
        lunchtime = spec.venues == ("Foyer",)
        price = Decimal(0) if lunchtime else Decimal(self.rng.choice((12, 15, 18, 22, 25)))
        if "children" in spec.targets:
            price = Decimal(self.rng.choice((5, 8)))
        capacity = {
            "Innenhof": self.rng.randint(200, 400),
            "Foyer": self.rng.randint(60, 100),
            "Studio": self.rng.randint(50, 80),
        }.get(venue, self.rng.randint(120, 250))
        plan = ItemPlan(
            kind=ItemKind.CONCERT,
            title_de=f"{spec.title_de} mit {ensemble}",
            title_en=f"{spec.title_en} with {ensemble}",
            summary_de=f"{spec.summary_de} Es spielt: {ensemble}.",
            summary_en=f"{spec.summary_en} Performed by {ensemble}.",
            description_de="",
            description_en="",
            themes=self.extra_themes(list(spec.themes)),
            targets=list(spec.targets),
            access=self.access_for(venue, ()),
            venue=venue,
            price=price,
            capacity=capacity,
        )
        minutes = 30 if lunchtime else self.rng.choice((75, 90, 120))
        intro_de = (
            f"{spec.summary_de} {ensemble} spielt {VENUE_DE[venue]} des Stadtmuseums; "
            "vor dem Konzert und in der Pause ist die Ausstellung geöffnet."
        )
        intro_en = (
            f"{spec.summary_en} {ensemble} plays {VENUE_EN[venue]} of the Stadtmuseum; "
            "the exhibition is open before the concert and during the interval."
        )
        de, en = _practical(plan, minutes=minutes)
        plan.description_de, plan.description_en = f"{intro_de}\n\n{de}", f"{intro_en}\n\n{en}"
        start = ((12, 30),) if lunchtime else ((19, 30), (20, 0), (11, 0))
        self.schedule(
            plan,
            upcoming=upcoming,
            count=self.rng.choice((1, 1, 2)),
            weekdays=frozenset({3, 4}) if lunchtime else frozenset({4, 5, 6}),
            start=self.rng.choice(start),
            minutes=minutes,
        )
        return plan

    def performance(self, *, upcoming: bool) -> ItemPlan:
        spec = self.rng.choice(PERFORMANCES)
        venue = self.rng.choice(spec.venues)
        for_children = "children" in spec.targets
        price = Decimal(self.rng.choice((5, 7, 9) if for_children else (10, 14, 18, 22)))
        plan = ItemPlan(
            kind=ItemKind.PERFORMANCE,
            title_de=spec.title_de,
            title_en=spec.title_en,
            summary_de=spec.summary_de,
            summary_en=spec.summary_en,
            description_de="",
            description_en="",
            themes=self.extra_themes(list(spec.themes)),
            targets=list(spec.targets),
            access=self.access_for(venue, ()),
            venue=venue,
            price=price,
            capacity=self.rng.randint(25, 40)
            if venue.startswith("Treffpunkt")
            else self.rng.randint(60, 220),
        )
        minutes = 50 if for_children else self.rng.choice((75, 90, 100))
        intro_de = (
            f"{spec.summary_de} Eine Produktion des Stadtmuseums mit freien "
            "Künstlerinnen und Künstlern aus der Region."
        )
        intro_en = (
            f"{spec.summary_en} A Stadtmuseum production with independent artists from the region."
        )
        de, en = _practical(plan, minutes=minutes)
        plan.description_de, plan.description_en = f"{intro_de}\n\n{de}", f"{intro_en}\n\n{en}"
        self.schedule(
            plan,
            upcoming=upcoming,
            count=self.rng.randint(1, 4),
            weekdays=frozenset({6}) if for_children else frozenset({4, 5}),
            start=(15, 0) if for_children else self.rng.choice(((19, 0), (20, 0))),
            minutes=minutes,
        )
        return plan

    def exhibitions(self) -> list[ItemPlan]:
        """Two galleries with back-to-back runs, so that something is always on show."""
        pool = list(EXHIBITIONS)
        self.rng.shuffle(pool)
        plans: list[ItemPlan] = []
        for venue, shortest, longest in (("Ausstellungshalle", 150, 240), ("Kabinett", 90, 150)):
            begin = -PAST_DAYS - 30 + self.rng.randint(0, 40)
            while begin <= UPCOMING_DAYS - 20 and pool:
                spec = pool.pop()
                duration = self.rng.randint(shortest, longest)
                # Runs open on a Saturday (after a Friday evening opening) and end on a Sunday.
                # The chain itself is planned without snapping, so how many exhibitions there
                # are does not depend on the weekday of the build.
                opens = self.snap(begin, frozenset({5}))
                closes = self.snap(begin + duration, frozenset({6}))
                plans.extend(self.exhibition(spec, venue, opens, closes))
                begin += duration + 7 + self.rng.randint(10, 25)
        return plans

    def exhibition(
        self, spec: ExhibitionSpec, venue: str, opens: int, closes: int
    ) -> list[ItemPlan]:
        sep = " " if spec.title_de[-1] in "!?" else ". "
        sep_en = " " if spec.title_en[-1] in "!?" else ". "
        main = ItemPlan(
            kind=ItemKind.EXHIBITION,
            title_de=f"{spec.title_de}{sep}{spec.subtitle_de}",
            title_en=f"{spec.title_en}{sep_en}{spec.subtitle_en}",
            summary_de=spec.blurb_de,
            summary_en=spec.blurb_en,
            description_de="",
            description_en="",
            themes=list(spec.themes),
            targets=["adults", "families", "seniors", "schools", "groups"],
            access=self.access_for(venue, ()),
            venue=venue,
            price=Decimal(self.rng.choice((8, 10, 12)) if venue == "Ausstellungshalle" else 6),
            capacity=400,
        )
        start, end = self.at(opens, 10), self.at(closes, 18)
        intro_de = (
            f"{spec.blurb_de}\n\nDie Ausstellung „{spec.title_de}“ ist vom "
            f"{start:%d.%m.%Y} bis {end:%d.%m.%Y} {VENUE_DE[venue]} zu sehen. Ein "
            "Begleitprogramm mit Führungen, Vorträgen und Werkstätten lädt zur "
            "Vertiefung ein; Schulklassen und Gruppen melden sich bitte an."
        )
        intro_en = (
            f"{spec.blurb_en}\n\nThe exhibition “{spec.title_en}” is on show "
            f"{VENUE_EN[venue]} from {_date_en(start)} to {_date_en(end)}. A programme of "
            "tours, talks and workshops accompanies it; school classes and groups please "
            "book in advance."
        )
        de, en = _practical(
            main,
            minutes=None,
            extra_de=", ermäßigt die Hälfte, unter 18 Jahren frei",
            extra_en=", concessions half price, free for under-18s",
        )
        main.description_de, main.description_en = f"{intro_de}\n\n{de}", f"{intro_en}\n\n{en}"
        # One long date: the run, open daily; visits fall on single days within it.
        main.dates.append((start, end, OccurrenceStatus.SCHEDULED))
        main.created_at = self.created_at(start)

        opening = ItemPlan(
            kind=ItemKind.TALK,
            title_de=f"Eröffnung: {spec.title_de}",
            title_en=f"Opening: {spec.title_en}",
            summary_de=f"Wir eröffnen die Ausstellung „{spec.title_de}“ mit Reden, Musik und "
            "einem Glas Wein.",
            summary_en=f"We open the exhibition “{spec.title_en}” with speeches, music and a "
            "glass of wine.",
            description_de="",
            description_en="",
            themes=list(spec.themes),
            targets=["adults"],
            access=self.access_for("Großer Saal", ()),
            venue="Großer Saal",
            price=Decimal(0),
            capacity=self.rng.randint(150, 300),
        )
        de, en = _practical(opening, minutes=120)
        opening.description_de = (
            f"{opening.summary_de} Es sprechen der Museumsdirektor "
            f"Dr. Henrik Vogt und die Kuratorin.\n\n{de}"
        )
        opening.description_en = (
            f"{opening.summary_en} With words from the museum director "
            f"Dr Henrik Vogt and the curator.\n\n{en}"
        )
        opening_at = self.at(opens - 1, 19)
        opening.dates.append(
            (opening_at, opening_at + timedelta(hours=2), OccurrenceStatus.SCHEDULED)
        )
        opening.created_at = self.created_at(opening_at)

        curator = ItemPlan(
            kind=ItemKind.TOUR,
            title_de=f"Kuratorinnenführung: {spec.title_de}",
            title_en=f"Curator's tour: {spec.title_en}",
            summary_de=f"Die Kuratorin führt durch die Ausstellung „{spec.title_de}“.",
            summary_en=f"The curator guides you through the exhibition “{spec.title_en}”.",
            description_de="",
            description_en="",
            themes=list(spec.themes),
            targets=["adults", "seniors"],
            access=self.access_for(venue, ()),
            venue=venue,
            price=Decimal(3),
            capacity=25,
        )
        de, en = _practical(
            curator, minutes=60, extra_de=" zzgl. Eintritt", extra_en=" plus admission"
        )
        curator.description_de = (
            f"{curator.summary_de} Sie erzählt, wie die Ausstellung "
            f"entstanden ist und welche Funde sie überrascht haben.\n\n{de}"
        )
        curator.description_en = (
            f"{curator.summary_en} She tells how the exhibition came about "
            f"and which finds surprised her.\n\n{en}"
        )
        count = self.rng.randint(2, 4)
        step = max(7, (closes - opens) // (count + 1))
        for i in range(1, count + 1):
            begins = self.at(self.snap(opens + i * step, frozenset({6})), 15)
            curator.dates.append((begins, begins + timedelta(hours=1), OccurrenceStatus.SCHEDULED))
        curator.created_at = self.created_at(curator.dates[0][0])
        return [main, opening, curator]


def populate(
    *,
    organisation: Organisation,
    rng: random.Random,
    now: datetime,
    contacts: int,
    stdout: IO[str] | Any | None,
) -> None:
    """Themes, programme items and dates of the demo organisation."""
    # An own stream: a change in what this module draws does not shift later modules' content.
    planner = ProgrammePlanner(
        random.Random(rng.getrandbits(64)), now, ZoneInfo(organisation.timezone)
    )

    themes = Theme.objects.bulk_create(
        [
            Theme(organisation=organisation, slug=t.slug, name_de=t.name_de, name_en=t.name_en)
            for t in THEMES
        ],
        batch_size=5000,
    )
    theme_ids = {t.slug: t.pk for t in themes}
    venues = _venues(organisation)

    plans = planner.exhibitions()
    plans += [planner.event(upcoming=False) for _ in range(PAST_EVENTS)]
    plans += [planner.event(upcoming=True) for _ in range(UPCOMING_EVENTS)]

    slugs: set[str] = set()
    items: list[ProgrammeItem] = []
    for plan in plans:
        # A title that comes back in another season gets a number, not a date: slugs stay
        # the same when the demo is built on another day.
        base = slug = ascii_slug(plan.title_de, max_length=100)
        suffix = 2
        while slug in slugs:
            slug, suffix = f"{base}-{suffix}", suffix + 1
        slugs.add(slug)
        items.append(
            ProgrammeItem(
                organisation=organisation,
                slug=slug,
                kind=plan.kind,
                title_de=plan.title_de,
                title_en=plan.title_en,
                summary_de=plan.summary_de,
                summary_en=plan.summary_en,
                description_de=plan.description_de,
                description_en=plan.description_en,
                target_groups=plan.targets,
                accessibility=plan.access,
                venue=venues[plan.venue],
                bookable=plan.kind != ItemKind.EXHIBITION,
                created_at=plan.created_at or now,
            )
        )
    items = ProgrammeItem.objects.bulk_create(items, batch_size=5000)

    through = ProgrammeItem.themes.through
    links = [
        through(programmeitem_id=item.pk, theme_id=theme_ids[slug])
        for item, plan in zip(items, plans, strict=True)
        for slug in plan.themes
    ]
    through.objects.bulk_create(links, batch_size=5000)

    PriceCategory.objects.bulk_create(
        [
            PriceCategory(
                organisation=organisation,
                item_id=item.pk,
                name_de=name_de,
                name_en=name_en,
                price_eur=price,
                position=position,
            )
            for item, plan in zip(items, plans, strict=True)
            for position, (name_de, name_en, price) in enumerate(_prices(plan.price, plan.targets))
        ],
        batch_size=5000,
    )

    occurrences = [
        Occurrence(
            organisation=organisation,
            item_id=item.pk,
            starts_at=starts,
            ends_at=ends,
            capacity=plan.capacity,
            status=status,
            created_at=plan.created_at or now,
        )
        for item, plan in zip(items, plans, strict=True)
        for starts, ends, status in plan.dates
    ]
    Occurrence.objects.bulk_create(occurrences, batch_size=5000)

    past = sum(1 for p in plans if p.dates[-1][0] < now)
    upcoming = sum(1 for p in plans if p.dates[0][0] >= now)
    progress(
        stdout,
        f"Programme: {len(themes)} themes, {len(items)} items ({past} past, "
        f"{upcoming} upcoming), {len(occurrences)} dates.",
    )
