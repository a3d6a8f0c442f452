from __future__ import annotations

import re

from django.utils.cache import patch_vary_headers

from .context import Actor, new_request_id, reset_actor, set_actor

_RID = re.compile(r"^[A-Za-z0-9-]{8,32}$")

# Everything is served from our own origin; no inline script anywhere.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'self'; form-action 'self'; object-src 'none'"
)


def client_ip(request) -> str:
    # Behind a reverse proxy set BIHUAN_TRUST_PROXY=1 and let it set X-Forwarded-For.
    from django.conf import settings

    if getattr(settings, "BIHUAN_TRUST_PROXY", False):
        fwd = request.META.get("HTTP_X_FORWARDED_FOR", "")
        if fwd:
            return fwd.split(",")[0].strip()
    return request.META.get("REMOTE_ADDR", "")


class RequestContextMiddleware:
    """Gives each request an id and makes (user, ip, request id) the audit actor."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        rid = request.META.get("HTTP_X_REQUEST_ID", "")
        request.request_id = rid if _RID.match(rid) else new_request_id()
        request.client_ip = client_ip(request)
        user = getattr(request, "user", None)
        authed = bool(user and user.is_authenticated)
        token = set_actor(Actor(
            user_id=user.pk if authed else None,
            username=user.username if authed else "anonymous",
            ip=request.client_ip,
            request_id=request.request_id,
        ))
        try:
            response = self.get_response(request)
        finally:
            reset_actor(token)
        response["X-Request-ID"] = request.request_id
        return response


def _csp() -> str:
    """CSP, with the city's own map tile server (``BIHUAN_TILE_URL``) added to ``img-src`` when set."""
    from urllib.parse import urlsplit

    from django.conf import settings

    parts = urlsplit(getattr(settings, "BIHUAN_TILE_URL", "") or "")
    if parts.scheme in ("http", "https") and parts.netloc:
        return CSP.replace("img-src 'self' data:;", f"img-src 'self' data: {parts.scheme}://{parts.netloc};")
    return CSP


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.setdefault("Content-Security-Policy", _csp())
        response.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=(self)")
        return response


class LocaleMiddleware:
    """Chinese first: pages are zh-Hans unless the user switched language (cookie).

    The browser's Accept-Language is deliberately ignored for pages — a township office PC set
    to English must still show Chinese — but honoured by the API, whose clients ask for it.
    """

    API_PREFIXES = ("/api/", "/open311/")

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        from django.conf import settings
        from django.utils import translation

        if request.path.startswith(self.API_PREFIXES):
            lang = translation.get_language_from_request(request)
        else:
            cookie = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
            supported = dict(settings.LANGUAGES)
            lang = cookie if cookie in supported else settings.LANGUAGE_CODE
        translation.activate(lang)
        request.LANGUAGE_CODE = translation.get_language()
        response = self.get_response(request)
        response.headers.setdefault("Content-Language", request.LANGUAGE_CODE)
        is_api = request.path.startswith(self.API_PREFIXES)
        patch_vary_headers(response, ("Accept-Language",) if is_api else ("Cookie",))
        return response
