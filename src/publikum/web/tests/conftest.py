"""Browser fixtures live in the root conftest.py, shared by every module's browser tests."""

from conftest import CHROMIUM, CHROMIUM_ARGS, TIMEOUT_MS

__all__ = ["CHROMIUM", "CHROMIUM_ARGS", "TIMEOUT_MS"]
