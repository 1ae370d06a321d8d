"""Organisation isolation, checked by walking every staff route and every API operation.

The walks find routes by themselves, so a page or endpoint added later is covered without
anyone writing a test for it. A route with a path parameter these tests do not know fails
with instructions: register a function that creates such an object in organisation A.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.urls.resolvers import RegexPattern, RoutePattern

from conftest import make_member, make_organisation, make_token
from publikum.api import api as ninja_api
from publikum.core import services
from publikum.core.models import FailedJob, Membership, Organisation, ReceivedMail, Role, User

THIS_FILE = "src/publikum/core/tests/test_isolation.py"
STAFF_PREFIX = "o/<slug:org>/"


# --- objects of organisation A, one maker per path parameter name -----------------------


def _mail_of(org: Organisation) -> int:
    return ReceivedMail.objects.create(
        organisation=org,
        mail_from="noreply@haus-a.example",
        recipients=["geheim.gast@haus-a.example"],
        subject="Geheime Post A",
        raw="Subject: Geheime Post A\n\nGeheimer Inhalt A\n",
    ).pk


def _membership_of(org: Organisation) -> int:
    return Membership.objects.get(organisation=org, user=make_member(org, Role.EDITOR)).pk


def _token_of(org: Organisation) -> int:
    token, _ = services.token_create(organisation=org, name="Geheimer Schlüssel A")
    return token.pk


def _failed_job_of(org: Organisation) -> int:
    return FailedJob.objects.create(
        organisation=org, task_path="publikum.x.task", attempts=3, error="Geheimer Fehler A"
    ).pk


def _contact_of(org: Organisation) -> int:
    from publikum.audience.services import contact_create, interaction_record

    n = org.contacts.count()
    contact = contact_create(
        organisation=org,
        first_name="Geheime",
        last_name="Kontaktperson",
        email=f"geheim.kontakt{n or ''}@haus-a.example",
    )
    interaction_record(contact=contact, kind="visit", summary="Geheimer Besuch A")
    return contact.pk


def _segment_of(org: Organisation) -> int:
    from publikum.audience.segments import segment_create

    _contact_of(org)  # a segment that matches everyone shows A's contact if it leaks
    n = org.segments.count()
    return segment_create(
        organisation=org, name=f"Geheimes Segment A{n or ''}", rules={"all": []}
    ).pk


def _import_of(org: Organisation) -> int:
    from publikum.audience.models import ImportRun

    return ImportRun.objects.create(
        organisation=org,
        filename="geheime-kunden-a.csv",
        status="done",
        total_rows=1,
        rejected_count=1,
        rejected=[{"row": 2, "errors": ["email: 'Geheim A' is not a valid e-mail address"]}],
    ).pk


def _venue_of(org: Organisation) -> int:
    from publikum.programme.models import Venue

    n = Venue.objects.filter(organisation=org).count()
    return Venue.objects.create(
        organisation=org, name_de=f"Geheimer Saal A{n or ''}", street="Geheimweg 1"
    ).pk


def _item_of(org: Organisation) -> int:
    from publikum.programme.models import ItemKind, PriceCategory, ProgrammeItem

    n = ProgrammeItem.objects.filter(organisation=org).count()
    item = ProgrammeItem.objects.create(
        organisation=org,
        slug=f"geheime-fuehrung-a{n or ''}",
        kind=ItemKind.TOUR,
        title_de=f"Geheime Führung A{n or ''}",
        venue_id=_venue_of(org),
    )
    PriceCategory.objects.create(organisation=org, item=item, name_de="Regulär", price_eur=9)
    return item.pk


def _occurrence_of(org: Organisation) -> int:
    from datetime import timedelta

    from django.utils import timezone

    from publikum.programme.models import Occurrence

    starts = timezone.now() + timedelta(days=3)
    return Occurrence.objects.create(
        organisation=org,
        item_id=_item_of(org),
        starts_at=starts,
        ends_at=starts + timedelta(hours=1),
        capacity=20,
    ).pk


def _booking_of(org: Organisation) -> str:
    from publikum.bookings.services import booking_create

    return booking_create(
        organisation=org,
        occurrence_id=_occurrence_of(org),
        name="Geheime Buchende",
        email="geheim.buchung@haus-a.example",
        quantity=2,
    ).code


def _entry_of(org: Organisation) -> int:
    from publikum.bookings.models import WaitlistEntry
    from publikum.programme.models import Occurrence

    occurrence = Occurrence.objects.get(pk=_occurrence_of(org))
    return WaitlistEntry.objects.create(
        organisation=org,
        occurrence=occurrence,
        name="Geheim Wartend",
        email="geheim.warten@haus-a.example",
        quantity=1,
    ).pk


def _template_of(org: Organisation) -> int:
    from publikum.journeys.models import EmailTemplate

    return EmailTemplate.objects.get_or_create(
        organisation=org,
        name="Geheime Vorlage A",
        defaults={
            "kind": "marketing",
            "purpose": "newsletter",
            "subject_de": "Geheimer Betreff A",
            "blocks": [],
        },
    )[0].pk


def _journey_of(org: Organisation) -> int:
    from publikum.journeys.models import Journey

    return Journey.objects.create(
        organisation=org,
        name="Geheime Reise A",
        trigger="api",
        definition={"start": "e", "steps": [{"id": "e", "type": "end"}]},
    ).pk


def _newsletter_of(org: Organisation) -> int:
    from publikum.journeys.models import Newsletter

    return Newsletter.objects.create(
        organisation=org,
        name="Geheimer Newsletter A",
        template_id=_template_of(org),
        segment_id=_segment_of(org),
    ).pk


def _knowledge_of(org: Organisation) -> int:
    from publikum.assistant.models import KnowledgeEntry

    return KnowledgeEntry.objects.create(
        organisation=org, question_de="Geheime Frage A", answer_de="Geheime Antwort A"
    ).pk


def _opening_exception_of(org: Organisation) -> int:
    from datetime import date

    from publikum.assistant.models import OpeningException

    return OpeningException.objects.get_or_create(organisation=org, date=date(2030, 12, 24))[0].pk


def _price_of(org: Organisation) -> int:
    from publikum.assistant.models import PriceEntry

    return PriceEntry.objects.create(organisation=org, label_de="Geheimpreis A", amount_eur=9).pk


def _personal_topic_of(org: Organisation) -> int:
    from publikum.assistant.models import PersonalTopic

    return PersonalTopic.objects.create(
        organisation=org, name_de="Geheimes Thema A", phrases="x"
    ).pk


ASSISTANT_PARAMS: dict[str, Callable[[Organisation], Any]] = {
    "knowledge_id": _knowledge_of,
    "exception_id": _opening_exception_of,
    "price_id": _price_of,
    "topic_id": _personal_topic_of,
}


def _conversation_of(org: Organisation) -> int:
    from publikum.conversations.models import Conversation

    return Conversation.objects.create(
        organisation=org, channel="email", status="open", visitor_email="geheim@haus-a.example"
    ).pk


def _saved_reply_of(org: Organisation) -> int:
    from publikum.conversations.models import SavedReply

    return SavedReply.objects.create(organisation=org, title="Geheim A", text_de="Geheim A").pk


CONVERSATION_PARAMS: dict[str, Callable[[Organisation], Any]] = {
    "conversation_id": _conversation_of,
    "reply_id": _saved_reply_of,
}


# Staff pages: path parameter name → makes an object in organisation A, returns its id.
STAFF_PARAMS: dict[str, Callable[[Organisation], Any]] = {
    "import_id": _import_of,
    "keep_id": _contact_of,
    "merge_id": _contact_of,
    "mail_id": _mail_of,
    "membership_id": _membership_of,
    "token_id": _token_of,
    "job_id": _failed_job_of,
    "contact_id": _contact_of,
    "segment_id": _segment_of,
    "venue_id": _venue_of,
    "item_id": _item_of,
    "occurrence_id": _occurrence_of,
    "code": _booking_of,
    "entry_id": _entry_of,
    "journey_id": _journey_of,
    "template_id": _template_of,
    "newsletter_id": _newsletter_of,
    # The action of a journey or newsletter page: the same 404 for any of them.
    "action": lambda _org: "pause",
    # A step of the journey above (every journey made by `_journey_of` has the step "e").
    "step_id": lambda _org: "e",
    **ASSISTANT_PARAMS,
    **CONVERSATION_PARAMS,
}

# API operations: path parameter name → makes an object in organisation A, returns its id.
API_PARAMS: dict[str, Callable[[Organisation], Any]] = {
    "import_id": _import_of,
    "mail_id": _mail_of,
    "membership_id": _membership_of,
    "token_id": _token_of,
    "job_id": _failed_job_of,
    "contact_id": _contact_of,
    "segment_id": _segment_of,
    "venue_id": _venue_of,
    "item_id": _item_of,
    "event_id": _item_of,
    "occurrence_id": _occurrence_of,
    "code": _booking_of,
    "journey_id": _journey_of,
    "newsletter_id": _newsletter_of,
    **ASSISTANT_PARAMS,
    **CONVERSATION_PARAMS,
}

# Required query parameters of API operations, with a harmless value.
API_QUERY_VALUES: dict[str, str] = {"contact": "1"}

# Valid request bodies of API operations that take an object id and a body: with a valid
# body the walk reaches the object lookup (an empty body would stop at validation, 422).
API_BODIES: dict[str, dict[str, Any]] = {
    "POST /api/v1/contacts/{contact_id}/consents": {
        "channel": "email",
        "purpose": "newsletter",
        "granted": False,
        "source": "walk",
    },
    "POST /api/v1/journeys/{journey_id}/contacts": {"contact": 1},
    "POST /api/v1/newsletters/{newsletter_id}/schedule": {},
    "PUT /api/v1/knowledge/personal-topics/{topic_id}": {"name_de": "Walk", "phrases": ["x"]},
    "POST /api/v1/conversations/{conversation_id}/reply": {"text": "Walk"},
    "POST /api/v1/conversations/{conversation_id}/assign": {"user": None},
}


# --- walking the URL resolver -------------------------------------------------------------


@dataclass(frozen=True)
class StaffRoute:
    route: str  # e.g. "o/<slug:org>/team/<int:membership_id>/"
    pattern: URLPattern

    @property
    def params(self) -> list[str]:
        return [m.group("name") for m in _PARAM.finditer(self.route)]


_PARAM = re.compile(r"<(?:(?P<conv>\w+):)?(?P<name>\w+)>")
_REGEX_GROUP = re.compile(r"\(\?P<(?P<name>\w+)>[^)]*\)")


def _route_text(pattern: Any) -> str:
    if isinstance(pattern, RoutePattern):
        return str(pattern)
    if isinstance(pattern, RegexPattern):
        regex = str(pattern).removeprefix("^").removesuffix("$").removesuffix(r"\Z")
        return _REGEX_GROUP.sub(lambda m: f"<{m.group('name')}>", regex)
    raise AssertionError(f"Unknown URL pattern type {type(pattern).__name__}: {pattern!r}")


def _walk(patterns: list[Any], prefix: str = "") -> Iterator[tuple[str, URLPattern]]:
    for entry in patterns:
        route = prefix + _route_text(entry.pattern)
        if isinstance(entry, URLResolver):
            yield from _walk(entry.url_patterns, route)
        else:
            yield route, entry


def staff_routes() -> list[StaffRoute]:
    return [
        StaffRoute(route, pattern)
        for route, pattern in _walk(get_resolver().url_patterns)
        if route.startswith(STAFF_PREFIX)
    ]


def unknown_param_message(kind: str, where: str, name: str, registry: str) -> str:
    return (
        f"{kind} {where} has the path parameter '{name}', which the isolation walk does not "
        f"know. Register it in {registry} in {THIS_FILE}: map '{name}' to a function that "
        f"creates such an object in organisation A and returns the value for the URL. "
        f"Without it nobody checks that another organisation gets 404 here."
    )


def fill(route: StaffRoute, slug: str, values: dict[str, Any]) -> str:
    """The URL of `route` for organisation `slug`, other parameters from `values`."""

    def replace(match: re.Match[str]) -> str:
        name = match.group("name")
        if name == "org":
            return slug
        if name not in values:
            pytest.fail(unknown_param_message("The staff page", route.route, name, "STAFF_PARAMS"))
        return str(values[name])

    url = "/" + _PARAM.sub(replace, route.route)
    # The walk must reach the view it means to test, not some other pattern.
    assert resolve(url).func is route.pattern.callback, (
        f"{url} does not resolve to the view of {route.route}: the walk built a wrong URL"
    )
    return url


def objects_of(org: Organisation, routes: list[StaffRoute]) -> dict[str, Any]:
    """One object of `org` for every path parameter the routes use (unknown ones fail)."""
    values: dict[str, Any] = {}
    for route in routes:
        for name in route.params:
            if name == "org" or name in values:
                continue
            if name not in STAFF_PARAMS:
                pytest.fail(
                    unknown_param_message("The staff page", route.route, name, "STAFF_PARAMS")
                )
            values[name] = STAFF_PARAMS[name](org)
    return values


def csrf_client(user: User, home_slug: str) -> tuple[Client, str]:
    """A logged-in client that enforces CSRF, with a valid token from a page it may see."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    assert client.get(f"/o/{home_slug}/").status_code == 200
    return client, client.cookies["csrftoken"].value


