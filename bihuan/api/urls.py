"""``/api/v1``: one NinjaAPI, each app's router mounted here."""

from __future__ import annotations

from django.http import Http404
from django.utils.translation import gettext as _
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError

from bihuan import __version__
from bihuan.core.errors import ServiceError

from .auth import AUTH
from .docs import VendoredSwagger
from .problems import default_title, problem

api = NinjaAPI(
    title="Bihuan 闭环 API",
    version=__version__,
    urls_namespace="api",
    auth=AUTH,
    docs_url="/docs",
    docs=VendoredSwagger(),  # vendored assets: the CSP allows no CDN (api/docs.py)
    openapi_url="/openapi.json",
)


@api.exception_handler(ServiceError)
def _service_error(request, exc: ServiceError):
    return problem(request, exc.status, exc.message, errors=exc.field_errors, code=exc.code)


@api.exception_handler(Http404)
def _not_found(request, exc):
    return problem(request, 404, default_title(404), _("The object does not exist or is outside your scope."),
                   code="not_found")


@api.exception_handler(AuthenticationError)
def _unauthenticated(request, exc):
    resp = problem(request, 401, default_title(401), _("Send a valid token as 'Authorization: Bearer …'."),
                   code="unauthenticated")
    resp["WWW-Authenticate"] = "Bearer"
    return resp


@api.exception_handler(ValidationError)
def _invalid(request, exc: ValidationError):
    errors = {}
    for err in exc.errors:
        loc = [str(x) for x in err.get("loc", []) if x not in ("body", "query", "path", "payload")]
        errors[".".join(loc) or "request"] = err.get("msg", "")
    return problem(request, 422, default_title(422), _("Some fields are invalid."), errors=errors, code="invalid")


@api.exception_handler(HttpError)
def _http_error(request, exc: HttpError):
    return problem(request, exc.status_code, default_title(exc.status_code), str(exc))


from bihuan.accounts.api import router as accounts_router  # noqa: E402
from bihuan.orgs.api import router as orgs_router  # noqa: E402
from bihuan.people.api import households_router, people_router  # noqa: E402

api.add_router("/", accounts_router)
api.add_router("/orgs", orgs_router)
api.add_router("/people", people_router)
api.add_router("/households", households_router)
from bihuan.loop.api import router as loop_router  # noqa: E402

api.add_router("/", loop_router)
from bihuan.plans.api import assignments_router, plans_router  # noqa: E402

api.add_router("/plans", plans_router)
api.add_router("/assignments", assignments_router)
