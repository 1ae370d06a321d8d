"""Roles: owner > manager > editor > front desk > viewer, on staff pages and in the API."""

from __future__ import annotations

import pytest
from django.test import Client

from conftest import make_member, make_organisation, make_token
from publikum.core import services
from publikum.core.models import ApiToken, AuditEntry, Membership, Organisation, Role, User

pytestmark = pytest.mark.django_db

ROLES = [Role.OWNER, Role.MANAGER, Role.EDITOR, Role.FRONT_DESK, Role.VIEWER]


def rank(role: str) -> int:
    return len(ROLES) - ROLES.index(role)


def client_for(user: User) -> Client:
    client = Client(headers={"accept-language": "en"})
    client.force_login(user)
    return client


def membership_of(organisation: Organisation, user: User) -> Membership:
    return Membership.objects.get(organisation=organisation, user=user)


@pytest.fixture
def house(db: None) -> Organisation:
    return make_organisation("stadtmuseum-rollen", "Stadtmuseum Rollen")


# --- staff pages --------------------------------------------------------------------------

STAFF_PAGES = {
    "": Role.VIEWER,  # dashboard
    "outbox/": Role.VIEWER,
    "team/": Role.VIEWER,
    "tokens/": Role.MANAGER,
    "jobs/": Role.MANAGER,
    "audit/": Role.OWNER,
}


@pytest.mark.parametrize("role", ROLES)
def test_staff_pages_follow_the_role_rank(house, role) -> None:
    client = client_for(make_member(house, role))
    for page, minimum in STAFF_PAGES.items():
        response = client.get(f"/o/{house.slug}/{page}")
        expected = 200 if rank(role) >= rank(minimum) else 403
        assert response.status_code == expected, f"{role} on /{page}: {response.status_code}"
        if expected == 403:
            assert "not allow" in response.content.decode()


@pytest.mark.parametrize("role", ROLES)
def test_navigation_shows_only_pages_the_role_may_open(house, role) -> None:
    page = client_for(make_member(house, role)).get(f"/o/{house.slug}/").content.decode()
    for target, minimum in STAFF_PAGES.items():
        link = f'href="/o/{house.slug}/{target}"'
        assert (link in page) == (rank(role) >= rank(minimum)), f"{role}: {link}"


def test_viewer_sees_the_team_but_cannot_add_members(house) -> None:
    client = client_for(make_member(house, Role.VIEWER))
    page = client.get(f"/o/{house.slug}/team/").content.decode()
    assert 'name="email"' not in page
    response = client.post(
        f"/o/{house.slug}/team/", {"email": "neu@example.org", "name": "Neu", "role": "editor"}
    )
    assert response.status_code == 403
    assert not User.objects.filter(email="neu@example.org").exists()


def test_editor_cannot_open_a_member_or_revoke_a_token(house) -> None:
    other = make_member(house, Role.VIEWER)
    token, _ = services.token_create(organisation=house, name="Kasse")
    client = client_for(make_member(house, Role.EDITOR))
    edit = client.post(
        f"/o/{house.slug}/team/{membership_of(house, other).pk}/", {"role": Role.MANAGER}
    )
    assert edit.status_code == 403
    assert client.post(f"/o/{house.slug}/tokens/{token.pk}/revoke/").status_code == 403
    assert membership_of(house, other).role == Role.VIEWER
    token.refresh_from_db()
    assert token.revoked_at is None


# --- API ----------------------------------------------------------------------------------

API_CALLS = [
    ("GET", "/organisation", None, Role.VIEWER),
    ("GET", "/members", None, Role.VIEWER),
    ("PATCH", "/organisation", {"city": "Bonn"}, Role.MANAGER),
    ("GET", "/jobs/failed", None, Role.MANAGER),
    ("GET", "/audit-log", None, Role.OWNER),
]


