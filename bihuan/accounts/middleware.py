from django.shortcuts import redirect
from django.urls import reverse


class PasswordChangeRequiredMiddleware:
    """Users created with a temporary password must set their own before anything else."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and getattr(user, "must_change_password", False):
            allowed = {reverse("web:password_change"), reverse("web:logout")}
            if request.path not in allowed and not request.path.startswith(("/static/", "/api/", "/i18n/")):
                return redirect("web:password_change")
        return self.get_response(request)