# --- staff pages --------------------------------------------------------------------------


@pytest.fixture
def house_a(db: None) -> Organisation:
    return make_organisation("geheimes-haus-a", "Geheimes Haus A")


@pytest.fixture
def house_b(db: None) -> Organisation:
    return make_organisation("offenes-haus-b", "Offenes Haus B")


def test_the_walk_finds_the_staff_pages_of_the_core() -> None:
    routes = {r.route for r in staff_routes()}
    assert {
        "o/<slug:org>/",
        "o/<slug:org>/team/",
        "o/<slug:org>/team/<int:membership_id>/",
        "o/<slug:org>/tokens/<int:token_id>/revoke/",
        "o/<slug:org>/outbox/<int:mail_id>/",
        "o/<slug:org>/jobs/<int:job_id>/resolve/",
    } <= routes


def test_a_path_parameter_nobody_registered_fails_with_instructions(house_a) -> None:
    pattern = staff_routes()[0].pattern
    route = StaffRoute("o/<slug:org>/widgets/<int:widget_id>/", pattern)
    with pytest.raises(pytest.fail.Exception, match=r"Register it in STAFF_PARAMS") as caught:
        objects_of(house_a, [route])
    assert "'widget_id'" in str(caught.value)


def test_member_of_another_organisation_gets_404_on_every_staff_page(house_a, house_b) -> None:
    routes = staff_routes()
    values = objects_of(house_a, routes)
    make_member(house_a, Role.OWNER)
    client, csrf = csrf_client(make_member(house_b, Role.OWNER), house_b.slug)
    # The CSRF token is valid: the same client may post on its own organisation's pages.
    own = client.post(f"/o/{house_b.slug}/team/", {"csrfmiddlewaretoken": csrf})
    assert own.status_code == 200

    problems = []
    for route in routes:
        url = fill(route, house_a.slug, values)
        got = client.get(url)
        if got.status_code != 404:
            problems.append(f"GET {url} ({route.route}) gave {got.status_code}, not 404")
        elif "Geheim" in got.content.decode():
            problems.append(f"GET {url}: the 404 page shows data of organisation A")
        posted = client.post(url, {"csrfmiddlewaretoken": csrf, "role": Role.OWNER})
        if posted.status_code != 404:
            problems.append(
                f"POST {url} ({route.route}) gave {posted.status_code}, not 404 "
                "(wrap the view in staff_view as its outermost decorator)"
            )
    assert not problems, "\n".join(problems)
    # Nothing of A changed under the posts.
    assert Membership.objects.filter(organisation=house_a, role=Role.OWNER).count() == 1
    assert FailedJob.objects.filter(organisation=house_a, resolved_at__isnull=True).count() == 1
    assert not house_a.api_tokens.filter(revoked_at__isnull=False).exists()


