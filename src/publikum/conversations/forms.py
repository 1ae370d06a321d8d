"""Forms of the inbox pages and of the public contact form."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from publikum.conversations.models import MAX_TEXT, ConversationChannel, ConversationStatus


class InboxFilterForm(forms.Form):
    status = forms.ChoiceField(
        label=_("Status"),
        required=False,
        choices=[
            ("", _("Open and waiting")),
            ("open", _("Open")),
            ("waiting", _("Waiting for the visitor")),
            ("assistant", _("Only with the assistant")),
            ("done", _("Done")),
            ("all", _("All")),
        ],
    )
    assigned = forms.ChoiceField(
        label=_("Assigned"),
        required=False,
        choices=[("", _("Anyone")), ("me", _("To me")), ("unassigned", _("Unassigned"))],
    )
    channel = forms.ChoiceField(
        label=_("Channel"),
        required=False,
        choices=[("", _("All channels")), *ConversationChannel.choices],
    )


class ReplyForm(forms.Form):
    text = forms.CharField(
        label=_("Reply"), max_length=MAX_TEXT, widget=forms.Textarea(attrs={"rows": 6})
    )
    done = forms.BooleanField(label=_("Mark as done after sending"), required=False)


class NoteForm(forms.Form):
    text = forms.CharField(
        label=_("Internal note"), max_length=MAX_TEXT, widget=forms.Textarea(attrs={"rows": 3})
    )


class StatusForm(forms.Form):
    status = forms.ChoiceField(
        label=_("Status"),
        choices=[
            (ConversationStatus.OPEN, ConversationStatus.OPEN.label),
            (ConversationStatus.WAITING, ConversationStatus.WAITING.label),
            (ConversationStatus.DONE, ConversationStatus.DONE.label),
        ],
    )


class AssignForm(forms.Form):
    user = forms.TypedChoiceField(
        label=_("Assigned to"), required=False, coerce=int, empty_value=None
    )

    def __init__(self, *args: object, members: list[tuple[int, str]], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["user"].choices = [("", _("Nobody")), *members]  # type: ignore[attr-defined]


class SavedReplyForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=200)
    text_de = forms.CharField(
        label=_("Text in German"), max_length=MAX_TEXT, widget=forms.Textarea(attrs={"rows": 5})
    )
    text_en = forms.CharField(
        label=_("Text in English"),
        max_length=MAX_TEXT,
        required=False,
        widget=forms.Textarea(attrs={"rows": 5}),
    )


class InboxSettingsForm(forms.Form):
    overdue_hours = forms.IntegerField(
        label=_("Overdue after (hours)"),
        min_value=1,
        max_value=24 * 14,
        help_text=_("A conversation waiting longer than this for an answer is shown first."),
    )
    notify_email = forms.EmailField(
        label=_("Notify this address of overdue conversations"),
        required=False,
        help_text=_("Once per overdue conversation. Leave empty for no mails."),
    )


class ContactForm(forms.Form):
    name = forms.CharField(label=_("Your name"), max_length=200)
    email = forms.EmailField(label=_("Your e-mail address"), max_length=254)
    message = forms.CharField(
        label=_("Your message"), max_length=MAX_TEXT, widget=forms.Textarea(attrs={"rows": 8})
    )
    # Honeypot: hidden from people (and from screen readers), filled in by form robots.
    website = forms.CharField(label=_("Leave this field empty"), required=False)

    @property
    def is_robot(self) -> bool:
        return bool(self.data.get("website"))
