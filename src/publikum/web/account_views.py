"""Login and password reset, rate-limited per client address."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import views as auth_views
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _

from publikum.core.ratelimit import limit


@method_decorator(limit("login", rate="10/m", methods=("POST",)), name="dispatch")
class LoginView(auth_views.LoginView):
    template_name = "web/login.html"
    redirect_authenticated_user = True

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["title"] = _("Log in")
        return context


@method_decorator(limit("password-reset", rate="5/m", methods=("POST",)), name="dispatch")
class PasswordResetView(auth_views.PasswordResetView):
    template_name = "web/password_reset.html"
    email_template_name = "web/email/password_reset.txt"
    subject_template_name = "web/email/password_reset_subject.txt"