def test_owner_of_another_organisation_cannot_reach_objects_of_a_through_own_pages(
    house_a, house_b
) -> None:
    routes = [r for r in staff_routes() if set(r.params) - {"org"}]
    assert routes, "the walk found no staff page with an object id"
    values = objects_of(house_a, routes)
    client, csrf = csrf_client(make_member(house_b, Role.OWNER), house_b.slug)

    problems = []
    for route in routes:
        url = fill(route, house_b.slug, values)  # B's own slug, A's object ids
        for method in ("get", "post"):
            got = getattr(client, method)(url, {"csrfmiddlewaretoken": csrf})
            if method == "get" and got.status_code == 405:
                continue  # a POST-only view; the POST below is the check
            if got.status_code != 404:
                problems.append(f"{method.upper()} {url} ({route.route}) gave {got.status_code}")
    assert not problems, "\n".join(problems)
    assert FailedJob.objects.filter(organisation=house_a, resolved_at__isnull=True).count() == 1
    assert not house_a.api_tokens.filter(revoked_at__isnull=False).exists()
    assert Membership.objects.filter(organisation=house_a).count() == 1


def test_anonymous_visitor_is_sent_to_login_from_every_staff_page(house_a) -> None:
    routes = staff_routes()
    values = objects_of(house_a, routes)
    client = Client()

    problems = []
    for route in routes:
        url = fill(route, house_a.slug, values)
        for method in ("get", "post"):
            got = getattr(client, method)(url)
            location = got.headers.get("Location", "")
            if got.status_code != 302 or not location.startswith("/accounts/login/?next="):
                problems.append(f"{method.upper()} {url} gave {got.status_code} {location!r}")
    assert not problems, "\n".join(problems)


