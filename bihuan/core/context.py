"""Who is acting, from where, under which request id.

Set once per request by the middleware (or per CLI command), read by the audit log,
so that services do not have to thread the request through every call.
"""

from __future__ import annotations

import contextvars
import uuid
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass(frozen=True)
class Actor:
    user_id: int | None = None
    username: str = "system"
    ip: str = ""
    request_id: str = ""


_current: contextvars.ContextVar[Actor] = contextvars.ContextVar("bihuan_actor", default=Actor())  # noqa: B039 - Actor is frozen


def current_actor() -> Actor:
    return _current.get()


def new_request_id() -> str:
    return uuid.uuid4().hex[:16]


@contextmanager
def acting_as(user=None, *, ip: str = "", request_id: str | None = None, username: str | None = None):
    """Run a block as ``user`` (a User, or None for the system)."""
    actor = Actor(
        user_id=getattr(user, "pk", None),
        username=username or getattr(user, "username", None) or "system",
        ip=ip,
        request_id=request_id or new_request_id(),
    )
    token = _current.set(actor)
    try:
        yield actor
    finally:
        _current.reset(token)


def set_actor(actor: Actor):
    return _current.set(actor)


def reset_actor(token) -> None:
    _current.reset(token)
