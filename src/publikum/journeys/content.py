"""E-mail content: blocks rendered into responsive HTML and a plain-text part, per language.

INTERFACE (stable; the content helper fills in the internals): `render_email` is what
delivery calls at send time; `template_problems` is what the editor and journey validation
call before anything is sent. docs/email-content.md describes blocks, variables and rules.

Staff-written text (subject, preheader, headings, Markdown, button labels and URLs) is a
Jinja2 template run in an immutable sandbox with a handful of plain values, never models.
Escaping is done per output context after rendering rather than by Jinja's autoescape: a
value lands in Markdown (backslash-escaped, so it stays literal text), in HTML
(HTML-escaped) and in the plain-text part (as is) from one render, and a `|safe` in a
template cannot switch it off.

Speed: compiled templates are cached by their source, Markdown output by its input, the
organisation's upcoming dates and booked dates for a minute within the process; a render
queries the database at most for the contact's interests (an events block that prefers
them, unless the caller prefetched `interests`) and once a minute for the dates.
"""

from __future__ import annotations

import abc
import dataclasses
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from html import unescape as unescape_html
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo

from django.conf import settings
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _
from jinja2 import (
    StrictUndefined,
    TemplateAssertionError,
    TemplateError,
    TemplateSyntaxError,
    Undefined,
    UndefinedError,
    nodes,
)
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import missing
from markdown_it import MarkdownIt
from markdown_it.token import Token
from markupsafe import escape as _markup_escape

from publikum.audience import consent
from publikum.audience.models import Contact
from publikum.core.models import Organisation
from publikum.journeys.models import EmailTemplate
from publikum.programme.models import (
    AccessibilityFeature,
    Occurrence,
    OccurrenceStatus,
    ProgrammeItem,
)

if TYPE_CHECKING:
    from publikum.journeys.foryou import Pick

LANGUAGES = ("de", "en")
BLOCK_TYPES = ("heading", "text", "image", "button", "events", "personal", "occurrence", "for_you")
EVENTS_LIMIT_DEFAULT = 3
EVENTS_LIMIT_MAX = 10
# A rendered field longer than this is a mistake (or an attempt to blow up memory).
MAX_FIELD_CHARS = 50_000
# How long the process keeps an organisation's upcoming dates and a booked date's details.
DATA_TTL_SECONDS = 60.0
# The events block chooses among this many upcoming dates (one per item).
UPCOMING_POOL = 200


@dataclass(frozen=True)
class MailOffer:
    """One recommendation a "for you" block showed (rank from 1 within its block), with the
    horizon its list was made at: what delivery records as an offer once the mail is sent."""

    item_id: int
    occurrence_id: int | None
    rank: int
    relevance: float
    horizon: float | None


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    html: str
    text: str
    language: str  # "de" or "en": the contact's language, else the organisation's default
    # Links in the mail (button and event links) before click tracking rewrites them.
    links: list[str] = field(default_factory=list)
    # What the "for you" blocks recommended (empty for a mail without one).
    offers: tuple[MailOffer, ...] = ()


class TemplateProblem(Exception):
    """A template that cannot be rendered: syntax error, unknown variable, bad block.

    `block` is the 0-based index into `EmailTemplate.blocks` (None for subject and
    preheader); the message counts blocks from 1, as the editor shows them. `field` names
    the field ("subject", "preheader", "text", "url", ...)."""

    def __init__(
        self, message: str, *, block: int | None = None, language: str = "", field: str = ""
    ) -> None:
        super().__init__(message)
        self.block = block
        self.language = language
        self.field = field

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""

    def __repr__(self) -> str:
        return f"TemplateProblem({self.message!r}, block={self.block}, language={self.language!r})"


# --- the sandbox ---------------------------------------------------------------------------

# What a template may call on a value: harmless string methods only. Everything else that
# is callable (dict methods, str.format with its padding, ...) is refused.
_SAFE_STR_METHODS = frozenset(
    {"upper", "lower", "title", "capitalize", "strip", "lstrip", "rstrip"}
)
_SAFE_FILTERS = (
    "capitalize",
    "default",
    "d",
    "first",
    "int",
    "last",
    "length",
    "lower",
    "round",
    "string",
    "title",
    "trim",
    "truncate",
    "upper",
    "wordcount",
)
# Statements a template may contain besides text and {{ expressions }}: no loops, macros,
# includes or assignments, so that a template's cost is bounded by its length.
_ALLOWED_STATEMENTS = (nodes.Output, nodes.If)
# The only names a template sees. Jinja's own (self, loop, cycler, range, ...) are refused
# when the template is compiled.
_STATEMENT_TAGS = {
    "Assign": "set",
    "AssignBlock": "set",
    "FromImport": "from",
    "CallBlock": "call",
    "FilterBlock": "filter",
    "ScopedEvalContextModifier": "autoescape",
    "EvalContextModifier": "autoescape",
    "ExprStmt": "do",
}
_VARIABLES = frozenset({"contact", "organisation", "links", "occurrence"})
_MAX_SEQUENCE = 10_000


class _Vars(dict[str, Any]):
    """A variable of the sandbox (contact, links, ...): a plain dict that knows its own
    name, so that an unknown field is reported as "contact.nickname"."""

    __slots__ = ("_name",)

    def __init__(self, name: str, values: dict[str, Any]) -> None:
        super().__init__(values)
        self._name = name


class _UnknownVariable(UndefinedError):
    """Raised for a name the template uses but the sandbox does not have."""


class _Undefined(StrictUndefined):
    __slots__ = ()

    def __init__(
        self,
        hint: str | None = None,
        obj: Any = missing,
        name: str | None = None,
        exc: type[Any] = UndefinedError,
    ) -> None:
        super().__init__(hint, obj, name, _UnknownVariable if exc is UndefinedError else exc)

    @property
    def _undefined_message(self) -> str:
        if self._undefined_hint:
            return self._undefined_hint
        if isinstance(self._undefined_obj, _Vars):
            return f"{self._undefined_obj._name}.{self._undefined_name}"
        return str(self._undefined_name)


