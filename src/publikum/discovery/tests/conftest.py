"""Every test starts without fitted models: the cache lives in the process, not the database."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from publikum.discovery import services


@pytest.fixture(autouse=True)
def _no_fitted_models() -> Iterator[None]:
    services.cache_clear()
    yield
    services.cache_clear()
