from django.urls import include, path

from bihuan.api.urls import api
from bihuan.web import views as web_views

urlpatterns = [
    path("healthz", web_views.healthz, name="healthz"),
    path("api/v1/", api.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("people/", include("bihuan.people.urls")),
    path("plans/", include("bihuan.plans.urls")),
    path("care/", include("bihuan.care.urls")),
    path("activities/", include("bihuan.activities.urls")),
    path("ledgers/", include("bihuan.ledgers.urls")),
    path("evaluation/", include("bihuan.evaluation.urls")),
    path("reports/", include("bihuan.reports.urls")),
    path("", include("bihuan.loop.urls")),
    path("", include("bihuan.web.urls")),
]

handler404 = "bihuan.web.views.not_found"
handler403 = "bihuan.web.views.forbidden"