class _Sandbox(ImmutableSandboxedEnvironment):
    """Jinja2's immutable sandbox, narrowed further: no globals, few filters, no method
    calls but a few string ones, bounded repetition and powers."""

    intercepted_binops = frozenset({"*", "**", "%", "//"})

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        if not super().is_safe_attribute(obj, attr, value):
            return False
        if callable(value):
            return isinstance(obj, str) and attr in _SAFE_STR_METHODS
        return True

    def unsafe_undefined(self, obj: Any, attribute: str) -> Undefined:
        if isinstance(obj, Undefined):
            return obj  # an unknown variable: report that, not what was asked of it
        return self.undefined(
            f"“{attribute}” cannot be used", name=attribute, obj=obj, exc=SecurityError
        )

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        # str.format is refused like any other method (see is_safe_attribute).
        return None

    def call_binop(self, context: Context, operator_: str, left: Any, right: Any) -> Any:
        if operator_ == "*":
            for seq, times in ((left, right), (right, left)):
                if (
                    isinstance(seq, str | list | tuple)
                    and isinstance(times, int)
                    and len(seq) * times > _MAX_SEQUENCE
                ):
                    raise SecurityError("repetition too long")
        elif operator_ == "**":
            if not isinstance(right, int | float) or abs(right) > 64 or abs(left) > 10**6:
                raise SecurityError("power too large")
        elif operator_ == "%" and isinstance(left, str):
            raise SecurityError("string formatting with % is not available")
        return super().call_binop(context, operator_, left, right)


def _markdown_literal(value: Any) -> str:
    """A value inside Markdown source: every punctuation character backslash-escaped and
    line breaks flattened, so a name like "*[x](https://evil)*" or "<script>" stays text."""
    text = "" if value is None else str(value)
    text = re.sub(r"\s*[\r\n]+\s*", " ", text)
    return _MD_PUNCTUATION.sub(r"\\\1", text)


_MD_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")


def _plain_value(value: Any) -> str:
    return "" if value is None else str(value)


def _make_sandbox(finalize: Callable[[Any], str]) -> _Sandbox:
    env = _Sandbox(undefined=_Undefined, autoescape=False, finalize=finalize)
    env.globals.clear()
    env.filters = {name: env.filters[name] for name in _SAFE_FILTERS}
    return env


_ENVIRONMENTS = {
    "plain": _make_sandbox(_plain_value),
    "markdown": _make_sandbox(_markdown_literal),
}


class _Rejected(Exception):
    """A template that parses but uses a statement outside the allowed set."""


# About 20 fields per template and language: enough for the templates in use at a time.
@lru_cache(maxsize=1024)
def _compile(mode: str, source: str) -> Any:
    env = _ENVIRONMENTS[mode]
    tree = env.parse(source)
    for node in tree.find_all(nodes.Stmt):
        if not isinstance(node, _ALLOWED_STATEMENTS):
            kind = type(node).__name__
            raise _Rejected(_STATEMENT_TAGS.get(kind, kind.lower()))
    for variable in tree.find_all(nodes.Name):
        if variable.name not in _VARIABLES:
            raise _UnknownVariable(variable.name)
    return env.from_string(tree)


# --- Markdown --------------------------------------------------------------------------------

_FONT = "Arial,Helvetica,sans-serif"
_INK = "#1d1d1f"
_ACCENT = "#7a2e3a"
_MUTED = "#6e6e73"

_TEXT = f"font-family:{_FONT};color:{_INK};"
_P_SMALL = f'style="margin:0 0 12px 0;{_TEXT}font-size:16px;line-height:24px;"'
# Inline styles per tag: many clients drop <style>, and Outlook does not pass the cell's
# font on to headings and paragraphs.
_MD_STYLES = {
    "p": f"margin:0 0 16px 0;{_TEXT}font-size:16px;line-height:24px;",
    "a": f"color:{_ACCENT};text-decoration:underline;",
    "h1": f"margin:0 0 12px 0;{_TEXT}font-size:24px;line-height:30px;",
    "h2": f"margin:0 0 12px 0;{_TEXT}font-size:20px;line-height:26px;",
    "h3": f"margin:0 0 8px 0;{_TEXT}font-size:18px;line-height:24px;",
    "h4": f"margin:0 0 8px 0;{_TEXT}font-size:16px;line-height:22px;",
    "h5": f"margin:0 0 8px 0;{_TEXT}font-size:16px;line-height:22px;",
    "h6": f"margin:0 0 8px 0;{_TEXT}font-size:16px;line-height:22px;",
    "ul": "margin:0 0 16px 0;padding-left:24px;",
    "ol": "margin:0 0 16px 0;padding-left:24px;",
    "li": f"margin:0 0 4px 0;{_TEXT}font-size:16px;line-height:24px;",
    "blockquote": "margin:0 0 16px 0;padding-left:12px;border-left:3px solid #d8d0c8;",
    "code": "font-family:Menlo,Consolas,monospace;font-size:14px;",
    "pre": "margin:0 0 16px 0;white-space:pre-wrap;font-family:Menlo,Consolas,monospace;"
    "font-size:14px;",
    "img": "max-width:100%;height:auto;border:0;",
    "hr": "border:0;border-top:1px solid #e5e0da;margin:24px 0;",
}


def _allowed_link(url: str) -> bool:
    scheme = url.strip().split(":", 1)[0].lower() if ":" in url else ""
    return scheme in ("http", "https", "mailto")


def _make_markdown() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False})
    # Mails need absolute links; anything but http(s) and mailto stays literal text.
    md.validateLink = _allowed_link  # type: ignore[method-assign]
    return md


_MD = _make_markdown()


def _walk(tokens: Sequence[Token]) -> Iterator[Token]:
    for token in tokens:
        yield token
        if token.children:
            yield from _walk(token.children)


@dataclass(frozen=True)
class _Markdown:
    html: str
    text: str
    links: tuple[str, ...]


@lru_cache(maxsize=2048)
def _markdown(source: str) -> _Markdown:
    """HTML with inline styles, plain text and http(s) links of Markdown source."""
    tokens = _MD.parse(source)
    links: list[str] = []
    for token in _walk(tokens):
        style = _MD_STYLES.get(token.tag)
        if style and (token.nesting == 1 or token.type in ("image", "hr", "code_inline")):
            token.attrSet("style", style)
        if token.type == "link_open":
            href = str(token.attrGet("href") or "")
            if _is_web(href):
                links.append(href)
    html = _MD.renderer.render(tokens, _MD.options, {})
    return _Markdown(html=html, text=_markdown_text(tokens), links=tuple(links))


