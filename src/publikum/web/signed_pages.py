"""Public pages reached through a signed link in a mail (preferences, unsubscribe, ...)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from publikum.core.models import Organisation


def signed_link_page(
    request: HttpRequest,
    organisation: Organisation,
    template: str,
    context: dict[str, Any] | None = None,
    status: int = 200,
    *,
    private: bool = True,
) -> HttpResponse:
    """Render a public page of `organisation`; a `private` one (behind a signed link) is kept
    out of shared caches, and its address out of the Referer sent to other sites.

    Not "no-referrer": the browser would then send "Origin: null" with the page's own forms,
    and CSRF protection would refuse them.
    """
    response = render(
        request, template, {"public_org": organisation, **(context or {})}, status=status
    )
    if private:
        response["Cache-Control"] = "no-store"
        response["Referrer-Policy"] = "same-origin"
    return response
