"""Plain data the recommender works on: who came to what, what an item is, what a person needs.

The Django side builds these from `Interaction`, `ProgrammeItem`/`Occurrence` and `Contact`
rows; the evaluation command builds them from CSV files. Ids are strings so that both can
use their own keys (primary keys, slugs, a house's ticketing numbers).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Interaction:
    """One visit, booking or click of `user` with `item`; `timestamp` in Unix seconds."""

    user: str
    item: str
    timestamp: float
    weight: float = 1.0


@dataclass(frozen=True, slots=True)
class Item:
    """A past or upcoming programme entry (a date, or an item with its dates).

    `language` is the language it is held in ("" when it does not matter, e.g. a concert);
    `accessibility` lists what it offers (wheelchair, induction_loop, ...); `target_groups`
    whom it is for (families, schools, adults, ...). All optional: the recommender uses what
    is there.
    """

    id: str
    title: str
    themes: tuple[str, ...] = ()
    kind: str = ""
    starts_at: datetime | None = None
    description: str = ""
    language: str = ""
    target_groups: tuple[str, ...] = ()
    accessibility: tuple[str, ...] = ()

    def attributes(self) -> frozenset[str]:
        """Themes and kind as one set: what "new for this person" is measured against."""
        kind = (f"kind:{self.kind}",) if self.kind else ()
        return frozenset(self.themes) | frozenset(kind)


@dataclass(frozen=True, slots=True)
class Person:
    """What a person told us or what we know for practical fit; all optional.

    `needs` are accessibility needs an item must offer; `language` the language they read
    and listen in; `target_groups` the groups they belong to (a family, a school).
    """

    stated_interests: tuple[str, ...] = ()
    language: str = ""
    needs: tuple[str, ...] = ()
    target_groups: tuple[str, ...] = ()