def _inline_text(token: Token) -> str:
    out: list[str] = []
    href_stack: list[tuple[str, int]] = []
    for child in token.children or []:
        if child.type in ("text", "code_inline"):
            out.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            out.append("\n")
        elif child.type == "image":
            src = str(child.attrGet("src") or "")
            alt = "".join(c.content for c in child.children or [])
            out.append(f"[{alt}]" if alt else "")
            if src:
                out.append(f" ({src})")
        elif child.type == "link_open":
            href_stack.append((str(child.attrGet("href") or ""), len(out)))
        elif child.type == "link_close" and href_stack:
            href, start = href_stack.pop()
            label = "".join(out[start:])
            target = href.removeprefix("mailto:")
            if href and label.strip() != target:
                out.append(f" ({href if _is_web(href) else target})")
    return "".join(out)


class _TextWriter:
    """Plain text of parsed Markdown: paragraphs, list markers, quotes; links as
    "label (url)". Built from the tokens, not by stripping HTML."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.prefixes: list[str] = []  # "> " for quotes, indentation of nested lists
        self.lists: list[list[int]] = []  # per open list: [next number], [] for bullets
        self.marker = ""
        self.handlers: dict[str, Callable[[Token], object]] = {
            "inline": lambda t: self.emit(_inline_text(t)),
            "blockquote_open": lambda _t: self.prefixes.append("> "),
            "blockquote_close": lambda _t: self.prefixes.pop(),
            "bullet_list_open": lambda _t: self.open_list([]),
            "ordered_list_open": lambda t: self.open_list([int(t.attrGet("start") or 1)]),
            "bullet_list_close": self.close_list,
            "ordered_list_close": self.close_list,
            "list_item_open": self.list_item,
            "fence": self.code,
            "code_block": self.code,
            "hr": lambda _t: self.emit("----------"),
        }

    def emit(self, text: str) -> None:
        prefix = "".join(self.prefixes)
        for i, line in enumerate(text.split("\n")):
            marker = self.marker if i == 0 else " " * len(self.marker)
            self.lines.append(f"{prefix}{marker}{line}".rstrip())
        self.marker = ""
        if not self.lists:
            self.lines.append(prefix.rstrip())

    def open_list(self, counter: list[int]) -> None:
        if self.lists:
            self.prefixes.append("   " if counter else "  ")
        self.lists.append(counter)

    def close_list(self, token: Token) -> None:
        self.lists.pop()
        if self.lists:
            self.prefixes.pop()
        else:
            self.lines.append("")

    def list_item(self, token: Token) -> None:
        counter = self.lists[-1] if self.lists else []
        if counter:
            self.marker = f"{counter[0]}. "
            counter[0] += 1
        else:
            self.marker = "- "

    def code(self, token: Token) -> None:
        self.emit("\n".join("    " + line for line in token.content.rstrip("\n").split("\n")))

    def write(self, tokens: Sequence[Token]) -> str:
        for token in tokens:
            handler = self.handlers.get(token.type)
            if handler is not None:
                handler(token)
        return "\n".join(_squeeze_blank(self.lines)).strip("\n")


def _markdown_text(tokens: Sequence[Token]) -> str:
    return _TextWriter().write(tokens)


def _squeeze_blank(lines: list[str]) -> Iterator[str]:
    blank = False
    for line in lines:
        if line.strip(" >"):
            blank = False
            yield line
        elif not blank:
            blank = True
            yield ""


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _esc(value: str) -> str:
    """HTML-escaped text as a plain str (a Markup would escape whatever is added to it)."""
    return str(_markup_escape(value))


def _is_web(url: str) -> bool:
    return url.lower().startswith(("http://", "https://"))


# --- the data of events and booked dates -----------------------------------------------------


@dataclass(frozen=True)
class _DateCard:
    """A date as mails show it, in both languages, computed once and shared by renders."""

    occurrence_id: int
    item_id: int
    theme_ids: frozenset[int]
    starts_at: datetime
    title: dict[str, str]
    when: dict[str, str]
    venue: dict[str, str]
    address: str
    directions: dict[str, str]
    accessibility: dict[str, list[str]]
    url: str

    def variables(self, language: str) -> dict[str, Any]:
        return {
            "title": self.title[language],
            "date": self.when[language],
            "venue": self.venue[language],
            "address": self.address,
            "directions": self.directions[language],
            "accessibility": ", ".join(self.accessibility[language]),
            "url": self.url,
        }


class _TimedCache:
    """A small in-process cache with a time to live; safe enough for threads (a race
    computes a value twice, never returns a wrong one)."""

    def __init__(self, ttl: float, size: int) -> None:
        self.ttl = ttl
        self.size = size
        self.values: dict[Any, tuple[float, Any]] = {}
        self.lock = threading.Lock()

    def get(self, key: Any, compute: Callable[[], Any]) -> Any:
        now = time.monotonic()
        hit = self.values.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        value = compute()
        with self.lock:
            if len(self.values) >= self.size:
                self.values = {k: v for k, v in self.values.items() if v[0] > now}
                if len(self.values) >= self.size:
                    self.values.clear()
            self.values[key] = (now + self.ttl, value)
        return value

    def clear(self) -> None:
        with self.lock:
            self.values.clear()


_UPCOMING = _TimedCache(DATA_TTL_SECONDS, 500)
_BOOKED = _TimedCache(DATA_TTL_SECONDS, 5000)


def caches_clear() -> None:
    """Forget the cached upcoming and booked dates (tests; after a programme change that
    must show in the very next mail). Compiled templates are keyed by their source and
    never go stale."""
    _UPCOMING.clear()
    _BOOKED.clear()


def _org_key(organisation: Organisation) -> tuple[int, float]:
    # The creation time guards against a reused primary key (rolled-back test databases).
    return (organisation.pk, organisation.created_at.timestamp())


def _zone(organisation: Organisation) -> ZoneInfo:
    try:
        return ZoneInfo(organisation.timezone or settings.TIME_ZONE)
    except (ValueError, KeyError):
        return ZoneInfo("Europe/Berlin")


def _when(occurrence: Occurrence, zone: ZoneInfo, language: str) -> str:
    """ "Freitag, 27. November 2026, 20:00–22:00" / "Friday, 27 November 2026, 20:00–22:00"."""
    starts = timezone.localtime(occurrence.starts_at, zone)
    ends = timezone.localtime(occurrence.ends_at, zone)
    with translation.override(language):
        day = formats.date_format(starts, "l, j. F Y" if language == "de" else "l, j F Y")
        start_time = formats.time_format(starts, "H:i")
        if ends.date() == starts.date() and ends > starts:
            return f"{day}, {start_time}–{formats.time_format(ends, 'H:i')}"
        return f"{day}, {start_time}"


def _item_url(organisation: Organisation, item: ProgrammeItem) -> str:
    base = (settings.PUBLIC_URL or "").rstrip("/")
    return base + reverse("public_item", kwargs={"org": organisation.slug, "slug": item.slug})


def _card(
    organisation: Organisation, occurrence: Occurrence, theme_ids: frozenset[int]
) -> _DateCard:
    item = occurrence.item
    venue = item.venue
    zone = _zone(organisation)
    address = ""
    if venue is not None:
        town = " ".join(p for p in (venue.postcode, venue.city) if p)
        address = ", ".join(p for p in (venue.street, town) if p)
    labels = dict(AccessibilityFeature.choices)
    accessibility: dict[str, list[str]] = {}
    for language in LANGUAGES:
        with translation.override(language):
            accessibility[language] = [str(labels[c]) for c in item.accessibility if c in labels]
    return _DateCard(
        occurrence_id=occurrence.pk,
        item_id=item.pk,
        theme_ids=theme_ids,
        starts_at=occurrence.starts_at,
        title={lang: item.title(lang) for lang in LANGUAGES},
        when={lang: _when(occurrence, zone, lang) for lang in LANGUAGES},
        venue={lang: venue.name(lang) if venue else "" for lang in LANGUAGES},
        address=address,
        directions={lang: venue.directions(lang) if venue else "" for lang in LANGUAGES},
        accessibility=accessibility,
        url=f"{_item_url(organisation, item)}#date-{occurrence.pk}",
    )


def _load_upcoming(organisation: Organisation) -> list[_DateCard]:
    """The next date of each published, bookable item that is not cancelled or sold out."""
    dates = (
        Occurrence.objects.filter(
            organisation=organisation,
            starts_at__gt=timezone.now(),
            status=OccurrenceStatus.SCHEDULED,
            item__published=True,
            item__bookable=True,
        )
        .select_related("item", "item__venue")
        .order_by("starts_at", "pk")[: UPCOMING_POOL * 5]
    )
    seen: set[int] = set()
    chosen: list[Occurrence] = []
    for occurrence in dates:
        if occurrence.item_id in seen:
            continue
        seen.add(occurrence.item_id)
        chosen.append(occurrence)
        if len(chosen) >= UPCOMING_POOL:
            break
    themes: dict[int, set[int]] = {}
    through = ProgrammeItem.themes.through
    for item_id, theme_id in through.objects.filter(programmeitem_id__in=seen).values_list(
        "programmeitem_id", "theme_id"
    ):
        themes.setdefault(item_id, set()).add(theme_id)
    return [
        _card(organisation, occurrence, frozenset(themes.get(occurrence.item_id, ())))
        for occurrence in chosen
    ]


def _upcoming(organisation: Organisation) -> list[_DateCard]:
    cards: list[_DateCard] = _UPCOMING.get(
        _org_key(organisation), lambda: _load_upcoming(organisation)
    )
    now = timezone.now()
    return [card for card in cards if card.starts_at > now]


def _booked(organisation: Organisation, occurrence_id: int) -> _DateCard | None:
    def load() -> _DateCard | None:
        occurrence = (
            Occurrence.objects.filter(organisation=organisation, pk=occurrence_id)
            .select_related("item", "item__venue")
            .first()
        )
        return None if occurrence is None else _card(organisation, occurrence, frozenset())

    card: _DateCard | None = _BOOKED.get((*_org_key(organisation), occurrence_id), load)
    return card


def _interest_ids(contact: Contact) -> frozenset[int]:
    prefetched = getattr(contact, "_prefetched_objects_cache", {}).get("interests")
    if prefetched is not None:
        return frozenset(theme.pk for theme in prefetched)
    if contact.pk is None:
        return frozenset()
    return frozenset(contact.interests.values_list("pk", flat=True))


# --- rendering -------------------------------------------------------------------------------


class _Source(abc.ABC):
    """Where the data-dependent parts come from: the database at send time, samples when
    checking a template."""

    @abc.abstractmethod
    def events(self, limit: int, match_interests: bool) -> list[_DateCard]: ...

    @abc.abstractmethod
    def occurrence(self) -> _DateCard | None: ...

    @abc.abstractmethod
    def recommended(self, count: int, horizon: float | None, language: str) -> list[Pick]:
        """The "for you" block's picks (journeys.foryou); `horizon` None: the message's,
        else the house's."""


