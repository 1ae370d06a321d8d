from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse


class RequestSizeLimitMiddleware:
    """Reject oversized API bodies with a JSON 413 before anything reads them.

    It also turns the plain-text 405 that django-ninja answers for a wrong method into the
    API's JSON error, so that every API error has the same shape.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith("/api/"):
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0
            if length > settings.MAX_UPLOAD_BYTES:
                return JsonResponse(
                    {
                        "error": {
                            "code": "payload_too_large",
                            "message": (
                                f"The request body has {length} bytes; the limit is "
                                f"{settings.MAX_UPLOAD_BYTES} bytes."
                            ),
                            "fields": {},
                        }
                    },
                    status=413,
                )
            response = self.get_response(request)
            if response.status_code == 405 and not response.get("Content-Type", "").startswith(
                "application/json"
            ):
                allowed = response.get("Allow", "")
                json_response = JsonResponse(
                    {
                        "error": {
                            "code": "method_not_allowed",
                            "message": (
                                f"{request.method} is not allowed here; use one of: {allowed}."
                            ),
                            "fields": {},
                        }
                    },
                    status=405,
                )
                json_response["Allow"] = allowed
                return json_response
            return response
        return self.get_response(request)
