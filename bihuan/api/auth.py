"""Bearer tokens for scripts, the session for the browser (with CSRF)."""

from __future__ import annotations

from ninja.security import APIKeyCookie, HttpBearer

from bihuan.accounts.services import user_for_token
from bihuan.core.context import Actor, set_actor


def _become(request, user):
    request.user = user
    # The audit actor follows the token's user for the rest of this request.
    set_actor(Actor(user_id=user.pk, username=user.username, ip=getattr(request, "client_ip", ""),
                    request_id=getattr(request, "request_id", "")))
    return user


class BearerAuth(HttpBearer):
    def authenticate(self, request, token):
        user = user_for_token(token)
        if user is None:
            return None
        return _become(request, user)


class SessionAuth(APIKeyCookie):
    """The logged-in browser session; CSRF is checked on unsafe methods."""

    param_name = "sessionid"

    def __init__(self):
        super().__init__(csrf=True)

    def authenticate(self, request, key):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            return user
        return None


AUTH = [BearerAuth(), SessionAuth()]
