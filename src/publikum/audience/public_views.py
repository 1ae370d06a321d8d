"""Public pages of the audience under /<org>/: subscribe, confirm, preference centre.

Nothing here trusts its input: the subscribe form is rate-limited, CSRF-protected and has a
honeypot; every other page is reached only through a signed link (see consent.py).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django import forms
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from publikum.audience import consent
from publikum.audience.models import Channel, Purpose
from publikum.core.errors import DomainError
from publikum.core.models import Organisation
from publikum.core.ratelimit import limit
from publikum.web.signed_pages import signed_link_page

LANGUAGE_CHOICES = [("de", "Deutsch"), ("en", "English")]
ONE_CLICK_FIELD = "List-Unsubscribe"
ONE_CLICK_VALUE = "One-Click"


def _public_org(slug: str) -> Organisation:
    organisation = Organisation.objects.filter(slug=slug).first()
    if organisation is None:
        raise Http404("No such organisation.")
    return organisation


def _language() -> str:
    language = (get_language() or "de")[:2]
    return language if language in consent.LANGUAGES else "de"


def _page(
    request: HttpRequest,
    organisation: Organisation,
    template: str,
    context: dict[str, Any] | None = None,
    status: int = 200,
) -> HttpResponse:
    # The subscribe form is the one page here that no signed link leads to.
    return signed_link_page(
        request,
        organisation,
        f"audience/{template}",
        context,
        status,
        private=template != "public_subscribe.html",
    )


def _link_error(request: HttpRequest, organisation: Organisation, exc: DomainError) -> HttpResponse:
    template = (
        "public_link_expired.html"
        if isinstance(exc, consent.LinkExpired)
        else "public_link_invalid.html"
    )
    return _page(request, organisation, template, {"message": exc.message}, status=exc.status)


# --- subscribe -----------------------------------------------------------------------------


class SubscribeForm(forms.Form):
    email = forms.EmailField(label=_("E-mail address"), max_length=254)
    first_name = forms.CharField(label=_("First name (optional)"), max_length=100, required=False)
    language = forms.ChoiceField(label=_("Language of our e-mails"), choices=LANGUAGE_CHOICES)
    purposes = forms.MultipleChoiceField(
        label=_("What would you like to receive?"),
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": _("Please choose at least one.")},
    )
    # Honeypot: hidden from people (and from screen readers), filled in by form robots.
    website = forms.CharField(label=_("Leave this field empty"), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        texts = consent.purpose_texts()
        self.fields["purposes"].choices = [(p, texts[p]) for p in Purpose.values]  # type: ignore[attr-defined]

    @property
    def is_robot(self) -> bool:
        return bool(self.data.get("website"))


@limit("subscribe", rate="5/m", methods=("POST",))
@require_http_methods(["GET", "POST"])
def subscribe(request: HttpRequest, org: str) -> HttpResponse:
    organisation = _public_org(org)
    language = _language()
    form = SubscribeForm(request.POST or None, initial={"language": language})
    status = 200
    if request.method == "POST":
        if form.is_robot:
            # The same answer as for a person, so that a robot learns nothing.
            return redirect("public_subscribe_sent", org=organisation.slug)
        if form.is_valid():
            data = form.cleaned_data
            try:
                consent.subscription_create(
                    organisation=organisation,
                    email=data["email"],
                    first_name=data["first_name"],
                    language=data["language"],
                    purposes=list(data["purposes"]),
                    shown_in=language,
                    link_base=request.build_absolute_uri("/"),
                )
            except consent.MailNotSent as exc:
                form.add_error(None, exc.message)
                status = exc.status
            except DomainError as exc:
                for field, errors in exc.fields.items():
                    for error in errors:
                        form.add_error(field if field in form.fields else None, error)
            else:
                # Known and unknown addresses get the same answer: no one learns who is in
                # the audience by typing addresses into this form.
                return redirect("public_subscribe_sent", org=organisation.slug)
    return _page(
        request,
        organisation,
        "public_subscribe.html",
        {"form": form, "intro": consent.consent_intro(organisation)},
        status=status,
    )


@require_GET
def subscribe_sent(request: HttpRequest, org: str) -> HttpResponse:
    organisation = _public_org(org)
    return _page(
        request, organisation, "public_subscribe_sent.html", {"days": consent.CONFIRM_MAX_AGE.days}
    )


@require_GET
def subscribe_confirm(request: HttpRequest, org: str, token: str) -> HttpResponse:
    organisation = _public_org(org)
    try:
        result = consent.subscription_confirm(organisation=organisation, token=token)
    except (consent.LinkInvalid, consent.LinkExpired) as exc:
        return _link_error(request, organisation, exc)
    contact = result.subscription.contact
    texts = consent.purpose_texts()
    return _page(
        request,
        organisation,
        "public_subscribe_confirmed.html",
        {
            "already": result.already,
            "purposes": [texts[p] for p in result.subscription.purposes if p in texts],
            "preferences_url": consent.preference_link(contact),
        },
    )


# --- preference centre ---------------------------------------------------------------------


def _pair_field(channel: str, purpose: str) -> str:
    return f"consent_{channel}_{purpose}"


class PreferencesForm(forms.Form):
    max_mails_per_month = forms.IntegerField(
        label=_("At most this many e-mails a month"),
        min_value=0,
        max_value=consent.MAX_MAILS_PER_MONTH,
        help_text=_("0 means no limit."),
        widget=forms.NumberInput(attrs={"aria-describedby": "id_max_mails_per_month-help"}),
    )
    paused_until = forms.DateField(
        label=_("Pause all e-mails until"),
        required=False,
        # ISO format: a date input cannot show the localised "31.12.2026".
        widget=forms.DateInput(
            attrs={"type": "date", "aria-describedby": "id_paused_until-help"}, format="%Y-%m-%d"
        ),
        help_text=_("Leave empty to receive e-mails without a pause."),
    )

    def __init__(
        self, *args: Any, pairs: list[tuple[str, str]], labels: dict[str, str], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.pairs = pairs
        channel_labels = dict(Channel.choices)
        for channel, purpose in pairs:
            label = labels[purpose]
            if channel != Channel.EMAIL:
                label = f"{channel_labels[channel]}: {label}"
            self.fields[_pair_field(channel, purpose)] = forms.BooleanField(
                label=label, required=False
            )

    def frequency_fields(self) -> list[forms.BoundField]:
        return [self["max_mails_per_month"], self["paused_until"]]

    def consent_fields(self) -> list[forms.BoundField]:
        return [self[_pair_field(c, p)] for c, p in self.pairs]

    def wanted(self) -> dict[tuple[str, str], bool]:
        return {(c, p): bool(self.cleaned_data.get(_pair_field(c, p))) for c, p in self.pairs}


def _preference_pairs(granted: set[tuple[str, str]]) -> list[tuple[str, str]]:
    """Every e-mail purpose; other channels only where consent was given (to withdraw it)."""
    pairs = [(Channel.EMAIL.value, p) for p in Purpose.values]
    pairs += sorted(pair for pair in granted if pair[0] != Channel.EMAIL)
    return pairs


@require_http_methods(["GET", "POST"])
def preferences(request: HttpRequest, org: str, token: str) -> HttpResponse:
    organisation = _public_org(org)
    try:
        contact = consent.contact_from_preference_token(organisation=organisation, token=token)
    except consent.LinkInvalid as exc:
        return _link_error(request, organisation, exc)
    if request.method == "POST" and request.POST.get("action") == "unsubscribe_all":
        withdrawn = consent.unsubscribe_everything(contact=contact, via="preference centre")
        return _page(request, organisation, "public_unsubscribed.html", {"withdrawn": withdrawn})

    granted = consent.granted_pairs(contact=contact)
    pairs = _preference_pairs(granted)
    initial: dict[str, Any] = {
        "max_mails_per_month": contact.max_mails_per_month,
        "paused_until": contact.paused_until,
        **{_pair_field(c, p): (c, p) in granted for c, p in pairs},
    }
    form = PreferencesForm(
        request.POST or None, pairs=pairs, labels=consent.purpose_texts(), initial=initial
    )
    if request.method == "POST" and form.is_valid():
        paused: date | None = form.cleaned_data["paused_until"]
        try:
            consent.preferences_update(
                contact=contact,
                wanted=form.wanted(),
                max_mails_per_month=form.cleaned_data["max_mails_per_month"],
                paused_until=paused,
                shown_in=_language(),
            )
        except DomainError as exc:
            for field, errors in exc.fields.items():
                for error in errors:
                    form.add_error(field if field in form.fields else None, error)
        else:
            return redirect(request.path + "?saved=1")
    return _page(
        request,
        organisation,
        "public_preferences.html",
        {
            "form": form,
            "contact": contact,
            "intro": consent.consent_intro(organisation),
            "saved": request.method == "GET" and request.GET.get("saved") == "1",
        },
        status=400 if form.is_bound and form.errors else 200,
    )


# RFC 8058 one-click: mail clients POST here without a session or a CSRF cookie, so CSRF
# protection cannot apply; the signed token in the URL is the credential, and the only
# thing this endpoint can do is withdraw consent.
@csrf_exempt
@require_http_methods(["GET", "POST"])
def unsubscribe_oneclick(request: HttpRequest, org: str, token: str) -> HttpResponse:
    organisation = _public_org(org)
    try:
        contact = consent.contact_from_unsubscribe_token(organisation=organisation, token=token)
    except consent.LinkInvalid as exc:
        return _link_error(request, organisation, exc)
    if request.method == "GET":
        # A GET may come from a link scanner: it only shows the button.
        return _page(
            request,
            organisation,
            "public_unsubscribe.html",
            {"field": ONE_CLICK_FIELD, "value": ONE_CLICK_VALUE},
        )
    if request.POST.get(ONE_CLICK_FIELD) != ONE_CLICK_VALUE:
        return _page(
            request,
            organisation,
            "public_link_invalid.html",
            {"message": _("This request is not a valid unsubscribe request.")},
            status=400,
        )
    withdrawn = consent.unsubscribe_everything(contact=contact, via="one-click unsubscribe")
    return _page(request, organisation, "public_unsubscribed.html", {"withdrawn": withdrawn})
