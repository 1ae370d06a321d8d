"""Bad input to the REST API: every answer is a clear JSON error, never a 500."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import requests
from django.conf import settings
from django.test import Client

from conftest import make_organisation, make_token
from publikum.core import services
from publikum.core.models import Organisation, Role

pytestmark = pytest.mark.django_db


def assert_error(response: requests.Response | Any, status: int, code: str) -> dict[str, Any]:
    """The response is our JSON error with `status` and `code`; returns its `error` part."""
    assert response.status_code == status, response.content[:500]
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "fields"}
    assert body["error"]["code"] == code
    assert body["error"]["message"].strip()
    assert isinstance(body["error"]["fields"], dict)
    return body["error"]


@pytest.fixture
def house(db: None) -> Organisation:
    return make_organisation("stadtmuseum-api", "Stadtmuseum API")


@pytest.fixture
def owner_api(api, house):
    return api(make_token(house, Role.OWNER))


# --- tokens -------------------------------------------------------------------------------


def test_unknown_token_is_401(api, house) -> None:
    response = api("pk_" + "x" * 43).get("/organisation")
    assert_error(response, 401, "unauthenticated")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert "Stadtmuseum API" not in response.text


def test_revoked_token_is_401(api, house) -> None:
    token, plain = services.token_create(organisation=house, name="alt", role=Role.OWNER)
    client = api(plain)
    assert client.get("/organisation").status_code == 200
    services.token_revoke(token=token)
    assert_error(client.get("/organisation"), 401, "unauthenticated")


@pytest.mark.parametrize("header", ["Token {t}", "Basic {t}", "{t}", "Bearer", "Bearer{t}"])
def test_token_in_a_wrong_scheme_is_401(api, house, header) -> None:
    plain = make_token(house, Role.OWNER)
    response = api(None).get("/organisation", headers={"Authorization": header.format(t=plain)})
    error = assert_error(response, 401, "unauthenticated")
    assert "Bearer" in error["message"]


# --- bodies -------------------------------------------------------------------------------


def patch_raw(client: Any, body: bytes | str) -> requests.Response:
    return client.patch("/organisation", data=body, headers={"Content-Type": "application/json"})


def test_malformed_json_is_400_saying_where(owner_api, house) -> None:
    error = assert_error(patch_raw(owner_api, '{"name": "Neu",}'), 400, "malformed_json")
    assert "line 1" in error["message"]
    house.refresh_from_db()
    assert house.name == "Stadtmuseum API"


def test_body_that_is_not_utf8_is_400(owner_api) -> None:
    assert_error(patch_raw(owner_api, b'{"name": "\xff"}'), 400, "malformed_json")


def test_json_array_instead_of_an_object_is_422(owner_api, house) -> None:
    error = assert_error(patch_raw(owner_api, '[{"name": "Neu"}]'), 422, "validation_error")
    assert "object" in error["message"]
    house.refresh_from_db()
    assert house.name == "Stadtmuseum API"


def test_unknown_field_is_422_naming_the_field(owner_api, house) -> None:
    response = owner_api.patch("/organisation", json={"nmae": "Neu", "city": "Köln"})
    error = assert_error(response, 422, "validation_error")
    assert error["fields"] == {"nmae": ["unknown field"]}
    assert "nmae" in error["message"]
    house.refresh_from_db()
    assert house.city == ""  # nothing of the request was applied


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", 5),
        ("name", ["Neu"]),
        ("kind", "castle"),
        ("language", "fr"),
        ("website", "not a web address"),
        ("timezone", "Mars/Olympus_Mons"),
        ("timezone", "Europe"),
        ("timezone", "../../etc/passwd"),
        ("timezone", "x" * 5000),
        ("name", ""),
    ],
)
def test_wrong_value_is_422_naming_the_field(owner_api, house, field, value) -> None:
    error = assert_error(
        owner_api.patch("/organisation", json={field: value}), 422, "validation_error"
    )
    assert list(error["fields"]) == [field]
    house.refresh_from_db()
    assert house.name == "Stadtmuseum API"
    assert house.timezone == "Europe/Berlin"


def test_right_values_are_applied(owner_api, house) -> None:
    # The counterpart of the cases above: the same call with good values works.
    response = owner_api.patch(
        "/organisation", json={"name": "Neu", "timezone": "Europe/Vienna", "kind": "theatre"}
    )
    assert response.status_code == 200
    assert response.json()["timezone"] == "Europe/Vienna"
    house.refresh_from_db()
    assert (house.name, house.kind) == ("Neu", "theatre")


def test_bad_pagination_is_422(owner_api) -> None:
    error = assert_error(
        owner_api.get("/members", params={"limit": "all"}), 422, "validation_error"
    )
    assert list(error["fields"]) == ["limit"]


def test_body_announced_above_the_upload_limit_is_413_before_reading(house) -> None:
    # Content-Length alone decides: the server must not wait for or read such a body.
    plain = make_token(house, Role.OWNER)
    too_long = settings.MAX_UPLOAD_BYTES + 1
    response = Client().patch(
        "/api/v1/organisation",
        data='{"name": "Neu"}',
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {plain}",
        CONTENT_LENGTH=str(too_long),
    )
    error = assert_error(response, 413, "payload_too_large")
    assert str(settings.MAX_UPLOAD_BYTES) in error["message"]
    house.refresh_from_db()
    assert house.name == "Stadtmuseum API"


def test_body_above_the_memory_limit_but_below_the_upload_limit_is_413(owner_api, house) -> None:
    size = settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1024
    assert size < settings.MAX_UPLOAD_BYTES
    body = json.dumps({"description_de": "x" * size})
    assert_error(patch_raw(owner_api, body), 413, "payload_too_large")
    house.refresh_from_db()
    assert house.description_de == ""


# --- paths and methods --------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/v1/nothing-here", "/api/v1/organisation/1", "/api/v2/x"])
def test_unknown_api_path_is_json_404(owner_api, path) -> None:
    url = owner_api.base_url + path
    response = owner_api.session.get(
        url, headers={"Authorization": f"Bearer {owner_api.token}"}, timeout=30
    )
    assert_error(response, 404, "not_found")


@pytest.mark.parametrize(("method", "path"), [("POST", "/organisation"), ("DELETE", "/token")])
def test_wrong_method_is_json_405(owner_api, house, method, path) -> None:
    response = owner_api.request(method, path, json={"name": "Neu"})
    assert_error(response, 405, "method_not_allowed")
    assert "GET" in response.headers["Allow"]
    house.refresh_from_db()
    assert house.name == "Stadtmuseum API"


# --- the API's own documentation ----------------------------------------------------------


def test_openapi_document_loads(api) -> None:
    response = api(None).get("/openapi.json")
    assert response.status_code == 200
    document = response.json()
    assert document["openapi"].startswith("3.")
    assert "/api/v1/organisation" in document["paths"]
    assert "TokenAuth" in document["components"]["securitySchemes"]


def test_docs_page_loads_only_our_own_assets(api) -> None:
    client = api(None)
    response = client.get("/docs")
    assert response.status_code == 200
    page = response.text
    assert "Publikum API" in page
    assets = re.findall(r"<(?:script|link|img|iframe)\b[^>]*?\b(?:src|href)=\"([^\"]*)\"", page)
    assert any(a.endswith(".js") for a in assets)
    for asset in assets:
        assert asset.startswith("/"), f"third-party asset {asset}"
        assert not asset.startswith("//"), f"third-party asset {asset}"
        loaded = client.session.get(client.base_url + asset, timeout=30)
        assert loaded.status_code == 200, asset
    assert "cdn" not in page.lower()
    assert not re.search(r"(?:src|href|url)\W+(?:https?:)?//", page), "a third-party reference"
    config = re.search(r'id="swagger-settings">(.*?)</script>', page, re.S)
    assert config is not None
    assert json.loads(config.group(1))["url"] == "/api/v1/openapi.json"
