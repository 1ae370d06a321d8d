"""The staff navigation: each module registers its entries in its AppConfig.ready()."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.functional import Promise

from publikum.core.models import Role


@dataclass(frozen=True)
class NavEntry:
    label: str | Promise
    url_name: str
    min_role: str = Role.VIEWER
    order: int = 100
    section: str = "main"  # "main" or "admin"


_ENTRIES: list[NavEntry] = []


def register(entry: NavEntry) -> None:
    if entry.url_name not in {e.url_name for e in _ENTRIES}:
        _ENTRIES.append(entry)


def entries() -> list[NavEntry]:
    return sorted(_ENTRIES, key=lambda e: (e.section != "main", e.order))
