"""``/api/v1``: one NinjaAPI, each app's router mounted here, and the one mapping of errors.

Every error is ``application/problem+json`` in the request's language, and the OpenAPI document
declares for every operation the problem answers it can give (``ERROR_STATUSES``). A hostile
input is refused at the edge — ``core.schema`` types in the signatures and schemas, the strict
JSON parser (``api/parser.py``), ``core.middleware.InputGuardMiddleware`` — never a 5xx.
"""

from __future__ import annotations

import logging

from django.core.exceptions import RequestDataTooBig
from django.db import DataError
from django.http import Http404
from django.utils.translation import gettext as _
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError

from bihuan import __version__
from bihuan.core.errors import ServiceError

from .auth import AUTH
from .docs import VendoredSwagger
from .parser import BodyRefused, StrictJSONParser
from .problems import ERROR_STATUSES, PROBLEM_SCHEMA, default_title, problem

log = logging.getLogger(__name__)


class BihuanAPI(NinjaAPI):
    def get_openapi_schema(self, *args, **kwargs):
        """Ninja's document plus, on every operation, the problem answers (one place, not 40 decorators)."""
        schema = super().get_openapi_schema(*args, **kwargs)
        schema.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
        ref = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
        for item in schema.get("paths", {}).values():
            for op in item.values():
                responses = op.setdefault("responses", {})
                for status, text in ERROR_STATUSES.items():
                    responses.setdefault(str(status), {"description": text, "content": ref})
        return schema


api = BihuanAPI(
    title="Bihuan 闭环 API",
    version=__version__,
    urls_namespace="api",
    auth=AUTH,
    docs_url="/docs",
    docs=VendoredSwagger(),  # vendored assets: the CSP allows no CDN (api/docs.py)
    openapi_url="/openapi.json",
    parser=StrictJSONParser(),
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
    detail = str(exc)
    if isinstance(exc.__cause__, BodyRefused):
        detail = str(exc.__cause__)
    elif exc.status_code == 400 and detail.startswith("Cannot parse request body"):
        detail = _("The request body is not valid JSON.")
    return problem(request, exc.status_code, default_title(exc.status_code), detail,
                   code="bad_request" if exc.status_code == 400 else "")


@api.exception_handler(RequestDataTooBig)
def _too_big(request, exc):
    from django.conf import settings

    return problem(request, 413, default_title(413), _("The request is too large: at most %(mb).1f MB.")
                   % {"mb": settings.BIHUAN_MAX_REQUEST_BYTES / 1024 / 1024}, code="too_large")


@api.exception_handler(OverflowError)
@api.exception_handler(DataError)
def _data_error(request, exc):
    # A backstop: the schemas bound every input, so reaching this is a gap in them — logged as
    # such, answered as the client's error it is rather than as a 500.
    log.warning("input reached the database unchecked: %s %s: %s", request.method, request.path, exc)
    return problem(request, 422, default_title(422), _("A value is out of range."), code="invalid")


from bihuan.accounts.api import router as accounts_router  # noqa: E402
from bihuan.orgs.api import router as orgs_router  # noqa: E402
from bihuan.people.api import households_router, people_router  # noqa: E402

api.add_router("/", accounts_router)
api.add_router("/orgs", orgs_router)
api.add_router("/people", people_router)
api.add_router("/households", households_router)
from bihuan.loop.api import router as loop_router  # noqa: E402

api.add_router("/", loop_router)
from bihuan.plans.api import (  # noqa: E402
    assignments_router,
    campaigns_router,
    enterprises_router,
    plans_router,
    projects_router,
)

api.add_router("/plans", plans_router)
api.add_router("/assignments", assignments_router)
api.add_router("/campaigns", campaigns_router)
api.add_router("/key-projects", projects_router)
api.add_router("/key-enterprises", enterprises_router)
from bihuan.care.api import router as care_router  # noqa: E402
from bihuan.care.api import volunteers_router  # noqa: E402

api.add_router("/care", care_router)
from bihuan.activities.api import router as lectures_router  # noqa: E402

api.add_router("/lectures", lectures_router)
from bihuan.activities.api import party_life_router  # noqa: E402

api.add_router("/party", party_life_router)
from bihuan.activities.api import party_router  # noqa: E402

api.add_router("/party", party_router)
from bihuan.ledgers.api import router as ledgers_router  # noqa: E402

api.add_router("/registers", ledgers_router)
from bihuan.evaluation.api import points_router  # noqa: E402
from bihuan.evaluation.api import router as evaluation_router  # noqa: E402

api.add_router("/evaluation", evaluation_router)
api.add_router("/points", points_router)
from bihuan.reports.api import bulletins_router, dashboard_router  # noqa: E402

api.add_router("/bulletins", bulletins_router)
api.add_router("/dashboard", dashboard_router)
api.add_router("/volunteers", volunteers_router)
