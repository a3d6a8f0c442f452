from django.db import migrations


def forwards(apps, schema_editor):
    # Merges the people.* permissions into the existing built-in roles (never removes).
    from bihuan.accounts.roles import ensure_builtin_roles

    ensure_builtin_roles(apps.get_model("accounts", "Role"))


class Migration(migrations.Migration):
    dependencies = [("accounts", "0002_builtin_roles")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
