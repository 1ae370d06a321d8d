"""Staff pages of the assistant (under /o/<org>/assistant/)."""

from django.urls import path

from publikum.assistant import views

urlpatterns = [
    path("", views.overview, name="assistant"),
    path("entries/", views.entry_list, name="assistant_entries"),
    path("entries/new/", views.entry_new, name="assistant_entry_new"),
    path("entries/<int:knowledge_id>/", views.entry_edit, name="assistant_entry_edit"),
    path("entries/<int:knowledge_id>/delete/", views.entry_delete, name="assistant_entry_delete"),
    path("hours/", views.hours, name="assistant_hours"),
    path("hours/exceptions/new/", views.exception_new, name="assistant_exception_new"),
    path(
        "hours/exceptions/<int:exception_id>/",
        views.exception_edit,
        name="assistant_exception_edit",
    ),
    path(
        "hours/exceptions/<int:exception_id>/delete/",
        views.exception_delete,
        name="assistant_exception_delete",
    ),
    path("prices/", views.price_list, name="assistant_prices"),
    path("prices/new/", views.price_new, name="assistant_price_new"),
    path("prices/<int:price_id>/", views.price_edit, name="assistant_price_edit"),
    path("prices/<int:price_id>/delete/", views.price_delete, name="assistant_price_delete"),
    path("topics/", views.topic_list, name="assistant_topics"),
    path("topics/new/", views.topic_new, name="assistant_topic_new"),
    path("topics/<int:topic_id>/", views.topic_edit, name="assistant_topic_edit"),
    path("topics/<int:topic_id>/delete/", views.topic_delete, name="assistant_topic_delete"),
    path("settings/", views.settings_page, name="assistant_settings"),
]
