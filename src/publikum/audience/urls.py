"""Staff pages of the audience under /o/<org>/. Each part of the module keeps its own list."""

from django.urls import path

from publikum.audience import views, views_imports, views_lifecycle, views_privacy, views_segments

urlpatterns = [
    path("contacts/", views.contact_list, name="contacts"),
    path("contacts/new/", views.contact_create, name="contact_create"),
    path("contacts/<int:contact_id>/", views.contact_detail, name="contact_detail"),
    path("contacts/<int:contact_id>/edit/", views.contact_edit, name="contact_edit"),
    *views_segments.urlpatterns,
    *views_imports.urlpatterns,
    *views_lifecycle.urlpatterns,
    *views_privacy.urlpatterns,
]
