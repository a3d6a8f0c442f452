"""Login throttling by client address, across usernames.

Rule: a client address with ``BIHUAN_LOGIN_ADDRESS_THRESHOLD`` refused logins (wrong password,
unknown user, locked user, wrong second factor) in the last ``BIHUAN_LOGIN_ADDRESS_MINUTES`` is
refused every login, even a correct one, until its window has fewer. The per-user lock-out
(``User.locked_until``) is the other half and lives in ``backends.py``. Both are counted in the
database so every web worker sees the same numbers; the client address is the one
``core.middleware.client_ip`` gives (``BIHUAN_TRUST_PROXY`` behind a reverse proxy).

The page never says which rule refused a login (``LoginForm``): one message for every case.
"""

from __future__ import annotations

import ipaddress
from datetime import datetime, timedelta

from django.conf import settings

from bihuan.core import jobs

from .models import LoginFailure


def address_key(ip: str) -> str:
    """The throttled unit: an IPv4 address, or the /64 network of an IPv6 one (one subscriber)."""
    try:
        addr = ipaddress.ip_address((ip or "").strip())
    except ValueError:
        return (ip or "")[:64]
    if addr.version == 6:
        if addr.ipv4_mapped is not None:
            return str(addr.ipv4_mapped)
        return str(ipaddress.ip_network(f"{addr}/64", strict=False))
    return str(addr)


def _window_start(now: datetime) -> datetime:
    return now - timedelta(minutes=settings.BIHUAN_LOGIN_ADDRESS_MINUTES)


def address_blocked(ip: str, now: datetime) -> bool:
    """True while the address has reached its failure threshold within the window."""
    threshold = settings.BIHUAN_LOGIN_ADDRESS_THRESHOLD
    if threshold <= 0:
        return False
    recent = LoginFailure.objects.filter(address=address_key(ip), at__gt=_window_start(now))
    # Slicing makes the count stop at the threshold: a flood does not make each check slower.
    return recent.order_by()[:threshold].count() >= threshold


def record_failure(ip: str, username: str, now: datetime) -> None:
    LoginFailure.objects.create(at=now, address=address_key(ip), username=(username or "")[:150])


@jobs.register("accounts.login_failures", every_seconds=24 * 3600)
def forget_old_failures(now: datetime) -> int:
    """Remove failures older than any window that reads them (keeps the table small)."""
    keep = max(settings.BIHUAN_LOGIN_ADDRESS_MINUTES, settings.LOCKOUT_MINUTES, 60)
    deleted, _ = LoginFailure.objects.filter(at__lt=now - timedelta(minutes=keep)).delete()
    return deleted
