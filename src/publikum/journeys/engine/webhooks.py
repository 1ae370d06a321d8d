"""Webhook steps: signed JSON to https addresses outside the house's network (SSRF guard)."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import re
import socket
import time as time_module
from typing import Any
from urllib.parse import urlsplit

import requests
import urllib3
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext as _

from publikum.journeys.engine.definition import (
    DELIVERY_HEADER,
    SIGNATURE_HEADER,
    WEBHOOK_TIMEOUT,
    allow_private,
)
from publikum.journeys.models import (
    Journey,
)


def _forbidden_address(address: str) -> bool:
    """Private, loopback, link-local, reserved, multicast: nothing a webhook may reach."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


def _literal_ip(host: str) -> str | None:
    """The address a host name spells out by itself ("10.0.0.1", "::1", "0x7f.1")."""
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    if re.fullmatch(r"[0-9a-fA-FxX.]+", host):
        try:
            return socket.inet_ntoa(socket.inet_aton(host))
        except OSError:
            return None
    return None


def webhook_url_problem(url: Any) -> str:  # noqa: PLR0911
    """What is wrong with a webhook address, judged without the network; "" if nothing."""
    if not isinstance(url, str) or not url.strip():
        return _("a webhook needs the address to call")
    allow = allow_private()
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return _("'%(url)s' is not a valid address") % {"url": url}
    if parts.scheme != "https" and not (allow and parts.scheme == "http"):
        return _("the webhook address must start with https://")
    host = (parts.hostname or "").rstrip(".").lower()
    if not host:
        return _("'%(url)s' is not a valid address") % {"url": url}
    if parts.username or parts.password:
        return _("the webhook address must not contain a user name or password")
    if port == 0:
        return _("'%(url)s' is not a valid address") % {"url": url}
    if allow:
        return ""
    if host == "localhost" or host.endswith((".localhost", ".local", ".internal")):
        return _("the webhook address points to a machine inside the network")
    ip = _literal_ip(host)
    if ip is not None and _forbidden_address(ip):
        return _("the webhook address points to a private or reserved address (%(ip)s)") % {
            "ip": ip
        }
    return ""


class WebhookRefused(Exception):
    """The webhook's address is not allowed (private network): not tried again."""


class WebhookFailed(Exception):
    """The receiver did not answer with 2xx, or could not be reached: tried again later."""


def _check_peer(sock: socket.socket) -> None:
    """Refuse a connection that ended up at a private address, whatever DNS said before
    (a name may resolve differently for the check and for the connection)."""
    if allow_private():
        return
    peer = sock.getpeername()[0]
    if _forbidden_address(peer):
        sock.close()
        raise WebhookRefused(
            _("the webhook address leads to a private address (%(ip)s)") % {"ip": peer}
        )


class _GuardedHTTPConnection(urllib3.connection.HTTPConnection):
    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        _check_peer(sock)
        return sock


class _GuardedHTTPSConnection(urllib3.connection.HTTPSConnection):
    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        _check_peer(sock)
        return sock


class _GuardedHTTPPool(urllib3.HTTPConnectionPool):
    ConnectionCls = _GuardedHTTPConnection


class _GuardedHTTPSPool(urllib3.HTTPSConnectionPool):
    ConnectionCls = _GuardedHTTPSConnection


class _GuardedAdapter(requests.adapters.HTTPAdapter):
    """requests, with every connection checked against private addresses once open."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {  # type: ignore[assignment]
            "http": _GuardedHTTPPool,
            "https": _GuardedHTTPSPool,
        }


def _check_target(url: str) -> None:
    """Check a webhook address before connecting: the static rules, then every address
    the host name resolves to."""
    problem = webhook_url_problem(url)
    if problem:
        raise WebhookRefused(problem)
    if allow_private():
        return
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        infos = socket.getaddrinfo(host, parts.port or 443, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise WebhookFailed(_("the host %(host)s was not found") % {"host": host}) from exc
    for info in infos:
        address = str(info[4][0])
        if _forbidden_address(address):
            raise WebhookRefused(
                _("the webhook address %(host)s resolves to a private address (%(ip)s)")
                % {"host": host, "ip": address}
            )


def webhook_secret(journey: Journey, step: dict[str, Any]) -> str:
    """The key a webhook step signs with: its own "secret", else one derived for the
    journey from SECRET_KEY (the editor shows it to whoever sets up the receiver)."""
    secret = step.get("secret")
    if isinstance(secret, str) and secret:
        return secret
    return salted_hmac("publikum.journeys.webhook", str(journey.pk)).hexdigest()


def webhook_signature(secret: str, timestamp: int, body: bytes) -> str:
    """`t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>">`, as Stripe signs its webhooks:
    the time in the signed text lets a receiver refuse replays of old calls."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def webhook_post(*, url: str, secret: str, payload: dict[str, Any], delivery: str) -> int:
    """POST `payload` as signed JSON; the status code on 2xx, else WebhookFailed/Refused.

    https only (unless JOURNEYS_WEBHOOK_ALLOW_PRIVATE), no private addresses before or
    after resolving, no redirects, no proxies from the environment, a short timeout.
    """
    _check_target(url)
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), default=str).encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Publikum-Webhook/1",
        SIGNATURE_HEADER: webhook_signature(secret, int(time_module.time()), body),
        DELIVERY_HEADER: delivery,
    }
    with requests.Session() as session:
        session.trust_env = False  # no HTTP_PROXY: a proxy would connect where we cannot see
        adapter = _GuardedAdapter(max_retries=0)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        try:
            response = session.post(
                url,
                data=body,
                headers=headers,
                timeout=WEBHOOK_TIMEOUT,
                allow_redirects=False,
                stream=True,  # the answer's body is not read
            )
        except requests.RequestException as exc:
            raise WebhookFailed(
                _("the webhook could not be reached: %(error)s") % {"error": exc.__class__.__name__}
            ) from exc
        response.close()
    if not 200 <= response.status_code < 300:
        raise WebhookFailed(
            _("the webhook answered with HTTP %(status)d") % {"status": response.status_code}
        )
    return response.status_code
