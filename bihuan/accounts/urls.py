"""The user administration pages. Included into the ``web`` namespace by ``web/urls.py`` so the URL
names (``web:users``, ``web:user_detail`` …) stay what every template and test already uses."""

from django.urls import path

from . import views

urlpatterns = [
    path("users/", views.user_list, name="users"),
    path("users/new/", views.user_create, name="user_create"),
    path("users/<id:pk>/", views.user_detail, name="user_detail"),
    path("users/<id:pk>/bind/", views.user_bind, name="user_bind"),
    path("users/<id:pk>/bindings/<id:binding_id>/delete/", views.user_unbind, name="user_unbind"),
    path("users/<id:pk>/active/", views.user_set_active, name="user_set_active"),
    path("users/<id:pk>/password/", views.user_password, name="user_password"),
    path("users/<id:pk>/two-factor/reset/", views.user_otp_reset, name="user_otp_reset"),
]
