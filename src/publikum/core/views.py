"""Staff pages of the core: outbox, team, API tokens, audit log, background work."""

from __future__ import annotations

import email
from email import policy
from typing import Any

from django.contrib import messages
from django.contrib.auth.forms import PasswordResetForm
from django.core.mail import EmailMultiAlternatives
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template import loader
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from publikum.core import selectors, services
from publikum.core.errors import DomainError
from publikum.core.forms import MemberAddForm, MemberRoleForm, TokenCreateForm
from publikum.core.mailsink import ORG_HEADER
from publikum.core.models import (
    ApiToken,
    FailedJob,
    Membership,
    Organisation,
    Role,
    User,
    role_at_least,
)
from publikum.core.tenancy import StaffRequest, staff_view


def _org(request: StaffRequest) -> Organisation:
    return request.organisation


@staff_view(Role.VIEWER)
def outbox_list(request: StaffRequest) -> HttpResponse:
    page = Paginator(selectors.outbox_list(organisation=_org(request)), 50).get_page(
        request.GET.get("page")
    )
    return render(request, "core/outbox_list.html", {"page": page})


def _mail_parts(raw: str) -> tuple[str, str]:
    # From bytes: parsed from a str, an 8bit UTF-8 part comes out with "�" for "ü".
    message = email.message_from_bytes(raw.encode("utf-8"), policy=policy.default)
    text_part = message.get_body(preferencelist=("plain",))
    html_part = message.get_body(preferencelist=("html",))
    text = text_part.get_content() if text_part is not None else ""
    html = html_part.get_content() if html_part is not None else ""
    return text, html


@staff_view(Role.VIEWER)
def outbox_detail(request: StaffRequest, mail_id: int) -> HttpResponse:
    mail = get_object_or_404(selectors.outbox_list(organisation=_org(request)), pk=mail_id)
    text, html = _mail_parts(mail.raw)
    return render(
        request,
        "core/outbox_detail.html",
        {"mail": mail, "text": text, "has_html": bool(html), "html": html},
    )


@staff_view(Role.VIEWER)
def members(request: StaffRequest) -> HttpResponse:
    organisation = _org(request)
    can_manage = role_at_least(request.membership.role, Role.MANAGER)
    form = MemberAddForm(request.POST or None)
    if request.method == "POST":
        if not can_manage:
            return render(
                request,
                "web/error.html",
                {"status": 403, "message": _("Your role does not allow this.")},
                status=403,
            )
        if form.is_valid():
            try:
                _member_add(request, form.cleaned_data)
            except DomainError as exc:
                form.add_error(None, exc.message)
            else:
                messages.success(request, _("%(email)s has been added.") % form.cleaned_data)
                return redirect("members", org=organisation.slug)
    return render(
        request,
        "core/members.html",
        {
            "members": selectors.member_list(organisation=organisation),
            "form": form,
            "can_manage": can_manage,
        },
    )


def _member_add(request: StaffRequest, data: dict[str, Any]) -> None:
    organisation = _org(request)
    if data["role"] == Role.OWNER and request.membership.role != Role.OWNER:
        raise DomainError(_("Only an owner can add another owner."))
    user = User.objects.filter(email=data["email"].lower()).first()
    new_user = user is None
    if user is None:
        user = services.user_create(email=data["email"], password=None, name=data["name"])
    elif (
        Membership.objects.filter(organisation=organisation, user=user, role=Role.OWNER).exists()
        and request.membership.role != Role.OWNER
    ):
        # Adding an existing owner again would otherwise change the owner's role.
        raise DomainError(_("Only an owner can give or take the owner role."))
    services.membership_set(
        organisation=organisation, user=user, role=data["role"], actor=request.user
    )
    if new_user:
        # The new member sets a password through the reset link: no password travels by mail.
        reset = WelcomeMemberForm({"email": user.email}, organisation=organisation)
        if reset.is_valid():
            reset.save(
                request=request,
                use_https=request.is_secure(),
                email_template_name="web/email/welcome_member.txt",
                subject_template_name="web/email/welcome_member_subject.txt",
                extra_email_context={"organisation": organisation},  # type: ignore[dict-item]
            )


