"""Staff pages of the audience: imports."""

from __future__ import annotations

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
