from django.conf import settings
from django.urls import include, path, re_path
from django.views.static import serve as serve_file

from publikum.api import api
from publikum.web import views as web_views

urlpatterns = [
    path("api/v1/", api.urls),
    re_path(r"^api/", web_views.api_not_found),
    path("i18n/", include("django.conf.urls.i18n")),
    # Uploaded images; a proxy in front serves MEDIA_ROOT itself (docs/operations.md).
    re_path(r"^media/(?P<path>.+)$", serve_file, {"document_root": settings.MEDIA_ROOT}),
    path("healthz", web_views.healthz, name="healthz"),
    path("accounts/", include("publikum.web.account_urls")),
    path("", web_views.home, name="home"),
    path("o/<slug:org>/", include("publikum.core.urls")),
    path("o/<slug:org>/discovery/", include("publikum.discovery.urls")),
    path("o/<slug:org>/assistant/", include("publikum.assistant.urls")),
    # Bounce and complaint webhooks of e-mail services (basic auth; docs/delivery.md).
    path("anymail/", include("anymail.urls")),
    # Public pages of an organisation: keep last, `<slug:org>` matches any first segment.
    path("<slug:org>/", include("publikum.web.public_urls")),
]

handler400 = "publikum.web.views.bad_request"
handler403 = "publikum.web.views.forbidden"
handler404 = "publikum.web.views.not_found"
handler500 = "publikum.web.views.server_error"
