"""Staff pages of the programme import under /o/<org>/programme/import/."""

from django.urls import URLPattern, URLResolver

urlpatterns: list[URLPattern | URLResolver] = []
