"""Errors raised by services, turned into messages by the web and problem+json by the API."""

from __future__ import annotations


class ServiceError(Exception):
    """A refused request: nothing was changed. ``field_errors`` maps field → message."""

    status = 400

    def __init__(self, message, field_errors: dict | None = None, code: str = "invalid"):
        super().__init__(str(message))
        self.message = message
        self.field_errors = field_errors or {}
        self.code = code


class PermissionDenied(ServiceError):
    status = 403

    def __init__(self, message="", **kw):
        from django.utils.translation import gettext_lazy as _

        super().__init__(message or _("You do not have permission to do this."), code="forbidden", **kw)


class NotFound(ServiceError):
    """Out of scope or absent: the two are deliberately indistinguishable."""

    status = 404

    def __init__(self, message="", **kw):
        from django.utils.translation import gettext_lazy as _

        super().__init__(message or _("Not found."), code="not_found", **kw)


class Conflict(ServiceError):
    status = 409

    def __init__(self, message, **kw):
        super().__init__(message, code="conflict", **kw)


class Unprocessable(ServiceError):
    """Well-formed but unacceptable in this state (e.g. an Idempotency-Key reused with another body)."""

    status = 422
