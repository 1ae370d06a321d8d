"""/api/v1/knowledge: entries, opening hours, exceptions, prices and personal topics."""

from __future__ import annotations

import json
from datetime import date, time
from typing import Any

import pytest
from django.test import Client

from conftest import make_token
from publikum.assistant import knowledge
from publikum.assistant.models import (
    AssistantSettings,
    KnowledgeEntry,
    OpeningException,
    PriceEntry,
)
from publikum.core.models import AuditEntry, Organisation, Role

pytestmark = pytest.mark.django_db

ENTRY = {
    "key": "lockers",
    "topic": "facilities",
    "question_de": "Gibt es Schließfächer?",
    "question_en": "Are there lockers?",
    "answer_de": "Ja, im Untergeschoss.",
    "answer_en": "Yes, downstairs.",
    "phrases_de": ["Spind", "Schliessfach"],
    "phrases_en": ["luggage storage"],
}


class Api:
    def __init__(self, organisation: Organisation, role: str) -> None:
        self.client = Client(HTTP_AUTHORIZATION=f"Bearer {make_token(organisation, role)}")

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        response = self.client.generic(
            method,
            f"/api/v1{path}",
            data=json.dumps(body) if body is not None else "",
            content_type="application/json",
        )
        content = response.content.decode()
        return response.status_code, json.loads(content) if content else None


def test_entry_crud_with_audit(organisation) -> None:
    api = Api(organisation, Role.EDITOR)
    status, created = api.call("POST", "/knowledge", ENTRY)
    assert status == 201
    assert created["key"] == "lockers"
    assert created["phrases_de"] == ["Spind", "Schliessfach"]
    assert created["active"] is True
    entry_id = created["id"]

    status, listed = api.call("GET", "/knowledge?topic=facilities")
    assert status == 200
    assert [e["id"] for e in listed["items"]] == [entry_id]
    assert api.call("GET", "/knowledge?topic=address")[1]["items"] == []
    assert api.call("GET", "/knowledge?q=Spind")[1]["count"] == 1

    status, patched = api.call(
        "PATCH", f"/knowledge/{entry_id}", {"answer_de": "Ja, 80.", "phrases_en": []}
    )
    assert status == 200
    assert patched["answer_de"] == "Ja, 80."
    assert patched["phrases_en"] == []
    assert patched["question_de"] == ENTRY["question_de"]
    assert api.call("GET", f"/knowledge/{entry_id}")[1]["answer_de"] == "Ja, 80."

    status, _ = api.call("DELETE", f"/knowledge/{entry_id}")
    assert status == 204
    assert api.call("GET", f"/knowledge/{entry_id}")[0] == 404
    actions = set(
        AuditEntry.objects.filter(organisation=organisation).values_list("action", flat=True)
    )
    assert {
        "assistant.entry.created",
        "assistant.entry.updated",
        "assistant.entry.deleted",
    } <= actions
    audited = AuditEntry.objects.get(organisation=organisation, action="assistant.entry.created")
    assert audited.actor_token is not None


def test_entry_validation_errors_name_the_fields(organisation) -> None:
    api = Api(organisation, Role.EDITOR)
    status, body = api.call("POST", "/knowledge", {**ENTRY, "question_de": "  ", "key": "Bad Key"})
    assert status == 422
    assert set(body["error"]["fields"]) == {"question_de", "key"}
    status, body = api.call("POST", "/knowledge", {**ENTRY, "colour": "red"})
    assert status == 422
    assert body["error"]["fields"] == {"colour": ["unknown field"]}
    status, body = api.call("POST", "/knowledge", {**ENTRY, "topic": "weather"})
    assert status == 422
    assert "topic" in body["error"]["fields"]
    status, body = api.call("POST", "/knowledge", {**ENTRY, "phrases_de": ["a\nb"]})
    assert status == 422
    assert "phrases_de" in body["error"]["fields"]
    assert api.call("POST", "/knowledge", ENTRY)[0] == 201
    status, body = api.call("POST", "/knowledge", ENTRY)
    assert status == 409
    assert body["error"]["fields"] == {"key": ["Another entry has this key."]}
    status, body = api.call(
        "PATCH", f"/knowledge/{KnowledgeEntry.objects.get().pk}", {"answer_de": None}
    )
    assert status == 422
    assert "answer_de" in body["error"]["fields"]
    assert KnowledgeEntry.objects.count() == 1


