from bihuan import __version__


def platform(request):
    user = getattr(request, "user", None)
    perms = set()
    if user is not None and user.is_authenticated and hasattr(user, "_active_bindings"):
        perms = {p for b in user._active_bindings() for p in b.role.permissions}
    return {"bihuan_version": __version__, "user_perms": perms}
