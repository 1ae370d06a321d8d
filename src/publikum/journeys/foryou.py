"""The "for you" mail block: a person's recommendations from discovery, with the reasons.

Block options (docs/email-content.md): `count` (1 to 6, default 3), `horizon` (0 to 1;
left out: the journey step's, else the house's dial) and an optional heading
(`heading_de`, `heading_en`; default "For you").

At send time the block asks `discovery.services.recommendations_for` for the person's list
in the mail's language and shows each pick as a card like the events block's (title
linking to the item's public page, date, venue) with the sentence that says why. The picks
become `RenderedEmail.offers`, which delivery records as offers once the mail went out.

A recommendation problem never stops a mail: when the recommender raises, the block is
left out and the cause logged; when it has nothing to offer (no programme ahead, nothing
relevant enough) the block is left out too, as the events block is when nothing is coming
up. Checking a template and the editor's preview use sample picks.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from publikum.audience.models import Contact
from publikum.core.errors import DomainError
from publikum.core.models import Organisation
from publikum.discovery import rerank
from publikum.journeys.content import (
    _ACCENT,
    _FONT,
    _INK,
    _MUTED,
    _P_SMALL,
    LANGUAGES,
    MailOffer,
    _BlockResult,
    _booked,
    _bounded_count,
    _DateCard,
    _esc,
    _Renderer,
    _row,
    _sample_card,
    _upcoming,
)

logger = logging.getLogger("publikum.journeys.foryou")

COUNT_DEFAULT = 3
COUNT_MAX = 6


@dataclass(frozen=True)
class Pick:
    """One recommendation as the mail shows it: the date's card and the reason in both
    languages; `horizon` is the one the list was made at."""

    card: _DateCard
    explanation: dict[str, str]
    relevance: float
    horizon: float | None


# --- where the picks come from ------------------------------------------------------------


def _card_of(organisation: Organisation, occurrence_id: int) -> _DateCard | None:
    """The card of a recommended date: from the renderer's cached upcoming dates (the
    recommender offers each item's next date, which is what they hold), else read once."""
    for card in _upcoming(organisation):
        if card.occurrence_id == occurrence_id:
            return card
    return _booked(organisation, occurrence_id)


def live_picks(
    organisation: Organisation,
    contact: Contact,
    count: int,
    horizon: float | None,
    language: str,
) -> list[Pick]:
    """The contact's recommendations now; [] (and a log entry) when the recommender fails."""
    from publikum.discovery.services import recommendations_for

    # Inside a transaction (a caller's), a failing query must not poison it: a savepoint.
    # Outside one there is nothing to protect, and no transaction is opened for reads.
    guard = transaction.atomic() if transaction.get_connection().in_atomic_block else None
    try:
        with guard or contextlib.nullcontext():
            result = recommendations_for(
                organisation=organisation,
                contact=contact,
                limit=count,
                horizon=horizon,
                language=language,
            )
            picks: list[Pick] = []
            for rec in result.items:
                card = _card_of(organisation, rec.occurrence_id)
                if card is None:
                    continue  # deleted since the list was made
                picks.append(
                    Pick(
                        card=card,
                        explanation={lang: rec.explanation.text(lang) for lang in LANGUAGES},
                        relevance=float(rec.relevance),
                        horizon=result.horizon,
                    )
                )
    except DomainError as exc:
        logger.warning(
            "no recommendations for contact %s, mail sent without them: %s", contact.pk, exc
        )
        return []
    except Exception:
        # Whatever broke, the newsletter goes out; the log keeps the cause for a fix.
        logger.exception("no recommendations for contact %s, mail sent without them", contact.pk)
        return []
    return picks


def _sample_reasons(n: int) -> dict[str, str]:
    """A reason of the kind the recommender gives, for a sample pick."""
    kind = (rerank.BECAUSE_VISITED, rerank.NEW_FOR_YOU, rerank.INTEREST)[(n - 1) % 3]
    part = rerank.ExplanationPart(
        kind=kind,
        item_ids=() if kind == rerank.INTEREST else ("sample",),
        themes=() if kind == rerank.BECAUSE_VISITED else ("sample",),
    )
    titles = {"de": "Beispielausstellung", "en": "Sample exhibition"}
    themes = {"de": "Fotografie", "en": "Photography"}
    return {
        lang: rerank.render_explanation(
            [part],
            lang,
            titles={"sample": titles[lang]},
            theme_names={"sample": themes[lang]},
        )
        for lang in LANGUAGES
    }


