from __future__ import annotations

import hashlib
import secrets
from time import monotonic

from django.conf import settings
from django.contrib.auth.models import AbstractUser, UserManager
from django.db import connection, models, transaction
from django.db.models import prefetch_related_objects
from django.utils.translation import gettext_lazy as _

from bihuan.core.scope import Scope, ScopedQuerySet, minimal_prefixes, units_q
from bihuan.orgs.models import OrgUnit


class ScopeMode(models.TextChoices):
    ALL = "all", _("all units")
    SUBTREE = "subtree", _("unit and below")
    UNIT = "unit", _("unit only")
    SELF = "self", _("own records only")
    CUSTOM = "custom", _("custom set of units")


class Role(models.Model):
    """A named set of permissions, with the scope mode a new binding starts with."""

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=60)
    permissions = models.JSONField(_("permissions"), default=list)
    default_scope = models.CharField(_("default scope"), max_length=10, choices=ScopeMode.choices,
                                     default=ScopeMode.SUBTREE)

    class Meta:
        ordering = ["id"]
        verbose_name = _("role")
        verbose_name_plural = _("roles")

    def __str__(self) -> str:
        return self.name


def new_bindings_stamp() -> str:
    return secrets.token_hex(8)


# --- a user's bindings, shared by the process (issue 18) -----------------------------------------
#
# Every request asked for the user's bindings (with their units and roles): one query each. A process
# keeps them per user, under the user's ``bindings_stamp``, a random value written to the user's row
# in the same transaction as every change to what the bindings grant (a binding granted, changed or
# withdrawn, its custom units, its role's permissions, a subtree moved: ``restamp_bindings``). The
# user row is read on every request anyway (the session or the token), so another process sees the
# new stamp on its next request and reads the bindings again. A copy is also dropped after
# ``settings.BIHUAN_SCOPE_CACHE_SECONDS`` (default 60; 0 turns the sharing off) in case a change ever
# bypasses the stamp (a raw SQL edit). Bindings read inside a transaction that changed them are not
# shared (the transaction may still roll back).

_BINDINGS: dict[int, tuple[str, float, list]] = {}


def _scope_cache_seconds() -> float:
    return float(getattr(settings, "BIHUAN_SCOPE_CACHE_SECONDS", 60.0))


def _changed_here() -> set[int]:
    """Users whose bindings the current transaction of this connection (thread) changed."""
    changed = getattr(connection, "_bihuan_bindings_changed", None)
    if changed is None:
        changed = connection._bihuan_bindings_changed = set()
    return changed


def forget_shared_bindings(user_ids=None) -> None:
    """Drop the process's copies (of ``user_ids``, or all)."""
    if user_ids is None:
        _BINDINGS.clear()
        return
    for pk in user_ids:
        _BINDINGS.pop(pk, None)


def restamp_bindings(user_ids) -> None:
    """What these users' bindings grant changed: new stamps, in the caller's transaction."""
    ids = sorted({pk for pk in user_ids if pk is not None})
    if not ids:
        return
    # One new random stamp for the batch (the copies are kept per user, so users may share a stamp;
    # what matters is that each user's differs from before): a role held by thousands is one UPDATE
    # per 5,000 users, not one per user.
    stamp = new_bindings_stamp()
    for i in range(0, len(ids), 5000):
        User.objects.filter(pk__in=ids[i:i + 5000]).update(bindings_stamp=stamp)
    forget_shared_bindings(ids)
    if connection.in_atomic_block:
        _changed_here().update(ids)
        transaction.on_commit(lambda: forget_shared_bindings(ids))


class BihuanUserQuerySet(ScopedQuerySet):
    pass


class BihuanUserManager(UserManager.from_queryset(BihuanUserQuerySet)):
    pass


