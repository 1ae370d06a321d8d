"""Background jobs of the audience."""

from __future__ import annotations
