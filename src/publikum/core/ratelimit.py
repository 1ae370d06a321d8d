"""A fixed-window rate limit on the cache (local memory, or Redis when REDIS_URL is set).

Public endpoints and login are limited per client address. Behind a proxy the address is
taken from X-Forwarded-For only when PUBLIKUM_TRUSTED_PROXY_COUNT says how many proxies
to trust, so a client cannot choose its own address.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rate(rate: str) -> tuple[int, int]:
    count, _, unit = rate.partition("/")
    return int(count), _UNITS[unit]


def client_ip(request: HttpRequest) -> str:
    trusted = int(getattr(settings, "TRUSTED_PROXY_COUNT", 0))
    if trusted:
        forwarded = [p.strip() for p in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        forwarded = [p for p in forwarded if p]
        if len(forwarded) >= trusted:
            return forwarded[-trusted]
    return str(request.META.get("REMOTE_ADDR", "unknown"))


def hit(scope: str, key: str, rate: str) -> bool:
    """Count one request; True when it is within the limit."""
    count, period = parse_rate(rate)
    window = int(time.time() // period)
    cache_key = f"rl:{scope}:{key}:{window}"
    if cache.add(cache_key, 1, timeout=period + 1):
        return True
    try:
        current = cache.incr(cache_key)
    except ValueError:  # expired between add and incr
        cache.add(cache_key, 1, timeout=period + 1)
        return True
    return current <= count


def limit(
    scope: str,
    *,
    rate: str,
    methods: Iterable[str] = ("GET", "POST"),
    key: Callable[[HttpRequest], str] = client_ip,
) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    methods = tuple(methods)

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @functools.wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if (
                settings.RATELIMIT_ENABLE
                and request.method in methods
                and not hit(scope, key(request), rate)
            ):
                return too_many(request)
            return view(request, *args, **kwargs)

        return wrapped

    return decorate


def too_many(request: HttpRequest) -> HttpResponse:
    message = "Too many requests. Please wait a minute and try again."
    if not request.path.startswith("/api/"):
        message = gettext("Too many requests. Please wait a minute and try again.")
    if request.path.startswith("/api/"):
        response: HttpResponse = JsonResponse(
            {"error": {"code": "rate_limited", "message": message, "fields": {}}}, status=429
        )
    else:
        response = render(
            request, "web/error.html", {"status": 429, "message": message}, status=429
        )
    response["Retry-After"] = "60"
    return response
