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
        413: _("Request too large"),
        422: _("Invalid input"),
        429: _("Too many requests"),
    }.get(status, _("Error"))


# What every operation may answer besides its success (declared once in the OpenAPI document).
ERROR_STATUSES = {
    400: "Malformed request (not JSON, unstorable characters, numbers beyond 64 bits)",
    401: "No or invalid token",
    403: "Visible, but not allowed",
    404: "Absent or outside the caller's scope (indistinguishable on purpose)",
    409: "Stale version or a conflicting request",
    413: "Request body too large",
    422: "Invalid input (types, ranges, lengths); errors per field",
}

PROBLEM_SCHEMA = {
    "title": "Problem",
    "type": "object",
    "description": "RFC 9457 problem details, in the language of Accept-Language",
    "required": ["type", "title", "status"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {"type": "object", "additionalProperties": {"type": "string"}},
        "request_id": {"type": "string"},
    },
}
