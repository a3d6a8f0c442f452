"""Errors as RFC 9457 ``application/problem+json``, in the language of ``Accept-Language``."""

from __future__ import annotations

from django.http import JsonResponse
from django.utils.translation import gettext as _


def problem(request, status: int, title: str, detail: str = "", *, errors: dict | None = None,
            code: str = "") -> JsonResponse:
    body = {"type": f"https://bihuan.example/problems/{code or status}", "title": str(title), "status": status}
    if detail:
        body["detail"] = str(detail)
    if errors:
        body["errors"] = {k: str(v) for k, v in errors.items()}
    if getattr(request, "request_id", None):
        body["request_id"] = request.request_id
    resp = JsonResponse(body, status=status, content_type="application/problem+json",
                        json_dumps_params={"ensure_ascii": False})
    return resp


def default_title(status: int) -> str:
    return {
        400: _("Bad request"),
        401: _("Authentication required"),
        403: _("Forbidden"),
        404: _("Not found"),
        405: _("Method not allowed"),
        409: _("Conflict"),
        422: _("Invalid input"),
        429: _("Too many requests"),
    }.get(status, _("Error"))
