"""The ``bihuan`` command: Django's management commands under one name.

``bihuan seed``, ``bihuan audit verify``, ``bihuan token create USER``, ``bihuan serve`` …
"""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bihuan.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(["bihuan", *sys.argv[1:]])


if __name__ == "__main__":
    main()
