"""URLs of the loop: staff pages under ``loop/``, the public demand pages under ``demand/`` and
Open311 GeoReport v2 under ``open311/v2/``. Mounted with one line in ``bihuan/urls.py``."""

from django.urls import path

from . import open311
from .views import config as views_config
from .views import locate as views_locate
from .views import matters as views
from .views import performance as views_performance
from .views import photos as views_photos
from .views import public as views_public
from .views import public_list as views_public_list
from .views import supervision as views_supervision

app_name = "loop"

urlpatterns = [
    path("loop/", views.inbox, name="inbox"),
    path("loop/new/", views.report, name="report"),
    path("loop/<id:pk>/", views.detail, name="detail"),
    path("loop/<id:pk>/act/<str:action>/", views.act, name="act"),
    path("loop/<id:pk>/files/<id:attachment_id>/", views.attachment, name="attachment"),
    path("loop/<id:pk>/reveal/", views.reveal, name="reveal"),
    # Issue 10 "Missing": thumbnails, the nearest grid, performance pages (views_photos, _locate, _performance)
    path("loop/<id:pk>/files/<id:attachment_id>/<str:size>/", views_photos.staff_rendition, name="rendition"),
    path("loop/new/nearest-grid/", views_locate.nearest_grid, name="nearest_grid"),
    path("loop/performance/", views_performance.performance_page, name="performance"),
    path("loop/performance/<id:unit_id>/", views_performance.performance_page, name="performance_unit"),
    path("loop/performance/<id:unit_id>/xlsx/", views_performance.performance_xlsx, name="performance_xlsx"),
    path("loop/board/", views_supervision.board, name="board"),
    path("loop/board/<id:unit_id>/", views_supervision.board, name="board_unit"),
    path("loop/backlog/", views_supervision.backlog, name="backlog"),
    path("loop/backlog/<id:unit_id>/", views_supervision.backlog, name="backlog_unit"),
    path("loop/hotspots/", views_supervision.hotspots, name="hotspots"),
    path("loop/hotspots/<id:unit_id>/", views_supervision.hotspots, name="hotspots_unit"),
    path("loop/hotspots/proactive/", views_supervision.proactive, name="proactive"),
    # Notification centre (views_config)
    path("loop/notifications/", views_config.notifications, name="notifications"),
    path("loop/notifications/read-all/", views_config.notifications_read_all, name="notifications_read_all"),
    path("loop/notifications/<id:notification_id>/read/", views_config.notification_read, name="notification_read"),
    # The city's configuration: categories, routing rules, working-day calendar
    path("loop/config/categories/", views_config.categories, name="config_categories"),
    path("loop/config/categories/new/", views_config.category_create, name="config_category_create"),
    path("loop/config/categories/<id:category_id>/", views_config.category_edit, name="config_category"),
    path("loop/config/categories/<id:category_id>/active/", views_config.category_active,
         name="config_category_active"),
    path("loop/config/categories/<id:category_id>/delete/", views_config.category_delete,
         name="config_category_delete"),
    path("loop/config/categories/<id:category_id>/routing/", views_config.routing, name="config_routing"),
    path("loop/config/routing/", views_config.routing_any, name="config_routing_any"),
    path("loop/config/routing/<id:rule_id>/delete/", views_config.routing_delete, name="config_routing_delete"),
    path("loop/config/calendar/", views_config.calendar_overrides, name="config_calendar"),
    path("loop/config/calendar/recalculate/", views_config.calendar_recalculate, name="config_calendar_recalculate"),
    path("loop/config/calendar/<id:override_id>/delete/", views_config.calendar_delete,
         name="config_calendar_delete"),
    # Residents, no account
    path("demand/", views_public.demand_form, name="demand_form"),
    path("demand/<str:token>/", views_public.demand_status, name="demand_status"),
    path("demand/<str:token>/rate/", views_public.demand_rate, name="demand_rate"),
    path("demand/<str:token>/photos/<id:attachment_id>/<str:size>/", views_photos.resident_rendition,
         name="demand_photo"),
    # Public accountability: residents' demands per township, no account (views_public_list)
    path("demands/", views_public_list.townships, name="public_townships"),
    path("demands/<id:unit_id>/", views_public_list.township, name="public_township"),
    path("demands/photos/<id:attachment_id>/<str:size>/", views_photos.public_rendition, name="public_photo"),
    *open311.urlpatterns(),
]
