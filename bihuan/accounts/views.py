"""User administration pages. Reads through ``accounts.selectors`` (and so ``restrict()``); writes
through ``accounts.services``; login, permission, pagination and refusals through ``core.views``."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from bihuan.core.errors import ServiceError
from bihuan.core.scope import require
from bihuan.core.views import paginate, querystring_without, requires, submit
from bihuan.orgs import selectors as org_selectors
from bihuan.orgs.models import OrgUnit

from . import otp, selectors
from . import services as account_services
from .forms import BindingForm, OTPResetForm, PasswordResetForm, UserCreateForm, UserFilterForm
from .models import User

# Service field names → the form fields the units were typed into.
UNIT_FIELDS = {"unit": "unit_code", "custom_units": "custom_codes"}


@requires("accounts.user.view")
def user_list(request):
    form = UserFilterForm(request.GET or None)
    unit_unknown, filters = False, {}
    if form.is_valid():
        d = form.cleaned_data
        filters = {"username": d["username"], "role": d["role"]}
        if d["unit"]:
            filters["unit"] = org_selectors.current_unit_by_code(request.user, d["unit"])
            unit_unknown = filters["unit"] is None
    users = User.objects.none() if unit_unknown else selectors.users(request.user, **filters)
    return render(request, "accounts/list.html", {
        "form": form, "page": paginate(request, users), "qs": querystring_without(request, "page"),
        "unit_unknown": unit_unknown,
        "can_manage": request.user.has_perm_anywhere(account_services.MANAGE),
    })


@requires(account_services.MANAGE)
def user_create(request):
    initial = {}
    if request.GET.get("unit", "").isdigit():
        unit = OrgUnit.objects.restrict(request.user, "view").filter(pk=request.GET["unit"]).first()
        if unit:
            initial["unit_code"] = unit.code
    form = UserCreateForm(request.POST or None, actor=request.user, initial=initial)
    new = submit(request, form, lambda d: account_services.create_user(
        request.user, username=d["username"], password=d["password"], display_name=d["display_name"],
        unit=d["unit"], role=d["role"], scope=d["scope"] or None, must_change_password=True), rename=UNIT_FIELDS)
    if new is not None:
        messages.success(request, _("User %(username)s created. They must change the password at first login.")
                         % {"username": new.username})
        return redirect("web:user_detail", pk=new.pk)
    return render(request, "accounts/create.html", {"form": form})


@requires("accounts.user.view")
def user_detail(request, pk: int, *, bind_form=None, password_form=None, status=200):
    target = User.objects.get_scoped_or_404(request.user, "view", pk=pk)
    ctx = selectors.detail(request.user, target)
    if ctx["can_grant"]:
        ctx["bind_form"] = bind_form or BindingForm(actor=request.user)
    if ctx["can_manage"]:
        ctx["password_form"] = password_form or PasswordResetForm()
    return render(request, "accounts/detail.html", ctx, status=status)


def _managed_user(request, pk: int) -> User:
    """Target of a write (``@requires`` gave 403 without the permission); 404 outside the manage scope."""
    return User.objects.get_scoped_or_404(request.user, "manage", pk=pk)


def _grantee(request, pk: int) -> User:
    """Target of a bind or unbind: a security administrator may grant to any user it sees; the
    service checks the unit (``accounts.services.grants_as_security_admin``)."""
    if request.user.has_perm_anywhere(account_services.ROLE_MANAGE):
        return User.objects.get_scoped_or_404(request.user, "view", pk=pk)
    return _managed_user(request, pk)


@requires(account_services.MANAGE, account_services.ROLE_MANAGE)
@require_POST
def user_bind(request, pk: int):
    target = _grantee(request, pk)
    form = BindingForm(request.POST, actor=request.user)
    if submit(request, form, lambda d: account_services.bind(
            request.user, target, d["unit"], d["role"], scope=d["scope"] or None,
            custom_units=d.get("custom_units") or None), rename=UNIT_FIELDS):
        messages.success(request, _("Binding added."))
        return redirect("web:user_detail", pk=target.pk)
    return user_detail(request, pk, bind_form=form, status=400)


@requires(account_services.MANAGE, account_services.ROLE_MANAGE)
@require_POST
def user_unbind(request, pk: int, binding_id: int):
    target = _grantee(request, pk)
    binding = get_object_or_404(selectors.visible_bindings(request.user), pk=binding_id, user=target)
    try:
        account_services.unbind(request.user, binding)
    except ServiceError as exc:  # shown on the user page, whatever page the POST came from
        messages.error(request, str(exc.message))
    else:
        messages.success(request, _("Binding removed."))
    return redirect("web:user_detail", pk=target.pk)


@requires(account_services.MANAGE)
@require_POST
def user_set_active(request, pk: int):
    target = _managed_user(request, pk)
    active = request.POST.get("active") == "1"
    try:
        account_services.set_active(request.user, target, active)
    except ServiceError as exc:  # e.g. deactivating oneself: shown on the user page
        messages.error(request, str(exc.message))
    else:
        messages.success(request, _("User activated.") if active else _("User deactivated."))
    return redirect("web:user_detail", pk=target.pk)


@requires(account_services.MANAGE)
@require_POST
def user_password(request, pk: int):
    target = _managed_user(request, pk)
    form = PasswordResetForm(request.POST)
    if submit(request, form, lambda d: account_services.set_password(
            request.user, target, d["password"], must_change=True)):
        messages.success(request, _("Password reset. The user must change it at the next login."))
        return redirect("web:user_detail", pk=target.pk)
    return user_detail(request, pk, password_form=form, status=400)


@requires("accounts.user.manage")
def user_otp_reset(request, pk: int):
    """An administrator removes a user's second factor (lost phone); a reason is required and audited."""
    target = get_object_or_404(User, pk=pk)
    require(request.user, "accounts.user.manage", target)  # out of scope: 404 like a missing id
    form = OTPResetForm(request.POST or None)
    if submit(request, form, lambda d: otp.reset(request.user, target, reason=d["reason"])) is not None:
        messages.success(request, _("Two-factor login was reset. The user sets it up again at the next login."))
        return redirect("web:user_detail", pk=target.pk)
    return render(request, "accounts/otp_reset.html", {"form": form, "target": target,
                                                  "enrolled": otp.is_enrolled(target)}, status=form.status)
