from django.apps import AppConfig


class ConversationsConfig(AppConfig):
    """The inbox: hand-overs of the assistant, inbound mail, contact-form messages."""

    name = "publikum.conversations"
    label = "conversations"
    verbose_name = "Conversations"
