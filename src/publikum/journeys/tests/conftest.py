"""The journeys tests read messages in English; the product's default language is German."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.utils import translation


@pytest.fixture(autouse=True)
def _english(settings) -> Iterator[None]:
    # Requests without Accept-Language get LANGUAGE_CODE; code outside a request gets the
    # active language. Mails still follow each contact's language.
    settings.LANGUAGE_CODE = "en"
    with translation.override("en"):
        yield
