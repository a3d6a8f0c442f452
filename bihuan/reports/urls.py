from django.urls import path

from . import views

app_name = "reports"

urlpatterns = [
    path("", views.bulletin_list, name="bulletin_list"),
    path("new/", views.bulletin_draft, name="bulletin_draft"),
    path("schedules/", views.schedule_list, name="schedule_list"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("dashboard/data/", views.dashboard_data, name="dashboard_data"),
    path("figures/", views.figures_view, name="figures"),
    path("<id:bulletin_id>/", views.bulletin_detail, name="bulletin_detail"),
    path("<id:bulletin_id>/text/", views.bulletin_text, name="bulletin_text"),
    path("<id:bulletin_id>/issue/", views.bulletin_issue, name="bulletin_issue"),
    path("<id:bulletin_id>/correct/", views.bulletin_correct, name="bulletin_correct"),
    path("<id:bulletin_id>/chart.png", views.bulletin_chart, name="bulletin_chart"),
    path("<id:bulletin_id>/bulletin.pdf", views.bulletin_download, {"fmt": "pdf"}, name="bulletin_pdf"),
    path("<id:bulletin_id>/bulletin.docx", views.bulletin_download, {"fmt": "docx"}, name="bulletin_docx"),
    path("<id:bulletin_id>/bulletin.xlsx", views.bulletin_download, {"fmt": "xlsx"}, name="bulletin_xlsx"),
]
