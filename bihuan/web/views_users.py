"""User administration. Reads through User.objects.restrict(); writes through accounts.services."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Prefetch
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from bihuan.accounts import services as account_services
from bihuan.accounts.models import Binding, User
from bihuan.core.errors import ServiceError
from bihuan.core.scope import require
from bihuan.core.views import paginate, querystring_without
from bihuan.orgs.models import OrgUnit

from .forms import (
    BindingForm,
    PasswordResetForm,
    UserCreateForm,
    UserFilterForm,
    apply_service_error,
    current_unit_by_code,
)


def _visible_bindings(user):
    """Bindings shown to ``user``: only those at units they can see, so listings reveal no other subtree."""
    return (Binding.objects.filter(unit__in=OrgUnit.objects.restrict(user, "view"))
            .select_related("unit", "role").prefetch_related("custom_units").order_by("unit__path", "role_id"))


@login_required
def user_list(request):
    require(request.user, "accounts.user.view")
    form = UserFilterForm(request.GET or None)
    users = User.objects.restrict(request.user, "view")
    unit_unknown = False
    if form.is_valid():
        d = form.cleaned_data
        if d["username"]:
            users = users.filter(username__icontains=d["username"].strip())
        if d["role"]:
            users = users.filter(bindings__role=d["role"])
        if d["unit"]:
            unit = current_unit_by_code(request.user, d["unit"])
            if unit is None:
                unit_unknown, users = True, users.none()
            else:
                users = users.filter(bindings__unit__path__startswith=unit.path)
    users = users.distinct().order_by("username").prefetch_related(
        Prefetch("bindings", queryset=_visible_bindings(request.user), to_attr="shown_bindings"))
    return render(request, "web/users/list.html", {
        "form": form, "page": paginate(request, users), "qs": querystring_without(request, "page"),
        "unit_unknown": unit_unknown,
        "can_manage": request.user.has_perm_anywhere(account_services.MANAGE),
    })


@login_required
def user_create(request):
    require(request.user, account_services.MANAGE)
    initial = {}
    if request.GET.get("unit"):
        unit = OrgUnit.objects.restrict(request.user, "view").filter(pk=request.GET["unit"]).first() \
            if request.GET["unit"].isdigit() else None
        if unit:
            initial["unit_code"] = unit.code
    form = UserCreateForm(request.POST or None, actor=request.user, initial=initial)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            new = account_services.create_user(
                request.user, username=d["username"], password=d["password"], display_name=d["display_name"],
                unit=d["unit"], role=d["role"], scope=d["scope"] or None, must_change_password=True)
        except ServiceError as exc:
            _show_refusal(form, exc)
        else:
            messages.success(request, _("User %(username)s created. They must change the password at first login.")
                             % {"username": new.username})
            return redirect("web:user_detail", pk=new.pk)
    return render(request, "web/users/create.html", {"form": form})


def _show_refusal(form, exc: ServiceError) -> None:
    from bihuan.core.errors import NotFound

    if isinstance(exc, NotFound):
        # The unit exists for the actor's view but lies outside what they may manage.
        form.add_error("unit_code", _("You cannot manage users at this unit."))
        return
    apply_service_error(form, exc, {"unit": "unit_code", "custom_units": "custom_codes"})


def _detail_context(request, target: User) -> dict:
    shown = list(_visible_bindings(request.user).filter(user=target))
    return {
        "target": target,
        "bindings": shown,
        "hidden_bindings": target.bindings.count() - len(shown),
        "can_manage": User.objects.restrict(request.user, "manage").filter(pk=target.pk).exists(),
        "is_self": target.pk == request.user.pk,
    }


@login_required
def user_detail(request, pk: int, *, bind_form=None, password_form=None, status=200):
    require(request.user, "accounts.user.view")
    target = User.objects.get_scoped_or_404(request.user, "view", pk=pk)
    ctx = _detail_context(request, target)
    if ctx["can_manage"]:
        ctx["bind_form"] = bind_form or BindingForm(actor=request.user)
        ctx["password_form"] = password_form or PasswordResetForm()
    return render(request, "web/users/detail.html", ctx, status=status)


def _managed_user(request, pk: int) -> User:
    """Target of a write: 403 without the permission at all, 404 when outside the manage scope."""
    require(request.user, account_services.MANAGE)
    return User.objects.get_scoped_or_404(request.user, "manage", pk=pk)


@login_required
@require_POST
def user_bind(request, pk: int):
    target = _managed_user(request, pk)
    form = BindingForm(request.POST, actor=request.user)
    if form.is_valid():
        d = form.cleaned_data
        try:
            account_services.bind(request.user, target, d["unit"], d["role"], scope=d["scope"] or None,
                                  custom_units=d.get("custom_units") or None)
        except ServiceError as exc:
            _show_refusal(form, exc)
        else:
            messages.success(request, _("Binding added."))
            return redirect("web:user_detail", pk=target.pk)
    return user_detail(request, pk, bind_form=form, status=400)


@login_required
@require_POST
def user_unbind(request, pk: int, binding_id: int):
    target = _managed_user(request, pk)
    binding = get_object_or_404(_visible_bindings(request.user), pk=binding_id, user=target)
    try:
        account_services.unbind(request.user, binding)
    except ServiceError as exc:
        messages.error(request, str(exc.message))
    else:
        messages.success(request, _("Binding removed."))
    return redirect("web:user_detail", pk=target.pk)


@login_required
@require_POST
def user_set_active(request, pk: int):
    target = _managed_user(request, pk)
    active = request.POST.get("active") == "1"
    try:
        account_services.set_active(request.user, target, active)
    except ServiceError as exc:
        messages.error(request, str(exc.message))
    else:
        messages.success(request, _("User activated.") if active else _("User deactivated."))
    return redirect("web:user_detail", pk=target.pk)


@login_required
@require_POST
def user_password(request, pk: int):
    target = _managed_user(request, pk)
    form = PasswordResetForm(request.POST)
    if form.is_valid():
        try:
            account_services.set_password(request.user, target, form.cleaned_data["password"], must_change=True)
        except ServiceError as exc:
            apply_service_error(form, exc)
        else:
            messages.success(request, _("Password reset. The user must change it at the next login."))
            return redirect("web:user_detail", pk=target.pk)
    return user_detail(request, pk, password_form=form, status=400)
