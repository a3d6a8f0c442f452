from django.apps import AppConfig


class LoopConfig(AppConfig):
    name = "bihuan.loop"
    label = "loop"
