"""Staff pages of the programme under /o/<org>/programme/."""

from django.urls import URLPattern, URLResolver, include, path

from publikum.programme import views, views_vocabulary

urlpatterns: list[URLPattern | URLResolver] = [
    path("import/", include("publikum.programme.import_urls")),
    path("", views.programme_list, name="programme"),
    path("new/", views.item_new, name="programme_item_new"),
    path("<int:item_id>/", views.item_detail, name="programme_item"),
    path("<int:item_id>/edit/", views.item_edit, name="programme_item_edit"),
    path("<int:item_id>/duplicate/", views.item_duplicate, name="programme_item_duplicate"),
    path("<int:item_id>/cancel/", views.item_cancel, name="programme_item_cancel"),
    path("<int:item_id>/dates/add/", views.dates_add, name="programme_dates_add"),
    path("dates/<int:occurrence_id>/edit/", views.date_edit, name="programme_date_edit"),
    path("dates/<int:occurrence_id>/cancel/", views.date_cancel, name="programme_date_cancel"),
    path("venues/", views_vocabulary.venue_list, name="venues"),
    path("venues/new/", views_vocabulary.venue_new, name="venue_new"),
    path("venues/<int:venue_id>/", views_vocabulary.venue_edit, name="venue_edit"),
    path("themes/", views_vocabulary.theme_list, name="themes"),
]
