"""REST endpoints of the audience: imports."""

from __future__ import annotations

from ninja import Router

router = Router(tags=["imports"])
