"""Staff pages of journeys, newsletters, mail templates and tasks (under /o/<org>/)."""

from django.urls import path

from publikum.journeys import views

urlpatterns = [
    path("journeys/", views.journey_list, name="journeys"),
    path("journeys/new/", views.journey_create, name="journey_create"),
    path("journeys/install/", views.journey_install, name="journey_install"),
    path("journeys/<int:journey_id>/", views.journey_detail, name="journey_detail"),
    # The editor: settings and steps; each step's form; the whole journey as JSON.
    path("journeys/<int:journey_id>/edit/", views.journey_edit, name="journey_edit"),
    path("journeys/<int:journey_id>/edit/json/", views.journey_edit_json, name="journey_edit_json"),
    path("journeys/<int:journey_id>/steps/new/", views.journey_step_add, name="journey_step_add"),
    path(
        "journeys/<int:journey_id>/steps/<slug:step_id>/edit/",
        views.journey_step_edit,
        name="journey_step_edit",
    ),
    path(
        "journeys/<int:journey_id>/steps/<slug:step_id>/delete/",
        views.journey_step_delete,
        name="journey_step_delete",
    ),
    path(
        "journeys/<int:journey_id>/<slug:action>/",
        views.journey_action,
        name="journey_action",
    ),
    path("mail-templates/", views.template_list, name="mail_templates"),
    path("mail-templates/new/", views.template_edit, name="template_create"),
    path("mail-templates/<int:template_id>/", views.template_edit, name="template_edit"),
    path("newsletters/", views.newsletter_list, name="newsletters"),
    path("newsletters/new/", views.newsletter_create, name="newsletter_create"),
    path("newsletters/<int:newsletter_id>/", views.newsletter_detail, name="newsletter_detail"),
    path(
        "newsletters/<int:newsletter_id>/<slug:action>/",
        views.newsletter_action,
        name="newsletter_action",
    ),
    path("tasks/", views.task_list, name="staff_tasks"),
]