@pytest.mark.parametrize("role", ROLES)
def test_api_follows_the_role_rank(api, house, role) -> None:
    client = api(make_token(house, role))
    for method, path, body, minimum in API_CALLS:
        response = client.request(method, path, json=body)
        if rank(role) >= rank(minimum):
            assert response.status_code == 200, f"{role} {method} {path}: {response.text}"
        else:
            assert response.status_code == 403, f"{role} {method} {path}: {response.text}"
            error = response.json()["error"]
            assert error["code"] == "forbidden"
            assert minimum in error["message"]
    house.refresh_from_db()
    assert (house.city == "Bonn") == (rank(role) >= rank(Role.MANAGER))


# --- what a manager may not do ------------------------------------------------------------


@pytest.fixture
def manager(house) -> User:
    make_member(house, Role.OWNER)
    return make_member(house, Role.MANAGER)


def test_manager_cannot_create_an_owner_token(house, manager) -> None:
    response = client_for(manager).post(
        f"/o/{house.slug}/tokens/", {"name": "Alles", "role": Role.OWNER}
    )
    assert response.status_code == 200
    assert "Only an owner can create an owner token." in response.content.decode()
    assert 'data-testid="new-token"' not in response.content.decode()
    assert not ApiToken.objects.filter(organisation=house).exists()


def test_manager_can_create_a_manager_token_and_owner_an_owner_token(house, manager) -> None:
    made = client_for(manager).post(
        f"/o/{house.slug}/tokens/", {"name": "Kasse", "role": Role.MANAGER}
    )
    assert 'data-testid="new-token"' in made.content.decode()
    owner = Membership.objects.get(organisation=house, role=Role.OWNER).user
    client_for(owner).post(f"/o/{house.slug}/tokens/", {"name": "Alles", "role": Role.OWNER})
    assert sorted(ApiToken.objects.filter(organisation=house).values_list("role", flat=True)) == [
        Role.MANAGER,
        Role.OWNER,
    ]


def test_manager_cannot_promote_anyone_to_owner(house, manager) -> None:
    editor = make_member(house, Role.EDITOR)
    client = client_for(manager)
    for member in (editor, manager):
        url = f"/o/{house.slug}/team/{membership_of(house, member).pk}/"
        response = client.post(url, {"role": Role.OWNER})
        assert response.status_code == 200
        assert "Only an owner can give or take the owner role." in response.content.decode()
    assert membership_of(house, editor).role == Role.EDITOR
    assert membership_of(house, manager).role == Role.MANAGER


def test_manager_cannot_add_a_new_owner(house, manager) -> None:
    response = client_for(manager).post(
        f"/o/{house.slug}/team/", {"email": "chefin@example.org", "name": "C", "role": "owner"}
    )
    assert "Only an owner can add another owner." in response.content.decode()
    assert not Membership.objects.filter(user__email="chefin@example.org").exists()


def test_manager_cannot_demote_an_owner(house, manager) -> None:
    second_owner = make_member(house, Role.OWNER)
    client = client_for(manager)
    response = client.post(
        f"/o/{house.slug}/team/{membership_of(house, second_owner).pk}/", {"role": Role.VIEWER}
    )
    assert "Only an owner can give or take the owner role." in response.content.decode()
    # Not through the "add a member" form either, with the owner's address.
    response = client.post(
        f"/o/{house.slug}/team/", {"email": second_owner.email, "name": "", "role": "viewer"}
    )
    assert "Only an owner can give or take the owner role." in response.content.decode()
    assert membership_of(house, second_owner).role == Role.OWNER


def test_manager_cannot_remove_an_owner(house, manager) -> None:
    second_owner = make_member(house, Role.OWNER)
    response = client_for(manager).post(
        f"/o/{house.slug}/team/{membership_of(house, second_owner).pk}/", {"action": "remove"}
    )
    assert "Only an owner can give or take the owner role." in response.content.decode()
    assert membership_of(house, second_owner).role == Role.OWNER


