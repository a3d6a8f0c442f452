from django.contrib.auth import views as auth_views
from django.urls import path

from bihuan.accounts import urls as account_urls
from bihuan.orgs import urls as org_urls

from . import views
from .views import audit as views_audit
from .views import tabular as views_tabular

app_name = "web"

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password/", views.password_change, name="password_change"),
    path("login/verify/", views.otp_verify, name="otp_verify"),
    path("account/two-factor/", views.otp_setup, name="otp_setup"),
    # The tree's and the users' pages live in their apps (orgs/urls.py, accounts/urls.py),
    # under the same paths and names as before.
    *org_urls.urlpatterns,
    *account_urls.urlpatterns,
    # Audit log (read-only)
    path("audit/", views_audit.audit_list, name="audit"),
    path("audit/<id:pk>/", views_audit.audit_entry, name="audit_entry"),
]

# Import/export of the tree (generic tabular views; later registers add their own lines).
urlpatterns += [
    path("orgs/export/", views_tabular.export_view, {"kind": "orgs"}, name="orgs_export"),
    path("orgs/import/", views_tabular.import_upload, {"kind": "orgs"}, name="orgs_import"),
    path("orgs/import/preview/", views_tabular.import_preview, {"kind": "orgs"}, name="orgs_import_preview"),
    path("orgs/import/apply/", views_tabular.import_apply, {"kind": "orgs"}, name="orgs_import_apply"),
    path("orgs/import/report/", views_tabular.import_report, {"kind": "orgs"}, name="orgs_import_report"),
]

# Import jobs (any register): progress while the worker runs them, then the result; owner only.
urlpatterns += [
    path("imports/<id:job_id>/", views_tabular.import_job, name="import_job"),
    path("imports/<id:job_id>/status/", views_tabular.import_job_status, name="import_job_status"),
    path("imports/<id:job_id>/report/", views_tabular.import_job_report, name="import_job_report"),
]

# People registers (bihuan.people.tabular): persons, households, the reserve-talent pool.
for _kind in ("people", "households", "reserve"):
    urlpatterns += [
        path(f"people/io/{_kind}/export/", views_tabular.export_view, {"kind": _kind}, name=f"{_kind}_export"),
        path(f"people/io/{_kind}/import/", views_tabular.import_upload, {"kind": _kind}, name=f"{_kind}_import"),
        path(f"people/io/{_kind}/import/preview/", views_tabular.import_preview, {"kind": _kind},
             name=f"{_kind}_import_preview"),
        path(f"people/io/{_kind}/import/apply/", views_tabular.import_apply, {"kind": _kind},
             name=f"{_kind}_import_apply"),
        path(f"people/io/{_kind}/import/report/", views_tabular.import_report, {"kind": _kind},
             name=f"{_kind}_import_report"),
    ]

# Plans and tasks (bihuan.plans.tabular): the sheet an office circulates, one row per task.
urlpatterns += [
    path("plans/io/export/", views_tabular.export_view, {"kind": "plan"}, name="plan_export"),
    path("plans/io/import/", views_tabular.import_upload, {"kind": "plan"}, name="plan_import"),
    path("plans/io/import/preview/", views_tabular.import_preview, {"kind": "plan"}, name="plan_import_preview"),
    path("plans/io/import/apply/", views_tabular.import_apply, {"kind": "plan"}, name="plan_import_apply"),
    path("plans/io/import/report/", views_tabular.import_report, {"kind": "plan"}, name="plan_import_report"),
]

# Key projects and key enterprises (bihuan.plans.tabular): the registers of 重点项目 and 重点企业.
for _kind in ("key_project", "key_enterprise"):
    urlpatterns += [
        path(f"plans/io/{_kind}/export/", views_tabular.export_view, {"kind": _kind}, name=f"{_kind}_export"),
        path(f"plans/io/{_kind}/import/", views_tabular.import_upload, {"kind": _kind}, name=f"{_kind}_import"),
        path(f"plans/io/{_kind}/import/preview/", views_tabular.import_preview, {"kind": _kind},
             name=f"{_kind}_import_preview"),
        path(f"plans/io/{_kind}/import/apply/", views_tabular.import_apply, {"kind": _kind},
             name=f"{_kind}_import_apply"),
        path(f"plans/io/{_kind}/import/report/", views_tabular.import_report, {"kind": _kind},
             name=f"{_kind}_import_report"),
    ]
# Manual scores of evaluation (bihuan.evaluation.tabular): the assessor's template, filled and imported.
urlpatterns += [
    path("evaluation/io/scores/export/", views_tabular.export_view, {"kind": "evaluation_score"},
         name="evaluation_score_export"),
    path("evaluation/io/scores/import/", views_tabular.import_upload, {"kind": "evaluation_score"},
         name="evaluation_score_import"),
    path("evaluation/io/scores/import/preview/", views_tabular.import_preview, {"kind": "evaluation_score"},
         name="evaluation_score_import_preview"),
    path("evaluation/io/scores/import/apply/", views_tabular.import_apply, {"kind": "evaluation_score"},
         name="evaluation_score_import_apply"),
    path("evaluation/io/scores/import/report/", views_tabular.import_report, {"kind": "evaluation_score"},
         name="evaluation_score_import_report"),
]
# Indicator sets of evaluation (bihuan.evaluation.tabular_sets, h-eval2).
urlpatterns += [
    path("evaluation/io/sets/export/", views_tabular.export_view, {"kind": "evaluation_set"},
         name="evaluation_set_export"),
    path("evaluation/io/sets/import/", views_tabular.import_upload, {"kind": "evaluation_set"},
         name="evaluation_set_import"),
    path("evaluation/io/sets/import/preview/", views_tabular.import_preview, {"kind": "evaluation_set"},
         name="evaluation_set_import_preview"),
    path("evaluation/io/sets/import/apply/", views_tabular.import_apply, {"kind": "evaluation_set"},
         name="evaluation_set_import_apply"),
    path("evaluation/io/sets/import/report/", views_tabular.import_report, {"kind": "evaluation_set"},
         name="evaluation_set_import_report"),
]
# Lecturers (bihuan.activities.tabular).
urlpatterns += [
    path("activities/io/export/", views_tabular.export_view, {"kind": "lecturers"}, name="lecturers_export"),
    path("activities/io/import/", views_tabular.import_upload, {"kind": "lecturers"}, name="lecturers_import"),
    path("activities/io/import/preview/", views_tabular.import_preview, {"kind": "lecturers"},
         name="lecturers_import_preview"),
    path("activities/io/import/apply/", views_tabular.import_apply, {"kind": "lecturers"},
         name="lecturers_import_apply"),
    path("activities/io/import/report/", views_tabular.import_report, {"kind": "lecturers"},
         name="lecturers_import_report"),
]
