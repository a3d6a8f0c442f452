from django.db import migrations


def forwards(apps, schema_editor):
    # Built-in roles gain the loop's permissions (see accounts.roles.LOOP_GRANTS).
    from bihuan.accounts.roles import ensure_builtin_roles

    ensure_builtin_roles(apps.get_model("accounts", "Role"))


class Migration(migrations.Migration):
    dependencies = [("loop", "0001_initial"), ("accounts", "0002_builtin_roles")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