class _LiveSource(_Source):
    def __init__(
        self, organisation: Organisation, contact: Contact | None, occurrence_id: int | None
    ) -> None:
        self.organisation = organisation
        self.contact = contact
        self.occurrence_id = occurrence_id
        self._occurrence: _DateCard | bool | None = False
        self.horizon: float | None = None  # the message's (set by a journey step)

    def events(self, limit: int, match_interests: bool) -> list[_DateCard]:
        cards = _upcoming(self.organisation)
        if match_interests and self.contact is not None and cards:
            interests = _interest_ids(self.contact)
            if interests:
                matching = [c for c in cards if c.theme_ids & interests]
                others = [c for c in cards if not c.theme_ids & interests]
                cards = matching + others
        return cards[:limit]

    def occurrence(self) -> _DateCard | None:
        if self._occurrence is False:
            self._occurrence = (
                _booked(self.organisation, self.occurrence_id)
                if self.occurrence_id is not None
                else None
            )
        return self._occurrence  # type: ignore[return-value]

    def recommended(self, count: int, horizon: float | None, language: str) -> list[Pick]:
        from publikum.journeys import foryou

        if self.contact is None:
            return []
        wanted = self.horizon if horizon is None else horizon
        return foryou.live_picks(self.organisation, self.contact, count, wanted, language)


class _PreviewSource(_LiveSource):
    """Real upcoming dates, a sample booked date; for a sample person, sample picks."""

    def occurrence(self) -> _DateCard:
        return _sample_card(self.organisation, 1)

    def recommended(self, count: int, horizon: float | None, language: str) -> list[Pick]:
        from publikum.journeys import foryou

        if self.contact is not None:
            return super().recommended(count, horizon, language)
        return foryou.sample_picks(self.organisation, count, horizon, upcoming=True)


