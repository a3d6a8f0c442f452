from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "bihuan.core"
    label = "core"
    verbose_name = "核心"

    def ready(self):
        # ``<id:…>`` in URL patterns (bihuan.core.converters), before any URLconf is loaded.
        from .converters import register

        register()
        # Registers the daily imports.cleanup job (bihuan.core.jobs).
        from . import imports  # noqa: F401