def test_viewer_reads_and_cannot_write(organisation) -> None:
    entry = knowledge.entry_create(
        organisation=organisation, data={**ENTRY, "phrases_de": "", "phrases_en": ""}
    )
    price = knowledge.price_create(
        organisation=organisation, data={"label_de": "Erwachsene", "amount_eur": "9"}
    )
    api = Api(organisation, Role.VIEWER)
    assert api.call("GET", f"/knowledge/{entry.pk}")[0] == 200
    assert api.call("GET", "/knowledge/prices")[0] == 200
    assert api.call("GET", "/knowledge/opening-hours")[0] == 200
    assert api.call("POST", "/knowledge", ENTRY)[0] == 403
    assert api.call("PATCH", f"/knowledge/{entry.pk}", {"active": False})[0] == 403
    assert api.call("DELETE", f"/knowledge/{entry.pk}")[0] == 403
    assert api.call("DELETE", f"/knowledge/prices/{price.pk}")[0] == 403
    assert api.call("PUT", "/knowledge/opening-hours", {"days": []})[0] == 403
    entry.refresh_from_db()
    assert entry.active
    assert PriceEntry.objects.filter(pk=price.pk).exists()


def test_another_houses_ids_are_404(organisation, other_organisation) -> None:
    entry = knowledge.entry_create(
        organisation=organisation, data={**ENTRY, "phrases_de": "", "phrases_en": ""}
    )
    price = knowledge.price_create(
        organisation=organisation, data={"label_de": "Erwachsene", "amount_eur": "9"}
    )
    row = knowledge.exception_create(organisation=organisation, data={"date": date(2030, 12, 24)})
    stranger = Api(other_organisation, Role.OWNER)
    assert stranger.call("GET", f"/knowledge/{entry.pk}")[0] == 404
    assert stranger.call("PATCH", f"/knowledge/{entry.pk}", {"active": False})[0] == 404
    assert stranger.call("DELETE", f"/knowledge/{entry.pk}")[0] == 404
    assert stranger.call("PATCH", f"/knowledge/prices/{price.pk}", {"position": 3})[0] == 404
    assert stranger.call("DELETE", f"/knowledge/exceptions/{row.pk}")[0] == 404
    assert stranger.call("GET", "/knowledge")[1]["items"] == []
    assert stranger.call("GET", "/knowledge/prices")[1] == []
    assert KnowledgeEntry.objects.filter(pk=entry.pk, active=True).exists()
    assert OpeningException.objects.filter(pk=row.pk).exists()


def span(opens: str, closes: str) -> dict[str, str]:
    return {"opens": opens, "closes": closes}


def test_opening_hours_put_replaces_the_week(organisation) -> None:
    api = Api(organisation, Role.EDITOR)
    week = {
        "days": [
            {"weekday": 1, "spans": [span("10:00", "13:00"), span("14:00", "18:00")]},
            {"weekday": 3, "spans": [span("10:00", "20:00")]},
        ],
        "holiday_rule": "closed",
    }
    status, body = api.call("PUT", "/knowledge/opening-hours", week)
    assert status == 200
    assert body["holiday_rule"] == "closed"
    assert body["days"][1] == {
        "weekday": 1,
        "name": "tuesday",
        "spans": [span("10:00:00", "13:00:00"), span("14:00:00", "18:00:00")],
    }
    assert body["days"][0]["spans"] == []
    assert knowledge.week_of(organisation)[3] == [(time(10), time(20))]
    assert AssistantSettings.objects.get(organisation=organisation).holiday_rule == "closed"
    assert api.call("GET", "/knowledge/opening-hours")[1] == body

    bad = {"days": [{"weekday": 2, "spans": [{"opens": "18:00", "closes": "10:00"}]}]}
    status, body = api.call("PUT", "/knowledge/opening-hours", bad)
    assert status == 422
    assert "days.2" in body["error"]["fields"]
    overlap = {"days": [{"weekday": 2, "spans": [span("10:00", "14:00"), span("13:00", "18:00")]}]}
    assert api.call("PUT", "/knowledge/opening-hours", overlap)[0] == 422
    twice = {"days": [{"weekday": 2, "spans": []}, {"weekday": 2, "spans": []}]}
    assert api.call("PUT", "/knowledge/opening-hours", twice)[0] == 422
    assert api.call("PUT", "/knowledge/opening-hours", {"days": [{"weekday": 7}]})[0] == 422
    # Nothing of the bad requests was written.
    assert knowledge.week_of(organisation)[1] == [(time(10), time(13)), (time(14), time(18))]