def _sample_card(organisation: Organisation, n: int) -> _DateCard:
    base = (settings.PUBLIC_URL or "").rstrip("/")
    return _DateCard(
        occurrence_id=0,
        item_id=0,
        theme_ids=frozenset(),
        starts_at=timezone.now(),
        title={"de": f"Beispielführung {n}", "en": f"Sample tour {n}"},
        when={
            "de": "Freitag, 27. November 2026, 18:00–19:30",
            "en": "Friday, 27 November 2026, 18:00–19:30",
        },
        venue={"de": "Großer Saal", "en": "Great Hall"},
        address="Kornmarkt 1, 12345 Beispielstadt",
        directions={"de": "Eingang am Fluss.", "en": "Entrance by the river."},
        accessibility={"de": ["Rollstuhlgerecht"], "en": ["Wheelchair accessible"]},
        url=f"{base}/{organisation.slug}/programme/sample-{n}",
    )


class _SampleSource(_Source):
    def __init__(self, organisation: Organisation) -> None:
        self.organisation = organisation

    def events(self, limit: int, match_interests: bool) -> list[_DateCard]:
        return [_sample_card(self.organisation, n) for n in range(1, limit + 1)]

    def occurrence(self) -> _DateCard | None:
        return _sample_card(self.organisation, 1)

    def recommended(self, count: int, horizon: float | None, language: str) -> list[Pick]:
        from publikum.journeys import foryou

        return foryou.sample_picks(self.organisation, count, horizon, upcoming=False)


def _jinja_error(exc: Exception) -> str:
    """What went wrong in a staff template, in words for the editor."""
    if isinstance(exc, TemplateAssertionError):  # an unknown filter or test
        return _("line %(line)s: %(error)s") % {"line": exc.lineno, "error": exc.message}
    if isinstance(exc, TemplateSyntaxError):
        return _("syntax error in line %(line)s: %(error)s") % {
            "line": exc.lineno,
            "error": exc.message,
        }
    if isinstance(exc, _UnknownVariable):
        return _("unknown variable “%(name)s”") % {"name": exc.message}
    if isinstance(exc, _Rejected):
        return _("“%(tag)s” is not available in templates; use {{ variables }} and {%% if %%}") % {
            "tag": exc.args[0]
        }
    if isinstance(exc, SecurityError):
        return _("not allowed in templates: %(error)s") % {"error": exc.message or exc}
    return _("the template cannot be rendered: %(error)s") % {"error": exc}


def _block_label(index: int | None) -> str:
    return "" if index is None else _("Block %(n)s") % {"n": index + 1}


class _Renderer:
    """Renders one template in one language. With `collect`, problems are gathered and
    rendering goes on; otherwise the first problem is raised."""

    def __init__(
        self,
        *,
        organisation: Organisation,
        language: str,
        variables: dict[str, Any],
        source: _Source,
        footer_links: dict[str, str],
        collect: bool,
    ) -> None:
        self.organisation = organisation
        self.language = language
        self.variables = variables
        self.source = source
        self.footer_links = footer_links
        self.collect = collect
        self.problems: list[TemplateProblem] = []
        self.links: list[str] = []
        self.offers: list[MailOffer] = []

    # -- problems

    def problem(self, message: str, *, block: int | None, field: str) -> None:
        where = ", ".join(p for p in (_block_label(block), field, self.language.upper()) if p)
        problem = TemplateProblem(
            f"{where}: {message}", block=block, language=self.language, field=field
        )
        if not self.collect:
            raise problem
        self.problems.append(problem)

    def flaw(self, message: str, *, block: int | None, field: str) -> None:
        """A problem that `template_problems` reports but that does not stop a mail at send
        time (it is sent with a sensible substitute): a missing alt text should not keep a
        reminder from its reader."""
        if self.collect:
            self.problem(message, block=block, field=field)

    def raw(self, data: dict[str, Any], name: str) -> Any:
        """The raw field `<name>_<language>`, English falling back to German when blank."""
        value = data.get(f"{name}_{self.language}")
        if self.language != "de" and _blank(value):
            value = data.get(f"{name}_de")
        return value

    # -- Jinja

    def jinja(self, source: str, mode: str, *, block: int | None, field: str) -> str:
        if "{" not in source:
            return source  # no template syntax: nothing to compile or run
        try:
            result: str = _compile(mode, source).render(self.variables)
        except (_Rejected, TemplateError, ArithmeticError, TypeError, ValueError) as exc:
            self.problem(_jinja_error(exc), block=block, field=field)
            return ""
        if len(result) > MAX_FIELD_CHARS:
            self.problem(
                _("the text is longer than %(n)s characters") % {"n": MAX_FIELD_CHARS},
                block=block,
                field=field,
            )
            return ""
        return result

    # -- fields

    def text_field(
        self, data: dict[str, Any], name: str, *, block: int | None, mode: str = "plain"
    ) -> str:
        """The field `<name>_<language>` rendered, English falling back to German."""
        value = self.raw(data, name)
        if value is None:
            return ""
        if not isinstance(value, str):
            self.problem(_("must be text"), block=block, field=f"{name}_{self.language}")
            return ""
        return self.jinja(value, mode, block=block, field=name)

    def url_field(self, data: dict[str, Any], name: str, *, block: int, template: bool) -> str:
        value = data.get(name, "")
        if not isinstance(value, str):
            self.problem(_("must be text"), block=block, field=name)
            return ""
        url = self.jinja(value, "plain", block=block, field=name) if template else value
        url = url.strip()
        if not url:
            # Blank in the template: reported. Empty only after rendering (a link the
            # caller left out, such as unsubscribe in a transactional mail): the block is
            # left out.
            if not value.strip():
                self.flaw(_("a link (URL) is missing"), block=block, field=name)
            return ""
        if not _is_web(url) or not urlsplit(url).netloc:
            self.problem(
                _("“%(url)s” is not a web address (http:// or https://)") % {"url": url[:200]},
                block=block,
                field=name,
            )
            return ""
        # Spaces and quotes from a value would break the address; encode them (a quote
        # too, so that the address reads the same under every HTML escaping).
        return quote(url, safe=":/?#[]@!$&()*+,;=%~")

    def add_link(self, url: str) -> None:
        if _is_web(url) and url not in self.links and url not in self.footer_links.values():
            self.links.append(url)

    # -- the mail

    def render(self, template: EmailTemplate) -> RenderedEmail:
        subject = " ".join(
            self.text_field(
                {"subject_de": template.subject_de, "subject_en": template.subject_en},
                "subject",
                block=None,
            ).split()
        )
        if not template.subject_de.strip() and self.language == "de":
            self.flaw(_("the subject is missing"), block=None, field="subject")
        subject = subject or self.organisation.name
        preheader = " ".join(
            self.text_field(
                {"preheader_de": template.preheader_de, "preheader_en": template.preheader_en},
                "preheader",
                block=None,
            ).split()
        )
        blocks = template.blocks
        html_parts: list[str] = []
        text_parts: list[str] = []
        if not isinstance(blocks, list):
            self.problem(_("the blocks are not a list"), block=None, field="blocks")
            blocks = []
        for index, block in enumerate(blocks):
            if not isinstance(block, dict):
                self.problem(_("not a block"), block=index, field="")
                continue
            kind = block.get("type")
            renderer = _BLOCK_RENDERERS.get(kind) if isinstance(kind, str) else None
            if renderer is None:
                self.problem(
                    _("unknown block type “%(type)s”") % {"type": str(kind)[:40]},
                    block=index,
                    field="type",
                )
                continue
            result = renderer(self, block, index)
            if result is not None:
                html_parts.append(result[0])
                text_parts.append(result[1])
        html = self.layout(subject, preheader, "".join(html_parts))
        text = self.text_layout(text_parts)
        return RenderedEmail(
            subject=subject,
            html=html,
            text=text,
            language=self.language,
            links=list(self.links),
            offers=tuple(self.offers),
        )

    def layout(self, subject: str, preheader: str, body: str) -> str:
        with translation.override(self.language):
            return render_to_string(
                "journeys/email/layout.html",
                {
                    "language": self.language,
                    "subject": subject,
                    "preheader": preheader,
                    "organisation_name": self.organisation.name,
                    "body": body,
                    "preferences_url": self.footer_links.get("preferences", ""),
                    "unsubscribe_url": self.footer_links.get("unsubscribe", ""),
                },
            )

    def text_layout(self, parts: list[str]) -> str:
        """The organisation's name, the blocks, then a signature ("-- ") with the links."""
        footer = [self.organisation.name]
        with translation.override(self.language):
            labels = {"preferences": _("Your e-mail preferences"), "unsubscribe": _("Unsubscribe")}
        for key, label in labels.items():
            if self.footer_links.get(key):
                footer.append(f"{label}: {self.footer_links[key]}")
        sections = [self.organisation.name, *(p for p in parts if p), "-- \n" + "\n".join(footer)]
        return "\n\n".join(sections) + "\n"


