"""Views of the shell: start page, login helpers, error pages, health check."""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import translation
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET

from publikum.core import selectors


def home(request: HttpRequest) -> HttpResponse:
    """Logged-in staff go to their organisation's dashboard (or choose one)."""
    if not request.user.is_authenticated:
        return redirect("login")
    memberships = list(selectors.memberships_of(user=request.user))  # type: ignore[arg-type]
    if len(memberships) == 1:
        return redirect("dashboard", org=memberships[0].organisation.slug)
    return render(request, "web/choose_organisation.html", {"memberships": memberships})


@require_GET
def healthz(request: HttpRequest) -> HttpResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


def _wants_json(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def _error(request: HttpRequest, status: int, code: str, message: Any) -> HttpResponse:
    if _wants_json(request):
        # The API speaks English; pages speak the visitor's language.
        with translation.override("en"):
            text = str(message)
        return JsonResponse({"error": {"code": code, "message": text, "fields": {}}}, status=status)
    return render(request, "web/error.html", {"status": status, "message": message}, status=status)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _error(request, 400, "bad_request", _("The request could not be understood."))


def forbidden(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _error(request, 403, "forbidden", _("You are not allowed to do this."))


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _error(request, 404, "not_found", _("This page does not exist."))


def server_error(request: HttpRequest) -> HttpResponse:
    return _error(request, 500, "server_error", _("Something went wrong on our side."))


def api_not_found(request: HttpRequest) -> HttpResponse:
    """Unknown API paths answer in JSON, also with DEBUG on."""
    return _error(request, 404, "not_found", f"There is no API endpoint {request.path}.")