def test_owner_reaches_every_staff_page_of_own_organisation(house_a) -> None:
    # Proves the walk would notice: the same URLs do exist for a member of A.
    routes = staff_routes()
    values = objects_of(house_a, routes)
    client = Client()
    client.force_login(make_member(house_a, Role.OWNER))

    problems = []
    for route in routes:
        url = fill(route, house_a.slug, values)
        got = client.get(url)
        if got.status_code == 404 or got.status_code >= 500:
            problems.append(f"GET {url} ({route.route}) gave {got.status_code}")
    assert not problems, "\n".join(problems)
    assert "Geheimes Haus A" in client.get(f"/o/{house_a.slug}/").content.decode()


# --- the REST API -------------------------------------------------------------------------

HTTP_METHODS = ("get", "post", "put", "patch", "delete")


@dataclass(frozen=True)
class Operation:
    method: str
    path: str  # as in the OpenAPI document, e.g. /api/v1/contacts/{contact_id}
    spec: dict[str, Any]

    @property
    def path_params(self) -> list[str]:
        return [p["name"] for p in self.spec.get("parameters", []) if p["in"] == "path"]

    def __str__(self) -> str:
        return f"{self.method.upper()} {self.path}"


# Public endpoints (the assistant's widget) take no token; their own tests check that an id
# of another organisation answers 404 (assistant/tests/test_public_api.py).
PUBLIC_API_PREFIX = "/api/v1/public/"


