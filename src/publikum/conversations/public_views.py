"""The public contact form under /<org>/contact/: a message goes to the inbox.

Rate-limited per address, CSRF-protected, with a honeypot; the answer for a robot looks the
same as for a person.
"""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import get_language
from django.views.decorators.http import require_GET, require_http_methods

from publikum.conversations.forms import ContactForm
from publikum.conversations.services import contact_form_submit
from publikum.core.errors import DomainError
from publikum.core.models import Organisation
from publikum.core.ratelimit import limit
from publikum.web.signed_pages import signed_link_page

CONTACT_RATE = "5/m"


def _public_org(slug: str) -> Organisation:
    organisation = Organisation.objects.filter(slug=slug).first()
    if organisation is None:
        raise Http404("No such organisation.")
    return organisation


def _language() -> str:
    language = (get_language() or "de")[:2]
    return language if language in {"de", "en"} else "de"


@limit("contact_form", rate=CONTACT_RATE, methods=("POST",))
@require_http_methods(["GET", "POST"])
def contact(request: HttpRequest, org: str) -> HttpResponse:
    organisation = _public_org(org)
    form = ContactForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_robot:
            return redirect("public_contact_sent", org=organisation.slug)
        if form.is_valid():
            data = form.cleaned_data
            try:
                contact_form_submit(
                    organisation=organisation,
                    name=data["name"],
                    email=data["email"],
                    text=data["message"],
                    language=_language(),
                )
            except DomainError as exc:
                for field, errors in exc.fields.items():
                    for error in errors:
                        form.add_error(field if field in form.fields else None, error)
                status = 400
            else:
                return redirect("public_contact_sent", org=organisation.slug)
        else:
            status = 400
    return signed_link_page(
        request,
        organisation,
        "conversations/public_contact.html",
        {"form": form},
        status,
        private=False,
    )


@require_GET
def contact_sent(request: HttpRequest, org: str) -> HttpResponse:
    organisation = _public_org(org)
    return signed_link_page(
        request, organisation, "conversations/public_contact_sent.html", private=False
    )