# --- blocks ------------------------------------------------------------------------------------

_CELL = (
    f"padding:0 32px 16px 32px;font-family:{_FONT};font-size:16px;line-height:24px;color:{_INK};"
)

_BlockResult = tuple[str, str] | None


def _row(inner: str, style: str = _CELL) -> str:
    return f'<tr><td class="p-content" style="{style}">{inner}</td></tr>\n'


def _heading(r: _Renderer, block: dict[str, Any], index: int) -> _BlockResult:
    if _blank(r.raw(block, "text")) and r.language == "de":
        r.flaw(_("the heading is empty"), block=index, field="text")
    text = " ".join(r.text_field(block, "text", block=index).split())
    if not text:
        return None
    html = _row(
        f'<h2 style="margin:0;font-family:{_FONT};font-size:22px;line-height:28px;'
        f'color:{_INK};">{_esc(text)}</h2>',
        "padding:8px 32px 12px 32px;",
    )
    return html, f"{text}\n{'=' * min(len(text), 72)}"


def _markdown_block(r: _Renderer, block: dict[str, Any], index: int) -> _BlockResult:
    source = r.text_field(block, "markdown", block=index, mode="markdown")
    if not source.strip():
        return None
    md = _markdown(source)
    for link in md.links:
        r.add_link(link)
    return _row(md.html), md.text


def _image(r: _Renderer, block: dict[str, Any], index: int) -> _BlockResult:
    url = r.url_field(block, "url", block=index, template=False)
    if _blank(r.raw(block, "alt")):
        r.flaw(_("the image has no alternative text"), block=index, field="alt")
    alt = " ".join(r.text_field(block, "alt", block=index).split())
    link = ""
    if block.get("link"):
        link = r.url_field(block, "link", block=index, template=False)
    if not url:
        return None
    img = (
        f'<img src="{_esc(url)}" alt="{_esc(alt)}" width="536" '
        f'style="display:block;width:100%;max-width:536px;height:auto;border:0;">'
    )
    if link:
        r.add_link(link)
        img = f'<a href="{_esc(link)}" style="text-decoration:none;">{img}</a>'
        text = f"[{alt}]: {link}" if alt else link
    else:
        text = f"[{alt}]" if alt else ""
    return _row(img), text


def _button(r: _Renderer, block: dict[str, Any], index: int) -> _BlockResult:
    if _blank(r.raw(block, "label")):
        r.flaw(_("the button has no label"), block=index, field="label")
    url = r.url_field(block, "url", block=index, template=True)
    if not url:
        return None
    label = " ".join(r.text_field(block, "label", block=index).split()) or url
    r.add_link(url)
    html = _row(
        '<table role="presentation" cellpadding="0" cellspacing="0" border="0"><tr>'
        f'<td bgcolor="{_ACCENT}" style="border-radius:4px;background-color:{_ACCENT};">'
        f'<a href="{_esc(url)}" style="display:inline-block;padding:12px 24px;'
        f"font-family:{_FONT};font-size:16px;line-height:20px;font-weight:bold;"
        f'color:#ffffff;text-decoration:none;border-radius:4px;">{_esc(label)}</a>'
        "</td></tr></table>",
        "padding:8px 32px 24px 32px;",
    )
    return html, f"{label}: {url}"


def _bounded_count(
    r: _Renderer,
    block: dict[str, Any],
    index: int,
    *,
    field: str,
    default: int,
    maximum: int,
    problem: Callable[[int], str],
) -> int:
    """A block's whole-number option from 1 to `maximum`; out of range it is reported
    (`problem(maximum)`, once, not per language), and at send time the nearest allowed
    number is used, or `default` when it is no whole number at all."""
    value = block.get(field, default)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= maximum:
        if r.language == "de":  # once, not per language
            r.flaw(problem(maximum), block=index, field=field)
        if isinstance(value, bool) or not isinstance(value, int):
            return default
        return min(max(value, 1), maximum)
    return value