class User(AbstractUser):
    display_name = models.CharField(_("display name"), max_length=60, blank=True)
    failed_logins = models.PositiveSmallIntegerField(default=0)
    locked_until = models.DateTimeField(null=True, blank=True)
    must_change_password = models.BooleanField(default=False)
    # Changes with every change to what the user's bindings grant (see ``restamp_bindings``).
    bindings_stamp = models.CharField(max_length=16, default=new_bindings_stamp, editable=False)

    # A user is in scope of an admin through any of their bindings.
    scope_resource = "accounts.user"
    scope_path_field = "bindings__unit__path"
    scope_unit_field = "bindings__unit_id"
    scope_owner_field = "id"
    scope_multi_valued = True

    objects = BihuanUserManager()

    class Meta:
        ordering = ["username"]
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def __str__(self) -> str:
        return self.display_name or self.username

    # --- data scope ------------------------------------------------------------------
    def _active_bindings(self) -> list[Binding]:
        cached = getattr(self, "_bindings_cache", None)
        if cached is None:
            cached = self._shared_bindings()
            self._bindings_cache = cached
        return cached

    def _shared_bindings(self) -> list[Binding]:
        """The bindings from the process's copy when it has this user's current stamp (module
        comment above); else read, and kept unless read in a transaction that changed them."""
        ttl = _scope_cache_seconds()
        hit = _BINDINGS.get(self.pk)
        if hit is not None and hit[0] == self.bindings_stamp and monotonic() - hit[1] < ttl:
            return hit[2]
        read_at = monotonic()
        # Not through self.bindings: a shared binding must not carry this request's user object.
        bindings = list(Binding.objects.filter(user_id=self.pk).select_related("unit", "role"))
        # Custom units only where a binding has them: one query fewer on most requests.
        prefetch_related_objects([b for b in bindings if b.scope == ScopeMode.CUSTOM], "custom_units")
        if not connection.in_atomic_block:
            _changed_here().clear()  # the transactions that changed bindings here have ended
        if ttl > 0 and self.pk is not None and self.pk not in _changed_here():
            _BINDINGS[self.pk] = (self.bindings_stamp, read_at, bindings)
        return bindings

    def has_perm_anywhere(self, perm: str) -> bool:
        return self.is_active and any(perm in b.role.permissions for b in self._active_bindings())

    def get_scope(self, perm: str) -> Scope:
        """Union of every binding whose role grants ``perm``. No binding → empty scope."""
        if not self.is_active:
            return Scope()
        all_, paths, units, self_id = False, set(), set(), None
        for b in self._active_bindings():
            if perm not in b.role.permissions:
                continue
            if b.scope == ScopeMode.ALL:
                all_ = True
            elif b.scope == ScopeMode.SUBTREE:
                paths.add(b.unit.path)
            elif b.scope == ScopeMode.UNIT:
                units.add(b.unit_id)
            elif b.scope == ScopeMode.SELF:
                self_id = self.pk
                units.add(b.unit_id)  # one always sees the unit one is bound to
            elif b.scope == ScopeMode.CUSTOM:
                paths.update(u.path for u in b.custom_units.all())
        return Scope(all=all_, subtree_paths=minimal_prefixes(paths), unit_ids=frozenset(units), user_id=self_id)

    def scope_units(self, perm: str = "orgs.unit.view"):
        """The top units of the user's scope, for /api/v1/me and the home page."""
        # Units in scope whose parent is not: the tops (core.scope says what is in scope).
        in_scope = units_q(self, perm)
        return OrgUnit.objects.filter(in_scope).exclude(parent__in=OrgUnit.objects.filter(in_scope))

    def forget_bindings(self) -> None:
        """Read the bindings again on the next question (this object's and the process's copy)."""
        self.__dict__.pop("_bindings_cache", None)
        forget_shared_bindings([self.pk])


class Binding(models.Model):
    """User × unit × role, with a scope mode. A user's bindings are unioned."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="bindings", verbose_name=_("user"))
    unit = models.ForeignKey(OrgUnit, on_delete=models.PROTECT, related_name="bindings", verbose_name=_("unit"))
    role = models.ForeignKey(Role, on_delete=models.PROTECT, related_name="bindings", verbose_name=_("role"))
    scope = models.CharField(_("scope"), max_length=10, choices=ScopeMode.choices, default=ScopeMode.SUBTREE)
    custom_units = models.ManyToManyField(OrgUnit, blank=True, related_name="+", verbose_name=_("custom units"))
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["unit__path", "role_id"]
        constraints = [models.UniqueConstraint(fields=["user", "unit", "role"], name="binding_unique")]
        verbose_name = _("binding")
        verbose_name_plural = _("bindings")

    def __str__(self) -> str:
        return f"{self.user} @ {self.unit} ({self.role})"

    @property
    def audit_unit(self) -> OrgUnit:
        return self.unit


class ApiToken(models.Model):
    """A bearer token. Only its SHA-256 is stored; the token is shown once."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=60, blank=True)
    prefix = models.CharField(max_length=12, db_index=True)
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user})"

    @staticmethod
    def digest_of(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()


# --- login security (accounts/throttle.py, validators.py) -----------------------------------
class LoginFailure(models.Model):
    """One refused login (password or second factor), kept for the per-address throttle.

    Counted per client address in a sliding window, in the database so that every web worker
    sees the same count. Old rows are removed by the daily ``accounts.login_failures`` job."""

    at = models.DateTimeField()
    address = models.CharField(max_length=64)  # an IPv4 address or an IPv6 /64 (throttle.address_key)
    username = models.CharField(max_length=150, blank=True)

    class Meta:
        indexes = [models.Index(fields=["address", "at"], name="loginfailure_address_at"),
                   models.Index(fields=["at"], name="loginfailure_at")]

    def __str__(self) -> str:
        return f"{self.address} {self.at:%Y-%m-%d %H:%M}"


class PasswordHistory(models.Model):
    """Hashes of a user's passwords, newest last: no reuse of the last N, and the password's age."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="password_history")
    password = models.CharField(max_length=128)  # the hash, as in User.password
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "created_at"], name="passwordhistory_user_at")]

    def __str__(self) -> str:
        return f"{self.user_id} {self.created_at:%Y-%m-%d}"