def api_operations() -> list[Operation]:
    schema = ninja_api.get_openapi_schema()
    return [
        Operation(method, path, spec)
        for path, methods in schema["paths"].items()
        for method, spec in methods.items()
        if method in HTTP_METHODS and not path.startswith(PUBLIC_API_PREFIX)
    ]


def call_arguments(op: Operation, values: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The path below /api/v1 and the request arguments to call `op` with."""
    path = op.path.removeprefix("/api/v1")
    for name in re.findall(r"{(\w+)}", path):
        if name not in values:
            pytest.fail(unknown_param_message("The API operation", str(op), name, "API_PARAMS"))
        path = path.replace(f"{{{name}}}", str(values[name]))
    query = {}
    for param in op.spec.get("parameters", []):
        if param["in"] == "query" and param.get("required"):
            if param["name"] not in API_QUERY_VALUES:
                pytest.fail(
                    f"The API operation {op} needs the query parameter '{param['name']}'. "
                    f"Add a harmless value for it to API_QUERY_VALUES in {THIS_FILE}."
                )
            query[param["name"]] = API_QUERY_VALUES[param["name"]]
    kwargs: dict[str, Any] = {"params": query}
    if "requestBody" in op.spec:
        key = f"{op.method.upper()} {op.path}"
        required = op.spec["requestBody"].get("content", {}).get("application/json", {})
        if op.path_params and key not in API_BODIES and _has_required_fields(required):
            pytest.fail(
                f"The API operation {key} takes an object id and a body with required fields. "
                f"Add a valid body for it to API_BODIES in {THIS_FILE}, so that the walk "
                "reaches the object lookup."
            )
        kwargs["json"] = API_BODIES.get(key, {})
    return path, kwargs


def _has_required_fields(media: dict[str, Any]) -> bool:
    from publikum.api import api as ninja_api

    schema = media.get("schema", {})
    ref = schema.get("$ref", "")
    if ref:
        components = ninja_api.get_openapi_schema()["components"]["schemas"]
        schema = components.get(ref.rsplit("/", 1)[-1], {})
    return bool(schema.get("required"))


def api_objects_of(org: Organisation, operations: list[Operation]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for op in operations:
        for name in op.path_params:
            if name in values:
                continue
            if name not in API_PARAMS:
                pytest.fail(unknown_param_message("The API operation", str(op), name, "API_PARAMS"))
            values[name] = API_PARAMS[name](org)
    return values


@pytest.fixture
def secret_house_a(db: None) -> tuple[Organisation, list[str]]:
    """Organisation A with data whose every marker must stay out of B's responses."""
    org = make_organisation("geheimes-haus-a", "Geheimes Haus A")
    services.organisation_update(
        organisation=org, city="Geheimstadt", description_de="Geheime Beschreibung A"
    )
    inhaberin = services.user_create(
        email="geheim.inhaberin@haus-a.example", password=None, name="Geheime Inhaberin"
    )
    services.membership_set(organisation=org, user=inhaberin, role=Role.OWNER)
    redakteur = services.user_create(
        email="geheim.redakteur@haus-a.example", password=None, name="Geheimer Redakteur"
    )
    services.membership_set(organisation=org, user=redakteur, role=Role.EDITOR)
    token, _ = services.token_create(organisation=org, name="Geheimer Schlüssel A", actor=inhaberin)
    _failed_job_of(org)
    _mail_of(org)
    _contact_of(org)
    markers = [
        "Kontaktperson",
        "geheim.kontakt@haus-a.example",
        "Geheimer Besuch A",
        "Geheimes Haus A",
        "geheimes-haus-a",
        "Geheimstadt",
        "Geheime Beschreibung A",
        "geheim.inhaberin@haus-a.example",
        "geheim.redakteur@haus-a.example",
        "Geheime Inhaberin",
        "Geheimer Redakteur",
        "Geheimer Schlüssel A",
        token.prefix,
        "Geheimer Fehler A",
        "Geheime Post A",
    ]
    return org, markers


def leaked(text: str, markers: list[str]) -> list[str]:
    lowered = text.lower()
    return [m for m in markers if m.lower() in lowered]


def test_token_of_another_organisation_sees_nothing_of_a_in_any_operation(
    api, secret_house_a
) -> None:
    house_a, markers = secret_house_a
    house_b = make_organisation("offenes-haus-b", "Offenes Haus B")
    make_member(house_b, Role.OWNER)
    operations = api_operations()
    values = api_objects_of(house_a, operations)
    client = api(make_token(house_b, Role.OWNER))

    problems = []
    for op in operations:
        path, kwargs = call_arguments(op, values)
        response = client.request(op.method.upper(), path, **kwargs)
        if response.status_code >= 500:
            problems.append(f"{op} gave {response.status_code}")
        if found := leaked(response.text, markers):
            problems.append(f"{op} answered with data of organisation A: {found}")
        if op.path_params and response.status_code != 404:
            problems.append(f"{op} with ids of A's objects gave {response.status_code}, not 404")
    assert not problems, "\n".join(problems)


def test_token_of_the_organisation_itself_does_see_its_markers(api, secret_house_a) -> None:
    # Proves the marker check above would notice a leak.
    house_a, markers = secret_house_a
    client = api(make_token(house_a, Role.OWNER))
    seen = " ".join(
        client.get(op.path.removeprefix("/api/v1")).text
        for op in api_operations()
        if op.method == "get" and not op.path_params
    )
    assert "Geheimes Haus A" in leaked(seen, markers)
    assert "geheim.redakteur@haus-a.example" in leaked(seen, markers)


def test_every_operation_without_a_token_is_401_with_the_json_error_shape(
    api, secret_house_a
) -> None:
    house_a, markers = secret_house_a
    operations = api_operations()
    values = api_objects_of(house_a, operations)
    client = api(None)

    problems = []
    for op in operations:
        path, kwargs = call_arguments(op, values)
        response = client.request(op.method.upper(), path, **kwargs)
        if response.status_code != 401:
            problems.append(f"{op} without a token gave {response.status_code}")
            continue
        body = response.json()
        error = body.get("error", {})
        if (
            set(body) != {"error"}
            or set(error) != {"code", "message", "fields"}
            or error["code"] != "unauthenticated"
            or not error["message"]
        ):
            problems.append(f"{op} answered 401 with {body}")
        if found := leaked(response.text, markers):
            problems.append(f"{op} without a token showed {found}")
    assert not problems, "\n".join(problems)


def test_a_new_api_path_parameter_nobody_registered_fails_with_instructions() -> None:
    op = Operation(
        "get", "/api/v1/widgets/{widget_id}", {"parameters": [{"name": "widget_id", "in": "path"}]}
    )
    with pytest.raises(pytest.fail.Exception, match=r"Register it in API_PARAMS"):
        call_arguments(op, {})