def _events_limit(r: _Renderer, block: dict[str, Any], index: int) -> int:
    """The block's number of events; out of range it is reported, and at send time the
    nearest allowed number is used."""
    return _bounded_count(
        r,
        block,
        index,
        field="limit",
        default=EVENTS_LIMIT_DEFAULT,
        maximum=EVENTS_LIMIT_MAX,
        problem=lambda m: _("the number of events must be between 1 and %(max)s") % {"max": m},
    )


def _date_html(card: _DateCard, language: str, *, with_venue: bool = True) -> str:
    title = _esc(card.title[language])
    if card.url:
        title = (
            f'<a href="{_esc(card.url)}" style="color:{_ACCENT};text-decoration:underline;">'
            f"{title}</a>"
        )
    venue = card.venue[language]
    detail = _esc(card.when[language]) + (f"<br>{_esc(venue)}" if venue and with_venue else "")
    return (
        f"<p {_P_SMALL}><strong>{title}</strong><br>"
        f'<span style="color:{_MUTED};">{detail}</span></p>'
    )


def _events(r: _Renderer, block: dict[str, Any], index: int) -> _BlockResult:
    title = " ".join(r.text_field(block, "title", block=index).split())
    limit = _events_limit(r, block, index)
    cards = r.source.events(limit, bool(block.get("match_interests")))
    if not cards:
        return None  # nothing coming up: the block disappears rather than saying so
    if not title:
        with translation.override(r.language):
            title = _("Coming up")
    html = [
        f'<h3 style="margin:0 0 12px 0;font-family:{_FONT};font-size:18px;line-height:24px;'
        f'color:{_INK};">{_esc(title)}</h3>'
    ]
    text = [title, "-" * min(len(title), 72)]
    for card in cards:
        r.add_link(card.url)
        html.append(_date_html(card, r.language))
        venue = card.venue[r.language]
        text.append(f"- {card.title[r.language]}")
        text.append(f"  {card.when[r.language]}" + (f", {venue}" if venue else ""))
        text.append(f"  {card.url}")
    return _row("".join(html)), "\n".join(text)


def _occurrence(r: _Renderer, block: dict[str, Any], index: int) -> _BlockResult:
    card = r.source.occurrence()
    if card is None:
        r.problem(
            _("this mail shows a booked date, but the message has none (or it was deleted)"),
            block=index,
            field="occurrence",
        )
        return None
    lang = r.language
    with translation.override(lang):
        directions_label = _("Directions")
        accessibility_label = _("Accessibility")
    r.add_link(card.url)
    html = [_date_html(card, lang, with_venue=False)]
    text = [card.title[lang], card.when[lang]]
    place = ", ".join(p for p in (card.venue[lang], card.address) if p)
    if place:
        html.append(f"<p {_P_SMALL}>{_esc(place)}</p>")
        text.append(place)
    if card.directions[lang]:
        paragraphs = [p.strip() for p in card.directions[lang].split("\n") if p.strip()]
        html.append(
            f"<p {_P_SMALL}><strong>{_esc(directions_label)}:</strong> "
            + "<br>".join(_esc(p) for p in paragraphs)
            + "</p>"
        )
        text.append(f"{directions_label}: " + "\n".join(paragraphs))
    if card.accessibility[lang]:
        features = ", ".join(card.accessibility[lang])
        html.append(
            f"<p {_P_SMALL}><strong>{_esc(accessibility_label)}:</strong> {_esc(features)}</p>"
        )
        text.append(f"{accessibility_label}: {features}")
    text.append(card.url)
    box = (
        '<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0">'
        f'<tr><td style="padding:16px;background-color:#f7f4f1;border-radius:4px;'
        f'font-family:{_FONT};font-size:16px;line-height:24px;color:{_INK};">'
        + "".join(html)
        + "</td></tr></table>"
    )
    return _row(box), "\n".join(text)


def _for_you(r: _Renderer, block: dict[str, Any], index: int) -> _BlockResult:
    from publikum.journeys.foryou import for_you_block  # it builds on this module

    return for_you_block(r, block, index)


_BLOCK_RENDERERS: dict[str, Callable[[_Renderer, dict[str, Any], int], _BlockResult]] = {
    "heading": _heading,
    "text": _markdown_block,
    "personal": _markdown_block,
    "image": _image,
    "button": _button,
    "events": _events,
    "occurrence": _occurrence,
    "for_you": _for_you,
}


# --- variables and entry points ------------------------------------------------------------------


def _language_of(
    contact: Contact | None, organisation: Organisation, template: EmailTemplate
) -> str:
    """The contact's language, else the organisation's; German for a template that has no
    English at all (a German mail should not say lang="en" and carry an English footer)."""
    if contact is not None and contact.language in LANGUAGES:
        language = contact.language
    else:
        language = organisation.language if organisation.language in LANGUAGES else "de"
    if language == "en" and not _has_english(template):
        return "de"
    return language


def _has_english(template: EmailTemplate) -> bool:
    if template.subject_en.strip() or template.preheader_en.strip():
        return True
    blocks = template.blocks if isinstance(template.blocks, list) else []
    return any(
        key.endswith("_en") and isinstance(value, str) and value.strip()
        for block in blocks
        if isinstance(block, dict)
        for key, value in block.items()
    )


def _absolute(path: str) -> str:
    return (settings.PUBLIC_URL or "").rstrip("/") + path


def _default_links(organisation: Organisation, contact: Contact) -> dict[str, str]:
    """The contact's preference centre and one-click unsubscribe page, when the caller
    gives none."""
    return {
        "preferences": _absolute(
            reverse(
                "public_preferences",
                kwargs={"org": organisation.slug, "token": consent.preference_token(contact)},
            )
        ),
        "unsubscribe": _absolute(
            reverse(
                "public_unsubscribe_oneclick",
                kwargs={"org": organisation.slug, "token": consent.unsubscribe_token(contact)},
            )
        ),
    }


