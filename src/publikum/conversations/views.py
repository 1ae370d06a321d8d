"""Staff pages of the inbox under /o/<org>/inbox/.

Every member may read; front desk and up reply, assign, note and change the status; editors
and up keep the saved replies; managers and owners set when a conversation is overdue.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from publikum.conversations import selectors, services
from publikum.conversations.forms import (
    AssignForm,
    InboxFilterForm,
    InboxSettingsForm,
    NoteForm,
    ReplyForm,
    SavedReplyForm,
    StatusForm,
)
from publikum.conversations.mails import organisation_address
from publikum.conversations.models import Conversation, SavedReply
from publikum.core.errors import DomainError
from publikum.core.models import Membership, Role, role_at_least
from publikum.core.tenancy import StaffRequest, staff_view

PAGE_SIZE = 50


def _conversation_or_404(request: StaffRequest, conversation_id: int) -> Conversation:
    conversation = selectors.conversation_of(
        organisation=request.organisation, conversation_id=conversation_id
    )
    if conversation is None:
        raise Http404("No such conversation.")
    return conversation


def figures_context(figures: selectors.InboxFigures) -> dict[str, Any]:
    """What the figures section shows (the inbox page and the dashboard)."""

    def percent(value: float | None) -> float | None:
        return None if value is None else 100 * value

    return {
        "figures": figures,
        "handover_percent": percent(figures.handover_rate),
        "resolution_percent": percent(figures.resolution_rate),
        "median_text": selectors.duration_text(figures.first_response_median),
        "p90_text": selectors.duration_text(figures.first_response_p90),
    }


@staff_view(Role.VIEWER)
def inbox_list(request: StaffRequest) -> HttpResponse:
    organisation = request.organisation
    form = InboxFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    conversations = selectors.conversation_list(
        organisation=organisation,
        status=filters.get("status", ""),
        assigned=filters.get("assigned", ""),
        user=request.user,
        channel=filters.get("channel", ""),
    )
    page = Paginator(conversations, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    role = request.membership.role
    return render(
        request,
        "conversations/inbox_list.html",
        {
            "page": page,
            "form": form,
            "query": query.urlencode(),
            "overdue_hours": services.inbox_settings_of(organisation).overdue_hours,
            "inbound_address": organisation_address(organisation),
            "can_edit_replies": role_at_least(role, Role.EDITOR),
            "can_manage": role_at_least(role, Role.MANAGER),
            **figures_context(selectors.inbox_figures(organisation)),
        },
    )


def _members(request: StaffRequest) -> list[tuple[int, str]]:
    members = (
        Membership.objects.filter(organisation=request.organisation)
        .select_related("user")
        .order_by("user__name", "user__email")
    )
    return [(m.user.pk, m.user.name or m.user.email) for m in members]


def _detail(
    request: StaffRequest,
    conversation: Conversation,
    *,
    reply_form: ReplyForm | None = None,
    note_form: NoteForm | None = None,
    status: int = 200,
) -> HttpResponse:
    organisation = request.organisation
    language = conversation.language
    saved = list(SavedReply.objects.filter(organisation=organisation))
    if reply_form is None:
        initial = ""
        chosen = request.GET.get("saved", "")
        if chosen.isdecimal() and chosen.isascii():
            found = next((r for r in saved if r.pk == int(chosen)), None)
            initial = found.text(language) if found else ""
        reply_form = ReplyForm(initial={"text": initial})
    contact = conversation.contact
    if contact is not None and contact.erased_at is not None:
        contact = None
    return render(
        request,
        "conversations/conversation_detail.html",
        {
            "conversation": conversation,
            "transcript": list(conversation.messages.select_related("user")),
            "notes": list(conversation.notes.select_related("user")),
            "contact": contact,
            "saved_replies": [(r, r.text(language)) for r in saved],
            "reply_form": reply_form,
            "note_form": note_form or NoteForm(),
            "status_form": StatusForm(initial={"status": conversation.status}),
            "assign_form": AssignForm(
                members=_members(request), initial={"user": conversation.assigned_to_id}
            ),
            "can_write": role_at_least(request.membership.role, Role.FRONT_DESK),
            "present": services.visitor_present(conversation),
        },
        status=status,
    )


@staff_view(Role.VIEWER)
def conversation_detail(request: StaffRequest, conversation_id: int) -> HttpResponse:
    return _detail(request, _conversation_or_404(request, conversation_id))


def _back(request: StaffRequest, conversation: Conversation) -> HttpResponse:
    return redirect(
        "inbox_conversation", org=request.organisation.slug, conversation_id=conversation.pk
    )


@staff_view(Role.FRONT_DESK)
@require_POST
def conversation_reply(request: StaffRequest, conversation_id: int) -> HttpResponse:
    conversation = _conversation_or_404(request, conversation_id)
    form = ReplyForm(request.POST)
    if not form.is_valid():
        return _detail(request, conversation, reply_form=form, status=400)
    try:
        message = services.staff_reply(
            conversation=conversation,
            user=request.user,
            text=form.cleaned_data["text"],
            done=form.cleaned_data["done"],
        )
    except DomainError as exc:
        form.add_error("text", exc.message)
        return _detail(request, conversation, reply_form=form, status=exc.status)
    if message.delivery == "web":
        messages.success(request, _("Your reply was sent to the visitor's chat window."))
    else:
        messages.success(
            request,
            _("Your reply was sent by e-mail to %(address)s.")
            % {"address": conversation.visitor_email},
        )
    return _back(request, conversation)


@staff_view(Role.FRONT_DESK)
@require_POST
def conversation_note(request: StaffRequest, conversation_id: int) -> HttpResponse:
    conversation = _conversation_or_404(request, conversation_id)
    form = NoteForm(request.POST)
    if not form.is_valid():
        return _detail(request, conversation, note_form=form, status=400)
    try:
        services.note_add(
            conversation=conversation, user=request.user, text=form.cleaned_data["text"]
        )
    except DomainError as exc:
        form.add_error("text", exc.message)
        return _detail(request, conversation, note_form=form, status=exc.status)
    messages.success(request, _("The note was added."))
    return _back(request, conversation)


@staff_view(Role.FRONT_DESK)
@require_POST
def conversation_status(request: StaffRequest, conversation_id: int) -> HttpResponse:
    conversation = _conversation_or_404(request, conversation_id)
    form = StatusForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Please choose open, waiting or done."))
        return _back(request, conversation)
    services.conversation_status_set(
        conversation=conversation, status=form.cleaned_data["status"], actor=request.user
    )
    messages.success(
        request, _("The status is now: %(status)s.") % {"status": conversation.get_status_display()}
    )
    return _back(request, conversation)


@staff_view(Role.FRONT_DESK)
@require_POST
def conversation_assign(request: StaffRequest, conversation_id: int) -> HttpResponse:
    conversation = _conversation_or_404(request, conversation_id)
    form = AssignForm(request.POST, members=_members(request))
    if not form.is_valid():
        messages.error(request, _("Please choose a member of the team."))
        return _back(request, conversation)
    try:
        services.conversation_assign(
            conversation=conversation, user_id=form.cleaned_data["user"], actor=request.user
        )
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("The assignment was saved."))
    return _back(request, conversation)


# --- saved replies -----------------------------------------------------------------------------


def _saved_reply_form_page(
    request: StaffRequest, form: SavedReplyForm, reply: SavedReply | None
) -> HttpResponse | None:
    """Save a posted form; returns the redirect, or None when the form has errors."""
    if not form.is_valid():
        return None
    try:
        services.saved_reply_save(
            organisation=request.organisation, reply=reply, actor=request.user, **form.cleaned_data
        )
    except DomainError as exc:
        for field, errors in exc.fields.items():
            for error in errors:
                form.add_error(field if field in form.fields else None, error)
        return None
    messages.success(request, _("The saved reply was stored."))
    return redirect("inbox_saved_replies", org=request.organisation.slug)


@staff_view(Role.EDITOR)
def saved_replies(request: StaffRequest) -> HttpResponse:
    form = SavedReplyForm(request.POST or None)
    if request.method == "POST":
        done = _saved_reply_form_page(request, form, None)
        if done is not None:
            return done
    return render(
        request,
        "conversations/saved_replies.html",
        {"replies": SavedReply.objects.filter(organisation=request.organisation), "form": form},
        status=400 if request.method == "POST" else 200,
    )


def _saved_reply_or_404(request: StaffRequest, reply_id: int) -> SavedReply:
    reply = SavedReply.objects.filter(organisation=request.organisation, pk=reply_id).first()
    if reply is None:
        raise Http404("No such saved reply.")
    return reply


@staff_view(Role.EDITOR)
def saved_reply_edit(request: StaffRequest, reply_id: int) -> HttpResponse:
    reply = _saved_reply_or_404(request, reply_id)
    form = SavedReplyForm(
        request.POST or None,
        initial={"title": reply.title, "text_de": reply.text_de, "text_en": reply.text_en},
    )
    if request.method == "POST":
        done = _saved_reply_form_page(request, form, reply)
        if done is not None:
            return done
    return render(
        request,
        "conversations/saved_reply_form.html",
        {"reply": reply, "form": form},
        status=400 if request.method == "POST" else 200,
    )


@staff_view(Role.EDITOR)
@require_POST
def saved_reply_delete(request: StaffRequest, reply_id: int) -> HttpResponse:
    reply = _saved_reply_or_404(request, reply_id)
    services.saved_reply_delete(reply=reply, actor=request.user)
    messages.success(request, _("The saved reply was deleted."))
    return redirect("inbox_saved_replies", org=request.organisation.slug)


# --- settings ----------------------------------------------------------------------------------


@staff_view(Role.MANAGER)
def inbox_settings(request: StaffRequest) -> HttpResponse:
    organisation = request.organisation
    current = services.inbox_settings_of(organisation)
    form = InboxSettingsForm(
        request.POST or None,
        initial={"overdue_hours": current.overdue_hours, "notify_email": current.notify_email},
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.inbox_settings_update(
                organisation=organisation, actor=request.user, **form.cleaned_data
            )
        except DomainError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, _("The inbox settings were saved."))
            return redirect("inbox_settings", org=organisation.slug)
    return render(
        request,
        "conversations/inbox_settings.html",
        {"form": form, "inbound_address": organisation_address(organisation)},
        status=400 if request.method == "POST" else 200,
    )