def test_exceptions_create_list_patch_delete(organisation) -> None:
    api = Api(organisation, Role.EDITOR)
    status, row = api.call(
        "POST", "/knowledge/exceptions", {"date": "2030-12-24", "note_de": "Heiligabend"}
    )
    assert status == 201
    assert (row["closed"], row["opens"]) == (True, None)
    status, body = api.call("POST", "/knowledge/exceptions", {"date": "2030-12-24"})
    assert status == 409
    assert "date" in body["error"]["fields"]
    status, body = api.call(
        "POST", "/knowledge/exceptions", {"date": "2031-01-01", "closed": False, "opens": "12:00"}
    )
    assert status == 422
    assert "closes" in body["error"]["fields"]
    status, body = api.call(
        "POST",
        "/knowledge/exceptions",
        {"date": "2031-01-01", "closed": False, "opens": "12:00", "closes": "18:00"},
    )
    assert status == 201
    assert [r["date"] for r in api.call("GET", "/knowledge/exceptions")[1]] == [
        "2030-12-24",
        "2031-01-01",
    ]
    assert [r["date"] for r in api.call("GET", "/knowledge/exceptions?from=2031-01-01")[1]] == [
        "2031-01-01"
    ]
    status, patched = api.call(
        "PATCH", f"/knowledge/exceptions/{row['id']}", {"note_en": "Christmas Eve"}
    )
    assert status == 200
    assert (patched["note_de"], patched["note_en"]) == ("Heiligabend", "Christmas Eve")
    assert api.call("DELETE", f"/knowledge/exceptions/{row['id']}")[0] == 204
    assert OpeningException.objects.filter(organisation=organisation).count() == 1


def test_prices_crud_and_validation(organisation) -> None:
    api = Api(organisation, Role.EDITOR)
    status, price = api.call(
        "POST", "/knowledge/prices", {"label_de": "Erwachsene", "amount_eur": "9.00"}
    )
    assert status == 201
    assert price["amount_eur"] == "9.00"
    status, body = api.call("POST", "/knowledge/prices", {"label_de": "Minus", "amount_eur": "-1"})
    assert status == 422
    assert "amount_eur" in body["error"]["fields"]
    status, body = api.call("POST", "/knowledge/prices", {"label_de": " ", "amount_eur": "1.234"})
    assert status == 422
    assert set(body["error"]["fields"]) == {"label_de", "amount_eur"}
    status, patched = api.call("PATCH", f"/knowledge/prices/{price['id']}", {"amount_eur": "9.5"})
    assert status == 200
    assert patched["amount_eur"] == "9.50"
    assert patched["label_de"] == "Erwachsene"
    assert api.call("GET", "/knowledge/prices")[1][0]["amount_eur"] == "9.50"
    assert api.call("DELETE", f"/knowledge/prices/{price['id']}")[0] == 204
    assert api.call("GET", "/knowledge/prices")[1] == []


def test_personal_topics(organisation) -> None:
    api = Api(organisation, Role.EDITOR)
    status, topic = api.call(
        "POST",
        "/knowledge/personal-topics",
        {"name_de": "Presse", "phrases": ["presse", "journalist"]},
    )
    assert status == 201
    assert topic["phrases"] == ["presse", "journalist"]
    assert (
        api.call("POST", "/knowledge/personal-topics", {"name_de": "Leer", "phrases": []})[0] == 422
    )
    status, topic = api.call(
        "PUT",
        f"/knowledge/personal-topics/{topic['id']}",
        {"name_de": "Presse", "name_en": "Press", "phrases": ["presse"]},
    )
    assert status == 200
    assert topic["name_en"] == "Press"
    assert api.call("DELETE", f"/knowledge/personal-topics/{topic['id']}")[0] == 204
