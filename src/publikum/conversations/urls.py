"""Staff pages of the inbox (under /o/<org>/inbox/)."""

from __future__ import annotations

from django.urls import URLPattern, path

from publikum.conversations import views

urlpatterns: list[URLPattern] = [
    path("", views.inbox_list, name="inbox"),
    path("<int:conversation_id>/", views.conversation_detail, name="inbox_conversation"),
    path("<int:conversation_id>/reply/", views.conversation_reply, name="inbox_reply"),
    path("<int:conversation_id>/note/", views.conversation_note, name="inbox_note"),
    path("<int:conversation_id>/status/", views.conversation_status, name="inbox_status"),
    path("<int:conversation_id>/assign/", views.conversation_assign, name="inbox_assign"),
    path("saved-replies/", views.saved_replies, name="inbox_saved_replies"),
    path("saved-replies/<int:reply_id>/", views.saved_reply_edit, name="inbox_saved_reply"),
    path(
        "saved-replies/<int:reply_id>/delete/",
        views.saved_reply_delete,
        name="inbox_saved_reply_delete",
    ),
    path("settings/", views.inbox_settings, name="inbox_settings"),
]
