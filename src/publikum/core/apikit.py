"""The shared pieces of the REST API: bearer-token auth, role checks, JSON errors."""

from __future__ import annotations

import json
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI, Schema
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.security import HttpBearer
from pydantic import ConfigDict

from publikum.core import services
from publikum.core.errors import DomainError, PermissionDenied
from publikum.core.models import ApiToken, Organisation, role_at_least


class TokenAuth(HttpBearer):
    """`Authorization: Bearer pk_...`: a token bound to one organisation and one role."""

    openapi_description = (
        "An API token created under Settings → API tokens or with `publikum token create`."
    )

    def __call__(self, request: HttpRequest) -> ApiToken | None:
        # Our own parsing: ninja's logs the whole header (the secret) on a wrong scheme.
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        return self.authenticate(request, token.strip())

    def authenticate(self, request: HttpRequest, token: str) -> ApiToken | None:
        api_token = services.token_authenticate(token)
        if api_token is None:
            return None
        request.organisation = api_token.organisation  # type: ignore[attr-defined]
        request.api_token = api_token  # type: ignore[attr-defined]
        return api_token


def org_of(request: HttpRequest) -> Organisation:
    return request.organisation  # type: ignore[attr-defined,no-any-return]


def token_of(request: HttpRequest) -> ApiToken:
    return request.api_token  # type: ignore[attr-defined,no-any-return]


def require_role(request: HttpRequest, minimum: str) -> None:
    token = token_of(request)
    if not role_at_least(token.role, minimum):
        raise PermissionDenied(
            f"This token has the role '{token.role}'; this call needs '{minimum}' or higher."
        )


class StrictSchema(Schema):
    """Input schemas reject unknown fields, so that a typo is an error and not silence."""

    model_config = ConfigDict(extra="forbid")


class ErrorBody(Schema):
    code: str
    message: str
    fields: dict[str, list[str]]


class ErrorOut(Schema):
    error: ErrorBody


def error_response(  # noqa: PLR0917
    api: NinjaAPI,
    request: HttpRequest,
    status: int,
    code: str,
    message: str,
    fields: dict[str, list[str]] | None = None,
) -> HttpResponse:
    return api.create_response(
        request,
        {"error": {"code": code, "message": message, "fields": fields or {}}},
        status=status,
    )


def _field_name(loc: tuple[Any, ...]) -> str:
    # ninja prefixes locations with the parameter source ("body", "query", "path") and,
    # for a body schema, the parameter name; people want the field path itself.
    parts = [str(p) for p in loc]
    if parts and parts[0] in {"body", "query", "path", "header", "cookie", "form", "file"}:
        parts = parts[1:]
        if len(parts) > 1 and parts[0] in {"payload", "data", "body"}:
            parts = parts[1:]
    name = ".".join(parts)
    return "body" if name in {"", "payload", "data"} else name


def install_error_handlers(api: NinjaAPI) -> None:
    @api.exception_handler(DomainError)
    def domain_error(request: HttpRequest, exc: DomainError) -> HttpResponse:
        return error_response(api, request, exc.status, exc.code, exc.message, exc.fields)

    @api.exception_handler(NinjaValidationError)
    def validation_error(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
        fields: dict[str, list[str]] = {}
        for err in exc.errors:
            name = _field_name(tuple(err.get("loc", ())))
            msg = str(err.get("msg", "invalid"))
            if err.get("type") == "extra_forbidden":
                msg = "unknown field"
            fields.setdefault(name, []).append(msg)
        summary = "; ".join(f"{k}: {', '.join(v)}" for k, v in fields.items())
        return error_response(
            api,
            request,
            422,
            "validation_error",
            f"The request has invalid fields ({summary}).",
            fields,
        )

    @api.exception_handler(AuthenticationError)
    def auth_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
        response = error_response(
            api,
            request,
            401,
            "unauthenticated",
            "Missing, unknown or revoked API token. Send 'Authorization: Bearer <token>'.",
        )
        response["WWW-Authenticate"] = 'Bearer realm="publikum"'
        return response

    @api.exception_handler(Http404)
    def not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
        message = str(exc) if str(exc) and "No " in str(exc) else "Not found."
        return error_response(api, request, 404, "not_found", message)

    @api.exception_handler(RequestDataTooBig)
    def body_too_big(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
        # Raised by Django when ninja reads a body above DATA_UPLOAD_MAX_MEMORY_SIZE; without
        # this handler it surfaced as a generic 400 "bad request".
        return error_response(
            api, request, 413, "payload_too_large", "The request body is too large."
        )

    @api.exception_handler(HttpError)
    def http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
        cause = exc.__cause__
        if isinstance(cause, RequestDataTooBig):
            return error_response(
                api, request, 413, "payload_too_large", "The request body is too large."
            )
        if isinstance(cause, json.JSONDecodeError):
            return error_response(
                api,
                request,
                400,
                "malformed_json",
                f"The request body is not valid JSON: {cause.msg} at line {cause.lineno}, "
                f"column {cause.colno}.",
            )
        if isinstance(cause, UnicodeDecodeError):
            return error_response(
                api, request, 400, "malformed_json", "The request body is not UTF-8 encoded JSON."
            )
        codes = {
            400: "bad_request",
            401: "unauthenticated",
            403: "forbidden",
            404: "not_found",
            405: "method_not_allowed",
            409: "conflict",
            413: "payload_too_large",
            429: "rate_limited",
        }
        return error_response(
            api, request, exc.status_code, codes.get(exc.status_code, "error"), str(exc)
        )
