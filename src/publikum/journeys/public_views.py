"""Public pages behind the links in every mail: one-click unsubscribe and tracked clicks.

Both are reached only through signed links (delivery.py); nothing else identifies anyone.
"""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from publikum.audience.consent import LinkInvalid, preference_link
from publikum.core.models import Organisation
from publikum.journeys import delivery
from publikum.web.signed_pages import signed_link_page

# RFC 8058: the body a mail client POSTs to the List-Unsubscribe URL.
ONE_CLICK_FIELD = "List-Unsubscribe"
ONE_CLICK_VALUE = "One-Click"


def _public_org(slug: str) -> Organisation:
    organisation = Organisation.objects.filter(slug=slug).first()
    if organisation is None:
        raise Http404("No such organisation.")
    return organisation


def _page(
    request: HttpRequest,
    organisation: Organisation,
    template: str,
    context: dict[str, Any] | None = None,
    status: int = 200,
) -> HttpResponse:
    return signed_link_page(request, organisation, f"journeys/public/{template}", context, status)


def _invalid(request: HttpRequest, organisation: Organisation, message: str) -> HttpResponse:
    return _page(request, organisation, "link_invalid.html", {"message": message}, status=400)


# Mail clients POST here without a session or CSRF cookie (RFC 8058), so CSRF protection
# cannot apply; the signed token in the URL is the credential, and all this endpoint can do
# is withdraw consent.
@csrf_exempt
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, org: str, token: str) -> HttpResponse:
    organisation = _public_org(org)
    try:
        message = delivery.message_for_unsubscribe(organisation=organisation, token=token)
    except LinkInvalid:
        return _invalid(request, organisation, _("This unsubscribe link is not valid."))
    contact = message.contact
    assert contact is not None  # message_for_unsubscribe checked it
    if request.method == "GET":
        # A GET may come from a link scanner: it only shows the button, never unsubscribes.
        return _page(
            request,
            organisation,
            "unsubscribe.html",
            {
                "field": ONE_CLICK_FIELD,
                "value": ONE_CLICK_VALUE,
                "preferences": preference_link(contact),
            },
        )
    if request.POST.get(ONE_CLICK_FIELD) != ONE_CLICK_VALUE:
        return _invalid(
            request, organisation, _("This request is not a valid unsubscribe request.")
        )
    withdrawn = delivery.message_unsubscribe(message=message)
    return _page(request, organisation, "unsubscribed.html", {"withdrawn": withdrawn})


@require_GET
def click(request: HttpRequest, org: str, token: str) -> HttpResponse:
    organisation = _public_org(org)
    try:
        url = delivery.message_click(organisation=organisation, token=token)
    except LinkInvalid:
        return _invalid(request, organisation, _("This link is not valid."))
    response = HttpResponseRedirect(url)
    response["Cache-Control"] = "no-store"
    response["Referrer-Policy"] = "no-referrer"
    return response
