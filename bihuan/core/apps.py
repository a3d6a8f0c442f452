from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "bihuan.core"
    label = "core"
    verbose_name = "核心"

    def ready(self):
        # Registers the daily imports.cleanup job (bihuan.core.jobs).
        from . import imports  # noqa: F401
