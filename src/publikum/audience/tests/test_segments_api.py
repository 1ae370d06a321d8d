"""The segments API over real HTTP: create from a rule tree, count, list contacts, errors."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from conftest import ApiClient
from publikum.audience.models import Contact, Segment
from publikum.audience.services import consent_set, contact_create, interaction_record
from publikum.core.models import AuditEntry, Organisation, Role
from publikum.programme.models import Theme

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(api: Callable[[str | None], ApiClient]) -> Callable[[str | None], ApiClient]:
    """The root fixture's client, asking for English messages (German is the default)."""

    def make(token: str | None = None) -> ApiClient:
        client = api(token)
        client.session.headers["Accept-Language"] = "en"
        return client

    return make


LOYAL_EN = {
    "all": [
        {"field": "language", "op": "eq", "value": "en"},
        {"activity": "visit", "min": 2, "months": 12},
    ]
}


def people(organisation: Organisation) -> dict[str, Contact]:
    """Four people: who visited how often, in which language, with which consent."""
    now = timezone.now()
    made = {}
    for name, language, visits in (
        ("Ada", "en", 3),
        ("Ben", "en", 1),
        ("Cem", "de", 4),
        ("Dora", "en", 2),
    ):
        contact = contact_create(
            organisation=organisation,
            first_name=name,
            email=f"{name.lower()}@example.org",
            language=language,
        )
        for n in range(visits):
            interaction_record(
                contact=contact, kind="visit", occurred_at=now - timedelta(days=30 * n + 5)
            )
        made[name] = contact
    consent_set(
        contact=made["Ada"], channel="email", purpose="newsletter", granted=True, source="test"
    )
    return made


@pytest.fixture
def editor_token(organisation: Organisation, token_factory) -> str:
    return token_factory(organisation, Role.EDITOR)


def loyal_en(made: dict[str, Contact]) -> set[int]:
    # Language en and at least two visits in twelve months: from the data above.
    return {made["Ada"].pk, made["Dora"].pk}


