"""Staff pages of the assistant (under /o/<org>/assistant/): what it knows and says.

Everyone in the house reads; editors and above change the knowledge, opening hours,
prices and personal topics; managers and owners switch the assistant on and off and set
its greetings.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Model
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from publikum.assistant import knowledge
from publikum.assistant.forms import (
    WEEKDAYS,
    EntryFilterForm,
    EntryForm,
    ExceptionForm,
    HolidayRuleForm,
    PersonalTopicForm,
    PriceForm,
    SettingsForm,
    WeekFormSet,
    week_initial,
)
from publikum.assistant.models import (
    KnowledgeEntry,
    OpeningException,
    PersonalTopic,
    PriceEntry,
)
from publikum.core.errors import DomainError
from publikum.core.models import Role, role_at_least
from publikum.core.tenancy import StaffRequest, staff_view
from publikum.programme.selectors import today_in

PAGE_SIZE = 50


def _actor(request: StaffRequest) -> knowledge.Actor:
    return knowledge.Actor(user=request.user)


def _can_edit(request: StaffRequest) -> bool:
    return role_at_least(request.membership.role, Role.EDITOR)


def _add_errors(form: forms.Form, exc: DomainError) -> None:
    """The service's field errors on the form's fields; the rest above the form."""
    placed = False
    for field, errors in exc.fields.items():
        if field in form.fields:
            for error in errors:
                form.add_error(field, error)
            placed = True
    if not placed:
        form.add_error(None, exc.message)


def _public_links(request: StaffRequest) -> dict[str, str]:
    slug = request.organisation.slug
    return {
        "page_url": request.build_absolute_uri(f"/{slug}/assistant/"),
        "script_url": request.build_absolute_uri(f"/{slug}/assistant.js"),
    }


@staff_view(Role.VIEWER)
def overview(request: StaffRequest) -> HttpResponse:
    organisation = request.organisation
    settings = knowledge.settings_of(organisation)
    entries = KnowledgeEntry.objects.filter(organisation=organisation)
    today = today_in(organisation)
    links = _public_links(request)
    return render(
        request,
        "assistant/staff/overview.html",
        {
            "settings": settings,
            "active_entries": entries.filter(active=True).count(),
            "inactive_entries": entries.filter(active=False).count(),
            "prices": PriceEntry.objects.filter(organisation=organisation).count(),
            "topics": PersonalTopic.objects.filter(organisation=organisation).count(),
            "upcoming_exceptions": OpeningException.objects.filter(
                organisation=organisation, date__gte=today
            ).count(),
            "open_days": sum(1 for spans in knowledge.week_of(organisation) if spans),
            "synonym_groups": len(list(knowledge.synonym_groups(settings.synonyms))),
            "snippet": f'<script src="{links["script_url"]}" defer></script>',
            **links,
        },
    )


# --- knowledge entries ---------------------------------------------------------------------


@staff_view(Role.VIEWER)
def entry_list(request: StaffRequest) -> HttpResponse:
    form = EntryFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    entries = knowledge.entry_list(
        organisation=request.organisation,
        topic=filters.get("topic", ""),
        query=filters.get("q", ""),
    )
    page = Paginator(entries, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "assistant/staff/entries.html",
        {"form": form, "page": page, "query": query.urlencode(), "can_edit": _can_edit(request)},
    )


def _entry_data(form: forms.Form) -> dict[str, Any]:
    return dict(form.cleaned_data)


def _entry_page(request: StaffRequest, entry: KnowledgeEntry | None) -> HttpResponse:
    initial: dict[str, Any] = (
        {name: getattr(entry, name) for name in knowledge.ENTRY_FIELDS} if entry else {}
    )
    form = EntryForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            if entry is None:
                knowledge.entry_create(
                    organisation=request.organisation,
                    data=_entry_data(form),
                    actor=_actor(request),
                )
                messages.success(request, _("The entry has been created."))
            else:
                knowledge.entry_update(entry=entry, data=_entry_data(form), actor=_actor(request))
                messages.success(request, _("The entry has been saved."))
        except DomainError as exc:
            if exc.status == 409:
                form.add_error("key", _("Another entry has this key."))
            elif "key" in exc.fields:
                form.add_error(
                    "key", _("Use only lowercase letters, digits, hyphens and underscores.")
                )
            else:
                _add_errors(form, exc)
        else:
            return redirect("assistant_entries", org=request.organisation.slug)
    return render(request, "assistant/staff/entry_form.html", {"form": form, "entry": entry})


@staff_view(Role.EDITOR)
def entry_new(request: StaffRequest) -> HttpResponse:
    return _entry_page(request, None)


@staff_view(Role.EDITOR)
def entry_edit(request: StaffRequest, knowledge_id: int) -> HttpResponse:
    entry = knowledge.entry_get(organisation=request.organisation, entry_id=knowledge_id)
    return _entry_page(request, entry)


def _delete_page(
    request: StaffRequest,
    obj: Model,
    *,
    name: str,
    delete: Callable[[], None],
    back: str,
    done: str,
) -> HttpResponse:
    if request.method == "POST":
        delete()
        messages.success(request, done)
        return redirect(back, org=request.organisation.slug)
    return render(
        request, "assistant/staff/delete.html", {"object": obj, "name": name, "back": back}
    )


def _save_page(
    request: StaffRequest,
    row: Model | None,
    form: forms.Form,
    *,
    save: Callable[[dict[str, Any]], object],
    saved: str,
    back: str,
    template: str,
    conflict: tuple[str, str] | None = None,
) -> HttpResponse:
    """The create/edit page of one row: `save` creates or updates it from the cleaned form;
    a refusal of the service shows at the fields (`conflict`: field and message for 409)."""
    if request.method == "POST" and form.is_valid():
        try:
            save(form.cleaned_data)
        except DomainError as exc:
            if conflict is not None and exc.status == 409:
                form.add_error(conflict[0], conflict[1])
            else:
                _add_errors(form, exc)
        else:
            messages.success(request, saved)
            return redirect(back, org=request.organisation.slug)
    return render(request, template, {"form": form, "row": row})


@staff_view(Role.EDITOR)
def entry_delete(request: StaffRequest, knowledge_id: int) -> HttpResponse:
    entry = knowledge.entry_get(organisation=request.organisation, entry_id=knowledge_id)
    return _delete_page(
        request,
        entry,
        name=entry.question_de,
        delete=lambda: knowledge.entry_delete(entry=entry, actor=_actor(request)),
        back="assistant_entries",
        done=_("The entry has been deleted."),
    )


# --- opening hours and exceptions ----------------------------------------------------------


@staff_view(Role.VIEWER)
def hours(request: StaffRequest) -> HttpResponse:
    organisation = request.organisation
    settings = knowledge.settings_of(organisation)
    editor = _can_edit(request)
    week = knowledge.week_of(organisation)
    post = request.POST if request.method == "POST" else None
    if post is not None and not editor:
        raise PermissionDenied("Your role does not allow this.")
    formset = WeekFormSet(post, initial=week_initial(week), prefix="days")
    rule_form = HolidayRuleForm(post, initial={"holiday_rule": settings.holiday_rule})
    if post is not None and formset.is_valid() and rule_form.is_valid():
        try:
            knowledge.week_set(
                organisation=organisation,
                week=[form.spans() for form in formset.forms],
                actor=_actor(request),
            )
            knowledge.settings_update(
                organisation=organisation,
                data={"holiday_rule": rule_form.cleaned_data["holiday_rule"]},
                actor=_actor(request),
            )
        except DomainError as exc:
            rule_form.add_error(None, exc.message)
        else:
            messages.success(request, _("The opening hours have been saved."))
            return redirect("assistant_hours", org=organisation.slug)
    today = today_in(organisation)
    exceptions = OpeningException.objects.filter(organisation=organisation)
    show_past = request.GET.get("past") == "1"
    if not show_past:
        exceptions = exceptions.filter(date__gte=today)
    return render(
        request,
        "assistant/staff/hours.html",
        {
            "days": list(zip(WEEKDAYS, formset.forms, week, strict=True)),
            "formset": formset,
            "rule_form": rule_form,
            "exceptions": exceptions.order_by("date"),
            "show_past": show_past,
            "settings": settings,
            "can_edit": editor,
        },
    )


def _exception_page(request: StaffRequest, row: OpeningException | None) -> HttpResponse:
    initial: dict[str, Any] = (
        {
            "date": row.date,
            "closed": row.closed,
            "opens": row.opens,
            "closes": row.closes,
            "note_de": row.note_de,
            "note_en": row.note_en,
        }
        if row
        else {"closed": True}
    )
    organisation, actor = request.organisation, _actor(request)

    def save(data: dict[str, Any]) -> object:
        if row is None:
            return knowledge.exception_create(organisation=organisation, data=data, actor=actor)
        return knowledge.exception_update(row=row, data=data, actor=actor)

    return _save_page(
        request,
        row,
        ExceptionForm(request.POST or None, initial=initial),
        save=save,
        saved=_("The exception has been saved."),
        back="assistant_hours",
        template="assistant/staff/exception_form.html",
        conflict=("date", _("There is already an exception for this date.")),
    )


@staff_view(Role.EDITOR)
def exception_new(request: StaffRequest) -> HttpResponse:
    return _exception_page(request, None)


@staff_view(Role.EDITOR)
def exception_edit(request: StaffRequest, exception_id: int) -> HttpResponse:
    row = knowledge.exception_get(organisation=request.organisation, exception_id=exception_id)
    return _exception_page(request, row)


@staff_view(Role.EDITOR)
def exception_delete(request: StaffRequest, exception_id: int) -> HttpResponse:
    row = knowledge.exception_get(organisation=request.organisation, exception_id=exception_id)
    return _delete_page(
        request,
        row,
        name=f"{row.date:%d.%m.%Y}",
        delete=lambda: knowledge.exception_delete(row=row, actor=_actor(request)),
        back="assistant_hours",
        done=_("The exception has been deleted."),
    )


# --- prices --------------------------------------------------------------------------------


@staff_view(Role.VIEWER)
def price_list(request: StaffRequest) -> HttpResponse:
    return render(
        request,
        "assistant/staff/prices.html",
        {
            "prices": PriceEntry.objects.filter(organisation=request.organisation),
            "can_edit": _can_edit(request),
        },
    )


def _price_page(request: StaffRequest, row: PriceEntry | None) -> HttpResponse:
    fields = ("label_de", "label_en", "amount_eur", "note_de", "note_en", "position")
    initial = {name: getattr(row, name) for name in fields} if row else {}
    if row is None:
        initial["position"] = PriceEntry.objects.filter(organisation=request.organisation).count()
    organisation, actor = request.organisation, _actor(request)

    def save(data: dict[str, Any]) -> object:
        if row is None:
            return knowledge.price_create(organisation=organisation, data=data, actor=actor)
        return knowledge.price_update(row=row, data=data, actor=actor)

    return _save_page(
        request,
        row,
        PriceForm(request.POST or None, initial=initial),
        save=save,
        saved=_("The price has been saved."),
        back="assistant_prices",
        template="assistant/staff/price_form.html",
    )


@staff_view(Role.EDITOR)
def price_new(request: StaffRequest) -> HttpResponse:
    return _price_page(request, None)


@staff_view(Role.EDITOR)
def price_edit(request: StaffRequest, price_id: int) -> HttpResponse:
    return _price_page(
        request, knowledge.price_get(organisation=request.organisation, price_id=price_id)
    )


@staff_view(Role.EDITOR)
def price_delete(request: StaffRequest, price_id: int) -> HttpResponse:
    row = knowledge.price_get(organisation=request.organisation, price_id=price_id)
    return _delete_page(
        request,
        row,
        name=row.label_de,
        delete=lambda: knowledge.price_delete(row=row, actor=_actor(request)),
        back="assistant_prices",
        done=_("The price has been deleted."),
    )


# --- personal topics -----------------------------------------------------------------------


@staff_view(Role.VIEWER)
def topic_list(request: StaffRequest) -> HttpResponse:
    return render(
        request,
        "assistant/staff/topics.html",
        {
            "topics": PersonalTopic.objects.filter(organisation=request.organisation),
            "can_edit": _can_edit(request),
        },
    )


def _topic_page(request: StaffRequest, row: PersonalTopic | None) -> HttpResponse:
    initial = (
        {"name_de": row.name_de, "name_en": row.name_en, "phrases": row.phrases} if row else {}
    )
    organisation, actor = request.organisation, _actor(request)

    def save(data: dict[str, Any]) -> object:
        if row is None:
            return knowledge.topic_create(organisation=organisation, data=data, actor=actor)
        return knowledge.topic_update(row=row, data=data, actor=actor)

    return _save_page(
        request,
        row,
        PersonalTopicForm(request.POST or None, initial=initial),
        save=save,
        saved=_("The personal topic has been saved."),
        back="assistant_topics",
        template="assistant/staff/topic_form.html",
    )


@staff_view(Role.EDITOR)
def topic_new(request: StaffRequest) -> HttpResponse:
    return _topic_page(request, None)


@staff_view(Role.EDITOR)
def topic_edit(request: StaffRequest, topic_id: int) -> HttpResponse:
    return _topic_page(
        request, knowledge.topic_get(organisation=request.organisation, topic_id=topic_id)
    )


@staff_view(Role.EDITOR)
def topic_delete(request: StaffRequest, topic_id: int) -> HttpResponse:
    row = knowledge.topic_get(organisation=request.organisation, topic_id=topic_id)
    return _delete_page(
        request,
        row,
        name=row.name_de,
        delete=lambda: knowledge.topic_delete(row=row, actor=_actor(request)),
        back="assistant_topics",
        done=_("The personal topic has been deleted."),
    )


# --- settings ------------------------------------------------------------------------------


@staff_view(Role.VIEWER)
def settings_page(request: StaffRequest) -> HttpResponse:
    organisation = request.organisation
    settings = knowledge.settings_of(organisation)
    editor = _can_edit(request)
    manager = role_at_least(request.membership.role, Role.MANAGER)
    if request.method == "POST" and not editor:
        raise PermissionDenied("Your role does not allow this.")
    initial = {
        name: getattr(settings, name)
        for name in (
            "enabled",
            "greeting_de",
            "greeting_en",
            "reply_time_de",
            "reply_time_en",
            "synonyms",
        )
    }
    form = SettingsForm(
        request.POST if request.method == "POST" else None, initial=initial, manager=manager
    )
    if request.method == "POST" and form.is_valid():
        data = {
            name: value
            for name, value in form.cleaned_data.items()
            if manager or name not in SettingsForm.MANAGER_FIELDS
        }
        try:
            knowledge.settings_update(organisation=organisation, data=data, actor=_actor(request))
        except DomainError as exc:
            _add_errors(form, exc)
        else:
            messages.success(request, _("The settings have been saved."))
            return redirect("assistant_settings", org=organisation.slug)
    return render(
        request,
        "assistant/staff/settings.html",
        {"form": form, "settings": settings, "can_edit": editor},
    )