def sample_picks(
    organisation: Organisation, count: int, horizon: float | None, *, upcoming: bool
) -> list[Pick]:
    """Picks for checking a template and the preview: with `upcoming`, the house's next
    dates (samples where it has fewer), else samples only; each with a sample reason."""
    cards = list(_upcoming(organisation)[:count]) if upcoming else []
    cards += [_sample_card(organisation, n) for n in range(len(cards) + 1, count + 1)]
    return [
        Pick(card=card, explanation=_sample_reasons(n), relevance=1.0, horizon=horizon)
        for n, card in enumerate(cards, start=1)
    ]


# --- the block ------------------------------------------------------------------------------


def _count(r: _Renderer, block: dict[str, Any], index: int) -> int:
    """The block's number of picks; out of range it is reported, and at send time the
    nearest allowed number is used."""
    return _bounded_count(
        r,
        block,
        index,
        field="count",
        default=COUNT_DEFAULT,
        maximum=COUNT_MAX,
        problem=lambda m: (
            _("the number of recommendations must be between 1 and %(max)s") % {"max": m}
        ),
    )


def _horizon(r: _Renderer, block: dict[str, Any], index: int) -> float | None:
    """The block's own horizon, None when it has none. A bad one is reported, and at send
    time ignored (the journey step's or the house's applies)."""
    value = block.get("horizon")
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        if r.language == "de":
            r.flaw(
                _(
                    "the horizon must be a number from 0 (only the familiar) to 1 (mostly new), "
                    "or left out to use the journey step's or the house's setting"
                ),
                block=index,
                field="horizon",
            )
        return None
    return float(value)


def _card_html(card: _DateCard, reason: str, language: str) -> str:
    title = _esc(card.title[language])
    if card.url:
        title = (
            f'<a href="{_esc(card.url)}" style="color:{_ACCENT};text-decoration:underline;">'
            f"{title}</a>"
        )
    venue = card.venue[language]
    detail = _esc(card.when[language]) + (f"<br>{_esc(venue)}" if venue else "")
    why = f'<br><em style="color:{_INK};">{_esc(reason)}</em>' if reason else ""
    return (
        f"<p {_P_SMALL}><strong>{title}</strong><br>"
        f'<span style="color:{_MUTED};">{detail}</span>{why}</p>'
    )


def for_you_block(r: _Renderer, block: dict[str, Any], index: int) -> _BlockResult:
    count = _count(r, block, index)
    horizon = _horizon(r, block, index)
    heading = " ".join(r.text_field(block, "heading", block=index).split())
    picks = r.source.recommended(count, horizon, r.language)[:count]
    if not picks:
        return None  # nothing to recommend: the block disappears rather than saying so
    if not heading:
        with translation.override(r.language):
            heading = pgettext("mail block", "For you")
    lang = r.language
    html = [
        f'<h3 style="margin:0 0 12px 0;font-family:{_FONT};font-size:18px;line-height:24px;'
        f'color:{_INK};">{_esc(heading)}</h3>'
    ]
    text = [heading, "-" * min(len(heading), 72)]
    for rank, pick in enumerate(picks, start=1):
        card = pick.card
        reason = pick.explanation.get(lang, "")
        r.add_link(card.url)
        html.append(_card_html(card, reason, lang))
        venue = card.venue[lang]
        text.append(f"- {card.title[lang]}")
        text.append(f"  {card.when[lang]}" + (f", {venue}" if venue else ""))
        if reason:
            text.append(f"  {reason}")
        text.append(f"  {card.url}")
        r.offers.append(
            MailOffer(
                item_id=card.item_id,
                occurrence_id=card.occurrence_id or None,
                rank=rank,
                relevance=pick.relevance,
                horizon=pick.horizon,
            )
        )
    return _row("".join(html)), "\n".join(text)
