"""Staff pages of the programme import under /o/<org>/programme/import/."""

from django.urls import URLPattern, URLResolver, path

from publikum.programme import views_import

urlpatterns: list[URLPattern | URLResolver] = [
    path("", views_import.programme_import, name="programme_import"),
    path("<int:import_id>/", views_import.programme_import_detail, name="programme_import_detail"),
    path(
        "<int:import_id>/mapping/",
        views_import.programme_import_mapping,
        name="programme_import_mapping",
    ),
]