def _variables(
    *,
    organisation: Organisation,
    contact: dict[str, str],
    links: dict[str, str],
    occurrence: dict[str, Any] | None,
) -> dict[str, Any]:
    variables: dict[str, Any] = {
        "contact": _Vars("contact", contact),
        "organisation": _Vars("organisation", {"name": organisation.name}),
        "links": _Vars("links", links),
    }
    if occurrence is not None:
        variables["occurrence"] = _Vars("occurrence", occurrence)
    return variables


def _contact_values(contact: Contact, language: str) -> dict[str, str]:
    first, last = contact.first_name or "", contact.last_name or ""
    return {
        "first_name": first,
        "last_name": last,
        # A school or tour operator is addressed by its name.
        "name": f"{first} {last}".strip() or contact.organisation_name or "",
        "language": language,
    }


def _occurrence_id(context: dict[str, Any] | None) -> int | None:
    value = (context or {}).get("occurrence")
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def _context_horizon(context: dict[str, Any] | None) -> float | None:
    """The horizon a journey step put into the message's context (None: none, or not a
    number from 0 to 1; the house's dial applies then)."""
    value = (context or {}).get("horizon")
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if 0.0 <= value <= 1.0 else None


def render_email(
    template: EmailTemplate,
    *,
    organisation: Organisation,
    contact: Contact,
    context: dict[str, Any] | None = None,
    links: dict[str, str] | None = None,
) -> RenderedEmail:
    """Render `template` for `contact` in the contact's language.

    `context`: the message's small JSON context (ids such as {"occurrence": 40}, and the
    journey step's "horizon" for a "for you" block).
    `links`: URLs the delivery service provides ("preferences", "unsubscribe"); without
    them the contact's own preference and unsubscribe pages are used; an empty string
    leaves that footer link out.
    Raises TemplateProblem when the template cannot be rendered.
    """
    if template.organisation_id != organisation.pk or contact.organisation_id != organisation.pk:
        raise ValueError("template, contact and organisation must belong together")
    language = _language_of(contact, organisation, template)
    footer = _default_links(organisation, contact) if links is None else {}
    footer.update({k: v for k, v in (links or {}).items() if isinstance(v, str)})
    footer.setdefault("preferences", "")
    footer.setdefault("unsubscribe", "")
    source = _LiveSource(organisation, contact, _occurrence_id(context))
    source.horizon = _context_horizon(context)
    booked = source.occurrence() if source.occurrence_id is not None else None
    renderer = _Renderer(
        organisation=organisation,
        language=language,
        variables=_variables(
            organisation=organisation,
            contact=_contact_values(contact, language),
            links=footer,
            occurrence=booked.variables(language) if booked else None,
        ),
        source=source,
        footer_links=footer,
        collect=False,
    )
    return renderer.render(template)


def _sample_links() -> dict[str, str]:
    base = (settings.PUBLIC_URL or "https://publikum.example").rstrip("/")
    return {
        "preferences": f"{base}/preferences/sample",
        "unsubscribe": f"{base}/unsubscribe/sample",
    }


def _sample_contact(language: str) -> dict[str, str]:
    return {
        "first_name": "Erika",
        "last_name": "Mustermann",
        "name": "Erika Mustermann",
        "language": language,
    }


def template_problems(template: EmailTemplate) -> list[TemplateProblem]:
    """Every problem of the template in both languages, without sending anything.

    Renders against a sample contact, sample links and a sample booked date (so that a
    reminder's {{ occurrence.title }} checks out); events come from samples too."""
    organisation = template.organisation
    problems: list[TemplateProblem] = []
    seen: set[tuple[int | None, str, str]] = set()
    for language in LANGUAGES:
        sample = _SampleSource(organisation)
        booked = sample.occurrence()
        links = _sample_links()
        renderer = _Renderer(
            organisation=organisation,
            language=language,
            variables=_variables(
                organisation=organisation,
                contact=_sample_contact(language),
                links=links,
                occurrence=booked.variables(language) if booked else None,
            ),
            source=sample,
            footer_links=links,
            collect=True,
        )
        renderer.render(template)
        for problem in renderer.problems:
            key = (problem.block, problem.field, problem.message.split(": ", 1)[-1])
            # A structural problem (unknown type, bad URL of an image) is the same in
            # both languages: report it once.
            if key in seen and problem.field in ("type", "url", "link", "limit", "occurrence"):
                continue
            seen.add(key)
            problems.append(problem)
    return problems


def render_preview(
    template: EmailTemplate, *, language: str, contact: Contact | None = None
) -> RenderedEmail:
    """What the editor shows: the template in `language` for `contact` (or a sample
    person), with the organisation's real upcoming dates and a sample booked date."""
    organisation = template.organisation
    language = language if language in LANGUAGES else "de"
    links = _sample_links()
    source = _PreviewSource(organisation, contact, None)
    sample = source.occurrence()
    renderer = _Renderer(
        organisation=organisation,
        language=language,
        variables=_variables(
            organisation=organisation,
            contact=(_contact_values(contact, language) if contact else _sample_contact(language)),
            links=links,
            occurrence=sample.variables(language),
        ),
        source=source,
        footer_links=links,
        collect=False,
    )
    return renderer.render(template)


_HREF = re.compile(r'href="([^"]*)"')


def rewrite_links(email: RenderedEmail, replace: Callable[[str], str]) -> RenderedEmail:
    """The mail with each of `email.links` replaced by `replace(url)` in both parts (for
    click tracking). In HTML it rewrites href attributes (whose values are HTML-escaped);
    in the text part, the addresses where they stand alone or in parentheses."""
    mapping = {url: replace(url) for url in email.links}

    def href(match: re.Match[str]) -> str:
        url = unescape_html(match.group(1))
        return f'href="{_esc(mapping[url])}"' if url in mapping else match.group(0)

    html = _HREF.sub(href, email.html)
    text = email.text
    for url in sorted(mapping, key=len, reverse=True):
        pattern = rf"(?<![^\s(\[]){re.escape(url)}(?=[\s)\]]|$)"
        new = mapping[url]
        text = re.sub(pattern, lambda _match: new, text)  # noqa: B023 (used at once)
    return dataclasses.replace(
        email, html=html, text=text, links=[mapping[url] for url in email.links]
    )


__all__ = [
    "MailOffer",
    "RenderedEmail",
    "TemplateProblem",
    "caches_clear",
    "render_email",
    "render_preview",
    "rewrite_links",
    "template_problems",
]
