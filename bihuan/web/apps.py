from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "bihuan.web"
    label = "web"
