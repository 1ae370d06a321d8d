"""Staff pages of the programme under /o/<org>/programme/."""

from django.urls import URLPattern, URLResolver, include, path

urlpatterns: list[URLPattern | URLResolver] = [
    path("import/", include("publikum.programme.import_urls")),
]
