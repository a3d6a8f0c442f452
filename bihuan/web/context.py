import hashlib

from bihuan import __version__


def platform(request):
    user = getattr(request, "user", None)
    perms = set()
    if user is not None and user.is_authenticated and hasattr(user, "_active_bindings"):
        perms = {p for b in user._active_bindings() for p in b.role.permissions}
    # The menu depends only on the permissions (and the language): base.html caches it per set.
    nav_key = hashlib.blake2s("\n".join(sorted(perms)).encode(), digest_size=8).hexdigest()
    return {"bihuan_version": __version__, "user_perms": perms, "nav_key": nav_key}
