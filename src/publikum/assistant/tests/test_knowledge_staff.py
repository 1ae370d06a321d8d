"""The staff pages of the assistant's knowledge: roles, validation, isolation, escaping."""

from __future__ import annotations

from datetime import date, time

import pytest
from django.test import Client

from conftest import make_member
from publikum.assistant import knowledge
from publikum.assistant.models import (
    AssistantSettings,
    HolidayRule,
    KnowledgeEntry,
    OpeningException,
    OpeningHours,
    PersonalTopic,
    PriceEntry,
)
from publikum.core.models import AuditEntry, Organisation, Role

pytestmark = pytest.mark.django_db

ENTRY = {
    "topic": "facilities",
    "key": "lockers",
    "question_de": "Gibt es Schließfächer?",
    "answer_de": "Ja, im Untergeschoss, Pfand 1 €.",
    "phrases_de": "Spind\nSchliessfach",
    "question_en": "Are there lockers?",
    "answer_en": "Yes, downstairs, €1 deposit.",
    "phrases_en": "luggage",
    "active": "on",
}


def client_for(organisation: Organisation, role: str) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(make_member(organisation, role))
    return client


def base(organisation: Organisation) -> str:
    return f"/o/{organisation.slug}/assistant"


def test_overview_shows_counts_and_the_widget_snippet(organisation) -> None:
    knowledge.entry_create(organisation=organisation, data={**ENTRY, "active": True})
    client = client_for(organisation, Role.VIEWER)
    html = client.get(f"{base(organisation)}/").content.decode()
    assert 'data-testid="count-entries">1<' in html
    assert (
        f"&lt;script src=&quot;http://testserver/{organisation.slug}/assistant.js&quot; defer"
        in html
    )
    assert f'href="http://testserver/{organisation.slug}/assistant/"' in html
    # The side navigation has the entry.
    assert f'href="/o/{organisation.slug}/assistant/"' in html


def test_editor_creates_edits_and_deletes_an_entry(organisation) -> None:
    client = client_for(organisation, Role.EDITOR)
    response = client.post(f"{base(organisation)}/entries/new/", ENTRY)
    assert response.status_code == 302
    entry = KnowledgeEntry.objects.get(organisation=organisation, key="lockers")
    assert entry.phrases_de == "Spind\nSchliessfach"
    assert entry.active

    html = client.get(f"{base(organisation)}/entries/?q=Spind").content.decode()
    assert "Gibt es Schließfächer?" in html
    html = client.get(f"{base(organisation)}/entries/?topic=address").content.decode()
    assert "Gibt es Schließfächer?" not in html

    changed = {**ENTRY, "answer_de": "Ja, 80 Stück.", "active": ""}
    assert client.post(f"{base(organisation)}/entries/{entry.pk}/", changed).status_code == 302
    entry.refresh_from_db()
    assert (entry.answer_de, entry.active) == ("Ja, 80 Stück.", False)

    assert client.get(f"{base(organisation)}/entries/{entry.pk}/delete/").status_code == 200
    assert client.post(f"{base(organisation)}/entries/{entry.pk}/delete/").status_code == 302
    assert not KnowledgeEntry.objects.filter(pk=entry.pk).exists()
    actions = list(
        AuditEntry.objects.filter(organisation=organisation, action__startswith="assistant.entry")
        .order_by("pk")
        .values_list("action", flat=True)
    )
    assert actions == [
        "assistant.entry.created",
        "assistant.entry.updated",
        "assistant.entry.deleted",
    ]