def test_manager_can_change_and_remove_other_members(house, manager) -> None:
    editor = make_member(house, Role.EDITOR)
    client = client_for(manager)
    url = f"/o/{house.slug}/team/{membership_of(house, editor).pk}/"
    assert client.post(url, {"role": Role.FRONT_DESK}).status_code == 302
    assert membership_of(house, editor).role == Role.FRONT_DESK
    assert client.post(url, {"action": "remove"}).status_code == 302
    assert not Membership.objects.filter(organisation=house, user=editor).exists()


# --- the last owner -----------------------------------------------------------------------


def test_last_owner_cannot_step_down(house) -> None:
    owner = make_member(house, Role.OWNER)
    url = f"/o/{house.slug}/team/{membership_of(house, owner).pk}/"
    response = client_for(owner).post(url, {"role": Role.MANAGER})
    assert response.status_code == 200
    assert "An organisation keeps at least one owner." in response.content.decode()
    assert membership_of(house, owner).role == Role.OWNER


def test_last_owner_cannot_be_removed(house) -> None:
    owner = make_member(house, Role.OWNER)
    url = f"/o/{house.slug}/team/{membership_of(house, owner).pk}/"
    response = client_for(owner).post(url, {"action": "remove"})
    assert response.status_code == 200
    assert "An organisation keeps at least one owner." in response.content.decode()
    assert membership_of(house, owner).role == Role.OWNER


def test_an_owner_may_step_down_when_another_owner_remains(house) -> None:
    owner = make_member(house, Role.OWNER)
    make_member(house, Role.OWNER)
    url = f"/o/{house.slug}/team/{membership_of(house, owner).pk}/"
    assert client_for(owner).post(url, {"role": Role.MANAGER}).status_code == 302
    assert membership_of(house, owner).role == Role.MANAGER


# --- audit trail --------------------------------------------------------------------------


def test_every_change_leaves_an_audit_entry_on_the_owners_page(api, house) -> None:
    owner = make_member(house, Role.OWNER)
    manager = make_member(house, Role.MANAGER)
    client = client_for(manager)
    team = f"/o/{house.slug}/team/"

    client.post(team, {"email": "neu@example.org", "name": "Neu", "role": Role.EDITOR})
    newcomer = membership_of(house, User.objects.get(email="neu@example.org"))
    client.post(f"{team}{newcomer.pk}/", {"role": Role.FRONT_DESK})
    client.post(f"/o/{house.slug}/tokens/", {"name": "Kasse", "role": Role.VIEWER})
    token = ApiToken.objects.get(organisation=house, name="Kasse")
    client.post(f"/o/{house.slug}/tokens/{token.pk}/revoke/")
    client.post(f"{team}{newcomer.pk}/", {"action": "remove"})
    manager_token = make_token(house, Role.MANAGER)
    assert api(manager_token).patch("/organisation", json={"city": "Bonn"}).status_code == 200

    by_manager = AuditEntry.objects.filter(organisation=house, actor_user=manager)
    assert list(by_manager.order_by("id").values_list("action", flat=True)) == [
        "core.membership.set",
        "core.membership.set",
        "core.token.created",
        "core.token.revoked",
        "core.membership.removed",
    ]

    audit = client_for(owner)
    for action, who in [
        ("core.membership.set", manager.email),
        ("core.token.created", manager.email),
        ("core.token.revoked", manager.email),
        ("core.membership.removed", manager.email),
        ("core.organisation.updated", f"token {manager_token[:10]}"),
    ]:
        page = audit.get(f"/o/{house.slug}/audit/", {"action": action}).content.decode()
        assert f"<code>{action}</code>" in page, action
        assert who in page, (action, who)
    # The manager's token, unlike the owner, may not read the log.
    assert api(manager_token).get("/audit-log").status_code == 403
    log = api(make_token(house, Role.OWNER)).get("/audit-log").json()
    actions = [e["action"] for e in log["items"]]
    assert "core.token.revoked" in actions
