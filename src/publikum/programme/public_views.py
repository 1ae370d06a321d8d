"""Public programme pages and feeds under /<org>/: the programme, an item, iCalendar, JSON.

Read-only and without personal data, so responses may sit in a shared cache for a minute
(`Cache-Control: public, max-age=60`); they vary by the language cookie.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from django.core.cache import cache
from django.core.paginator import Page, Paginator
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import render
from django.urls import reverse
from django.utils import dateformat, timezone
from django.utils.cache import patch_cache_control, patch_vary_headers
from django.utils.formats import get_format
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import get_language, gettext, override
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_safe

from publikum.core.models import Organisation
from publikum.programme import feeds, jsonld, selectors
from publikum.programme.models import (
    AccessibilityFeature,
    ItemKind,
    Occurrence,
    ProgrammeItem,
    TargetGroup,
    Theme,
)
from publikum.programme.public_forms import ProgrammeFilterForm
from publikum.programme.public_links import PublicLinks
from publikum.programme.selectors import DateState

PER_PAGE = 50
CACHE_SECONDS = 60
LANGUAGES = ("de", "en")

STATE_LABELS = {
    # A "Book" link says it; a label on every date would only be noise.
    DateState.AVAILABLE: "",
    DateState.FEW: _("Few seats left"),
    DateState.SOLD_OUT: _("Sold out"),
    DateState.CANCELLED: _("Cancelled"),
    DateState.OPEN: "",
    DateState.STARTED: _("Already begun"),
}


def public_org(slug: str) -> Organisation:
    organisation = Organisation.objects.filter(slug=slug).first()
    if organisation is None:
        raise Http404("No such organisation.")
    return organisation


def current_language() -> str:
    language = (get_language() or "de")[:2]
    return language if language in LANGUAGES else "de"


def cacheable(response: HttpResponse) -> HttpResponse:
    """Shared caches may keep it a minute; the language comes from the cookie."""
    patch_cache_control(response, public=True, max_age=CACHE_SECONDS)
    patch_vary_headers(response, ("Cookie", "Accept-Language"))
    return response


# --- what the templates show ----------------------------------------------------------------


@dataclass(frozen=True)
class DateRow:
    occurrence: Occurrence
    state: DateState
    label: str
    # The whole line: when, state, and the link to book or to join the waiting list.
    html: SafeString
    # <time> elements: "Sat, 9 May 2026, 19:00–21:00", or a span of days.
    when: SafeString
    # For a screen reader's link text: "9 May 2026 19:00".
    short: str
    # "book" (free seats), "waitlist" (sold out) or "" (nothing to book here).
    action: str = ""
    book_url: str = ""


@dataclass(frozen=True)
class ItemRow:
    item: ProgrammeItem
    url: str
    title: str
    summary: str
    kind: str
    themes: list[str]
    dates: list[DateRow]
    more_dates: int = 0


ACTIONS = {DateState.AVAILABLE: "book", DateState.FEW: "book", DateState.SOLD_OUT: "waitlist"}


def _url_pattern(name: str, org: str, **sentinel: str | int) -> tuple[str, str]:
    """A URL reversed once with a placeholder, split around it."""
    url = reverse(name, kwargs={"org": org, **sentinel})
    head, _, tail = url.rpartition(str(next(iter(sentinel.values()))))
    return head, tail


class Rows:
    """What a list of dates shows, made in Python: a page of 50 items and 150 dates costs
    a few milliseconds here, where template filters and {% url %} per date cost far more.

    Dates are in the organisation's time zone and the active language's formats."""

    def __init__(self, organisation: Organisation, language: str, now: datetime) -> None:
        self.now = now
        self.language = language
        self.zone = selectors.zone_of(organisation)
        date_format = str(get_format("DATE_FORMAT"))
        time_format = str(get_format("TIME_FORMAT"))
        self.day_format = f"D, {date_format}"
        self.start_format = f"D, {date_format}, {time_format}"
        self.short_format = f"{date_format} {time_format}"
        self.time_format = time_format
        self.labels = {state: str(label) for state, label in STATE_LABELS.items()}
        self.actions = {"book": gettext("Book"), "waitlist": gettext("Join the waiting list")}
        self._formatted: dict[tuple[datetime, str], str] = {}
        self.kinds = {kind: str(label) for kind, label in ItemKind.choices}
        self.item_url = _url_pattern("public_item", organisation.slug, slug="slug-placeholder")
        self.book_url = _url_pattern("public_book", organisation.slug, occurrence_id=987654321)

    def _format(self, value: datetime, pattern: str) -> str:
        key = (value, pattern)
        if key not in self._formatted:
            self._formatted[key] = dateformat.format(value, pattern)
        return self._formatted[key]

    def when(self, occurrence: Occurrence) -> tuple[SafeString, str]:
        start = timezone.localtime(occurrence.starts_at, self.zone)
        end = timezone.localtime(occurrence.ends_at, self.zone)
        short = self._format(start, self.short_format)
        if start.date() != end.date():
            return format_html(
                '<time datetime="{}">{}</time> – <time datetime="{}">{}</time>',
                start.isoformat(),
                self._format(start.replace(hour=0, minute=0), self.day_format),
                end.isoformat(),
                self._format(end.replace(hour=0, minute=0), self.day_format),
            ), short
        return format_html(
            '<time datetime="{}">{}</time>–<time datetime="{}">{}</time>',
            start.isoformat(),
            self._format(start, self.start_format),
            end.isoformat(),
            self._format(end, self.time_format),
        ), short

    def date(self, occurrence: Occurrence, title: str) -> DateRow:
        """One date; `title` (the item's) completes the link text for screen readers."""
        state = selectors.date_state(occurrence, now=self.now)
        when, short = self.when(occurrence)
        action = ACTIONS.get(state, "")
        head, tail = self.book_url
        book_url = f"{head}{occurrence.pk}{tail}" if action else ""
        parts = [
            format_html(
                '<span class="date-when{}">{}</span>',
                " cancelled" if state == DateState.CANCELLED else "",
                when,
            )
        ]
        if self.labels[state]:
            parts.append(
                format_html(' <span class="state state-{}">{}</span>', state, self.labels[state])
            )
        if action:
            parts.append(
                format_html(
                    ' <a class="date-action" href="{}">{}<span class="visually-hidden">: {}, {}'
                    "</span></a>",
                    book_url,
                    self.actions[action],
                    title,
                    short,
                )
            )
        return DateRow(
            occurrence=occurrence,
            state=state,
            label=self.labels[state],
            when=when,
            short=short,
            action=action,
            book_url=book_url,
            html=SafeString("".join(parts)),
        )

    def url(self, item: ProgrammeItem) -> str:
        head, tail = self.item_url
        return f"{head}{item.slug}{tail}"

    def kind(self, item: ProgrammeItem) -> str:
        return self.kinds.get(item.kind, item.kind)

    def item(self, item: ProgrammeItem, dates: list[Occurrence], total: int) -> ItemRow:
        title = item.title(self.language)
        return ItemRow(
            item=item,
            url=self.url(item),
            title=title,
            summary=item.summary(self.language),
            kind=self.kind(item),
            themes=[theme.name(self.language) for theme in item.themes.all()],
            dates=[self.date(occ, title) for occ in dates],
            more_dates=max(0, total - len(dates)),
        )


# --- the programme ----------------------------------------------------------------------------


def _query(params: dict[str, Any]) -> str:
    clean = {k: v for k, v in params.items() if v not in ("", None)}
    return urlencode(clean)


def _filter_params(form: ProgrammeFilterForm) -> dict[str, str]:
    """The valid filter fields as query parameters, for links that keep the filters."""
    filters = form.filters()
    return {
        "from": filters.date_from.isoformat() if filters.date_from else "",
        "to": filters.date_to.isoformat() if filters.date_to else "",
        "kind": filters.kind,
        "theme": filters.theme,
        "group": filters.target_group,
        "access": filters.accessibility,
    }


@require_safe
def programme(request: HttpRequest, org: str) -> HttpResponse:
    organisation = public_org(org)
    language = current_language()
    now = timezone.now()
    themes = list(Theme.objects.filter(organisation=organisation))
    form = ProgrammeFilterForm(request.GET, themes=themes, language=language)
    filters = form.filters()
    params = _filter_params(form)

    items = selectors.public_items(organisation=organisation, filters=filters, now=now)
    page: Page[ProgrammeItem] = Paginator(items, PER_PAGE).get_page(request.GET.get("page"))
    make = Rows(organisation, language, now)
    rows = [
        make.item(item, item.listed_dates, item.date_count)  # type: ignore[attr-defined]
        for item in page.object_list
    ]

    today = selectors.today_in(organisation, now)
    quick = []
    for key, label in (
        ("today", _("Today")),
        ("weekend", _("This weekend")),
        ("week", _("Next 7 days")),
    ):
        start, end = selectors.quick_ranges(today)[key]
        quick.append(
            {
                "label": label,
                "query": _query({**params, "from": start.isoformat(), "to": end.isoformat()}),
                "active": filters.date_from == start and filters.date_to == end,
            }
        )
    filter_query = _query(params)
    feed_query = _query({k: v for k, v in params.items() if k not in ("from", "to")})
    response = render(
        request,
        "programme/public_programme.html",
        {
            "public_org": organisation,
            "form": form,
            "rows": rows,
            "page": page,
            "quick": quick,
            "filtered": any(params.values()),
            "filter_query": filter_query,
            "feed_query": feed_query,
        },
    )
    return cacheable(response)


# --- one item ---------------------------------------------------------------------------------


@require_safe
def item(request: HttpRequest, org: str, slug: str) -> HttpResponse:
    organisation = public_org(org)
    language = current_language()
    now = timezone.now()
    found = selectors.public_item(organisation=organisation, slug=slug)
    if found is None:
        raise Http404("No such programme item.")
    dates = selectors.public_dates_of(found, now=now)
    venue = found.venue or selectors.main_venue(organisation=organisation)
    links = PublicLinks.of(request, organisation)
    make = Rows(organisation, language, now)
    groups = dict(TargetGroup.choices)
    features = dict(AccessibilityFeature.choices)
    document = jsonld.item_document(
        found, dates, venue=venue, language=language, links=links, now=now
    )
    response = render(
        request,
        "programme/public_item.html",
        {
            "public_org": organisation,
            "item": found,
            "title": found.title(language),
            "summary": found.summary(language),
            "description": found.description(language),
            "image_alt": found.image_alt(language),
            "kind": make.kind(found),
            "themes": [
                {"slug": theme.slug, "name": theme.name(language)} for theme in found.themes.all()
            ],
            "language": language,
            "target_groups": [str(groups[c]) for c in found.target_groups if c in groups],
            "accessibility": [str(features[c]) for c in found.accessibility if c in features],
            "venue": venue,
            "venue_name": venue.name(language) if venue else "",
            "venue_directions": venue.directions(language) if venue else "",
            "prices": [
                {"name": price.name(language), "price": price.price_eur}
                for price in found.price_categories.all()
            ],
            "dates": [make.date(occ, found.title(language)) for occ in dates],
            # Without upcoming dates there is no event to describe.
            "jsonld": jsonld.script(document) if dates else "",
        },
    )
    return cacheable(response)


# --- feeds ------------------------------------------------------------------------------------


def _feed_language(request: HttpRequest) -> str:
    """Calendar apps send no language cookie: `?lang=en` chooses the feed's language."""
    requested = request.GET.get("lang", "")
    return requested if requested in LANGUAGES else current_language()


def _feed_filters(
    request: HttpRequest, organisation: Organisation, language: str, theme: str = ""
) -> selectors.ProgrammeFilters:
    themes = Theme.objects.filter(organisation=organisation)
    data = QueryDict(mutable=True)
    data.update(request.GET)
    for name in ("from", "to", "page"):
        data.pop(name, None)
    if theme:
        data["theme"] = theme
    return ProgrammeFilterForm(data, themes=themes, language=language).filters()


def _feed_title(organisation: Organisation, theme: Theme | None, language: str) -> str:
    with override(language):
        if theme is not None:
            return gettext("%(name)s: programme – %(theme)s") % {
                "name": organisation.name,
                "theme": theme.name(language),
            }
        return gettext("%(name)s: programme") % {"name": organisation.name}


def _feed_query(filters: selectors.ProgrammeFilters, language: str) -> str:
    """The canonical query of a feed: its filters and language, nothing else."""
    return _query(
        {
            "kind": filters.kind,
            "theme": filters.theme,
            "group": filters.target_group,
            "access": filters.accessibility,
            "lang": language,
        }
    )


def _cached(
    request: HttpRequest, organisation: Organisation, variant: str, build: Callable[[], bytes]
) -> bytes:
    """A feed body, kept a minute (as long as a shared cache may keep it) or until an item or
    a date changes. A year of a large programme takes icalendar a second or more to write.
    `variant` names the feed and its canonical query, so that made-up query parameters
    cannot fill the cache."""
    version = selectors.programme_version(organisation=organisation)
    host = request.build_absolute_uri("/")
    digest = hashlib.sha256(f"{host}|{variant}|{version}".encode()).hexdigest()
    key = f"publikum:programme-feed:{organisation.pk}:{digest}"
    body: bytes | None = cache.get(key)
    if body is None:
        body = build()
        cache.set(key, body, CACHE_SECONDS)
    return body


def _ics_response(
    request: HttpRequest, organisation: Organisation, theme: Theme | None
) -> HttpResponse:
    language = _feed_language(request)
    filters = _feed_filters(request, organisation, language, theme.slug if theme else "")

    def build() -> bytes:
        now = timezone.now()
        return feeds.calendar(
            selectors.feed_dates(organisation=organisation, filters=filters, now=now),
            organisation=organisation,
            title=_feed_title(organisation, theme, language),
            language=language,
            links=PublicLinks.of(request, organisation),
            fallback_venue=selectors.main_venue(organisation=organisation),
            now=now,
        )

    body = _cached(request, organisation, f"ics?{_feed_query(filters, language)}", build)
    response = HttpResponse(body, content_type=feeds.ICS_CONTENT_TYPE)
    name = f"{organisation.slug}-{theme.slug}" if theme else organisation.slug
    response["Content-Disposition"] = f'inline; filename="{name}.ics"'
    return cacheable(response)


@require_safe
def feed_ics(request: HttpRequest, org: str) -> HttpResponse:
    return _ics_response(request, public_org(org), None)


@require_safe
def theme_feed_ics(request: HttpRequest, org: str, slug: str) -> HttpResponse:
    organisation = public_org(org)
    theme = Theme.objects.filter(organisation=organisation, slug=slug).first()
    if theme is None:
        raise Http404("No such theme.")
    return _ics_response(request, organisation, theme)


@require_safe
def feed_json(request: HttpRequest, org: str) -> HttpResponse:
    organisation = public_org(org)
    language = _feed_language(request)
    filters = _feed_filters(request, organisation, language)
    query = _feed_query(filters, language)

    def build() -> bytes:
        now = timezone.now()
        links = PublicLinks.of(request, organisation)
        document = feeds.json_feed(
            selectors.feed_dates(organisation=organisation, filters=filters, now=now),
            organisation=organisation,
            title=_feed_title(organisation, None, language),
            feed_url=f"{links.feed_json}?{query}",
            language=language,
            links=links,
            fallback_venue=selectors.main_venue(organisation=organisation),
            now=now,
        )
        return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()

    body = _cached(request, organisation, f"json?{query}", build)
    response = HttpResponse(body, content_type=feeds.JSON_FEED_CONTENT_TYPE)
    return cacheable(response)
