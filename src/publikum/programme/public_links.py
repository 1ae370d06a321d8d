"""Absolute links to an organisation's public pages, for JSON-LD, feeds and calendars."""

from __future__ import annotations

from dataclasses import dataclass

from django.http import HttpRequest
from django.urls import reverse

from publikum.core.models import Organisation
from publikum.programme.models import Occurrence, ProgrammeItem


@dataclass(frozen=True)
class PublicLinks:
    organisation: Organisation
    # Scheme and host, no trailing slash: "https://publikum.example".
    base_url: str

    @classmethod
    def of(cls, request: HttpRequest, organisation: Organisation) -> PublicLinks:
        return cls(organisation, request.build_absolute_uri("/").rstrip("/"))

    def absolute(self, path: str) -> str:
        return f"{self.base_url}{path}"

    def _url(self, name: str, **kwargs: object) -> str:
        return self.absolute(reverse(name, kwargs={"org": self.organisation.slug, **kwargs}))

    @property
    def home(self) -> str:
        return self._url("public_home")

    @property
    def programme(self) -> str:
        return self._url("public_programme")

    @property
    def feed_ics(self) -> str:
        return self._url("public_feed_ics")

    @property
    def feed_json(self) -> str:
        return self._url("public_feed_json")

    def item(self, item: ProgrammeItem) -> str:
        return self._url("public_item", slug=item.slug)

    def date(self, occurrence: Occurrence) -> str:
        """A stable address of one date: the item page with the date's anchor."""
        return f"{self.item(occurrence.item)}#date-{occurrence.pk}"

    def book(self, occurrence: Occurrence) -> str:
        return self._url("public_book", occurrence_id=occurrence.pk)

    def image(self, item: ProgrammeItem) -> str:
        if not item.image:
            return ""
        url = item.image.url
        return url if url.startswith(("https://", "http://")) else self.absolute(url)
