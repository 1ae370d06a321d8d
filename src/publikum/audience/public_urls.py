"""Public pages of the audience under /<org>/: subscribe, confirm, preference centre."""

from __future__ import annotations

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