def test_create_a_segment_count_it_and_list_its_contacts(api, organisation, token_factory) -> None:
    made = people(organisation)
    client = api(token_factory(organisation, Role.EDITOR))

    created = client.post(
        "/segments", json={"name": "Loyal English", "description": "Tours", "rules": LOYAL_EN}
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["name"] == "Loyal English"
    assert body["rules"] == LOYAL_EN
    segment_id = body["id"]

    assert client.get(f"/segments/{segment_id}").json()["rules"] == LOYAL_EN
    listed = client.get("/segments").json()
    assert [s["id"] for s in listed["items"]] == [segment_id]

    count = client.get(f"/segments/{segment_id}/count")
    assert count.status_code == 200
    assert count.json() == {"count": len(loyal_en(made))}

    contacts = client.get(f"/segments/{segment_id}/contacts").json()
    assert contacts["count"] == 2
    assert {c["id"] for c in contacts["items"]} == loyal_en(made)
    # The same representation as /contacts.
    ada = next(c for c in contacts["items"] if c["id"] == made["Ada"].pk)
    assert ada == client.get(f"/contacts/{made['Ada'].pk}").json()

    audit = AuditEntry.objects.get(organisation=organisation, action="audience.segment.created")
    assert audit.actor_label.startswith("token ")


def test_contacts_of_a_segment_are_paginated(api, organisation, token_factory) -> None:
    for n in range(7):
        contact_create(organisation=organisation, last_name=f"P{n}", tags=["seite"])
    segment = Segment.objects.create(organisation=organisation, name="S", rules={"tag": "seite"})
    client = api(token_factory(organisation, Role.VIEWER))
    ids = sorted(Contact.objects.filter(organisation=organisation).values_list("pk", flat=True))

    first = client.get(f"/segments/{segment.pk}/contacts", params={"limit": 3}).json()
    last = client.get(f"/segments/{segment.pk}/contacts", params={"limit": 3, "offset": 6}).json()
    assert first["count"] == last["count"] == 7
    assert [c["id"] for c in first["items"]] == ids[:3]
    assert [c["id"] for c in last["items"]] == ids[6:]


def test_count_an_unsaved_tree(api, organisation, token_factory) -> None:
    made = people(organisation)
    client = api(token_factory(organisation, Role.VIEWER))
    answer = client.post("/segments/count", json={"rules": LOYAL_EN})
    assert answer.status_code == 200
    assert answer.json() == {"count": len(loyal_en(made))}
    consented = client.post(
        "/segments/count",
        json={"rules": {"consent": {"channel": "email", "purpose": "newsletter"}}},
    )
    assert consented.json() == {"count": 1}
    assert not Segment.objects.exists()


@pytest.mark.parametrize(
    ("rules", "path", "words"),
    [
        (
            {"all": [{"tag": "a"}, {"any": [{"field": "colour", "op": "eq", "value": "x"}]}]},
            "rules.all[1].any[0]",
            "unknown field",
        ),
        ({"all": [{"field": "language", "op": "like", "value": "e"}]}, "rules.all[0]", "operator"),
        ({"not": {"in_segment": "twelve"}}, "rules.not", "id of a segment"),
        ({"all": [{"interest": "nicht-da"}]}, "rules.all[0]", "unknown theme"),
    ],
)
def test_an_invalid_tree_is_422_naming_the_node(
    api, editor_token: str, rules: Any, path: str, words: str
) -> None:
    client = api(editor_token)
    for response in (
        client.post("/segments", json={"name": "Kaputt", "rules": rules}),
        client.post("/segments/count", json={"rules": rules}),
    ):
        assert response.status_code == 422, response.text
        error = response.json()["error"]
        assert error["code"] == "validation_error"
        assert path in error["message"]
        assert words in " ".join(error["fields"][path])
    assert not Segment.objects.exists()


def test_too_deep_and_too_many_rules_are_422(api, organisation, token_factory) -> None:
    client = api(token_factory(organisation, Role.EDITOR))
    deep: dict[str, Any] = {"tag": "x"}
    for _ in range(7):
        deep = {"any": [deep]}
    too_deep = client.post("/segments", json={"name": "Tief", "rules": deep})
    assert too_deep.status_code == 422
    assert "deeper than 6" in too_deep.json()["error"]["message"]
    many = client.post("/segments", json={"name": "Viel", "rules": {"any": [{"tag": "x"}] * 101}})
    assert many.status_code == 422
    assert "more than 100" in many.json()["error"]["message"]


def test_unknown_body_fields_are_rejected(api, organisation, token_factory) -> None:
    client = api(token_factory(organisation, Role.EDITOR))
    response = client.post("/segments", json={"name": "X", "rules": {"all": []}, "colour": "red"})
    assert response.status_code == 422
    assert response.json()["error"]["fields"] == {"colour": ["unknown field"]}


def test_change_and_delete_a_segment(api, organisation, token_factory) -> None:
    made = people(organisation)
    client = api(token_factory(organisation, Role.EDITOR))
    segment_id = client.post("/segments", json={"name": "A", "rules": {"all": []}}).json()["id"]
    changed = client.patch(f"/segments/{segment_id}", json={"rules": LOYAL_EN, "name": "B"})
    assert changed.status_code == 200
    assert changed.json()["name"] == "B"
    assert client.get(f"/segments/{segment_id}/count").json() == {"count": len(loyal_en(made))}

    user_id = client.post(
        "/segments", json={"name": "Uses B", "rules": {"in_segment": segment_id}}
    ).json()["id"]
    cycle = client.patch(f"/segments/{segment_id}", json={"rules": {"in_segment": user_id}})
    assert cycle.status_code == 422
    assert "circle" in cycle.json()["error"]["message"]

    in_use = client.request("DELETE", f"/segments/{segment_id}")
    assert in_use.status_code == 409
    assert "Uses B" in in_use.json()["error"]["message"]
    assert client.request("DELETE", f"/segments/{user_id}").status_code == 204
    assert client.request("DELETE", f"/segments/{segment_id}").status_code == 204
    assert client.get(f"/segments/{segment_id}").status_code == 404


def test_viewers_read_and_count_but_cannot_write(api, organisation, token_factory) -> None:
    segment = Segment.objects.create(organisation=organisation, name="S", rules={"all": []})
    client = api(token_factory(organisation, Role.VIEWER))
    assert client.get(f"/segments/{segment.pk}").status_code == 200
    assert client.get(f"/segments/{segment.pk}/count").status_code == 200
    assert client.post("/segments", json={"name": "N", "rules": {"all": []}}).status_code == 403
    assert client.patch(f"/segments/{segment.pk}", json={"name": "N"}).status_code == 403
    assert client.request("DELETE", f"/segments/{segment.pk}").status_code == 403
    assert Segment.objects.get(pk=segment.pk).name == "S"


def test_a_segment_of_another_organisation_is_404_and_cannot_be_referenced(
    api, organisation, other_organisation, token_factory
) -> None:
    people(other_organisation)
    theirs = Segment.objects.create(
        organisation=other_organisation, name="Fremd", rules={"all": []}
    )
    Theme.objects.create(
        organisation=other_organisation, slug="oper", name_de="Oper", name_en="Opera"
    )
    client = api(token_factory(organisation, Role.OWNER))
    for path in ("", "/count", "/contacts"):
        response = client.get(f"/segments/{theirs.pk}{path}")
        assert response.status_code == 404, path
        assert "Ada" not in response.text
    assert client.patch(f"/segments/{theirs.pk}", json={"name": "Meins"}).status_code == 404
    assert client.request("DELETE", f"/segments/{theirs.pk}").status_code == 404
    referenced = client.post(
        "/segments",
        json={
            "name": "Borrowed",
            "rules": {"any": [{"in_segment": theirs.pk}, {"interest": "oper"}]},
        },
    )
    assert referenced.status_code == 422
    assert referenced.json()["error"]["fields"] == {
        "rules.any[0]": [f"unknown segment {theirs.pk}"],
        "rules.any[1]": ["unknown theme 'oper'"],
    }
    counted = client.post("/segments/count", json={"rules": {"in_segment": theirs.pk}})
    assert counted.status_code == 422
    assert Segment.objects.get(pk=theirs.pk).name == "Fremd"


def test_a_segment_that_matches_nobody_counts_zero(api, organisation, token_factory) -> None:
    people(organisation)
    client = api(token_factory(organisation, Role.EDITOR))
    nobody = {
        "all": [{"field": "language", "op": "eq", "value": "en"}, {"activity": "visit", "min": 5}]
    }
    segment_id = client.post("/segments", json={"name": "Niemand", "rules": nobody}).json()["id"]
    assert client.get(f"/segments/{segment_id}/count").json() == {"count": 0}
    assert client.get(f"/segments/{segment_id}/contacts").json() == {"items": [], "count": 0}


def test_the_openapi_document_explains_the_rule_tree(api, organisation, token_factory) -> None:
    schema = api(None).get("/openapi.json").json()
    components = schema["components"]["schemas"]
    rules = components["SegmentIn"]["properties"]["rules"]
    assert "in_segment" in rules["description"]
    assert "none_in_months" in rules["description"]
    assert rules["examples"][0]["all"][0] == {"field": "language", "op": "eq", "value": "en"}
    paths = schema["paths"]
    assert {
        "/api/v1/segments",
        "/api/v1/segments/count",
        "/api/v1/segments/{segment_id}/count",
    } <= set(paths)