def test_entry_form_errors_are_clear(organisation) -> None:
    knowledge.entry_create(organisation=organisation, data={**ENTRY, "active": True})
    client = client_for(organisation, Role.EDITOR)
    response = client.post(
        f"{base(organisation)}/entries/new/",
        {**ENTRY, "question_de": "", "answer_en": "Only English answer", "question_en": ""},
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "This field is required." in html
    assert "Give the English question too." in html
    assert "Another entry has this key." not in html  # the form stopped before the service

    response = client.post(
        f"{base(organisation)}/entries/new/", {**ENTRY, "question_de": "Noch eins"}
    )
    assert "Another entry has this key." in response.content.decode()
    response = client.post(f"{base(organisation)}/entries/new/", {**ENTRY, "key": "Schließ fach"})
    assert "Use only lowercase letters" in response.content.decode()
    assert KnowledgeEntry.objects.filter(organisation=organisation).count() == 1


def test_viewer_reads_but_cannot_write(organisation) -> None:
    entry = knowledge.entry_create(organisation=organisation, data={**ENTRY, "active": True})
    client = client_for(organisation, Role.VIEWER)
    html = client.get(f"{base(organisation)}/entries/").content.decode()
    assert "Gibt es Schließfächer?" in html
    assert "/entries/new/" not in html
    assert client.get(f"{base(organisation)}/entries/new/").status_code == 403
    assert client.post(f"{base(organisation)}/entries/{entry.pk}/delete/").status_code == 403
    assert client.post(f"{base(organisation)}/hours/", {}).status_code == 403
    assert client.post(f"{base(organisation)}/settings/", {}).status_code == 403
    assert KnowledgeEntry.objects.filter(pk=entry.pk).exists()


def test_member_of_another_house_gets_404(organisation, other_organisation) -> None:
    entry = knowledge.entry_create(organisation=organisation, data={**ENTRY, "active": True})
    price = knowledge.price_create(
        organisation=organisation, data={"label_de": "Erwachsene", "amount_eur": "9"}
    )
    stranger = client_for(other_organisation, Role.OWNER)
    assert stranger.get(f"{base(organisation)}/").status_code == 404
    assert stranger.get(f"{base(organisation)}/entries/").status_code == 404
    # Their own pages, but our ids: 404 too.
    theirs = base(other_organisation)
    assert stranger.get(f"{theirs}/entries/{entry.pk}/").status_code == 404
    assert stranger.post(f"{theirs}/entries/{entry.pk}/delete/").status_code == 404
    assert stranger.post(f"{theirs}/prices/{price.pk}/delete/").status_code == 404
    assert KnowledgeEntry.objects.filter(pk=entry.pk).exists()
    assert PriceEntry.objects.filter(pk=price.pk).exists()


def test_entry_text_is_escaped_in_the_staff_list(organisation) -> None:
    payload = '<script>alert("x")</script>'
    knowledge.entry_create(
        organisation=organisation,
        data={**ENTRY, "question_de": f"Frage {payload}", "answer_de": payload, "active": True},
    )
    html = (
        client_for(organisation, Role.VIEWER).get(f"{base(organisation)}/entries/").content.decode()
    )
    assert payload not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html


def _week_post(rows: dict[int, tuple[str, str, str, str]], rule: str = "sunday") -> dict[str, str]:
    data = {
        "days-TOTAL_FORMS": "7",
        "days-INITIAL_FORMS": "7",
        "days-MIN_NUM_FORMS": "7",
        "days-MAX_NUM_FORMS": "7",
        "holiday_rule": rule,
    }
    for day in range(7):
        opens_1, closes_1, opens_2, closes_2 = rows.get(day, ("", "", "", ""))
        data |= {
            f"days-{day}-opens_1": opens_1,
            f"days-{day}-closes_1": closes_1,
            f"days-{day}-opens_2": opens_2,
            f"days-{day}-closes_2": closes_2,
        }
    return data


def test_editor_sets_the_week_with_a_midday_break_and_the_holiday_rule(organisation) -> None:
    client = client_for(organisation, Role.EDITOR)
    rows = {1: ("10:00", "13:00", "14:00", "18:00"), 3: ("10:00", "20:00", "", "")}
    response = client.post(f"{base(organisation)}/hours/", _week_post(rows, "closed"))
    assert response.status_code == 302
    week = knowledge.week_of(organisation)
    assert week[1] == [(time(10), time(13)), (time(14), time(18))]
    assert week[3] == [(time(10), time(20))]
    assert week[0] == []
    assert AssistantSettings.objects.get(organisation=organisation).holiday_rule == "closed"
    html = client.get(f"{base(organisation)}/hours/").content.decode()
    assert 'value="14:00"' in html


def test_week_errors_name_the_day_and_change_nothing(organisation) -> None:
    OpeningHours.objects.create(
        organisation=organisation, weekday=2, opens=time(9), closes=time(17)
    )
    client = client_for(organisation, Role.EDITOR)
    rows = {
        1: ("18:00", "10:00", "", ""),  # closes before it opens
        2: ("10:00", "", "", ""),  # half a span
        4: ("10:00", "14:00", "13:00", "18:00"),  # overlapping spans
        5: ("25:00", "26:00", "", ""),  # no time
    }
    response = client.post(f"{base(organisation)}/hours/", _week_post(rows))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Must be after the opening time." in html
    assert "Give both times, or neither." in html
    assert "The two spans overlap." in html
    assert "Enter a valid time." in html
    assert knowledge.week_of(organisation)[2] == [(time(9), time(17))]


def test_exceptions_crud_and_validation(organisation) -> None:
    client = client_for(organisation, Role.EDITOR)
    url = f"{base(organisation)}/hours/exceptions/new/"
    response = client.post(url, {"date": "2030-12-24", "closed": "on", "note_de": "Heiligabend"})
    assert response.status_code == 302
    row = OpeningException.objects.get(organisation=organisation)
    assert (row.date, row.closed) == (date(2030, 12, 24), True)

    response = client.post(url, {"date": "2030-12-24", "closed": "on"})
    assert "There is already an exception for this date." in response.content.decode()
    response = client.post(url, {"date": "2031-01-01", "opens": "18:00", "closes": "12:00"})
    assert "Must be after the opening time." in response.content.decode()
    response = client.post(url, {"date": "2031-01-01"})
    assert "Give the time, or tick" in response.content.decode()
    response = client.post(url, {"date": "gestern", "closed": "on"})
    assert "Enter a valid date." in response.content.decode()

    edit = f"{base(organisation)}/hours/exceptions/{row.pk}/"
    response = client.post(
        edit, {"date": "2030-12-24", "opens": "10:00", "closes": "14:00", "note_de": "Heiligabend"}
    )
    assert response.status_code == 302
    row.refresh_from_db()
    assert (row.closed, row.opens, row.closes) == (False, time(10), time(14))
    html = client.get(f"{base(organisation)}/hours/").content.decode()
    assert "Heiligabend" in html
    assert client.post(f"{edit}delete/").status_code == 302
    assert not OpeningException.objects.filter(organisation=organisation).exists()


def test_prices_crud_and_validation(organisation) -> None:
    client = client_for(organisation, Role.EDITOR)
    url = f"{base(organisation)}/prices/new/"
    response = client.post(url, {"label_de": "Erwachsene", "amount_eur": "9", "position": "0"})
    assert response.status_code == 302
    price = PriceEntry.objects.get(organisation=organisation)
    response = client.post(url, {"label_de": "", "amount_eur": "-1", "position": "0"})
    html = response.content.decode()
    assert "This field is required." in html
    assert "Ensure this value is greater than or equal to 0." in html
    response = client.post(
        f"{base(organisation)}/prices/{price.pk}/",
        {"label_de": "Erwachsene", "amount_eur": "9.50", "position": "1"},
    )
    assert response.status_code == 302
    price.refresh_from_db()
    assert str(price.amount_eur) == "9.50"
    assert "9.50 €" in client.get(f"{base(organisation)}/prices/").content.decode()
    assert client.post(f"{base(organisation)}/prices/{price.pk}/delete/").status_code == 302
    assert not PriceEntry.objects.filter(organisation=organisation).exists()


def test_personal_topics_crud(organisation) -> None:
    client = client_for(organisation, Role.EDITOR)
    url = f"{base(organisation)}/topics/new/"
    response = client.post(url, {"name_de": "Spenden", "phrases": "spende\n\n  donation  \n"})
    assert response.status_code == 302
    topic = PersonalTopic.objects.get(organisation=organisation)
    assert topic.phrases == "spende\ndonation"
    response = client.post(url, {"name_de": "Leer", "phrases": "  \n "})
    assert "This field is required." in response.content.decode()
    response = client.post(
        f"{base(organisation)}/topics/{topic.pk}/",
        {"name_de": "Spenden", "name_en": "Donations", "phrases": "spende\nlegacy"},
    )
    assert response.status_code == 302
    topic.refresh_from_db()
    assert topic.name_en == "Donations"
    assert client.post(f"{base(organisation)}/topics/{topic.pk}/delete/").status_code == 302
    assert not PersonalTopic.objects.filter(organisation=organisation).exists()


SETTINGS = {
    "enabled": "on",
    "greeting_de": "Hallo!",
    "greeting_en": "Hello!",
    "reply_time_de": "innerhalb eines Tages",
    "reply_time_en": "within a day",
    "synonyms": "Kasse, Ticketschalter\n# a comment\nGarderobe, Kleiderablage",
}


def test_synonyms_are_checked_line_by_line(organisation) -> None:
    client = client_for(organisation, Role.MANAGER)
    url = f"{base(organisation)}/settings/"
    bad = "Kasse, Ticketschalter\nGarderobe\nSpind,, Locker\nKasse, kasse"
    response = client.post(url, {**SETTINGS, "synonyms": bad})
    html = response.content.decode()
    assert "Line 2: a group needs at least two words, separated by commas." in html
    assert "Line 3: an empty word between commas." in html
    assert "Line 4: a word appears twice." in html
    assert "Line 1" not in html
    assert client.post(url, SETTINGS).status_code == 302
    settings = AssistantSettings.objects.get(organisation=organisation)
    assert settings.synonyms == SETTINGS["synonyms"]
    assert settings.greeting_en == "Hello!"
    html = client.get(url).content.decode()
    assert "publikum assistant evaluate --calibrate" in html


def test_only_managers_switch_the_assistant_and_change_greetings(organisation) -> None:
    AssistantSettings.objects.create(organisation=organisation, greeting_de="Alt")
    client = client_for(organisation, Role.EDITOR)
    response = client.post(
        f"{base(organisation)}/settings/",
        {**SETTINGS, "enabled": "", "greeting_de": "Neu", "synonyms": "Rollstuhl, Rolli"},
    )
    assert response.status_code == 302
    settings = AssistantSettings.objects.get(organisation=organisation)
    # The editor's synonyms are saved; switching off and the greeting are not theirs.
    assert settings.synonyms == "Rollstuhl, Rolli"
    assert settings.enabled is True
    assert settings.greeting_de == "Alt"
    assert settings.holiday_rule == HolidayRule.SUNDAY
