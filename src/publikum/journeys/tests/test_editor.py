"""The journey editor: building a journey through its forms (test client), the definition
edits behind it, refusals that change nothing, roles and houses."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from conftest import make_member
from publikum.audience.models import Contact
from publikum.audience.segments import segment_create
from publikum.core.errors import ValidationFailed
from publikum.core.models import Role
from publikum.journeys import editor
from publikum.journeys.models import (
    EmailTemplate,
    Journey,
    JourneyRun,
    JourneyStatus,
    MessageKind,
)


def url(name: str, organisation: Any, **kwargs: Any) -> str:
    return reverse(name, kwargs={"org": organisation.slug, **kwargs})


def client_for(organisation: Any, role: str) -> Client:
    client = Client()
    client.force_login(make_member(organisation, role))
    return client


def mail(organisation: Any, name: str = "Hallo") -> EmailTemplate:
    return EmailTemplate.objects.create(
        organisation=organisation, name=name, kind=MessageKind.MARKETING, purpose="newsletter",
        subject_de="Hallo {{ contact.first_name }}", subject_en="Hello {{ contact.first_name }}",
        blocks=[{"type": "text", "markdown_de": "Schön.", "markdown_en": "Nice."}],
    )  # fmt: skip


def draft(organisation: Any, steps: list[dict[str, Any]], **fields: Any) -> Journey:
    values: dict[str, Any] = {"name": "Test", "trigger": "subscribed", **fields}
    return Journey.objects.create(
        organisation=organisation,
        definition={"start": steps[0]["id"] if steps else "", "steps": steps},
        **values,
    )


def add_step(client: Client, journey: Journey, after: str, way: str, **data: Any) -> Any:
    return client.post(
        url("journey_step_add", journey.organisation, journey_id=journey.pk),
        {"after": after, "way": way, **data},
    )


def settings_data(**overrides: Any) -> dict[str, Any]:
    return {
        "name": "Willkommen",
        "description": "",
        "trigger": "subscribed",
        "purpose": "",
        "days_after": "1",
        "after": "visit",
        "days_before": "2",
        "stage_from": "",
        "stage_to": "",
        "segment": "",
        "tag": "",
        "reentry": "once",
        "reentry_days": "",
        "action": "save",
        **overrides,
    }


# --- building a journey through the forms ---------------------------------------------------


@pytest.mark.django_db
def test_a_welcome_journey_is_built_through_the_forms_and_switched_on(organisation, owner_client):
    template = mail(organisation)
    created = owner_client.post(
        url("journey_create", organisation), settings_data(purpose="newsletter")
    )
    journey = Journey.objects.get(organisation=organisation, name="Willkommen")
    assert created.status_code == 302
    assert created["Location"] == url("journey_edit", organisation, journey_id=journey.pk)
    assert journey.trigger_config == {"purpose": "newsletter"}
    assert journey.status == JourneyStatus.DRAFT
    empty = owner_client.get(created["Location"]).content.decode()
    assert "Add the first step" in empty
    assert "The journey has no steps yet." in empty

    # The type first, then its form.
    chooser = owner_client.get(url("journey_step_add", organisation, journey_id=journey.pk),
                               {"way": "start"})  # fmt: skip
    assert "What should happen here?" in chooser.content.decode()
    form = owner_client.get(url("journey_step_add", organisation, journey_id=journey.pk),
                            {"way": "start", "type": "email"})  # fmt: skip
    assert "Hallo" in form.content.decode()  # the house's template is offered

    assert add_step(owner_client, journey, "", "start", type="email",
                    template=template.pk).status_code == 302  # fmt: skip
    add_step(owner_client, journey, "s1", "next", type="wait", mode="duration", days="3")
    add_step(owner_client, journey, "s2", "next", type="end")
    added = add_step(owner_client, journey, "s2", "next", type="branch", condition="clicked")
    assert added["Location"].endswith("#step-s4")
    add_step(owner_client, journey, "s4", "yes", type="tag", action="add", tag="fan")

    journey.refresh_from_db()
    assert journey.definition == {
        "start": "s1",
        "steps": [
            {"id": "s1", "type": "email", "template": template.pk, "next": "s2"},
            {"id": "s2", "type": "wait", "duration": {"days": 3}, "next": "s4"},
            {"id": "s4", "type": "branch", "condition": {"previous_mail": "clicked"},
             "yes": "s5", "no": "s3"},
            {"id": "s5", "type": "tag", "add": "fan", "next": "s3"},
            {"id": "s3", "type": "end"},
        ],
    }  # fmt: skip
    page = owner_client.get(url("journey_edit", organisation, journey_id=journey.pk))
    text = page.content.decode()
    for words in ("Send the mail “Hallo”", "Wait 3 days",
                  "Did they click a link in the previous mail?", "Add the tag “fan”",
                  'data-testid="no-problems"', "Add a step on the “yes” way"):  # fmt: skip
        assert words in text, words

    owner_client.post(url("journey_action", organisation, journey_id=journey.pk,
                          action="activate"))  # fmt: skip
    journey.refresh_from_db()
    assert journey.status == JourneyStatus.ACTIVE

    # Deleting the wait in the middle: the mail now leads straight to the branch.
    confirm = owner_client.get(url("journey_step_delete", organisation, journey_id=journey.pk,
                                   step_id="s2")).content.decode()  # fmt: skip
    assert "leads to the step after it" in confirm
    deleted = owner_client.post(
        url("journey_step_delete", organisation, journey_id=journey.pk, step_id="s2"), follow=True
    )
    assert "Changes apply to contacts at their next step." in deleted.content.decode()
    journey.refresh_from_db()
    steps = {s["id"]: s for s in journey.definition["steps"]}
    assert "s2" not in steps
    assert steps["s1"]["next"] == "s4"
    assert journey.definition["start"] == "s1"


@pytest.mark.django_db
def test_a_step_is_changed_in_its_form_and_keeps_its_place(organisation, owner_client):
    segment = segment_create(organisation=organisation, name="Stammgäste", rules={"all": []})
    journey = draft(organisation, [
        {"id": "s1", "type": "wait", "duration": {"days": 3}, "next": "s2"},
        {"id": "s2", "type": "branch", "condition": {"rules": {"in_segment": segment.pk}},
         "yes": "s3", "no": "s3"},
        {"id": "s3", "type": "end"},
    ])  # fmt: skip
    wait_url = url("journey_step_edit", organisation, journey_id=journey.pk, step_id="s1")
    assert 'value="3"' in owner_client.get(wait_url).content.decode()
    owner_client.post(wait_url, {"mode": "until", "weekday": "4", "time": "10:00"})
    branch_url = url("journey_step_edit", organisation, journey_id=journey.pk, step_id="s2")
    page = owner_client.get(branch_url).content.decode()
    assert f'<option value="{segment.pk}" selected>Stammgäste</option>' in page
    owner_client.post(branch_url, {"condition": "rules", "rules": '{"all": [{"tag": "vip"}]}'})

    journey.refresh_from_db()
    assert journey.definition["steps"][0] == {
        "id": "s1", "type": "wait", "until": {"weekday": 4, "time": "10:00"}, "next": "s2",
    }  # fmt: skip
    assert journey.definition["steps"][1] == {
        "id": "s2", "type": "branch", "condition": {"rules": {"all": [{"tag": "vip"}]}},
        "yes": "s3", "no": "s3",
    }  # fmt: skip
    # Free rules come back in the advanced field.
    assert "&quot;vip&quot;" in owner_client.get(branch_url).content.decode()


@pytest.mark.django_db
def test_deleting_a_branch_asks_which_way_stays_and_removes_the_other(organisation, owner_client):
    journey = draft(organisation, [
        {"id": "s1", "type": "wait", "duration": {"days": 1}, "next": "s2"},
        {"id": "s2", "type": "branch", "condition": {"rules": {"tag": "vip"}},
         "yes": "s3", "no": "s4"},
        {"id": "s3", "type": "tag", "add": "ja", "next": "s5"},
        {"id": "s4", "type": "tag", "add": "nein", "next": "s5"},
        {"id": "s5", "type": "end"},
    ])  # fmt: skip
    delete_url = url("journey_step_delete", organisation, journey_id=journey.pk, step_id="s2")
    confirm = owner_client.get(delete_url).content.decode()
    assert "Which way should stay?" in confirm
    assert "Add the tag “ja”" in confirm  # goes if "no" is kept

    refused = owner_client.post(delete_url)
    assert refused.status_code == 400
    assert "Choose which way to keep." in refused.content.decode()
    journey.refresh_from_db()
    assert len(journey.definition["steps"]) == 5

    owner_client.post(delete_url, {"keep": "no"})
    journey.refresh_from_db()
    assert journey.definition == {
        "start": "s1",
        "steps": [
            {"id": "s1", "type": "wait", "duration": {"days": 1}, "next": "s4"},
            {"id": "s4", "type": "tag", "add": "nein", "next": "s5"},
            {"id": "s5", "type": "end"},
        ],
    }


@pytest.mark.django_db
def test_a_step_where_contacts_wait_is_not_deleted(organisation, owner_client):
    journey = draft(organisation, [
        {"id": "s1", "type": "wait", "duration": {"days": 1}, "next": "s2"},
        {"id": "s2", "type": "end"},
    ], status=JourneyStatus.ACTIVE)  # fmt: skip
    contact = Contact.objects.create(organisation=organisation, email="anna@example.org")
    JourneyRun.objects.create(organisation=organisation, journey=journey, contact=contact,
                              entered_at=timezone.now(), step_id="s1",
                              due_at=timezone.now())  # fmt: skip
    response = owner_client.post(
        url("journey_step_delete", organisation, journey_id=journey.pk, step_id="s1")
    )
    assert response.status_code == 400
    assert "1 contact is waiting at this step" in response.content.decode()
    journey.refresh_from_db()
    assert [s["id"] for s in journey.definition["steps"]] == ["s1", "s2"]


@pytest.mark.django_db
def test_an_active_journey_does_not_take_a_change_that_breaks_it(organisation, owner_client):
    journey = draft(organisation, [{"id": "s1", "type": "tag", "add": "x"}],
                    status=JourneyStatus.ACTIVE)  # fmt: skip
    response = add_step(owner_client, journey, "", "start", type="branch", condition="clicked")
    assert response.status_code == 400
    assert "no mail is sent before this branch" in response.content.decode()
    journey.refresh_from_db()
    assert journey.definition["steps"] == [{"id": "s1", "type": "tag", "add": "x"}]
    # A draft takes it, and the editor page names the problem.
    Journey.objects.filter(pk=journey.pk).update(status=JourneyStatus.DRAFT)
    saved = add_step(owner_client, journey, "", "start", type="branch", condition="clicked")
    page = owner_client.get(saved["Location"]).content.decode()
    assert "no mail is sent before this branch" in page
    assert "1 problem to fix before switching on." in page


# --- bad input: field errors, nothing changed -----------------------------------------------


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (
            {"type": "wait", "mode": "duration", "days": "-1"},
            ("days", "greater than or equal to 0"),
        ),
        ({"type": "wait", "mode": "duration"}, ("days", "the duration must say")),
        ({"type": "wait", "mode": "duration", "days": "400"}, ("days", "at most 366 days")),
        ({"type": "wait", "mode": "until", "weekday": "2"}, ("time", "HH:MM")),
        ({"type": "email", "template": "FOREIGN"}, ("template", "Select a valid choice")),
        (
            {"type": "webhook", "url": "http://example.org/hook"},
            ("url", "must start with https://"),
        ),
        ({"type": "webhook", "url": "https://10.0.0.1/hook"}, ("url", "private or reserved")),
        ({"type": "task", "title": "", "notify": "on"}, ("title", "This field is required")),
        ({"type": "task", "title": "Anrufen", "notify": "on"}, ("assignee", "say whom")),
        ({"type": "tag", "action": "add", "tag": ""}, ("tag", "This field is required")),
        ({"type": "interest", "action": "add", "theme": "jazz"}, ("theme", "Select a valid")),
        ({"type": "branch", "condition": "segment"}, ("segment", "Choose the segment.")),
        ({"type": "branch", "condition": "rules", "rules": '{"nope": 1}'}, ("rules", "nope")),
        ({"type": "split", "percent_a": "100", "metric": "clicked"}, ("percent_a", "99")),
    ],
    ids=[
        "negative-days",
        "no-duration",
        "too-long",
        "until-without-time",
        "foreign-template",
        "http-webhook",
        "private-webhook",
        "task-without-title",
        "notify-nobody",
        "empty-tag",
        "unknown-theme",
        "segment-missing",
        "bad-rules",
        "split-share",
    ],
)
@pytest.mark.django_db
def test_invalid_step_input_is_shown_at_its_field_and_nothing_changes(
    organisation, other_organisation, owner_client, data, error
):
    field, message = error
    if data.get("template") == "FOREIGN":
        data = {**data, "template": mail(other_organisation, "Fremd").pk}
    steps = [{"id": "s1", "type": "email", "template": mail(organisation).pk}]
    journey = draft(organisation, steps)
    response = add_step(owner_client, journey, "s1", "next", **data)
    page = response.content.decode()
    assert response.status_code == 400
    assert f'id="id_{field}_error"' in page
    assert message in page.split(f'id="id_{field}_error"')[1].split("</p>")[0]
    # The field points at its message, for screen readers.
    assert f'aria-describedby="id_{field}_error"' in page or (
        f'aria-describedby="id_{field}_helptext id_{field}_error"' in page
    )
    journey.refresh_from_db()
    assert journey.definition["steps"] == steps


@pytest.mark.django_db
def test_the_place_of_a_new_step_must_exist(organisation, owner_client):
    journey = draft(organisation, [{"id": "s1", "type": "end"}])
    response = add_step(owner_client, journey, "gone", "next", type="end")
    assert response.status_code == 302
    journey.refresh_from_db()
    assert journey.definition["steps"] == [{"id": "s1", "type": "end"}]
    # An end where steps follow is not offered.
    chooser = owner_client.get(url("journey_step_add", organisation, journey_id=journey.pk),
                               {"way": "start"}).content.decode()  # fmt: skip
    assert 'value="end"' not in chooser
    assert 'value="wait"' in chooser


# --- the settings ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_trigger_settings_are_fields_and_the_engines_cursor_survives(organisation, owner_client):
    journey = draft(organisation, [{"id": "s1", "type": "end"}], trigger="stage_changed",
                    trigger_config={"to": "lapsing", "_cursor": 42})  # fmt: skip
    edit_url = url("journey_edit", organisation, journey_id=journey.pk)
    page = owner_client.get(edit_url).content.decode()
    assert '<option value="lapsing" selected>' in page

    response = owner_client.post(edit_url, settings_data(
        name="Vermisst", trigger="stage_changed", stage_from="loyal", stage_to="lapsed",
        days_before="abc",  # a leftover in another trigger's (hidden) fields does not count
    ))  # fmt: skip
    assert response.status_code == 302
    journey.refresh_from_db()
    assert journey.name == "Vermisst"
    assert journey.trigger_config == {"from": "loyal", "to": "lapsed", "_cursor": 42}

    # The JSON page keeps it too, whatever its JSON says.
    json_page = owner_client.get(url("journey_edit_json", organisation, journey_id=journey.pk))
    assert "Steps (JSON)" in json_page.content.decode()
    assert "_cursor" not in json_page.content.decode()
    new_json = owner_client.get(url("journey_create", organisation), {"json": "1"})
    assert "Steps (JSON)" in new_json.content.decode()
    owner_client.post(url("journey_edit_json", organisation, journey_id=journey.pk), {
        "name": "Vermisst", "trigger": "stage_changed", "reentry": "once", "reentry_days": "0",
        "trigger_config": '{"to": "lapsing", "_cursor": 1}',
        "definition": '{"start": "s1", "steps": [{"id": "s1", "type": "end"}]}',
    })  # fmt: skip
    journey.refresh_from_db()
    assert journey.trigger_config == {"to": "lapsing", "_cursor": 42}


@pytest.mark.django_db
def test_a_segment_trigger_offers_only_the_houses_segments(
    organisation, other_organisation, owner_client
):
    ours = segment_create(organisation=organisation, name="Unsere", rules={"all": []})
    theirs = segment_create(organisation=other_organisation, name="Fremde", rules={"all": []})
    journey = draft(organisation, [{"id": "s1", "type": "end"}])
    edit_url = url("journey_edit", organisation, journey_id=journey.pk)

    # Without JavaScript: "show the settings of this trigger" re-draws the form, saves nothing.
    shown = owner_client.post(edit_url, settings_data(trigger="entered_segment", action="trigger"))
    page = shown.content.decode()
    assert shown.status_code == 200
    assert 'data-trigger="entered_segment">' in page  # not hidden
    assert 'data-trigger="subscribed" hidden' in page
    assert "Unsere" in page
    assert "Fremde" not in page
    journey.refresh_from_db()
    assert journey.trigger == "subscribed"

    refused = owner_client.post(edit_url, settings_data(
        trigger="entered_segment", segment=str(theirs.pk), reentry="every", reentry_days="30"
    ))  # fmt: skip
    assert refused.status_code == 400
    assert 'id="id_segment_error"' in refused.content.decode()
    owner_client.post(edit_url, settings_data(
        trigger="entered_segment", segment=str(ours.pk), reentry="every", reentry_days="30"
    ))  # fmt: skip
    journey.refresh_from_db()
    assert journey.trigger_config == {"segment": ours.pk}
    assert (journey.reentry, journey.reentry_days) == ("every", 30)


# --- roles and houses -----------------------------------------------------------------------


@pytest.mark.django_db
def test_viewers_cannot_edit(organisation):
    journey = draft(organisation, [{"id": "s1", "type": "end"}])
    viewer = client_for(organisation, Role.VIEWER)
    for name, kwargs in (
        ("journey_edit", {}),
        ("journey_edit_json", {}),
        ("journey_step_add", {}),
        ("journey_step_edit", {"step_id": "s1"}),
        ("journey_step_delete", {"step_id": "s1"}),
    ):
        target = url(name, organisation, journey_id=journey.pk, **kwargs)
        assert viewer.get(target).status_code == 403, name
        assert viewer.post(target, {"type": "end", "way": "start"}).status_code == 403, name
    assert viewer.get(url("journey_create", organisation)).status_code == 403
    journey.refresh_from_db()
    assert journey.definition["steps"] == [{"id": "s1", "type": "end"}]
    editor_client = client_for(organisation, Role.EDITOR)
    assert (
        editor_client.get(url("journey_edit", organisation, journey_id=journey.pk)).status_code
        == 200
    )


@pytest.mark.django_db
def test_another_houses_journey_is_not_found_in_the_editor(
    organisation, other_organisation, owner_client
):
    theirs = draft(other_organisation, [{"id": "s1", "type": "wait", "duration": {"days": 1}}])
    for name, kwargs in (
        ("journey_edit", {}),
        ("journey_edit_json", {}),
        ("journey_step_add", {}),
        ("journey_step_edit", {"step_id": "s1"}),
        ("journey_step_delete", {"step_id": "s1"}),
    ):
        target = url(name, organisation, journey_id=theirs.pk, **kwargs)
        assert owner_client.get(target).status_code == 404, name
        assert owner_client.post(target, {"type": "end", "way": "start"}).status_code == 404, name
    theirs.refresh_from_db()
    assert len(theirs.definition["steps"]) == 1


# --- the edits of a definition --------------------------------------------------------------


def test_a_branch_added_where_nothing_follows_gets_an_end_on_each_way():
    definition, new_id = editor.step_add(
        {"start": "s1", "steps": [{"id": "s1", "type": "wait", "duration": {"days": 1}}]},
        position=editor.Position("s1", "next"),
        fields={"type": "split", "percent_a": 50, "metric": "clicked"},
    )
    assert new_id == "s2"
    assert definition["steps"][1:] == [
        {"id": "s2", "type": "split", "percent_a": 50, "metric": "clicked", "a": "s3", "b": "s4"},
        {"id": "s3", "type": "end"},
        {"id": "s4", "type": "end"},
    ]


def test_new_ids_skip_ids_that_runs_and_results_still_name():
    definition = {"start": "hello", "steps": [{"id": "hello", "type": "end"}]}
    added, new_id = editor.step_add(
        definition, position=editor.Position(), fields={"type": "tag", "add": "x"},
        taken={"s7", "pause"},
    )  # fmt: skip
    assert new_id == "s8"
    assert added["start"] == "s8"
    assert added["steps"][0] == {"id": "s8", "type": "tag", "add": "x", "next": "hello"}
    assert definition["start"] == "hello"  # the input is left as it was


def test_an_end_is_not_added_where_steps_follow():
    definition = {"start": "s1", "steps": [{"id": "s1", "type": "end"}]}
    with pytest.raises(ValidationFailed, match="An end can only go where a way ends"):
        editor.step_add(definition, position=editor.Position(), fields={"type": "end"})


def test_deleting_the_first_step_makes_the_next_one_first_and_a_self_loop_ends():
    definition = {"start": "s1", "steps": [
        {"id": "s1", "type": "tag", "add": "x", "next": "s2"},
        {"id": "s2", "type": "wait", "duration": {"days": 30}, "next": "s2"},
    ]}  # fmt: skip
    first_gone, removed = editor.step_delete(definition, step_id="s1")
    assert removed == ["s1"]
    assert first_gone["start"] == "s2"
    loop_gone, _removed = editor.step_delete(definition, step_id="s2")
    assert loop_gone["steps"] == [{"id": "s1", "type": "tag", "add": "x"}]


def test_changing_a_step_keeps_its_ways_but_not_its_type():
    definition = {"start": "s1", "steps": [
        {"id": "s1", "type": "branch", "condition": {"previous_mail": "opened"},
         "yes": "s2", "no": "s2"},
        {"id": "s2", "type": "end"},
    ]}  # fmt: skip
    changed = editor.step_update(
        definition, step_id="s1",
        fields={"type": "branch", "condition": {"previous_mail": "clicked"}},
    )  # fmt: skip
    assert changed["steps"][0] == {"id": "s1", "type": "branch",
                                   "condition": {"previous_mail": "clicked"},
                                   "yes": "s2", "no": "s2"}  # fmt: skip
    with pytest.raises(ValidationFailed):
        editor.step_update(definition, step_id="s1", fields={"type": "end"})
