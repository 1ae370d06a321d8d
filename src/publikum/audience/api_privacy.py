"""REST endpoints of the audience: privacy."""

from __future__ import annotations

from ninja import Router

router = Router(tags=["privacy"])
