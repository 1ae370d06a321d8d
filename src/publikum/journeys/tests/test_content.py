"""E-mail content: blocks into HTML and text, per language, with staff templates in a sandbox."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, time, timedelta
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from publikum.audience import consent
from publikum.audience.models import Contact
from publikum.core.models import Organisation
from publikum.journeys.content import (
    RenderedEmail,
    TemplateProblem,
    caches_clear,
    render_email,
    render_preview,
    rewrite_links,
    template_problems,
)
from publikum.journeys.models import EmailTemplate, MessageKind
from publikum.programme.models import (
    ItemKind,
    Occurrence,
    OccurrenceStatus,
    ProgrammeItem,
    Theme,
    Venue,
)

LINKS = {
    "preferences": "https://publikum.example/h/preferences/tok-p",
    "unsubscribe": "https://publikum.example/h/unsubscribe/tok-u",
}


@pytest.fixture(autouse=True)
def _fresh_caches() -> Iterator[None]:
    # The renderer keeps dates for a minute within the process; each test has its own.
    caches_clear()
    yield
    caches_clear()


# --- data ---------------------------------------------------------------------------------------


def make_template(
    organisation: Organisation, blocks: list[dict[str, Any]], **fields: Any
) -> EmailTemplate:
    values: dict[str, Any] = {
        "name": f"Vorlage {EmailTemplate.objects.count() + 1}",
        "subject_de": "Hallo {{ contact.first_name }}",
        "subject_en": "Hello {{ contact.first_name }}",
        "preheader_de": "Neues aus dem {{ organisation.name }}",
        "preheader_en": "News from {{ organisation.name }}",
        **fields,
    }
    return EmailTemplate.objects.create(organisation=organisation, blocks=blocks, **values)


def make_contact(organisation: Organisation, **fields: Any) -> Contact:
    values: dict[str, Any] = {
        "first_name": "Anna",
        "last_name": "Becker",
        "email": f"anna{Contact.objects.count()}@example.org",
        "language": "de",
        **fields,
    }
    return Contact.objects.create(organisation=organisation, **values)


def local(organisation: Organisation, *, days: int, hour: int = 19) -> datetime:
    zone = ZoneInfo(organisation.timezone)
    day = timezone.localtime(timezone.now(), zone).date() + timedelta(days=days)
    return datetime.combine(day, time(hour, 0), tzinfo=zone)


def make_item(
    organisation: Organisation,
    title_de: str,
    title_en: str = "",
    *,
    themes: tuple[Theme, ...] = (),
    venue: Venue | None = None,
    **fields: Any,
) -> ProgrammeItem:
    n = ProgrammeItem.objects.filter(organisation=organisation).count() + 1
    item = ProgrammeItem.objects.create(
        organisation=organisation,
        slug=f"item-{n}",
        kind=ItemKind.TOUR,
        title_de=title_de,
        title_en=title_en,
        venue=venue,
        **fields,
    )
    item.themes.set(themes)
    return item


def make_date(item: ProgrammeItem, *, days: int, hour: int = 19, **fields: Any) -> Occurrence:
    starts = local(item.organisation, days=days, hour=hour)
    return Occurrence.objects.create(
        organisation=item.organisation,
        item=item,
        starts_at=starts,
        ends_at=starts + timedelta(hours=2),
        capacity=20,
        **fields,
    )


def make_venue(organisation: Organisation) -> Venue:
    return Venue.objects.create(
        organisation=organisation,
        name_de="Großer Saal",
        name_en="Great Hall",
        street="Kornmarkt 1",
        postcode="12345",
        city="Beispielstadt",
        directions_de="Eingang am Fluss.\nZweiter Stock, Aufzug links.",
        directions_en="Entrance by the river.\nSecond floor, lift on the left.",
    )


def render(
    template: EmailTemplate, contact: Contact, context: dict[str, Any] | None = None
) -> RenderedEmail:
    return render_email(
        template,
        organisation=template.organisation,
        contact=contact,
        context=context,
        links=LINKS,
    )


class _Visible(HTMLParser):
    """The text a reader sees in the HTML part, and the tags it contains."""

    def __init__(self) -> None:
        super().__init__()
        self.text: list[str] = []
        self.tags: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag in ("style", "title", "head"):
            self._skip += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("style", "title", "head"):
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.text.append(data)


def visible(html: str) -> _Visible:
    parser = _Visible()
    parser.feed(html)
    return parser


def visible_text(html: str) -> str:
    return " ".join(" ".join(visible(html).text).split())


# --- languages ----------------------------------------------------------------------------------


def test_a_mail_is_rendered_in_the_contacts_language(organisation: Organisation) -> None:
    template = make_template(
        organisation,
        [
            {"type": "heading", "text_de": "Willkommen", "text_en": "Welcome"},
            {
                "type": "text",
                "markdown_de": "Schön, dass Sie da sind.",
                "markdown_en": "Glad you are here.",
            },
        ],
    )
    german = render(template, make_contact(organisation, language="de"))
    english = render(template, make_contact(organisation, language="en", first_name="Ben"))

    assert german.language == "de"
    assert german.subject == "Hallo Anna"
    assert 'lang="de"' in german.html
    assert "Willkommen" in visible_text(german.html)
    assert "Schön, dass Sie da sind." in german.text
    assert "Ihre E-Mail-Einstellungen" in visible_text(german.html)  # footer in German

    assert english.language == "en"
    assert english.subject == "Hello Ben"
    assert 'lang="en"' in english.html
    assert "Welcome" in visible_text(english.html)
    assert "Glad you are here." in english.text
    assert "Your e-mail preferences" in visible_text(english.html)
    assert "Willkommen" not in english.html


def test_english_falls_back_to_german_where_a_field_is_empty(organisation: Organisation) -> None:
    template = make_template(
        organisation,
        [
            {"type": "heading", "text_de": "Neu im Haus", "text_en": "New at the museum"},
            {"type": "text", "markdown_de": "Nur auf Deutsch.", "markdown_en": "   "},
            {"type": "button", "label_de": "Ansehen", "url": "https://example.org/neu"},
        ],
        subject_en="",
        preheader_en="",
    )
    english = render(template, make_contact(organisation, language="en"))

    assert english.language == "en"
    assert english.subject == "Hallo Anna"
    shown = visible_text(english.html)
    assert "New at the museum" in shown
    assert "Neu im Haus" not in shown
    assert "Nur auf Deutsch." in shown
    assert "Neues aus dem Stadtmuseum Test" in shown  # the German preheader
    assert "Ansehen: https://example.org/neu" in english.text
    # The frame around the blocks is English.
    assert "Your e-mail preferences" in shown


def test_a_template_without_any_english_goes_out_in_german(organisation: Organisation) -> None:
    template = make_template(
        organisation,
        [{"type": "text", "markdown_de": "Nur auf Deutsch.", "markdown_en": ""}],
        subject_en="",
        preheader_en="",
    )

    rendered = render(template, make_contact(organisation, language="en"))

    assert rendered.language == "de"
    assert 'lang="de"' in rendered.html
    assert "Ihre E-Mail-Einstellungen" in rendered.text


def test_a_contact_without_a_language_gets_the_organisations(organisation: Organisation) -> None:
    organisation.language = "en"
    organisation.save()
    template = make_template(organisation, [{"type": "text", "markdown_de": "Hallo"}])

    rendered = render(template, make_contact(organisation, language=""))

    assert rendered.language == "en"
    assert rendered.subject == "Hello Anna"


# --- blocks ---------------------------------------------------------------------------------------


def test_heading_and_text_blocks(organisation: Organisation) -> None:
    template = make_template(
        organisation,
        [
            {"type": "heading", "text_de": "Herbstprogramm"},
            {
                "type": "text",
                "markdown_de": (
                    "Es gibt **viel** zu sehen, siehe [Programm](https://example.org/programm).\n\n"
                    "- Führungen\n- Konzerte\n\n"
                    "Fragen? [Schreiben Sie uns](mailto:info@example.org)."
                ),
            },
        ],
    )
    rendered = render(template, make_contact(organisation))

    assert re.search(r"<h2[^>]*>Herbstprogramm</h2>", rendered.html)
    assert "<strong>viel</strong>" in rendered.html
    assert re.search(r'<a href="https://example.org/programm"[^>]*>Programm</a>', rendered.html)
    assert re.search(r"<li[^>]*>Führungen</li>", rendered.html)
    assert "Herbstprogramm\n==============" in rendered.text
    assert "Es gibt viel zu sehen, siehe Programm (https://example.org/programm)." in rendered.text
    assert "- Führungen\n- Konzerte" in rendered.text
    assert "Fragen? Schreiben Sie uns (info@example.org)." in rendered.text


def test_personal_block_fills_in_the_contact(organisation: Organisation) -> None:
    template = make_template(
        organisation,
        [
            {
                "type": "personal",
                "markdown_de": "Liebe {{ contact.first_name }} {{ contact.last_name }}, "
                "{{ organisation.name }} vermisst Sie.",
                "markdown_en": "Dear {{ contact.name }}, we miss you.",
            }
        ],
    )
    german = render(template, make_contact(organisation))
    english = render(template, make_contact(organisation, language="en", first_name="Ben"))

    assert "Liebe Anna Becker, Stadtmuseum Test vermisst Sie." in visible_text(german.html)
    assert "Liebe Anna Becker, Stadtmuseum Test vermisst Sie." in german.text
    assert "Dear Ben Becker, we miss you." in english.text


def test_image_block_with_alt_text_and_link(organisation: Organisation) -> None:
    template = make_template(
        organisation,
        [
            {
                "type": "image",
                "url": "https://example.org/bild.jpg",
                "alt_de": "Blick in die Ausstellung",
                "alt_en": "View of the exhibition",
                "link": "https://example.org/ausstellung",
            }
        ],
    )
    german = render(template, make_contact(organisation))
    english = render(template, make_contact(organisation, language="en"))

    assert re.search(
        r'<a href="https://example.org/ausstellung"[^>]*><img src="https://example.org/bild.jpg"'
        r' alt="Blick in die Ausstellung"',
        german.html,
    )
    assert 'alt="View of the exhibition"' in english.html
    assert "[Blick in die Ausstellung]: https://example.org/ausstellung" in german.text
    assert german.links == ["https://example.org/ausstellung"]


def test_button_block_with_a_personal_url(organisation: Organisation) -> None:
    template = make_template(
        organisation,
        [
            {
                "type": "button",
                "label_de": "Jetzt buchen, {{ contact.first_name }}",
                "label_en": "Book now",
                "url": "https://example.org/buchen?name={{ contact.first_name }}",
            }
        ],
    )
    rendered = render(template, make_contact(organisation, first_name="Anna Maria"))

    url = "https://example.org/buchen?name=Anna%20Maria"
    assert re.search(
        rf'<a href="{re.escape(url)}"[^>]*>Jetzt buchen, Anna Maria</a>', rendered.html
    )
    assert f"Jetzt buchen, Anna Maria: {url}" in rendered.text
    assert rendered.links == [url]


def test_events_block_prefers_the_contacts_interests(
    organisation: Organisation, other_organisation: Organisation
) -> None:
    photo = Theme.objects.create(
        organisation=organisation, slug="foto", name_de="Fotografie", name_en="Photography"
    )
    venue = make_venue(organisation)
    concert = make_item(organisation, "Abendkonzert", "Evening concert", venue=venue)
    make_date(concert, days=1)
    tour = make_item(organisation, "Fotoführung", "Photo tour", themes=(photo,), venue=venue)
    tour_date = make_date(tour, days=5)
    make_date(tour, days=6)  # the item's later date: one date per item
    workshop = make_item(organisation, "Fotowerkstatt", "Photo workshop", themes=(photo,))
    make_date(workshop, days=8)
    talk = make_item(organisation, "Vortrag", themes=(photo,))
    make_date(talk, days=2, status=OccurrenceStatus.CANCELLED)
    make_date(make_item(organisation, "Entwurf", themes=(photo,), published=False), days=2)
    make_date(make_item(organisation, "Dauerausstellung", themes=(photo,), bookable=False), days=2)
    make_date(make_item(organisation, "Vorbei", themes=(photo,)), days=-2)
    other_photo = Theme.objects.create(
        organisation=other_organisation, slug="foto", name_de="Fotografie", name_en="Photo"
    )
    make_date(make_item(other_organisation, "Fremdes Haus", themes=(other_photo,)), days=1)

    contact = make_contact(organisation)
    contact.interests.set([photo])
    preferring = make_template(
        organisation,
        [{"type": "events", "title_de": "Für Sie ausgewählt", "limit": 3, "match_interests": True}],
    )
    plain = make_template(organisation, [{"type": "events", "limit": 2}])

    chosen = render(preferring, contact)
    soonest = render(plain, contact)

    titles = re.findall(r"^- (.+)$", chosen.text, flags=re.MULTILINE)
    assert titles == ["Fotoführung", "Fotowerkstatt", "Abendkonzert"]
    assert re.findall(r"^- (.+)$", soonest.text, flags=re.MULTILINE) == [
        "Abendkonzert",
        "Fotoführung",
    ]
    assert "Für Sie ausgewählt" in visible_text(chosen.html)
    assert "Demnächst" in visible_text(soonest.html)  # the default title, in German
    # Date and time in the house's time zone, in German, with the venue and the item page.
    starts = timezone.localtime(tour_date.starts_at, ZoneInfo(organisation.timezone))
    weekday = ["Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag", "Sonntag"]
    assert f"{weekday[starts.weekday()]}, {starts.day}. " in chosen.text
    assert "19:00–21:00, Großer Saal" in chosen.text
    page = f"http://testserver/{organisation.slug}/programme/{tour.slug}/#date-{tour_date.pk}"
    assert page.replace("http://testserver", "") in chosen.text
    assert any(link.endswith(f"/{tour.slug}/#date-{tour_date.pk}") for link in chosen.links)
    assert "Fremdes Haus" not in chosen.text + soonest.text


def test_event_titles_and_dates_follow_the_mails_language(organisation: Organisation) -> None:
    make_date(make_item(organisation, "Abendkonzert", "Evening concert"), days=3)
    template = make_template(organisation, [{"type": "events", "title_en": "Coming soon"}])

    english = render(template, make_contact(organisation, language="en"))

    assert "Evening concert" in english.text
    assert "Coming soon" in english.text
    starts = Occurrence.objects.get().starts_at
    local_start = timezone.localtime(starts, ZoneInfo(organisation.timezone))
    assert local_start.strftime("%A") in english.text  # English weekday
    assert "Abendkonzert" not in english.text


def test_events_block_disappears_when_nothing_is_coming_up(organisation: Organisation) -> None:
    template = make_template(
        organisation,
        [{"type": "text", "markdown_de": "Hallo"}, {"type": "events", "title_de": "Demnächst"}],
    )

    rendered = render(template, make_contact(organisation))

    assert "Demnächst" not in rendered.html
    assert "Demnächst" not in rendered.text


def test_events_are_read_once_and_kept_for_the_next_mails(
    organisation: Organisation, django_assert_num_queries: Any
) -> None:
    make_date(make_item(organisation, "Abendkonzert"), days=3)
    template = make_template(organisation, [{"type": "events", "match_interests": True}])
    contacts = [make_contact(organisation) for _ in range(3)]
    prefetched = list(
        Contact.objects.filter(pk__in=[c.pk for c in contacts]).prefetch_related("interests")
    )

    # The first mail reads the upcoming dates, their themes and the contact's interests.
    with django_assert_num_queries(3):
        render(template, contacts[0])
    # The next ones take the dates from memory; with interests prefetched for the batch,
    # a mail needs no query at all.
    with django_assert_num_queries(0):
        for contact in prefetched:
            assert "Abendkonzert" in render(template, contact).text


def test_occurrence_block_shows_the_booked_date_with_directions_and_accessibility(
    organisation: Organisation,
) -> None:
    item = make_item(
        organisation,
        "Führung durch die Stadtgeschichte",
        "Tour of the town's history",
        venue=make_venue(organisation),
        accessibility=["wheelchair", "induction_loop"],
    )
    booked = make_date(item, days=2, hour=18)
    template = make_template(
        organisation,
        [
            {"type": "personal", "markdown_de": "Bis übermorgen: {{ occurrence.title }}"},
            {"type": "occurrence"},
        ],
        subject_de="Erinnerung: {{ occurrence.title }}, {{ occurrence.date }}",
        subject_en="Reminder: {{ occurrence.title }}",
    )

    german = render(template, make_contact(organisation), {"occurrence": booked.pk})
    english = render(template, make_contact(organisation, language="en"), {"occurrence": booked.pk})

    assert german.subject.startswith("Erinnerung: Führung durch die Stadtgeschichte, ")
    assert "18:00–20:00" in german.subject
    shown = visible_text(german.html)
    assert "Großer Saal, Kornmarkt 1, 12345 Beispielstadt" in shown
    assert "Anfahrt: Eingang am Fluss. Zweiter Stock, Aufzug links." in shown
    assert "Barrierefreiheit: Rollstuhlgerecht, Induktionsschleife" in shown
    assert "Anfahrt: Eingang am Fluss.\nZweiter Stock, Aufzug links." in german.text
    assert "Barrierefreiheit: Rollstuhlgerecht, Induktionsschleife" in german.text
    assert english.subject == "Reminder: Tour of the town's history"
    assert "Directions: Entrance by the river." in english.text
    assert "Accessibility: Wheelchair accessible, Induction loop" in english.text
    assert "Great Hall, Kornmarkt 1" in english.text


def test_occurrence_block_without_a_booked_date_is_a_problem(organisation: Organisation) -> None:
    template = make_template(organisation, [{"type": "occurrence"}])

    with pytest.raises(TemplateProblem) as missing:
        render(template, make_contact(organisation))
    with pytest.raises(TemplateProblem):
        render(template, make_contact(organisation), {"occurrence": 999_999})

    assert missing.value.block == 0


def test_a_date_of_another_organisation_is_never_shown(
    organisation: Organisation, other_organisation: Organisation
) -> None:
    foreign = make_date(make_item(other_organisation, "Fremde Führung"), days=2)
    template = make_template(organisation, [{"type": "occurrence"}])

    with pytest.raises(TemplateProblem):
        render(template, make_contact(organisation), {"occurrence": foreign.pk})


# --- escaping ----------------------------------------------------------------------------------

HOSTILE_FIRST = "<script>alert(1)</script>"
HOSTILE_LAST = '[klick](https://evil.example) **fett** <img src=x onerror="alert(2)">'


def test_hostile_contact_names_stay_text_in_html_and_plain_text(organisation: Organisation) -> None:
    template = make_template(
        organisation,
        [
            {"type": "heading", "text_de": "Hallo {{ contact.first_name }}"},
            {
                "type": "text",
                "markdown_de": "Liebe {{ contact.name }},\n\n*{{ contact.last_name }}*",
            },
            {
                "type": "personal",
                "markdown_de": "# {{ contact.first_name }}\n\n{{ contact.last_name }}",
            },
            {
                "type": "button",
                "label_de": "Für {{ contact.first_name }}",
                "url": "https://example.org/",
            },
        ],
        preheader_de="Für {{ contact.last_name }}",
    )
    rendered = render(
        template, make_contact(organisation, first_name=HOSTILE_FIRST, last_name=HOSTILE_LAST)
    )

    parsed = visible(rendered.html)
    assert "script" not in parsed.tags
    assert "img" not in parsed.tags
    assert "em" in parsed.tags  # the staff's own emphasis still works
    assert "https://evil.example" not in rendered.html.replace("(https://evil.example)", "")
    assert not re.search(r"<a [^>]*evil", rendered.html)
    assert "fett" in visible_text(rendered.html)
    shown = visible_text(rendered.html)
    assert f"Hallo {HOSTILE_FIRST}" in shown
    assert HOSTILE_LAST in shown
    # The plain text shows the names as they are: no escapes, no Markdown at work.
    assert f"Hallo {HOSTILE_FIRST}" in rendered.text
    assert f"Liebe {HOSTILE_FIRST} {HOSTILE_LAST}," in rendered.text
    assert "\\" not in rendered.text
    assert rendered.subject == f"Hallo {HOSTILE_FIRST}"
    assert rendered.links == ["https://example.org/"]


def test_a_line_break_in_a_name_does_not_reach_the_subject(organisation: Organisation) -> None:
    template = make_template(organisation, [{"type": "text", "markdown_de": "Hallo"}])

    rendered = render(
        template, make_contact(organisation, first_name="Anna\r\nBcc: victim@example.org")
    )

    assert "\n" not in rendered.subject
    assert "\r" not in rendered.subject


def test_staff_markdown_cannot_carry_html_or_script_links(organisation: Organisation) -> None:
    template = make_template(
        organisation,
        [
            {
                "type": "text",
                "markdown_de": (
                    '<b onmouseover="x()">fett</b> <script>alert(1)</script>\n\n'
                    "[Klick](javascript:alert(1)) [Datei](file:///etc/passwd) "
                    "[relativ](/intern) ![Bild](data:image/png;base64,AAAA)"
                ),
            }
        ],
    )
    rendered = render(template, make_contact(organisation))

    parsed = visible(rendered.html)
    assert not {"b", "script", "img"} & set(parsed.tags)
    assert "javascript:" not in re.sub(r">[^<]*<", "><", rendered.html)  # not in any tag
    assert not re.search(r'href="(javascript|file|/intern)', rendered.html)
    assert "<b onmouseover" in visible_text(rendered.html)  # shown as text
    assert rendered.links == []


# --- the sandbox ---------------------------------------------------------------------------------

ESCAPES = [
    "{{ contact.__class__ }}",
    "{{ ''.__class__.__mro__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ settings }}",
    "{{ settings.SECRET_KEY }}",
    "{{ cycler.__init__.__globals__ }}",
    "{{ joiner.__init__.__globals__.os }}",
    "{{ lipsum.__globals__ }}",
    "{{ namespace }}",
    "{{ range(10) }}",
    "{{ request }}",
    "{{ contact.items() }}",
    "{{ contact.__init__ }}",
    "{{ contact['__class__'] }}",
    "{{ contact.first_name|attr('__class__') }}",
    "{{ '{0.__class__}'.format(contact) }}",
    "{{ self }}",
    "{{ self._TemplateReference__context }}",
    "{{ contact.first_name.__class__ }}",
    "{{ links.preferences.format(x=1) }}",
    "{{ 'x' * 100000000 }}",
    "{{ 9 ** 9 ** 9 }}",
    "{{ '%99999999s' % 'x' }}",
    "{{ 'x'|center(100000000) }}",
    "{% for c in contact.name %}{{ c }}{% endfor %}",
    "{% set secret = 1 %}",
    "{% include 'journeys/email/layout.html' %}",
    "{% extends 'base.html' %}",
    "{% import 'x' as y %}",
    "{% macro m() %}{% endmacro %}",
]


@pytest.mark.parametrize("source", ESCAPES)
def test_sandbox_escapes_are_problems_and_leak_nothing(
    organisation: Organisation, source: str, settings: Any
) -> None:
    template = make_template(
        organisation,
        [{"type": "personal", "markdown_de": f"Hallo {source}"}],
    )

    with pytest.raises(TemplateProblem) as raised:
        render(template, make_contact(organisation))
    problems = template_problems(template)

    assert problems
    assert all(p.block == 0 for p in problems)
    for text in [str(raised.value), *map(str, problems)]:
        assert settings.SECRET_KEY not in text
        assert "<class" not in text
        assert "__globals__" not in text or "not allowed" in text or "unknown" in text


def test_unknown_variable_is_reported_with_its_block_and_language(
    organisation: Organisation,
) -> None:
    template = make_template(
        organisation,
        [
            {"type": "heading", "text_de": "Hallo"},
            {
                "type": "text",
                "markdown_de": "Hallo {{ contact.first_name }}",
                "markdown_en": "Hello {{ contact.nickname }}",
            },
        ],
    )

    german = render(template, make_contact(organisation))  # German is fine
    with pytest.raises(TemplateProblem) as raised:
        render(template, make_contact(organisation, language="en"))
    problems = template_problems(template)

    assert "Hallo Anna" in german.text
    assert raised.value.block == 1
    assert raised.value.language == "en"
    assert "contact.nickname" in str(raised.value)
    assert [(p.block, p.language) for p in problems] == [(1, "en")]
    assert "contact.nickname" in str(problems[0])
    assert "Block 2" in str(problems[0])


def test_syntax_error_is_reported_with_its_line(organisation: Organisation) -> None:
    template = make_template(
        organisation,
        [
            {
                "type": "text",
                "markdown_de": "Zeile eins\nZeile zwei {{ contact.first_name ",
                "markdown_en": "Fine",
            }
        ],
    )

    problems = template_problems(template)

    assert len(problems) == 1
    assert problems[0].block == 0
    assert problems[0].language == "de"
    assert "line 2" in str(problems[0])


def test_template_problems_lists_every_problem_at_once(organisation: Organisation) -> None:
    template = make_template(
        organisation,
        [
            {"type": "heading", "text_de": "Hallo {{ kontakt.vorname }}"},
            {"type": "video", "url": "https://example.org/v.mp4"},
            {"type": "image", "url": "https://example.org/b.jpg", "alt_de": ""},
            {"type": "button", "label_de": "Los", "url": "ftp://example.org/datei"},
            {"type": "button", "label_de": "Los", "url": "{{ links.preferences }}"},
            {"type": "events", "limit": 0},
            {"type": "events", "limit": 11},
            {"type": "text", "markdown_de": "{% if contact.first_name %}Hallo"},
        ],
        subject_de="",
        subject_en="Hello",
    )

    problems = template_problems(template)
    described = {(p.block, p.language, p.field) for p in problems}

    assert (None, "de", "subject") in described
    assert (0, "de", "text") in described
    assert (0, "en", "text") in described
    assert (1, "de", "type") in described
    assert (2, "de", "alt") in described
    assert (3, "de", "url") in described
    assert (5, "de", "limit") in described
    assert (6, "de", "limit") in described
    assert (7, "de", "markdown") in described
    assert not any(p.block == 4 for p in problems)  # the preferences link is a web address
    assert "kontakt" in " ".join(str(p) for p in problems if p.block == 0)
    assert "video" in " ".join(str(p) for p in problems if p.block == 1)
    # Problems of the structure are named once, not once per language.
    assert sum(1 for p in problems if p.block == 1) == 1


def test_cosmetic_problems_are_reported_but_do_not_stop_a_mail(organisation: Organisation) -> None:
    for n in range(12):
        make_date(make_item(organisation, f"Führung {n}"), days=n + 1)
    template = make_template(
        organisation,
        [
            {"type": "heading", "text_de": " "},
            {"type": "image", "url": "https://example.org/b.jpg"},
            {"type": "events", "limit": 50},
        ],
        subject_de="",
        subject_en="",
    )

    problems = template_problems(template)
    rendered = render(template, make_contact(organisation))

    assert {(p.block, p.field) for p in problems} == {
        (None, "subject"),
        (0, "text"),
        (1, "alt"),
        (2, "limit"),
    }
    assert rendered.subject == "Stadtmuseum Test"  # the house's name stands in
    assert 'alt=""' in rendered.html
    assert len(re.findall(r"^- Führung", rendered.text, flags=re.MULTILINE)) == 10


def test_parts_that_render_empty_are_left_out(organisation: Organisation) -> None:
    template = make_template(
        organisation,
        [
            {"type": "heading", "text_de": "{% if contact.first_name %}Hallo{% endif %}"},
            {"type": "button", "label_de": "Abmelden", "url": "{{ links.unsubscribe }}"},
            {"type": "text", "markdown_de": "Bis bald."},
        ],
    )

    rendered = render_email(
        template,
        organisation=organisation,
        contact=make_contact(organisation, first_name=""),
        links={"preferences": LINKS["preferences"]},  # a transactional mail: no unsubscribe
    )

    assert "<h2" not in rendered.html
    assert "Abmelden" not in rendered.html
    assert "Bis bald." in rendered.text
    assert template_problems(template) == []


def test_a_good_template_has_no_problems(organisation: Organisation) -> None:
    template = make_template(
        organisation,
        [
            {
                "type": "heading",
                "text_de": "Bis bald, {{ contact.first_name }}",
                "text_en": "See you",
            },
            {
                "type": "text",
                "markdown_de": (
                    "{% if contact.first_name %}Hallo {{ contact.first_name }}"
                    "{% else %}Guten Tag{% endif %}"
                ),
            },
            {"type": "image", "url": "https://example.org/b.jpg", "alt_de": "Foyer"},
            {"type": "button", "label_de": "Einstellungen", "url": "{{ links.preferences }}"},
            {"type": "events", "limit": 10, "match_interests": True},
            {
                "type": "personal",
                "markdown_de": "{{ contact.first_name|default('Gast', true)|upper }}",
            },
            {"type": "occurrence"},
        ],
        subject_de="Ihr Besuch: {{ occurrence.title }}",
    )

    assert template_problems(template) == []


# --- the parts of the mail -----------------------------------------------------------------------


def test_plain_text_has_every_link_and_no_html(organisation: Organisation) -> None:
    make_date(make_item(organisation, "Abendkonzert"), days=3)
    template = make_template(
        organisation,
        [
            {"type": "heading", "text_de": "Hallo"},
            {"type": "text", "markdown_de": "Siehe **[Programm](https://example.org/p?a=1&b=2)**."},
            {"type": "button", "label_de": "Buchen", "url": "https://example.org/buchen"},
            {"type": "events"},
        ],
    )
    rendered = render(template, make_contact(organisation))

    assert not re.search(r"</?[a-z][a-z0-9]*( [^>]*)?>", rendered.text)
    assert "&amp;" not in rendered.text
    for url in [*rendered.links, *LINKS.values()]:
        assert url in rendered.text
    assert "Ihre E-Mail-Einstellungen: " + LINKS["preferences"] in rendered.text
    assert "Abmelden: " + LINKS["unsubscribe"] in rendered.text


def test_links_are_the_web_links_of_the_content_but_not_the_footer(
    organisation: Organisation,
) -> None:
    item = make_item(organisation, "Abendkonzert")
    date = make_date(item, days=3)
    template = make_template(
        organisation,
        [
            {
                "type": "text",
                "markdown_de": "[A](https://example.org/a) [Post](mailto:a@example.org) [A](https://example.org/a)",
            },
            {
                "type": "image",
                "url": "https://example.org/b.jpg",
                "alt_de": "B",
                "link": "https://example.org/b",
            },
            {"type": "button", "label_de": "Abmelden", "url": "{{ links.unsubscribe }}"},
            {"type": "button", "label_de": "C", "url": "http://example.org/c"},
            {"type": "events"},
        ],
    )

    rendered = render(template, make_contact(organisation))

    assert rendered.links[:3] == [
        "https://example.org/a",
        "https://example.org/b",
        "http://example.org/c",
    ]
    assert len(rendered.links) == 4
    assert rendered.links[3].endswith(f"/{organisation.slug}/programme/{item.slug}/#date-{date.pk}")
    assert LINKS["unsubscribe"] in rendered.html  # the button is there, but not tracked


def test_rewrite_links_changes_content_links_in_both_parts(organisation: Organisation) -> None:
    template = make_template(
        organisation,
        [
            {
                "type": "text",
                "markdown_de": "[A](https://example.org/a?x=1&y=2) und https://example.org/a?x=1&y=2",
            },
            {"type": "button", "label_de": "B", "url": "https://example.org/b"},
        ],
    )
    rendered = render(template, make_contact(organisation))

    tracking = {
        "https://example.org/a?x=1&y=2": "https://t.example/c?n=1&s=x",
        "https://example.org/b": "https://t.example/c?n=2&s=y",
    }
    assert rendered.links == list(tracking)

    tracked = rewrite_links(rendered, tracking.__getitem__)

    assert tracked.html.count('href="https://t.example/c?n=1&amp;s=x"') == 1
    assert 'href="https://t.example/c?n=2&amp;s=y"' in tracked.html
    assert 'href="https://example.org/' not in tracked.html
    assert "A (https://t.example/c?n=1&s=x)" in tracked.text
    assert "B: https://t.example/c?n=2&s=y" in tracked.text
    assert f'href="{LINKS["unsubscribe"]}"' in tracked.html  # footer untouched
    assert tracked.links == list(tracking.values())


def test_html_layout_has_preheader_organisation_and_footer(organisation: Organisation) -> None:
    template = make_template(organisation, [{"type": "text", "markdown_de": "Hallo"}])

    rendered = render(template, make_contact(organisation))

    assert rendered.html.startswith("<!DOCTYPE html>")
    assert 'lang="de"' in rendered.html
    assert "max-width:600px" in rendered.html
    assert re.search(
        r'<div style="display:none;[^"]*">Neues aus dem Stadtmuseum Test', rendered.html
    )
    assert "Stadtmuseum Test" in visible_text(rendered.html)
    assert f'<a href="{LINKS["preferences"]}"' in rendered.html
    assert re.search(
        rf'<a href="{re.escape(LINKS["unsubscribe"])}"[^>]*>Abmelden</a>', rendered.html
    )
    assert "Neues aus dem" not in rendered.text  # the preheader belongs to the inbox list


def test_an_empty_footer_link_is_left_out(organisation: Organisation) -> None:
    template = make_template(organisation, [{"type": "text", "markdown_de": "Hallo"}])

    rendered = render_email(
        template,
        organisation=organisation,
        contact=make_contact(organisation),
        links={"preferences": LINKS["preferences"]},
    )

    assert "Abmelden" not in rendered.html
    assert "Abmelden" not in rendered.text
    assert "Ihre E-Mail-Einstellungen" in rendered.text


def test_without_links_the_footer_points_to_the_contacts_own_pages(
    organisation: Organisation, client: Any
) -> None:
    contact = make_contact(organisation)
    template = make_template(organisation, [{"type": "text", "markdown_de": "Hallo"}])

    rendered = render_email(template, organisation=organisation, contact=contact)

    preferences = re.search(r"Ihre E-Mail-Einstellungen: (\S+)", rendered.text)
    unsubscribe = re.search(r"Abmelden: (\S+)", rendered.text)
    assert preferences
    assert unsubscribe
    assert f'href="{preferences.group(1)}"' in rendered.html
    page = client.get(urlsplit(preferences.group(1)).path, HTTP_ACCEPT_LANGUAGE="de")
    assert page.status_code == 200
    assert "Ihre E-Mail-Einstellungen" in page.content.decode()
    one_click = client.get(urlsplit(unsubscribe.group(1)).path)
    assert one_click.status_code == 200
    # Both links belong to this contact.
    token = urlsplit(preferences.group(1)).path.rstrip("/").rsplit("/", 1)[1]
    assert consent.contact_from_preference_token(organisation=organisation, token=token) == contact


def test_a_template_of_another_organisation_is_refused(
    organisation: Organisation, other_organisation: Organisation
) -> None:
    template = make_template(other_organisation, [{"type": "text", "markdown_de": "Hallo"}])

    with pytest.raises(ValueError, match="belong together"):
        render_email(template, organisation=organisation, contact=make_contact(organisation))


def test_preview_uses_a_sample_person_and_a_sample_date(organisation: Organisation) -> None:
    template = make_template(
        organisation,
        [
            {"type": "personal", "markdown_de": "Hallo {{ contact.first_name }}"},
            {"type": "occurrence"},
        ],
        kind=MessageKind.TRANSACTIONAL,
    )

    preview = render_preview(template, language="en")

    assert preview.language == "en"
    assert "Hallo Erika" in preview.text
    assert "Sample tour 1" in preview.text
