"""REST endpoints of the audience: segments."""

from __future__ import annotations

from ninja import Router

router = Router(tags=["segments"])