class WelcomeMemberForm(PasswordResetForm):
    """The reset mail as a welcome, marked with the organisation so the Outbox shows it."""

    def __init__(self, *args: Any, organisation: Organisation, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.organisation = organisation

    def send_mail(  # noqa: PLR0917
        self,
        subject_template_name: str,
        email_template_name: str,
        context: dict[str, Any],
        from_email: str | None,
        to_email: str,
        html_email_template_name: str | None = None,
    ) -> None:
        subject = "".join(loader.render_to_string(subject_template_name, context).splitlines())
        body = loader.render_to_string(email_template_name, context)
        message = EmailMultiAlternatives(
            subject,
            body,
            from_email,
            [to_email],
            headers={ORG_HEADER: self.organisation.slug},
        )
        message.send()


@staff_view(Role.MANAGER)
def member_edit(request: StaffRequest, membership_id: int) -> HttpResponse:
    organisation = _org(request)
    membership = get_object_or_404(
        Membership.objects.select_related("user"), organisation=organisation, pk=membership_id
    )
    form = MemberRoleForm(request.POST or None, initial={"role": membership.role})
    if request.method == "POST":
        try:
            if request.POST.get("action") == "remove":
                if membership.role == Role.OWNER and request.membership.role != Role.OWNER:
                    raise DomainError(_("Only an owner can give or take the owner role."))
                services.membership_remove(membership=membership, actor=request.user)
                messages.success(request, _("The member has been removed."))
                return redirect("members", org=organisation.slug)
            if form.is_valid():
                role = form.cleaned_data["role"]
                if Role.OWNER in (role, membership.role) and request.membership.role != Role.OWNER:
                    raise DomainError(_("Only an owner can give or take the owner role."))
                services.membership_set(
                    organisation=organisation, user=membership.user, role=role, actor=request.user
                )
                messages.success(request, _("The role has been changed."))
                return redirect("members", org=organisation.slug)
        except DomainError as exc:
            form.add_error(None, exc.message)
    return render(request, "core/member_edit.html", {"member": membership, "form": form})


@staff_view(Role.MANAGER)
def tokens(request: StaffRequest) -> HttpResponse:
    organisation = _org(request)
    form = TokenCreateForm(request.POST or None)
    new_token = None
    if request.method == "POST" and form.is_valid():
        role = form.cleaned_data["role"]
        if role == Role.OWNER and request.membership.role != Role.OWNER:
            form.add_error("role", _("Only an owner can create an owner token."))
        else:
            _token, new_token = services.token_create(
                organisation=organisation,
                name=form.cleaned_data["name"],
                role=role,
                actor=request.user,
            )
            form = TokenCreateForm()
    return render(
        request,
        "core/tokens.html",
        {
            "tokens": selectors.token_list(organisation=organisation),
            "form": form,
            "new_token": new_token,
        },
    )


@staff_view(Role.MANAGER)
@require_POST
def token_revoke(request: StaffRequest, token_id: int) -> HttpResponse:
    organisation = _org(request)
    token = get_object_or_404(ApiToken, organisation=organisation, pk=token_id)
    services.token_revoke(token=token, actor=request.user)
    messages.success(request, _("The token has been revoked."))
    return redirect("tokens", org=organisation.slug)


@staff_view(Role.OWNER)
def audit(request: StaffRequest) -> HttpResponse:
    entries = selectors.audit_list(organisation=_org(request))
    action = request.GET.get("action", "").strip()
    if action:
        entries = entries.filter(action__startswith=action)
    page = Paginator(entries, 50).get_page(request.GET.get("page"))
    return render(request, "core/audit.html", {"page": page, "action": action})


@staff_view(Role.MANAGER)
def jobs(request: StaffRequest) -> HttpResponse:
    failed = selectors.failed_job_list(organisation=_org(request))[:200]
    return render(request, "core/jobs.html", {"failed": failed})


@staff_view(Role.MANAGER)
@require_POST
def job_resolve(request: StaffRequest, job_id: int) -> HttpResponse:
    organisation = _org(request)
    failed = get_object_or_404(
        FailedJob, organisation=organisation, pk=job_id, resolved_at__isnull=True
    )
    failed.resolved_at = timezone.now()
    failed.save(update_fields=["resolved_at"])
    services.audit_log(
        organisation,
        "core.job.resolved",
        actor=request.user,
        obj=failed,
        data={"task": failed.task_path},
    )
    return redirect("jobs", org=organisation.slug)
